package supervisor

import (
	"fmt"
	"math"
	"testing"
	"time"
)

// refTracker is the naive model FuzzRestartTracker checks against: it keeps
// every restart and counts them all.
type refTracker struct {
	limit   int
	window  time.Duration
	times   []time.Time
	last    time.Time
	updated time.Time
	stamped bool
}

func (r *refTracker) clamp(now time.Time) time.Time {
	if now.Before(r.last) {
		return r.last
	}
	r.last = now
	return now
}

func (r *refTracker) used(now time.Time) int {
	now = r.clamp(now)
	n := 0
	for _, at := range r.times {
		if now.Sub(at) < r.window {
			n++
		}
	}
	return min(n, r.limit)
}

func (r *refTracker) record(now time.Time) {
	now = r.clamp(now)
	r.times = append(r.times, now)
	if r.stamped && !now.After(r.updated) {
		r.updated = r.updated.Add(time.Nanosecond)
	} else {
		r.updated = now
	}
	r.stamped = true
}

func (r *refTracker) reset() {
	r.times = r.times[:0]
	if r.stamped {
		r.updated = r.updated.Add(time.Nanosecond)
	}
}

// trackerFuzz runs one FuzzRestartTracker operation on both trackers.
type trackerFuzz struct {
	tr          *restartCounter
	ref         *refTracker
	now         time.Time
	prevUpdated time.Time
}

func (h *trackerFuzz) step(op byte) error {
	tr, ref, now := h.tr, h.ref, h.now
	switch op % 6 {
	case 0:
		tr.record(now)
		ref.record(now)
		return h.checkUpdated()
	case 1:
		if got, want := tr.allow(now), ref.used(now) < ref.limit; got != want {
			return fmt.Errorf("Allow = %v, want %v", got, want)
		}
	case 2:
		if got, want := tr.used(now), ref.used(now); got != want {
			return fmt.Errorf("Used = %d, want %d", got, want)
		}
	case 3:
		used := ref.used(now)
		want := RestartLimit{
			Window: ref.window, Limit: ref.limit, Used: used, Remaining: ref.limit - used,
			Exhausted: used >= ref.limit, UpdatedAt: ref.updated,
		}
		if got := tr.state(now); got != want {
			return fmt.Errorf("State = %+v, want %+v", got, want)
		}
	case 4:
		tr.reset()
		ref.reset()
		if ref.stamped {
			return h.checkUpdated()
		}
	case 5:
		h.now = now.Add(100 * 365 * 24 * time.Hour)
		if got, want := tr.used(h.now), ref.used(h.now); got != want {
			return fmt.Errorf("Used after a century = %d, want %d", got, want)
		}
	}
	return nil
}

// checkUpdated checks that UpdatedAt has moved on since the last check.
func (h *trackerFuzz) checkUpdated() error {
	h.ref.clamp(h.now) // State sees now too
	got := h.tr.state(h.now).UpdatedAt
	if !got.After(h.prevUpdated) {
		return fmt.Errorf("UpdatedAt %v not after %v", got, h.prevUpdated)
	}
	h.prevUpdated = got
	return nil
}

// FuzzRestartTracker checks the tracker against refTracker. data[0] picks the
// limit (0..20), data[1] the window (0..31 ms, or within 16 ns of the
// largest Duration for data[1] >= 240), then each pair of bytes is an
// operation and a signed time step of 250 µs units, so time runs forwards and
// backwards and lands exactly on window edges. The jump operation moves time
// on by a century, so that offsets outgrow a Duration and the tracker must
// rebase.
func FuzzRestartTracker(f *testing.F) {
	f.Add([]byte{3, 4, 0, 0, 0, 4, 0, 4, 0, 4, 0, 4, 2, 4, 2, 1})
	f.Add([]byte{0, 10, 0, 0, 0, 1, 2, 1})
	f.Add([]byte{5, 0, 0, 0, 0, 0, 2, 0})
	f.Add([]byte{2, 2, 0, 8, 1, 0xf8, 0, 8, 2, 0x80, 2, 0x7f, 3, 1})
	f.Add([]byte{20, 31, 0, 1, 0, 1, 1, 1, 0, 1, 4, 0, 0, 1, 3, 100, 3, 100})
	f.Add([]byte{2, 16, 0, 48, 4, 48, 3, 0x80, 0, 48, 3, 48}) // Reset, then time runs backwards
	f.Add([]byte{3, 250, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 5, 0, 0, 0, 3, 0, 5, 0, 3, 0, 2, 0x80})
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 2 {
			return
		}
		limit := int(data[0] % 21)
		window := time.Duration(data[1]%32) * time.Millisecond
		if data[1] >= 240 {
			window = time.Duration(math.MaxInt64 - int64(data[1]-240))
		}
		tr := newRestartCounter(limit, window)
		ref := &refTracker{limit: limit, window: window}
		h := &trackerFuzz{tr: tr, ref: ref, now: t0}
		for i, ops := 0, data[2:]; len(ops) >= 2; i, ops = i+1, ops[2:] {
			h.now = h.now.Add(time.Duration(int8(ops[1])) * 250 * time.Microsecond)
			if err := h.step(ops[0]); err != nil {
				t.Fatalf("op %d: %v", i, err)
			}
			if cap(tr.ring) > limit {
				t.Fatalf("op %d: ring capacity %d above limit %d", i, cap(tr.ring), limit)
			}
		}
	})
}
