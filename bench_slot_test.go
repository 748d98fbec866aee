package supervisor

import (
	"context"
	"errors"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Benchmarks of the hot paths, each beside a floor benchmark that does the
// same work by hand, so that one run gives the ratio (see BENCHMARKS.md).
// They run real goroutines on the real clock: no synctest here.

// TestPerfLayout guards the layout the scale benchmarks depend on: a slot
// fits its size class, and what Advance and NextDeadline read of a running
// slot lies in its first two cache lines, of its attempt in the first.
func TestPerfLayout(t *testing.T) {
	var s ChildSlot
	var a Attempt
	assert.LessOrEqual(t, unsafe.Sizeof(s), uintptr(448), "ChildSlot outgrew its size class; move rarely used state to slotCold")
	assert.LessOrEqual(t, unsafe.Offsetof(s.phase), uintptr(63), "flags and timeouts in the first line")
	assert.LessOrEqual(t, unsafe.Offsetof(s.base)+unsafe.Sizeof(s.base.origin), uintptr(128), "the anchor in the second line")
	assert.LessOrEqual(t, unsafe.Offsetof(a.number), uintptr(56), "what the loop reads of an attempt in its first line")
	assert.LessOrEqual(t, unsafe.Sizeof(a), uintptr(192), "an Attempt fits the 192-byte size class")
}

// TestPerfZeroAllocs: with nothing due, the loop's calls do not allocate,
// on a slot that never ran (its restart state is not allocated yet) and on
// one with history and a running attempt.
func TestPerfZeroAllocs(t *testing.T) {
	fresh, err := NewChildSlot("fresh", func(context.Context, *Attempt) error { return nil }, Config{})
	require.NoError(t, err)
	steady, _, now, stop := perfSteady(t)
	defer stop()
	for _, s := range []*ChildSlot{fresh, steady} {
		calls := map[string]func(){
			"Advance":      func() { s.Advance(now) },
			"NextDeadline": func() { perfSinkTime, perfSinkBool = s.NextDeadline() },
			"Liveness":     func() { perfSinkLiveness = s.Liveness(now) },
			"Record":       func() { perfSinkRecord = s.Record(now) },
		}
		for name, call := range calls {
			t.Run(s.ID()+"/"+name, func(t *testing.T) {
				assert.Zero(t, testing.AllocsPerRun(100, call))
			})
		}
	}
}

// errPerf is what failing benchmark children return.
var errPerf = errors.New("perf: child failed")

// Sinks keep the compiler from dropping the work being measured.
var (
	perfSinkTime     time.Time
	perfSinkBool     bool
	perfSinkLiveness Liveness
	perfSinkRecord   Record
	perfSinkSlots    []*ChildSlot
)

// perfRunning starts a slot under cfg whose child reports its Attempt, beats
// once, says it is ready and blocks until cancelled. stop removes the slot
// and collects the attempt.
func perfRunning(tb testing.TB, cfg Config) (s *ChildSlot, a *Attempt, stop func()) {
	tb.Helper()
	got := make(chan *Attempt, 1)
	s, err := NewChildSlot("bench", func(ctx context.Context, a *Attempt) error {
		a.Beat()
		a.Ready()
		got <- a
		<-ctx.Done()
		return nil
	}, cfg)
	require.NoError(tb, err)
	require.NoError(tb, s.Start(context.Background(), time.Now()))
	return s, <-got, func() { perfStop(tb, s) }
}

// perfStop removes s and collects its running attempt, if any.
func perfStop(tb testing.TB, s *ChildSlot) {
	tb.Helper()
	_ = s.Remove(time.Now())
	if d := s.Done(); d != nil {
		<-d
		_, err := s.Collect(time.Now())
		require.NoError(tb, err)
	}
}

// BenchmarkAttemptBeat is the child's heartbeat: one clock read and one
// atomic store.
func BenchmarkAttemptBeat(b *testing.B) {
	b.ReportAllocs()
	_, a, stop := perfRunning(b, Config{HeartbeatTimeout: time.Hour})
	defer stop()
	for b.Loop() {
		a.Beat()
	}
}

// BenchmarkAttemptBeatFloor is a beat by hand: the monotonic offset from an
// anchor stored in an atomic.
func BenchmarkAttemptBeatFloor(b *testing.B) {
	b.ReportAllocs()
	anchor := time.Now()
	var v atomic.Int64
	for b.Loop() {
		v.Store(int64(time.Since(anchor)))
	}
}

// BenchmarkAttemptBeatParallel beats from GOMAXPROCS goroutines, each on an
// attempt of its own slot, as children do.
func BenchmarkAttemptBeatParallel(b *testing.B) {
	b.ReportAllocs()
	n := runtime.GOMAXPROCS(0)
	attempts := make([]*Attempt, n)
	for i := range attempts {
		_, a, stop := perfRunning(b, Config{HeartbeatTimeout: time.Hour})
		defer stop()
		attempts[i] = a
	}
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		a := attempts[int(next.Add(1)-1)%n]
		for pb.Next() {
			a.Beat()
		}
	})
}

