// Command fleet supervises many children (10,000 by default) as the
// members of one supervisor.Group, run by Group.Run: one control loop, no
// goroutine per slot besides the child's own; the group collects exits
// through one queue and finds due deadlines in a heap, so that a wake-up
// costs what is due, not what is held.
//
// Each child lives a random time, then succeeds, fails, panics or hangs
// until its AttemptTimeout; Permanent restarts bring it back after a short
// backoff (one_for_one: a child's failure concerns nobody else), and a
// child that burns through its own restart budget is quarantined. The
// group's own restart intensity is off (NoIntensity): a fleet must not
// fail as a whole because many of its independent children fail. Once
// every slot has started, the fleet runs for -duration; then (or at
// Ctrl-C) Run shuts the group down in order (with -concurrent: every slot
// at once, GroupConfig.ShutdownOrder Concurrent), and the program prints a
// summary, with how late the loop served the restarts' deadlines and how
// long the shutdown took.
//
// With -storm every child parks instead (as a server waits for work) until
// all have started; then all fail at once, and the run ends once every one
// has been restarted and parked again: the summary gives the library's
// memory per parked child, the time and CPU the storm took to drain, and the
// restarts' lateness during it. With -floor (a storm run) the fleet then
// does the same phases by hand with no library, in a process of its own,
// and prints both and the library's ratios to the floor (floor.go).
//
//	go run ./examples/fleet
//	go run ./examples/fleet -n 100000 -duration 10s
//	go run ./examples/fleet -n 1000000 -storm
//	go run ./examples/fleet -n 1000000 -storm -snapshots=false
//	go run ./examples/fleet -n 100000 -floor   # the storm, then its floor by hand, and the ratios
//	go run ./examples/fleet -n 10000 -flush 2ms              # in order: 10,000 × 2ms
//	go run ./examples/fleet -n 10000 -flush 2ms -concurrent  # all at once: about 2ms
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
	"runtime/pprof"
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
)

func config() supervisor.Config {
	return supervisor.Config{
		RestartLimit:   8,
		RestartWindow:  2 * time.Second,
		Backoff:        supervisor.Backoff{Initial: 20 * time.Millisecond, Max: 200 * time.Millisecond},
		StopTimeout:    stopTimeout,
		AttemptTimeout: attemptTimeout,
	}
}

var (
	errWork     = errors.New("upstream returned 502")
	errDuration = errors.New("-duration is over")
)

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

// flushing returns fn taking d more to return once its ctx is cancelled.
func flushing(fn supervisor.ChildFunc, d time.Duration) supervisor.ChildFunc {
	return func(ctx context.Context, a *supervisor.Attempt) error {
		err := fn(ctx, a)
		if ctx.Err() != nil {
			time.Sleep(d)
		}
		return err
	}
}

// stats counts events; OnEvent runs on the loop's goroutine, so plain
// fields do.
type stats struct {
	started, restarts, refused, stale uint64
	exits                             [supervisor.Abandoned + 1]uint64 // by ExitKind
	peakGors                          int
	before, running                   runtime.MemStats // before the slots were made; once all run
	shutdownAt                        time.Time        // when the group began its shutdown
}

func (st *stats) record(e supervisor.Event) {
	switch e.Kind {
	case supervisor.EventStarted:
		st.started++
		st.peakGors = max(st.peakGors, runtime.NumGoroutine())
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
	case supervisor.EventGroupStarted:
		runtime.ReadMemStats(&st.running) // every child was started: they all run
	case supervisor.EventShutdownStarted:
		st.shutdownAt = e.Time
	}
}

func (st *stats) totalExits() uint64 {
	var n uint64
	for _, c := range st.exits {
		n += c
	}
	return n
}

// options are the command line's.
type options struct {
	n          int
	duration   time.Duration
	storm      bool
	snapshots  bool
	concurrent bool
	flush      time.Duration
	cpuprofile string
	floor      bool // a storm run, then the floor's, and the ratios
	floorOnly  bool // the floor's phases alone, for -floor's own process
}

