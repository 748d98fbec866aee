package supervisor

import (
	"context"
	"errors"
	"runtime"
	"strconv"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The helpers of the ChildSlot core tests carry a "core" prefix so that they
// do not collide with the helpers of the package's other test files.

// coreHarness is what a fake child shares with its test: the slot's parent
// context, a channel on which each attempt hands over its *Attempt when it
// starts, and a release channel that children ignoring cancellation wait on.
type coreHarness struct {
	ctx     context.Context
	stop    context.CancelFunc // ends ctx, the parent of every attempt
	started chan *Attempt
	release chan struct{}
	once    sync.Once
}

// newCoreHarness returns a harness whose children are all let go when the
// test ends, so that the synctest bubble has no goroutine left.
func newCoreHarness(t *testing.T) *coreHarness {
	ctx, cancel := context.WithCancel(t.Context())
	h := &coreHarness{ctx: ctx, stop: cancel, started: make(chan *Attempt, 64), release: make(chan struct{})}
	t.Cleanup(func() {
		cancel()
		h.free()
		// Cleanups run in the bubble: children still working in fake time
		// finish during this sleep, before the bubble must be empty.
		time.Sleep(time.Hour)
	})
	return h
}

// free lets every child waiting on release return.
func (h *coreHarness) free() { h.once.Do(func() { close(h.release) }) }

// attempt waits for the next attempt to start and returns it.
func (h *coreHarness) attempt(t *testing.T) *Attempt {
	t.Helper()
	select {
	case a := <-h.started:
		return a
	case <-time.After(time.Hour): // fake time in a bubble
		require.FailNow(t, "no attempt started")
		return nil
	}
}

// coreBlock is a child that runs until its context ends.
func coreBlock(h *coreHarness) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		h.started <- a
		<-ctx.Done()
		return ctx.Err()
	}
}

// coreBlockHeld is a child that runs until its context ends and then holds
// its return until the test frees it, so that the slot can be looked at
// while the attempt is cancelled but has not returned.
func coreBlockHeld(h *coreHarness) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		h.started <- a
		<-ctx.Done()
		<-h.release
		return ctx.Err()
	}
}

// coreIgnore is a child that ignores cancellation: it returns "late" only
// once the test frees it.
func coreIgnore(h *coreHarness) ChildFunc {
	return func(_ context.Context, a *Attempt) error {
		h.started <- a
		<-h.release
		return errors.New("late")
	}
}

// coreRunFor is a child that works for d (fake time) and returns err.
func coreRunFor(d time.Duration, err error) func(*coreHarness) ChildFunc {
	return func(h *coreHarness) ChildFunc {
		return func(_ context.Context, a *Attempt) error {
			h.started <- a
			time.Sleep(d)
			return err
		}
	}
}

// corePanicString panics with a string after a second.
func corePanicString(context.Context, *Attempt) error {
	time.Sleep(time.Second)
	panic("boom")
}

// corePanicValue is a panic value that is not a string.
type corePanicValue struct{ Code int }

// corePanicStruct panics with a corePanicValue after a second.
func corePanicStruct(context.Context, *Attempt) error {
	time.Sleep(time.Second)
	panic(corePanicValue{Code: 7})
}

// coreGoexit calls runtime.Goexit after a second.
func coreGoexit(context.Context, *Attempt) error {
	time.Sleep(time.Second)
	runtime.Goexit()
	return nil
}

// coreBeatFive beats every 300ms five times, then hangs without beating
// until its context ends.
func coreBeatFive(h *coreHarness) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		h.started <- a
		for range 5 {
			time.Sleep(300 * time.Millisecond)
			a.Beat()
		}
		<-ctx.Done()
		return ctx.Err()
	}
}

// coreCodeError is an error with an exit code, as *exec.ExitError has.
type coreCodeError struct {
	code int
	msg  string // "exit status N" when empty
}

func (e coreCodeError) Error() string {
	if e.msg != "" {
		return e.msg
	}
	return "exit status " + strconv.Itoa(e.code)
}

func (e coreCodeError) ExitCode() int { return e.code }

// coreNew returns a slot supervising fn under cfg.
func coreNew(t *testing.T, fn ChildFunc, cfg Config) *ChildSlot {
	t.Helper()
	s, err := NewChildSlot("child", fn, cfg)
	require.NoError(t, err)
	return s
}

// coreCollect waits for the held attempt to return and collects it at the
// bubble's now.
func coreCollect(t *testing.T, s *ChildSlot) Exit {
	t.Helper()
	done := s.Done()
	require.NotNil(t, done, "no attempt held")
	<-done
	e, err := s.Collect(time.Now())
	require.NoError(t, err)
	return e
}

// coreCheckCounts checks the record's accounting invariants.
func coreCheckCounts(t *testing.T, r Record) {
	t.Helper()
	var active uint64
	if r.Active {
		active = 1
	}
	assert.Equal(t, r.Attempt, r.Exits+active, "attempt == exits + (1 if active)")
	assert.Equal(t, r.AbandonedTotal, r.StaleReports+uint64(r.Abandoned), "abandoned_total == stale_reports + abandoned")
}

// coreExitHead is the part of an Exit that a lifecycle test pins down.
type coreExitHead struct {
	Kind                ExitKind
	Reason              string
	Attempt, Generation uint64
	Code                int
}

func coreHead(e Exit) coreExitHead {
	return coreExitHead{Kind: e.Kind, Reason: e.Reason, Attempt: e.Attempt, Generation: e.Generation, Code: e.Code}
}

// coreStartAt starts s at the bubble's now and returns that now.
func coreStartAt(t *testing.T, s *ChildSlot, h *coreHarness) time.Time {
	t.Helper()
	now := time.Now()
	require.NoError(t, s.Start(h.ctx, now))
	return now
}

// coreSleepUntil moves the bubble's clock to at and lets every goroutine
// that wakes by then settle.
func coreSleepUntil(at time.Time) {
	time.Sleep(time.Until(at))
	synctest.Wait()
}

// coreCheckPanic checks the panic details of a Panicked exit.
func coreCheckPanic(fn string, value any) func(*testing.T, Exit) {
	return func(t *testing.T, e Exit) {
		assert.Contains(t, e.Stack, "supervisor."+fn, "stack names the child")
		assert.Contains(t, e.Stack, "panic", "stack shows the panic")
		assert.Equal(t, value, e.PanicValue)
		var pe *PanicError
		require.ErrorAs(t, e.Err, &pe)
		assert.Equal(t, value, pe.Value)
		assert.Equal(t, e.Stack, pe.Stack)
	}
}

// mqSlots starts n slots that each run for d and return, reporting to q;
// each has a deadline (its AttemptTimeout), so that a Schedule files it.
func mqSlots(t *testing.T, n int, q *ExitQueue, d time.Duration) []*ChildSlot {
	h := newCoreHarness(t)
	var out []*ChildSlot
	for range n {
		s := coreNew(t, coreRunFor(d, nil)(h), Config{Restart: Temporary, Exits: q, AttemptTimeout: 30 * time.Minute})
		require.NoError(t, s.Start(t.Context(), time.Now()))
		h.attempt(t)
		out = append(out, s)
	}
	return out
}
