package supervisor

import (
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// coreProgress is what Advance changes when something is due.
type coreProgress struct {
	Attempt, Exits uint64
	Stop           StopState
}

func TestSlotNextDeadline(t *testing.T) {
	sec, ms := time.Second, time.Millisecond
	tests := []struct {
		name  string
		cfg   Config
		child func(*coreHarness) ChildFunc
		prep  func(t *testing.T, s *ChildSlot, a *Attempt)
		want  time.Duration // after the start; 0: none
	}{
		{name: "nothing watched", child: coreBlock},
		{name: "attempt deadline", cfg: Config{AttemptTimeout: 5 * sec}, child: coreBlock, want: 5 * sec},
		{
			name: "heartbeat before the first beat", child: coreBlock,
			cfg: Config{AttemptTimeout: 5 * sec, HeartbeatTimeout: 2 * sec}, want: 2 * sec,
		},
		{
			name: "readiness", child: coreBlock,
			cfg: Config{AttemptTimeout: 5 * sec, HeartbeatTimeout: 2 * sec, ReadyTimeout: sec}, want: sec,
		},
		{
			name: "heartbeat after a beat", child: coreBlock,
			cfg: Config{AttemptTimeout: 5 * sec, HeartbeatTimeout: 2 * sec}, want: 2500 * ms,
			prep: func(_ *testing.T, _ *ChildSlot, a *Attempt) { time.Sleep(500 * ms); a.Beat() },
		},
		{
			name: "attempt deadline before the heartbeat", child: coreBlock,
			cfg: Config{AttemptTimeout: 3 * sec, HeartbeatTimeout: 2 * sec}, want: 3 * sec,
			prep: func(_ *testing.T, _ *ChildSlot, a *Attempt) { time.Sleep(1500 * ms); a.Beat() },
		},
		{
			name: "ready attempt has no readiness deadline", child: coreBlock,
			cfg: Config{HeartbeatTimeout: 3 * sec, ReadyTimeout: sec}, want: 3 * sec,
			prep: func(_ *testing.T, _ *ChildSlot, a *Attempt) { time.Sleep(500 * ms); a.Ready() },
		},
		{
			name: "stop deadline replaces the others", child: coreIgnore,
			cfg: Config{AttemptTimeout: sec, HeartbeatTimeout: sec, StopTimeout: 4 * sec}, want: 4500 * ms,
			prep: func(t *testing.T, s *ChildSlot, _ *Attempt) {
				time.Sleep(500 * ms)
				require.True(t, s.Cancel(time.Now()))
			},
		},
		{
			name: "due restart", child: coreRunFor(500*ms, errors.New("fail")),
			cfg: Config{Backoff: Backoff{NoJitter: true, Initial: 250 * ms}}, want: 750 * ms,
			prep: func(t *testing.T, s *ChildSlot, _ *Attempt) { coreCollect(t, s) },
		},
		{
			name: "no restart after a Temporary child", child: coreRunFor(500*ms, nil),
			cfg:  Config{Restart: Temporary, AttemptTimeout: sec},
			prep: func(t *testing.T, s *ChildSlot, _ *Attempt) { coreCollect(t, s) },
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newCoreHarness(t)
				s := coreNew(t, tt.child(h), tt.cfg)
				start := coreStartAt(t, s, h)
				a := h.attempt(t)
				if tt.prep != nil {
					tt.prep(t, s, a)
				}
				synctest.Wait()
				at, ok := s.NextDeadline()
				probe := start.Add(time.Hour)
				if tt.want != 0 {
					require.True(t, ok, "a deadline")
					require.Equal(t, start.Add(tt.want), at)
					probe = at.Add(-time.Nanosecond)
				} else {
					assert.False(t, ok, "no deadline")
				}
				before := s.Record(probe)
				s.Advance(probe)
				assert.Equal(t, before, s.Record(probe), "Advance before the deadline does nothing")
				if tt.want == 0 {
					return
				}
				s.Advance(at)
				after := s.Record(at)
				assert.NotEqual(t, coreProgress{before.Attempt, before.Exits, before.StopState},
					coreProgress{after.Attempt, after.Exits, after.StopState}, "Advance at the deadline acts")
			})
		})
	}
}
