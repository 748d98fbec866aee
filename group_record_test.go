package supervisor

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ghSnapshot is one named record of the group golden scenario.
type ghSnapshot struct {
	State  string      `json:"state"`
	Record GroupRecord `json:"record"`
}

// ghGoldenScenario runs a small tree through its start, a rest_for_one
// restart and its ordered shutdown, and returns the tree's record at each
// stage. Time starts at 2000-01-01T00:00:00Z in the bubble.
func ghGoldenScenario(t *testing.T) []ghSnapshot {
	l := newGHLog(t)
	root, err := NewGroup("app", GroupConfig{Strategy: RestForOne, Intensity: 3, Period: 10 * time.Second})
	require.NoError(t, err)
	cfg := Config{Backoff: Backoff{NoJitter: true}}
	_, err = root.Add("db", l.child("db"), cfg)
	require.NoError(t, err)
	_, err = root.Add("api", l.child("api"), cfg)
	require.NoError(t, err)
	jobs, err := NewGroup("jobs", GroupConfig{Restart: Transient, Intensity: NoIntensity})
	require.NoError(t, err)
	tcfg := cfg
	tcfg.Restart = Transient
	_, err = jobs.Add("mailer", l.child("mailer"), tcfg)
	require.NoError(t, err)
	require.NoError(t, root.AddGroup(jobs))

	var snaps []ghSnapshot
	snap := func(state string) {
		snaps = append(snaps, ghSnapshot{State: state, Record: root.Record(time.Now())})
	}
	require.NoError(t, root.Start(t.Context(), time.Now()))
	looptest.Wait(t, root, time.Second)
	snap("running")
	l.end("api", errGH)
	looptest.Settle(t, root)
	snap("restarting")
	looptest.Wait(t, root, time.Second)
	snap("restarted")
	root.Shutdown(time.Now())
	looptest.Settle(t, root)
	snap("stopped")
	return snaps
}

func TestGroupRecordGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, err := json.MarshalIndent(ghGoldenScenario(t), "", "  ")
		require.NoError(t, err)
		got = append(got, '\n')
		path := filepath.Join("testdata", "group_record.golden.json")
		if *coreUpdateGolden {
			require.NoError(t, os.WriteFile(path, got, 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test -run TestGroupRecordGolden -update to create it")
		assert.Equal(t, string(want), string(got))
	})
}

func TestGroupRecordJSONRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, sn := range ghGoldenScenario(t) {
			data, err := json.Marshal(sn.Record)
			require.NoError(t, err)
			var back GroupRecord
			require.NoError(t, json.Unmarshal(data, &back), sn.State)
			assert.Equal(t, ghWithoutUnserialized(sn.Record), back, sn.State)
			again, err := json.Marshal(back)
			require.NoError(t, err)
			assert.JSONEq(t, string(data), string(again), sn.State)
		}
	})
}

// ghWithoutUnserialized returns r with the exit fields that JSON leaves out
// (Err, PanicValue) cleared, all the way down.
func ghWithoutUnserialized(r GroupRecord) GroupRecord {
	members := make([]MemberRecord, len(r.Members))
	for i, m := range r.Members {
		if m.Slot != nil && m.Slot.LastExit != nil {
			s, e := *m.Slot, *m.Slot.LastExit
			e.Err, e.PanicValue = nil, nil
			s.LastExit = &e
			m.Slot = &s
		}
		if m.Group != nil {
			g := ghWithoutUnserialized(*m.Group)
			m.Group = &g
		}
		members[i] = m
	}
	r.Members = members
	return r
}

func TestGroupRecordStates(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		snaps := ghGoldenScenario(t)
		states := map[string]GroupState{}
		for _, sn := range snaps {
			states[sn.State] = sn.Record.State
		}
		assert.Equal(t, map[string]GroupState{
			"running": GroupRunning, "restarting": GroupRestarting, "restarted": GroupRunning, "stopped": GroupStopped,
		}, states)
		last := snaps[len(snaps)-1].Record
		require.Len(t, last.Members, 3)
		assert.Equal(t, []string{"db", "api", "jobs"}, []string{last.Members[0].ID, last.Members[1].ID, last.Members[2].ID})
		for _, m := range last.Members {
			assert.Equal(t, OutcomeStopped, m.Shutdown, m.ID)
			if m.Slot != nil {
				assert.Equal(t, m.Slot.Exits, m.Exits.Total(), "%s: exits by kind add up", m.ID)
			}
		}
		api := last.Members[1]
		assert.Equal(t, ExitCounts{Failed: 1, Cancelled: 1}, *api.Exits, "api failed once, then was stopped")
		assert.Equal(t, OutcomeStopped, last.Members[2].Group.Members[0].Shutdown)
		assert.Equal(t, uint64(1), last.Restarts)
		assert.Equal(t, 1, last.Intensity.Used)
	})
}

