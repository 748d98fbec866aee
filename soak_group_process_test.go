package supervisor

import (
	"context"
	"os/exec"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The tree soak over real processes (TestSoakTree's process run): the tree
// soak_group_test.go builds, with members that run shell children.

// Settings of the tree soak's real-time phase with process children.
const (
	soakTreeProcAttempts = 150                    // attempts of the whole small tree
	soakTreeProcStop     = 100 * time.Millisecond // every member's StopTimeout
	soakTreeProcSlack    = 3 * time.Second        // what a loaded machine may add to the bound in real time
)

// newSoakTreeProcesses builds the real-time tree: a root (no intensity)
// over svc (one_for_all: a restart stops its nested group sh too, killing
// its processes), holding sh (rest_for_one) and the goroutine slot w. sh
// holds three /bin/sh children (one that exits 0, one that exits 3, one
// that ignores SIGTERM and is killed at its StopTimeout) and a goroutine
// child. w, whose group never starts afresh, takes the pauses.
func newSoakTreeProcesses(t *testing.T) *stTree {
	tr := &stTree{children: newSTChildren(), byPath: map[string]*stGroup{}, bySlot: map[string]*soakSlot{},
		stopOf: map[string]time.Duration{}, cmdEvents: map[string]*CommandRecord{}}
	tr.root = tr.addGroup(t, "procs", 0, GroupConfig{Intensity: NoIntensity, OnEvent: tr.onEvent}, true)
	svc := tr.addGroup(t, "svc", 1, GroupConfig{Strategy: OneForAll, Intensity: NoIntensity}, true)
	sh := tr.addGroup(t, "sh", 2, GroupConfig{Strategy: RestForOne, Intensity: NoIntensity}, false)
	shell := func(script string) ChildFunc {
		return Process(func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "/bin/sh", "-c", script) })
	}
	proc := Config{StopTimeout: soakTreeProcStop, AttemptTimeout: time.Second, RestartLimit: 1 << 20,
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
	gor := proc
	gor.HeartbeatTimeout = soakTreeHeartbeat
	var procs []*soakSlot
	for _, c := range []struct{ id, script string }{
		{"ok", "exec sleep 0.05"},
		{"bad", "sleep 0.1; exit 3"},
		{"stubborn", "trap '' TERM; exec sleep 30"},
	} {
		tr.addSlot(t, sh, c.id, shell(c.script), proc, false)
		procs = append(procs, tr.slots[len(tr.slots)-1])
	}
	tr.addSlot(t, sh, "go", tr.children.child, gor, false)
	tr.addSlot(t, svc, "w", tr.children.child, gor, true)
	require.NoError(t, svc.AddGroup(sh))
	require.NoError(t, tr.root.AddGroup(svc))
	tr.index()
	for _, ss := range procs {
		tr.stopOf[ss.s.cfg.Path] = 2 * soakTreeProcStop
	}
	return tr
}

// runSoakTreeProcesses runs the real-time tree under Run, with an operator
// goroutine sending commands, for soakTreeProcAttempts attempts, shuts it
// down, and checks its counts as the bubble phase does. Every wait is
// bounded.
func runSoakTreeProcesses(t *testing.T) stFigures {
	origin := time.Now()
	tr := newSoakTreeProcesses(t)
	var f stFigures
	ops := tr.drive(t, soakTreeProcAttempts, &f)
	tr.windDownReal(t)
	now := time.Now()
	for _, ss := range tr.slots {
		tr.verifySlot(t, ss, now, &f)
		r := ss.s.Record(now)
		if tr.stopOf[r.Path] == 2*soakTreeProcStop { // a process child
			assert.Zero(t, r.AbandonedTotal, "%s: a process is killed, never abandoned", r.Path)
		}
		t.Logf("tree soak: %-18s %4d attempts, %3d abandoned", r.Path, r.Attempt, r.AbandonedTotal)
	}
	for _, gr := range tr.groups {
		rec := gr.g.Record(now)
		require.True(t, gr.g.Finished(), rec.Path)
		// A restart is announced when decided and counted when performed: one a
		// shutdown or failure overtook during its backoff is announced only.
		// FuzzGroup's model checks the count exactly.
		require.LessOrEqual(t, rec.Restarts, uint64(gr.restarts), "%s: a group_restart event for each restart in the record", rec.Path)
		f.groupRestarts += rec.Restarts
		tr.verifyMembers(t, rec)
	}
	tr.verifyCommands(t, ops, &f)
	f.shutdownBound = tr.shutdownBound(tr.root.Record(now))
	assert.LessOrEqual(t, f.shutdown, f.shutdownBound+soakTreeProcSlack, "the ordered shutdown's bound, and the slack of real time")
	assert.Positive(t, tr.kills.Load(), "no process was killed")
	t.Logf("tree soak: %d process exits by SIGKILL", tr.kills.Load())
	f.fakeTime = time.Since(origin)
	return f
}

// windDownReal is windDown in real time: it releases every hung child and
// advances the finished tree until every child has returned and every late
// return is recorded, for at most procWaitLimit.
func (tr *stTree) windDownReal(t *testing.T) {
	now := time.Now()
	for _, ss := range tr.slots {
		require.False(t, ss.s.Record(now).Active, "%s runs after the shutdown", ss.s.ID())
	}
	close(tr.children.releaseAll)
	limit := time.NewTimer(procWaitLimit)
	defer limit.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for tr.children.running.Load() > 0 || tr.reaping() {
		select {
		case <-tr.root.Wake():
		case <-tick.C:
		case <-limit.C:
			require.FailNow(t, "the released children did not all return")
		}
		tr.root.Advance(time.Now())
	}
}

// reaping reports whether some slot still waits for an abandoned attempt.
func (tr *stTree) reaping() bool {
	now := time.Now()
	for _, ss := range tr.slots {
		if ss.s.Record(now).Abandoned > 0 {
			return true
		}
	}
	return false
}