func parse(w io.Writer, args []string) (options, error) {
	fs := flag.NewFlagSet("fleet", flag.ContinueOnError)
	fs.SetOutput(w)
	var o options
	fs.IntVar(&o.n, "n", 10_000, "number of slots")
	fs.DurationVar(&o.duration, "duration", 3*time.Second, "how long the fleet runs before it is stopped")
	fs.BoolVar(&o.storm, "storm", false, "park every child, then fail them all at once; stop once all are back")
	fs.BoolVar(&o.snapshots, "snapshots", true, "publish the tree's snapshots, as a tree an admin page or a metrics scrape reads does")
	fs.BoolVar(&o.concurrent, "concurrent", false, "shut the group down with every slot at once (ShutdownOrder Concurrent) instead of one at a time in reverse order")
	fs.DurationVar(&o.flush, "flush", 0, "what a child takes to return once cancelled (a flush of its buffers), which an ordered shutdown adds up")
	fs.StringVar(&o.cpuprofile, "cpuprofile", "", "write a CPU profile of the run to this file")
	fs.BoolVar(&o.floor, "floor", false, "a -storm run, then the same phases by hand with no library (in a process of its own), and the ratios")
	fs.BoolVar(&o.floorOnly, "floor-only", false, "run only the floor's phases and print its figures (what -floor runs)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	o.storm = o.storm || o.floor
	if o.n <= 0 || o.duration <= 0 || o.flush < 0 || o.flush >= stopTimeout {
		return o, fmt.Errorf("-n and -duration must be positive, -flush from 0 to under %v", stopTimeout)
	}
	return o, nil
}

// fleet is one run: the group and what its listener measures.
type fleet struct {
	g      *supervisor.Group
	st     *stats
	late   *lateness
	sm     *storm // nil unless -storm
	stopAt *time.Timer
}

// newFleet builds the group of o.n slots; cancel ends the run.
func newFleet(o options, cancel context.CancelCauseFunc) (*fleet, error) {
	f := &fleet{st: &stats{}}
	fn, cfg := child, config()
	if o.storm {
		f.sm = newStorm(o.n)
		fn, cfg, f.late = f.sm.child, f.sm.config(), f.sm.late
	} else {
		f.late = newLateness(o.n)
	}
	if o.flush > 0 {
		fn = flushing(fn, o.flush)
	}
	onEvent := func(e supervisor.Event) {
		f.st.record(e)
		if f.sm != nil {
			f.sm.record(e)
			return
		}
		f.late.record(e)
		// The fleet runs for duration once every slot has started, as the
		// group reports.
		if e.Kind == supervisor.EventGroupStarted && f.stopAt == nil {
			f.stopAt = time.AfterFunc(o.duration, func() { cancel(errDuration) })
		}
	}
	gcfg := supervisor.GroupConfig{
		Strategy:  supervisor.OneForOne,
		Intensity: supervisor.NoIntensity,
		OnEvent:   onEvent,
	}
	if !o.snapshots {
		gcfg.SnapshotInterval = supervisor.NoSnapshots
	}
	if o.concurrent {
		gcfg.ShutdownOrder = supervisor.Concurrent
	}
	g, err := supervisor.NewGroup("fleet", gcfg)
	if err != nil {
		return nil, err
	}
	f.g = g
	runtime.GC()
	runtime.ReadMemStats(&f.st.before)
	for i := range o.n {
		if _, err := g.Add(fmt.Sprintf("worker-%05d", i), fn, cfg); err != nil {
			return nil, err
		}
	}
	return f, nil
}

func run(ctx context.Context, w io.Writer, args []string) error {
	o, err := parse(w, args)
	switch {
	case errors.Is(err, flag.ErrHelp):
		return nil // -h printed the usage: exit status 0
	case err != nil:
		return err
	}
	if o.floorOnly {
		writeFloor(w, runFloor(o.n, config().Backoff.Initial))
		return nil
	}
	if o.cpuprofile != "" {
		stop, err := profile(o.cpuprofile)
		if err != nil {
			return err
		}
		defer stop()
	}
	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	f, err := newFleet(o, cancel)
	if err != nil {
		return err
	}
	driven := make(chan struct{})
	if f.sm != nil {
		go func() {
			defer close(driven)
			f.sm.drive(runCtx, cancel, f.g)
		}()
	} else {
		close(driven)
	}
	start := time.Now()
	err = f.g.Run(runCtx)
	if f.stopAt != nil {
		f.stopAt.Stop()
	}
	cancel(nil)
	<-driven
	if err != nil {
		return err // cannot be ErrGroupFailed: the intensity is off
	}
	end := time.Now()
	f.summary(w, o, start, end)
	if !o.floor {
		return nil
	}
	if !f.sm.drained {
		return errors.New("-floor: the storm did not drain, nothing to compare")
	}
	fl, err := measureFloor(ctx, o.n, config().Backoff.Initial)
	if err != nil {
		return err
	}
	rss, _ := peakRSS()
	heap := float64(int64(f.sm.parkedMem.HeapAlloc)-int64(f.st.before.HeapAlloc)) / float64(o.n)
	printFloor(w, f.sm, heap, end.Sub(f.st.shutdownAt), rss, fl)
	return nil
}

// profile starts a CPU profile into the file at path; stop ends it.
func profile(path string) (stop func(), err error) {
	out, err := os.Create(path)
	if err != nil {
		return nil, err
	}
	if err := pprof.StartCPUProfile(out); err != nil {
		out.Close()
		return nil, err
	}
	return func() {
		pprof.StopCPUProfile()
		out.Close()
	}, nil
}

// summary writes what the run of o from start to end measured.
func (f *fleet) summary(w io.Writer, o options, start, end time.Time) {
	st := f.st
	quarantined := 0
	for _, m := range f.g.Record(end).Members {
		if m.Slot.Operation == supervisor.OperationQuarantined {
			quarantined++
		}
	}
	print(w, st, o, quarantined, st.shutdownAt.Sub(start), end.Sub(st.shutdownAt))
	if f.sm != nil {
		printStorm(w, f.sm, &st.before)
	}
	printLateness(w, f.late, f.sm != nil)
	if rss, ok := peakRSS(); ok {
		fmt.Fprintf(w, "  peak RSS           %.0f MiB\n", float64(rss)/(1<<20))
	}
}

// printStorm writes what the storm cost.
func printStorm(w io.Writer, sm *storm, before *runtime.MemStats) {
	if !sm.drained {
		fmt.Fprintln(w, "  storm              did not drain before the run ended")
		return
	}
	fmt.Fprintf(w, "  parked             %.0f B heap + %.0f B goroutine stack per child, all parked\n",
		perChild(sm.parkedMem.HeapAlloc, before.HeapAlloc, sm.n), perChild(sm.parkedMem.StackInuse, before.StackInuse, sm.n))
	fmt.Fprintf(w, "  storm              %d failed at once, all back in %v (%v CPU)\n",
		sm.failed.Load(), sm.drainWall.Round(time.Millisecond), sm.drainCPU.Round(time.Millisecond))
	fmt.Fprintf(w, "  backlog peak       %d exits queued, deadlines %v overdue (sampled every 5ms)\n",
		sm.peak.Exits, sm.peak.Overdue.Round(time.Millisecond))
}

// printLateness writes how late the restarts' deadlines were served.
func printLateness(w io.Writer, l *lateness, storm bool) {
	what := "restart lateness  "
	if storm {
		what = "storm lateness    "
	}
	p50, p99, top, ok := l.quantiles()
	if !ok {
		fmt.Fprintf(w, "  %s no restarts\n", what)
		return
	}
	fmt.Fprintf(w, "  %s p50 %v, p99 %v, max %v (%d restarts)\n", what,
		p50.Round(time.Microsecond), p99.Round(time.Microsecond), top.Round(time.Microsecond), len(l.late))
}

// print writes the summary: o.n slots ran for ran, and their shutdown
// (in order, or all at once with o.concurrent) took stopTook.
func print(w io.Writer, st *stats, o options, quarantined int, ran, stopTook time.Duration) {
	n := o.n
	fmt.Fprintf(w, "fleet: %d slots on one loop for %v\n", n, ran.Round(time.Millisecond))
	fmt.Fprintf(w, "  attempts started   %d\n", st.started)
	fmt.Fprintf(w, "  exits              %d:", st.totalExits())
	for k := supervisor.Succeeded; k <= supervisor.Abandoned; k++ {
		fmt.Fprintf(w, " %s %d", k, st.exits[k])
	}
	fmt.Fprintln(w)
	fmt.Fprintf(w, "  restarts           %d scheduled, %d refused (slots quarantined: %d at the end)\n",
		st.restarts, st.refused, quarantined)
	fmt.Fprintf(w, "  stale reports      %d\n", st.stale)
	fmt.Fprintf(w, "  peak goroutines    %d\n", st.peakGors)
	fmt.Fprintf(w, "  memory per slot    %.0f B heap + %.0f B goroutine stack, children running\n",
		perChild(st.running.HeapAlloc, st.before.HeapAlloc, n), perChild(st.running.StackInuse, st.before.StackInuse, n))
	how := "in order"
	if o.concurrent {
		how = "all at once"
	}
	fmt.Fprintf(w, "  stopped            %d slots %s in %v\n", n, how, stopTook.Round(time.Millisecond))
}

// perChild returns what a memory figure grew by from before to after, per
// child of n. A drop (other goroutines' stacks freed meanwhile, on a small
// fleet) is noise, not a negative cost: it gives 0.
func perChild(after, before uint64, n int) float64 {
	if after < before {
		return 0
	}
	return float64(after-before) / float64(n)
}
