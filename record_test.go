package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"os"
	"path/filepath"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

var coreUpdateGolden = flag.Bool("update", false, "rewrite the golden files in testdata")

// coreSnapshot is one named record of the golden scenario.
type coreSnapshot struct {
	State  string `json:"state"`
	Record Record `json:"record"`
}

// coreGoldenChild behaves by attempt number: attempt 1 beats, reports ready
// and fails with an exit code; attempt 2 beats, reports ready and ignores
// cancellation until released; attempt 3 fails after two seconds.
func coreGoldenChild(release <-chan struct{}) ChildFunc {
	return func(_ context.Context, a *Attempt) error {
		switch a.Number() {
		case 1:
			time.Sleep(500 * time.Millisecond)
			a.Beat()
			a.Ready()
			time.Sleep(1500 * time.Millisecond)
			return coreCodeError{code: 1, msg: "dial tcp: connection refused"}
		case 2:
			time.Sleep(250 * time.Millisecond)
			a.Beat()
			a.Ready()
			<-release
			return nil
		default:
			time.Sleep(2 * time.Second)
			return errors.New("disk full")
		}
	}
}

// coreGoldenScenario drives a slot through a restart, a fenced operator
// restart that abandons the old attempt, its late return, and a refused
// restart, and returns a record at each stage. The bubble's clock starts at
// 2000-01-01T00:00:00Z, so every time in the records is deterministic.
func coreGoldenScenario(t *testing.T) []coreSnapshot {
	release := make(chan struct{})
	defer close(release)
	cfg := Config{
		Path: "/app/ingest", RestartLimit: 1, Backoff: Backoff{NoJitter: true},
		StopTimeout: 2 * time.Second, HeartbeatTimeout: 5 * time.Second,
	}
	s, err := NewChildSlot("ingest", coreGoldenChild(release), cfg)
	require.NoError(t, err)
	var snaps []coreSnapshot
	snap := func(state string) {
		snaps = append(snaps, coreSnapshot{State: state, Record: s.Record(time.Now())})
	}
	t0 := time.Now()
	require.NoError(t, s.Start(t.Context(), t0))

	coreCollect(t, s) // attempt 1 fails at 2s
	snap("restart_scheduled")

	coreSleepUntil(t0.Add(2100 * time.Millisecond))
	s.Advance(time.Now()) // attempt 2
	coreSleepUntil(t0.Add(3 * time.Second))
	snap("running")

	d, err := s.Restart(time.Now())
	require.NoError(t, err)
	require.Equal(t, FenceQueuedAfterStop, d)
	snap("fencing")

	coreSleepUntil(t0.Add(5 * time.Second))
	s.Advance(time.Now()) // abandons attempt 2, starts attempt 3 in generation 2
	coreSleepUntil(t0.Add(6 * time.Second))
	release <- struct{}{}
	synctest.Wait()
	s.Advance(time.Now()) // attempt 2's late return
	snap("after_fence")

	coreCollect(t, s) // attempt 3 fails at 7s; the restart limit refuses
	snap("quarantined")
	return snaps
}

func TestRecordGolden(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got, err := json.MarshalIndent(coreGoldenScenario(t), "", "  ")
		require.NoError(t, err)
		got = append(got, '\n')
		path := filepath.Join("testdata", "record.golden.json")
		if *coreUpdateGolden {
			require.NoError(t, os.MkdirAll("testdata", 0o755))
			require.NoError(t, os.WriteFile(path, got, 0o644))
		}
		want, err := os.ReadFile(path)
		require.NoError(t, err, "run go test -run TestRecordGolden -update to create it")
		assert.Equal(t, string(want), string(got))
	})
}

func TestRecordJSONRoundTrip(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, sn := range coreGoldenScenario(t) {
			data, err := json.Marshal(sn.Record)
			require.NoError(t, err)
			var back Record
			require.NoError(t, json.Unmarshal(data, &back), sn.State)

			want := sn.Record
			if want.LastExit != nil {
				e := *want.LastExit
				e.Err, e.PanicValue = nil, nil // not serialized
				want.LastExit = &e
			}
			assert.Equal(t, want, back, sn.State)
			again, err := json.Marshal(back)
			require.NoError(t, err)
			assert.JSONEq(t, string(data), string(again), sn.State)
		}
	})
}

