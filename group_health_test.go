package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestGroupSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{SnapshotInterval: time.Second}, "a", "b")
		assert.Nil(t, g.Snapshot(), "nothing published before the first Advance")
		assert.True(t, g.LastAdvance().IsZero())
		_, ok := g.SinceAdvance(time.Now())
		assert.False(t, ok)
		assert.Equal(t, time.Second, g.Pulse())
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		first := g.Snapshot()
		require.NotNil(t, first)
		assert.Equal(t, GroupRunning, first.State)
		assert.Equal(t, time.Now(), g.LastAdvance())

		looptest.Settle(t, g)
		assert.Same(t, first, g.Snapshot(), "nothing changed: nothing published")
		l.end("a", errGH)
		looptest.Settle(t, g)
		assert.Same(t, first, g.Snapshot(), "within SnapshotInterval the old one stands")
		looptest.Wait(t, g, time.Second)
		next := g.Snapshot()
		assert.NotSame(t, first, next)
		assert.Equal(t, uint64(2), next.Members[0].Slot.Attempt)
		assert.Equal(t, uint64(1), first.Members[0].Slot.Attempt, "a published record never changes")
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = g.Snapshot() }))
		quiet := g.Snapshot()
		looptest.Wait(t, g, g.Pulse())
		assert.NotSame(t, quiet, g.Snapshot(), "republished once a pulse, for what changes without events")
		since, ok := g.SinceAdvance(time.Now())
		require.True(t, ok)
		assert.Zero(t, since)
		time.Sleep(2500 * time.Millisecond) // nobody advances
		since, _ = g.SinceAdvance(time.Now())
		assert.Equal(t, 2500*time.Millisecond, since)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.Equal(t, GroupStopped, g.Snapshot().State, "the final state is always published")
	})
}

// TestGroupNoSnapshots: with snapshots off the loop publishes nothing,
// not even the final state, and an idle tree is not kept busy by a
// publication it never makes; a SnapshotInterval below NoSnapshots is
// refused.
func TestGroupNoSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{SnapshotInterval: NoSnapshots}, "a", "b")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Nil(t, g.Snapshot())
		at, ok := g.NextDeadline()
		require.True(t, ok, "the pulse")
		assert.Equal(t, time.Now().Add(g.Pulse()), at, "idle: nothing due before the pulse")
		l.end("a", errGH)
		looptest.Settle(t, g)
		assert.Equal(t, uint64(2), g.Record(time.Now()).Members[0].Slot.Attempt, "Record still works")
		at, _ = g.NextDeadline()
		assert.Equal(t, time.Now().Add(g.Pulse()), at)
		assert.Nil(t, g.Snapshot())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
		assert.Nil(t, g.Snapshot())
	})
	_, err := NewGroup("app", GroupConfig{SnapshotInterval: NoSnapshots - 1})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}
