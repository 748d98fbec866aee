package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync/atomic"
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
		assert.True(t, g.Health(time.Now()).LastAdvance.IsZero())
		ok := g.Health(time.Now()).Advanced
		assert.False(t, ok)
		assert.Equal(t, time.Second, g.Health(time.Now()).Pulse)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		first := g.Snapshot()
		require.NotNil(t, first)
		assert.Equal(t, GroupRunning, first.State)
		assert.Equal(t, time.Now(), g.Health(time.Now()).LastAdvance)

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
		looptest.Wait(t, g, g.Health(time.Now()).Pulse)
		assert.NotSame(t, quiet, g.Snapshot(), "republished once a pulse, for what changes without events")
		h := g.Health(time.Now())
		since, ok := h.SinceAdvance, h.Advanced
		require.True(t, ok)
		assert.Zero(t, since)
		time.Sleep(2500 * time.Millisecond) // nobody advances
		since = g.Health(time.Now()).SinceAdvance
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
		assert.Equal(t, time.Now().Add(g.Health(time.Now()).Pulse), at, "idle: nothing due before the pulse")
		l.end("a", errGH)
		looptest.Settle(t, g)
		assert.Equal(t, uint64(2), g.Record(time.Now()).Members[0].Slot.Attempt, "Record still works")
		at, _ = g.NextDeadline()
		assert.Equal(t, time.Now().Add(g.Health(time.Now()).Pulse), at)
		assert.Nil(t, g.Snapshot())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
		assert.Nil(t, g.Snapshot())
	})
	_, err := NewGroup("app", GroupConfig{SnapshotInterval: NoSnapshots - 1})
	assert.ErrorIs(t, err, ErrInvalidConfig)
}

// TestGroupSnapshotInterval: a change is published no sooner than
// SnapshotInterval after the last snapshot: 100 ms by default, the
// configured interval otherwise.
func TestGroupSnapshotInterval(t *testing.T) {
	for _, tt := range []struct {
		name     string
		interval time.Duration
		want     time.Duration
	}{{"default", 0, 100 * time.Millisecond}, {"configured", 500 * time.Millisecond, 500 * time.Millisecond}} {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newGHLog(t)
				g := ghGroup(t, l, "app", GroupConfig{SnapshotInterval: tt.interval}, "a")
				require.NoError(t, g.Start(t.Context(), time.Now()))
				looptest.Settle(t, g)
				first := g.Snapshot()
				require.NotNil(t, first)
				l.end("a", errGH)
				looptest.Wait(t, g, tt.want/2)
				assert.Same(t, first, g.Snapshot(), "within the interval the old snapshot stands")
				looptest.Wait(t, g, tt.want/2)
				assert.NotSame(t, first, g.Snapshot(), "at the interval the change is published")
				assert.Equal(t, uint64(2), g.Snapshot().Members[0].Slot.Attempt)
				g.Shutdown(time.Now())
				looptest.Settle(t, g)
			})
		})
	}
}

// TestGroupQuietAdvanceKeepsSnapshot: an Advance within a pulse that
// finds nothing changed publishes no new snapshot, even past
// SnapshotInterval; one a pulse after the last snapshot does.
func TestGroupQuietAdvanceKeepsSnapshot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{SnapshotInterval: 100 * time.Millisecond, Pulse: 2 * time.Second}, "a")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		first := g.Snapshot()
		require.NotNil(t, first)
		for range 3 {
			time.Sleep(500 * time.Millisecond)
			g.Advance(time.Now())
			assert.Same(t, first, g.Snapshot(), "nothing changed: nothing published")
		}
		time.Sleep(500 * time.Millisecond)
		g.Advance(time.Now())
		assert.NotSame(t, first, g.Snapshot(), "a pulse later it is published again")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestGroupBacklog: when more is due than one Advance serves, Backlog says