// perfBeatCell is a hand-made heartbeat on a cache line of its own (its size
// class is 128 bytes), as each Attempt's signals are.
type perfBeatCell struct {
	v atomic.Int64
	_ [120]byte
}

// BenchmarkAttemptBeatParallelFloor beats by hand from GOMAXPROCS
// goroutines, each on a cell of its own.
func BenchmarkAttemptBeatParallelFloor(b *testing.B) {
	b.ReportAllocs()
	n := runtime.GOMAXPROCS(0)
	cells := make([]*perfBeatCell, n)
	for i := range cells {
		cells[i] = new(perfBeatCell)
	}
	anchor := time.Now()
	var next atomic.Int64
	b.ResetTimer()
	b.RunParallel(func(pb *testing.PB) {
		c := cells[int(next.Add(1)-1)%n]
		for pb.Next() {
			c.v.Store(int64(time.Since(anchor)))
		}
	})
}

// perfCycleConfig restarts at once, forever: the limit never refuses since
// every restart leaves the window before the next.
var perfCycleConfig = Config{
	RestartLimit:  math.MaxInt32,
	RestartWindow: time.Nanosecond,
	Backoff:       Backoff{NoDelay: true},
}

// BenchmarkRestartCycle is one full restart cycle on real goroutines: the
// child returns an error, the loop wakes on Done, Collect records the exit
// and plans the restart, Advance starts the next attempt.
func BenchmarkRestartCycle(b *testing.B) {
	b.ReportAllocs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	s, err := NewChildSlot("cycle", func(context.Context, *Attempt) error { return errPerf }, perfCycleConfig)
	require.NoError(b, err)
	require.NoError(b, s.Start(ctx, time.Now()))
	for b.Loop() {
		<-s.Done()
		now := time.Now()
		if _, err := s.Collect(now); err != nil {
			b.Fatal(err)
		}
		s.Advance(now)
	}
	perfStop(b, s)
}

// BenchmarkRestartCycleFloor is the same cycle by hand: a cancellable
// context, a goroutine that runs the child and closes a channel, a receive.
func BenchmarkRestartCycleFloor(b *testing.B) {
	b.ReportAllocs()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	fn := func(context.Context) error { return errPerf }
	var last error
	start := func() (chan struct{}, context.CancelFunc) {
		c, stop := context.WithCancel(ctx)
		done := make(chan struct{})
		go func() {
			last = fn(c)
			close(done)
		}()
		return done, stop
	}
	done, stop := start()
	for b.Loop() {
		<-done
		perfSinkTime = time.Now()
		stop()
		if last == nil {
			b.Fatal("no error")
		}
		done, stop = start()
	}
	<-done
	stop()
}

