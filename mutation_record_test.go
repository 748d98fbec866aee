package supervisor

import (
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests that kill mutants gremlins found alive or never ran (see
// RELIABILITY.md, "Mutation testing"): the text and log forms of records
// and events.

// TestMutationStatusLineCounts: the systemd STATUS= line counts a tree's
// member slots, nested groups included, each under the first of
// quarantined, paused, up, restarting, stopped that fits, and sums every
// group's restarts.
func TestMutationStatusLineCounts(t *testing.T) {
	at := time.Unix(100, 0)
	slot := func(op Operation, st Status) MemberRecord {
		return MemberRecord{ID: "x", Slot: &Record{Operation: op, Status: st}}
	}
	restarting := slot(OperationActive, StatusStopped)
	restarting.Slot.NextRestartAt = &at
	pending := slot(OperationActive, StatusStopped)
	pending.Slot.PendingRestart = &PendingRestart{}
	// A paused slot still running counts as paused; a cancelled one that
	// has not returned, and is due to restart, as restarting.
	cancelling := slot(OperationActive, StatusCancelling)
	cancelling.Slot.NextRestartAt = &at
	sub := &GroupRecord{Path: "/app/sub", Restarts: 2, Members: []MemberRecord{
		slot(OperationQuarantined, StatusStopped),
		slot(OperationPaused, StatusRunning),
		slot(OperationActive, StatusReady),
	}}
	rec := &GroupRecord{Path: "/app", State: GroupRunning, Restarts: 1, Members: []MemberRecord{
		slot(OperationActive, StatusRunning),
		slot(OperationActive, StatusStarting),
		slot(OperationPaused, StatusStopped),
		restarting,
		pending,
		cancelling,
		slot(OperationActive, StatusStopped),
		slot(OperationActive, StatusStopped),
		slot(OperationActive, StatusStopped), // three: as many stopped as restarting would hide a swap
		{ID: "sub", Group: sub},
	}}
	assert.Equal(t, "/app running: 3 up, 3 restarting, 2 paused, 1 quarantined, 3 stopped; 3 group restarts",
		statusLine(rec))
	assert.Equal(t, "/app running: 0 up; 0 group restarts",
		statusLine(&GroupRecord{Path: "/app", State: GroupRunning}), "only the up count is always there")
}

// TestMutationEventStringGroupRestart: a group restart's one-line form
// names the member that failed and the restart's scope; other kinds carry
// their reason.
func TestMutationEventStringGroupRestart(t *testing.T) {
	e := Event{ChildID: "app", Kind: EventGroupRestart, Member: "b", Scope: []string{"b", "c"}}
	assert.Equal(t, "app: "+EventGroupRestart.String()+" after b failed: b, c", e.String())
	e = Event{ChildID: "w", Kind: EventPaused, Reason: "maintenance"}
	assert.Equal(t, "w: "+EventPaused.String()+": maintenance", e.String())
	e = Event{ChildID: "w", Kind: EventPaused}
	assert.Equal(t, "w: "+EventPaused.String(), e.String(), "no reason, nothing after the kind")
}

// TestMutationEventLogValueCommandError: a command event's log value has
// the command's error only when it failed.
func TestMutationEventLogValueCommandError(t *testing.T) {
	cmd := &CommandRecord{Command: Command{Op: CommandRestart, Path: "/app/w", Requester: "ops"}, Seq: 4}
	e := Event{ChildID: "w", Kind: EventCommand, Command: cmd}
	got := coreLogJSON(t, "event", e)
	assert.Equal(t, "ops", got["requester"])
	assert.EqualValues(t, 4, got["seq"])
	assert.NotContains(t, got, "error", "a command carried out has no error")

	failed := *cmd
	failed.Error = "member is removed"
	e.Command = &failed
	assert.Equal(t, "member is removed", coreLogJSON(t, "event", e)["error"])
}

// TestMutationGroupRecordLogValue: a group record's log value adds the
// reason and the error only when there are some.
func TestMutationGroupRecordLogValue(t *testing.T) {
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

// TestMutationGroupRecordWithoutStacks: WithoutStacks leaves the stacks out
// of member slots at every depth, keeps members with neither a slot nor a
// group record as they are, and does not change the record it copies.
func TestMutationGroupRecordWithoutStacks(t *testing.T) {
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

// TestMutationEventLogValueMemberScope: a group event's log value has the
// member and the scope only when the event has them.
func TestMutationEventLogValueMemberScope(t *testing.T) {
	got := coreLogJSON(t, "event", Event{ChildID: "app", Kind: EventGroupRestart, Member: "b", Scope: []string{"b", "c"}})
	assert.Equal(t, "b", got["member"])
	assert.Equal(t, []any{"b", "c"}, got["scope"])
	got = coreLogJSON(t, "event", Event{ChildID: "w", Kind: EventStarted})
	assert.NotContains(t, got, "member")
	assert.NotContains(t, got, "scope")
}

// TestMutationExitStringKindPastVerbs: an exit kind just past the known
// ones reads as its kind's text, without a panic.
func TestMutationExitStringKindPastVerbs(t *testing.T) {
	k := ExitKind(len(exitVerbs))
	var s string
	require.NotPanics(t, func() { s = Exit{Attempt: 2, Kind: k}.String() })
	assert.True(t, strings.HasPrefix(s, "attempt 2 "+k.String()), s)
}

// TestMutationExitCountsTotal: Total adds every kind's count.
func TestMutationExitCountsTotal(t *testing.T) {
	c := ExitCounts{Succeeded: 1, Failed: 2, Panicked: 4, Cancelled: 8, TimedOut: 16, Unhealthy: 32, Abandoned: 64}
	assert.Equal(t, uint64(127), c.Total())
}
