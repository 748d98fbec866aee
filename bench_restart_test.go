package supervisor

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// Benchmarks of the restart tracker, each beside a floor benchmark that does
// the same work by hand (see BENCHMARKS.md).

const (
	benchLimit  = 16
	benchWindow = time.Minute
)

var benchSink bool

// BenchmarkRestartTrackerRecord records one restart per iteration at steady
// state: time moves on by window/limit, so each Record drops the restart
// that has just left the window and stores one.
func BenchmarkRestartTrackerRecord(b *testing.B) {
	b.ReportAllocs()
	const step = benchWindow / benchLimit
	tr := newRestartCounter(benchLimit, benchWindow)
	now := time.Now()
	for range 2 * benchLimit {
		now = now.Add(step)
		tr.record(now)
	}
	for b.Loop() {
		now = now.Add(step)
		tr.record(now)
	}
}

// BenchmarkRestartTrackerRecordFloor does Record's work by hand on a
// fixed-size ring of int64 nanoseconds: take a time.Time, clamp, drop the
// expired, store.
func BenchmarkRestartTrackerRecordFloor(b *testing.B) {
	b.ReportAllocs()
	const step, window = benchWindow / benchLimit, int64(benchWindow)
	var ring [benchLimit]int64
	var head, n int
	var last int64
	base := time.Now()
	now := base
	for b.Loop() {
		now = now.Add(step)
		off := int64(now.Sub(base))
		if off < last {
			off = last
		}
		last = off
		for n > 0 && off-ring[head] >= window {
			head = (head + 1) % benchLimit
			n--
		}
		if n == benchLimit {
			ring[head] = off
			head = (head + 1) % benchLimit
		} else {
			ring[(head+n)%benchLimit] = off
			n++
		}
	}
}

// BenchmarkRestartTrackerAllow runs the control loop's check at steady
// state: time moves on by window/limit, Allow drops the restart that has
// just left the window and admits one more, which is then recorded. Allow
// alone cannot stay in a steady state without Record: the window would
// drain.
func BenchmarkRestartTrackerAllow(b *testing.B) {
	b.ReportAllocs()
	const step = benchWindow / benchLimit
	tr := newRestartCounter(benchLimit, benchWindow)
	now := time.Now()
	for range 2 * benchLimit {
		now = now.Add(step)
		tr.record(now)
	}
	for b.Loop() {
		now = now.Add(step)
		if benchSink = tr.allow(now); benchSink {
			tr.record(now)
		}
	}
}

// BenchmarkRestartTrackerAllowFloor does the same check and record by hand on
// a fixed-size ring of int64 nanoseconds.
func BenchmarkRestartTrackerAllowFloor(b *testing.B) {
	b.ReportAllocs()
	const step, window = benchWindow / benchLimit, int64(benchWindow)
	var ring [benchLimit]int64
	var head, n int
	var last int64
	base := time.Now()
	now := base
	for b.Loop() {
		now = now.Add(step)
		off := int64(now.Sub(base))
		if off < last {
			off = last
		}
		last = off
		for n > 0 && off-ring[head] >= window {
			head = (head + 1) % benchLimit
			n--
		}
		if benchSink = n < benchLimit; benchSink {
			ring[(head+n)%benchLimit] = off
			n++
		}
	}
}

// BenchmarkRestartTrackerAllowLimit shows that Allow costs the same whatever
// the limit: a full tracker is checked as time moves on, with one restart
// leaving the window and one recorded per iteration.
func BenchmarkRestartTrackerAllowLimit(b *testing.B) {
	for _, limit := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			b.ReportAllocs()
			step := benchWindow / time.Duration(limit)
			tr := newRestartCounter(limit, benchWindow)
			now := time.Now()
			for range 2 * limit {
				now = now.Add(step)
				tr.record(now)
			}
			for b.Loop() {
				now = now.Add(step)
				if benchSink = tr.allow(now); benchSink {
					tr.record(now)
				}
			}
		})
	}
}

// BenchmarkRestartTrackerAllowExhausted checks a full tracker whose
// restarts are all still in the window, as time creeps on: the refusal path,
// which must not scan the ring either.
func BenchmarkRestartTrackerAllowExhausted(b *testing.B) {
	for _, limit := range []int{10, 10_000} {
		b.Run(fmt.Sprintf("limit=%d", limit), func(b *testing.B) {
			b.ReportAllocs()
			tr := newRestartCounter(limit, time.Duration(math.MaxInt64))
			now := time.Now()
			for range limit {
				now = now.Add(time.Nanosecond)
				tr.record(now)
			}
			for b.Loop() {
				now = now.Add(time.Nanosecond)
				benchSink = tr.allow(now)
			}
		})
	}
}