func TestRecordNullForAbsent(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := coreNew(t, func(context.Context, *Attempt) error { return nil }, Config{})
		data, err := json.Marshal(s.Record(time.Now()))
		require.NoError(t, err)
		var m map[string]any
		require.NoError(t, json.Unmarshal(data, &m))
		for _, k := range []string{"next_restart_at", "last_exit", "pending_restart", "last_control_failure", "last_stale_report"} {
			require.Contains(t, m, k)
			assert.Nil(t, m[k], k)
		}
		live, ok := m["liveness"].(map[string]any)
		require.True(t, ok)
		require.Contains(t, live, "last_beat")
		assert.Nil(t, live["last_beat"])
		assert.Equal(t, "unknown", live["readiness"])
		assert.NotContains(t, m, "quarantine_reason", "empty unless quarantined")
		assert.Equal(t, "2000-01-01T00:00:00Z", m["observed_at"])
	})
}

func TestRecordEventLogValue(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var _ slog.LogValuer = Record{}
		var _ slog.LogValuer = Exit{}
		var _ slog.LogValuer = Event{}

		var events []Event
		h := newCoreHarness(t)
		cfg := Config{Path: "/app/ingest", Backoff: Backoff{NoJitter: true}, OnEvent: func(e Event) { events = append(events, e) }}
		s, err := NewChildSlot("ingest", coreRunFor(time.Second, errors.New("refused"))(h), cfg)
		require.NoError(t, err)
		coreStartAt(t, s, h)
		coreCollect(t, s)

		rec := coreLogJSON(t, "record", s.Record(time.Now()))
		for _, k := range []string{"child_id", "path", "generation", "attempt", "restarts", "status", "operation",
			"stop_state", "stale", "readiness", "restarts_used", "restarts_limit", "fence_phase", "abandoned"} {
			assert.Contains(t, rec, k)
		}
		assert.Equal(t, "ingest", rec["child_id"])
		assert.Equal(t, "stopped", rec["status"])
		last, ok := rec["last_exit"].(map[string]any)
		require.True(t, ok, "last_exit is a group")
		assert.Equal(t, "failed", last["kind"])
		assert.Equal(t, "refused", last["reason"])

		require.Len(t, events, 3)
		exited := coreLogJSON(t, "event", events[1])
		assert.Equal(t, "exited", exited["kind"])
		assert.Equal(t, "ingest", exited["child_id"])
		assert.Equal(t, "/app/ingest", exited["path"])
		assert.Equal(t, 1.0, exited["attempt"])
		assert.Equal(t, 1.0, exited["generation"])
		// One fact, one place: slog has the time, the exit its reason.
		assert.NotContains(t, exited, "time")
		assert.NotContains(t, exited, "reason")
		exit, ok := exited["exit"].(map[string]any)
		require.True(t, ok, "exit is a group")
		assert.Equal(t, "failed", exit["kind"])
		assert.Equal(t, "refused", exit["reason"])

		scheduled := coreLogJSON(t, "event", events[2])
		assert.Equal(t, "restart_scheduled", scheduled["kind"])
		assert.Equal(t, float64(100*time.Millisecond), scheduled["delay"])
		assert.NotContains(t, scheduled, "exit")
		assert.NotContains(t, scheduled, "phase")

		fence := coreLogJSON(t, "event", Event{Kind: EventFence, ChildID: "ingest", Phase: FenceWaitingForOldStop})
		assert.Equal(t, "waiting_for_old_stop", fence["phase"])
		assert.NotContains(t, fence, "delay")
	})
}

