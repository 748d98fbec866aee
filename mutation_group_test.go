package supervisor

import (
	"context"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// Tests that kill group mutants gremlins found alive or never ran (see
// RELIABILITY.md, "Mutation testing").

// TestMutationNestedPathsBuiltBottomUp: a tree nested bottom-up (the leaf
// into the middle group before the middle group into the root) gives every
// group and slot below the root its full path, and their events reach the
// root's listener.
func TestMutationNestedPathsBuiltBottomUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var ev ghEvents
		leaf := ghSub(t, l, "leaf", GroupConfig{}, "w")
		mid := ghSub(t, l, "mid", GroupConfig{}, "v")
		require.NoError(t, mid.AddGroup(leaf))
		root := ghGroup(t, l, "app", GroupConfig{OnEvent: ev.on}, "u")
		require.NoError(t, root.AddGroup(mid))
		assert.Equal(t, "/app/mid/leaf", leaf.Path())
		require.NoError(t, root.Start(t.Context(), time.Now()))
		looptest.Settle(t, root)
		assert.Equal(t, []string{"start u", "start v", "start w"}, l.take(), "the leaf's start reaches the root's listener")
		assert.Equal(t, "/app/mid/leaf/w", leaf.Slot("w").Record(time.Now()).Path)
		assert.Equal(t, "/app/mid/v", mid.Slot("v").Record(time.Now()).Path)
		var paths []string
		for _, e := range ev.of(EventStarted) {
			paths = append(paths, e.Path)
		}
		assert.Equal(t, []string{"/app/u", "/app/mid/v", "/app/mid/leaf/w"}, paths)
		root.Shutdown(time.Now())
		looptest.Settle(t, root)
	})
}

// TestMutationNestedGroupEndsDuringParentShutdown: a permanent nested
// group that ends on its own (its significant member finished) while its
// parent's shutdown is still busy with a later member is not restarted,
// and the shutdown goes on to its end.
func TestMutationNestedGroupEndsDuringParentShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		root, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		sub, err := NewGroup("batch", GroupConfig{Restart: Permanent, AutoShutdown: AnySignificant})
		require.NoError(t, err)
		cfg := ghCfg()
		cfg.Restart, cfg.Significant = Transient, true
		_, err = sub.Add("import", l.child("import"), cfg)
		require.NoError(t, err)
		require.NoError(t, root.AddGroup(sub))
		stuck := ghCfg()
		stuck.StopTimeout = 3 * time.Second
		_, err = root.Add("stuck", l.childWith("stuck", false, true), stuck)
		require.NoError(t, err)
		require.NoError(t, root.Start(t.Context(), time.Now()))
		looptest.Settle(t, root)
		assert.Equal(t, []string{"start import", "start stuck"}, l.take())

		root.Shutdown(time.Now())
		looptest.Settle(t, root)
		assert.Equal(t, GroupShuttingDown, root.State(), "stuck ignores its cancellation")
		l.end("import", nil)
		looptest.Settle(t, root)
		assert.Equal(t, []string{"done import"}, l.take(), "no restart of batch during the shutdown")
		assert.Equal(t, GroupStopped, sub.State())

		looptest.Wait(t, root, 4*time.Second)
		assert.True(t, root.Finished())
		assert.Equal(t, GroupStopped, root.State())
		assert.NoError(t, root.Err())
		rec := root.Record(time.Now())
		assert.Equal(t, uint64(0), rec.Restarts)
		assert.Equal(t, OutcomeAlreadyStopped, rec.Members[0].Shutdown)
		assert.Equal(t, OutcomeAbandoned, rec.Members[1].Shutdown)
		l.free()
	})
}

