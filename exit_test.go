package supervisor

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/enum"
)

func TestExitClassify(t *testing.T) {
	refused := errors.New("dial tcp: connection refused")
	shutdown := errors.New("shutting down")
	stack := []byte("goroutine 7 [running]:\nmain.child()\n")
	tests := []struct {
		name   string
		o      outcome
		kind   ExitKind
		reason string
	}{
		{name: "success", o: outcome{}, kind: Succeeded},
		{name: "error", o: outcome{err: refused}, kind: Failed, reason: refused.Error()},
		{
			name: "context.Canceled returned without any cancel",
			o:    outcome{err: context.Canceled}, kind: Failed, reason: "context canceled",
		},
		{
			name: "wrapped context.Canceled without any cancel",
			o:    outcome{err: fmt.Errorf("read: %w", context.Canceled)}, kind: Failed, reason: "read: context canceled",
		},
		{
			name: "context.Canceled after our cancel",
			o:    outcome{err: context.Canceled, cause: causeCancel}, kind: Cancelled, reason: "cancel requested",
		},
		{
			name: "nil after our cancel",
			o:    outcome{cause: causeCancel}, kind: Cancelled, reason: "cancel requested",
		},
		{
			name: "error after our cancel",
			o:    outcome{err: refused, cause: causeCancel}, kind: Cancelled,
			reason: "cancel requested (returned: dial tcp: connection refused)",
		},
		{name: "after pause", o: outcome{err: context.Canceled, cause: causePause}, kind: Cancelled, reason: "slot paused"},
		{name: "after remove", o: outcome{err: context.Canceled, cause: causeRemove}, kind: Cancelled, reason: "slot removed"},
		{name: "after restart", o: outcome{err: context.Canceled, cause: causeRestart}, kind: Cancelled, reason: "restart requested"},
		{
			name: "after the parent's cancel",
			o:    outcome{err: context.Canceled, cause: context.Canceled}, kind: Cancelled, reason: "parent context: context canceled",
		},
		{
			name: "after the parent's cancel with a cause",
			o:    outcome{err: context.Canceled, cause: shutdown}, kind: Cancelled, reason: "parent context: shutting down",
		},
		{
			name: "parent deadline",
			o:    outcome{err: context.DeadlineExceeded, cause: context.DeadlineExceeded}, kind: Cancelled,
			reason: "parent context: context deadline exceeded",
		},
		{
			name: "attempt deadline",
			o:    outcome{err: context.DeadlineExceeded, cause: causeTimeout}, kind: TimedOut, reason: "attempt deadline passed",
		},
		{
			name: "attempt deadline, child returned its own error",
			o:    outcome{err: refused, cause: causeTimeout}, kind: TimedOut,
			reason: "attempt deadline passed (returned: dial tcp: connection refused)",
		},
		{name: "stale heartbeat", o: outcome{cause: causeStale}, kind: Unhealthy, reason: "heartbeat stale"},
		{
			name: "stale heartbeat, wrapped context error",
			o:    outcome{err: fmt.Errorf("loop: %w", context.Canceled), cause: causeStale}, kind: Unhealthy, reason: "heartbeat stale",
		},
		{name: "not ready", o: outcome{err: context.Canceled, cause: causeNotReady}, kind: Unhealthy, reason: "not ready in time"},
		{
			name: "panic with a string",
			o:    outcome{panicked: true, panicValue: "boom", stack: stack}, kind: Panicked, reason: "panic: boom",
		},
		{
			name: "panic with a non-string value",
			o:    outcome{panicked: true, panicValue: 42, stack: stack}, kind: Panicked, reason: "panic: 42",
		},
		{
			name: "panic wins over a cancellation",
			o:    outcome{panicked: true, panicValue: "boom", stack: stack, cause: causeCancel}, kind: Panicked, reason: "panic: boom",
		},
		{name: "Goexit", o: outcome{goexit: true}, kind: Failed, reason: "child called runtime.Goexit"},
		{name: "Goexit after a cancel", o: outcome{goexit: true, cause: causeCancel}, kind: Failed, reason: "child called runtime.Goexit"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			e, _ := newExit(tt.o)
			assert.Equal(t, tt.kind, e.Kind)
			assert.Equal(t, tt.reason, e.Reason)
			if !tt.o.panicked {
				assert.Equal(t, tt.o.err, e.Err, "Err is what the child returned")
				assert.Empty(t, e.Stack)
				assert.Nil(t, e.PanicValue)
				return
			}
			assert.Equal(t, string(tt.o.stack), e.Stack)
			assert.Equal(t, tt.o.panicValue, e.PanicValue)
			var pe *PanicError
			require.ErrorAs(t, e.Err, &pe)
			assert.Equal(t, tt.o.panicValue, pe.Value)
			assert.Equal(t, tt.reason, pe.Error())
		})
	}
}

