package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestRestartFence(t *testing.T) {
	const s = time.Second
	tests := []struct {
		name     string
		cfg      Config
		stubborn []uint64
		steps    []ctlStep
	}{
		{
			name: "nothing running: started immediately, budget untouched",
			cfg:  ctlConfig(),
			steps: []ctlStep{
				{at: 0, do: ctlStart, events: []string{"started"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusRunning}},
				{at: s, do: ctlRelease, arg: 1,
					want: ctlView{Gen: 1, Attempt: 1, Active: true}},
				{at: s, do: ctlCollect, exit: Succeeded, events: []string{"exited", "restart_scheduled"},
					want: ctlView{Gen: 1, Attempt: 1}},
				{at: 1500 * time.Millisecond, do: ctlRestart, decision: FenceStartedImmediately, events: []string{"started"},
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						assert.Nil(t, r.NextRestartAt, "the operator restart replaces the scheduled one")
						at, ok := h.slot.NextDeadline()
						assert.False(t, ok, "no deadline while the new generation runs: %v", at)
					}},
				// The restart that was due at 2s does not start a second attempt.
				{at: 3 * s, do: ctlAdvance,
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning}},
				// Two more operator restarts: a limit of 2 would refuse the third
				// automatic one, but operator restarts do not count.
				{at: 4 * s, do: ctlRestart, decision: FenceQueuedAfterStop,
					events: []string{"fence:waiting_for_old_stop", "cancelled"},
					want:   ctlView{Gen: 2, Attempt: 2, Active: true, Phase: FenceWaitingForOldStop, Pending: 3}},
				{at: 4 * s, do: ctlCollect, exit: Cancelled, events: []string{"exited", "fence:ready_to_start"},
					want: ctlView{Gen: 2, Attempt: 2, Phase: FenceReadyToStart, Pending: 3}},
				{at: 4 * s, do: ctlAdvance, events: []string{"started", "fence:open"},
					want: ctlView{Gen: 3, Attempt: 3, Active: true, Status: StatusRunning}},
				{at: 5 * s, do: ctlRestart, decision: FenceQueuedAfterStop,
					events: []string{"fence:waiting_for_old_stop", "cancelled"},
					want:   ctlView{Gen: 3, Attempt: 3, Active: true, Phase: FenceWaitingForOldStop, Pending: 4}},
				{at: 5 * s, do: ctlCollect, exit: Cancelled, events: []string{"exited", "fence:ready_to_start"},
					want: ctlView{Gen: 3, Attempt: 3, Phase: FenceReadyToStart, Pending: 4}},
				{at: 5 * s, do: ctlAdvance, events: []string{"started", "fence:open"},
					want: ctlView{Gen: 4, Attempt: 4, Active: true, Status: StatusRunning}},
				// The automatic budget is whole: an exit is restarted and counted.
				{at: 6 * s, do: ctlRelease, arg: 4,
					want: ctlView{Gen: 4, Attempt: 4, Active: true}},
				{at: 6 * s, do: ctlCollect, exit: Succeeded, events: []string{"exited", "restart_scheduled"},
					want: ctlView{Gen: 4, Attempt: 4}},
				{at: 20 * s, do: ctlAdvance, events: []string{"started"},
					want: ctlView{Gen: 4, Attempt: 5, Active: true, Status: StatusRunning, Used: 1, Restarts: 1}},
			},
		},
		{
			name: "while running: queued after stop, then ready, then open",
			cfg:  ctlConfig(),
			steps: []ctlStep{
				{at: 0, do: ctlStart, events: []string{"started"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusRunning}},
				{at: s, do: ctlRestart, decision: FenceQueuedAfterStop,
					events: []string{"fence:waiting_for_old_stop", "cancelled"},
					want:   ctlView{Gen: 1, Attempt: 1, Active: true, Phase: FenceWaitingForOldStop, Pending: 2},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						require.NotNil(t, r.PendingRestart)
						assert.Equal(t, h.slot.clock().wall(h.start.Add(time.Second)), r.PendingRestart.RequestedAt)
						assert.Equal(t, StopCancelDelivered, r.StopState)
						assert.Equal(t, "restart requested", h.events[1].Reason)
					}},
				{at: 2 * s, do: ctlCollect, exit: Cancelled, events: []string{"exited", "fence:ready_to_start"},
					want: ctlView{Gen: 1, Attempt: 1, Phase: FenceReadyToStart, Pending: 2},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						require.NotNil(t, r.LastExit)
						assert.Equal(t, uint64(1), r.LastExit.Generation)
						assert.Equal(t, "restart requested", r.LastExit.Reason)
						assert.Nil(t, r.NextRestartAt, "a fenced restart is not an automatic one")
						at, ok := h.slot.NextDeadline()
						assert.True(t, ok)
						assert.Equal(t, h.start.Add(2*time.Second), at, "the new generation is due at once")
					}},
				{at: 2 * s, do: ctlAdvance, events: []string{"started", "fence:open"},
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning}},
			},
		},
		{
			name: "already pending: merged, no new generation",
			cfg:  ctlConfig(),
			steps: []ctlStep{
				{at: 0, do: ctlStart, events: []string{"started"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusRunning}},
				{at: s, do: ctlRestart, decision: FenceQueuedAfterStop,
					events: []string{"fence:waiting_for_old_stop", "cancelled"},
					want:   ctlView{Gen: 1, Attempt: 1, Active: true, Phase: FenceWaitingForOldStop, Pending: 2}},
				{at: 2 * s, do: ctlRestart, decision: FenceAlreadyPending,
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Phase: FenceWaitingForOldStop, Pending: 2, Merged: 1},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						assert.Equal(t, h.slot.clock().wall(h.start.Add(time.Second)), r.PendingRestart.RequestedAt,
							"a merged request keeps the first request's time")
					}},
				{at: 2 * s, do: ctlCollect, exit: Cancelled, events: []string{"exited", "fence:ready_to_start"},
					want: ctlView{Gen: 1, Attempt: 1, Phase: FenceReadyToStart, Pending: 2, Merged: 1}},
				{at: 3 * s, do: ctlRestart, decision: FenceAlreadyPending,
					want: ctlView{Gen: 1, Attempt: 1, Phase: FenceReadyToStart, Pending: 2, Merged: 2}},
				{at: 3 * s, do: ctlAdvance, events: []string{"started", "fence:open"},
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning}},
				// The merged requests allocated nothing: the next one is generation 3.
				{at: 4 * s, do: ctlRestart, decision: FenceQueuedAfterStop,
					events: []string{"fence:waiting_for_old_stop", "cancelled"},
					want:   ctlView{Gen: 2, Attempt: 2, Active: true, Phase: FenceWaitingForOldStop, Pending: 3}},
			},
		},
		{
			name:     "old attempt ignores cancellation: abandoned at the stop deadline",
			cfg:      ctlConfig(),
			stubborn: []uint64{1},
			steps: []ctlStep{
				{at: 0, do: ctlStart, events: []string{"started"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusRunning}},
				{at: s, do: ctlRestart, decision: FenceQueuedAfterStop,
					events: []string{"fence:waiting_for_old_stop", "cancelled"},
					want:   ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusCancelling, Phase: FenceWaitingForOldStop, Pending: 2},
					check: func(t *testing.T, h *ctlHarness, _ Record) {
						at, ok := h.slot.NextDeadline()
						assert.True(t, ok)
						assert.Equal(t, h.start.Add(6*time.Second), at, "stop deadline: cancel + StopTimeout")
					}},
				{at: 2 * s, do: ctlCollect, err: ErrNotDone,
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusCancelling, Phase: FenceWaitingForOldStop, Pending: 2}},
				{at: 6*s - 1, do: ctlAdvance,
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusCancelling, Phase: FenceWaitingForOldStop, Pending: 2}},
				{at: 6 * s, do: ctlAdvance,
					events: []string{"fence:abandoning_old", "abandoned", "fence:ready_to_start", "started", "fence:open"},
					want:   ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning, Abandoned: 1},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						require.NotNil(t, r.LastExit)
						assert.Equal(t, Abandoned, r.LastExit.Kind)
						assert.Equal(t, uint64(1), r.LastExit.Attempt)
						assert.Equal(t, uint64(1), r.LastExit.Generation)
						assert.Equal(t, uint64(1), r.AbandonedTotal)
						assert.Equal(t, uint64(1), r.Exits)
					}},
				// The old attempt returns late: only a stale report follows.
				{at: 7 * s, do: ctlRelease, arg: 1,
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning, Abandoned: 1}},
				{at: 8 * s, do: ctlAdvance, events: []string{"stale_report"},
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning, Stale: 1},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						assert.Equal(t, &StaleReport{
							Generation: 1, Attempt: 1, Kind: Cancelled,
							Reason:     "restart requested (returned: late return)",
							ObservedAt: h.slot.clock().wall(h.start.Add(8 * time.Second)),
						}, r.LastStaleReport)
						require.NotNil(t, r.LastExit)
						assert.Equal(t, Abandoned, r.LastExit.Kind, "the late return does not replace the exit")
						assert.Equal(t, uint64(1), r.Exits)
						assert.Equal(t, uint64(1), r.AbandonedTotal)
						assert.Equal(t, StopIdle, r.StopState)
					}},
				{at: 8 * s, do: ctlCollect, err: ErrNotDone,
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning, Stale: 1}},
			},
		},
		{
			name:     "resume while the old attempt still runs is fenced",
			cfg:      ctlConfig(),
			stubborn: []uint64{1},
			steps: []ctlStep{
				{at: 0, do: ctlStart, events: []string{"started"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusRunning}},
				{at: s, do: ctlPause, events: []string{"cancelled", "paused"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusCancelling, Op: OperationPaused}},
				{at: 2 * s, do: ctlResume, events: []string{"resumed", "fence:waiting_for_old_stop"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusCancelling, Phase: FenceWaitingForOldStop, Pending: 2}},
				{at: 3 * s, do: ctlRestart, decision: FenceAlreadyPending,
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusCancelling, Phase: FenceWaitingForOldStop, Pending: 2, Merged: 1}},
				{at: 3 * s, do: ctlRelease, arg: 1,
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Phase: FenceWaitingForOldStop, Pending: 2, Merged: 1}},
				{at: 3 * s, do: ctlCollect, exit: Cancelled, events: []string{"exited", "fence:ready_to_start"},
					want: ctlView{Gen: 1, Attempt: 1, Phase: FenceReadyToStart, Pending: 2, Merged: 1},
					check: func(t *testing.T, _ *ctlHarness, r Record) {
						require.NotNil(t, r.LastExit)
						assert.Equal(t, "slot paused (returned: late return)", r.LastExit.Reason)
					}},
				{at: 3 * s, do: ctlAdvance, events: []string{"started", "fence:open"},
					want: ctlView{Gen: 2, Attempt: 2, Active: true, Status: StatusRunning}},
			},
		},
		{
			name: "pause during backoff: the restart is dropped, resume starts fresh",
			cfg: func() Config {
				c := ctlConfig()
				c.RestartLimit, c.RestartWindow = 3, 24*time.Hour
				return c
			}(),
			steps: []ctlStep{
				{at: 0, do: ctlStart, events: []string{"started"},
					want: ctlView{Gen: 1, Attempt: 1, Active: true, Status: StatusRunning}},
				{at: s, do: ctlRelease, arg: 1,
					want: ctlView{Gen: 1, Attempt: 1, Active: true}},
				{at: s, do: ctlCollect, exit: Succeeded, events: []string{"exited", "restart_scheduled"},
					want: ctlView{Gen: 1, Attempt: 1}},
				{at: 2 * s, do: ctlAdvance, events: []string{"started"},
					want: ctlView{Gen: 1, Attempt: 2, Active: true, Status: StatusRunning, Used: 1, Restarts: 1}},
				{at: 3 * s, do: ctlRelease, arg: 2,
					want: ctlView{Gen: 1, Attempt: 2, Active: true, Used: 1, Restarts: 1}},
				{at: 3 * s, do: ctlCollect, exit: Succeeded, events: []string{"exited", "restart_scheduled"},
					want: ctlView{Gen: 1, Attempt: 2, Used: 1, Restarts: 1},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						require.NotNil(t, r.NextRestartAt)
						assert.Equal(t, h.slot.clock().wall(h.start.Add(5*time.Second)), *r.NextRestartAt)
					}},
				{at: 4 * s, do: ctlPause, events: []string{"paused"},
					want: ctlView{Gen: 1, Attempt: 2, Op: OperationPaused, Used: 1, Restarts: 1},
					check: func(t *testing.T, h *ctlHarness, r Record) {
						assert.Nil(t, r.NextRestartAt)
						at, ok := h.slot.NextDeadline()
						assert.False(t, ok, "nothing is due while paused: %v", at)
						assert.Equal(t, StopNoActiveAttempt, r.StopState)
					}},
				{at: time.Hour, do: ctlAdvance,
					want: ctlView{Gen: 1, Attempt: 2, Op: OperationPaused, Used: 1, Restarts: 1}},
				{at: time.Hour, do: ctlResume, events: []string{"resumed", "started"},
					want: ctlView{Gen: 2, Attempt: 3, Active: true, Status: StatusRunning, Restarts: 1}},
				// The dropped restart is not resurrected after Resume either.
				{at: 2 * time.Hour, do: ctlAdvance,
					want: ctlView{Gen: 2, Attempt: 3, Active: true, Status: StatusRunning, Restarts: 1}},
				// A fresh backoff too: the next delay is Initial again.
				{at: 2 * time.Hour, do: ctlRelease, arg: 3,
					want: ctlView{Gen: 2, Attempt: 3, Active: true, Restarts: 1}},
				{at: 2 * time.Hour, do: ctlCollect, exit: Succeeded, events: []string{"exited", "restart_scheduled"},
					want: ctlView{Gen: 2, Attempt: 3, Restarts: 1},
					check: func(t *testing.T, h *ctlHarness, _ Record) {
						assert.Equal(t, time.Second, h.events[1].Delay)
					}},
			},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			runCtlSteps(t, tt.cfg, tt.stubborn, tt.steps)
		})
	}
}

