package supervisor

import (
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestGroupOneAdvanceServesEveryDueDeadline: one Advance gives every
// member slot whose deadline has come its turn, not only the first: two
// members whose backoffs end at the same instant both restart in the
// Advance at that instant.
func TestGroupOneAdvanceServesEveryDueDeadline(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g, err := NewGroup("app", ghRoot(l, GroupConfig{}))
		require.NoError(t, err)
		cfg := Config{Backoff: Backoff{Initial: time.Second, Max: time.Second, NoJitter: true}}
		for _, id := range []string{"a", "b"} {
			_, err = g.Add(id, l.child(id), cfg)
			require.NoError(t, err)
		}
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		l.end("a", errGH)
		l.end("b", errGH)
		looptest.Settle(t, g)
		assert.ElementsMatch(t, []string{"start a", "start b", "fail a", "fail b"}, l.take())
		ra, rb := g.Slot("a").Record(time.Now()).NextRestartAt, g.Slot("b").Record(time.Now()).NextRestartAt
		require.NotNil(t, ra)
		require.NotNil(t, rb)
		require.Equal(t, *ra, *rb, "due at one instant")
		time.Sleep(time.Until(*ra))
		g.Advance(time.Now())
		assert.ElementsMatch(t, []string{"start a", "start b"}, l.take(), "both backoffs ended: both restart")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}