func TestExitPanicErrorUnwrap(t *testing.T) {
	sentinel := errors.New("invariant broken")
	e, _ := newExit(outcome{panicked: true, panicValue: fmt.Errorf("check: %w", sentinel)})
	assert.ErrorIs(t, e.Err, sentinel, "a panic with an error unwraps to it")
	assert.Equal(t, "panic: check: invariant broken", e.Reason)

	e, _ = newExit(outcome{panicked: true, panicValue: "boom"})
	assert.NoError(t, errors.Unwrap(e.Err), "a panic with a string unwraps to nothing")
}

func TestExitStackComplete(t *testing.T) {
	// A stack far longer than a small fixed buffer is kept whole.
	const depth = 60
	synctest.Test(t, func(t *testing.T) {
		child := func(context.Context, *Attempt) error { coreDeepPanic(depth); return nil }
		s := coreNew(t, child, Config{Restart: Temporary})
		require.NoError(t, s.Start(t.Context(), time.Now()))
		e := coreCollect(t, s)
		require.Equal(t, Panicked, e.Kind)
		assert.Greater(t, len(e.Stack), 4096)
		assert.Equal(t, depth, strings.Count(e.Stack, "supervisor.coreDeepPanic("), "every frame is kept")
		assert.Contains(t, e.Stack, "supervisor.(*Attempt).run", "down to the attempt's goroutine")
	})
}

// coreDeepPanic recurses n levels deep and panics.
func coreDeepPanic(n int) {
	if n <= 1 {
		panic(fmt.Sprintf("deep %d", n))
	}
	coreDeepPanic(n - 1)
}

func TestExitCode(t *testing.T) {
	tests := []struct {
		name string
		err  error
		want int
	}{
		{name: "nil", err: nil, want: 0},
		{name: "plain error", err: errors.New("x"), want: 0},
		{name: "direct", err: coreCodeError{code: 3}, want: 3},
		{name: "wrapped", err: fmt.Errorf("run: %w", coreCodeError{code: 4}), want: 4},
		{name: "wrapped twice", err: fmt.Errorf("a: %w", fmt.Errorf("b: %w", coreCodeError{code: 5})), want: 5},
		{name: "joined", err: errors.Join(errors.New("first"), coreCodeError{code: 6}), want: 6},
		{name: "the outermost code wins", err: fmt.Errorf("%w: %w", coreCodeError{code: 7}, coreCodeError{code: 8}), want: 7},
		{name: "code zero", err: coreCodeError{code: 0}, want: 0},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, readError(tt.err).code)
			e, _ := newExit(outcome{err: tt.err})
			assert.Equal(t, tt.want, e.Code)
			e, _ = newExit(outcome{err: tt.err, cause: causeCancel})
			assert.Equal(t, tt.want, e.Code, "a cancelled child keeps its code")
		})
	}
}

func TestExitString(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		e    Exit
		want string
	}{
		{
			name: "failed with a code",
			e: Exit{
				Kind: Failed, Attempt: 3, Reason: "dial tcp: connection refused", Code: 1,
				StartedAt: at, ExitedAt: at.Add(2100 * time.Millisecond),
			},
			want: "attempt 3 failed after 2.1s: dial tcp: connection refused (code 1)",
		},
		{
			name: "succeeded, no reason",
			e:    Exit{Kind: Succeeded, Attempt: 1, StartedAt: at, ExitedAt: at.Add(500 * time.Millisecond)},
			want: "attempt 1 succeeded after 500ms",
		},
		{
			name: "rounded to 10ms past a second",
			e:    Exit{Kind: Panicked, Attempt: 2, Reason: "panic: boom", StartedAt: at, ExitedAt: at.Add(2123456789)},
			want: "attempt 2 panicked after 2.12s: panic: boom",
		},
		{
			name: "rounded to 1ms past a millisecond",
			e:    Exit{Kind: Cancelled, Attempt: 4, Reason: "cancel requested", StartedAt: at, ExitedAt: at.Add(1500300 * time.Nanosecond)},
			want: "attempt 4 was cancelled after 2ms: cancel requested",
		},
		{
			name: "below a millisecond",
			e:    Exit{Kind: TimedOut, Attempt: 5, StartedAt: at, ExitedAt: at.Add(750 * time.Microsecond)},
			want: "attempt 5 timed out after 750µs",
		},
		{
			name: "unhealthy",
			e:    Exit{Kind: Unhealthy, Attempt: 6, Reason: "heartbeat stale", StartedAt: at, ExitedAt: at.Add(time.Minute)},
			want: "attempt 6 was unhealthy after 1m0s: heartbeat stale",
		},
		{
			name: "abandoned",
			e:    Exit{Kind: Abandoned, Attempt: 7, StartedAt: at, ExitedAt: at.Add(5 * time.Second)},
			want: "attempt 7 was abandoned after 5s",
		},
		{
			name: "negative code",
			e:    Exit{Kind: Failed, Attempt: 8, Reason: "signal: killed", Code: -1, StartedAt: at, ExitedAt: at},
			want: "attempt 8 failed after 0s: signal: killed (code -1)",
		},
		{name: "no times", e: Exit{Kind: Failed, Attempt: 9}, want: "attempt 9 failed after 0s"},
		{name: "zero exit", e: Exit{}, want: "no exit"},
		{name: "unknown kind", e: Exit{Kind: 99, Attempt: 1}, want: "attempt 1 ExitKind(99) after 0s"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.e.String())
		})
	}
}

