package supervisor

import (
	"encoding/json"
	"fmt"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/enum"
)

// t0 is the tests' fixed origin: a wall time without a monotonic reading, so
// that snapshots compare with assert.Equal after a JSON round trip.
var t0 = time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)

type trackerOp uint8

const (
	opCheck trackerOp = iota // only check Used and Allow
	opRecord
	opReset
)

func TestRestartTrackerSteps(t *testing.T) {
	type step struct {
		at    time.Duration // since t0
		op    trackerOp
		used  int  // Used(at) after op
		allow bool // Allow(at) after op
	}
	tests := []struct {
		name   string
		limit  int
		window time.Duration
		steps  []step
	}{
		{
			name: "window edges", limit: 3, window: 10 * time.Second,
			steps: []step{
				{at: 0, op: opRecord, used: 1, allow: true},
				{at: 10*time.Second - time.Nanosecond, used: 1, allow: true}, // 1ns younger than window: counts
				{at: 10 * time.Second, used: 0, allow: true},                 // exactly window old: gone
			},
		},
		{
			name: "exhausted exactly at limit", limit: 2, window: time.Minute,
			steps: []step{
				{at: 0, used: 0, allow: true},
				{at: 0, op: opRecord, used: 1, allow: true},
				{at: time.Second, op: opRecord, used: 2, allow: false},
				{at: time.Minute - time.Nanosecond, used: 2, allow: false},
				{at: time.Minute, used: 1, allow: true},
				{at: time.Minute, op: opRecord, used: 2, allow: false},
				{at: time.Minute + time.Second, used: 1, allow: true},
			},
		},
		{
			name: "more records than limit keep the newest", limit: 2, window: 10 * time.Second,
			steps: []step{
				{at: 0, op: opRecord, used: 1, allow: true},
				{at: 1 * time.Second, op: opRecord, used: 2, allow: false},
				{at: 2 * time.Second, op: opRecord, used: 2, allow: false},
				{at: 3 * time.Second, op: opRecord, used: 2, allow: false},
				{at: 4 * time.Second, op: opRecord, used: 2, allow: false},
				{at: 11 * time.Second, used: 2, allow: false}, // 2s, 3s and 4s are in the window; 2 is the limit
				{at: 13*time.Second - time.Nanosecond, used: 2, allow: false},
				{at: 13 * time.Second, used: 1, allow: true},
				{at: 14 * time.Second, used: 0, allow: true},
			},
		},
		{
			name: "limit 0 allows nothing", limit: 0, window: time.Minute,
			steps: []step{
				{at: 0, used: 0, allow: false},
				{at: 0, op: opRecord, used: 0, allow: false},
				{at: time.Hour, used: 0, allow: false},
			},
		},
		{
			name: "window 0 counts nothing", limit: 3, window: 0,
			steps: []step{
				{at: 0, op: opRecord, used: 0, allow: true},
				{at: 0, op: opRecord, used: 0, allow: true},
				{at: 0, op: opRecord, used: 0, allow: true},
				{at: 0, op: opRecord, used: 0, allow: true},
			},
		},
		{
			name: "negative limit and window are 0", limit: -5, window: -time.Second,
			steps: []step{
				{at: 0, used: 0, allow: false},
				{at: 0, op: opRecord, used: 0, allow: false},
			},
		},
		{
			name: "backwards now is clamped", limit: 5, window: 10 * time.Second,
			steps: []step{
				{at: 5 * time.Second, op: opRecord, used: 1, allow: true},
				{at: 2 * time.Second, op: opRecord, used: 2, allow: true}, // recorded at 5s
				{at: -time.Hour, used: 2, allow: true},                    // read at 5s
				{at: 15*time.Second - time.Nanosecond, used: 2, allow: true},
				{at: 3 * time.Second, used: 2, allow: true}, // clamped to 15s-1ns, not back to 3s
				{at: 15 * time.Second, used: 0, allow: true},
				{at: 0, op: opRecord, used: 1, allow: true}, // recorded at 15s
				{at: 25*time.Second - time.Nanosecond, used: 1, allow: true},
				{at: 25 * time.Second, used: 0, allow: true},
			},
		},
		{
			name: "reset forgets every restart", limit: 2, window: time.Minute,
			steps: []step{
				{at: 0, op: opRecord, used: 1, allow: true},
				{at: time.Second, op: opRecord, used: 2, allow: false},
				{at: time.Second, op: opReset, used: 0, allow: true},
				{at: 2 * time.Second, op: opRecord, used: 1, allow: true},
				{at: time.Minute + time.Second, used: 1, allow: true},
				{at: time.Minute + 2*time.Second, used: 0, allow: true},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRestartCounter(tt.limit, tt.window)
			require.Equal(t, max(tt.limit, 0), tr.limit())
			require.Equal(t, max(tt.window, 0), tr.window())
			for i, s := range tt.steps {
				now := t0.Add(s.at)
				switch s.op {
				case opRecord:
					tr.record(now)
				case opReset:
					tr.reset()
				}
				assert.Equal(t, s.used, tr.used(now), "step %d: Used", i)
				assert.Equal(t, s.allow, tr.allow(now), "step %d: Allow", i)
				st := tr.state(now)
				assert.Equal(t, s.used, st.Used, "step %d: State.Used", i)
				assert.Equal(t, tr.limit()-s.used, st.Remaining, "step %d: State.Remaining", i)
				assert.Equal(t, !s.allow, st.Exhausted, "step %d: State.Exhausted", i)
				assert.Equal(t, st.Used >= st.Limit, st.Exhausted, "step %d: Exhausted is Used >= Limit", i)
			}
		})
	}
}