func TestRestartRejected(t *testing.T) {
	tests := []struct {
		name  string
		setup []ctlStep
		want  error
	}{
		{name: "never started", want: ErrNotStarted},
		{name: "paused", setup: []ctlStep{{do: ctlStart}, {do: ctlPause}}, want: ErrPaused},
		{name: "paused before start", setup: []ctlStep{{do: ctlPause}}, want: ErrPaused},
		{name: "quarantined", setup: []ctlStep{{do: ctlStart}, {do: ctlQuarantine, reason: "ops"}}, want: ErrQuarantined},
		{name: "removed", setup: []ctlStep{{do: ctlStart}, {do: ctlRemove}}, want: ErrRemoved},
		{name: "parent context done", setup: []ctlStep{{do: ctlStart}, {do: ctlEndParent}}, want: context.Canceled},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				h := newCtlHarness(t, ctlConfig())
				h.setup(tt.setup)
				before := h.slot.Record(h.at(time.Second))
				require.Nil(t, before.LastControlFailure)

				now := h.at(2 * time.Second)
				d, err := h.slot.Restart(now)
				synctest.Wait()
				assert.Equal(t, FenceRejected, d)
				require.ErrorIs(t, err, tt.want)
				assert.Empty(t, h.events, "a rejected restart emits nothing")

				var se *SlotError
				require.ErrorAs(t, err, &se, "the error names the slot")
				assert.Equal(t, "ctl", se.ID)
				r := h.slot.Record(now)
				// The record names the slot already; its reason does not.
				assert.Equal(t, &ControlFailure{Op: "restart", Reason: se.Err.Error(), At: h.slot.clock().wall(now)},
					r.LastControlFailure)
				assert.Equal(t, before.Generation, r.Generation, "no generation allocated")
				assert.Equal(t, before.Attempt, r.Attempt)
				assert.Nil(t, r.PendingRestart)
				assert.Equal(t, before.FencePhase, r.FencePhase)
				assert.Equal(t, before.Operation, r.Operation)
			})
		})
	}
}

