package supervisor

import (
	"math"
	"sync/atomic"
	"time"
)

// Readiness is what the child last said about being ready to serve.
type Readiness uint8

// The readiness values. The zero value is ReadinessUnknown: the child has not
// said.
const (
	ReadinessUnknown Readiness = iota
	ReadinessReady
	ReadinessNotReady
)

var readinessNames = []string{"unknown", "ready", "not_ready"}

// Liveness is a snapshot of the active attempt's health: a small value,
// returned by copy and safe to hand to any goroutine. With no attempt
// running it is the zero Liveness: heartbeats and readiness belong to the
// attempt, never to the slot.
type Liveness struct {
	// LastBeat is the wall time of the attempt's latest beat, derived from
	// the slot's time base; nil before the first beat.
	LastBeat *time.Time `json:"last_beat"`
	// Stale reports whether the attempt has gone Config.HeartbeatTimeout
	// without a beat, counted from its start until the first beat. It is
	// always false when HeartbeatTimeout is off.
	Stale bool `json:"stale"`
	// Readiness is what the child last reported.
	Readiness Readiness `json:"readiness"`
}

const (
	readyMask  = 0xff
	everReady  = 1 << 8 // set once the child has reported Ready
	readyWakes = 1 << 9 // the first Ready wakes the loop: a group waits for it
)

// signals is the attempt-side heartbeat and readiness, written by the child
// with atomics and read by the loop.
type signals struct {
	beat  atomic.Int64  // nanoseconds since the slot's time base, plus one; zero: no beat yet
	ready atomic.Uint32 // a Readiness in the low byte, everReady above it
}

func (s *signals) storeBeat(sinceBase int64) {
	s.beat.Store(max(sinceBase, 0) + 1)
}

// lastBeat returns the latest beat in nanoseconds since the time base.
func (s *signals) lastBeat() (int64, bool) {
	v := s.beat.Load()
	return v - 1, v != 0
}

// setReadiness stores r and reports whether this was the first Ready of an
// attempt whose first Ready must wake the loop.
func (s *signals) setReadiness(r Readiness) bool {
	for {
		old := s.ready.Load()
		v := old&^readyMask | uint32(r)
		if r == ReadinessReady {
			v |= everReady
		}
		if s.ready.CompareAndSwap(old, v) {
			return old&(everReady|readyWakes) == readyWakes && v&everReady != 0
		}
	}
}

// wakeOnReady makes the first Ready wake the loop. It is set before the
// child runs.
func (s *signals) wakeOnReady() { s.ready.Store(s.ready.Load() | readyWakes) }

func (s *signals) readiness() (r Readiness, wasReady bool) {
	v := s.ready.Load()
	return Readiness(v & readyMask), v&everReady != 0
}

// procUp, in signals.ready, marks that the attempt's OS process runs
// (Process), so that the loop, which reads only the attempt's first cache
// line, knows to report its pid.
const procUp = 1 << 10

// markProcess sets procUp.
func (s *signals) markProcess() { s.ready.Or(procUp) }

// hasProcess reports whether procUp is set.
func (s *signals) hasProcess() bool { return s.ready.Load()&procUp != 0 }

// signalled reports whether the child has said anything yet.
func (s *signals) signalled() bool {
	return s.beat.Load() != 0 || s.ready.Load()&(readyMask|everReady) != 0 // not readyWakes: the loop set it
}

// staleAt returns the instant, in nanoseconds since the time base, at which an
// attempt started at start goes stale with the given timeout: the timeout
// after its latest beat, or after its start before the first beat. The beat's
// own time counts, never the time the loop looked (the seed design's fault).
func (s *signals) staleAt(start int64, timeout time.Duration) int64 {
	from := start
	if b, ok := s.lastBeat(); ok {
		from = max(from, b)
	}
	return addSat(from, timeout)
}

// addSat returns n + d for d >= 0, stopping at math.MaxInt64 instead of
// wrapping: a timeout of math.MaxInt64 means "not for centuries", never
// "long ago".
func addSat(n int64, d time.Duration) int64 {
	return min(n, math.MaxInt64-int64(d)) + int64(d)
}
