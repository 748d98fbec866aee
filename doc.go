// Package supervisor provides Erlang-style supervision of goroutines and OS
// processes for Go programs that keep their own control loop.
//
// # Supervision trees
//
// A [Group] supervises members, each a [ChildSlot] (made by [Group.Add]) or
// a nested Group ([Group.AddGroup]), as an Erlang/OTP supervisor does: it
// starts them in order (a member that watches readiness holds the next back
// until it reports Ready), restarts them by [Strategy] when one fails
// (OneForOne, OneForAll, RestForOne: the scope is stopped in reverse start
// order, one member at a time, and started again in order), counts its
// restarts against an intensity whose exhaustion fails the group and
// escalates to its parent, shuts down automatically when significant
// members end ([AutoShutdown]), and shuts down in reverse order, recording
// how each member ended. [Group.Run] is the ready-made loop:
//
//	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{Strategy: supervisor.RestForOne})
//	if err != nil {
//		return err
//	}
//	_, _ = app.Add("db", openPool, supervisor.Config{ReadyTimeout: 5 * time.Second})
//	_, _ = app.Add("api", serveHTTP, supervisor.Config{HeartbeatTimeout: 10 * time.Second})
//	if err := app.Run(ctx); err != nil { // wraps ErrGroupFailed: the root gave up
//		os.Exit(1)
//	}
//
// A program with a loop of its own drives the tree as it would a slot:
// Start, then Advance on every receive from Wake (one channel for the whole
// tree) and at NextDeadline; Shutdown begins the ordered shutdown. From
// other goroutines, [Group.Snapshot] reads the tree's latest [GroupRecord],
// [Group.Health] says when the loop last advanced and how far behind it is
// (each Advance does a bounded batch of work), and [Group.Submit] hands the loop an audited
// operator [Command].
//
// # Model
//
// A [ChildSlot] supervises one child, a [ChildFunc]. Each run of the child is
// an attempt: attempts are numbered 1, 2, 3, ... over the slot's life, and the
// slot holds at most one at a time. An attempt belongs to a generation, which
// starts at 1 and grows with each operator Restart or Resume; a fenced
// restart lets the old generation stop before the new one starts.
//
// Every attempt ends in exactly one recorded [Exit] whose [ExitKind] says how:
// Succeeded, Failed, Panicked (value and full stack kept), Cancelled,
// TimedOut (Config.AttemptTimeout), Unhealthy (stale heartbeat or missed
// readiness deadline) or Abandoned. The kind comes from who cancelled the
// attempt's context and why, never from matching the returned error.
//
// Go cannot kill a goroutine, so a child that ignores cancellation for longer
// than Config.StopTimeout is abandoned: the slot records an Abandoned exit,
// frees itself for the next attempt, and when the goroutine finally returns
// it records a [StaleReport] for audit and changes nothing else. An
// Abandoned exit's reason says who gave up: the stop deadline, the caller
// (Abandon) or Stop's context. A process child ([Process]) is killed
// instead, never abandoned, by Advance, Abandon and Stop alike, and its exit
// is recorded with the signal; on Unix it runs in a process group of its
// own, which every signal reaches and which is killed when it exits, so
// that nothing it started outlives it.
//
// After an exit, the slot plans what comes next from its [RestartType]
// (Permanent, Transient, Temporary), a [Backoff] delay, and a sliding-window
// restart limit: the restart that would exceed Config.RestartLimit within
// Config.RestartWindow is refused and the slot is quarantined for an
// operator, who may Resume it with a fresh budget and backoff. An operator
// Restart keeps both as they are. [ChildSlot.Operation] says whether a slot
// is active, paused, quarantined or removed: a quarantined slot is not
// Finished.
//
// # Control loop
//
// The caller owns the loop. The slot tells it when to wake: Done closes when
// the attempt returns, and NextDeadline says when Advance has something to
// do (start a due restart, cancel a stale or overdue attempt, abandon one
// that ignored cancellation):
//
//	slot, err := supervisor.NewChildSlot("ingest", ingest, supervisor.Config{})
//	if err != nil {
//		return err
//	}
//	if err := slot.Start(ctx, time.Now()); err != nil {
//		return err
//	}
//	timer := time.NewTimer(time.Hour)
//	defer timer.Stop()
//	for {
//		select {
//		case <-slot.Done():
//			exit, _ := slot.Collect(time.Now())
//			log.Printf("ingest: %v", exit)
//		case <-timer.C:
//		}
//		slot.Advance(time.Now())
//		if slot.Finished() {
//			return nil
//		}
//		if at, ok := slot.NextDeadline(); ok {
//			timer.Reset(time.Until(at))
//		}
//	}
//
// One loop can supervise a few slots: give them one [ExitQueue] in
// Config.Exits and wait on its Ready channel. A loop that must stay
// responsive serves a bounded batch per wake-up:
//
//	case <-q.Ready():
//		for _, s := range q.DrainN(buf[:0], 1024) {
//			s.TryCollect(now) // false, nil: collected already
//			s.Advance(now)
//		}
//
// For many slots, make them members of a [Group]: its tree keeps their
// deadlines in a heap, so that an Advance costs what is due.
//
// # Concurrency
//
// A ChildSlot belongs to the goroutine that runs the loop; its methods are not
// safe for concurrent use, except Done. So does a Group, with its member
// slots, and this is the one place that says what else is safe where:
//
//   - Safe from any goroutine, never waiting for the loop: Wake, Snapshot,
//     Health and Submit (the way to act
//     on a running tree from elsewhere).
//   - Safe from any goroutine, waiting while the loop is inside a call:
//     Shutdown and ShutdownWith (a signal handler may call them), and Start
//     and Advance (two loops on one tree take turns, which is still a
//     mistake).
//   - Refused rather than raced: Add, AddGroup and Remove, called while
//     another goroutine is inside one of the calls above (or the loop is
//     inside Advance), return [ErrConcurrentUse] and change nothing; called
//     when the tree is idle, they land. A listener may call them.
//   - The loop's alone: every other method of a Group, and every method of
//     its member slots (operator controls from elsewhere go through Submit).
//
// The child's [Attempt] methods (Beat,
// Ready, NotReady) are safe from any goroutine and do not allocate. Values the
// slot returns ([Exit], [Liveness], [Record], [Event]) are plain snapshots
// that may be handed to any goroutine; their WithoutStacks methods leave a
// panic's stack out of what is served or logged. Config.OnEvent runs
// synchronously on the loop's goroutine, never under a lock: a listener may
// read its slot and drive other slots, and a call that would change its own
// slot returns [ErrReentrant]. Errors of a slot's methods are [*SlotError]
// values that name the slot and wrap a sentinel. The library starts no
// goroutine of its own besides each attempt's.
//
// # Time
//
// Everything time-based moves only through the now passed to the slot's
// methods, in the style of golang.org/x/time/rate: no hidden timers, and
// tests can drive a slot deterministically (testing/synctest works well).
// Pass time.Now(), which carries a monotonic reading: durations are measured
// on the monotonic clock, and a now earlier than one seen before is clamped.
// Wall times in records come from one anchor per slot or group, so they never go
// backwards when the system clock steps. Heartbeats carry the beat's own
// time, so a child that stops beating goes stale however often the loop
// looks.
package supervisor