func TestRestartTrackerZeroValue(t *testing.T) {
	var tr restartCounter
	assert.False(t, tr.allow(t0))
	tr.record(t0)
	tr.reset()
	assert.Equal(t, 0, tr.used(t0))
	assert.Equal(t, RestartLimit{Exhausted: true, UpdatedAt: t0.Add(time.Nanosecond)}, tr.state(t0))
}

func TestRestartTrackerFarFuture(t *testing.T) {
	// Offsets from the first now outgrow a Duration after 292 years; the
	// tracker moves its origin and keeps counting.
	const century = 100 * 365 * 24 * time.Hour
	maxWindow := time.Duration(math.MaxInt64)
	tr := newRestartCounter(3, maxWindow)
	tr.record(t0)
	mid := t0.Add(2 * century)
	tr.record(mid)
	require.Equal(t, 2, tr.used(mid))

	now := mid.Add(2 * century) // 400 years after t0
	tr.record(now)
	assert.Equal(t, 2, tr.used(now), "t0 left the window, mid and now count")
	assert.Equal(t, 2, tr.used(t0), "a now before the origin is clamped")
	assert.Equal(t, 2, tr.used(mid.Add(maxWindow-1)))
	assert.Equal(t, 1, tr.used(mid.Add(maxWindow)), "mid is exactly a window old")
	assert.Equal(t, 1, tr.used(now.Add(maxWindow-1)))
	assert.Equal(t, 0, tr.used(now.Add(maxWindow)))
}

func TestRestartTrackerMemoryBounded(t *testing.T) {
	tests := []struct {
		name    string
		limit   int
		window  time.Duration
		records int
		step    time.Duration
		used    int
	}{
		{name: "nothing expires", limit: 100, window: time.Hour, records: 1_000_000, step: time.Microsecond, used: 100},
		{name: "entries expire", limit: 1000, window: time.Millisecond, records: 1_000_000, step: time.Microsecond, used: 1000},
		{name: "limit above rate", limit: 10_000, window: time.Millisecond, records: 1_000_000, step: time.Microsecond, used: 1000},
		{name: "huge limit grows on demand", limit: math.MaxInt, window: time.Hour, records: 10, step: time.Second, used: 10},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := newRestartCounter(tt.limit, tt.window)
			now := t0
			for range tt.records {
				now = now.Add(tt.step)
				tr.record(now)
			}
			assert.Equal(t, tt.used, tr.used(now))
			assert.LessOrEqual(t, cap(tr.ring), tt.limit)
			assert.LessOrEqual(t, cap(tr.ring), 2*max(tt.used, 8), "the ring grows only as restarts arrive")
		})
	}
}

