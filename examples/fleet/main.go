// Command fleet supervises many children (10,000 by default) from one
// control loop, with no goroutine per slot besides the child's own: exits
// arrive through one ExitQueue, and deadlines come from a supervisor.Schedule,
// a min-heap of the slots keyed by their NextDeadline, in which each slot,
// filed once, keeps its own entry current. Each wake-up serves at most
// batch slots, so that with many slots the loop stays responsive to its own
// timers.
//
// Each child lives a random time, then succeeds, fails, panics or hangs
// until its AttemptTimeout; Permanent restarts bring it back after a short
// backoff, and a child that burns through its restart budget is quarantined.
// After -duration every slot is removed, the loop waits for every child to
// stop, and the program prints a summary.
//
//	go run ./examples/fleet
//	go run ./examples/fleet -n 100000 -duration 10s
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"math/rand/v2"
	"os"
	"os/signal"
	"runtime"
	"time"

	"github.com/childslot/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "fleet:", err)
		stop()
		os.Exit(1)
	}
}

// Children's behaviour and the slots' configuration.
const (
	maxLifetime    = 500 * time.Millisecond // a child's work takes up to this long
	attemptTimeout = time.Second            // a hung child is cancelled after this
	stopTimeout    = time.Second            // grace before abandoning a child that ignores cancellation
	batch          = 1024                   // slots served per wake-up, at most
)

func config(q *supervisor.ExitQueue, onEvent func(supervisor.Event)) supervisor.Config {
	return supervisor.Config{
		Exits:          q,
		OnEvent:        onEvent,
		RestartLimit:   8,
		RestartWindow:  2 * time.Second,
		Backoff:        supervisor.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		StopTimeout:    stopTimeout,
		AttemptTimeout: attemptTimeout,
	}
}

var errWork = errors.New("upstream returned 502")

// child works for a random time, then ends in one of the ways a real child
// does.
func child(ctx context.Context, a *supervisor.Attempt) error {
	work := time.NewTimer(rand.N(maxLifetime))
	defer work.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-work.C:
	}
	switch r := rand.IntN(100); {
	case r < 50:
		return nil // done; a Permanent child is started again
	case r < 85:
		return errWork
	case r < 90:
		panic(fmt.Sprintf("attempt %d: corrupt batch", a.Number()))
	default:
		<-ctx.Done() // hung until AttemptTimeout cancels it
		return ctx.Err()
	}
}

// stats counts events; OnEvent runs on the loop's goroutine, so plain
// fields do.
type stats struct {
	started, restarts, refused, stale uint64
	exits                             [supervisor.Abandoned + 1]uint64 // by ExitKind
}

func (st *stats) record(e supervisor.Event) {
	switch e.Kind {
	case supervisor.EventStarted:
		st.started++
	case supervisor.EventExited, supervisor.EventAbandoned:
		if e.Exit != nil && int(e.Exit.Kind) < len(st.exits) {
			st.exits[e.Exit.Kind]++
		}
	case supervisor.EventRestartScheduled:
		st.restarts++
	case supervisor.EventRestartRefused:
		st.refused++
	case supervisor.EventStaleReport:
		st.stale++
	}
}

func (st *stats) totalExits() uint64 {
	var n uint64
	for _, c := range st.exits {
		n += c
	}
	return n
}

// entry is one slot in the loop's bookkeeping.
type entry struct {
	slot     *supervisor.ChildSlot
	finished bool
}

// fleet is the control loop's state.
type fleet struct {
	q       *supervisor.ExitQueue
	bySlot  map[*supervisor.ChildSlot]*entry
	entries []*entry
	// sched orders the slots by NextDeadline. With many slots, scanning all
	// of them on every wake-up to find the earliest deadline costs O(n) per
	// wake-up; the heap costs O(log n) per change of one slot's deadline
	// and O(1) to read the earliest. Each slot is filed once and refiles
	// itself whenever a call moves its deadline.
	sched    supervisor.Schedule
	live     int // slots not yet finished
	st       stats
	wakeups  uint64
	peakGors int
}

// touch notes whether e's slot has finished after a call on it.
func (f *fleet) touch(e *entry) {
	if !e.finished && e.slot.Finished() {
		e.finished = true
		f.live--
	}
}

// summary is what the run measured.
type summary struct {
	n                int
	ran, stopTook    time.Duration
	heapPerSlot      float64
	stackPerSlot     float64
	quarantinedAtEnd int
}

