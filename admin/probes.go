package admin

import (
	"fmt"
	"net/http"
	"time"

	sv "github.com/childslot/supervisor"
)

// liveness is /livez's body, and what the page shows of the loop.
type liveness struct {
	Live bool `json:"live"`
	// LastAdvance is the wall time of the loop's latest Advance; absent
	// before the first.
	LastAdvance *time.Time `json:"last_advance,omitempty"`
	// AgeMS is how long ago that was, in whole milliseconds.
	AgeMS   int64 `json:"age_ms"`
	StallMS int64 `json:"stall_ms"`
	// Backlog is what the latest Advance left for the next: zeros while
	// the loop keeps up; in a storm, how far behind it is.
	Backlog backlog `json:"backlog"`
	Error   string  `json:"error,omitempty"`
}

// backlog is [sv.Backlog] in JSON.
type backlog struct {
	Exits     int   `json:"exits"`
	OverdueMS int64 `json:"overdue_ms"`
	Starts    int   `json:"starts"`
}

// live judges the tree's loop at now: live while it advanced within Stall.
func (h *handler) live(now time.Time, snap *sv.GroupRecord) liveness {
	l := liveness{StallMS: h.opts.Stall.Milliseconds()}
	health := h.g.Health(now) // SinceAdvance is monotonic: a stepped wall clock fakes no stall
	if !health.Advanced {
		l.Error = "the tree's loop has not advanced yet (not started?)"
		return l
	}
	last, age := health.LastAdvance.UTC(), health.SinceAdvance
	l.LastAdvance, l.AgeMS = &last, age.Milliseconds()
	b := health.Backlog
	l.Backlog = backlog{Exits: b.Exits, OverdueMS: b.Overdue.Milliseconds(), Starts: b.Starts}
	switch {
	case snap != nil && (snap.State == sv.GroupStopped || snap.State == sv.GroupFailed):
		l.Error = "the tree has ended (" + snap.State.String() + "): its loop no longer advances"
	case age > h.opts.Stall:
		l.Error = fmt.Sprintf("the loop has stalled: no Advance for %v (stall threshold %v)",
			age.Round(time.Millisecond), h.opts.Stall)
	default:
		l.Live = true
	}
	return l
}

func (h *handler) livez(w http.ResponseWriter, _ *http.Request) {
	l := h.live(time.Now(), h.g.Snapshot())
	code := http.StatusOK
	if !l.Live {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, l)
}

// readiness is /readyz's body, and what the page shows of the tree.
type readiness struct {
	Ready bool `json:"ready"`
	// State is the root group's state.
	State string `json:"state,omitempty"`
	// NotReady lists what is not ready, groups before their members, in
	// start order.
	NotReady []notReady `json:"not_ready,omitempty"`
	Error    string     `json:"error,omitempty"`
}

// notReady is one member, or group, that keeps the tree from being ready.
type notReady struct {
	Path   string `json:"path"`
	State  string `json:"state"`
	Reason string `json:"reason"`
}

// ready judges the tree of snap at now, with its loop's liveness l (a
// stalled loop's snapshot cannot vouch for the tree). snap must not be nil.
func ready(snap *sv.GroupRecord, l liveness, now time.Time) readiness {
	rd := readiness{State: snap.State.String()}
	if !l.Live {
		rd.NotReady = append(rd.NotReady, notReady{Path: snap.Path, State: "loop not live", Reason: l.Error})
	}
	rd.NotReady = appendNotReady(rd.NotReady, snap, false, now)
	rd.Ready = len(rd.NotReady) == 0
	return rd
}

// appendNotReady appends to out what of group g (leaving: its parent
// removes it) is not ready, and returns out. The members of a group that
// shuts down or has ended are left out: the group says it all.
func appendNotReady(out []notReady, g *sv.GroupRecord, leaving bool, now time.Time) []notReady {
	v := groupVerdict(g, leaving)
	if !v.Ready {
		out = append(out, notReady{Path: g.Path, State: v.Label, Reason: v.Why})
	}
	if leaving || g.State == sv.GroupShuttingDown || g.State == sv.GroupStopped || g.State == sv.GroupFailed {
		return out
	}
	for i := range g.Members {
		m := &g.Members[i]
		if m.Background {
			continue // background work: out of readiness (Config.Background)
		}
		if m.Group != nil {
			out = appendNotReady(out, m.Group, m.Leaving, now)
			continue
		}
		if m.Slot == nil {
			continue
		}
		if v := slotVerdict(m, g.State, now); !v.Ready {
			out = append(out, notReady{Path: joinPath(g.Path, m.ID), State: v.Label, Reason: v.Why})
		}
	}
	return out
}

func (h *handler) readyz(w http.ResponseWriter, _ *http.Request) {
	snap := h.g.Snapshot()
	if snap == nil {
		writeJSON(w, http.StatusServiceUnavailable, readiness{Error: noSnapshot})
		return
	}
	now := time.Now()
	rd := ready(snap, h.live(now, snap), now)
	code := http.StatusOK
	if !rd.Ready {
		code = http.StatusServiceUnavailable
	}
	writeJSON(w, code, rd)
}
