package supervisor

import (
	"context"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

func TestGroupStartsInOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a", "b", "c")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a", "start b", "start c"}, l.take())
		assert.Equal(t, GroupRunning, g.State())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.Equal(t, []string{"stop c", "stop b", "stop a"}, l.take(), "reverse start order")
		assert.True(t, g.Finished())
		assert.NoError(t, g.Err())
		assert.Equal(t, GroupStopped, g.State())
	})
}

// TestGroupStrategies fails the middle of three members under each
// strategy and checks the stops and starts as the children see them, and
// that members outside the restart's scope keep their attempt.
func TestGroupStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		want     []string
		attempts map[string]uint64
	}{
		{"one_for_one", OneForOne,
			[]string{"fail b", "start b"},
			map[string]uint64{"a": 1, "b": 2, "c": 1}},
		{"one_for_all", OneForAll,
			[]string{"fail b", "stop c", "stop a", "start a", "start b", "start c"},
			map[string]uint64{"a": 2, "b": 2, "c": 2}},
		{"rest_for_one", RestForOne,
			[]string{"fail b", "stop c", "start b", "start c"},
			map[string]uint64{"a": 1, "b": 2, "c": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newGHLog(t)
				var ev ghEvents
				g := ghGroup(t, l, "app", GroupConfig{Strategy: tt.strategy, OnEvent: ev.on}, "a", "b", "c")
				require.NoError(t, g.Start(t.Context(), time.Now()))
				looptest.Settle(t, g)
				l.take()
				l.end("b", errGH)
				looptest.Settle(t, g)
				assert.Equal(t, tt.want, l.take())
				assert.Equal(t, tt.attempts, ghAttempts(g))
				rec := g.Record(time.Now())
				assert.Equal(t, GroupRunning, rec.State)
				assert.Equal(t, uint64(1), rec.Restarts, "one failure, one group restart")
				restarts := ev.of(EventGroupRestart)
				require.Len(t, restarts, 1)
				assert.Equal(t, "b", restarts[0].Member)
				// Only b failed: the siblings the group stopped count nothing
				// against their own budgets.
				for _, m := range rec.Members {
					want := 0
					if m.ID == "b" {
						want = 1
					}
					assert.Equal(t, want, m.Slot.RestartLimit.Used, m.ID)
				}
				g.Shutdown(time.Now())
				looptest.Settle(t, g)
				assert.True(t, g.Finished())
			})
		})
	}
}

// TestGroupStopsOneAtATime checks that a one_for_all restart waits for each
// stopped member before it cancels the next: c ignores cancellation until
// it is abandoned at its StopTimeout, and b is not cancelled before that.
func TestGroupStopsOneAtATime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: OneForAll}))
		require.NoError(t, err)
		cfg := ghCfg()
		_, err = g.Add("a", l.child("a"), cfg)
		require.NoError(t, err)
		_, err = g.Add("b", l.child("b"), cfg)
		require.NoError(t, err)
		cfg.StopTimeout = 2 * time.Second
		c, err := g.Add("c", l.childWith("c", false, true), cfg)
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		l.take()

		l.end("a", errGH)
		looptest.Settle(t, g)
		assert.Equal(t, []string{"fail a"}, l.take(), "b waits while c has not stopped")
		assert.Equal(t, StatusCancelling, c.Record(time.Now()).Status)
		looptest.Wait(t, g, 2*time.Second)
		assert.Equal(t, []string{"stop b", "start a", "start b", "start c"}, l.take())
		assert.Equal(t, uint64(1), c.Record(time.Now()).AbandonedTotal)
		l.free()
		looptest.Settle(t, g)
		assert.Equal(t, []string{"stop c"}, l.take(), "the abandoned attempt returns late")
		assert.Equal(t, uint64(1), c.Record(time.Now()).StaleReports)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
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