func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(w)
	n := fs.Int("n", 10_000, "number of slots")
	duration := fs.Duration("duration", 3*time.Second, "how long the fleet runs before it is stopped")
	if err := fs.Parse(args); err != nil {
		return err
	}
	if *n <= 0 || *duration <= 0 {
		return errors.New("-n and -duration must be positive")
	}

	f := &fleet{
		q:       supervisor.NewExitQueue(),
		bySlot:  make(map[*supervisor.ChildSlot]*entry, *n),
		entries: make([]*entry, 0, *n),
	}
	sum := summary{n: *n}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	cfg := config(f.q, f.st.record)
	start := time.Now()
	for i := range *n {
		s, err := supervisor.NewChildSlot(fmt.Sprintf("worker-%05d", i), child, cfg)
		if err != nil {
			return err
		}
		e := &entry{slot: s}
		f.bySlot[s] = e
		f.entries = append(f.entries, e)
		f.live++
		f.sched.Update(s) // once: from now on the slot keeps its entry current
		if err := s.Start(ctx, start); err != nil {
			f.stopAll(time.Now())
			f.loop(nil, nil)
			return err
		}
		f.touch(e)
	}
	runtime.ReadMemStats(&after)
	f.peakGors = runtime.NumGoroutine()
	sum.heapPerSlot = float64(int64(after.HeapAlloc)-int64(before.HeapAlloc)) / float64(*n)
	sum.stackPerSlot = float64(int64(after.StackInuse)-int64(before.StackInuse)) / float64(*n)

	end := time.NewTimer(*duration)
	defer end.Stop()
	f.loop(ctx.Done(), end.C)
	sum.ran = time.Since(start)

	for _, e := range f.entries {
		if e.slot.Operation() == supervisor.OperationQuarantined {
			sum.quarantinedAtEnd++
		}
	}
	stopStart := time.Now()
	f.stopAll(stopStart)
	f.loop(nil, nil)
	sum.stopTook = time.Since(stopStart)
	f.print(w, sum)
	return nil
}

// loop is the control loop: it serves exits from the queue and deadlines
// from the schedule until every slot is finished, or until done or end is ready
// (nil channels never are).
func (f *fleet) loop(done <-chan struct{}, end <-chan time.Time) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var drained []*supervisor.ChildSlot
	var due []*supervisor.ChildSlot
	for f.live > 0 {
		if _, at, ok := f.sched.Next(); ok {
			timer.Reset(time.Until(at))
		}
		select {
		case <-f.q.Ready():
			now := time.Now()
			// At most batch slots per wake-up: the rest stay queued and
			// Ready stays signalled, so the timers below are not starved.
			drained = f.q.DrainN(drained[:0], batch)
			for _, s := range drained {
				if _, _, err := s.TryCollect(now); err != nil { // false, nil: collected already
					panic(err) // only a zero slot or a call from OnEvent could fail
				}
				s.Advance(now) // starts a restart due at once, records late returns
				f.touch(f.bySlot[s])
			}
		case <-timer.C:
			// Each due slot is advanced once, at most batch per wake-up;
			// each refiles itself.
			due = f.sched.AdvanceDue(time.Now(), due[:0], batch)
			for _, s := range due {
				f.touch(f.bySlot[s])
			}
		case <-done:
			return
		case <-end:
			return
		}
		f.wakeups++
		f.peakGors = max(f.peakGors, runtime.NumGoroutine())
	}
}

// stopAll removes every slot: running children are cancelled, and the loop
// then waits for them (or abandons one that ignores cancellation for
// StopTimeout).
func (f *fleet) stopAll(now time.Time) {
	for _, e := range f.entries {
		_ = e.slot.Remove(now) // ErrRemoved only if removed already
		f.touch(e)
	}
}

func (f *fleet) print(w io.Writer, sum summary) {
	st := &f.st
	fmt.Fprintf(w, "fleet: %d slots on one loop for %v\n", sum.n, sum.ran.Round(time.Millisecond))
	fmt.Fprintf(w, "  attempts started   %d\n", st.started)
	fmt.Fprintf(w, "  exits              %d:", st.totalExits())
	for k := supervisor.Succeeded; k <= supervisor.Abandoned; k++ {
		fmt.Fprintf(w, " %s %d", k, st.exits[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  restarts           %d scheduled, %d refused (slots quarantined: %d at the end)\n",
		st.restarts, st.refused, sum.quarantinedAtEnd)
	fmt.Fprintf(w, "  stale reports      %d\n", st.stale)
	fmt.Fprintf(w, "  peak goroutines    %d\n", f.peakGors)
	fmt.Fprintf(w, "  memory per slot    %.0f B heap + %.0f B goroutine stack, children running\n",
		sum.heapPerSlot, sum.stackPerSlot)
	fmt.Fprintf(w, "  loop wake-ups      %d\n", f.wakeups)
	fmt.Fprintf(w, "  stopped            %d slots in %v\n", sum.n, sum.stopTook.Round(time.Millisecond))
}
