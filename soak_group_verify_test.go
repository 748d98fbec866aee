package supervisor

import (
	"errors"
	"fmt"
	"strconv"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// What the tree soak (soak_group_test.go) checks once the tree has wound
// down: each slot's and group's figures, the commands, the shutdown bound.

// verify checks that every count of every record adds up, slot by slot and
// group by group, and sums the figures.
func (tr *stTree) verify(t *testing.T, f *stFigures) {
	now := time.Now()
	for _, ss := range tr.slots {
		tr.verifySlot(t, ss, now, f)
	}
	inTree := 0
	for _, gr := range tr.groups {
		rec := gr.g.Record(now)
		require.True(t, gr.g.Finished(), "%s: finished", rec.Path)
		// A restart is announced when decided and counted when performed: one a
		// shutdown or failure overtook during its backoff is announced only.
		// FuzzGroup's model checks the count exactly.
		require.LessOrEqual(t, rec.Restarts, uint64(gr.restarts), "%s: a group_restart event for each restart in the record", rec.Path)
		f.groupRestarts += rec.Restarts
		f.failed[gr.level] += gr.failed
		f.auto[gr.level] += gr.auto
		inTree += tr.verifyMembers(t, rec)
	}
	assert.Equal(t, GroupStopped, tr.root.State())
	assert.NoError(t, tr.root.Err())
	f.shutdownBound = tr.shutdownBound(tr.root.Record(now))
	assert.LessOrEqual(t, f.shutdown, f.shutdownBound, "the ordered shutdown's bound")
	t.Logf("tree soak: %d groups, %d slots, %d of them still members at the end", len(tr.groups), len(tr.slots), inTree)
	f.hangsReturned(t, tr.children)
	require.Positive(t, f.abandoned, "the soak abandoned nothing: it tested nothing")
	require.Positive(t, f.failed[1], "no mid group failed: escalation untested")
	require.Positive(t, f.failed[2], "no leaf group failed: escalation untested")
	require.Positive(t, f.auto[2], "no automatic shutdown")
}

// hangsReturned checks that every attempt's child returned exactly once.
func (f *stFigures) hangsReturned(t *testing.T, c *stChildren) {
	require.Equal(t, int64(f.attempts), c.returned.Load(), "every attempt's child returned exactly once")
}

// verifySlot checks one slot's record against its events.
func (tr *stTree) verifySlot(t *testing.T, ss *soakSlot, now time.Time, f *stFigures) {
	r := ss.s.Record(now)
	id := r.Path
	require.False(t, r.Active, "%s still holds an attempt", id)
	require.Equal(t, r.Attempt, r.Exits, "%s: attempt == exits + active", id)
	require.Zero(t, r.Abandoned, "%s: every abandoned attempt returned", id)
	require.Equal(t, r.AbandonedTotal, r.StaleReports, "%s: one stale report per abandoned attempt", id)
	require.Equal(t, int(r.Attempt), ss.started, "%s: one started event per attempt", id)
	require.Equal(t, int(r.Exits), ss.exits, "%s: one exit event per exit", id)
	require.Len(t, ss.abandoned, int(r.AbandonedTotal), id)
	for n, c := range ss.abandoned {
		require.Equal(t, 1, c, "%s: attempt %d abandoned once", id, n)
		require.Equal(t, 1, ss.stale[n], "%s: attempt %d reported late exactly once", id, n)
	}
	require.Len(t, ss.stale, len(ss.abandoned), "%s: no stale report without an abandonment", id)
	f.attempts += r.Attempt
	f.exits += r.Exits
	f.abandoned += r.AbandonedTotal
	f.stale += r.StaleReports
	for k, n := range ss.kinds {
		f.kinds[k] += n
	}
}

// verifyMembers checks the member records of group record rec: a slot's
// exit counts by kind add up to its exits and match its events, and every
// member has a shutdown outcome. It returns how many slots it checked.
func (tr *stTree) verifyMembers(t *testing.T, rec GroupRecord) int {
	slots := 0
	for _, m := range rec.Members {
		assert.NotZero(t, m.Shutdown, "%s/%s: a shutdown outcome", rec.Path, m.ID)
		if m.Slot == nil {
			continue
		}
		slots++
		ss := tr.bySlot[m.Slot.Path]
		require.NotNil(t, ss, m.Slot.Path)
		require.NotNil(t, m.Exits, m.Slot.Path)
		require.Equal(t, m.Slot.Exits, m.Exits.Total(), "%s: exit counts add up to exits", m.Slot.Path)
		got := [Abandoned + 1]int{
			Succeeded: int(m.Exits.Succeeded), Failed: int(m.Exits.Failed), Panicked: int(m.Exits.Panicked),
			Cancelled: int(m.Exits.Cancelled), TimedOut: int(m.Exits.TimedOut), Unhealthy: int(m.Exits.Unhealthy),
			Abandoned: int(m.Exits.Abandoned),
		}
		require.Equal(t, ss.kinds, got, "%s: exit counts by kind match the events", m.Slot.Path)
	}
	return slots
}

// shutdownBound returns the bound of the ordered shutdown of the tree whose
// record is rec. The shutdown is one walk: each group stops its members in
// reverse start order, one at a time, a nested group by its own walk
// (depth-first), and waits for each slot until it returns or its
// StopTimeout passes and it is abandoned; a group adds no wait of its own.
// Nothing runs in parallel, so the bound is the sum of the StopTimeouts of
// every slot the walk visits, not of those along the deepest path, which
// would bound a shutdown that stopped siblings at once.
func (tr *stTree) shutdownBound(rec GroupRecord) time.Duration {
	var sum time.Duration
	for _, m := range rec.Members {
		switch {
		case m.Group != nil:
			sum += tr.shutdownBound(*m.Group)
		case m.Slot != nil:
			sum += tr.stopOf[m.Slot.Path]
		}
	}
	return sum
}

// stCommandFigures counts the operators' commands by how they ended.
type stCommandFigures struct {
	submitted, applied, refused, unknown, closed, queueFull int
	byOp, refusedByOp                                       [CommandShutdown + 1]int
}

// verifyCommands checks that every command submitted got one answer, that
// every command the loop applied appears in the events exactly once with
// the same sequence number and error, that the sequence numbers run from 1
// without a gap, and that each target's record holds its latest command.
func (tr *stTree) verifyCommands(t *testing.T, ops []*stOperator, f *stFigures) {
	c := &f.commands
	last := map[string]CommandRecord{} // target path -> latest command applied to it
	seqs := map[uint64]bool{}
	for _, op := range ops {
		c.queueFull += op.full
		for i, rec := range op.answers {
			c.submitted++
			ev := tr.cmdEvents[stCommandKey(rec.Command)]
			if rec.Seq == 0 { // answered by the tree's end, never applied
				require.ErrorIs(t, rec.Err, ErrGroupStopped, "%+v", rec.Command)
				require.Nil(t, ev, "%+v: a command never applied has no event", rec.Command)
				c.closed++
				continue
			}
			require.NotNil(t, ev, "%+v: in the events", rec.Command)
			require.Equal(t, rec.Seq, ev.Seq, "%+v", rec.Command)
			require.Equal(t, rec.Error, ev.Error, "%+v", rec.Command)
			require.False(t, seqs[rec.Seq], "seq %d answered twice", rec.Seq)
			seqs[rec.Seq] = true
			c.applied++
			c.byOp[rec.Op]++
			switch {
			case rec.Err == nil:
			case errors.Is(rec.Err, ErrUnknownMember): // a member that left its group
				c.unknown++
				continue
			default:
				require.ErrorIs(t, rec.Err, ErrCommandRefused, "%+v", rec.Command)
				c.refused++
				c.refusedByOp[rec.Op]++
				if rec.Op == CommandResume && i < op.calmFrom { // before the shutdown stopped their groups
					require.NotContains(t, rec.Error, "parent context done", "a steady slot lost its group's context")
				}
			}
			if rec.Seq > last[rec.Path].Seq {
				last[rec.Path] = rec
			}
		}
	}
	require.Zero(t, tr.cmdDup, "a command in the events twice")
	require.Len(t, tr.cmdEvents, c.applied, "a command event without its answer")
	require.True(t, seqs[uint64(c.applied)], "sequence numbers run from 1 without a gap")
	tr.verifyLastCommands(t, last)
	require.Positive(t, c.applied-c.refused-c.unknown, "no command carried out")
}

// verifyLastCommands checks that each slot and group still in the tree
// records, as its last command, the latest one applied to it.
func (tr *stTree) verifyLastCommands(t *testing.T, last map[string]CommandRecord) {
	now := time.Now()
	for _, gr := range tr.groups {
		rec := gr.g.Record(now)
		if want, ok := last[rec.Path]; ok {
			require.NotNil(t, rec.LastCommand, rec.Path)
			assert.Equal(t, want.Seq, rec.LastCommand.Seq, "%s: last command", rec.Path)
		}
		for _, m := range rec.Members {
			if m.Slot == nil {
				continue
			}
			if want, ok := last[m.Slot.Path]; ok {
				require.NotNil(t, m.LastCommand, m.Slot.Path)
				assert.Equal(t, want.Seq, m.LastCommand.Seq, "%s: last command", m.Slot.Path)
			}
		}
	}
}

// stSummary counts, in snapshot r, the groups by state and the slots by
// operation and status, for a stalled tree's report.
func stSummary(r *GroupRecord) string {
	groups, slots := map[string]int{}, map[string]int{}
	var walk func(r *GroupRecord, depth int)
	walk = func(r *GroupRecord, depth int) {
		groups[strconv.Itoa(depth)+":"+r.State.String()]++
		for i := range r.Members {
			m := &r.Members[i]
			switch {
			case m.Group != nil:
				walk(m.Group, depth+1)
			case m.Slot != nil:
				k := m.Slot.Operation.String() + "/" + m.Slot.Status.String()
				if m.Waiting {
					k += "/waiting"
				}
				slots[k]++
			}
		}
	}
	if r != nil {
		walk(r, 0)
	}
	return fmt.Sprintf("groups by depth:state %v, slots by operation/status %v", groups, slots)
}