func TestRestartTrackerNoAllocs(t *testing.T) {
	const limit, window = 64, time.Minute
	tr := newRestartCounter(limit, window)
	now := t0
	for range 2 * limit {
		now = now.Add(time.Second)
		tr.record(now)
	}
	allocs := testing.AllocsPerRun(1000, func() {
		now = now.Add(window / limit)
		if tr.allow(now) {
			tr.record(now)
		}
		tr.record(now)
	})
	assert.Zero(t, allocs)
}

func TestRestartTrackerUpdatedAt(t *testing.T) {
	tests := []struct {
		name string
		at   time.Duration // since t0; ignored by reset
		op   trackerOp
		want time.Duration // UpdatedAt since t0
	}{
		{name: "first record", at: 0, op: opRecord, want: 0},
		{name: "record at the same time", at: 0, op: opRecord, want: 1},
		{name: "record at the same time again", at: 0, op: opRecord, want: 2},
		{name: "record earlier (clamped)", at: -time.Second, op: opRecord, want: 3},
		{name: "reset takes no time", op: opReset, want: 4},
		{name: "record later than now but not than UpdatedAt", at: 2, op: opRecord, want: 5},
		{name: "record later", at: time.Second, op: opRecord, want: time.Second},
		{name: "reset", op: opReset, want: time.Second + 1},
		{name: "reset again", op: opReset, want: time.Second + 2},
	}
	tr := newRestartCounter(3, time.Minute)
	var prev time.Time
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			switch tt.op {
			case opRecord:
				tr.record(t0.Add(tt.at))
			case opReset:
				tr.reset()
			}
			got := tr.state(t0).UpdatedAt
			assert.Equal(t, t0.Add(tt.want), got)
			assert.True(t, got.After(prev), "UpdatedAt %v not after %v", got, prev)
			prev = got
		})
	}

	t.Run("reset before any record stays zero", func(t *testing.T) {
		tr := newRestartCounter(3, time.Minute)
		tr.reset()
		assert.True(t, tr.state(t0).UpdatedAt.IsZero())
	})
}

func TestRestartLimitJSON(t *testing.T) {
	tests := []struct {
		name  string
		limit RestartLimit
		json  string
	}{
		{
			name:  "in use",
			limit: RestartLimit{Window: time.Minute, Limit: 10, Used: 2, Remaining: 8, UpdatedAt: t0},
			json:  `{"window_ms":60000,"limit":10,"used":2,"remaining":8,"exhausted":false,"updated_at":"2026-11-25T10:00:00Z"}`,
		},
		{
			name:  "exhausted",
			limit: RestartLimit{Window: 1500 * time.Millisecond, Limit: 1, Used: 1, Exhausted: true, UpdatedAt: t0.Add(time.Nanosecond)},
			json:  `{"window_ms":1500,"limit":1,"used":1,"remaining":0,"exhausted":true,"updated_at":"2026-11-25T10:00:00.000000001Z"}`,
		},
		{
			name:  "zero UpdatedAt is left out",
			limit: RestartLimit{Window: time.Hour, Limit: 3, Remaining: 3},
			json:  `{"window_ms":3600000,"limit":3,"used":0,"remaining":3,"exhausted":false}`,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(tt.limit)
			require.NoError(t, err)
			assert.JSONEq(t, tt.json, string(data))

			var got RestartLimit
			require.NoError(t, json.Unmarshal(data, &got))
			assert.Equal(t, tt.limit, got)

			// Inside another struct, as in Record.
			type outer struct {
				L RestartLimit `json:"restart_limit"`
			}
			data, err = json.Marshal(outer{tt.limit})
			require.NoError(t, err)
			var o outer
			require.NoError(t, json.Unmarshal(data, &o))
			assert.Equal(t, tt.limit, o.L)
		})
	}

	t.Run("from a tracker", func(t *testing.T) {
		tr := newRestartCounter(10, time.Minute)
		tr.record(t0)
		tr.record(t0.Add(time.Second))
		data, err := json.Marshal(tr.state(t0.Add(time.Second)))
		require.NoError(t, err)
		var fields map[string]any
		require.NoError(t, json.Unmarshal(data, &fields))
		assert.Equal(t, map[string]any{
			"window_ms": 60000.0, "limit": 10.0, "used": 2.0, "remaining": 8.0,
			"exhausted": false, "updated_at": "2026-11-25T10:00:01Z",
		}, fields)
	})

	t.Run("invalid", func(t *testing.T) {
		for _, data := range []string{
			`{"window_ms":9223372036854775807}`,
			`{"window_ms":-9223372036854775807}`,
			`{"limit":"ten"}`,
			`[]`,
		} {
			got := RestartLimit{Limit: 7}
			assert.Error(t, json.Unmarshal([]byte(data), &got), data)
		}
	})
}

