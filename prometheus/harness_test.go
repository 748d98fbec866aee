package prometheus_test

import (
	"context"
	"errors"
	"sync"
	"testing"

	"github.com/childslot/supervisor"
)

// errFail makes a scripted child return an error; errPanic makes it panic.
var (
	errFail  = errors.New("boom")
	errPanic = errors.New("panic, please")
)

// script drives the children of a test's tree: each runs until cancelled
// or told to end by end.
type script struct {
	mu      sync.Mutex
	ctrl    map[string]chan error
	release chan struct{} // stubborn children wait on it after cancellation
	once    sync.Once
}

func newScript(t *testing.T) *script {
	s := &script{ctrl: map[string]chan error{}, release: make(chan struct{})}
	t.Cleanup(s.free)
	return s
}

// free lets stubborn children return after their cancellation.
func (s *script) free() { s.once.Do(func() { close(s.release) }) }

func (s *script) ch(id string) chan error {
	s.mu.Lock()
	defer s.mu.Unlock()
	c, ok := s.ctrl[id]
	if !ok {
		c = make(chan error, 1)
		s.ctrl[id] = c
	}
	return c
}

// end makes the running attempt of child id return err, or panic for
// errPanic.
func (s *script) end(id string, err error) { s.ch(id) <- err }

// child is a member that reports Ready and runs until cancelled or told to
// end; a stubborn one ignores cancellation until the script is freed.
func (s *script) child(id string, stubborn bool) supervisor.ChildFunc {
	c := s.ch(id)
	return func(ctx context.Context, a *supervisor.Attempt) error {
		a.Ready()
		select {
		case <-ctx.Done():
			if stubborn {
				<-s.release
			}
			return ctx.Err()
		case err := <-c:
			if errors.Is(err, errPanic) {
				panic("scripted panic")
			}
			return err
		}
	}
}

// memberCfg is a member config with no backoff, so that restarts are at
// once.
func memberCfg() supervisor.Config {
	return supervisor.Config{Backoff: supervisor.Backoff{NoDelay: true}}
}
