package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupNestedEndsDuringParentShutdown: a permanent nested
// group that ends on its own (its significant member finished) while its
// parent's shutdown is still busy with a later member is not restarted,
// and the shutdown goes on to its end.
func TestGroupNestedEndsDuringParentShutdown(t *testing.T) {
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

// TestGroupAllSignificantWaitsForBackoff: under AllSignificant, a
// significant member waiting out its restart backoff has not ended: the
// end of the other one does not shut the group down.
func TestGroupAllSignificantWaitsForBackoff(t *testing.T) {
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

// TestGroupCompactsGoneMembers: a group whose members come and go keeps
// its member list bounded at a constant cost per removal: the entries of
// members that left stay until they are half of the list, then all go at
// once, and the members after them keep their places in start order (a
// rest for one restart still covers exactly the failed member and those
// after it).
func TestGroupCompactsGoneMembers(t *testing.T) {
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

func TestGroupIntensity(t *testing.T) {
	t.Run("the third restart within the period fails the group", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			var ev ghEvents
			g := ghGroup(t, l, "app", GroupConfig{Intensity: 2, Period: 5 * time.Second, OnEvent: ev.on}, "a", "b", "c")
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			for range 2 {
				l.end("b", errGH)
				looptest.Wait(t, g, time.Second)
			}
			require.Equal(t, GroupRunning, g.State())
			l.take()
			l.end("b", errGH)
			looptest.Settle(t, g)
			assert.Equal(t, []string{"fail b", "stop c", "stop a"}, l.take(), "every member stopped, in reverse order")
			assert.True(t, g.Finished())
			assert.Equal(t, GroupFailed, g.State())
			err := g.Err()
			require.ErrorIs(t, err, ErrGroupFailed)
			assert.Contains(t, err.Error(), `member "b"`)
			assert.Contains(t, err.Error(), "2 restarts within 5s")
			assert.Len(t, ev.of(EventGroupFailed), 1)
			assert.Len(t, ev.of(EventRestartScheduled), 2, "the refused restart is never announced")
		})
	})
	t.Run("restarts spaced beyond the period never fail it", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g := ghGroup(t, l, "app", GroupConfig{Intensity: 2, Period: 5 * time.Second}, "a", "b")
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			for range 10 {
				l.end("b", errGH)
				looptest.Wait(t, g, 2600*time.Millisecond)
				require.Equal(t, GroupRunning, g.State())
			}
			assert.Equal(t, uint64(10), g.Record(time.Now()).Restarts)
			g.Shutdown(time.Now())
			looptest.Settle(t, g)
			assert.NoError(t, g.Err())
		})
	})
	t.Run("NoIntensity never fails the group", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g := ghGroup(t, l, "app", GroupConfig{Intensity: NoIntensity}, "a")
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			for range 9 { // the member's own limit is 10 in 60s
				l.end("a", errGH)
				looptest.Settle(t, g)
			}
			assert.Equal(t, GroupRunning, g.State())
			assert.Nil(t, g.Record(time.Now()).Intensity)
			g.Shutdown(time.Now())
			looptest.Settle(t, g)
		})
	})
	t.Run("a member's own limit quarantines it and the group goes on", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: OneForAll}))
			require.NoError(t, err)
			_, err = g.Add("a", l.child("a"), ghCfg())
			require.NoError(t, err)
			cfg := ghCfg()
			cfg.RestartLimit = 1
			b, err := g.Add("b", l.child("b"), cfg)
			require.NoError(t, err)
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			l.end("b", errGH)
			looptest.Settle(t, g)
			l.take()
			l.end("b", errGH)
			looptest.Settle(t, g)
			assert.Equal(t, []string{"fail b"}, l.take(), "a refused restart triggers no sibling restart")
			assert.Equal(t, OperationQuarantined, b.Record(time.Now()).Operation)
			assert.Equal(t, GroupRunning, g.State())
			assert.Equal(t, uint64(1), g.Record(time.Now()).Restarts)
			g.Shutdown(time.Now())
			looptest.Settle(t, g)
		})
	})
}