func TestBackoffSequenceNoJitter(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		want []time.Duration
	}{
		{
			name: "defaults",
			b:    Backoff{NoJitter: true},
			want: []time.Duration{
				100 * time.Millisecond, 200 * time.Millisecond, 400 * time.Millisecond, 800 * time.Millisecond,
				1600 * time.Millisecond, 3200 * time.Millisecond, 6400 * time.Millisecond, 12800 * time.Millisecond,
				25600 * time.Millisecond, 30 * time.Second, 30 * time.Second,
			},
		},
		{
			name: "custom",
			b:    Backoff{Initial: time.Second, Max: 10 * time.Second, Multiplier: 3, NoJitter: true},
			want: []time.Duration{time.Second, 3 * time.Second, 9 * time.Second, 10 * time.Second, 10 * time.Second},
		},
		{
			name: "multiplier 1",
			b:    Backoff{Initial: time.Second, Multiplier: 1, NoJitter: true},
			want: []time.Duration{time.Second, time.Second, time.Second},
		},
		{
			name: "no delay",
			b:    Backoff{NoDelay: true},
			want: []time.Duration{0, 0, 0, 0},
		},
		{
			name: "no delay without jitter",
			b:    Backoff{NoDelay: true, NoJitter: true, Initial: time.Second},
			want: []time.Duration{0, 0},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			s := tt.b.sequence()
			for i, want := range tt.want {
				assert.Equal(t, want, tt.b.Delay(i), "Delay(%d)", i)
				assert.Equal(t, want, s.next(), "Next #%d", i)
			}
			assert.Equal(t, len(tt.want), s.attempts())
		})
	}
}

func TestBackoffDelay(t *testing.T) {
	tests := []struct {
		name string
		b    Backoff
		n    int
		want time.Duration
	}{
		{name: "first", n: 0, want: 100 * time.Millisecond},
		{name: "negative n", n: -3, want: 100 * time.Millisecond},
		{name: "min int", n: math.MinInt, want: 100 * time.Millisecond},
		{name: "huge n", n: 1_000_000, want: 30 * time.Second},
		{name: "max int", n: math.MaxInt, want: 30 * time.Second},
		{name: "huge n and max", b: Backoff{Initial: time.Hour, Max: math.MaxInt64, Multiplier: 10}, n: 1000, want: math.MaxInt64},
		{name: "max int initial", b: Backoff{Initial: math.MaxInt64, Max: math.MaxInt64}, n: 5, want: math.MaxInt64},
		{name: "max below default initial", b: Backoff{Max: 50 * time.Millisecond}, n: 0, want: 50 * time.Millisecond},
		{name: "no delay", b: Backoff{NoDelay: true}, n: 3, want: 0},
		{name: "negative initial is never negative", b: Backoff{Initial: -time.Second}, n: 2, want: 0},
		{name: "negative max is never negative", b: Backoff{Max: -time.Second}, n: 2, want: 0},
		{name: "NaN multiplier", b: Backoff{Multiplier: math.NaN()}, n: 2, want: 30 * time.Second},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.b.Delay(tt.n))
		})
	}
}