func TestGroupShutdown(t *testing.T) {
	t.Run("a member that ignores cancellation is abandoned and the next proceeds", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
			require.NoError(t, err)
			_, err = g.Add("a", l.child("a"), ghCfg())
			require.NoError(t, err)
			cfg := ghCfg()
			cfg.StopTimeout = 3 * time.Second
			_, err = g.Add("stuck", l.childWith("stuck", false, true), cfg)
			require.NoError(t, err)
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g)
			l.take()
			start := time.Now()
			g.Shutdown(start)
			looptest.Settle(t, g)
			assert.Empty(t, l.take(), "a waits for stuck")
			looptest.Wait(t, g, 3*time.Second)
			assert.Equal(t, []string{"stop a"}, l.take())
			assert.True(t, g.Finished())
			assert.Equal(t, 3*time.Second, time.Since(start), "the shutdown took stuck's StopTimeout")
			rec := g.Record(time.Now())
			assert.Equal(t, OutcomeStopped, rec.Members[0].Shutdown)
			assert.Equal(t, OutcomeAbandoned, rec.Members[1].Shutdown)
		})
	})
	t.Run("the caller's ctx is never the children's parent", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g := ghGroup(t, l, "app", GroupConfig{}, "a", "b", "c")
			ctx, cancel := context.WithCancelCause(context.WithValue(t.Context(), ghKey{}, "v"))
			var seen any
			_, err := g.Add("d", func(ctx context.Context, _ *Attempt) error {
				seen = ctx.Value(ghKey{})
				<-ctx.Done()
				return nil
			}, ghCfg())
			require.NoError(t, err)
			errc := make(chan error, 1)
			go func() { errc <- g.Run(ctx) }()
			synctest.Wait()
			assert.Equal(t, "v", seen, "values pass through")
			cancel(errors.New("SIGTERM"))
			require.NoError(t, <-errc)
			assert.Equal(t, []string{"start a", "start b", "start c", "start d", "stop c", "stop b", "stop a"}, l.take())
			require.Len(t, l.causes, 3)
			for _, c := range l.causes {
				assert.NotContains(t, c.Error(), "SIGTERM", "the children were stopped by the group, not by ctx")
				assert.Contains(t, c.Error(), "group shutting down")
			}
		})
	})
}

type ghKey struct{}

