package supervisor

import (
	"encoding/json"
	"fmt"
	"math"
	"math/rand/v2"
	"time"
)

// RestartType says after which exits a slot restarts its child. The zero
// value is [Permanent]. A RestartType is a plain value that any goroutine may
// use.
type RestartType uint8

const (
	// Permanent restarts the child after any exit, including a successful one.
	Permanent RestartType = iota
	// Transient restarts the child only after an abnormal exit: a failure, a
	// panic, a timeout or an unhealthy attempt.
	Transient
	// Temporary never restarts the child.
	Temporary
)

var restartTypeNames = []string{
	Permanent: "permanent",
	Transient: "transient",
	Temporary: "temporary",
}

// restartCounter counts restarts inside a sliding time window and tells
// whether one more is allowed. A restart recorded at r counts while
// now.Sub(r) < window: a restart exactly window old no longer counts.
//
// A restartCounter belongs to one goroutine, usually the control loop's; its
// methods are not safe for concurrent use. A zero restartCounter is valid: its
// limit and window are 0, so it allows nothing.
//
// Every method takes the current time. A now earlier than the latest now seen
// by any method is treated as that latest time, so a clock that steps back
// never corrupts the count. Memory is bounded by the limit: the tracker keeps
// only the newest limit restarts, in a ring buffer that grows by doubling as
// restarts arrive, so a huge limit preallocates nothing.
type restartCounter struct {
	allowed int
	span    time.Duration

	// The ring holds the newest restarts still in the window as offsets in
	// nanoseconds from base, oldest at head, in time order because every now
	// is clamped to last. Two offsets are compared as uint64(a - b), which is
	// exact for a >= b even when a - b does not fit an int64.
	ring []int64
	head int
	n    int

	base    time.Time // origin of the offsets: the first now, moved on by rebase
	based   bool      // base is set
	last    time.Time // latest now seen by any method
	lastOff int64     // last as an offset from base

	updated time.Time // UpdatedAt of the latest Record or Reset
	stamped bool      // a Record has set updated
}

// newRestartCounter returns a tracker that allows limit restarts within
// window. A negative limit or window is treated as 0: a limit of 0 allows
// nothing, and with a window of 0 no restart counts.
func newRestartCounter(limit int, window time.Duration) *restartCounter {
	return &restartCounter{allowed: max(limit, 0), span: max(window, 0)}
}

// limit returns the number of restarts t allows within its window.
func (t *restartCounter) limit() int { return t.allowed }

// window returns the length of t's sliding window.
func (t *restartCounter) window() time.Duration { return t.span }

// allow reports whether one more restart is allowed at now, that is whether
// Used(now) is below the limit. allow records nothing; call [restartCounter.record]
// when the restart happens.
func (t *restartCounter) allow(now time.Time) bool {
	t.advance(now)
	return t.n < t.allowed
}

// record records a restart at now. Once the tracker holds limit restarts
// still in the window, record replaces the oldest: only the newest limit ones
// can decide [restartCounter.allow]. record sets the snapshot's UpdatedAt to
// now, or to one nanosecond past the previous UpdatedAt when now is not
// later. record does not allocate once the buffer has grown to its final
// size.
func (t *restartCounter) record(now time.Time) {
	now, off := t.advance(now)
	if t.stamped && !now.After(t.updated) {
		t.updated = t.updated.Add(time.Nanosecond)
	} else {
		t.updated = now
	}
	t.stamped = true
	if t.allowed == 0 || t.span == 0 {
		return // such a restart never counts
	}
	if t.n == len(t.ring) {
		if len(t.ring) == t.allowed {
			// Full: the oldest entry can no longer matter.
			t.ring[t.head] = off
			t.head = t.wrap(t.head + 1)
			return
		}
		t.grow()
	}
	t.ring[t.wrap(t.head+t.n)] = off
	t.n++
}

// used returns the number of restarts that count at now, never more than the
// limit.
func (t *restartCounter) used(now time.Time) int {
	t.advance(now)
	return t.n
}