func TestBackoffSequenceJitter(t *testing.T) {
	s := Backoff{}.sequence()
	var below, above int
	for i := range 10_000 {
		if i%12 == 0 {
			s.reset()
		}
		n := s.attempts()
		exact := Backoff{}.Delay(n)
		d := s.next()
		lo, hi := time.Duration(float64(exact)*0.8), time.Duration(float64(exact)*1.2)
		require.True(t, d >= lo && d <= hi, "draw %d (n=%d): %v outside [%v, %v]", i, n, d, lo, hi)
		switch {
		case d < exact:
			below++
		case d > exact:
			above++
		}
	}
	// Uniform on ±20 %: about half on each side.
	assert.Greater(t, below, 4000)
	assert.Greater(t, above, 4000)

	t.Run("zero sequence uses the defaults", func(t *testing.T) {
		var s backoffSequence
		d := s.next()
		assert.True(t, d >= 80*time.Millisecond && d <= 120*time.Millisecond, "%v", d)
		assert.Equal(t, 1, s.attempts())
		s.ran(time.Minute - 1)
		assert.Equal(t, 1, s.attempts())
		s.ran(time.Minute)
		assert.Equal(t, 0, s.attempts())

		var r backoffSequence
		r.ran(time.Hour)
		assert.Equal(t, 0, r.attempts())
	})

	t.Run("largest delay does not overflow", func(t *testing.T) {
		s := Backoff{Initial: math.MaxInt64, Max: math.MaxInt64}.sequence()
		for range 1000 {
			d := s.next()
			require.GreaterOrEqual(t, d, time.Duration(float64(math.MaxInt64)*0.8))
		}
	})

	t.Run("two sequences draw different jitter", func(t *testing.T) {
		a, b := Backoff{}.sequence(), Backoff{}.sequence()
		var da, db []time.Duration
		for range 8 {
			da = append(da, a.next())
			db = append(db, b.next())
		}
		assert.NotEqual(t, da, db)
	})

	t.Run("two embedded sequences draw different jitter", func(t *testing.T) {
		var a, b backoffSequence
		a.init(Backoff{}.withDefaults(time.Minute))
		b.init(Backoff{}.withDefaults(time.Minute))
		assert.NotEqual(t, a.rng, b.rng)
	})

	t.Run("no allocation per draw", func(t *testing.T) {
		s := Backoff{}.sequence()
		assert.Zero(t, testing.AllocsPerRun(1000, func() { _ = s.next() }))
	})
}

func TestBackoffSequenceRan(t *testing.T) {
	tests := []struct {
		name       string
		b          Backoff
		resetAfter time.Duration // the slot's default, passed to withDefaults
		ran        time.Duration
		reset      bool
	}{
		{name: "default: just below 60s", ran: time.Minute - time.Nanosecond, reset: false},
		{name: "default: exactly 60s", ran: time.Minute, reset: true},
		{name: "default: longer", ran: time.Hour, reset: true},
		{name: "custom: below", b: Backoff{ResetAfter: 5 * time.Second}, ran: 5*time.Second - 1, reset: false},
		{name: "custom: at", b: Backoff{ResetAfter: 5 * time.Second}, ran: 5 * time.Second, reset: true},
		{name: "slot window: below", resetAfter: 10 * time.Second, ran: 10*time.Second - 1, reset: false},
		{name: "slot window: at", resetAfter: 10 * time.Second, ran: 10 * time.Second, reset: true},
		{name: "own field wins over slot window", b: Backoff{ResetAfter: time.Second}, resetAfter: time.Hour, ran: time.Second, reset: true},
		{name: "no run", ran: 0, reset: false},
		{name: "negative run", ran: -time.Hour, reset: false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := tt.b
			b.NoJitter = true
			var s backoffSequence
			s.init(b.withDefaults(tt.resetAfter))
			for range 3 {
				s.next()
			}
			require.Equal(t, 3, s.attempts())
			s.ran(tt.ran)
			if tt.reset {
				assert.Equal(t, 0, s.attempts())
				assert.Equal(t, 100*time.Millisecond, s.next())
			} else {
				assert.Equal(t, 3, s.attempts())
				assert.Equal(t, 800*time.Millisecond, s.next())
			}
		})
	}
}

func TestBackoffWithDefaults(t *testing.T) {
	tests := []struct {
		name       string
		b          Backoff
		resetAfter time.Duration
		want       Backoff
	}{
		{
			name: "all zero", resetAfter: 10 * time.Second,
			want: Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2, ResetAfter: 10 * time.Second},
		},
		{
			name: "non-positive reset default is 60s",
			want: Backoff{Initial: 100 * time.Millisecond, Max: 30 * time.Second, Multiplier: 2, Jitter: 0.2, ResetAfter: time.Minute},
		},
		{
			name:       "set fields stay",
			b:          Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, Jitter: 0.1, ResetAfter: time.Hour, NoJitter: true, NoDelay: true},
			resetAfter: 10 * time.Second,
			want:       Backoff{Initial: time.Second, Max: time.Minute, Multiplier: 1.5, Jitter: 0.1, ResetAfter: time.Hour, NoJitter: true, NoDelay: true},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.b.withDefaults(tt.resetAfter))
		})
	}
}