func TestExitLogValue(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	tests := []struct {
		name string
		e    Exit
		want map[string]any
	}{
		{
			name: "panicked",
			e: Exit{
				Kind: Panicked, Attempt: 3, Generation: 2, Reason: "panic: boom", Code: 2, Stack: "goroutine 1",
				StartedAt: at, ExitedAt: at.Add(1500 * time.Millisecond), Err: errors.New("not logged"),
			},
			want: map[string]any{
				"kind": "panicked", "attempt": 3.0, "generation": 2.0, "ran": float64(1500 * time.Millisecond),
				"reason": "panic: boom", "code": 2.0, "stack": "goroutine 1",
			},
		},
		{
			name: "succeeded: no reason, code or stack",
			e:    Exit{Kind: Succeeded, Attempt: 1, Generation: 1, StartedAt: at, ExitedAt: at.Add(time.Second)},
			want: map[string]any{"kind": "succeeded", "attempt": 1.0, "generation": 1.0, "ran": float64(time.Second)},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, coreLogJSON(t, "exit", tt.e))
		})
	}
}

// coreLogJSON logs v under key through a slog JSON handler and returns what
// the handler wrote under key.
func coreLogJSON(t *testing.T, key string, v any) map[string]any {
	t.Helper()
	var buf bytes.Buffer
	slog.New(slog.NewJSONHandler(&buf, nil)).Info("supervisor", key, v)
	var line map[string]any
	require.NoError(t, json.Unmarshal(buf.Bytes(), &line), buf.String())
	got, ok := line[key].(map[string]any)
	require.True(t, ok, "%s is a group: %s", key, buf.String())
	return got
}

func TestExitKindAbnormal(t *testing.T) {
	want := map[ExitKind]bool{
		Succeeded: false, Cancelled: false,
		Failed: true, Panicked: true, TimedOut: true, Unhealthy: true, Abandoned: true,
	}
	for k, abnormal := range want {
		assert.Equal(t, abnormal, k.Abnormal(), k.String())
	}
}

func TestExitKindText(t *testing.T) {
	coreCheckEnumText(t, "ExitKind", map[ExitKind]string{
		Succeeded: "succeeded", Failed: "failed", Panicked: "panicked", Cancelled: "cancelled",
		TimedOut: "timed_out", Unhealthy: "unhealthy", Abandoned: "abandoned",
	}, true)

	var k ExitKind
	assert.ErrorIs(t, k.UnmarshalText([]byte("")), enum.ErrUnknown, "the zero kind has no name")
	assert.Equal(t, ExitKind(0), k)
}

// coreCheckEnumText checks that every value of an enumeration encodes to its
// name and back, that an unknown name is rejected without changing the
// value, that a value without a name does not encode, and, when zeroInvalid,
// that the zero value has no name either.
func coreCheckEnumText[T ~uint8, PT interface {
	*T
	UnmarshalText([]byte) error
}](t *testing.T, typ string, names map[T]string, zeroInvalid bool) {
	t.Helper()
	encode := func(v T) ([]byte, error) {
		return any(v).(interface{ MarshalText() ([]byte, error) }).MarshalText()
	}
	str := func(v T) string { return any(v).(fmt.Stringer).String() }
	for v, name := range names {
		text, err := encode(v)
		require.NoError(t, err, name)
		assert.Equal(t, name, string(text))
		assert.Equal(t, name, str(v))
		var back T
		if back == v {
			back = v + 1 // make sure decoding writes
		}
		require.NoError(t, PT(&back).UnmarshalText(text), name)
		assert.Equal(t, v, back, name)
	}
	first := T(255)
	for v := range names {
		first = min(first, v)
	}
	for _, bad := range []string{"bogus", "", strings.ToUpper(names[first]), " " + names[first]} {
		v := first
		err := PT(&v).UnmarshalText([]byte(bad))
		assert.ErrorIs(t, err, enum.ErrUnknown, "%q", bad)
		assert.ErrorContains(t, err, typ)
		assert.Equal(t, first, v, "a rejected name leaves the value unchanged")
	}
	unnamed := []T{T(len(names) + 1), 200}
	if zeroInvalid {
		unnamed = append(unnamed, 0)
	}
	for _, v := range unnamed {
		_, err := encode(v)
		assert.ErrorIs(t, err, enum.ErrUnknown, "%d", uint8(v))
		assert.Equal(t, fmt.Sprintf("%s(%d)", typ, uint8(v)), str(v))
	}
}