// TestOperatorControlsInEveryState applies Pause, Resume, Quarantine and
// Remove to a slot in each state it can be in, then checks what an Advance
// an hour later starts.
func TestOperatorControlsInEveryState(t *testing.T) {
	const s = time.Second
	states := map[string]struct {
		stubborn []uint64
		setup    []ctlStep
	}{
		"before start": {},
		"running":      {setup: []ctlStep{{do: ctlStart}}},
		"cancelling":   {stubborn: []uint64{1}, setup: []ctlStep{{do: ctlStart}, {at: s, do: ctlCancel}}},
		// The restart is due at 2s.
		"backoff": {setup: []ctlStep{{do: ctlStart}, {at: s, do: ctlRelease, arg: 1}, {at: s, do: ctlCollect}}},
		"paused":  {setup: []ctlStep{{do: ctlStart}, {at: s, do: ctlPause}, {at: s, do: ctlCollect}}},
		"quarantined": {setup: []ctlStep{{do: ctlStart}, {at: s, do: ctlQuarantine, reason: "setup"},
			{at: s, do: ctlCollect}}},
		"removed": {setup: []ctlStep{{do: ctlStart}, {at: s, do: ctlRemove}, {at: s, do: ctlCollect}}},
	}
	const (
		paused      = OperationPaused
		quarantined = OperationQuarantined
		removed     = OperationRemoved
		running     = StatusRunning
		cancelling  = StatusCancelling
		closed      = FenceClosed
	)
	tests := []struct {
		state  string
		do     ctlOp
		err    error
		events []string
		want   ctlView
		later  uint64 // Record.Attempt after Advance an hour later
	}{
		{"before start", ctlPause, nil, []string{"paused"}, ctlView{Gen: 1, Op: paused}, 0},
		{"running", ctlPause, nil, []string{"cancelled", "paused"}, ctlView{Gen: 1, Attempt: 1, Active: true, Op: paused}, 1},
		{"cancelling", ctlPause, nil, []string{"paused"}, ctlView{Gen: 1, Attempt: 1, Active: true, Status: cancelling, Op: paused}, 1},
		{"backoff", ctlPause, nil, []string{"paused"}, ctlView{Gen: 1, Attempt: 1, Op: paused}, 1},
		{"paused", ctlPause, nil, nil, ctlView{Gen: 1, Attempt: 1, Op: paused}, 1},
		{"quarantined", ctlPause, ErrQuarantined, nil, ctlView{Gen: 1, Attempt: 1, Op: quarantined, QReason: "setup"}, 1},
		{"removed", ctlPause, ErrRemoved, nil, ctlView{Gen: 1, Attempt: 1, Op: removed, Phase: closed, Finished: true}, 1},

		{"before start", ctlResume, nil, nil, ctlView{Gen: 1}, 0},
		{"running", ctlResume, nil, nil, ctlView{Gen: 1, Attempt: 1, Active: true, Status: running}, 1},
		{"cancelling", ctlResume, nil, nil, ctlView{Gen: 1, Attempt: 1, Active: true, Status: cancelling}, 1},
		{"backoff", ctlResume, nil, nil, ctlView{Gen: 1, Attempt: 1}, 2},
		{"paused", ctlResume, nil, []string{"resumed", "started"}, ctlView{Gen: 2, Attempt: 2, Active: true, Status: running}, 2},
		{"quarantined", ctlResume, nil, []string{"resumed", "started"}, ctlView{Gen: 2, Attempt: 2, Active: true, Status: running}, 2},
		{"removed", ctlResume, ErrRemoved, nil, ctlView{Gen: 1, Attempt: 1, Op: removed, Phase: closed, Finished: true}, 1},

		{"before start", ctlQuarantine, nil, []string{"quarantined:ops"}, ctlView{Gen: 1, Op: quarantined, QReason: "ops"}, 0},
		{"running", ctlQuarantine, nil, []string{"cancelled", "quarantined:ops"},
			ctlView{Gen: 1, Attempt: 1, Active: true, Op: quarantined, QReason: "ops"}, 1},
		{"cancelling", ctlQuarantine, nil, []string{"quarantined:ops"},
			ctlView{Gen: 1, Attempt: 1, Active: true, Status: cancelling, Op: quarantined, QReason: "ops"}, 1},
		{"backoff", ctlQuarantine, nil, []string{"quarantined:ops"}, ctlView{Gen: 1, Attempt: 1, Op: quarantined, QReason: "ops"}, 1},
		{"paused", ctlQuarantine, nil, []string{"quarantined:ops"}, ctlView{Gen: 1, Attempt: 1, Op: quarantined, QReason: "ops"}, 1},
		{"quarantined", ctlQuarantine, nil, nil, ctlView{Gen: 1, Attempt: 1, Op: quarantined, QReason: "setup"}, 1},
		{"removed", ctlQuarantine, ErrRemoved, nil, ctlView{Gen: 1, Attempt: 1, Op: removed, Phase: closed, Finished: true}, 1},

		{"before start", ctlRemove, nil, []string{"fence:closed", "removed"}, ctlView{Gen: 1, Op: removed, Phase: closed, Finished: true}, 0},
		{"running", ctlRemove, nil, []string{"cancelled", "fence:closed", "removed"},
			ctlView{Gen: 1, Attempt: 1, Active: true, Op: removed, Phase: closed}, 1},
		{"cancelling", ctlRemove, nil, []string{"fence:closed", "removed"},
			ctlView{Gen: 1, Attempt: 1, Active: true, Status: cancelling, Op: removed, Phase: closed}, 1},
		{"backoff", ctlRemove, nil, []string{"fence:closed", "removed"}, ctlView{Gen: 1, Attempt: 1, Op: removed, Phase: closed, Finished: true}, 1},
		{"paused", ctlRemove, nil, []string{"fence:closed", "removed"}, ctlView{Gen: 1, Attempt: 1, Op: removed, Phase: closed, Finished: true}, 1},
		{"quarantined", ctlRemove, nil, []string{"fence:closed", "removed"},
			// The quarantine reason goes with the quarantine (issue 11, item 2).
			ctlView{Gen: 1, Attempt: 1, Op: removed, Phase: closed, Finished: true}, 1},
		{"removed", ctlRemove, ErrRemoved, nil, ctlView{Gen: 1, Attempt: 1, Op: removed, Phase: closed, Finished: true}, 1},
	}
	for _, tt := range tests {
		t.Run(tt.do.String()+"/"+tt.state, func(t *testing.T) {
			st, ok := states[tt.state]
			require.True(t, ok, "unknown state %q", tt.state)
			synctest.Test(t, func(t *testing.T) {
				h := newCtlHarness(t, ctlConfig(), st.stubborn...)
				h.setup(st.setup)
				step := ctlStep{at: 1500 * time.Millisecond, do: tt.do, reason: "ops", err: tt.err, events: tt.events, want: tt.want}
				if !h.step(0, step) {
					return
				}
				h.slot.Advance(h.at(time.Hour))
				synctest.Wait()
				assert.Equal(t, tt.later, h.slot.Record(h.at(time.Hour)).Attempt, "attempts after an hour")
			})
		})
	}
}

