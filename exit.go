package supervisor

import (
	"fmt"
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// ExitKind says how an attempt ended. The zero ExitKind is not a kind: it
// marks an [Exit] that holds nothing.
type ExitKind uint8

// The kinds of exit. Succeeded and Cancelled are normal; every other kind is
// abnormal (see [ExitKind.Abnormal]).
const (
	// Succeeded: the child returned nil and nobody had cancelled it.
	Succeeded ExitKind = iota + 1
	// Failed: the child returned an error (even context.Canceled) without
	// having been cancelled, or called runtime.Goexit.
	Failed
	// Panicked: the child panicked; the value and full stack are kept.
	Panicked
	// Cancelled: the slot, the operator or the parent context cancelled the
	// attempt and the child returned, whatever it returned.
	Cancelled
	// TimedOut: the attempt ran past Config.AttemptTimeout.
	TimedOut
	// Unhealthy: the attempt was cancelled because its heartbeat went stale
	// or it was not ready within Config.ReadyTimeout.
	Unhealthy
	// Abandoned: the attempt ignored cancellation past Config.StopTimeout and
	// the slot gave up waiting for it.
	Abandoned
)

var exitKindNames = []string{"", "succeeded", "failed", "panicked", "cancelled", "timed_out", "unhealthy", "abandoned"}

// Abnormal reports whether the kind is an abnormal exit: anything but
// Succeeded and Cancelled. A Transient child is restarted only after one.
func (k ExitKind) Abnormal() bool { return k != Succeeded && k != Cancelled }

// Exit is the record of one attempt's end: a small value, returned by copy
// and safe to hand to any goroutine.
type Exit struct {
	// Kind says how the attempt ended.
	Kind ExitKind `json:"kind"`
	// Err is what the child returned. It is not serialized; Reason is.
	Err error `json:"-"`
	// Reason explains the exit in words: the error's text, the panic value,
	// or why the attempt was cancelled.
	Reason string `json:"reason,omitempty"`
	// Code is the exit status of a process child, or of any returned error
	// with an ExitCode() int method; zero when there is none.
	Code int `json:"code,omitempty"`
	// Directive is what the returned error asked of the supervisor
	// ([ErrDoNotRestart], [ErrFailGroup] in its chain); omitted when none.
	Directive Directive `json:"directive,omitempty"`
	// PanicValue is the value the child panicked with. It is not serialized;
	// Reason holds its text.
	PanicValue any `json:"-"`
	// Stack is the child's full stack at the panic. It names files and
	// goroutines: [Exit.WithoutStacks] leaves it out of what is served or
	// logged.
	Stack string `json:"stack,omitempty"`
	// Attempt is the attempt's number, counted over the slot's life.
	Attempt uint64 `json:"attempt"`
	// Generation is the generation the attempt belonged to.
	Generation uint64 `json:"generation"`
	// StartedAt is when the attempt started.
	StartedAt time.Time `json:"started_at"`
	// ExitedAt is when it ended (for Abandoned, when the slot gave up).
	ExitedAt time.Time `json:"exited_at"`
}

// WithoutStacks returns a copy of e with Stack cleared, for JSON or logs
// that must not show file paths and goroutines. Err and PanicValue are kept
// (neither is serialized nor logged).
func (e Exit) WithoutStacks() Exit {
	e.Stack = ""
	return e
}

// Duration returns how long the attempt ran.
func (e Exit) Duration() time.Duration {
	if e.StartedAt.IsZero() || e.ExitedAt.IsZero() {
		return 0
	}
	return e.ExitedAt.Sub(e.StartedAt)
}

var exitVerbs = []string{"", "succeeded", "failed", "panicked", "was cancelled", "timed out", "was unhealthy", "was abandoned"}

// String reads like
// "attempt 3 failed after 2.1s: dial tcp: connection refused (code 1)",
// on one line: control characters in the reason are escaped ("\n").
func (e Exit) String() string {
	if e.Kind == 0 {
		return "no exit"
	}
	var b strings.Builder
	b.WriteString("attempt ")
	b.WriteString(strconv.FormatUint(e.Attempt, 10))
	b.WriteByte(' ')
	if int(e.Kind) < len(exitVerbs) {
		b.WriteString(exitVerbs[e.Kind])
	} else {
		b.WriteString(e.Kind.String())
	}
	b.WriteString(" after ")
	b.WriteString(roundDuration(e.Duration()).String())
	if e.Reason != "" {
		b.WriteString(": ")
		b.WriteString(escapeControl(e.Reason))
	}
	if e.Code != 0 {
		b.WriteString(" (code ")
		b.WriteString(strconv.Itoa(e.Code))
		b.WriteByte(')')
	}
	return b.String()
}

// LogValue groups the exit's fields for log/slog, the stack included when
// there is one; log e.WithoutStacks() to leave it out.
func (e Exit) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("kind", e.Kind.String()),
		slog.Uint64("attempt", e.Attempt),
		slog.Uint64("generation", e.Generation),
		slog.Duration("ran", e.Duration()),
	)
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	if e.Code != 0 {
		attrs = append(attrs, slog.Int("code", e.Code))
	}
	if e.Stack != "" {
		attrs = append(attrs, slog.String("stack", e.Stack))
	}
	return slog.GroupValue(attrs...)
}