func TestGroupRestartScopeRules(t *testing.T) {
	t.Run("a temporary member stopped by a group restart leaves", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			var ev ghEvents
			g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: OneForAll, OnEvent: ev.on}))
			require.NoError(t, err)
			_, err = g.Add("a", l.child("a"), ghCfg())
			require.NoError(t, err)
			cfg := ghCfg()
			cfg.Restart = Temporary
			_, err = g.Add("job", l.child("job"), cfg)
			require.NoError(t, err)
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			l.take()
			l.end("a", errGH)
			looptest.Settle(t, g)
			assert.Equal(t, []string{"fail a", "stop job", "start a"}, l.take())
			assert.Nil(t, g.Slot("job"))
			assert.Equal(t, 1, g.Len())
			removed := ev.of(EventMemberRemoved)
			require.Len(t, removed, 1)
			assert.Equal(t, "job", removed[0].Member)
			g.Shutdown(time.Now())
			looptest.Settle(t, g)
		})
	})
	t.Run("paused and quarantined members are not revived", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g := ghGroup(t, l, "app", GroupConfig{Strategy: OneForAll}, "a", "b", "c")
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			require.NoError(t, g.Slot("b").Pause(time.Now()))
			looptest.Settle(t, g)
			require.NoError(t, g.Slot("c").Quarantine(time.Now(), "on-call looks"))
			looptest.Settle(t, g)
			assert.Equal(t, []string{"start a", "start b", "start c", "stop b", "stop c"}, l.take())
			l.end("a", errGH)
			looptest.Settle(t, g)
			assert.Equal(t, []string{"fail a", "start a"}, l.take())
			assert.Equal(t, OperationPaused, g.Slot("b").Record(time.Now()).Operation)
			assert.Equal(t, OperationQuarantined, g.Slot("c").Record(time.Now()).Operation)
			// Resumed by the operator, b runs again under the group.
			require.NoError(t, g.Slot("b").Resume(time.Now()))
			looptest.Settle(t, g)
			assert.Equal(t, []string{"start b"}, l.take())
			g.Shutdown(time.Now())
			looptest.Settle(t, g)
			assert.Equal(t, []string{"stop b", "stop a"}, l.take())
		})
	})
	t.Run("an exit with no restart to follow restarts no sibling", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: OneForAll}))
			require.NoError(t, err)
			_, err = g.Add("a", l.child("a"), ghCfg())
			require.NoError(t, err)
			cfg := ghCfg()
			cfg.Restart = Transient
			_, err = g.Add("t", l.child("t"), cfg)
			require.NoError(t, err)
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			l.take()
			l.end("t", nil)
			looptest.Settle(t, g)
			assert.Equal(t, []string{"done t"}, l.take())
			assert.Equal(t, uint64(0), g.Record(time.Now()).Restarts)
			g.Shutdown(time.Now())
			looptest.Settle(t, g)
		})
	})
}

func TestGroupEscalation(t *testing.T) {
	t.Run("a nested group that fails makes its one_for_all parent restart all, counted once", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			var ev ghEvents
			root := ghGroup(t, l, "app", GroupConfig{Strategy: OneForAll, OnEvent: ev.on}, "db")
			sub := ghSub(t, l, "jobs", GroupConfig{Intensity: 1, Period: time.Minute}, "x", "y")
			require.NoError(t, root.AddGroup(sub))
			_, err := root.Add("api", l.child("api"), ghCfg())
			require.NoError(t, err)
			assert.Equal(t, "/app/jobs", sub.Path())
			assert.Equal(t, "/app/jobs/x", sub.Slot("x").Record(time.Now()).Path)
			var added []string
			for _, e := range ev.of(EventMemberAdded) {
				added = append(added, e.Path+"/"+e.Member)
			}
			assert.Equal(t, []string{"/app/db", "/app/jobs", "/app/jobs/x", "/app/jobs/y", "/app/api"}, added,
				"members that joined the nested group before it was nested are told too")
			require.NoError(t, root.Start(t.Context(), time.Now()))
			looptest.Settle(t, root)
			assert.Equal(t, []string{"start db", "start x", "start y", "start api"}, l.take())

			l.end("x", errGH)
			looptest.Settle(t, root)
			assert.Equal(t, []string{"fail x", "start x"}, l.take(), "the nested group's one restart")
			l.end("y", errGH)
			looptest.Settle(t, root)
			assert.Equal(t, []string{
				"fail y", "stop x", // the nested group fails and stops its members
				"stop api", "stop db", // the parent stops the rest in reverse order
				"start db", "start x", "start y", "start api", // and starts all afresh
			}, l.take())
			rec := root.Record(time.Now())
			assert.Equal(t, GroupRunning, rec.State)
			assert.Equal(t, uint64(1), rec.Restarts, "the escalation counts once in the parent")
			subRec := rec.Members[1].Group
			require.NotNil(t, subRec)
			assert.Equal(t, GroupRunning, subRec.State)
			assert.Equal(t, 0, subRec.Intensity.Used, "a restarted group starts with a fresh budget")
			assert.Len(t, ev.of(EventGroupFailed), 1)
			root.Shutdown(time.Now())
			looptest.Settle(t, root)
			assert.Equal(t, []string{"stop api", "stop y", "stop x", "stop db"}, l.take(), "nested groups depth-first")
		})
	})
	t.Run("the root failing ends Run with ErrGroupFailed", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			root := ghGroup(t, l, "app", GroupConfig{Intensity: 1, Period: time.Minute}, "a")
			errc := make(chan error, 1)
			go func() { errc <- root.Run(t.Context()) }()
			synctest.Wait()
			l.end("a", errGH)
			synctest.Wait()
			l.end("a", errGH)
			synctest.Wait()
			err := <-errc
			require.ErrorIs(t, err, ErrGroupFailed)
			assert.Equal(t, []string{"start a", "fail a", "start a", "fail a"}, l.take())
		})
	})
}