// perfSteady returns a slot with history and nothing due: its first attempt
// failed and was collected, the restart runs with every deadline an hour
// away, has beaten and is ready. Its record caches are warm.
func perfSteady(tb testing.TB) (s *ChildSlot, a *Attempt, now time.Time, stop func()) {
	tb.Helper()
	got := make(chan *Attempt, 1)
	cfg := Config{
		RestartLimit:     100,
		Backoff:          Backoff{NoDelay: true},
		AttemptTimeout:   time.Hour,
		HeartbeatTimeout: time.Hour,
		ReadyTimeout:     time.Hour,
	}
	s, err := NewChildSlot("steady", func(ctx context.Context, a *Attempt) error {
		if a.Number() == 1 {
			return errPerf
		}
		a.Beat()
		a.Ready()
		got <- a
		<-ctx.Done()
		return nil
	}, cfg)
	require.NoError(tb, err)
	require.NoError(tb, s.Start(context.Background(), time.Now()))
	<-s.Done()
	_, err = s.Collect(time.Now())
	require.NoError(tb, err)
	s.Advance(time.Now())
	a = <-got
	now = time.Now()
	_, ok := s.NextDeadline()
	require.True(tb, ok)
	perfSinkRecord = s.Record(now)
	require.NotNil(tb, perfSinkRecord.LastExit)
	require.NotNil(tb, perfSinkRecord.Liveness.LastBeat)
	return s, a, now, func() { perfStop(tb, s) }
}

// perfHand is what a loop keeps by hand for one running child with the same
// three deadlines as perfSteady: the floors below read and compare it.
type perfHand struct {
	anchor, wall time.Time
	parent       context.Context
	done         atomic.Bool
	beat         atomic.Int64
	ready        atomic.Uint32
	startedAt    time.Time
	startN       int64
	limits       [3]time.Duration // attempt, heartbeat, readiness
	cancelled    bool
	beatKey      int64
	lastBeat     *time.Time
	lastExit     *Exit
	limit        RestartLimit
}

func newPerfHand() *perfHand {
	anchor := time.Now()
	h := &perfHand{
		anchor: anchor, wall: anchor.Round(0).UTC(),
		parent:    context.Background(),
		startedAt: anchor, limits: [3]time.Duration{time.Hour, time.Hour, time.Hour},
		lastExit: &Exit{Kind: Failed, Reason: errPerf.Error()},
		limit:    RestartLimit{Window: time.Minute, Limit: 100, Used: 1, Remaining: 99},
	}
	h.beat.Store(int64(time.Since(anchor)))
	h.ready.Store(1)
	return h
}

// advance makes Advance's checks on a running attempt by hand.
func (h *perfHand) advance(now time.Time) {
	if h.done.Load() || h.cancelled {
		return
	}
	n := int64(now.Sub(h.anchor))
	switch {
	case h.parent.Err() != nil,
		n >= h.startN+int64(h.limits[0]),
		n >= max(h.startN, h.beat.Load())+int64(h.limits[1]),
		h.ready.Load() == 0 && n >= h.startN+int64(h.limits[2]):
		h.cancelled = true
	}
}

// next is NextDeadline by hand: the earliest of the three deadlines.
func (h *perfHand) next() (time.Time, bool) {
	at := h.startedAt.Add(h.limits[0])
	if t := h.anchor.Add(time.Duration(max(h.startN, h.beat.Load())) + h.limits[1]); t.Before(at) {
		at = t
	}
	if h.ready.Load() == 0 {
		if t := h.startedAt.Add(h.limits[2]); t.Before(at) {
			at = t
		}
	}
	return at, true
}

// liveness is Liveness by hand, with the same cached wall time of the beat.
func (h *perfHand) liveness(now time.Time) Liveness {
	var l Liveness
	l.Readiness = Readiness(h.ready.Load())
	b := h.beat.Load()
	if h.lastBeat == nil || h.beatKey != b {
		t := h.wall.Add(time.Duration(b))
		h.beatKey, h.lastBeat = b, &t
	}
	l.LastBeat = h.lastBeat
	l.Stale = int64(now.Sub(h.anchor)) >= max(h.startN, b)+int64(h.limits[1])
	return l
}

