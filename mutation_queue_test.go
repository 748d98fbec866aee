package supervisor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests that kill exit queue and schedule mutants gremlins found alive
// (see RELIABILITY.md, "Mutation testing").

// mqSlots starts n slots that each run for d and return, reporting to q;
// each has a deadline (its AttemptTimeout), so that a Schedule files it.
func mqSlots(t *testing.T, n int, q *ExitQueue, d time.Duration) []*ChildSlot {
	h := newCoreHarness(t)
	var out []*ChildSlot
	for range n {
		s := coreNew(t, coreRunFor(d, nil)(h), Config{Restart: Temporary, Exits: q, AttemptTimeout: 30 * time.Minute})
		require.NoError(t, s.Start(t.Context(), time.Now()))
		h.attempt(t)
		out = append(out, s)
	}
	return out
}

// TestMutationExitQueueLenAfterDrainN: Len counts what DrainN left queued.
func TestMutationExitQueueLenAfterDrainN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		mqSlots(t, 3, q, time.Second)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, 3, q.Len())
		assert.Len(t, q.DrainN(nil, 1), 1)
		assert.Equal(t, 2, q.Len())
		assert.Len(t, q.Drain(nil), 2)
		assert.Zero(t, q.Len())
	})
}

// TestMutationScheduleMovesSlot: a slot filed in one schedule and updated
// in another leaves the first.
func TestMutationScheduleMovesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mqSlots(t, 1, nil, time.Hour)[0]
		var a, b Schedule
		a.Update(s)
		require.Equal(t, 1, a.Len())
		b.Update(s)
		assert.Zero(t, a.Len(), "the slot left its old schedule")
		assert.Equal(t, 1, b.Len())
		b.Update(s)
		assert.Equal(t, 1, b.Len(), "updated in place")
	})
}

// TestMutationAdvanceDueBoundAppends: AdvanceDue's bound counts the slots
// it serves, not what buf held already.
func TestMutationAdvanceDueBoundAppends(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Schedule
		for _, s := range mqSlots(t, 3, nil, time.Hour) {
			q.Update(s)
		}
		pre := []*ChildSlot{nil}
		got := q.AdvanceDue(time.Now().Add(2*time.Hour), pre, 2)
		assert.Len(t, got, 3, "the one already there and two served")
	})
}

// TestMutationExitQueueNeverEmptyStaysSmall: a queue that is never empty
// (a loop that drains one slot per wake-up while exits keep coming) holds
// memory for what is queued, not for every slot that has passed through.
func TestMutationExitQueueNeverEmptyStaysSmall(t *testing.T) {
	q := NewExitQueue()
	a := coreNew(t, func(context.Context, *Attempt) error { return nil }, Config{})
	b := coreNew(t, func(context.Context, *Attempt) error { return nil }, Config{})
	q.post(a)
	q.post(b)
	for range 1000 {
		got := q.DrainN(nil, 1)
		require.Len(t, got, 1)
		require.Equal(t, 1, q.Len(), "one stays queued")
		q.post(got[0]) // it exits again
	}
	assert.LessOrEqual(t, len(q.slots), 4, "the drained prefix is compacted away")
}