// TestExitStringDoesNotStutter: the reason of a slot's own cancellation says
// why, never the kind again, so an exit's text names each fact once
// (issue 11, item 8).
func TestExitStringDoesNotStutter(t *testing.T) {
	for _, c := range []*stopCause{causeCancel, causePause, causeRemove, causeRestart, causeParent,
		causeTimeout, causeStale, causeNotReady} {
		e, _ := newExit(outcome{err: context.Canceled, cause: c})
		verb := exitVerbs[e.Kind]
		s := e.String()
		assert.Equal(t, 1, strings.Count(s, strings.TrimPrefix(verb, "was ")), "%q repeats %q", s, verb)
		assert.NotContains(t, e.Reason, e.Kind.String(), "reason %q repeats the kind", e.Reason)
	}
}

// TestExitStringKindPastVerbs: an exit kind just past the known
// ones reads as its kind's text, without a panic.
func TestExitStringKindPastVerbs(t *testing.T) {
	k := ExitKind(len(exitVerbs))
	var s string
	require.NotPanics(t, func() { s = Exit{Attempt: 2, Kind: k}.String() })
	assert.True(t, strings.HasPrefix(s, "attempt 2 "+k.String()), s)
}

// TestWithoutStacks: a panic's stack stays in the Exit, and WithoutStacks
// leaves it out of the JSON record and of the Exit, Event and Record log
// values, without changing the shared snapshot (issue 11, item 7).
func TestWithoutStacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []Event
		s := coreNew(t, corePanicString, Config{Restart: Temporary, OnEvent: func(e Event) { events = append(events, e) }})
		require.NoError(t, s.Start(t.Context(), time.Now()))
		e := coreCollect(t, s)
		require.Contains(t, e.Stack, "supervisor.corePanicString", "the exit keeps its stack")

		r := s.Record(time.Now())
		full, err := json.Marshal(r)
		require.NoError(t, err)
		assert.Contains(t, string(full), `"stack":`)
		bare, err := json.Marshal(r.WithoutStacks())
		require.NoError(t, err)
		assert.NotContains(t, string(bare), `"stack"`)
		assert.NotContains(t, string(bare), "corePanicString")
		assert.Equal(t, e.Stack, r.LastExit.Stack, "the shared snapshot keeps its stack")
		assert.Equal(t, e.Stack, s.Record(time.Now()).LastExit.Stack)

		assert.Contains(t, coreLogJSON(t, "exit", e), "stack")
		assert.NotContains(t, coreLogJSON(t, "exit", e.WithoutStacks()), "stack")
		assert.Empty(t, e.WithoutStacks().Stack)
		assert.Equal(t, e.PanicValue, e.WithoutStacks().PanicValue)
		last, _ := coreLogJSON(t, "record", r)["last_exit"].(map[string]any)
		assert.Contains(t, last, "stack")
		last, _ = coreLogJSON(t, "record", r.WithoutStacks())["last_exit"].(map[string]any)
		assert.NotContains(t, last, "stack")
		assert.Equal(t, "panicked", last["kind"])

		require.Len(t, events, 2)
		ev := events[1]
		require.Equal(t, EventExited, ev.Kind)
		x, _ := coreLogJSON(t, "event", ev)["exit"].(map[string]any)
		assert.Contains(t, x, "stack")
		x, _ = coreLogJSON(t, "event", ev.WithoutStacks())["exit"].(map[string]any)
		assert.NotContains(t, x, "stack")
		assert.NotEmpty(t, ev.Exit.Stack, "the event's own exit is not changed")

		assert.Equal(t, Record{}, Record{}.WithoutStacks())
		assert.Equal(t, Event{Kind: EventStarted}, Event{Kind: EventStarted}.WithoutStacks())
	})
}
