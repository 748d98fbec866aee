package groupmodel

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var perm = SlotConfig{Limit: 3, Window: time.Minute, StopTimeout: time.Second}

// tree3 returns a started root of strategy s with permanent slots a, b, c.
func tree3(t *testing.T, cfg GroupConfig) *Tree {
	t.Helper()
	tr := New("app", cfg)
	for _, id := range []string{"a", "b", "c"} {
		require.True(t, tr.AddSlot("/app", id, perm, 0))
	}
	tr.Start(0)
	return tr
}

func attempts(tr *Tree) []uint64 {
	var out []uint64
	for _, m := range tr.View().Members {
		out = append(out, m.Slot.Attempt)
	}
	return out
}

func TestStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		cancels  []ChildRef
		attempts []uint64
	}{
		{"one_for_one", OneForOne, nil, []uint64{1, 2, 1}},
		{"one_for_all", OneForAll, []ChildRef{{"/app/c", 1}, {"/app/a", 1}}, []uint64{2, 2, 2}},
		{"rest_for_one", RestForOne, []ChildRef{{"/app/c", 1}}, []uint64{1, 2, 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			tr := tree3(t, GroupConfig{Strategy: tt.strategy})
			require.True(t, tr.Return("/app/b", true, false, 0))
			assert.Equal(t, tt.cancels, tr.TakeCancels(), "stopped in reverse start order")
			assert.Equal(t, tt.attempts, attempts(tr))
			v := tr.View()
			assert.Equal(t, Running, v.State)
			assert.Equal(t, uint64(1), v.Restarts, "one failure, one group restart")
			assert.Equal(t, uint64(1), v.Members[1].Slot.Kinds[Failed])
			assert.Equal(t, 1, v.Members[1].Slot.Used, "only the failed member's budget")
			assert.Equal(t, 0, v.Members[0].Slot.Used)
		})
	}
}

func TestIntensityFailsTheGroup(t *testing.T) {
	tr := tree3(t, GroupConfig{Intensity: 2, Period: 5 * time.Second})
	for i := range 2 {
		require.True(t, tr.Return("/app/b", true, false, time.Duration(i)*time.Second))
	}
	tr.TakeCancels()
	tr.Return("/app/b", true, false, 2*time.Second)
	assert.Equal(t, []ChildRef{{"/app/c", 1}, {"/app/a", 1}}, tr.TakeCancels())
	assert.True(t, tr.Finished())
	assert.True(t, tr.Failed())
	assert.Equal(t, GroupFailed, tr.View().State)
	assert.Equal(t, uint64(2), tr.View().Restarts)
}

func TestStubbornMemberIsAbandoned(t *testing.T) {
	tr := tree3(t, GroupConfig{Strategy: OneForAll})
	tr.Ignore("/app/c", 0)
	tr.Return("/app/a", true, false, 0)
	assert.Equal(t, []ChildRef{{"/app/c", 1}}, tr.TakeCancels(), "b waits while c has not stopped")
	assert.Equal(t, []ChildRef{{"/app/c", 1}}, tr.Stubborn())
	tr.Sleep(time.Second)
	assert.Equal(t, []ChildRef{{"/app/b", 1}}, tr.TakeCancels())
	assert.Equal(t, []uint64{2, 2, 2}, attempts(tr))
	assert.Equal(t, uint64(1), tr.View().Members[2].Slot.Kinds[Abandoned])
	assert.True(t, tr.Release(ChildRef{"/app/c", 1}, time.Second), "the abandoned child returns late")
	assert.Empty(t, tr.Stubborn())
}

func TestOperatorStoppedMembersAreNotRevived(t *testing.T) {
	tr := tree3(t, GroupConfig{Strategy: OneForAll})
	assert.Equal(t, OK, tr.SlotControl("/app/b", Pause, 0))
	assert.Equal(t, Noop, tr.SlotControl("/app/b", Pause, 0))
	assert.Equal(t, Refused, tr.Command(CmdPause, "/app/b", 0), "a command that changes nothing is refused")
	assert.Equal(t, OK, tr.SlotControl("/app/c", Quarantine, 0))
	tr.Return("/app/a", true, false, 0)
	assert.Equal(t, []uint64{2, 1, 1}, attempts(tr))
	assert.Equal(t, OK, tr.Command(CmdResume, "/app/b", 0))
	assert.Equal(t, []uint64{2, 2, 1}, attempts(tr))
	assert.Equal(t, Unknown, tr.Command(CmdPause, "/app/nobody", 0))
}