// record fills a Record by hand from the same state.
func (h *perfHand) record(now time.Time) Record {
	return Record{
		ChildID: "steady", Path: "/steady",
		Generation: 1, Attempt: 2, Restarts: 1,
		Status: StatusReady, Operation: OperationActive,
		Liveness:     h.liveness(now),
		RestartLimit: h.limit,
		LastExit:     h.lastExit,
		Exits:        1,
		Active:       true,
		ObservedAt:   h.wall.Add(now.Sub(h.anchor)),
	}
}

// BenchmarkAdvance calls Advance on a running attempt with nothing due.
func BenchmarkAdvance(b *testing.B) {
	b.ReportAllocs()
	s, _, now, stop := perfSteady(b)
	defer stop()
	for b.Loop() {
		s.Advance(now)
	}
}

// BenchmarkAdvanceFloor makes the same checks by hand.
func BenchmarkAdvanceFloor(b *testing.B) {
	b.ReportAllocs()
	h := newPerfHand()
	now := time.Now()
	for b.Loop() {
		h.advance(now)
	}
}

// BenchmarkNextDeadline asks a running attempt for its earliest deadline.
func BenchmarkNextDeadline(b *testing.B) {
	b.ReportAllocs()
	s, _, _, stop := perfSteady(b)
	defer stop()
	for b.Loop() {
		perfSinkTime, perfSinkBool = s.NextDeadline()
	}
}

// BenchmarkNextDeadlineFloor takes the earliest deadline by hand.
func BenchmarkNextDeadlineFloor(b *testing.B) {
	b.ReportAllocs()
	h := newPerfHand()
	for b.Loop() {
		perfSinkTime, perfSinkBool = h.next()
	}
}

// BenchmarkLiveness snapshots a running attempt's health.
func BenchmarkLiveness(b *testing.B) {
	b.ReportAllocs()
	s, _, now, stop := perfSteady(b)
	defer stop()
	for b.Loop() {
		perfSinkLiveness = s.Liveness(now)
	}
}

// BenchmarkLivenessFloor builds the same snapshot by hand.
func BenchmarkLivenessFloor(b *testing.B) {
	b.ReportAllocs()
	h := newPerfHand()
	now := time.Now()
	for b.Loop() {
		perfSinkLiveness = h.liveness(now)
	}
}

// BenchmarkRecord snapshots a slot with history and a running attempt.
func BenchmarkRecord(b *testing.B) {
	b.ReportAllocs()
	s, _, now, stop := perfSteady(b)
	defer stop()
	for b.Loop() {
		perfSinkRecord = s.Record(now)
	}
}

// BenchmarkRecordFloor fills the same record by hand.
func BenchmarkRecordFloor(b *testing.B) {
	b.ReportAllocs()
	h := newPerfHand()
	now := time.Now()
	for b.Loop() {
		perfSinkRecord = h.record(now)
	}
}

// perfHeap returns the live heap after a full collection.
func perfHeap() uint64 {
	var m runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&m)
	return m.HeapAlloc
}

// perfPerSlot is the heap growth from before to after, per one of n slots.
func perfPerSlot(before, after uint64, n int) float64 {
	return (float64(after) - float64(before)) / float64(n)
}

// perfMemSlots is how many slots the memory benchmarks measure at once.
const perfMemSlots = 10_000