func TestEventString(t *testing.T) {
	at := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	exit := &Exit{Kind: Failed, Attempt: 2, Reason: "refused", StartedAt: at, ExitedAt: at.Add(time.Second)}
	tests := []struct {
		e    Event
		want string
	}{
		{Event{Kind: EventStarted, ChildID: "ingest"}, "ingest: started"},
		{Event{Kind: EventExited, ChildID: "ingest", Exit: exit}, "ingest: exited: attempt 2 failed after 1s: refused"},
		{Event{Kind: EventRestartScheduled, ChildID: "ingest", Delay: 1234567 * time.Microsecond}, "ingest: restart_scheduled in 1.23s"},
		{Event{Kind: EventFence, ChildID: "ingest", Phase: FenceReadyToStart}, "ingest: fence: ready_to_start"},
		{Event{Kind: EventQuarantined, ChildID: "ingest", Reason: "operator"}, "ingest: quarantined: operator"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, tt.e.String())
	}
}

func TestRecordEnumText(t *testing.T) {
	tests := []struct {
		name  string
		check func(t *testing.T)
	}{
		{"Status", func(t *testing.T) {
			coreCheckEnumText(t, "Status", map[Status]string{
				StatusStopped: "stopped", StatusStarting: "starting", StatusRunning: "running",
				StatusReady: "ready", StatusCancelling: "cancelling",
			}, false)
		}},
		{"Operation", func(t *testing.T) {
			coreCheckEnumText(t, "Operation", map[Operation]string{
				OperationActive: "active", OperationPaused: "paused",
				OperationQuarantined: "quarantined", OperationRemoved: "removed",
			}, false)
		}},
		{"StopState", func(t *testing.T) {
			coreCheckEnumText(t, "StopState", map[StopState]string{
				StopIdle: "idle", StopNoActiveAttempt: "no_active_attempt", StopCancelDelivered: "cancel_delivered",
				StopCompleted: "completed", StopFailed: "failed",
			}, false)
		}},
		{"FencePhase", func(t *testing.T) {
			coreCheckEnumText(t, "FencePhase", map[FencePhase]string{
				FenceOpen: "open", FenceWaitingForOldStop: "waiting_for_old_stop", FenceAbandoningOld: "abandoning_old",
				FenceReadyToStart: "ready_to_start", FenceClosed: "closed",
			}, false)
		}},
		{"FenceDecision", func(t *testing.T) {
			coreCheckEnumText(t, "FenceDecision", map[FenceDecision]string{
				FenceStartedImmediately: "started_immediately", FenceQueuedAfterStop: "queued_after_stop",
				FenceAlreadyPending: "already_pending", FenceRejected: "rejected",
			}, true)
		}},
		{"EventKind", func(t *testing.T) {
			coreCheckEnumText(t, "EventKind", map[EventKind]string{
				EventStarted: "started", EventExited: "exited", EventRestartScheduled: "restart_scheduled",
				EventRestartRefused: "restart_refused", EventQuarantined: "quarantined", EventCancelled: "cancelled",
				EventAbandoned: "abandoned", EventStaleReport: "stale_report", EventFence: "fence",
				EventPaused: "paused", EventResumed: "resumed", EventRemoved: "removed",
				EventGroupStarted: "group_started", EventGroupRestart: "group_restart", EventGroupFailed: "group_failed",
				EventShutdownStarted: "shutdown_started", EventShutdownFinished: "shutdown_finished",
				EventMemberAdded: "member_added", EventMemberRemoved: "member_removed", EventAutoShutdown: "auto_shutdown",
				EventCommand: "command", EventListenerPanicked: "listener_panicked",
				EventNotifyFailed: "notify_failed", EventNotifyRestored: "notify_restored",
				EventProcessStarted: "process_started",
			}, true)
		}},
		{"Readiness", func(t *testing.T) {
			coreCheckEnumText(t, "Readiness", map[Readiness]string{
				ReadinessUnknown: "unknown", ReadinessReady: "ready", ReadinessNotReady: "not_ready",
			}, false)
		}},
	}
	for _, tt := range tests {
		t.Run(tt.name, tt.check)
	}
}