func TestRemoveIsTerminal(t *testing.T) {
	tests := []struct {
		name     string
		stubborn bool
	}{
		{name: "attempt returns when cancelled"},
		{name: "attempt ignores cancellation", stubborn: true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				var stubborn []uint64
				if tt.stubborn {
					stubborn = []uint64{1}
				}
				h := newCtlHarness(t, ctlConfig(), stubborn...)
				s := h.slot
				require.NoError(t, s.Start(h.ctx, h.at(0)))
				synctest.Wait()

				h.events = nil
				require.NoError(t, s.Remove(h.at(time.Second)))
				synctest.Wait()
				assert.Equal(t, []string{"cancelled", "fence:closed", "removed"}, eventNames(h.events))
				assert.False(t, s.Finished(), "the removed slot's attempt is still held")
				assertAllRemoved(t, h, 2*time.Second)

				var exit Exit
				if tt.stubborn {
					_, err := s.Collect(h.at(2 * time.Second))
					require.ErrorIs(t, err, ErrNotDone)
					h.events = nil
					s.Advance(h.at(6 * time.Second))
					assert.Equal(t, []string{"abandoned"}, eventNames(h.events), "no fence moves once closed")
					exit = *s.Record(h.at(6 * time.Second)).LastExit
					assert.Equal(t, Abandoned, exit.Kind)
				} else {
					var err error
					exit, err = s.Collect(h.at(2 * time.Second))
					require.NoError(t, err, "Collect of the attempt that was running still works")
					assert.Equal(t, Cancelled, exit.Kind)
					assert.Equal(t, "slot removed", exit.Reason)
				}
				assert.Equal(t, uint64(1), exit.Attempt)
				assert.True(t, s.Finished())
				_, err := s.Collect(h.at(7 * time.Second))
				assert.ErrorIs(t, err, ErrRemoved)
				_, abandoned := s.Abandon(h.at(7 * time.Second))
				assert.False(t, abandoned)
				assert.False(t, s.Cancel(h.at(7*time.Second)))

				h.events = nil
				s.Advance(h.at(time.Hour))
				synctest.Wait()
				assert.Empty(t, h.events, "nothing restarts a removed slot")
				assertAllRemoved(t, h, time.Hour)
				r := s.Record(h.at(time.Hour))
				assert.Equal(t, uint64(1), r.Attempt)
				assert.False(t, r.Active)
				assert.Equal(t, OperationRemoved, r.Operation)
				assert.Equal(t, FenceClosed, r.FencePhase)

				if tt.stubborn {
					h.release(1)
					synctest.Wait()
					s.Advance(h.at(time.Hour + time.Second))
					assert.Equal(t, []string{"stale_report"}, eventNames(h.events))
					assert.True(t, s.Finished())
					assert.Equal(t, uint64(1), s.Record(h.at(time.Hour+time.Second)).StaleReports)
				}
			})
		})
	}
}