// TestMutationStartWaitsThroughBackoff: in a start in order, a member whose
// readiness is watched and that failed before getting ready holds the next
// member back through its restart backoff, until an attempt gets ready.
func TestMutationStartWaitsThroughBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		cfg := Config{ReadyTimeout: 10 * time.Second, Backoff: Backoff{Initial: time.Second, Max: time.Second}}
		n := 0
		_, err = g.Add("db", func(ctx context.Context, a *Attempt) error {
			n++
			if n == 1 {
				return errGH // fails before it was ever ready
			}
			a.Ready()
			<-ctx.Done()
			return nil
		}, cfg)
		require.NoError(t, err)
		_, err = g.Add("api", l.child("api"), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Wait(t, g, 500*time.Millisecond)
		assert.Equal(t, []string{"start db"}, l.take(), "api waits while db waits out its backoff")
		assert.Equal(t, GroupStarting, g.State())
		rec := g.Record(time.Now())
		require.NotNil(t, rec.Members[0].Slot.NextRestartAt, "db is due to restart")
		assert.True(t, rec.Members[1].Waiting)

		looptest.Wait(t, g, time.Second)
		assert.Equal(t, []string{"start db", "start api"}, l.take())
		assert.Equal(t, GroupRunning, g.State())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestMutationGroupConfigTemporary: Temporary, the last restart type, is a
// valid restart type for a nested group.
func TestMutationGroupConfigTemporary(t *testing.T) {
	_, err := NewGroup("batch", GroupConfig{Restart: Temporary})
	require.NoError(t, err)
	_, err = NewGroup("batch", GroupConfig{Restart: Temporary + 1})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestMutationGroupLenAfterRemove: Len counts the members still in the
// group, not those removed.
func TestMutationGroupLenAfterRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a", "b", "c")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		require.NoError(t, g.Remove("b", time.Now()))
		assert.Equal(t, 3, g.Len(), "b counts while it stops")
		looptest.Settle(t, g)
		assert.Equal(t, 2, g.Len(), "b is gone")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestMutationSnapshotInterval: a change is published no sooner than
// SnapshotInterval after the last snapshot: 100 ms by default, the
// configured interval otherwise.
func TestMutationSnapshotInterval(t *testing.T) {
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

// TestMutationAllSignificantWaitsForBackoff: under AllSignificant, a
// significant member waiting out its restart backoff has not ended: the
// end of the other one does not shut the group down.
func TestMutationAllSignificantWaitsForBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{AutoShutdown: AllSignificant}))
		require.NoError(t, err)
		for _, id := range []string{"s1", "s2"} {
			cfg := Config{Restart: Transient, Significant: true, Backoff: Backoff{Initial: time.Second, Max: time.Second}}
			_, err = g.Add(id, l.child(id), cfg)
			require.NoError(t, err)
		}
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		l.take()
		l.end("s2", errGH)
		looptest.Settle(t, g)
		require.NotNil(t, g.Slot("s2").Record(time.Now()).NextRestartAt, "s2 waits out its backoff")
		l.end("s1", nil)
		looptest.Settle(t, g)
		assert.Equal(t, GroupRunning, g.State(), "s2 is to run again")
		looptest.Wait(t, g, 2*time.Second)
		assert.Equal(t, []string{"fail s2", "done s1", "start s2"}, l.take())
		l.end("s2", nil)
		looptest.Settle(t, g)
		assert.True(t, g.Finished(), "both ended: the group shuts down")
	})
}

// ghReadyOnSignal is a member that reports Ready when told on ready, and
// runs until cancelled.
func ghReadyOnSignal(l *ghLog, id string, ready chan struct{}) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		l.add("run " + id)
		select {
		case <-ready:
			a.Ready()
		case <-ctx.Done():
			return nil
		}
		<-ctx.Done()
		return nil
	}
}

// TestMutationResumePassedOverWhileStarting: a member paused before the
// start, and so passed over by it, starts as soon as it is resumed, also
// while the group is still starting (waiting for a later member's
// readiness) or restarting.
func TestMutationResumePassedOverWhileStarting(t *testing.T) {
	for _, restarting := range []bool{false, true} {
		name := "starting"
		if restarting {
			name = "restarting"
		}
		t.Run(name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newGHLog(t)
				g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: OneForAll}))
				require.NoError(t, err)
				p, err := g.Add("p", l.child("p"), ghCfg())
				require.NoError(t, err)
				_, err = g.Add("x", l.child("x"), ghCfg())
				require.NoError(t, err)
				ready := make(chan struct{}, 2)
				cfg := ghCfg()
				cfg.ReadyTimeout = time.Minute
				_, err = g.Add("db", ghReadyOnSignal(l, "db", ready), cfg)
				require.NoError(t, err)
				require.NoError(t, p.Pause(time.Now()))
				require.NoError(t, g.Start(t.Context(), time.Now()))
				looptest.Settle(t, g)
				assert.Equal(t, []string{"start x", "start db", "run db"}, l.take(), "p is passed over")
				want := GroupStarting
				if restarting {
					ready <- struct{}{}
					looptest.Settle(t, g)
					require.Equal(t, GroupRunning, g.State())
					l.end("x", errGH) // one for all: stop db, x; start x, db
					looptest.Settle(t, g)
					assert.Equal(t, []string{"fail x", "start x", "start db", "run db"}, l.take())
					want = GroupRestarting
				}
				require.Equal(t, want, g.State(), "waiting for db's readiness")
				require.NoError(t, p.Resume(time.Now()))
				looptest.Settle(t, g)
				assert.Equal(t, []string{"start p"}, l.take(), "resumed: p starts at once")
				ready <- struct{}{}
				looptest.Settle(t, g)
				assert.Equal(t, GroupRunning, g.State())
				g.Shutdown(time.Now())
				looptest.Settle(t, g)
			})
		})
	}
}

