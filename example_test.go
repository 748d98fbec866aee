package supervisor_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"time"

	"github.com/childslot/supervisor"
)

// A Transient child that succeeds is not restarted: the slot is finished
// after one attempt.
func ExampleChildSlot() {
	job := func(ctx context.Context, a *supervisor.Attempt) error {
		fmt.Println("migrating, attempt", a.Number())
		return nil
	}
	slot, err := supervisor.NewChildSlot("migrate", job, supervisor.Config{Restart: supervisor.Transient})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := slot.Start(context.Background(), time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	<-slot.Done()
	exit, err := slot.Collect(time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(exit.Kind, "finished:", slot.Finished())
	// Output:
	// migrating, attempt 1
	// succeeded finished: true
}

// The control loop of the package documentation, driving a child that
// always fails until the restart limit quarantines the slot. Restarts have
// no delay here (Backoff.NoDelay) so that the example runs at once.
func ExampleChildSlot_quarantine() {
	dial := func(ctx context.Context, a *supervisor.Attempt) error {
		return errors.New("connection refused")
	}
	slot, err := supervisor.NewChildSlot("ingest", dial, supervisor.Config{
		RestartLimit:  2,
		RestartWindow: time.Minute,
		Backoff:       supervisor.Backoff{NoDelay: true},
		OnEvent: func(e supervisor.Event) {
			switch {
			case e.Exit != nil:
				fmt.Printf("%s: attempt %d %s: %s\n", e.Kind, e.Exit.Attempt, e.Exit.Kind, e.Exit.Reason)
			case e.Kind == supervisor.EventRestartScheduled:
				fmt.Printf("%s: after attempt %d, in %v\n", e.Kind, e.Attempt, e.Delay)
			case e.Reason != "":
				fmt.Printf("%s: %s\n", e.Kind, e.Reason)
			default:
				fmt.Printf("%s: attempt %d\n", e.Kind, e.Attempt)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := slot.Start(context.Background(), time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-slot.Done():
			_, _ = slot.Collect(time.Now())
		case <-timer.C:
		}
		now := time.Now()
		slot.Advance(now)
		if rec := slot.Record(now); rec.Operation == supervisor.OperationQuarantined {
			fmt.Println("operation:", rec.Operation, "restarts:", rec.Restarts)
			return
		}
		if slot.Finished() {
			return
		}
		if at, ok := slot.NextDeadline(); ok {
			timer.Reset(time.Until(at))
		}
	}
	// Output:
	// started: attempt 1
	// exited: attempt 1 failed: connection refused
	// restart_scheduled: after attempt 1, in 0s
	// started: attempt 2
	// exited: attempt 2 failed: connection refused
	// restart_scheduled: after attempt 2, in 0s
	// started: attempt 3
	// exited: attempt 3 failed: connection refused
	// restart_refused: restart limit reached: 2 restarts within 1m0s
	// quarantined: restart limit reached: 2 restarts within 1m0s
	// operation: quarantined restarts: 2
}

// One loop waits on many slots through an ExitQueue: each slot posts itself
// when its attempt returns, and the loop drains them all at once.
func ExampleExitQueue() {
	q := supervisor.NewExitQueue()
	cfg := supervisor.Config{Exits: q, Restart: supervisor.Temporary}
	var slots []*supervisor.ChildSlot
	for _, id := range []string{"a", "b", "c"} {
		fn := func(ctx context.Context, a *supervisor.Attempt) error {
			if id == "b" {
				return errors.New("b is broken")
			}
			return nil
		}
		s, err := supervisor.NewChildSlot(id, fn, cfg)
		if err != nil {
			fmt.Println(err)
			return
		}
		if err := s.Start(context.Background(), time.Now()); err != nil {
			fmt.Println(err)
			return
		}
		slots = append(slots, s)
	}

	var exits []string
	var buf []*supervisor.ChildSlot
	for len(exits) < len(slots) {
		<-q.Ready() // one receive may stand for many slots
		for _, s := range q.Drain(buf[:0]) {
			if e, err := s.Collect(time.Now()); err == nil {
				exits = append(exits, s.ID()+": "+e.Kind.String())
			}
		}
	}
	slices.Sort(exits) // the children end in any order
	for _, e := range exits {
		fmt.Println(e)
	}
	// Output:
	// a: succeeded
	// b: failed
	// c: succeeded
}

// Process runs an OS process per attempt; its exit status lands in
// Exit.Code.
func ExampleProcess() {
	sh := supervisor.Process(func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, "/bin/sh", "-c", "exit 3")
	})
	slot, err := supervisor.NewChildSlot("sh", sh, supervisor.Config{Restart: supervisor.Temporary})
	if err != nil {
		fmt.Println(err)
		return
	}
	if err := slot.Start(context.Background(), time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	<-slot.Done()
	exit, err := slot.Collect(time.Now())
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(exit.Kind, exit.Code, exit.Reason)
	// Output:
	// failed 3 exit status 3
}

// A Record is a plain value with one JSON encoding: snake_case names,
// RFC 3339 UTC times, durations in fields ending in _ms, null for what is
// absent.
func ExampleRecord() {
	started := time.Date(2026, 11, 25, 10, 0, 0, 0, time.UTC)
	exited := started.Add(2100 * time.Millisecond)
	rec := supervisor.Record{
		ChildID: "ingest", Path: "/app/ingest",
		Generation: 1, Attempt: 3, Restarts: 2,
		Status: supervisor.StatusRunning, Operation: supervisor.OperationActive,
		RestartLimit: supervisor.RestartLimit{Window: time.Minute, Limit: 10, Used: 2, Remaining: 8, UpdatedAt: exited},
		LastExit: &supervisor.Exit{
			Kind: supervisor.Failed, Reason: "dial tcp: connection refused",
			Attempt: 2, Generation: 1, StartedAt: started, ExitedAt: exited,
		},
		Exits: 2, Active: true, ObservedAt: exited.Add(time.Second),
	}
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	if err := enc.Encode(rec); err != nil {
		fmt.Println(err)
	}
	// Output:
	// {
	//   "child_id": "ingest",
	//   "path": "/app/ingest",
	//   "generation": 1,
	//   "attempt": 3,
	//   "restarts": 2,
	//   "status": "running",
	//   "operation": "active",
	//   "stop_state": "idle",
	//   "liveness": {
	//     "last_beat": null,
	//     "stale": false,
	//     "readiness": "unknown"
	//   },
	//   "restart_limit": {
	//     "window_ms": 60000,
	//     "limit": 10,
	//     "used": 2,
	//     "remaining": 8,
	//     "exhausted": false,
	//     "updated_at": "2026-11-25T10:00:02.1Z"
	//   },
	//   "next_restart_at": null,
	//   "last_exit": {
	//     "kind": "failed",
	//     "reason": "dial tcp: connection refused",
	//     "attempt": 2,
	//     "generation": 1,
	//     "started_at": "2026-11-25T10:00:00Z",
	//     "exited_at": "2026-11-25T10:00:02.1Z"
	//   },
	//   "fence_phase": "open",
	//   "pending_restart": null,
	//   "last_control_failure": null,
	//   "abandoned": 0,
	//   "last_stale_report": null,
	//   "exits": 2,
	//   "abandoned_total": 0,
	//   "stale_reports": 0,
	//   "active": true,
	//   "observed_at": "2026-11-25T10:00:03.1Z"
	// }
}

// The record of a real slot carries real times; its other fields are
// deterministic.
func ExampleChildSlot_Record() {
	fail := func(ctx context.Context, a *supervisor.Attempt) error { return errors.New("boom") }
	slot, err := supervisor.NewChildSlot("once", fail, supervisor.Config{Restart: supervisor.Temporary})
	if err != nil {
		fmt.Println(err)
		return
	}
	fmt.Println(slot.Record(time.Now()).Status, slot.Record(time.Now()).LastExit == nil)
	if err := slot.Start(context.Background(), time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	<-slot.Done()
	if _, err := slot.Collect(time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	rec := slot.Record(time.Now())
	fmt.Println(rec.ChildID, rec.Path, rec.Attempt, rec.Exits, rec.Active)
	fmt.Println(rec.LastExit.Kind, rec.LastExit.Reason)
	// Output:
	// stopped true
	// once /once 1 1 false
	// failed boom
}
