package supervisor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSlotAbandonReasonSaysWhoGaveUp: an Abandoned exit says who gave up on
// the goroutine: the stop deadline, the caller through Abandon before it, or
// Stop when its context ended before it (issue 11, item 1).
func TestSlotAbandonReasonSaysWhoGaveUp(t *testing.T) {
	tests := []struct {
		name   string
		giveUp func(t *testing.T, s *ChildSlot) Exit
		reason string
	}{
		{name: "at the stop deadline", reason: "ignored cancellation past the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				require.True(t, s.Cancel(time.Now()))
				at, _ := s.NextDeadline()
				coreSleepUntil(at)
				s.Advance(time.Now())
				return *s.Record(time.Now()).LastExit
			}},
		{name: "Abandon after the stop deadline", reason: "ignored cancellation past the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				require.True(t, s.Cancel(time.Now()))
				at, _ := s.NextDeadline()
				coreSleepUntil(at)
				e, ok := s.Abandon(time.Now())
				require.True(t, ok)
				return e
			}},
		{name: "Abandon before cancelling", reason: "abandoned by the caller before the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				e, ok := s.Abandon(time.Now())
				require.True(t, ok)
				return e
			}},
		{name: "Abandon while cancelling", reason: "abandoned by the caller before the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				require.True(t, s.Cancel(time.Now()))
				time.Sleep(time.Second)
				e, ok := s.Abandon(time.Now())
				require.True(t, ok)
				return e
			}},
		{name: "Stop's context ends", reason: "abandoned by Stop: its context ended before the stop timeout",
			giveUp: func(t *testing.T, s *ChildSlot) Exit {
				ctx, cancel := context.WithTimeout(t.Context(), time.Second)
				defer cancel()
				e, err := s.Stop(ctx)
				require.NoError(t, err)
				return e
			}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newCoreHarness(t)
				s := coreNew(t, coreIgnore(h), Config{Restart: Temporary})
				coreStartAt(t, s, h)
				h.attempt(t)
				e := tt.giveUp(t, s)
				assert.Equal(t, Abandoned, e.Kind)
				assert.Equal(t, tt.reason, e.Reason)
				r := s.Record(time.Now())
				assert.Equal(t, uint64(1), r.AbandonedTotal)
				assert.Equal(t, tt.reason, r.LastExit.Reason)
			})
		})
	}
}