func TestGroupReadinessOrder(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		readyNow := make(chan struct{})
		cfg := ghCfg()
		cfg.ReadyTimeout = 10 * time.Second
		db, err := g.Add("db", func(ctx context.Context, a *Attempt) error {
			select {
			case <-readyNow:
				a.Ready()
			case <-ctx.Done():
				return nil
			}
			<-ctx.Done()
			return nil
		}, cfg)
		require.NoError(t, err)
		_, err = g.Add("api", l.child("api"), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Wait(t, g, 5*time.Second)
		assert.Equal(t, []string{"start db"}, l.take(), "api waits for db's readiness")
		assert.Equal(t, GroupStarting, g.State())
		rec := g.Record(time.Now())
		assert.False(t, rec.Members[0].Waiting)
		assert.True(t, rec.Members[1].Waiting, "api waits for its turn")
		close(readyNow)
		synctest.Wait()
		<-g.Wake() // the first Ready wakes the loop
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start api"}, l.take())
		assert.Equal(t, GroupRunning, g.State())
		assert.Equal(t, StatusReady, db.Record(time.Now()).Status)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

func TestGroupMissedReadinessStillWaits(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		cfg := ghCfg()
		cfg.ReadyTimeout = 2 * time.Second
		n := 0
		_, err = g.Add("db", func(ctx context.Context, a *Attempt) error {
			n++
			if n > 1 {
				a.Ready()
			}
			<-ctx.Done()
			return nil
		}, cfg)
		require.NoError(t, err)
		_, err = g.Add("api", l.child("api"), ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Wait(t, g, 2*time.Second)
		assert.Equal(t, []string{"start db", "start db", "start api"}, l.take(),
			"db missed ReadyTimeout, failed as Unhealthy, restarted; api waited for the ready attempt")
		assert.Equal(t, Unhealthy, g.Slot("db").Record(time.Now()).LastExit.Kind)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

func TestGroupAddRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var ev ghEvents
		g := ghGroup(t, l, "app", GroupConfig{Strategy: RestForOne, OnEvent: ev.on}, "a")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		_, err := g.Add("b", l.child("b"), ghCfg())
		require.NoError(t, err)
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a", "start b"}, l.take(), "added after Start: starts at once, last")
		require.NoError(t, g.Remove("a", time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"stop a"}, l.take(), "removing a restarts nothing")
		assert.Nil(t, g.Slot("a"))
		assert.Equal(t, 1, g.Len())
		require.ErrorIs(t, g.Remove("a", time.Now()), ErrUnknownMember)
		// The id is free again.
		_, err = g.Add("a", l.child("a"), ghCfg())
		require.NoError(t, err)
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a"}, l.take())
		ids := []string{}
		for _, m := range g.Record(time.Now()).Members {
			ids = append(ids, m.ID)
		}
		assert.Equal(t, []string{"b", "a"}, ids)
		assert.Len(t, ev.of(EventMemberAdded), 3)
		assert.Len(t, ev.of(EventMemberRemoved), 1)
		for _, e := range ev.of(EventMemberAdded, EventMemberRemoved) {
			assert.False(t, e.Time.IsZero(), "%v has a time", e)
		}
		g.ShutdownWith(time.Now(), "SIGTERM")
		looptest.Settle(t, g)
		assert.Equal(t, []string{"stop a", "stop b"}, l.take())
		assert.Equal(t, "SIGTERM", g.Record(time.Now()).Reason)
		_, err = g.Add("c", l.child("c"), ghCfg())
		require.ErrorIs(t, err, ErrGroupStopped)
	})
}

func TestGroupBadInput(t *testing.T) {
	noop := func(context.Context, *Attempt) error { return nil }
	g, err := NewGroup("app", GroupConfig{})
	require.NoError(t, err)
	_, err = g.Add("a", noop, Config{})
	require.NoError(t, err)
	other, err := NewGroup("other", GroupConfig{})
	require.NoError(t, err)
	sub, err := NewGroup("sub", GroupConfig{})
	require.NoError(t, err)
	require.NoError(t, g.AddGroup(sub))

	tests := []struct {
		name string
		err  error
	}{
		{"empty group id", func() error { _, err := NewGroup("", GroupConfig{}); return err }()},
		{"negative period", func() error { _, err := NewGroup("x", GroupConfig{Period: -1}); return err }()},
		{"negative intensity", func() error { _, err := NewGroup("x", GroupConfig{Intensity: -2}); return err }()},
		{"bad strategy", func() error { _, err := NewGroup("x", GroupConfig{Strategy: 9}); return err }()},
		{"permanent significant group", func() error { _, err := NewGroup("x", GroupConfig{Significant: true}); return err }()},
		{"empty member id", func() error { _, err := g.Add("", noop, Config{}); return err }()},
		{"duplicate member id", func() error { _, err := g.Add("a", noop, Config{}); return err }()},
		{"nil func", func() error { _, err := g.Add("b", nil, Config{}); return err }()},
		{"negative duration", func() error { _, err := g.Add("b", noop, Config{StopTimeout: -1}); return err }()},
		{"permanent significant member", func() error { _, err := g.Add("b", noop, Config{Significant: true}); return err }()},
		{"exits set", func() error { _, err := g.Add("b", noop, Config{Exits: NewExitQueue()}); return err }()},
		{"group added to itself", g.AddGroup(g)},
		{"group added below itself", sub.AddGroup(g)},
		{"group added to two parents", other.AddGroup(sub)},
		{"nil nested group", g.AddGroup(nil)},
		{"nested group started directly", sub.Start(context.Background(), time.Now())},
		//lint:ignore SA1012 the nil context is the bad input
		{"nil context", g.Start(nil, time.Now())}, //nolint:staticcheck // the nil context is the bad input
		{"member slot started directly", g.Slot("a").Start(context.Background(), time.Now())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.err, ErrInvalidConfig)
		})
	}
	assert.Equal(t, 0, other.Len(), "a refused AddGroup changes nothing")
	assert.Equal(t, 2, g.Len())
}

// TestGroupZeroAndNil calls every method of a zero and a nil Group: none
// panics, each returns an error or does nothing.
func TestGroupZeroAndNil(t *testing.T) {
	for name, g := range map[string]*Group{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			_, err := g.Add("a", func(context.Context, *Attempt) error { return nil }, Config{})
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorIs(t, g.AddGroup(&Group{}), ErrInvalidConfig)
			assert.ErrorIs(t, g.Remove("a", now), ErrInvalidConfig)
			assert.ErrorIs(t, g.Start(context.Background(), now), ErrInvalidConfig)
			assert.ErrorIs(t, g.Run(context.Background()), ErrInvalidConfig)
			g.Advance(now)
			g.Shutdown(now)
			_, ok := g.NextDeadline()
			assert.False(t, ok)
			assert.Nil(t, g.Wake())
			assert.True(t, g.Finished())
			assert.NoError(t, g.Err())
			assert.Equal(t, GroupRecord{}, g.Record(now))
			assert.Nil(t, g.Slot("a"))
			assert.Nil(t, g.Group("a"))
			assert.Zero(t, g.Len())
			assert.Empty(t, g.ID())
			assert.Empty(t, g.Path())
			assert.Equal(t, GroupIdle, g.State())
		})
	}
}

