package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Hostile values a child may return or panic with. Their methods panic,
// block or loop; the supervisor must read what it needs of them on the
// child's goroutine, recovered and bounded, and never on the loop's.

// hxNilErr's Error dereferences its receiver: a typed nil of it panics.
type hxNilErr struct{ msg string }

func (e *hxNilErr) Error() string { return e.msg }

// hxPanicErr's Error panics.
type hxPanicErr struct{}

func (hxPanicErr) Error() string { panic("boom in Error") }

// hxCodeErr's ExitCode panics.
type hxCodeErr struct{}

func (hxCodeErr) Error() string { return "exit code trap" }
func (hxCodeErr) ExitCode() int { panic("boom in ExitCode") }

// hxSelfErr unwraps to itself: errors.Is on it never ends.
type hxSelfErr struct{}

func (e *hxSelfErr) Error() string { return "unwraps to itself" }
func (e *hxSelfErr) Unwrap() error { return e }

// hxUnwrapPanics' Unwrap panics.
type hxUnwrapPanics struct{}

func (hxUnwrapPanics) Error() string { return "unwrap trap" }
func (hxUnwrapPanics) Unwrap() error { panic("boom in Unwrap") }

// hxCode has a plain exit code.
type hxCode int

func (c hxCode) Error() string { return fmt.Sprintf("code %d", int(c)) }
func (c hxCode) ExitCode() int { return int(c) }

// hxStringPanics is a panic value whose String panics (with another
// hostile value).
type hxStringPanics struct{}

func (hxStringPanics) String() string { panic(hxStringPanics{}) }

// hxStringBlocks is a panic value whose String blocks until ch closes.
type hxStringBlocks struct{ ch chan struct{} }

func (s hxStringBlocks) String() string { <-s.ch; return "released" }

// hxChain wraps root n times with fmt.Errorf.
func hxChain(n int, root error) error {
	err := root
	for i := range n {
		err = fmt.Errorf("w%d: %w", i, err)
	}
	return err
}

func TestReadErrorHostile(t *testing.T) {
	var typedNil *hxNilErr
	tests := []struct {
		name      string
		err       error
		text      string // contained in the text
		cancelled bool
		code      int
		cut       bool
	}{
		{name: "typed nil whose Error panics", err: typedNil, text: "returned a nil *supervisor.hxNilErr as a non-nil error"},
		{name: "Error panics", err: hxPanicErr{}, text: "supervisor.hxPanicErr (its Error method panicked: boom in Error)"},
		{name: "ExitCode panics", err: hxCodeErr{}, text: "exit code trap"},
		{name: "unwraps to itself", err: &hxSelfErr{}, text: "unwraps to itself (error chain cut after 64 links)", cut: true},
		{name: "Unwrap panics", err: hxUnwrapPanics{}, text: "unwrap trap"},
		{name: "20 deep, code at the bottom", err: hxChain(20, hxCode(7)), text: "w19: w18: ", code: 7},
		{name: "20 deep, a cancellation at the bottom", err: hxChain(20, context.Canceled), text: "w0: context canceled", cancelled: true},
		{name: "10,000 deep", err: hxChain(10_000, hxCode(9)), text: "bytes cut", cut: true},
		{name: "joined", err: errors.Join(errors.New("a"), hxCode(3)), text: "a\ncode 3", code: 3},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			f := readError(tt.err)
			assert.Contains(t, f.text, tt.text)
			assert.LessOrEqual(t, len(f.text), maxReason)
			assert.Equal(t, tt.cancelled, f.cancelled)
			assert.Equal(t, tt.code, f.code)
			assert.Equal(t, tt.cut, f.cut)
		})
	}
}

func TestPanicTextHostile(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		assert.Equal(t, "boom", panicText("boom"))
		assert.Equal(t, "42", panicText(42))
		assert.Equal(t, "supervisor.hxStringPanics (its String or Error method panicked: a supervisor.hxStringPanics)",
			panicText(hxStringPanics{}))

		big := panicText(strings.Repeat("x", 16<<20))
		assert.LessOrEqual(t, len(big), maxReason)
		assert.Contains(t, big, "bytes cut")

		ch := make(chan struct{})
		start := time.Now()
		assert.Equal(t, "supervisor.hxStringBlocks (its String or Error method did not return within 100ms)",
			panicText(hxStringBlocks{ch}))
		assert.Equal(t, formatTimeout, time.Since(start), "the wait is bounded")
		close(ch)
		synctest.Wait() // the formatter left behind returns
	})
}