// state returns a snapshot of t at now.
func (t *restartCounter) state(now time.Time) RestartLimit {
	t.advance(now)
	return RestartLimit{
		Window:    t.span,
		Limit:     t.allowed,
		Used:      t.n,
		Remaining: t.allowed - t.n,
		Exhausted: t.n >= t.allowed,
		UpdatedAt: t.updated,
	}
}

// reset forgets every restart; the limit, the window and the latest time
// seen stay. reset takes no time, so the snapshot's UpdatedAt moves on by one
// nanosecond (it stays zero when no Record has set it yet) to keep it
// strictly increasing across updates.
func (t *restartCounter) reset() {
	t.head, t.n = 0, 0
	if t.stamped {
		t.updated = t.updated.Add(time.Nanosecond)
	}
}

// advance clamps now to the latest time seen, drops the restarts that have
// left the window, and returns the clamped now and its offset from base.
// Each entry is dropped once, so advance is amortized O(1).
func (t *restartCounter) advance(now time.Time) (time.Time, int64) {
	if !t.based {
		t.base, t.last, t.lastOff, t.based = now, now, 0, true
	}
	off := int64(now.Sub(t.base))
	if off == math.MaxInt64 {
		// Sub saturated: now is about 292 years past base.
		t.rebase(now)
		off = 0
	}
	if off < t.lastOff {
		now, off = t.last, t.lastOff
	} else {
		t.last, t.lastOff = now, off
	}
	for t.n > 0 && uint64(off)-uint64(t.ring[t.head]) >= uint64(t.span) {
		t.head = t.wrap(t.head + 1)
		t.n--
	}
	return now, off
}

// rebase moves base to now, which lies too far past base for an offset,
// and restates the restarts from the new base. It is the slow path of
// advance, reached at most once every 292 years of the caller's clock.
// advance then drops the restarts that have left the window, as it does on
// every call: an age too large for a Duration saturates at math.MaxInt64,
// which no window exceeds.
func (t *restartCounter) rebase(now time.Time) {
	for i := range t.n {
		j := t.wrap(t.head + i)
		t.ring[j] = -int64(now.Sub(t.base.Add(time.Duration(t.ring[j]))))
	}
	t.base, t.last, t.lastOff = now, now, 0
}

// wrap maps i in [0, 2*len(t.ring)) onto the ring; it avoids a division on
// the hot path.
func (t *restartCounter) wrap(i int) int {
	if i >= len(t.ring) {
		i -= len(t.ring)
	}
	return i
}

// grow doubles the ring, up to the limit, and moves the entries to its start.
// It requires t.n == len(t.ring) < t.limit.
func (t *restartCounter) grow() {
	size := min(max(8, 2*len(t.ring)), t.allowed)
	ring := make([]int64, size)
	copied := copy(ring, t.ring[t.head:])
	copy(ring[copied:], t.ring[:t.head])
	t.ring, t.head = ring, 0
}