func TestSignificantAndTemporary(t *testing.T) {
	tr := New("app", GroupConfig{AutoShutdown: AllSignificant})
	require.True(t, tr.AddSlot("/app", "server", perm, 0))
	sig := perm
	sig.Restart, sig.Significant = Transient, true
	require.True(t, tr.AddSlot("/app", "s1", sig, 0))
	sig.Restart = Temporary
	require.True(t, tr.AddSlot("/app", "s2", sig, 0))
	tr.Start(0)
	tr.Return("/app/s2", false, false, 0)
	assert.Len(t, tr.View().Members, 2, "a temporary member that ends leaves")
	assert.Equal(t, Running, tr.View().State)
	tr.Return("/app/s1", true, false, 0)
	assert.Equal(t, Running, tr.View().State, "abnormal: a transient member restarts")
	tr.Return("/app/s1", false, false, 0)
	assert.True(t, tr.Finished())
	assert.False(t, tr.Failed())
	assert.Equal(t, []ChildRef{{"/app/server", 1}}, tr.TakeCancels())
	assert.Equal(t, OutcomeStopped, tr.View().Members[0].Shutdown)
	assert.Equal(t, OutcomeAlreadyStopped, tr.View().Members[1].Shutdown)
}

func TestEscalation(t *testing.T) {
	tr := New("app", GroupConfig{Strategy: OneForAll, Intensity: 5, Period: time.Minute})
	require.True(t, tr.AddSlot("/app", "db", perm, 0))
	require.True(t, tr.AddGroup("/app", "jobs", GroupConfig{Intensity: 1, Period: time.Minute}, 0))
	require.True(t, tr.AddSlot("/app/jobs", "x", perm, 0))
	require.True(t, tr.AddSlot("/app/jobs", "y", perm, 0))
	require.True(t, tr.AddSlot("/app", "api", perm, 0))
	tr.Start(0)
	tr.Return("/app/jobs/x", true, false, 0)
	assert.Empty(t, tr.TakeCancels(), "the nested group's own restart")
	tr.Return("/app/jobs/y", true, false, 0)
	assert.Equal(t, []ChildRef{{"/app/jobs/x", 2}, {"/app/api", 1}, {"/app/db", 1}}, tr.TakeCancels())
	v := tr.View()
	assert.Equal(t, uint64(1), v.Restarts, "the escalation counts once in the parent")
	assert.Equal(t, 0, v.Members[1].Group.Used, "a restarted group starts with a fresh budget")
	assert.Equal(t, Running, v.Members[1].Group.State)
	tr.Shutdown("/app", 0)
	assert.Equal(t, []ChildRef{{"/app/api", 2}, {"/app/jobs/y", 2}, {"/app/jobs/x", 3}, {"/app/db", 2}}, tr.TakeCancels(),
		"nested groups depth-first")
}

func TestRemoveAndAdd(t *testing.T) {
	tr := tree3(t, GroupConfig{Strategy: RestForOne})
	assert.Equal(t, OK, tr.RemoveMember("/app/a", 0))
	assert.Equal(t, Unknown, tr.RemoveMember("/app/a", 0))
	assert.Len(t, tr.View().Members, 2)
	require.True(t, tr.AddSlot("/app", "d", perm, 0))
	assert.Equal(t, uint64(1), tr.View().Members[2].Slot.Attempt, "added after Start: starts at once")
	tr.Shutdown("/app", 0)
	assert.False(t, tr.AddSlot("/app", "e", perm, 0), "a group that shuts down takes nobody")
}

func TestDirectives(t *testing.T) {
	tr := tree3(t, GroupConfig{Strategy: OneForAll, Intensity: 1, Period: time.Minute})
	require.True(t, tr.ReturnDirective("/app/b", DoNotRestart, 0))
	assert.Empty(t, tr.TakeCancels(), "no restart: nothing stops")
	assert.Equal(t, []uint64{1, 1, 1}, attempts(tr), "a permanent member that returned ErrDoNotRestart stays down")
	v := tr.View()
	assert.Equal(t, uint64(1), v.Members[1].Slot.Kinds[Failed], "its exit is still a failure")
	assert.Equal(t, Running, v.State)
	assert.Equal(t, 0, v.Used, "the intensity is not asked")

	require.True(t, tr.ReturnDirective("/app/a", FailGroup, 0))
	assert.Equal(t, []ChildRef{{"/app/c", 1}}, tr.TakeCancels(), "the group stops what still runs")
	assert.True(t, tr.Finished())
	assert.True(t, tr.Failed())
	v = tr.View()
	assert.Equal(t, GroupFailed, v.State)
	assert.Equal(t, 0, v.Used, "ErrFailGroup neither consults nor counts the intensity")
	assert.Equal(t, uint64(0), v.Restarts)
}

func TestDirectiveOfTemporaryMember(t *testing.T) {
	tr := New("app", GroupConfig{AutoShutdown: AnySignificant})
	require.True(t, tr.AddSlot("/app", "a", perm, 0))
	tmp := perm
	tmp.Restart, tmp.Significant = Temporary, true
	require.True(t, tr.AddSlot("/app", "b", tmp, 0))
	tr.Start(0)
	tr.ReturnDirective("/app/b", DoNotRestart, 0)
	assert.Len(t, tr.View().Members, 1, "a temporary member leaves")
	assert.True(t, tr.Finished(), "a significant member's end shuts its group down")
	assert.False(t, tr.Failed())
}