// TestGroupShutdownProcesses shuts down a group of two real /bin/sh
// children through Run: one traps SIGTERM and exits, one ignores it and is
// killed after its grace. Real processes cannot run in a bubble.
func TestGroupShutdownProcesses(t *testing.T) {
	procNeedShell(t)
	trapBuild, trapReady := procShell(t, `sleep 30 & p=$!; trap 'kill $p; exit 0' TERM; echo ready; wait $p`, 0)
	stubBuild, stubReady := procShell(t, `trap '' TERM; echo ready; exec sleep 30`, 0)
	g, err := NewGroup("procs", GroupConfig{})
	require.NoError(t, err)
	cfg := Config{StopTimeout: procStopTimeout}
	_, err = g.Add("trapper", Process(trapBuild), cfg)
	require.NoError(t, err)
	_, err = g.Add("stubborn", Process(stubBuild), cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	procReady(t, trapReady)
	procReady(t, stubReady)
	start := time.Now()
	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-time.After(procWaitLimit):
		require.FailNow(t, "the shutdown did not finish")
	}
	assert.GreaterOrEqual(t, time.Since(start), procStopTimeout, "stubborn had its grace")
	rec := g.Record(time.Now())
	assert.Equal(t, OutcomeStopped, rec.Members[0].Shutdown, "trapper")
	assert.Equal(t, OutcomeKilled, rec.Members[1].Shutdown, "stubborn")
	assert.Zero(t, rec.Members[1].Slot.AbandonedTotal, "a process is killed, never abandoned")
	assert.True(t, rec.Members[1].Slot.LastExit.ExitedAt.Before(rec.Members[0].Slot.LastExit.ExitedAt) ||
		rec.Members[1].Slot.LastExit.ExitedAt.Equal(rec.Members[0].Slot.LastExit.ExitedAt), "stubborn, started last, stopped first")
}

// TestGroupRecordRestartsArePerformed: a restart decided and then undone
// by a shutdown during its backoff counts against the intensity (OTP's
// accounting) but not among the restarts the group performed.
func TestGroupRecordRestartsArePerformed(t *testing.T) {
	for _, strategy := range []Strategy{OneForOne, OneForAll} {
		t.Run(strategy.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newGHLog(t)
				g, err := NewGroup("app", ghRoot(l, GroupConfig{Strategy: strategy}))
				require.NoError(t, err)
				for _, id := range []string{"a", "b"} {
					_, err := g.Add(id, l.child(id), Config{Backoff: Backoff{Initial: time.Second, NoJitter: true}})
					require.NoError(t, err)
				}
				require.NoError(t, g.Start(t.Context(), time.Now()))
				looptest.Settle(t, g)
				l.end("a", errGH)
				looptest.Settle(t, g)
				looptest.Wait(t, g, time.Second) // the backoff is over: the restart is performed
				rec := g.Record(time.Now())
				assert.Equal(t, uint64(1), rec.Restarts)
				assert.Equal(t, uint64(1), rec.Members[0].Slot.Restarts)

				l.end("a", errGH)
				looptest.Settle(t, g) // decided: the backoff runs
				g.Shutdown(time.Now())
				looptest.Settle(t, g)
				require.True(t, g.Finished())
				rec = g.Record(time.Now())
				assert.Equal(t, uint64(1), rec.Restarts, "the second restart never happened")
				assert.Equal(t, uint64(1), rec.Members[0].Slot.Restarts)
				assert.Equal(t, 2, rec.Intensity.Used, "both count against the intensity, as in OTP")
			})
		})
	}
}

