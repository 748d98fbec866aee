package supervisor

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Tests that kill Schedule mutants gremlins found alive (see
// RELIABILITY.md, "Mutation testing").

// msRestarting returns a slot whose child fails after a second, with a
// one-minute backoff and an hour's AttemptTimeout (so that a running
// attempt has a deadline), filed in q. Its first attempt has failed and
// been collected: its restart is due at the returned time. onStart runs on
// the Started event of every later attempt.
func msRestarting(t *testing.T, q *Schedule, onStart func(s *ChildSlot, e Event)) (*ChildSlot, time.Time) {
	h := newCoreHarness(t)
	var s *ChildSlot
	cfg := Config{
		AttemptTimeout: time.Hour,
		Backoff:        Backoff{Initial: time.Minute, Max: time.Minute, NoJitter: true},
		OnEvent: func(e Event) {
			if e.Kind == EventStarted && e.Attempt > 1 {
				onStart(s, e)
			}
		},
	}
	s = coreNew(t, coreRunFor(time.Second, errors.New("boom"))(h), cfg)
	coreStartAt(t, s, h)
	q.Update(s)
	h.attempt(t)
	coreCollect(t, s)
	_, due, ok := q.Next()
	require.True(t, ok, "the restart is filed")
	require.True(t, due.Equal(time.Now().Add(time.Minute)))
	return s, due
}

// TestMutationAdvanceDueFromOnEventKeepsSlot: AdvanceDue called from a
// slot's own OnEvent cannot advance that slot (its Advance is refused while
// its listener runs) and leaves it filed under its current deadline, so a
// loop run from the listener still sees it.
func TestMutationAdvanceDueFromOnEventKeepsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Schedule
		var served []*ChildSlot
		var n int
		var next *ChildSlot
		var at time.Time
		s, due := msRestarting(t, &q, func(s *ChildSlot, e Event) {
			served = q.AdvanceDue(e.Time, nil, 0)
			n = q.Len()
			next, at, _ = q.Next()
		})
		time.Sleep(time.Until(due))
		s.Advance(time.Now()) // starts the second attempt; its listener runs the schedule
		assert.Equal(t, []*ChildSlot{s}, served, "the slot was due")
		assert.Equal(t, 1, n, "still filed inside the listener")
		assert.Same(t, s, next)
		assert.True(t, at.Equal(due.Add(time.Hour)), "under the new attempt's deadline, got %v", at)
		assert.Equal(t, uint64(2), s.Record(time.Now()).Attempt)
	})
}

// TestMutationAdvanceDueSlotRemovedByOnEvent: a slot that its OnEvent takes
// out of the schedule while AdvanceDue advances it stays out: the schedule
// does not keep waking the loop for it.
func TestMutationAdvanceDueSlotRemovedByOnEvent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var q Schedule
		s, due := msRestarting(t, &q, func(s *ChildSlot, _ Event) { q.Remove(s) })
		time.Sleep(time.Until(due))
		got := q.AdvanceDue(time.Now(), nil, 0)
		assert.Equal(t, []*ChildSlot{s}, got)
		assert.Equal(t, uint64(2), s.Record(time.Now()).Attempt, "the restart happened")
		assert.Zero(t, q.Len(), "removed by its listener")
		_, _, ok := q.Next()
		assert.False(t, ok)
		assert.Empty(t, q.AdvanceDue(time.Now().Add(2*time.Hour), nil, 0))
	})
}

// TestMutationRemoveFromOtherSchedule: Remove of a slot filed in another
// schedule is ignored, whatever position the slot holds there.
func TestMutationRemoveFromOtherSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slots := mqSlots(t, 2, nil, time.Hour)
		var a, b Schedule
		a.Update(slots[0])
		b.Update(slots[1])
		var empty Schedule
		require.NotPanics(t, func() { empty.Remove(slots[0]) })
		require.NotPanics(t, func() { b.Remove(slots[0]) })
		assert.Equal(t, 1, a.Len(), "still in its own schedule")
		assert.Equal(t, 1, b.Len())
		next, _, ok := a.Next()
		require.True(t, ok)
		assert.Same(t, slots[0], next)
	})
}