func TestConcurrentStop(t *testing.T) {
	tr := tree3(t, GroupConfig{Strategy: OneForAll, Concurrent: true})
	tr.Ignore("/app/c", 0)
	tr.Return("/app/a", true, false, 0)
	assert.Equal(t, []ChildRef{{"/app/c", 1}, {"/app/b", 1}}, tr.TakeCancels(),
		"every member of the scope cancelled at once: b does not wait for c")
	assert.Equal(t, Restarting, tr.View().State, "the walk waits for all of them")
	assert.Equal(t, []uint64{1, 1, 1}, attempts(tr))
	tr.Sleep(time.Second)
	assert.Equal(t, []uint64{2, 2, 2}, attempts(tr), "c abandoned at its StopTimeout: the starts begin")
	assert.Equal(t, uint64(1), tr.View().Members[2].Slot.Kinds[Abandoned])

	tr.Ignore("/app/b", time.Second)
	tr.Shutdown("/app", time.Second)
	assert.Equal(t, []ChildRef{{"/app/c", 2}, {"/app/b", 2}, {"/app/a", 2}}, tr.TakeCancels())
	assert.False(t, tr.Finished(), "held by b")
	tr.Sleep(2 * time.Second)
	assert.True(t, tr.Finished())
	v := tr.View()
	assert.Equal(t, []Outcome{OutcomeStopped, OutcomeAbandoned, OutcomeStopped},
		[]Outcome{v.Members[0].Shutdown, v.Members[1].Shutdown, v.Members[2].Shutdown})
}

func TestMaxChildren(t *testing.T) {
	tr := New("app", GroupConfig{MaxChildren: 2})
	require.True(t, tr.AddSlot("/app", "a", perm, 0))
	require.True(t, tr.AddSlot("/app", "b", perm, 0))
	assert.True(t, tr.Full("/app"))
	assert.False(t, tr.AddSlot("/app", "c", perm, 0))
	tr.Start(0)
	tr.Ignore("/app/a", 0)
	require.Equal(t, OK, tr.RemoveMember("/app/a", 0))
	assert.True(t, tr.Full("/app"), "a member leaving counts until gone")
	tr.Sleep(time.Second)
	assert.False(t, tr.Full("/app"))
	assert.True(t, tr.AddSlot("/app", "c", perm, time.Second))
	tr.Shutdown("/app", time.Second)
	assert.False(t, tr.Full("/app"), "a group that shuts down refuses for that, not for its bound")
}

func TestShutdownTimeout(t *testing.T) {
	tr := New("app", GroupConfig{ShutdownTimeout: 1500 * time.Millisecond})
	require.True(t, tr.AddSlot("/app", "a", perm, 0))
	require.True(t, tr.AddGroup("/app", "jobs", GroupConfig{}, 0))
	require.True(t, tr.AddSlot("/app/jobs", "x", perm, 0))
	require.True(t, tr.AddSlot("/app", "b", perm, 0))
	tr.Start(0)
	tr.Ignore("/app/b", 0)
	tr.Ignore("/app/jobs/x", 0)
	tr.Shutdown("/app", 0)
	assert.Equal(t, []ChildRef{{"/app/b", 1}}, tr.TakeCancels())
	tr.Sleep(time.Second)
	assert.Equal(t, []ChildRef{{"/app/jobs/x", 1}}, tr.TakeCancels(), "b abandoned at its StopTimeout; the nested group's turn")
	tr.Sleep(1500 * time.Millisecond)
	assert.Equal(t, []ChildRef{{"/app/a", 1}}, tr.TakeCancels(), "at the bound, a is cancelled and abandoned at once")
	assert.True(t, tr.Finished())
	v := tr.View()
	assert.Equal(t, OutcomeAbandoned, v.Members[0].Shutdown)
	assert.Equal(t, OutcomeAbandoned, v.Members[1].Group.Members[0].Shutdown, "nested groups are forced too")
	assert.Equal(t, OutcomeAbandoned, v.Members[2].Shutdown)
	assert.Equal(t, []ChildRef{{"/app/b", 1}, {"/app/jobs/x", 1}}, tr.Stubborn(), "abandoned, they still run")
}

func TestDynamicMemberLeaves(t *testing.T) {
	tr := tree3(t, GroupConfig{MaxChildren: 4})
	require.True(t, tr.StartChild("/app", "d", perm, 0))
	assert.True(t, tr.Started("/app/d"), "a running group starts it at once")
	assert.True(t, tr.Full("/app"))
	tr.Return("/app/d", true, false, 0)
	assert.Len(t, tr.View().Members, 4, "a permanent dynamic member that failed restarts")
	tr.ReturnDirective("/app/d", DoNotRestart, 0)
	assert.Len(t, tr.View().Members, 3, "one that ends for good leaves, freeing its place")
	assert.False(t, tr.Full("/app"))
	tr.ReturnDirective("/app/c", DoNotRestart, 0)
	assert.Len(t, tr.View().Members, 3, "a member Add made stays")
}