// TestStartedEventComesFirst: a listener hears that an attempt started
// before the child can do anything, so that logs read in order.
func TestStartedEventComesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a")
		_, err := g.Add("eager", func(ctx context.Context, _ *Attempt) error {
			l.add("eager ran")
			<-ctx.Done()
			return nil
		}, ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a", "start eager", "eager ran"}, l.take())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestGroupStartsLargeTreeInBatches: a start in order reaches at most
// advanceBatch members per Advance, each batch at its own now, and
// NextDeadline asks for the next batch at once. A huge group so starts
// over many Advances, serving exits and deadlines between its batches, and
// no attempt's deadlines count from a now that was seconds old when it
// started (a million members launched on Start's now timed out before
// they ran).
func TestGroupStartsLargeTreeInBatches(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 2*advanceBatch + 10
		startedAt := map[string]time.Time{}
		g, err := NewGroup("big", GroupConfig{Intensity: NoIntensity, OnEvent: func(e Event) {
			if e.Kind == EventStarted {
				startedAt[e.ChildID] = e.Time
			}
		}})
		require.NoError(t, err)
		park := func(ctx context.Context, _ *Attempt) error { <-ctx.Done(); return nil }
		cfg := Config{AttemptTimeout: time.Second, Backoff: Backoff{NoDelay: true}}
		ids := make([]string, n)
		for i := range ids {
			ids[i] = fmt.Sprintf("m%04d", i)
			_, err := g.Add(ids[i], park, cfg)
			require.NoError(t, err)
		}
		t0 := time.Now()
		require.NoError(t, g.Start(t.Context(), t0))
		started := len(startedAt)
		assert.Equal(t, advanceBatch, started, "Start reaches the first batch")
		assert.Equal(t, GroupStarting, g.State())
		at, ok := g.NextDeadline()
		require.True(t, ok)
		assert.Equal(t, t0, at, "the next batch is due at once")

		t1 := t0.Add(300 * time.Millisecond)
		g.Advance(t1)
		started = len(startedAt)
		assert.Equal(t, 2*advanceBatch, started)
		t2 := t1.Add(300 * time.Millisecond)
		g.Advance(t2)
		started = len(startedAt)
		assert.Equal(t, n, started)
		assert.Equal(t, GroupRunning, g.State(), "the last batch ends the start")
		for i, want := range []time.Time{t0, t1, t2} {
			id := ids[min(i*advanceBatch, n-1)]
			assert.Equal(t, want, startedAt[id], "%s started at its batch's now", id)
		}
		assert.Equal(t, t0, startedAt[ids[advanceBatch-1]])
		assert.Equal(t, t1, startedAt[ids[advanceBatch]])

		// Each attempt's timeout counts from its own start: at t0+1s only
		// the first batch is due to time out.
		g.Advance(t0.Add(time.Second))
		synctest.Wait()
		g.Advance(t0.Add(time.Second))
		var timedOut int
		for _, m := range g.Record(time.Now()).Members {
			if e := m.Slot.LastExit; e != nil && e.Kind == TimedOut {
				timedOut++
			}
		}
		assert.Equal(t, advanceBatch, timedOut, "the later batches' deadlines are later")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
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
		assert.Equal(t, Backlog{}, g.Backlog(), "zeros before the first Advance")
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
		assert.Equal(t, Backlog{Starts: n - advanceBatch}, g.Backlog(), "the start walk's second batch")
		g.Advance(t0)
		assert.Equal(t, Backlog{}, g.Backlog(), "all started")

		close(fail)
		synctest.Wait()
		g.Advance(t0)
		assert.Equal(t, Backlog{Exits: n - advanceBatch}, g.Backlog(), "one batch of exits collected")
		g.Advance(t0)
		assert.Equal(t, Backlog{}, g.Backlog(), "every exit collected; the restarts are due at t0+1s")

		// Three seconds late, one batch of the restarts is served; the
		// rest were due 2s before.
		g.Advance(t0.Add(3 * time.Second))
		assert.Equal(t, Backlog{Overdue: 2 * time.Second}, g.Backlog())
		g.Advance(t0.Add(3 * time.Second))
		assert.Equal(t, Backlog{}, g.Backlog(), "caught up")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		assert.True(t, g.Finished())
	})
}
