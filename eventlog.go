package supervisor

import (
	"fmt"
	"sync"
)

// Sizes of a tree's event log (GroupConfig.EventLog).
const (
	// DefaultEventLog is how many recent events a tree keeps when its
	// root's GroupConfig.EventLog is zero: a few restart storms' worth for
	// a person reading the admin page, at about 100 KB.
	DefaultEventLog = 256
	// NoEventLog turns a tree's event log off: events are then built only
	// for an OnEvent.
	NoEventLog = -1
)

// eventLog is a tree's ring of recent events, written by the loop and read
// by any goroutine. Events are kept by value, their exit too, in a ring
// allocated at the first event: keeping one costs a copy under the lock,
// no allocation.
type eventLog struct {
	mu    sync.Mutex
	size  int
	ring  []loggedEvent
	total uint64 // events logged over the tree's life
}

// loggedEvent is one event of the ring; its Exit is kept in exit (when
// hasExit) rather than behind a pointer.
type loggedEvent struct {
	ev      Event
	exit    Exit
	hasExit bool
}

// newEventLog returns a log of size events (zero: DefaultEventLog), nil
// for NoEventLog, or an error wrapping ErrInvalidConfig for another
// negative size.
func newEventLog(size int) (*eventLog, error) {
	switch {
	case size == NoEventLog:
		return nil, nil
	case size < 0:
		return nil, fmt.Errorf("%w: EventLog is negative (%d); NoEventLog turns it off", ErrInvalidConfig, size)
	case size == 0:
		size = DefaultEventLog
	}
	return &eventLog{size: size}, nil
}

// add keeps e, with exit x when not nil (e.Exit is not read), over the
// oldest event once the ring is full. A nil log keeps nothing.
func (l *eventLog) add(e *Event, x *Exit) {
	if l == nil {
		return
	}
	l.mu.Lock()
	if l.ring == nil {
		l.ring = make([]loggedEvent, l.size)
	}
	le := &l.ring[l.total%uint64(l.size)]
	le.ev = *e
	le.ev.Exit = nil
	le.hasExit = x != nil
	if x != nil {
		le.exit = *x
	} else {
		le.exit = Exit{}
	}
	l.total++
	l.mu.Unlock()
}

// heard reports whether g's events are taken at all: by an OnEvent of the
// tree's groups or by the tree's event log.
func (g *Group) heard() bool { return g.t.listens || g.t.events != nil }

// RecentEvents returns the latest events of the tree g belongs to, oldest
// first: at most its root's GroupConfig.EventLog of them, slots' and
// groups' alike, each with its Exit in a copy of its own. total counts the
// events the tree has logged over its life, so that total - len(events)
// were dropped from the ring. It is safe to call from any goroutine, as
// Snapshot is. A tree whose log is off (NoEventLog), and a nil or zero
// group, return none.
func (g *Group) RecentEvents() (events []Event, total uint64) {
	if !g.valid() {
		return nil, 0
	}
	l := g.t.events
	if l == nil {
		return nil, 0
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	n := min(l.total, uint64(l.size))
	events = make([]Event, 0, n)
	exits := make([]Exit, 0, n)
	for i := l.total - n; i < l.total; i++ {
		le := &l.ring[i%uint64(l.size)]
		e := le.ev
		if le.hasExit {
			exits = append(exits, le.exit)
			e.Exit = &exits[len(exits)-1]
		}
		events = append(events, e)
	}
	return events, l.total
}
