package supervisor

import (
	"context"
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
	// First cache line: what the child writes, and everything the loop reads
	// on every check (the stop deadline of a cancelled attempt is the slot's:
	// only its active attempt has one), so that a loop sweeping many
	// attempts reads one line of each. Attempts are allocated in a size
	// class that is a multiple of the line, so two slots' children never
	// write to a shared line.
	sig          signals
	startedAt    time.Time   // owned by the loop
	startNanos   int64       // owned by the loop
	returned     atomic.Bool // set when the child has returned, before done is closed
	cancelled    bool        // owned by the loop
	killExtended bool        // owned by the loop: a process attempt got one more StopTimeout to die
	pidReported  bool        // owned by the loop: the process_started event was emitted
	kind         ExitKind    // the exit's Kind; written before returned is set
	number       uint64

	// Second line: written once (at the start; proc when the process runs)
	// and only read after, by the child too.
	anchor     time.Time // the slot's time base's anchor, for Beat
	generation uint64
	slot       *ChildSlot                 // for the attempt's goroutine: the child and the exit queue
	proc       atomic.Pointer[procHandle] // set by Process once the process runs
	// done points at the channel closed when the child has returned: own,
	// made at the start for a lone slot, whose loop waits on it; for a
	// member, whose loop learns of the return through the exit queue, one
	// made by the first call to doneChan, if any.
	done atomic.Pointer[chan struct{}]
	own  chan struct{}

	// Written by the attempt's goroutine before returned is set; read by
	// the loop after: the exit as the child's goroutine read it (see
	// newExit, and kind above), so that the loop runs none of
	// the child's code. Panics and exit codes are rare: they live apart.
	err       error      // what the child returned (a *PanicError for a panic)
	reason    string     // the exit's Reason
	rare      *exitExtra // nil unless the child panicked or its error had a code
	exitNanos int64      // when the child returned, since the time base

	// Owned by the loop.
	cancel       context.CancelCauseFunc
	stopDeadline context.CancelFunc // releases the AttemptTimeout context, if any
}

// exitExtra holds the parts of an exit that most exits lack: a panic's
// value and stack, a process's exit code and whether SIGKILL ended it,
// what the returned error asked of the supervisor.
type exitExtra struct {
	value     any
	stack     string
	code      int
	killed    bool
	directive Directive
}

// Beat records that the child made progress, at the beat's own time. Call it
// from the work loop itself, so a stuck loop stops beating.
func (a *Attempt) Beat() { a.sig.storeBeat(int64(time.Since(a.anchor))) }

// Ready reports that the child is ready to serve.
func (a *Attempt) Ready() {
	if a.sig.setReadiness(ReadinessReady) {
		// A group waits for this member before it starts the next one: post
		// the slot so that the loop wakes, as an exit does.
		if q := a.slot.cfg.Exits; q != nil {
			q.post(a.slot)
		}
	}
}

// NotReady reports that the child is not ready to serve (again).
func (a *Attempt) NotReady() { a.sig.setReadiness(ReadinessNotReady) }

// Number returns the attempt's number: 1, 2, 3, ... over the slot's life.
func (a *Attempt) Number() uint64 { return a.number }

// Generation returns the generation the attempt belongs to. It starts at 1
// and grows with each operator Restart and Resume.
func (a *Attempt) Generation() uint64 { return a.generation }

// returnedChan is the done channel of every attempt that returned before
// anyone asked for it: closed already.
var returnedChan = make(chan struct{})

func init() { close(returnedChan) }

// doneChan returns the channel closed when the child has returned, made on
// the first call when the attempt has none; safe from any goroutine.
func (a *Attempt) doneChan() <-chan struct{} {
	if d := a.done.Load(); d != nil {
		return *d
	}
	d := new(chan struct{})
	*d = make(chan struct{})
	if a.done.CompareAndSwap(nil, d) {
		return *d
	}
	return *a.done.Load() // the child returned meanwhile, or another caller made it
}

// isDone reports whether the child has returned. It reads a flag in the
// attempt's first line rather than the done channel, which lives elsewhere.
func (a *Attempt) isDone() bool { return a.returned.Load() }

// run is the attempt's goroutine: it runs the child and, however the child
// ends (return, panic, runtime.Goexit), records the outcome, closes done and
// posts to the queue. Nothing here blocks: close never does and the queue
// post takes a short lock that no user code holds.
func (a *Attempt) run(ctx context.Context) {
	s := a.slot
	returned := false
	defer func() {
		o := outcome{err: a.err}
		if !returned {
			if r := recover(); r != nil {
				o.panicked, o.panicValue, o.stack = true, r, debug.Stack()
			} else {
				// Deferred calls run with nothing to recover only when the
				// goroutine is leaving through runtime.Goexit.
				o.goexit = true
			}
		}
		if ctx.Err() != nil {
			o.cause = context.Cause(ctx)
		}
		a.exitNanos = int64(time.Since(a.anchor))
		a.settle(&o)
		a.returned.Store(true)
		if d := a.done.Swap(&returnedChan); d != nil {
			close(*d)
		}
		if q := s.cfg.Exits; q != nil {
			q.post(s)
		}
	}()
	a.err = s.fn(ctx, a)
	returned = true
}

// settle reads the child's outcome into the attempt's exit fields, on the
// attempt's goroutine: readError and panicText run the child's methods
// there. It keeps to a small stack, as the child's goroutine has one: an
// exit that grew it would cost a stack copy on every attempt.
func (a *Attempt) settle(o *outcome) {
	if o.panicked || o.goexit {
		a.settleRare(o)
		return
	}
	f := readError(o.err)
	a.err = o.err
	a.kind, a.reason = exitKind(o, &f)
	if f.code != 0 || f.killed || f.directive != DirectiveNone {
		a.rare = &exitExtra{code: f.code, killed: f.killed, directive: f.directive}
	}
}

// settleRare is settle for a panic (which wins over everything) or a
// runtime.Goexit.
func (a *Attempt) settleRare(o *outcome) {
	if o.goexit {
		a.err, a.kind, a.reason = o.err, Failed, "child called runtime.Goexit"
		return
	}
	text := panicText(o.panicValue)
	x := &exitExtra{value: o.panicValue, stack: string(o.stack)}
	a.err = &PanicError{Value: o.panicValue, Stack: x.stack, text: text}
	a.kind, a.reason, a.rare = Panicked, bound("panic: "+text), x
}

// exit returns the attempt's exit as its goroutine read it, without the
// slot's fields (numbers and times). It requires isDone.
func (a *Attempt) exit() Exit {
	e := Exit{Kind: a.kind, Err: a.err, Reason: a.reason}
	if x := a.rare; x != nil {
		e.PanicValue, e.Stack, e.Code, e.Directive = x.value, x.stack, x.code, x.directive
	}
	return e
}
