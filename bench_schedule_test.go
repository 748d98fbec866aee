package supervisor

import (
	"context"
	"math"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Benchmarks of a loop's scan for what is due across many slots: a sweep of
// every slot and the Schedule that replaces it, each beside a floor benchmark
// that does the same work by hand (see bench_slot_test.go and BENCHMARKS.md).

// perfSweepSlots is how many slots one loop sweeps.
const perfSweepSlots = 100_000

// perfSweep runs Advance and NextDeadline over every slot once per
// iteration and reports the cost per slot.
func perfSweep(b *testing.B, slots []*ChildSlot) {
	b.Helper()
	b.ReportAllocs()
	runtime.GC() // the setup's garbage is not the sweep's
	for b.Loop() {
		now := time.Now()
		for _, s := range slots {
			s.Advance(now)
			if at, ok := s.NextDeadline(); ok && at.Before(perfSinkTime) {
				perfSinkTime = at
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(slots)), "ns/slot")
}

// BenchmarkSweepIdle sweeps perfSweepSlots idle slots, each of which ran
// one Temporary attempt to its end.
func BenchmarkSweepIdle(b *testing.B) {
	slots := make([]*ChildSlot, perfSweepSlots)
	now := time.Now()
	for i := range slots {
		s, err := NewChildSlot("child-"+strconv.Itoa(i), func(context.Context, *Attempt) error { return nil },
			Config{Restart: Temporary})
		require.NoError(b, err)
		require.NoError(b, s.Start(context.Background(), now))
		slots[i] = s
	}
	for _, s := range slots {
		<-s.Done()
		_, err := s.Collect(now)
		require.NoError(b, err)
	}
	perfSweep(b, slots)
}

// BenchmarkSweepRunning sweeps perfSweepSlots running attempts that watch
// an attempt deadline, a heartbeat and readiness, none of them due.
func BenchmarkSweepRunning(b *testing.B) {
	slots, _ := perfRunningFleet(b, perfSweepSlots)
	perfSweep(b, slots)
}

// perfRunningFleet starts n slots whose children have beaten and are ready,
// every deadline an hour away, and stops them when the benchmark ends. It
// returns the slots and their attempts.
func perfRunningFleet(b *testing.B, n int) ([]*ChildSlot, []*Attempt) {
	b.Helper()
	cfg := Config{AttemptTimeout: time.Hour, HeartbeatTimeout: time.Hour, ReadyTimeout: time.Hour}
	var started sync.WaitGroup
	started.Add(n)
	slots := make([]*ChildSlot, n)
	attempts := make([]*Attempt, n)
	now := time.Now()
	for i := range slots {
		s, err := NewChildSlot("child-"+strconv.Itoa(i), func(ctx context.Context, a *Attempt) error {
			attempts[i] = a
			a.Beat()
			a.Ready()
			started.Done()
			<-ctx.Done()
			return nil
		}, cfg)
		require.NoError(b, err)
		require.NoError(b, s.Start(context.Background(), now))
		slots[i] = s
	}
	started.Wait()
	runtime.GC() // the setup's garbage is not the benchmark's
	b.Cleanup(func() {
		now := time.Now()
		for _, s := range slots {
			_ = s.Remove(now)
		}
		for _, s := range slots {
			<-s.Done()
			_, _ = s.Collect(now)
		}
	})
	return slots, attempts
}

// perfFloorSlot is what a hand-written sweep reads per child: a done flag
// and the earliest deadline, kept up to date elsewhere.
type perfFloorSlot struct {
	done     atomic.Bool
	deadline int64
}

// BenchmarkSweepFloor sweeps perfSweepSlots hand-made entries, each behind
// a pointer as the slots are: load the flag, compare the deadline, keep the
// earliest.
func BenchmarkSweepFloor(b *testing.B) {
	b.ReportAllocs()
	slots := make([]*perfFloorSlot, perfSweepSlots)
	anchor := time.Now()
	for i := range slots {
		slots[i] = &perfFloorSlot{deadline: int64(time.Hour) + int64(i)}
	}
	for b.Loop() {
		n := int64(time.Since(anchor))
		earliest := int64(math.MaxInt64)
		for _, s := range slots {
			if s.done.Load() || n >= s.deadline {
				continue
			}
			earliest = min(earliest, s.deadline)
		}
		perfSinkBool = earliest == 0
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*len(slots)), "ns/slot")
}

// BenchmarkScheduleUpdate is the heap per change, among perfSweepSlots
// running slots: a beat arrives, the loop refiles that slot and reads the
// earliest deadline. Beats go round the slots, so the slot that beats is
// the one filed earliest: each Update sinks it from the root to a leaf.
func BenchmarkScheduleUpdate(b *testing.B) {
	slots, attempts := perfRunningFleet(b, perfSweepSlots)
	var q slotHeap
	for _, s := range slots {
		q.track(s)
	}
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		attempts[i].Beat()
		q.track(slots[i])
		_, perfSinkTime, perfSinkBool = q.next()
		if i++; i == len(slots) {
			i = 0
		}
	}
}