// TestGroupRecordNotStarted: a tree shut down before its members started
// gives each of them one outcome, not_started, nested groups included,
// and a nested group that never started ends stopped.
func TestGroupRecordNotStarted(t *testing.T) {
	build := func(t *testing.T, l *ghLog) *Group {
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		_, err = g.Add("db", l.child("db"), Config{ReadyTimeout: time.Minute}) // holds the rest back until ready
		require.NoError(t, err)
		_, err = g.Add("api", l.child("api"), Config{})
		require.NoError(t, err)
		jobs := ghSub(t, l, "jobs", GroupConfig{}, "mailer")
		cron := ghSub(t, l, "cron", GroupConfig{}, "nightly")
		require.NoError(t, jobs.AddGroup(cron))
		require.NoError(t, g.AddGroup(jobs))
		return g
	}
	check := func(t *testing.T, rec GroupRecord, db ShutdownOutcome) {
		assert.Equal(t, GroupStopped, rec.State)
		assert.Equal(t, db, rec.Members[0].Shutdown, "db")
		assert.Equal(t, OutcomeNotStarted, rec.Members[1].Shutdown, "api")
		jobs := rec.Members[2]
		assert.Equal(t, OutcomeNotStarted, jobs.Shutdown, "jobs")
		assert.Equal(t, GroupStopped, jobs.Group.State, "a nested group that never started ends stopped")
		assert.Equal(t, OutcomeNotStarted, jobs.Group.Members[0].Shutdown, "mailer")
		cron := jobs.Group.Members[1]
		assert.Equal(t, OutcomeNotStarted, cron.Shutdown, "cron")
		assert.Equal(t, GroupStopped, cron.Group.State)
		assert.Equal(t, OutcomeNotStarted, cron.Group.Members[0].Shutdown, "nightly")
	}
	t.Run("before Start", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g := build(t, l)
			g.Shutdown(time.Now())
			require.True(t, g.Finished())
			check(t, g.Record(time.Now()), OutcomeNotStarted)
			assert.Empty(t, l.take(), "nothing started")
		})
	})
	t.Run("during the start in order", func(t *testing.T) {
		synctest.Test(t, func(t *testing.T) {
			l := newGHLog(t)
			g := build(t, l)
			require.NoError(t, g.Start(t.Context(), time.Now()))
			looptest.Settle(t, g) // db runs, not ready: the rest wait
			g.Shutdown(time.Now())
			looptest.Settle(t, g)
			require.True(t, g.Finished())
			check(t, g.Record(time.Now()), OutcomeStopped)
			assert.Equal(t, []string{"start db", "stop db"}, l.take())
		})
	})
}

// TestGroupRecordLogValue: a group record's log value adds the
// reason and the error only when there are some.
func TestGroupRecordLogValue(t *testing.T) {
	r := GroupRecord{GroupID: "app", Path: "/app", State: GroupRunning}
	got := coreLogJSON(t, "group", r)
	assert.Equal(t, "/app", got["path"])
	assert.NotContains(t, got, "reason")
	assert.NotContains(t, got, "error")

	r.State, r.Reason, r.Err = GroupFailed, "intensity reached", "w failed: boom"
	got = coreLogJSON(t, "group", r)
	assert.Equal(t, "intensity reached", got["reason"])
	assert.Equal(t, "w failed: boom", got["error"])
}

// TestGroupRecordWithoutStacks: WithoutStacks leaves the stacks out
// of member slots at every depth, keeps members with neither a slot nor a
// group record as they are, and does not change the record it copies.
func TestGroupRecordWithoutStacks(t *testing.T) {
	panicked := func() *Record {
		return &Record{ChildID: "w", LastExit: &Exit{Kind: Panicked, PanicValue: "boom", Stack: "goroutine 1 [running]:\nmain.go:1"}}
	}
	inner := &GroupRecord{GroupID: "sub", Members: []MemberRecord{{ID: "w", Slot: panicked()}}}
	r := GroupRecord{GroupID: "app", Members: []MemberRecord{
		{ID: "w", Slot: panicked()},
		{ID: "sub", Group: inner},
		{ID: "bare"},
	}}
	bare := r.WithoutStacks()
	require.Len(t, bare.Members, 3)
	require.NotNil(t, bare.Members[0].Slot)
	assert.Empty(t, bare.Members[0].Slot.LastExit.Stack)
	assert.Equal(t, "boom", bare.Members[0].Slot.LastExit.PanicValue)
	require.NotNil(t, bare.Members[1].Group)
	assert.Empty(t, bare.Members[1].Group.Members[0].Slot.LastExit.Stack, "nested groups too")
	assert.Nil(t, bare.Members[2].Slot)
	assert.Nil(t, bare.Members[2].Group)
	assert.True(t, strings.HasPrefix(r.Members[0].Slot.LastExit.Stack, "goroutine"), "the original keeps its stack")
	assert.NotEmpty(t, inner.Members[0].Slot.LastExit.Stack)
}