// RestartLimit is a snapshot of a [restartCounter], returned by copy; any
// goroutine may read it. Its JSON form encodes Window as integer
// milliseconds in "window_ms" and every other field by its tag:
//
//	{"window_ms": 60000, "limit": 10, "used": 2, "remaining": 8, "exhausted": false, "updated_at": "..."}
type RestartLimit struct {
	// Window is the length of the sliding window; JSON "window_ms" holds it
	// in whole milliseconds.
	Window time.Duration `json:"-"`
	// Limit is the number of restarts allowed within Window.
	Limit int `json:"limit"`
	// Used is the number of restarts that count, never more than Limit.
	Used int `json:"used"`
	// Remaining is Limit - Used.
	Remaining int `json:"remaining"`
	// Exhausted is exactly Used >= Limit; exactly then no further restart is
	// allowed.
	Exhausted bool `json:"exhausted"`
	// UpdatedAt is when the tracker last recorded a restart or was reset;
	// it is zero before the first Record and strictly increases across
	// updates.
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// restartLimitFields has RestartLimit's fields and tags but not its methods,
// so the JSON methods can embed it without recursing.
type restartLimitFields RestartLimit

// MarshalJSON encodes l with Window as "window_ms", in whole milliseconds
// (a remainder below one millisecond is dropped).
func (l RestartLimit) MarshalJSON() ([]byte, error) {
	return json.Marshal(struct {
		WindowMS int64 `json:"window_ms"`
		restartLimitFields
	}{l.Window.Milliseconds(), restartLimitFields(l)})
}

// UnmarshalJSON decodes the form [RestartLimit.MarshalJSON] writes. A
// "window_ms" too large for a [time.Duration] is an error.
func (l *RestartLimit) UnmarshalJSON(data []byte) error {
	aux := struct {
		WindowMS int64 `json:"window_ms"`
		restartLimitFields
	}{l.Window.Milliseconds(), restartLimitFields(*l)}
	if err := json.Unmarshal(data, &aux); err != nil {
		return err
	}
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	if aux.WindowMS > maxMS || aux.WindowMS < -maxMS {
		return fmt.Errorf("supervisor: RestartLimit window_ms %d out of range", aux.WindowMS)
	}
	*l = RestartLimit(aux.restartLimitFields)
	l.Window = time.Duration(aux.WindowMS) * time.Millisecond
	return nil
}

// Backoff configures the delay before each automatic restart. Zero fields
// mean the defaults given beside them: 100 ms doubling to 30 s, with ±20 %
// jitter, reset after an attempt that ran for the restart window. NoJitter
// makes the delays exact and NoDelay removes them. A Backoff is a plain
// value that any goroutine may copy and use.
type Backoff struct {
	// Initial is the first delay; zero means 100 ms.
	Initial time.Duration
	// Max caps every delay before jitter; zero means 30 s.
	Max time.Duration
	// Multiplier is the growth from one delay to the next; zero means 2,
	// otherwise it must be at least 1.
	Multiplier float64
	// Jitter is the fraction by which each delay varies: a delay d is drawn
	// uniformly from [d*(1-Jitter), d*(1+Jitter)]. Zero means 0.2; otherwise
	// it must be in [0, 1).
	Jitter float64
	// ResetAfter is how long an attempt must run for the next delay to be
	// Initial again; zero means the slot's RestartWindow, or 60 s for a
	// Backoff used on its own.
	ResetAfter time.Duration
	// NoJitter makes every delay exact, for deterministic behaviour.
	NoJitter bool
	// NoDelay makes every delay zero: restarts happen at once.
	NoDelay bool
}

// Backoff defaults.
const (
	defaultBackoffInitial    = 100 * time.Millisecond
	defaultBackoffMax        = 30 * time.Second
	defaultBackoffMultiplier = 2
	defaultBackoffJitter     = 0.2
	defaultBackoffResetAfter = 60 * time.Second
)

// Delay returns the delay before restart n (0-based) without jitter:
// min(Initial*Multiplier^n, Max) with the defaults applied, or 0 when NoDelay
// is set. A negative n is treated as 0; a huge n gives Max, never an
// overflow or a negative delay.
func (b Backoff) Delay(n int) time.Duration {
	return b.withDefaults(defaultBackoffResetAfter).delay(n)
}

// delay is Delay for a Backoff that already has its defaults.
func (b Backoff) delay(n int) time.Duration {
	if b.NoDelay {
		return 0
	}
	n = max(n, 0)
	d := float64(b.Initial) * math.Pow(b.Multiplier, float64(n))
	if !(d < float64(b.Max)) { // also NaN and +Inf
		return max(b.Max, 0)
	}
	return time.Duration(max(d, 0)) // d < 0 only from a Backoff that fails validate
}

// sequence returns a new sequence of b's delays, with a jitter source of its
// own so that no two sequences draw the same jitter.
func (b Backoff) sequence() *backoffSequence {
	s := new(backoffSequence)
	s.init(b.withDefaults(defaultBackoffResetAfter))
	return s
}

// validate returns nil, or an error wrapping ErrInvalidConfig that names the
// first field b cannot use.
func (b Backoff) validate() error {
	switch {
	case b.Initial < 0:
		return fmt.Errorf("%w: Backoff.Initial %v is negative", ErrInvalidConfig, b.Initial)
	case b.Max < 0:
		return fmt.Errorf("%w: Backoff.Max %v is negative", ErrInvalidConfig, b.Max)
	case b.ResetAfter < 0:
		return fmt.Errorf("%w: Backoff.ResetAfter %v is negative", ErrInvalidConfig, b.ResetAfter)
	case b.Multiplier != 0 && (b.Multiplier < 1 || math.IsNaN(b.Multiplier) || math.IsInf(b.Multiplier, 0)):
		return fmt.Errorf("%w: Backoff.Multiplier %v must be finite and at least 1", ErrInvalidConfig, b.Multiplier)
	case b.Jitter < 0 || b.Jitter >= 1 || math.IsNaN(b.Jitter):
		return fmt.Errorf("%w: Backoff.Jitter %v must be in [0, 1)", ErrInvalidConfig, b.Jitter)
	case b.Max != 0 && b.Initial != 0 && b.Max < b.Initial:
		return fmt.Errorf("%w: Backoff.Max %v is less than Backoff.Initial %v", ErrInvalidConfig, b.Max, b.Initial)
	}
	return nil
}

// withDefaults returns b with every zero field set to its default;
// resetAfter is the default of ResetAfter (60 s when it is not positive).
func (b Backoff) withDefaults(resetAfter time.Duration) Backoff {
	if b.Initial == 0 {
		b.Initial = defaultBackoffInitial
	}
	if b.Max == 0 {
		b.Max = defaultBackoffMax
	}
	if b.Multiplier == 0 {
		b.Multiplier = defaultBackoffMultiplier
	}
	if b.Jitter == 0 {
		b.Jitter = defaultBackoffJitter
	}
	if b.ResetAfter == 0 {
		b.ResetAfter = resetAfter
		if resetAfter <= 0 {
			b.ResetAfter = defaultBackoffResetAfter
		}
	}
	return b
}

// backoffSequence draws the delays of a [Backoff] one restart after another,
// with jitter from a source of its own. A backoffSequence belongs to one
// goroutine, usually the control loop's; its methods are not safe for
// concurrent use. A zero backoffSequence is valid and behaves like
// Backoff{}.Sequence(). Get one from [Backoff.sequence].
type backoffSequence struct {
	b     Backoff  // with defaults applied
	n     int      // delays drawn since the last reset
	rng   rand.PCG // by value: a draw neither allocates nor locks
	ready bool     // init has run
}

// init prepares s to draw b's delays; b already has its defaults. init seeds
// s's own jitter source, so a slot can hold a backoff sequence by value.
func (s *backoffSequence) init(b Backoff) {
	s.b = b
	s.n = 0
	// Two draws from the runtime's random source: sequences do not share a
	// seed, so children restarted together spread their restarts out.
	s.rng.Seed(rand.Uint64(), rand.Uint64())
	s.ready = true
}

// next returns the delay before the next restart, with jitter unless
// NoJitter is set, and advances the sequence.
func (s *backoffSequence) next() time.Duration {
	if !s.ready {
		s.init(Backoff{}.withDefaults(defaultBackoffResetAfter))
	}
	d := s.b.delay(s.n)
	if s.n < math.MaxInt {
		s.n++
	}
	if s.b.NoJitter || d == 0 || !(s.b.Jitter > 0) {
		return d
	}
	// u is uniform in [0, 1): the top 53 bits of a draw.
	u := float64(s.rng.Uint64()>>11) / (1 << 53)
	j := float64(d) * (1 - s.b.Jitter + 2*s.b.Jitter*u)
	if !(j < math.MaxInt64) {
		return math.MaxInt64
	}
	return max(time.Duration(j), 0)
}

// reset sets s back to its first delay.
func (s *backoffSequence) reset() { s.n = 0 }

// ran tells s that an attempt ran for d; an attempt that ran at least
// ResetAfter resets the sequence.
func (s *backoffSequence) ran(d time.Duration) {
	if !s.ready {
		s.init(Backoff{}.withDefaults(defaultBackoffResetAfter))
	}
	if d >= s.b.ResetAfter {
		s.reset()
	}
}

// attempts returns the number of delays s has drawn since it was created or
// last reset.
func (s *backoffSequence) attempts() int { return s.n }
