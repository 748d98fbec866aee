package admin

import (
	"encoding/json"
	"net/http"
	"strconv"
	"time"

	sv "github.com/childslot/supervisor"
)

// eventsBody is /events's body.
type eventsBody struct {
	// Total counts the events the tree logged over its life; Dropped
	// those of them its ring no longer holds.
	Total   uint64      `json:"total"`
	Dropped uint64      `json:"dropped"`
	Events  []eventView `json:"events"`
}

// eventView is one [sv.Event] in JSON.
type eventView struct {
	// Seq numbers the tree's events from 1, in the order they happened.
	Seq        uint64            `json:"seq"`
	Kind       sv.EventKind      `json:"kind"`
	Path       string            `json:"path"`
	Time       time.Time         `json:"time"`
	Attempt    uint64            `json:"attempt,omitempty"`
	Generation uint64            `json:"generation,omitempty"`
	Exit       *sv.Exit          `json:"exit,omitempty"`
	Reason     string            `json:"reason,omitempty"`
	Phase      *sv.FencePhase    `json:"phase,omitempty"`
	DelayMS    *int64            `json:"delay_ms,omitempty"`
	Member     string            `json:"member,omitempty"`
	Scope      []string          `json:"scope,omitempty"`
	Command    *sv.CommandRecord `json:"command,omitempty"`
	Text       string            `json:"text"`
}

// recentEvents returns the tree's logged events after seq since, oldest
// first, stacks left out unless allowed, with the log's total and how
// many it dropped.
func (h *handler) recentEvents(since uint64) (out []eventView, total, dropped uint64) {
	events, total := h.g.RecentEvents()
	first := total - uint64(len(events)) + 1
	out = make([]eventView, 0, len(events))
	for i, e := range events {
		seq := first + uint64(i)
		if seq <= since {
			continue
		}
		if !h.opts.Stacks {
			e = e.WithoutStacks()
		}
		v := eventView{Seq: seq, Kind: e.Kind, Path: e.Path, Time: e.Time.UTC(), Attempt: e.Attempt,
			Generation: e.Generation, Exit: e.Exit, Reason: e.Reason, Member: e.Member, Scope: e.Scope,
			Command: e.Command, Text: e.String()}
		switch e.Kind {
		case sv.EventFence:
			v.Phase = &e.Phase
		case sv.EventRestartScheduled:
			ms := e.Delay.Milliseconds()
			v.DelayMS = &ms
		}
		out = append(out, v)
	}
	return out, total, first - 1
}

// events serves GET /events: the tree's recent events, oldest first;
// ?since=SEQ only those after it.
func (h *handler) events(w http.ResponseWriter, r *http.Request) {
	if h.g.Snapshot() == nil {
		writeError(w, http.StatusServiceUnavailable, noSnapshot)
		return
	}
	var since uint64
	if s := r.URL.Query().Get("since"); s != "" {
		n, err := strconv.ParseUint(s, 10, 64)
		if err != nil {
			writeError(w, http.StatusBadRequest, "since: want a sequence number")
			return
		}
		since = n
	}
	evs, total, dropped := h.recentEvents(since)
	b, err := json.MarshalIndent(eventsBody{Total: total, Dropped: dropped, Events: evs}, "", "  ")
	if err != nil {
		writeError(w, http.StatusInternalServerError, "encoding the events: "+err.Error())
		return
	}
	writeBody(w, r, http.StatusOK, jsonType, append(b, '\n'), nil)
}