// BenchmarkSlotMemory measures, over perfMemSlots slots, the heap held per
// fresh idle slot (NewChildSlot: the slot and everything it allocates), the
// extra heap per running attempt (the attempt, its contexts, its channels,
// its entry in the parent context; not the goroutine, whose descriptor is
// reused from a warmed pool and whose stack is not heap), and per idle slot
// after one run (its last exit kept). The ids are the caller's and are made
// beforehand.
func BenchmarkSlotMemory(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	ids := make([]string, perfMemSlots)
	for i := range ids {
		ids[i] = "child-" + strconv.Itoa(i)
	}
	perfWarmGoroutines(perfMemSlots)
	var idle, running, ran float64
	for b.Loop() {
		slots := make([]*ChildSlot, perfMemSlots)
		var started sync.WaitGroup
		fn := func(ctx context.Context, _ *Attempt) error {
			started.Done()
			<-ctx.Done()
			return nil
		}
		m0 := perfHeap()
		for i := range slots {
			s, err := NewChildSlot(ids[i], fn, Config{Restart: Temporary})
			if err != nil {
				b.Fatal(err)
			}
			slots[i] = s
		}
		m1 := perfHeap()
		started.Add(perfMemSlots)
		now := time.Now()
		for _, s := range slots {
			if err := s.Start(ctx, now); err != nil {
				b.Fatal(err)
			}
		}
		started.Wait()
		m2 := perfHeap()
		for _, s := range slots {
			s.Cancel(now)
		}
		for _, s := range slots {
			<-s.Done()
			if _, err := s.Collect(time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		m3 := perfHeap()
		idle += perfPerSlot(m0, m1, perfMemSlots)
		running += perfPerSlot(m1, m2, perfMemSlots)
		ran += perfPerSlot(m0, m3, perfMemSlots)
		runtime.KeepAlive(slots)
	}
	b.ReportMetric(idle/float64(b.N), "B/idle-slot")
	b.ReportMetric(running/float64(b.N), "B/running-attempt")
	b.ReportMetric(ran/float64(b.N), "B/idle-slot-after-run")
}

// BenchmarkSlotMemoryFloor measures the same by hand: per child, a struct
// of what a hand-written loop keeps (a name, the function, a cancel func, a
// done channel), and per running child a cancellable context, a goroutine
// closure and a done channel, waiting on ctx.Done.
func BenchmarkSlotMemoryFloor(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	type child struct {
		id     string
		fn     func(context.Context) error
		cancel context.CancelFunc
		done   chan struct{}
		err    error
	}
	ids := make([]string, perfMemSlots)
	for i := range ids {
		ids[i] = "child-" + strconv.Itoa(i)
	}
	perfWarmGoroutines(perfMemSlots)
	var idle, running float64
	for b.Loop() {
		children := make([]*child, perfMemSlots)
		var started sync.WaitGroup
		fn := func(ctx context.Context) error {
			started.Done()
			<-ctx.Done()
			return nil
		}
		m0 := perfHeap()
		for i := range children {
			children[i] = &child{id: ids[i], fn: fn}
		}
		m1 := perfHeap()
		started.Add(perfMemSlots)
		for _, c := range children {
			var cctx context.Context
			cctx, c.cancel = context.WithCancel(ctx)
			c.done = make(chan struct{})
			go func() {
				c.err = c.fn(cctx)
				close(c.done)
			}()
		}
		started.Wait()
		m2 := perfHeap()
		for _, c := range children {
			c.cancel()
			<-c.done
		}
		idle += perfPerSlot(m0, m1, perfMemSlots)
		running += perfPerSlot(m1, m2, perfMemSlots)
		runtime.KeepAlive(children)
	}
	b.ReportMetric(idle/float64(b.N), "B/idle-slot")
	b.ReportMetric(running/float64(b.N), "B/running-attempt")
}

// perfWarmGoroutines runs n goroutines to their end, so that the runtime's
// pool holds n goroutine descriptors for the memory benchmarks to reuse.
func perfWarmGoroutines(n int) {
	var wg sync.WaitGroup
	release := make(chan struct{})
	for range n {
		wg.Go(func() { <-release })
	}
	close(release)
	wg.Wait()
}