func roundDuration(d time.Duration) time.Duration {
	switch {
	case d >= time.Second:
		return d.Round(10 * time.Millisecond)
	case d >= time.Millisecond:
		return d.Round(time.Millisecond)
	default:
		return d
	}
}

// stopCause is the cause the slot gives when it cancels an attempt, so that
// the exit is classified by who cancelled and why, never by matching the
// child's returned error.
type stopCause struct {
	kind   ExitKind
	reason string
}

func (c *stopCause) Error() string { return c.reason }

// The reasons of Abandoned exits: who gave up on the attempt.
const (
	// abandonedReason: Advance, at the stop deadline.
	abandonedReason = "ignored cancellation past the stop timeout"
	// abandonedEarly: the caller, through Abandon, before the deadline.
	abandonedEarly = "abandoned by the caller before the stop timeout"
	// abandonedByStop: Stop, whose context ended before the deadline.
	abandonedByStop = "abandoned by Stop: its context ended before the stop timeout"
	// abandonedUnreaped: Advance, a process still not reaped after SIGKILL.
	abandonedUnreaped = "process not reaped within the stop timeout after SIGKILL"
)

// The causes the slot uses; allocated once so that cancelling costs nothing.
// A reason says why, not what: the kind says that already, and an exit
// reads "attempt 3 was cancelled after 2s: slot removed".
var (
	causeCancel   = &stopCause{Cancelled, "cancel requested"}
	causePause    = &stopCause{Cancelled, "slot paused"}
	causeRemove   = &stopCause{Cancelled, "slot removed"}
	causeRestart  = &stopCause{Cancelled, "restart requested"}
	causeParent   = &stopCause{Cancelled, "parent context done"}
	causeTimeout  = &stopCause{TimedOut, "attempt deadline passed"}
	causeStale    = &stopCause{Unhealthy, "heartbeat stale"}
	causeNotReady = &stopCause{Unhealthy, "not ready in time"}
)

// outcome is what the attempt goroutine saw when its child returned.
type outcome struct {
	err        error // what the child returned
	cause      error // context.Cause of the attempt's context at return; nil while it was live
	panicked   bool
	panicValue any
	stack      []byte
	goexit     bool
}

// newExit builds the exit of an attempt from its outcome, as the
// attempt's goroutine reads it (Attempt.settle), and reports whether the
// outcome holds a process killed by SIGKILL. It runs the child's methods,
// so it is for the child's goroutine (and tests), never the loop's.
func newExit(o outcome) (Exit, bool) {
	var a Attempt
	a.settle(&o)
	return a.exit(), a.rare != nil && a.rare.killed
}

// exitKind returns the kind and reason of an exit that is neither a panic
// nor a Goexit, from the outcome and what readError found in its error: a
// cancellation first, whoever sent it, whatever the child returned; then
// the returned error.
func exitKind(o *outcome, f *errFacts) (ExitKind, string) {
	switch {
	case o.cause != nil:
		kind, reason := Cancelled, ""
		if sc, ok := o.cause.(*stopCause); ok {
			kind, reason = sc.kind, sc.reason
		} else {
			reason = "parent context: " + errorText(o.cause)
		}
		if o.err != nil && !f.cancelled {
			reason += " (returned: " + f.text + ")"
		}
		return kind, bound(reason)
	case o.err != nil:
		return Failed, f.text
	default:
		return Succeeded, ""
	}
}

// PanicError is the Err of a Panicked exit: the recovered value and the
// child's full stack at the panic.
type PanicError struct {
	Value any
	Stack string
	text  string // the value's text, read when the panic was recovered
}

// Error returns "panic: " and the value's text. For a PanicError of an
// Exit, that text was read once, bounded, when the child panicked: Error
// runs none of the value's methods again.
func (p *PanicError) Error() string {
	if p.text != "" {
		return "panic: " + p.text
	}
	return "panic: " + fmt.Sprint(p.Value)
}

// Unwrap returns the panic value when it is an error.
func (p *PanicError) Unwrap() error {
	err, _ := p.Value.(error)
	return err
}
