package supervisor

import (
	"context"
	"os"
	"runtime/debug"
	"sync/atomic"
	"time"
)

// ChildFunc is the body of a supervised child. It runs on its own goroutine,
// once per attempt, and should return when ctx is done. The returned error
// decides the exit's kind together with how ctx ended: see [ExitKind].
type ChildFunc func(ctx context.Context, a *Attempt) error

// Attempt is one run of a child, handed to its [ChildFunc]. Its methods are
// safe for concurrent use from any goroutine, allocate nothing, and may be
// called after the attempt has ended (they then change nothing the slot
// reads). A child that ignores its Attempt is fine.
//
// An Attempt must not be copied.
type Attempt struct {
	// First cache line: what the child touches. Attempts are allocated in a
	// size class that is a multiple of the line, so two slots' children
	// never write to a shared line.
	sig        signals
	anchor     time.Time // the slot's TimeBase anchor, for Beat
	number     uint64
	generation uint64
	grace      time.Duration // the slot's StopTimeout, for Process

	proc      atomic.Pointer[os.Process] // set by Process once the process runs
	done      chan struct{}              // closed when the child has returned
	out       outcome                    // written by the child before done is closed
	exitNanos int64                      // when the child returned, since the TimeBase

	// Owned by the loop.
	cancel       context.CancelCauseFunc
	stopDeadline context.CancelFunc // releases the AttemptTimeout context, if any
	startedAt    time.Time
	startNanos   int64
	stopBy       time.Time // when a cancelled attempt is abandoned
	cancelled    bool
	killExtended bool // a process attempt got one more StopTimeout to die
}

// Beat records that the child made progress, at the beat's own time. Call it
// from the work loop itself, so a stuck loop stops beating.
func (a *Attempt) Beat() { a.sig.storeBeat(int64(time.Since(a.anchor))) }

// Ready reports that the child is ready to serve.
func (a *Attempt) Ready() { a.sig.setReadiness(ReadinessReady) }

// NotReady reports that the child is not ready to serve (again).
func (a *Attempt) NotReady() { a.sig.setReadiness(ReadinessNotReady) }

// Number returns the attempt's number: 1, 2, 3, ... over the slot's life.
func (a *Attempt) Number() uint64 { return a.number }

// Generation returns the generation the attempt belongs to. It starts at 1
// and grows with each operator Restart and Resume.
func (a *Attempt) Generation() uint64 { return a.generation }

// isDone reports whether the child has returned.
func (a *Attempt) isDone() bool {
	select {
	case <-a.done:
		return true
	default:
		return false
	}
}

// run is the attempt's goroutine: it runs the child and, however the child
// ends (return, panic, runtime.Goexit), records the outcome, closes done and
// posts to the queue. Nothing here blocks: close never does and the queue
// post takes a short lock that no user code holds.
func (a *Attempt) run(ctx context.Context, fn ChildFunc, s *ChildSlot) {
	returned := false
	defer func() {
		if !returned {
			if r := recover(); r != nil {
				a.out.panicked = true
				a.out.panicValue = r
				a.out.stack = debug.Stack()
			} else {
				// Deferred calls run with nothing to recover only when the
				// goroutine is leaving through runtime.Goexit.
				a.out.goexit = true
			}
		}
		if ctx.Err() != nil {
			a.out.cause = context.Cause(ctx)
		}
		a.exitNanos = int64(time.Since(a.anchor))
		close(a.done)
		if q := s.cfg.Exits; q != nil {
			q.post(s)
		}
	}()
	a.out.err = fn(ctx, a)
	returned = true
}