func TestBackoffValidate(t *testing.T) {
	tests := []struct {
		name  string
		b     Backoff
		field string // empty when valid
	}{
		{name: "zero"},
		{name: "multiplier 1", b: Backoff{Multiplier: 1}},
		{name: "jitter just below 1", b: Backoff{Jitter: 0.999}},
		{name: "max equals initial", b: Backoff{Initial: time.Second, Max: time.Second}},
		{name: "max below the default initial", b: Backoff{Max: time.Millisecond}},
		{name: "switches", b: Backoff{NoJitter: true, NoDelay: true}},
		{name: "negative initial", b: Backoff{Initial: -1}, field: "Backoff.Initial"},
		{name: "negative max", b: Backoff{Max: -1}, field: "Backoff.Max"},
		{name: "negative reset after", b: Backoff{ResetAfter: -1}, field: "Backoff.ResetAfter"},
		{name: "multiplier below 1", b: Backoff{Multiplier: 0.5}, field: "Backoff.Multiplier"},
		{name: "negative multiplier", b: Backoff{Multiplier: -2}, field: "Backoff.Multiplier"},
		{name: "NaN multiplier", b: Backoff{Multiplier: math.NaN()}, field: "Backoff.Multiplier"},
		{name: "infinite multiplier", b: Backoff{Multiplier: math.Inf(1)}, field: "Backoff.Multiplier"},
		{name: "negative jitter", b: Backoff{Jitter: -0.1}, field: "Backoff.Jitter"},
		{name: "jitter 1", b: Backoff{Jitter: 1}, field: "Backoff.Jitter"},
		{name: "NaN jitter", b: Backoff{Jitter: math.NaN()}, field: "Backoff.Jitter"},
		{name: "max below initial", b: Backoff{Initial: 2 * time.Second, Max: time.Second}, field: "Backoff.Max"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			err := tt.b.validate()
			if tt.field == "" {
				assert.NoError(t, err)
				return
			}
			require.Error(t, err)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.field)
		})
	}
}

func TestRestartTypeText(t *testing.T) {
	var zero RestartType
	assert.Equal(t, Permanent, zero)

	tests := []struct {
		r    RestartType
		name string
	}{
		{Permanent, "permanent"},
		{Transient, "transient"},
		{Temporary, "temporary"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.name, tt.r.String())
			text, err := tt.r.MarshalText()
			require.NoError(t, err)
			assert.Equal(t, tt.name, string(text))
			got := RestartType(99)
			require.NoError(t, got.UnmarshalText(text))
			assert.Equal(t, tt.r, got)

			data, err := json.Marshal(map[string]RestartType{"restart": tt.r})
			require.NoError(t, err)
			assert.JSONEq(t, fmt.Sprintf(`{"restart":%q}`, tt.name), string(data))
		})
	}

	t.Run("unknown names", func(t *testing.T) {
		for _, text := range []string{"", "Permanent", "restart", "permanent ", "RestartType(1)"} {
			r := Temporary
			err := r.UnmarshalText([]byte(text))
			assert.ErrorIs(t, err, enum.ErrUnknown, "%q", text)
			assert.Equal(t, Temporary, r, "%q leaves the value unchanged", text)
		}
	})

	t.Run("out of range", func(t *testing.T) {
		r := RestartType(7)
		assert.Equal(t, "RestartType(7)", r.String())
		_, err := r.MarshalText()
		assert.ErrorIs(t, err, enum.ErrUnknown)
	})
}

// TestRestartCounterSlidingWindow: three restarts a minute; the fourth
// within the minute is refused, and a restart exactly a minute old no
// longer counts.
func TestRestartCounterSlidingWindow(t *testing.T) {
	tracker := newRestartCounter(3, time.Minute)
	start := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	for i := range 3 {
		now := start.Add(time.Duration(i) * time.Second)
		require.True(t, tracker.allow(now), "restart %d", i)
		tracker.record(now)
	}
	third := start.Add(3 * time.Second)
	assert.False(t, tracker.allow(third))
	assert.Equal(t, 3, tracker.used(third))
	later := start.Add(time.Minute)
	st := tracker.state(later)
	assert.True(t, tracker.allow(later))
	assert.Equal(t, 2, st.Used)
	assert.Equal(t, 3, st.Limit)
}

