package supervisor

import (
	"encoding/json"
	"math"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests that kill restart tracker and backoff mutants gremlins found alive
// (see RELIABILITY.md, "Mutation testing").

// TestMutationRecordStampsItsOwnNow: Record sets UpdatedAt to the now it is
// given, as given, even when an earlier call saw the same instant: a caller
// that records in its own time zone reads its restart back in that zone.
func TestMutationRecordStampsItsOwnNow(t *testing.T) {
	tr := NewRestartTracker(3, time.Minute)
	require.True(t, tr.Allow(t0))
	zoned := t0.In(time.FixedZone("UTC+2", 2*60*60))
	tr.Record(zoned)
	got := tr.State(zoned).UpdatedAt
	assert.True(t, got.Equal(t0))
	assert.Equal(t, zoned.Location(), got.Location(), "UpdatedAt is the Record's own now")
}

// TestMutationRebaseKeepsRecentRestarts: when the clock runs so far past
// the tracker's first use that offsets outgrow a Duration (292 years), the
// restarts still inside the window keep counting.
func TestMutationRebaseKeepsRecentRestarts(t *testing.T) {
	tr := NewRestartTracker(3, time.Hour)
	require.Equal(t, 0, tr.Used(t0)) // the tracker's origin
	edge := t0.Add(math.MaxInt64)    // the last offset from t0 a Duration holds
	tr.Record(edge.Add(-30 * time.Minute))
	tr.Record(edge.Add(-time.Minute))
	late := edge.Add(10 * time.Minute)
	assert.Equal(t, 2, tr.Used(late), "both restarts are less than an hour old")
	assert.Equal(t, 1, tr.Used(late.Add(20*time.Minute)), "the first left the window")
	assert.Equal(t, 0, tr.Used(late.Add(time.Hour)))
}

// TestMutationRestartLimitWindowRange: UnmarshalJSON accepts every
// window_ms a Duration can hold, down to the most negative one, and refuses
// one past it.
func TestMutationRestartLimitWindowRange(t *testing.T) {
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

// TestMutationBackoffAttemptsSaturate: a sequence that has drawn as many
// delays as an int counts stays at its largest delay: Attempts never wraps
// and the delay never falls back to Initial.
func TestMutationBackoffAttemptsSaturate(t *testing.T) {
	s := Backoff{NoJitter: true}.Sequence()
	s.n = math.MaxInt - 1 // as if it had drawn that many
	for range 3 {
		assert.Equal(t, defaultBackoffMax, s.Next())
		assert.Equal(t, math.MaxInt, s.Attempts())
	}
}

// TestMutationBackoffJitterAtTopOfRange: a jittered delay that lands
// exactly on the largest Duration's float value is the largest Duration,
// never a wrapped or zero delay. A jitter this small leaves the factor at
// exactly 1.
func TestMutationBackoffJitterAtTopOfRange(t *testing.T) {
	s := Backoff{Initial: math.MaxInt64, Max: math.MaxInt64, Jitter: 1e-20}.Sequence()
	for range 100 {
		require.Equal(t, time.Duration(math.MaxInt64), s.Next())
	}
}