// assertAllRemoved checks that every control of the removed slot returns
// ErrRemoved at d and changes nothing.
func assertAllRemoved(t *testing.T, h *ctlHarness, d time.Duration) {
	t.Helper()
	s := h.slot
	now := h.at(d)
	before := s.Record(now)
	h.events = nil
	assert.ErrorIs(t, s.Start(h.ctx, now), ErrRemoved, "Start")
	assert.ErrorIs(t, s.Pause(now), ErrRemoved, "Pause")
	assert.ErrorIs(t, s.Resume(now), ErrRemoved, "Resume")
	assert.ErrorIs(t, s.Quarantine(now, "late"), ErrRemoved, "Quarantine")
	assert.ErrorIs(t, s.Remove(now), ErrRemoved, "Remove")
	dec, err := s.Restart(now)
	assert.Equal(t, FenceRejected, dec)
	assert.ErrorIs(t, err, ErrRemoved, "Restart")
	synctest.Wait()
	assert.Empty(t, h.events)

	after := s.Record(now)
	assert.Equal(t, &ControlFailure{Op: "restart", Reason: ErrRemoved.Error(), At: s.clock().wall(now)},
		after.LastControlFailure)
	after.LastControlFailure = before.LastControlFailure
	assert.Equal(t, before, after, "the rejected controls changed the record")
}

