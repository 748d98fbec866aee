package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventsNameAttemptsOfTheirGeneration drives a slot through fenced
// restarts, a pause, a quarantine, a refused restart, an abandonment and a
// removal, and checks that every event names an attempt together with that
// attempt's own generation (attempt 0, before any start, with generation 1).
func TestEventsNameAttemptsOfTheirGeneration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCtlHarness(t, ctlConfig(), 6)
		var events []Event
		s := time.Second
		steps := []ctlStep{
			{do: ctlQuarantine, reason: "before start"}, {do: ctlResume},
			{do: ctlStart},
			{at: s, do: ctlRestart}, {at: s, do: ctlCollect}, {at: 2 * s, do: ctlAdvance}, // gen 2, attempt 2
			{at: 3 * s, do: ctlPause}, {at: 3 * s, do: ctlCollect},
			{at: 4 * s, do: ctlResume}, // gen 3, attempt 3, at once
			{at: 5 * s, do: ctlQuarantine, reason: "ops"},
			{at: 6 * s, do: ctlResume}, {at: 6 * s, do: ctlCollect}, {at: 6 * s, do: ctlAdvance}, // gen 4, attempt 4
			{at: 7 * s, do: ctlRelease, arg: 4}, {at: 7 * s, do: ctlCollect}, {at: 9 * s, do: ctlAdvance}, // restart: attempt 5
			{at: 10 * s, do: ctlRelease, arg: 5}, {at: 10 * s, do: ctlCollect}, {at: 12 * s, do: ctlAdvance}, // attempt 6, stubborn
			{at: 13 * s, do: ctlRestart}, {at: 18 * s, do: ctlAdvance}, // abandoned; gen 5, attempt 7
			{at: 19 * s, do: ctlRemove}, {at: 19 * s, do: ctlCollect},
			{at: 20 * s, do: ctlRelease, arg: 6}, {at: 20 * s, do: ctlAdvance},
		}
		for i, st := range steps {
			res := h.apply(st)
			require.NoError(t, res.err, "step %d: %v", i, st.do)
			events = append(events, h.events...)
			h.events = nil
		}
		require.Equal(t, uint64(7), h.slot.Record(h.at(20*s)).Attempt)

		genOf := map[uint64]uint64{}
		kinds := map[EventKind]bool{}
		for _, e := range events {
			kinds[e.Kind] = true
			if e.Kind == EventStarted {
				require.NotContains(t, genOf, e.Attempt, "attempt %d started twice", e.Attempt)
				genOf[e.Attempt] = e.Generation
				continue
			}
			if e.Attempt == 0 {
				assert.Equal(t, uint64(1), e.Generation, "event %v before any attempt", e)
				continue
			}
			gen, ok := genOf[e.Attempt]
			if assert.True(t, ok, "event %v names an attempt not started yet", e) {
				assert.Equal(t, gen, e.Generation, "event %v: attempt %d belongs to generation %d", e, e.Attempt, gen)
			}
			if e.Exit != nil {
				assert.Equal(t, e.Attempt, e.Exit.Attempt, "event %v", e)
				assert.Equal(t, e.Generation, e.Exit.Generation, "event %v", e)
			}
		}
		for _, k := range []EventKind{EventFence, EventPaused, EventResumed, EventQuarantined, EventAbandoned,
			EventStaleReport, EventRemoved, EventRestartScheduled, EventCancelled, EventExited} {
			assert.True(t, kinds[k], "the walk emits %v", k)
		}
	})
}
