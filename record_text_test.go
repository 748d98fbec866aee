package supervisor_test

import (
	"bytes"
	"errors"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor"
)

// TestWriteOutcomes: one line per member, last started first, a nested
// group's members below it, the last exit and the latest command.
func TestWriteOutcomes(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	rec := supervisor.GroupRecord{Path: "/app", Members: []supervisor.MemberRecord{
		{ID: "db", Shutdown: supervisor.OutcomeStopped, Slot: &supervisor.Record{Attempt: 2, LastExit: &supervisor.Exit{
			Kind: supervisor.Cancelled, Attempt: 2, Reason: "cancelled: group shutting down", StartedAt: t0, ExitedAt: t0.Add(2200 * time.Millisecond),
		}}},
		{ID: "jobs", Shutdown: supervisor.OutcomeStopped, Group: &supervisor.GroupRecord{
			Path: "/app/jobs", Strategy: supervisor.OneForAll, Restarts: 1,
			Members: []supervisor.MemberRecord{{ID: "x", Shutdown: supervisor.OutcomeAlreadyStopped, Slot: &supervisor.Record{}}},
		}},
		{ID: "api", Shutdown: supervisor.OutcomeAbandoned, Slot: &supervisor.Record{Attempt: 1},
			LastCommand: &supervisor.CommandRecord{Command: supervisor.Command{Op: supervisor.CommandPause, Requester: "alice", Reason: "demo"}, Error: "refused"}},
	}}
	var b bytes.Buffer
	require.NoError(t, rec.WriteOutcomes(&b))
	assert.Equal(t, ""+
		"  /app/api               abandoned        attempts 1; last: no exit; last command: pause by alice (demo), refused: refused\n"+
		"  /app/jobs              stopped          one_for_all group, restarts 1\n"+
		"    /app/jobs/x          already_stopped  attempts 0; last: no exit\n"+
		"  /app/db                stopped          attempts 2; last: attempt 2 was cancelled after 2.2s: cancelled: group shutting down\n",
		b.String())
	assert.Error(t, rec.WriteOutcomes(failingWriter{}))
}

type failingWriter struct{}

func (failingWriter) Write([]byte) (int, error) { return 0, errors.New("disk full") }

// TestWriteOutcomesEscapes: an operator's reason cannot forge a line of
// the summary.
func TestWriteOutcomesEscapes(t *testing.T) {
	r := supervisor.GroupRecord{Path: "/app", Members: []supervisor.MemberRecord{{
		ID: "db", Shutdown: supervisor.OutcomeStopped, Slot: &supervisor.Record{Attempt: 1},
		LastCommand: &supervisor.CommandRecord{Command: supervisor.Command{
			Op: supervisor.CommandPause, Requester: "op", Reason: "x\n/app/forged stopped"}},
	}}}
	var b bytes.Buffer
	require.NoError(t, r.WriteOutcomes(&b))
	assert.Equal(t, 1, bytes.Count(b.Bytes(), []byte("\n")), b.String())
	assert.Contains(t, b.String(), `(x\n/app/forged stopped)`)
}