// TestExitCountsTotal: Total adds every kind's count.
func TestExitCountsTotal(t *testing.T) {
	c := ExitCounts{Succeeded: 1, Failed: 2, Panicked: 4, Cancelled: 8, TimedOut: 16, Unhealthy: 32, Abandoned: 64}
	assert.Equal(t, uint64(127), c.Total())
}

// TestGroupRecordAllocsFlat: a group's record costs the same few
// allocations whatever the number of its member slots (their records and
// exit counts share one slab each), so a large tree's snapshot does not
// cost the loop allocations per member.
func TestGroupRecordAllocsFlat(t *testing.T) {
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

// TestSnapshotSharesWhatDidNotChange: a record built against the last
// snapshot shares every member record that did not change, and the whole
// member list when none did, so that a snapshot of a large tree allocates
// for what changed; a member that changed, or joined, gets its own.
func TestSnapshotSharesWhatDidNotChange(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("app", GroupConfig{SnapshotInterval: NoSnapshots})
		require.NoError(t, err)
		for _, id := range []string{"a", "b", "c", "d"} {
			_, err := g.Add(id, gdPark, Config{})
			require.NoError(t, err)
		}
		sub, err := NewGroup("sub", GroupConfig{Intensity: 3, Period: time.Minute})
		require.NoError(t, err)
		_, err = sub.Add("x", gdPark, Config{})
		require.NoError(t, err)
		require.NoError(t, g.AddGroup(sub))
		require.NoError(t, g.Start(t.Context(), time.Now()))
		defer func() {
			g.Shutdown(time.Now())
			for !g.Finished() {
				synctest.Wait()
				g.Advance(time.Now())
			}
		}()
		synctest.Wait()
		slots := func(r GroupRecord) map[string]*Record {
			m := map[string]*Record{}
			for _, x := range r.Members {
				m[x.ID] = x.Slot
			}
			return m
		}
		r1 := g.record(time.Now(), nil)
		assert.Len(t, r1.Members, cap(r1.Members), "the member list takes what it needs")
		time.Sleep(time.Second)
		r2 := g.record(time.Now(), &r1)
		assert.Same(t, &r1.Members[0], &r2.Members[0], "nothing changed: the member list is shared")
		assert.Same(t, r1.Members[4].Group, r2.Members[4].Group, "and the nested group's record")
		assert.Equal(t, time.Second, r2.ObservedAt.Sub(r1.ObservedAt), "the group's own record is taken anew")
		now := time.Now()
		assert.Zero(t, testing.AllocsPerRun(20, func() { _ = g.record(now, &r2) }))

		require.NoError(t, g.Remove("b", time.Now()))
		_, err = g.Add("e", gdPark, Config{})
		require.NoError(t, err)
		synctest.Wait()
		g.Advance(time.Now())
		require.NoError(t, g.Slot("c").Pause(time.Now()))
		synctest.Wait()
		g.Advance(time.Now())
		r3 := g.record(time.Now(), &r2)
		assert.Len(t, r3.Members, cap(r3.Members))
		was, is := slots(r2), slots(r3)
		assert.Same(t, was["a"], is["a"])
		assert.Same(t, was["d"], is["d"], "found past the member removed")
		assert.NotSame(t, was["c"], is["c"], "paused: a record of its own")
		assert.Equal(t, OperationPaused, is["c"].Operation)
		assert.NotContains(t, is, "b")
		require.Contains(t, is, "e")
		assert.Equal(t, fgUntimed(g.Record(time.Now())), fgUntimed(r3), "it says what a record from nothing says")
	})
}