func ExampleBackoff() {
	b := Backoff{NoJitter: true}
	for n := range 10 {
		if n > 0 {
			fmt.Print(" ")
		}
		fmt.Print(b.Delay(n))
	}
	fmt.Println()
	// Output:
	// 100ms 200ms 400ms 800ms 1.6s 3.2s 6.4s 12.8s 25.6s 30s
}

// TestRestartTrackerRecordStampsItsOwnNow: Record sets UpdatedAt to the now it is
// given, as given, even when an earlier call saw the same instant: a caller
// that records in its own time zone reads its restart back in that zone.
func TestRestartTrackerRecordStampsItsOwnNow(t *testing.T) {
	tr := newRestartCounter(3, time.Minute)
	require.True(t, tr.allow(t0))
	zoned := t0.In(time.FixedZone("UTC+2", 2*60*60))
	tr.record(zoned)
	got := tr.state(zoned).UpdatedAt
	assert.True(t, got.Equal(t0))
	assert.Equal(t, zoned.Location(), got.Location(), "UpdatedAt is the Record's own now")
}

// TestRestartTrackerRebaseKeepsRecentRestarts: when the clock runs so far past
// the tracker's first use that offsets outgrow a Duration (292 years), the
// restarts still inside the window keep counting.
func TestRestartTrackerRebaseKeepsRecentRestarts(t *testing.T) {
	tr := newRestartCounter(3, time.Hour)
	require.Equal(t, 0, tr.used(t0)) // the tracker's origin
	edge := t0.Add(math.MaxInt64)    // the last offset from t0 a Duration holds
	tr.record(edge.Add(-30 * time.Minute))
	tr.record(edge.Add(-time.Minute))
	late := edge.Add(10 * time.Minute)
	assert.Equal(t, 2, tr.used(late), "both restarts are less than an hour old")
	assert.Equal(t, 1, tr.used(late.Add(20*time.Minute)), "the first left the window")
	assert.Equal(t, 0, tr.used(late.Add(time.Hour)))
}

// TestRestartLimitWindowRange: UnmarshalJSON accepts every
// window_ms a Duration can hold, down to the most negative one, and refuses
// one past it.
func TestRestartLimitWindowRange(t *testing.T) {
	const maxMS = math.MaxInt64 / int64(time.Millisecond)
	tests := []struct {
		name string
		ms   int64
		ok   bool
	}{
		{name: "largest", ms: maxMS, ok: true},
		{name: "most negative", ms: -maxMS, ok: true},
		{name: "past the largest", ms: maxMS + 1},
		{name: "past the most negative", ms: -maxMS - 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			data, err := json.Marshal(map[string]int64{"window_ms": tt.ms})
			require.NoError(t, err)
			var l RestartLimit
			err = json.Unmarshal(data, &l)
			if !tt.ok {
				assert.Error(t, err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, time.Duration(tt.ms)*time.Millisecond, l.Window)
		})
	}
}

// TestBackoffAttemptsSaturate: a sequence that has drawn as many
// delays as an int counts stays at its largest delay: Attempts never wraps
// and the delay never falls back to Initial.
func TestBackoffAttemptsSaturate(t *testing.T) {
	s := Backoff{NoJitter: true}.sequence()
	s.n = math.MaxInt - 1 // as if it had drawn that many
	for range 3 {
		assert.Equal(t, defaultBackoffMax, s.next())
		assert.Equal(t, math.MaxInt, s.attempts())
	}
}

// TestBackoffJitterAtTopOfRange: a jittered delay that lands
// exactly on the largest Duration's float value is the largest Duration,
// never a wrapped or zero delay. A jitter this small leaves the factor at
// exactly 1.
func TestBackoffJitterAtTopOfRange(t *testing.T) {
	s := Backoff{Initial: math.MaxInt64, Max: math.MaxInt64, Jitter: 1e-20}.sequence()
	for range 100 {
		require.Equal(t, time.Duration(math.MaxInt64), s.next())
	}
}