// BenchmarkScheduleScan is the full scan per tick that a Schedule replaces:
// a beat arrives, the loop asks every one of perfSweepSlots running slots
// for its NextDeadline and keeps the earliest.
func BenchmarkScheduleScan(b *testing.B) {
	slots, attempts := perfRunningFleet(b, perfSweepSlots)
	b.ReportAllocs()
	i := 0
	for b.Loop() {
		attempts[i].Beat()
		var earliest time.Time
		found := false
		for _, s := range slots {
			if at, ok := s.NextDeadline(); ok && (!found || at.Before(earliest)) {
				earliest, found = at, true
			}
		}
		perfSinkTime, perfSinkBool = earliest, found
		if i++; i == len(slots) {
			i = 0
		}
	}
}

// perfHandHeap is a min-heap of deadlines by hand: int64 keys, each child's
// position kept in a table, and each child's heartbeat in an atomic, as a
// loop would write it for itself.
type perfHandHeap struct {
	keys  []int64 // heap order
	ids   []int32 // child at each heap position
	pos   []int32 // heap position of each child
	beats []atomic.Int64
}

func (h *perfHandHeap) swap(i, j int) {
	h.keys[i], h.keys[j] = h.keys[j], h.keys[i]
	h.ids[i], h.ids[j] = h.ids[j], h.ids[i]
	h.pos[h.ids[i]], h.pos[h.ids[j]] = int32(i), int32(j)
}

// fix restores the heap order after the key at i changed.
func (h *perfHandHeap) fix(i int) {
	for i > 0 && h.keys[i] < h.keys[(i-1)/2] {
		h.swap(i, (i-1)/2)
		i = (i - 1) / 2
	}
	for n := len(h.keys); ; {
		c := 2*i + 1
		if c >= n {
			return
		}
		if c+1 < n && h.keys[c+1] < h.keys[c] {
			c++
		}
		if h.keys[c] >= h.keys[i] {
			return
		}
		h.swap(i, c)
		i = c
	}
}

// BenchmarkScheduleUpdateFloor is BenchmarkScheduleUpdate by hand: store the
// beat, read it back with the timeout as the key, sift, read the root.
func BenchmarkScheduleUpdateFloor(b *testing.B) {
	b.ReportAllocs()
	const n, timeout = perfSweepSlots, int64(time.Hour)
	h := &perfHandHeap{keys: make([]int64, n), ids: make([]int32, n), pos: make([]int32, n), beats: make([]atomic.Int64, n)}
	anchor := time.Now()
	for i := range n {
		h.beats[i].Store(int64(time.Since(anchor)))
		h.keys[i], h.ids[i], h.pos[i] = h.beats[i].Load()+timeout, int32(i), int32(i)
		h.fix(i)
	}
	i := 0
	for b.Loop() {
		h.beats[i].Store(int64(time.Since(anchor)))
		p := int(h.pos[i])
		h.keys[p] = h.beats[i].Load() + timeout
		h.fix(p)
		perfSinkBool = h.keys[0] == 0
		if i++; i == n {
			i = 0
		}
	}
}
