package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestResumeAfterGroupRestart pins a bug the tree soak found
// (fixed: a group's context is never cancelled, so no slot keeps a dead
// one) (the whole tree ended up quarantined): a member slot that is
// paused or quarantined when its group ends and starts afresh (its parent
// restarts it after it failed or shut down on its own, or an operator
// restarts it) keeps, as its parent context, the context of the group's
// previous run, which the group cancelled when it stopped. The group's
// restart rightly does not revive the slot, but neither can an operator
// afterwards: Resume (and Restart) refuse with "parent context done"
// forever.
func TestResumeAfterGroupRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		root := ghGroup(t, l, "app", GroupConfig{})
		sub := ghSub(t, l, "jobs", GroupConfig{}, "x", "y")
		require.NoError(t, root.AddGroup(sub))
		require.NoError(t, root.Start(t.Context(), time.Now()))
		looptest.Settle(t, root)
		do := func(op CommandOp, path string) CommandRecord {
			t.Helper()
			done, err := root.Submit(Command{Op: op, Path: path, Requester: "soak", Reason: "repro"})
			require.NoError(t, err)
			looptest.Settle(t, root)
			return <-done
		}
		require.NoError(t, do(CommandQuarantine, "/app/jobs/x").Err)
		require.NoError(t, do(CommandRestart, "/app/jobs").Err)
		require.Equal(t, GroupRunning, sub.State())
		x := sub.Slot("x")
		require.Equal(t, OperationQuarantined, x.Operation(), "a group restart does not revive a quarantined member")

		r := do(CommandResume, "/app/jobs/x")
		assert.NoError(t, r.Err, "an operator resumes it")
		assert.Equal(t, OperationActive, x.Operation())
		assert.True(t, x.Record(time.Now()).Active, "it runs again")
		root.Shutdown(time.Now())
		looptest.Settle(t, root)
	})
}
