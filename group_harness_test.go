package supervisor

import (
	"context"
	"errors"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"
)

// The group tests' helpers carry a "gh" prefix.

// ghLog records what the children of a group test see, in order: "start
// a", "stop a" (returned after cancellation), "fail a" (returned an error
// on request), "done a" (returned nil on request).
type ghLog struct {
	mu      sync.Mutex
	lines   []string
	ctrl    map[string]chan error
	release chan struct{} // stubborn children wait on it after cancellation
	once    sync.Once
	causes  []error // context.Cause seen by children at their stop
}

func newGHLog(t *testing.T) *ghLog {
	l := &ghLog{ctrl: map[string]chan error{}, release: make(chan struct{})}
	t.Cleanup(func() {
		l.free()
		synctest.Wait() // newGHLog is called in a bubble: the freed children finish
	})
	return l
}

func (l *ghLog) free() { l.once.Do(func() { close(l.release) }) }

func (l *ghLog) add(s string) {
	l.mu.Lock()
	l.lines = append(l.lines, s)
	l.mu.Unlock()
}

// take returns the lines recorded since the last take.
func (l *ghLog) take() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	out := l.lines
	l.lines = nil
	return out
}

func (l *ghLog) ch(id string) chan error {
	l.mu.Lock()
	defer l.mu.Unlock()
	c, ok := l.ctrl[id]
	if !ok {
		c = make(chan error, 1)
		l.ctrl[id] = c
	}
	return c
}

// end makes the child id return err (nil: return nil).
func (l *ghLog) end(id string, err error) { l.ch(id) <- err }

// child is a member that runs until cancelled or told to end.
func (l *ghLog) child(id string) ChildFunc {
	return l.childWith(id, false, false)
}

// childWith is child, optionally reporting Ready at once and optionally
// ignoring cancellation until the log is freed.
func (l *ghLog) childWith(id string, ready, stubborn bool) ChildFunc {
	c := l.ch(id)
	return func(ctx context.Context, a *Attempt) error {
		if ready {
			a.Ready()
		}
		select {
		case <-ctx.Done():
			l.mu.Lock()
			l.causes = append(l.causes, context.Cause(ctx))
			l.mu.Unlock()
			if stubborn {
				<-l.release
			}
			l.add("stop " + id)
			return ctx.Err()
		case err := <-c:
			if err != nil {
				l.add("fail " + id)
			} else {
				l.add("done " + id)
			}
			return err
		}
	}
}

var errGH = errors.New("boom")

// ghCfg is a member config with no backoff, so that restarts are at once.
func ghCfg() Config { return Config{Backoff: Backoff{NoDelay: true}} }

// onEvent logs "start ID" for each attempt started: the launches, in the
// order the group made them (the children's goroutines may run in any
// order).
func (l *ghLog) onEvent(e Event) {
	if e.Kind == EventStarted {
		l.add("start " + e.ChildID)
	}
}

// ghRoot returns cfg with its OnEvent also logging starts to l.
func ghRoot(l *ghLog, cfg GroupConfig) GroupConfig {
	user := cfg.OnEvent
	cfg.OnEvent = func(e Event) {
		l.onEvent(e)
		if user != nil {
			user(e)
		}
	}
	return cfg
}

// ghGroup builds a root group of cfg, logging starts to l, with slot
// members ids, each a log child.
func ghGroup(t *testing.T, l *ghLog, id string, cfg GroupConfig, ids ...string) *Group {
	t.Helper()
	return ghSub(t, l, id, ghRoot(l, cfg), ids...)
}

// ghSub is ghGroup for a group to nest: it does not log starts itself,
// since its root does.
func ghSub(t *testing.T, l *ghLog, id string, cfg GroupConfig, ids ...string) *Group {
	t.Helper()
	g, err := NewGroup(id, cfg)
	require.NoError(t, err)
	for _, m := range ids {
		_, err := g.Add(m, l.child(m), ghCfg())
		require.NoError(t, err)
	}
	return g
}

// ghAttempts returns the attempt number of each member slot of g, by id.
func ghAttempts(g *Group) map[string]uint64 {
	out := map[string]uint64{}
	for _, m := range g.Record(time.Now()).Members {
		if m.Slot != nil {
			out[m.ID] = m.Slot.Attempt
		}
	}
	return out
}

// ghEvents collects a tree's events.
type ghEvents struct {
	mu     sync.Mutex
	events []Event
}

func (e *ghEvents) on(ev Event) {
	e.mu.Lock()
	e.events = append(e.events, ev)
	e.mu.Unlock()
}

// kinds returns the events of the given kinds, in order.
func (e *ghEvents) of(kinds ...EventKind) []Event {
	e.mu.Lock()
	defer e.mu.Unlock()
	var out []Event
	for _, ev := range e.events {
		for _, k := range kinds {
			if ev.Kind == k {
				out = append(out, ev)
			}
		}
	}
	return out
}
