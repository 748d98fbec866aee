package supervisor

import "time"

// TimeBase anchors a slot's clock: it is captured once, from an instant that
// carries Go's monotonic clock reading, and from then on every instant is
// measured as a monotonic offset from it. Wall times for records are the
// anchor's wall time plus that offset, so they never go backwards when the
// system clock is stepped.
//
// A TimeBase is an immutable value, safe to copy and to use from any
// goroutine. The zero TimeBase is anchored at the zero time; use
// [NewTimeBase].
type TimeBase struct {
	anchor time.Time // with its monotonic reading, when it has one
	wall   time.Time // anchor's wall clock in UTC, monotonic reading stripped
}

// NewTimeBase returns a TimeBase anchored at now. Pass time.Now() so that the
// anchor carries a monotonic reading.
func NewTimeBase(now time.Time) TimeBase {
	return TimeBase{anchor: now, wall: now.Round(0).UTC()}
}

// Anchor returns the instant the base was captured at.
func (b TimeBase) Anchor() time.Time { return b.anchor }

// Since returns how long after the anchor t is, on the monotonic clock when
// both carry a reading. It is negative for an instant before the anchor.
func (b TimeBase) Since(t time.Time) time.Duration { return t.Sub(b.anchor) }

// Nanos returns t as nanoseconds since the anchor, the form kept in atomics.
func (b TimeBase) Nanos(t time.Time) int64 { return int64(t.Sub(b.anchor)) }

// Now returns the current instant as nanoseconds since the anchor. It reads
// the monotonic clock once and does not allocate.
func (b TimeBase) Now() int64 { return int64(time.Since(b.anchor)) }

// Instant returns the instant n nanoseconds after the anchor. It keeps the
// anchor's monotonic reading, so time.Until and Sub on it are monotonic.
func (b TimeBase) Instant(n int64) time.Time { return b.anchor.Add(time.Duration(n)) }

// Wall returns t as a wall-clock time in UTC for records: the anchor's wall
// time plus t's monotonic offset from the anchor. The result has no
// monotonic reading; the zero time stays zero.
func (b TimeBase) Wall(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return b.wall.Add(t.Sub(b.anchor))
}

// WallNanos returns the record wall time of the instant n nanoseconds after
// the anchor.
func (b TimeBase) WallNanos(n int64) time.Time { return b.wall.Add(time.Duration(n)) }

// Unix returns the record wall time of t in nanoseconds since the Unix epoch.
func (b TimeBase) Unix(t time.Time) int64 { return b.Wall(t).UnixNano() }