// TestPauseDropsPendingRestart: Pause while a fenced restart waits
// for the old attempt drops the restart; the attempt, once it returns, is
// not followed by the new generation.
func TestPauseDropsPendingRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreBlockHeld(h), Config{})
		require.NoError(t, s.Start(t.Context(), time.Now()))
		h.attempt(t)
		d, err := s.Restart(time.Now())
		require.NoError(t, err)
		require.Equal(t, FenceQueuedAfterStop, d)
		require.NotNil(t, s.Record(time.Now()).PendingRestart)
		require.NoError(t, s.Pause(time.Now()))
		r := s.Record(time.Now())
		assert.Nil(t, r.PendingRestart, "the pause dropped the restart")
		assert.Equal(t, FenceOpen, r.FencePhase)
		h.free()
		synctest.Wait()
		s.Advance(time.Now())
		_, _ = s.Collect(time.Now())
		s.Advance(time.Now())
		r = s.Record(time.Now())
		assert.Equal(t, uint64(1), r.Attempt, "nothing started while paused")
		assert.Nil(t, r.PendingRestart)
	})
}

// TestRestartRefusedDuringGroupShutdown pins a bug the tree soak found
// (fixed: Restart now refuses a frozen slot): a restart command (or ChildSlot.Restart) on a member slot whose
// group is shutting down starts a new attempt, although the slot is frozen
// ("frozen also refuses operator starts": Resume is refused with errFrozen,
// Restart is not). When the shutdown walk has already passed the slot, the
// new attempt is never stopped in order: the group reports Finished with
// that member still running, and a child that ignores cancellation keeps
// its slot active with no loop left to abandon it.
func TestRestartRefusedDuringGroupShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		// a ignores cancellation, so the shutdown walk waits for it after
		// it has stopped b; b's first attempt stops when cancelled, its
		// later ones ignore cancellation.
		stubborn := func(context.Context, *Attempt) error {
			<-release
			return nil
		}
		b := func(ctx context.Context, a *Attempt) error {
			if a.Number() > 1 {
				<-release
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
		g, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		_, err = g.Add("a", stubborn, Config{StopTimeout: time.Second})
		require.NoError(t, err)
		bs, err := g.Add("b", b, Config{StopTimeout: time.Second})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)

		g.Shutdown(time.Now())
		looptest.Settle(t, g) // b stopped; the walk waits for a
		require.Equal(t, GroupShuttingDown, g.State())
		require.False(t, bs.Record(time.Now()).Active, "the walk stopped b")

		done, err := g.Submit(Command{Op: CommandRestart, Path: "/app/b", Requester: "soak", Reason: "repro"})
		require.NoError(t, err)
		looptest.Settle(t, g)
		r := <-done
		assert.ErrorIs(t, r.Err, ErrCommandRefused, "a frozen slot refuses an operator start, as Resume does")
		assert.Equal(t, uint64(1), bs.Record(time.Now()).Attempt, "nothing starts in a group shutting down")

		looptest.Wait(t, g, 3*time.Second) // a is abandoned; the shutdown finishes
		require.True(t, g.Finished())
		assert.False(t, bs.Record(time.Now()).Active, "Finished: every member stopped")
	})
}

