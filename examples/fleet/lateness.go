package main

import (
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/childslot/supervisor"
)

// lateness measures how far behind the loop serves restart deadlines:
// for each restart, from when its backoff ended (the restart_scheduled
// event's time plus its delay) to when the attempt started. A loop that
// keeps up shows little more than its own wake-up; one that falls behind
// shows it here, rather than only as children's timeouts.
type lateness struct {
	due  []time.Time     // by member index: when its restart is due
	late []time.Duration // each restart's lateness, in the order served
}

func newLateness(n int) *lateness { return &lateness{due: make([]time.Time, n)} }

// record notes a restart's due time and, at its start, its lateness. It
// runs on the loop's goroutine (OnEvent).
func (l *lateness) record(e supervisor.Event) {
	if e.Kind != supervisor.EventRestartScheduled && e.Kind != supervisor.EventStarted {
		return
	}
	i, err := strconv.Atoi(strings.TrimPrefix(e.ChildID, "worker-"))
	if err != nil || i < 0 || i >= len(l.due) {
		return
	}
	if e.Kind == supervisor.EventRestartScheduled {
		l.due[i] = e.Time.Add(e.Delay)
		return
	}
	if at := l.due[i]; !at.IsZero() {
		l.late = append(l.late, max(0, time.Since(at)))
		l.due[i] = time.Time{}
	}
}

// quantiles returns the p50, p99 and largest lateness recorded, and
// false when no restart was.
func (l *lateness) quantiles() (p50, p99, top time.Duration, ok bool) {
	if len(l.late) == 0 {
		return 0, 0, 0, false
	}
	s := slices.Clone(l.late)
	slices.Sort(s)
	at := func(q float64) time.Duration { return s[int(q*float64(len(s)-1))] }
	return at(0.50), at(0.99), s[len(s)-1], true
}
