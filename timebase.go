package supervisor

import "time"

// timeBase anchors a slot's clock: it is captured once, from an instant that
// carries Go's monotonic clock reading, and from then on every instant is
// measured as a monotonic offset from it. Wall times for records are the
// anchor's wall time plus that offset, so they never go backwards when the
// system clock is stepped.
//
// A timeBase is an immutable value, safe to copy and to use from any
// goroutine. The zero timeBase is anchored at the zero time; use
// newTimeBase.
type timeBase struct {
	origin     time.Time // with its monotonic reading, when it has one
	originWall time.Time // anchor's wall clock in UTC, monotonic reading stripped
}

// newTimeBase returns a time base anchored at now. Pass time.Now() so that the
// anchor carries a monotonic reading.
func newTimeBase(now time.Time) timeBase {
	return timeBase{origin: now, originWall: now.Round(0).UTC()}
}

// start returns the instant the base was captured at.
func (b timeBase) start() time.Time { return b.origin }

// since returns how long after the anchor t is, on the monotonic clock when
// both carry a reading. It is negative for an instant before the anchor.
func (b timeBase) since(t time.Time) time.Duration { return t.Sub(b.origin) }

// nanos returns t as nanoseconds since the anchor, the form kept in atomics.
func (b timeBase) nanos(t time.Time) int64 { return int64(t.Sub(b.origin)) }

// now returns the current instant as nanoseconds since the anchor. It reads
// the monotonic clock once and does not allocate.
func (b timeBase) now() int64 { return int64(time.Since(b.origin)) }

// instant returns the instant n nanoseconds after the anchor. It keeps the
// anchor's monotonic reading, so time.Until and Sub on it are monotonic.
func (b timeBase) instant(n int64) time.Time { return b.origin.Add(time.Duration(n)) }

// wall returns t as a wall-clock time in UTC for records: the anchor's wall
// time plus t's monotonic offset from the anchor. The result has no
// monotonic reading; the zero time stays zero.
func (b timeBase) wall(t time.Time) time.Time {
	if t.IsZero() {
		return time.Time{}
	}
	return b.originWall.Add(t.Sub(b.origin))
}

// wallNanos returns the record wall time of the instant n nanoseconds after
// the anchor.
func (b timeBase) wallNanos(n int64) time.Time { return b.originWall.Add(time.Duration(n)) }

// unix returns the record wall time of t in nanoseconds since the unix epoch.
func (b timeBase) unix(t time.Time) int64 { return b.wall(t).UnixNano() }