// TestOperatorRestartKeepsBudgetResumeResets checks what the docs say: an
// operator Restart keeps the restart budget used and the backoff where they
// are, while Resume resets both.
func TestOperatorRestartKeepsBudgetResumeResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		cfg := Config{RestartLimit: 5, Backoff: Backoff{Initial: time.Second, Max: time.Minute, NoJitter: true}}
		s := coreNew(t, coreRunFor(10*time.Millisecond, errors.New("boom"))(h), cfg)
		var delays []time.Duration
		coreStartAt(t, s, h)
		h.attempt(t)
		// failOnce lets the running attempt fail, notes the backoff delay and
		// starts the restart when it is due.
		failOnce := func() {
			coreCollect(t, s)
			at, ok := s.NextDeadline()
			require.True(t, ok, "a restart is scheduled")
			delays = append(delays, time.Until(at))
			coreSleepUntil(at)
			s.Advance(time.Now())
			h.attempt(t)
		}
		failOnce() // delay 1s
		failOnce() // delay 2s
		require.Equal(t, 2, s.Record(time.Now()).RestartLimit.Used)

		d, err := s.Restart(time.Now())
		require.NoError(t, err)
		require.Equal(t, FenceQueuedAfterStop, d)
		coreCollect(t, s) // the cancelled attempt of the old generation
		s.Advance(time.Now())
		h.attempt(t)
		assert.Equal(t, 2, s.Record(time.Now()).RestartLimit.Used, "Restart keeps the budget used")
		failOnce() // the backoff goes on: 4s
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, delays,
			"Restart keeps the backoff")

		require.NoError(t, s.Quarantine(time.Now(), "look"))
		require.NoError(t, s.Resume(time.Now()))
		coreCollect(t, s)
		s.Advance(time.Now())
		h.attempt(t)
		assert.Zero(t, s.Record(time.Now()).RestartLimit.Used, "Resume resets the budget")
		delays = delays[:0]
		failOnce()
		assert.Equal(t, []time.Duration{time.Second}, delays, "Resume resets the backoff")
	})
}