func TestBound(t *testing.T) {
	assert.Equal(t, "short", bound("short"))
	s := strings.Repeat("é", maxReason) // two bytes a rune
	b := bound(s)
	assert.LessOrEqual(t, len(b), maxReason)
	assert.True(t, strings.HasSuffix(b, fmt.Sprintf("… (%d bytes cut)", len(s)-strings.Index(b, "…"))))
	assert.NotContains(t, b, "\uFFFD", "cut at a rune boundary")
}

// TestHostileChildUnderRun: each hostile child runs beside a healthy
// sibling under Run. The process survives; the sibling keeps its attempt;
// the exit is recorded with its kind and a bounded reason; the restart
// starts when its backoff (1 s) after the exit ends.
func TestHostileChildUnderRun(t *testing.T) {
	var typedNil *hxNilErr
	tests := []struct {
		name   string
		run    func(block chan struct{}) error
		kind   ExitKind
		reason string        // contained in the exit's reason
		lag    time.Duration // how long after its start the child's exit is posted
	}{
		{name: "typed nil error", run: func(chan struct{}) error { return typedNil }, kind: Failed,
			reason: "returned a nil *supervisor.hxNilErr as a non-nil error"},
		{name: "Error panics", run: func(chan struct{}) error { return hxPanicErr{} }, kind: Failed,
			reason: "its Error method panicked: boom in Error"},
		{name: "ExitCode panics", run: func(chan struct{}) error { return hxCodeErr{} }, kind: Failed, reason: "exit code trap"},
		{name: "unwraps to itself", run: func(chan struct{}) error { return &hxSelfErr{} }, kind: Failed, reason: "error chain cut after 64 links"},
		{name: "20 deep", run: func(chan struct{}) error { return hxChain(20, errors.New("root")) }, kind: Failed, reason: "w0: root"},
		{name: "10,000 deep", run: func(chan struct{}) error { return hxChain(10_000, errors.New("root")) }, kind: Failed, reason: "bytes cut"},
		{name: "panic value whose String panics", run: func(chan struct{}) error { panic(hxStringPanics{}) }, kind: Panicked,
			reason: "its String or Error method panicked"},
		{name: "panic value whose String blocks", run: func(block chan struct{}) error { panic(hxStringBlocks{block}) }, kind: Panicked,
			reason: "did not return within 100ms", lag: formatTimeout},
		{name: "16 MB panic value", run: func(chan struct{}) error { panic(strings.Repeat("x", 16<<20)) }, kind: Panicked, reason: "bytes cut"},
		{name: "panic(nil)", run: func(chan struct{}) error { panic(nil) }, kind: Panicked, reason: "panic called with nil"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				block := make(chan struct{}) // made in the bubble: a child blocked on it is durably blocked
				defer close(block)
				var mu sync.Mutex
				starts := map[string][]time.Time{}
				var exits []Exit
				g, err := NewGroup("app", GroupConfig{OnEvent: func(e Event) {
					mu.Lock()
					defer mu.Unlock()
					switch {
					case e.Kind == EventStarted:
						starts[e.ChildID] = append(starts[e.ChildID], e.Time)
					case e.Kind == EventExited && e.ChildID == "bad":
						exits = append(exits, *e.Exit)
					}
				}})
				require.NoError(t, err)
				park := func(ctx context.Context, _ *Attempt) error { <-ctx.Done(); return nil }
				_, err = g.Add("good", park, Config{})
				require.NoError(t, err)
				_, err = g.Add("bad", func(ctx context.Context, a *Attempt) error {
					if a.Number() == 1 {
						return tt.run(block)
					}
					return park(ctx, a)
				}, Config{Backoff: Backoff{Initial: time.Second, NoJitter: true}})
				require.NoError(t, err)

				ctx, cancel := context.WithCancel(t.Context())
				done := make(chan error, 1)
				t0 := time.Now()
				go func() { done <- g.Run(ctx) }()
				time.Sleep(tt.lag + 2*time.Second)
				synctest.Wait()

				mu.Lock()
				require.Len(t, exits, 1)
				e := exits[0]
				assert.Equal(t, tt.kind, e.Kind)
				assert.Contains(t, e.Reason, tt.reason)
				assert.LessOrEqual(t, len(e.Reason), maxReason)
				assert.Equal(t, []time.Time{t0, t0.Add(tt.lag + time.Second)}, starts["bad"], "restarted when its backoff ended")
				assert.Equal(t, []time.Time{t0}, starts["good"], "the sibling's attempt is untouched")
				mu.Unlock()

				cancel()
				require.NoError(t, <-done)
			})
		})
	}
}
