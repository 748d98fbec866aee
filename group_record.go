package supervisor

import (
	"log/slog"
	"time"
)

// GroupRecord is a serializable snapshot of a group and everything below
// it: a plain value that may be handed to any goroutine and round-trips
// through encoding/json. Times are wall times in UTC derived from the
// group's time base (and each slot's, for slot records).
type GroupRecord struct {
	GroupID  string     `json:"group_id"`
	Path     string     `json:"path"`
	Strategy Strategy   `json:"strategy"`
	State    GroupState `json:"state"`
	// Reason says why the group is shutting down, stopped or failed.
	Reason string `json:"reason,omitempty"`
	// Err is the failure's text, for a failed group.
	Err          string       `json:"error,omitempty"`
	AutoShutdown AutoShutdown `json:"auto_shutdown"`
	// Intensity is the group's restart budget; nil when it is off.
	Intensity *RestartLimit `json:"intensity"`
	// Restarts counts the restarts the group performed over its life.
	Restarts uint64 `json:"restarts"`
	// LastCommand is the latest operator command on the group.
	LastCommand *CommandRecord `json:"last_command,omitempty"`
	// ListenerPanics counts the panics of the group's OnEvent, recovered;
	// LastListenerPanic says on which event the latest was, and with what.
	ListenerPanics    uint64 `json:"listener_panics,omitempty"`
	LastListenerPanic string `json:"last_listener_panic,omitempty"`
	// Members lists the members in start order.
	Members    []MemberRecord `json:"members"`
	ObservedAt time.Time      `json:"observed_at"`
}

// MemberRecord is one member of a [GroupRecord]: exactly one of Slot and
// Group is set.
type MemberRecord struct {
	ID          string `json:"id"`
	Significant bool   `json:"significant,omitempty"`
	// Background reports a member left out of readiness
	// (Config.Background, GroupConfig.Background).
	Background bool `json:"background,omitempty"`
	// Leaving reports that the member was removed and is stopping; the
	// group forgets it once it has.
	Leaving bool `json:"leaving,omitempty"`
	// Waiting reports that the member slot waits for its group to start
	// it: its turn in a start in order, or the end of a group restart.
	Waiting bool `json:"waiting,omitempty"`
	// Shutdown says how the member ended in the group's shutdown; absent
	// until then.
	Shutdown ShutdownOutcome `json:"shutdown,omitempty"`
	// Exits counts a member slot's exits by kind (a nested group's
	// members count their own).
	Exits *ExitCounts `json:"exits,omitempty"`
	// LastCommand is the latest operator command on a member slot (a
	// nested group keeps its own in its record).
	LastCommand *CommandRecord `json:"last_command,omitempty"`
	Slot        *Record        `json:"slot,omitempty"`
	Group       *GroupRecord   `json:"group,omitempty"`
}

// ExitCounts counts a slot's recorded exits by kind; they add up to its
// Record.Exits.
type ExitCounts struct {
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Panicked  uint64 `json:"panicked"`
	Cancelled uint64 `json:"cancelled"`
	TimedOut  uint64 `json:"timed_out"`
	Unhealthy uint64 `json:"unhealthy"`
	Abandoned uint64 `json:"abandoned"`
}

// Total returns the sum of the counts.
func (c ExitCounts) Total() uint64 {
	return c.Succeeded + c.Failed + c.Panicked + c.Cancelled + c.TimedOut + c.Unhealthy + c.Abandoned
}

// Record returns a snapshot of g and its members at now. A nil or zero
// group gives the zero GroupRecord.
func (g *Group) Record(now time.Time) GroupRecord {
	if !g.valid() {
		return GroupRecord{}
	}
	now = g.t.clampNow(now)
	r := GroupRecord{
		GroupID:           g.id,
		Path:              g.path,
		Strategy:          g.cfg.Strategy,
		State:             g.state,
		Reason:            g.reason,
		AutoShutdown:      g.cfg.AutoShutdown,
		Restarts:          g.restarts,
		LastCommand:       g.lastCmd,
		ListenerPanics:    g.listener.count,
		LastListenerPanic: g.listener.last,
		Members:           make([]MemberRecord, 0, g.Len()),
		ObservedAt:        g.base.wall(now),
	}
	if g.err != nil {
		r.Err = g.err.Error()
	}
	if g.tracker != nil {
		lim := g.tracker.state(now)
		lim.UpdatedAt = g.base.wall(lim.UpdatedAt)
		r.Intensity = &lim
	}
	// One slab of slot records and one of exit counts for all the members,
	// rather than two allocations a member: a large tree's snapshot costs
	// the loop a few allocations, not a few per member.
	nslots := 0
	for _, m := range g.members {
		if !m.gone && m.slot != nil {
			nslots++
		}
	}
	slots := make([]Record, 0, nslots)
	counts := make([]ExitCounts, 0, nslots)
	for _, m := range g.members {
		if m.gone {
			continue
		}
		mr := MemberRecord{ID: m.id(), Significant: m.significant, Background: m.background, Leaving: m.leaving, Shutdown: m.outcome}
		mr.Waiting = m.slot != nil && m.slot.waitsForGroup() &&
			(g.state == GroupStarting || g.state == GroupRestarting)
		if m.sub != nil {
			sr := m.sub.Record(now)
			mr.Group = &sr
		} else {
			slots = append(slots, m.slot.Record(now))
			mr.Slot = &slots[len(slots)-1]
			c := m.slot.coldView()
			mr.LastCommand = c.lastCommand
			counts = append(counts, ExitCounts{
				Succeeded: c.exitKinds[Succeeded], Failed: c.exitKinds[Failed], Panicked: c.exitKinds[Panicked],
				Cancelled: c.exitKinds[Cancelled], TimedOut: c.exitKinds[TimedOut], Unhealthy: c.exitKinds[Unhealthy],
				Abandoned: c.exitKinds[Abandoned],
			})
			mr.Exits = &counts[len(counts)-1]
		}
		r.Members = append(r.Members, mr)
	}
	return r
}

// LogValue groups the record's main fields for log/slog: the group's own,
// and each member's state in one line.
func (r GroupRecord) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("group_id", r.GroupID),
		slog.String("path", r.Path),
		slog.String("strategy", r.Strategy.String()),
		slog.String("state", r.State.String()),
		slog.Uint64("restarts", r.Restarts),
		slog.Int("members", len(r.Members)),
	}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason))
	}
	if r.Err != "" {
		attrs = append(attrs, slog.String("error", r.Err))
	}
	return slog.GroupValue(attrs...)
}

// WithoutStacks returns a copy of r, all the way down, with the panic
// stacks left out of every member's last exit, for serving records where
// file paths and goroutine addresses must not go (an admin page, say). r
// itself, which may be a shared Snapshot, is not changed.
func (r GroupRecord) WithoutStacks() GroupRecord {
	members := make([]MemberRecord, len(r.Members))
	for i, m := range r.Members {
		if m.Slot != nil {
			s := m.Slot.WithoutStacks()
			m.Slot = &s
		}
		if m.Group != nil {
			g := m.Group.WithoutStacks()
			m.Group = &g
		}
		members[i] = m
	}
	r.Members = members
	return r
}