// what is left: exits waiting, how overdue the earliest unserved deadline
// is, and members a start walk has yet to reach; zeros once caught up.
func TestGroupBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = advanceBatch + 100
		g, err := NewGroup("big", GroupConfig{Intensity: NoIntensity})
		require.NoError(t, err)
		assert.Equal(t, Backlog{}, g.Health(time.Now()).Backlog, "zeros before the first Advance")
		fail := make(chan struct{})
		fn := func(ctx context.Context, a *Attempt) error {
			if a.Number() > 1 { // a restarted member parks
				<-ctx.Done()
				return nil
			}
			select {
			case <-fail:
				return errors.New("storm")
			case <-ctx.Done():
				return nil
			}
		}
		// A fixed 1s backoff, so that every restart is a deadline.
		cfg := Config{Backoff: Backoff{Initial: time.Second, Max: time.Second, Multiplier: 2, NoJitter: true}}
		for i := range n {
			_, err := g.Add(fmt.Sprintf("m%04d", i), fn, cfg)
			require.NoError(t, err)
		}
		t0 := time.Now()
		require.NoError(t, g.Start(t.Context(), t0))
		assert.Equal(t, Backlog{Starts: n - advanceBatch}, g.Health(time.Now()).Backlog, "the start walk's second batch")
		g.Advance(t0)
		assert.Equal(t, Backlog{}, g.Health(time.Now()).Backlog, "all started")

		close(fail)
		synctest.Wait()
		g.Advance(t0)
		assert.Equal(t, Backlog{Exits: n - advanceBatch}, g.Health(time.Now()).Backlog, "one batch of exits collected")
		g.Advance(t0)
		assert.Equal(t, Backlog{}, g.Health(time.Now()).Backlog, "every exit collected; the restarts are due at t0+1s")

		// Three seconds late, one batch of the restarts is served; the
		// rest were due 2s before.
		g.Advance(t0.Add(3 * time.Second))
		assert.Equal(t, Backlog{Overdue: 2 * time.Second}, g.Health(time.Now()).Backlog)
		g.Advance(t0.Add(3 * time.Second))
		assert.Equal(t, Backlog{}, g.Health(time.Now()).Backlog, "caught up")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
	})
}

// TestSnapshotWaitsWhileBehind: while an Advance leaves exits queued (a
// storm), the snapshot waits rather than take the loop's time, and is
// published once the loop has caught up; a loop that stays behind still
// publishes after snapshotPatience pulses.
func TestSnapshotWaitsWhileBehind(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = advanceBatch + 100
		g, err := NewGroup("big", GroupConfig{Intensity: NoIntensity, SnapshotInterval: time.Second})
		require.NoError(t, err)
		var round atomic.Pointer[chan struct{}]
		first := make(chan struct{})
		round.Store(&first)
		fn := func(ctx context.Context, _ *Attempt) error {
			select {
			case <-*round.Load():
				return errors.New("storm")
			case <-ctx.Done():
				return nil
			}
		}
		storm := func() {
			next := make(chan struct{})
			close(*round.Swap(&next))
			synctest.Wait()
		}
		cfg := Config{Backoff: Backoff{NoDelay: true}, RestartWindow: time.Nanosecond}
		for i := range n {
			_, err := g.Add(fmt.Sprintf("m%04d", i), fn, cfg)
			require.NoError(t, err)
		}
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		before := g.Snapshot()
		require.NotNil(t, before)

		time.Sleep(2 * time.Second) // past SnapshotInterval
		storm()
		g.Advance(time.Now())
		assert.Same(t, before, g.Snapshot(), "exits left queued: the snapshot waits")
		select {
		case <-g.Wake():
		default:
			t.Fatal("the queued exits wake the loop")
		}
		for g.Snapshot() == before {
			g.Advance(time.Now())
			synctest.Wait()
		}
		assert.Zero(t, g.Health(time.Now()).Backlog.Exits, "published once every exit was collected")

		time.Sleep(time.Duration(snapshotPatience) * g.Health(time.Now()).Pulse)
		mid := g.Snapshot()
		storm()
		g.Advance(time.Now())
		assert.Positive(t, g.Health(time.Now()).Backlog.Exits, "behind")
		assert.NotSame(t, mid, g.Snapshot(), "behind for snapshotPatience pulses: published anyway")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}