func TestGroupSignificant(t *testing.T) {
	build := func(t *testing.T, l *ghLog, auto AutoShutdown) *Group {
		g, err := NewGroup("app", ghRoot(l, GroupConfig{AutoShutdown: auto}))
		require.NoError(t, err)
		_, err = g.Add("server", l.child("server"), ghCfg())
		require.NoError(t, err)
		for _, id := range []string{"s1", "s2"} {
			cfg := ghCfg()
			cfg.Restart, cfg.Significant = Transient, true
			_, err = g.Add(id, l.child(id), cfg)
			require.NoError(t, err)
		}
		return g
	}
	t.Run("any_significant ends the group at the first", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			var ev ghEvents
			g := build(t, l, AnySignificant)
			user := g.cfg.OnEvent
			g.cfg.OnEvent = func(e Event) { user(e); ev.on(e) }
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			l.take()
			l.end("s1", nil)
			looptest.Settle(t, g)
			assert.Equal(t, []string{"done s1", "stop s2", "stop server"}, l.take())
			assert.True(t, g.Finished())
			assert.NoError(t, g.Err())
			require.Len(t, ev.of(EventAutoShutdown), 1)
			assert.Equal(t, "s1", ev.of(EventAutoShutdown)[0].Member)
		})
	})
	t.Run("all_significant ends the group at the last", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g := build(t, l, AllSignificant)
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			l.take()
			l.end("s1", nil)
			looptest.Settle(t, g)
			assert.Equal(t, GroupRunning, g.State())
			l.end("s2", errGH) // abnormal: a Transient member restarts
			looptest.Settle(t, g)
			assert.Equal(t, GroupRunning, g.State())
			l.end("s2", nil)
			looptest.Settle(t, g)
			assert.Equal(t, []string{"done s1", "fail s2", "start s2", "done s2", "stop server"}, l.take())
			assert.True(t, g.Finished())
			assert.NoError(t, g.Err())
		})
	})
	t.Run("a normal end of a transient nested group is not restarted", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			root := ghGroup(t, l, "app", GroupConfig{Strategy: OneForAll}, "db")
			sub, err := NewGroup("batch", GroupConfig{Restart: Transient, AutoShutdown: AnySignificant})
			require.NoError(t, err)
			cfg := ghCfg()
			cfg.Restart, cfg.Significant = Transient, true
			_, err = sub.Add("import", l.child("import"), cfg)
			require.NoError(t, err)
			require.NoError(t, root.AddGroup(sub))
			require.NoError(t, root.Start(t.Context(), time.Now()))
			looptest.Settle(t, root)
			l.take()
			l.end("import", nil)
			looptest.Settle(t, root)
			assert.Equal(t, []string{"done import"}, l.take(), "db keeps running; nothing restarts")
			assert.Equal(t, GroupStopped, sub.State())
			assert.Equal(t, GroupRunning, root.State())
			assert.Equal(t, uint64(0), root.Record(time.Now()).Restarts)
			root.Shutdown(time.Now())
			looptest.Settle(t, root)
			rec := root.Record(time.Now())
			assert.Equal(t, OutcomeAlreadyStopped, rec.Members[1].Shutdown)
			assert.Equal(t, OutcomeStopped, rec.Members[0].Shutdown)
		})
	})
}
