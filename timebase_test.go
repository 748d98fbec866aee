package supervisor

import (
	"context"
	"strings"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// coreHasMono reports whether t carries a monotonic clock reading.
func coreHasMono(t time.Time) bool { return strings.Contains(t.String(), " m=") }

// coreStepWallBack returns t with its wall clock reading moved back by secs
// seconds and its monotonic reading kept: what time.Now returns after the
// system clock was stepped back. The standard library cannot build such a
// time, so this edits time.Time's representation (with a monotonic reading,
// the wall seconds since 1885 sit above bit 30 of its first word) and
// reports false when the result does not behave as intended.
func coreStepWallBack(t time.Time, secs uint64) (time.Time, bool) {
	type rep struct {
		wall uint64
		ext  int64
		loc  *time.Location
	}
	if !coreHasMono(t) || unsafe.Sizeof(t) != unsafe.Sizeof(rep{}) {
		return time.Time{}, false
	}
	stepped := t
	(*rep)(unsafe.Pointer(&stepped)).wall -= secs << 30
	back := time.Duration(secs) * time.Second
	ok := coreHasMono(stepped) &&
		stepped.Round(0).Equal(t.Round(0).Add(-back)) && // the wall reading moved
		stepped.Sub(t) == 0 // the monotonic one did not
	return stepped, ok
}

func TestTimeBaseWallIgnoresWallSteps(t *testing.T) {
	anchor := time.Now()
	require.True(t, coreHasMono(anchor), "time.Now carries a monotonic reading")
	b := newTimeBase(anchor)
	wall0 := anchor.Round(0).UTC()

	// The loop's now values: 1s, 2s and 3s after the anchor on the monotonic
	// clock, while the system clock was stepped back an hour before the 2s.
	n1 := anchor.Add(time.Second)
	n2, ok := coreStepWallBack(anchor.Add(2*time.Second), 3600)
	if !ok {
		t.Skip("cannot build a time whose wall clock stepped back on this Go version")
	}
	n3, ok := coreStepWallBack(anchor.Add(3*time.Second), 3600)
	require.True(t, ok)
	require.True(t, n2.Round(0).Before(n1.Round(0)), "the wall readings go backwards")

	walls := []time.Time{b.wall(n1), b.wall(n2), b.wall(n3)}
	assert.Equal(t, []time.Time{wall0.Add(time.Second), wall0.Add(2 * time.Second), wall0.Add(3 * time.Second)}, walls,
		"record times follow the monotonic clock")
	assert.Equal(t, int64(2*time.Second), b.nanos(n2))

	// Without monotonic readings only the wall clock is left: Wall follows
	// it, backwards too. That is why the slot wants time.Now() values.
	assert.Equal(t, wall0.Add(2*time.Second-time.Hour), b.wall(n2.Round(0)))
}

func TestSlotRecordTimesNeverGoBackwards(t *testing.T) {
	s := coreNew(t, func(context.Context, *Attempt) error { return nil }, Config{})
	anchor := s.clock().start().Round(0)
	var last time.Time
	// now values without monotonic readings whose wall clock steps back.
	for i, d := range []time.Duration{10, 5, 12, -30, 12, 40} {
		now := anchor.Add(d * time.Second)
		got := s.Record(now).ObservedAt
		assert.False(t, got.Before(last), "step %d: %v before %v", i, got, last)
		last = got
	}
	assert.Equal(t, s.clock().wall(anchor.Add(40*time.Second)), last)
}

func TestTimeBaseConsistency(t *testing.T) {
	now := time.Now()
	anchors := []struct {
		name   string
		anchor time.Time
	}{
		{"monotonic", now},
		{"wall only", now.Round(0)},
		{"other zone", now.Round(0).In(time.FixedZone("UTC+5", 5*3600))},
	}
	offsets := []time.Duration{-5 * time.Second, 0, 1, 1500 * time.Millisecond, 24 * time.Hour, 100 * 365 * 24 * time.Hour}
	for _, a := range anchors {
		t.Run(a.name, func(t *testing.T) {
			b := newTimeBase(a.anchor)
			assert.Equal(t, a.anchor, b.start())
			wall0 := a.anchor.Round(0).UTC()
			for _, d := range offsets {
				n := int64(d)
				at := b.instant(n)
				assert.Equal(t, coreHasMono(a.anchor), coreHasMono(at), "Instant keeps the anchor's monotonic reading")
				assert.Equal(t, n, b.nanos(at))
				assert.Equal(t, d, b.since(at))
				w := b.wallNanos(n)
				assert.Equal(t, wall0.Add(d), w)
				assert.Equal(t, w, b.wall(at))
				assert.Equal(t, time.UTC, w.Location())
				assert.False(t, coreHasMono(b.wall(at)), "record times carry no monotonic reading")
				assert.Equal(t, w.UnixNano(), b.unix(at))
			}
		})
	}
}

func TestTimeBaseZero(t *testing.T) {
	b := newTimeBase(time.Now())
	assert.True(t, b.wall(time.Time{}).IsZero(), "the zero time stays zero")
	assert.True(t, timeBase{}.wall(time.Time{}).IsZero())
	assert.Equal(t, time.Time{}, timeBase{}.start())
}

func TestTimeBaseNow(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		b := newTimeBase(time.Now())
		assert.Zero(t, b.now())
		time.Sleep(3 * time.Second)
		assert.Equal(t, int64(3*time.Second), b.now())
		assert.Equal(t, b.nanos(time.Now()), b.now())
	})
}