// TestMutationQuietAdvanceKeepsSnapshot: an Advance within a pulse that
// finds nothing changed publishes no new snapshot, even past
// SnapshotInterval; one a pulse after the last snapshot does.
func TestMutationQuietAdvanceKeepsSnapshot(t *testing.T) {
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

// TestMutationRemoveDuringStartKeepsPlace: members removed behind a start
// in order that waits for a member's readiness do not make the start skip
// the members after it.
func TestMutationRemoveDuringStartKeepsPlace(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "x", "y")
		ready := make(chan struct{}, 1)
		cfg := ghCfg()
		cfg.ReadyTimeout = time.Minute
		_, err := g.Add("db", ghReadyOnSignal(l, "db", ready), cfg)
		require.NoError(t, err)
		_, err = g.Add("z", l.child("z"), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start x", "start y", "start db", "run db"}, l.take())
		require.NoError(t, g.Remove("x", time.Now()))
		require.NoError(t, g.Remove("y", time.Now()))
		looptest.Settle(t, g)
		assert.ElementsMatch(t, []string{"stop x", "stop y"}, l.take())
		assert.Equal(t, 2, g.Len())
		assert.Equal(t, GroupStarting, g.State())
		ready <- struct{}{}
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start z"}, l.take(), "the start goes on with z")
		assert.Equal(t, GroupRunning, g.State())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestMutationOneAdvanceServesEveryDueDeadline: one Advance gives every
// member slot whose deadline has come its turn, not only the first: two
// members whose backoffs end at the same instant both restart in the
// Advance at that instant.
func TestMutationOneAdvanceServesEveryDueDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		cfg := Config{Backoff: Backoff{Initial: time.Second, Max: time.Second, NoJitter: true}}
		for _, id := range []string{"a", "b"} {
			_, err = g.Add(id, l.child(id), cfg)
			require.NoError(t, err)
		}
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		l.end("a", errGH)
		l.end("b", errGH)
		looptest.Settle(t, g)
		assert.ElementsMatch(t, []string{"start a", "start b", "fail a", "fail b"}, l.take())
		ra, rb := g.Slot("a").Record(time.Now()).NextRestartAt, g.Slot("b").Record(time.Now()).NextRestartAt
		require.NotNil(t, ra)
		require.NotNil(t, rb)
		require.Equal(t, *ra, *rb, "due at one instant")
		time.Sleep(time.Until(*ra))
		g.Advance(time.Now())
		assert.ElementsMatch(t, []string{"start a", "start b"}, l.take(), "both backoffs ended: both restart")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestMutationStartWaitsForPendingRestart: a start in order that waits for
// a watched member's readiness keeps waiting while an operator restart of
// that member is between its two attempts (the old one collected, the new
// one not launched yet): the next member starts only once the new attempt
// is ready. Here a listener collects the old attempt in the middle of an
// Advance, so that the walk sees the member before the restart launches.
func TestMutationStartWaitsForPendingRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var db *ChildSlot
		release := make(chan struct{})
		collected := false
		g, err := NewGroup("app", ghRoot(l, GroupConfig{OnEvent: func(e Event) {
			if e.Kind == EventShutdownFinished && e.ChildID == "other" && !collected {
				collected = true
				close(release) // db's old attempt returns now, after this Advance drained the exits
				synctest.Wait()
				_, err := db.Collect(time.Now())
				assert.NoError(t, err)
			}
		}}))
		require.NoError(t, err)
		other := ghSub(t, l, "other", GroupConfig{Restart: Transient}, "o")
		require.NoError(t, g.AddGroup(other))
		ready := make(chan struct{}, 1)
		cfg := ghCfg()
		cfg.ReadyTimeout, cfg.StopTimeout = time.Minute, time.Minute
		db, err = g.Add("db", func(ctx context.Context, a *Attempt) error {
			select {
			case <-ready:
				a.Ready()
			case <-ctx.Done():
				<-release // the old attempt outlives its cancellation
				return nil
			}
			<-ctx.Done()
			return nil
		}, cfg)
		require.NoError(t, err)
		_, err = g.Add("api", l.child("api"), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start o", "start db"}, l.take())

		d, err := db.Restart(time.Now())
		require.NoError(t, err)
		require.Equal(t, FenceQueuedAfterStop, d)
		other.Shutdown(time.Now())
		looptest.Settle(t, g)
		require.True(t, collected)
		assert.Equal(t, []string{"stop o", "start db"}, l.take(), "db restarted; api still waits for it")
		assert.Equal(t, GroupStarting, g.State())

		ready <- struct{}{}
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start api"}, l.take(), "db's new attempt is ready: api starts")
		assert.Equal(t, GroupRunning, g.State())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestMutationCompactsGoneMembers: a group whose members come and go keeps
// its member list bounded at a constant cost per removal: the entries of
// members that left stay until they are half of the list, then all go at
// once, and the members after them keep their places in start order (a
// rest for one restart still covers exactly the failed member and those
// after it).
func TestMutationCompactsGoneMembers(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{Strategy: RestForOne}, "a", "b", "c", "d")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		l.take()
		require.NoError(t, g.Remove("a", time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, 3, g.Len())
		assert.Len(t, g.members, 4, "one entry of four gone: no pass over the list for it")
		require.NoError(t, g.Remove("b", time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, 2, g.Len())
		assert.Len(t, g.members, 2, "half the entries gone: dropped")
		assert.ElementsMatch(t, []string{"stop a", "stop b"}, l.take())

		l.end("c", errGH)
		looptest.Settle(t, g)
		assert.Equal(t, []string{"fail c", "stop d", "start c", "start d"}, l.take())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestMutationRecordAllocsFlat: a group's record costs the same few
// allocations whatever the number of its member slots (their records and
// exit counts share one slab each), so a large tree's snapshot does not
// cost the loop allocations per member.
func TestMutationRecordAllocsFlat(t *testing.T) {
	allocs := func(n int) float64 {
		g, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		for i := range n {
			_, err := g.Add(fmt.Sprint("m", i), func(ctx context.Context, _ *Attempt) error { <-ctx.Done(); return nil }, Config{})
			require.NoError(t, err)
		}
		now := time.Now()
		return testing.AllocsPerRun(20, func() { _ = g.Record(now) })
	}
	assert.Equal(t, allocs(1), allocs(64))
}

// TestMutationRestartStopsMemberWhoseExitIsQueued: when more members fail
// at once than one Advance collects, a one_for_all restart's stop walk
// reaches members whose attempt has returned but whose exit still waits
// in the queue; the group collects each on the spot and goes on in the
// same Advance, rather than waiting for an exit that has already come.
// Every member restarts once and the group runs again. (This covers
// group_member.go:113, which gremlins found not covered; its negation
// mutant is equivalent: the Collect sets the tree's kick, so the walk
// steps again in the same Advance and finds the member stopped.)
func TestMutationRestartStopsMemberWhoseExitIsQueued(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = advanceBatch + 8
		g, err := NewGroup("all", GroupConfig{Strategy: OneForAll, Intensity: NoIntensity})
		require.NoError(t, err)
		fail := make(chan struct{})
		fn := func(ctx context.Context, a *Attempt) error {
			if a.Number() == 1 {
				select {
				case <-fail:
					return errGH
				case <-ctx.Done():
					return nil
				}
			}
			<-ctx.Done()
			return nil
		}
		for i := range n {
			_, err := g.Add(fmt.Sprintf("m%04d", i), fn, ghCfg())
			require.NoError(t, err)
		}
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		require.Equal(t, GroupRunning, g.State())
		close(fail)
		synctest.Wait()
		// One Advance collects a batch of exits; the stop walk of the
		// restart they start collects the rest as it reaches them, from
		// the last member down.
		g.Advance(time.Now())
		collected := 0
		for _, m := range g.Record(time.Now()).Members {
			if m.Slot.Exits == 1 {
				collected++
			}
		}
		assert.Equal(t, n, collected, "every returned member's exit collected in that one Advance")
		looptest.Settle(t, g)
		assert.Equal(t, GroupRunning, g.State(), "the restart finished")
		assert.Equal(t, uint64(1), g.Record(time.Now()).Restarts, "one restart for the storm")
		for id, attempts := range ghAttempts(g) {
			assert.Equal(t, uint64(2), attempts, "%s ran again once", id)
		}
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
	})
}
