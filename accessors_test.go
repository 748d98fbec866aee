package supervisor

import (
	"encoding/json"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestWithoutStacks: a panic's stack stays in the Exit, and WithoutStacks
// leaves it out of the JSON record and of the Exit, Event and Record log
// values, without changing the shared snapshot (issue 11, item 7).
func TestWithoutStacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []Event
		s := coreNew(t, corePanicString, Config{Restart: Temporary, OnEvent: func(e Event) { events = append(events, e) }})
		require.NoError(t, s.Start(t.Context(), time.Now()))
		e := coreCollect(t, s)
		require.Contains(t, e.Stack, "supervisor.corePanicString", "the exit keeps its stack")

		r := s.Record(time.Now())
		full, err := json.Marshal(r)
		require.NoError(t, err)
		assert.Contains(t, string(full), `"stack":`)
		bare, err := json.Marshal(r.WithoutStacks())
		require.NoError(t, err)
		assert.NotContains(t, string(bare), `"stack"`)
		assert.NotContains(t, string(bare), "corePanicString")
		assert.Equal(t, e.Stack, r.LastExit.Stack, "the shared snapshot keeps its stack")
		assert.Equal(t, e.Stack, s.Record(time.Now()).LastExit.Stack)

		assert.Contains(t, coreLogJSON(t, "exit", e), "stack")
		assert.NotContains(t, coreLogJSON(t, "exit", e.WithoutStacks()), "stack")
		assert.Empty(t, e.WithoutStacks().Stack)
		assert.Equal(t, e.PanicValue, e.WithoutStacks().PanicValue)
		last, _ := coreLogJSON(t, "record", r)["last_exit"].(map[string]any)
		assert.Contains(t, last, "stack")
		last, _ = coreLogJSON(t, "record", r.WithoutStacks())["last_exit"].(map[string]any)
		assert.NotContains(t, last, "stack")
		assert.Equal(t, "panicked", last["kind"])

		require.Len(t, events, 2)
		ev := events[1]
		require.Equal(t, EventExited, ev.Kind)
		x, _ := coreLogJSON(t, "event", ev)["exit"].(map[string]any)
		assert.Contains(t, x, "stack")
		x, _ = coreLogJSON(t, "event", ev.WithoutStacks())["exit"].(map[string]any)
		assert.NotContains(t, x, "stack")
		assert.NotEmpty(t, ev.Exit.Stack, "the event's own exit is not changed")

		assert.Equal(t, Record{}, Record{}.WithoutStacks())
		assert.Equal(t, Event{Kind: EventStarted}, Event{Kind: EventStarted}.WithoutStacks())
	})
}

// TestOperationAccessor: a quarantined slot is not Finished, and Operation
// says why without a record (issue 11, item 6).
func TestOperationAccessor(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreRunFor(time.Millisecond, errors.New("boom"))(h), Config{RestartLimit: 1, Backoff: Backoff{NoDelay: true}})
		assert.Equal(t, OperationActive, s.Operation())
		coreStartAt(t, s, h)
		h.attempt(t)
		coreCollect(t, s)
		s.Advance(time.Now())
		h.attempt(t)
		coreCollect(t, s) // the limit refuses the next restart
		assert.Equal(t, OperationQuarantined, s.Operation())
		assert.False(t, s.Finished(), "a quarantined slot is not finished")
		assert.Equal(t, s.Record(time.Now()).Operation, s.Operation())
		require.NoError(t, s.Resume(time.Now()))
		assert.Equal(t, OperationActive, s.Operation())
		h.attempt(t)
		require.NoError(t, s.Pause(time.Now()))
		assert.Equal(t, OperationPaused, s.Operation())
		require.NoError(t, s.Remove(time.Now()))
		assert.Equal(t, OperationRemoved, s.Operation())

		var zero *ChildSlot
		assert.Equal(t, OperationRemoved, zero.Operation())
		assert.Equal(t, OperationRemoved, new(ChildSlot).Operation())
	})
}

// TestTryCollect: TryCollect collects what there is, and reports "nothing
// to collect" without an error, so a drained slot needs no blanket discard
// (issue 11, item 5).
func TestTryCollect(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		q := NewExitQueue()
		s := coreNew(t, coreBlock(h), Config{Restart: Temporary, Exits: q})

		_, ok, err := s.TryCollect(time.Now())
		assert.False(t, ok, "nothing started")
		assert.NoError(t, err)

		coreStartAt(t, s, h)
		h.attempt(t)
		_, ok, err = s.TryCollect(time.Now())
		assert.False(t, ok, "still running")
		assert.NoError(t, err)
		assert.NotNil(t, s.Done(), "nothing changed")

		require.True(t, s.Cancel(time.Now()))
		<-s.Done()
		e, ok, err := s.TryCollect(time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		assert.Equal(t, Cancelled, e.Kind)
		last := *s.Record(time.Now()).LastExit
		assert.Equal(t, coreHead(e), coreHead(last), "collected as Collect would")

		synctest.Wait()
		drained := q.Drain(nil)
		require.Equal(t, []*ChildSlot{s}, drained, "the exit was posted")
		_, ok, err = drained[0].TryCollect(time.Now())
		assert.False(t, ok, "collected already")
		assert.NoError(t, err)

		require.NoError(t, s.Remove(time.Now()))
		_, ok, err = s.TryCollect(time.Now())
		assert.False(t, ok, "removed and finished")
		assert.NoError(t, err, "not an error: nothing to collect")
		_, err = s.Collect(time.Now())
		assert.ErrorIs(t, err, ErrRemoved, "Collect still says why")

		_, ok, err = new(ChildSlot).TryCollect(time.Now())
		assert.False(t, ok)
		assert.ErrorIs(t, err, ErrInvalidConfig, "a zero slot is a real failure")
	})
}