func TestRecordEnumJSON(t *testing.T) {
	// Inside a struct, the enumerations encode as their names.
	v := struct {
		S Status
		O Operation
		F FencePhase
	}{StatusReady, OperationQuarantined, FenceAbandoningOld}
	data, err := json.Marshal(v)
	require.NoError(t, err)
	assert.JSONEq(t, `{"S":"ready","O":"quarantined","F":"abandoning_old"}`, string(data))
	var back = v
	back.S = StatusStopped
	require.NoError(t, json.Unmarshal(data, &back))
	assert.Equal(t, v, back)
	assert.Error(t, json.Unmarshal([]byte(`{"S":"sleeping"}`), &back))
}

// TestRecordWaitingForRestartNoAllocs: Record does not allocate in
// the steady state, also while the slot waits out a backoff: NextRestartAt
// is built once per restart time and shared by every later Record.
func TestRecordWaitingForRestartNoAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s := coreNew(t, coreRunFor(time.Second, errors.New("boom"))(h), Config{Backoff: Backoff{Initial: time.Hour, Max: time.Hour, NoJitter: true}})
		coreStartAt(t, s, h)
		h.attempt(t)
		coreCollect(t, s)
		now := time.Now()
		first := s.Record(now).NextRestartAt
		require.NotNil(t, first, "a restart is due in an hour")
		assert.True(t, first.Equal(now.Add(time.Hour)), "restart at %v", *first)
		assert.Same(t, first, s.Record(now).NextRestartAt, "built once, then shared")
		assert.Zero(t, testing.AllocsPerRun(100, func() { _ = s.Record(now) }))
	})
}

func TestSlotAccountingInvariant(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				coreRandomWalk(t, seed)
			})
		})
	}
}

// coreRandomWalk drives a slot through a random sequence of calls, with
// children that succeed, fail, panic, block until cancelled or ignore
// cancellation for a while, and checks the accounting after every call.
func coreRandomWalk(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	behaviours := make([]int, 64) // read-only once the slot starts
	for i := range behaviours {
		behaviours[i] = rng.IntN(5)
	}
	child := func(ctx context.Context, a *Attempt) error {
		d := time.Duration(a.Number()%7) * 300 * time.Millisecond
		switch behaviours[a.Number()%64] {
		case 0:
			time.Sleep(d)
			return nil
		case 1:
			time.Sleep(d)
			return errors.New("fail")
		case 2:
			time.Sleep(d)
			panic("boom")
		case 3:
			<-ctx.Done()
			return ctx.Err()
		default:
			time.Sleep(5 * time.Second) // ignores cancellation
			return nil
		}
	}
	cfg := Config{
		StopTimeout: time.Second, HeartbeatTimeout: 2 * time.Second, AttemptTimeout: 4 * time.Second,
		RestartLimit: 5, RestartWindow: 10 * time.Second,
	}
	s := coreNew(t, child, cfg)
	ctx := t.Context()
	ops := []func(now time.Time){
		func(now time.Time) { _ = s.Start(ctx, now) },
		func(now time.Time) { _, _ = s.Collect(now) },
		func(now time.Time) { s.Cancel(now) },
		func(now time.Time) { s.Abandon(now) },
		func(now time.Time) { s.Advance(now) },
		func(now time.Time) { s.Advance(now) },
		func(now time.Time) { _ = s.Pause(now) },
		func(now time.Time) { _ = s.Resume(now) },
		func(now time.Time) { _ = s.Quarantine(now, "walk") },
		func(now time.Time) { _, _ = s.Restart(now) },
		func(time.Time) { s.Liveness(time.Now()) },
	}
	var last Record
	for step := range 300 {
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		synctest.Wait()
		now := time.Now()
		op := rng.IntN(len(ops))
		require.NotPanics(t, func() { ops[op](now) }, "step %d op %d", step, op)
		r := s.Record(now)
		coreCheckCounts(t, r)
		require.GreaterOrEqual(t, r.Attempt, last.Attempt)
		require.GreaterOrEqual(t, r.Exits, last.Exits)
		require.GreaterOrEqual(t, r.Generation, last.Generation)
		require.False(t, s.Finished() && r.Active, "finished with an attempt held")
		last = r
	}
	require.NoError(t, s.Remove(time.Now()))
	time.Sleep(time.Minute) // abandoned children finish their fake work
}
