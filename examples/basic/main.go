// Command basic supervises one flaky child with the control loop from the
// package documentation and prints what happens, one line per event.
//
// The child fails on its first attempt, panics on its second, and hangs
// without beating on its third, so the heartbeat timeout cancels it as
// Unhealthy. Its fourth attempt fails again: the restart that would follow
// is one more than the restart limit allows, so the slot is quarantined and
// the program ends, printing the slot's JSON record. It takes about a
// second.
//
//	go run ./examples/basic         # readable lines
//	go run ./examples/basic -json   # one JSON object per line
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"time"

	"github.com/childslot/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "basic:", err)
		stop()
		os.Exit(1)
	}
}

// Timings of the demonstration: short enough for the whole run to take
// about a second.
const (
	workTick         = 20 * time.Millisecond  // the child beats once per tick of work
	workTicks        = 4                      // ticks of work before the child misbehaves
	heartbeatTimeout = 200 * time.Millisecond // no beat for this long: Unhealthy
	restartLimit     = 3                      // restarts allowed within the window
)

// config returns the slot's configuration; onEvent receives every event.
func config(onEvent func(supervisor.Event)) supervisor.Config {
	return supervisor.Config{
		Path:             "/basic/flaky",
		RestartLimit:     restartLimit,
		RestartWindow:    time.Minute,
		Backoff:          supervisor.Backoff{Initial: 50 * time.Millisecond, NoJitter: true},
		StopTimeout:      time.Second,
		HeartbeatTimeout: heartbeatTimeout,
		OnEvent:          onEvent,
	}
}

// run is the whole program: main only adds the signal handling and the exit
// status, so that the test can call run directly.
func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("basic", flag.ContinueOnError)
	fs.SetOutput(w)
	jsonOut := fs.Bool("json", false, "print one JSON object per line instead of readable lines")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return nil // -h printed the usage: exit status 0
	case err != nil:
		return err
	}

	start := time.Now()
	onEvent := func(e supervisor.Event) {
		fmt.Fprintf(w, "%7s  %v\n", e.Time.Sub(start).Round(time.Millisecond), e)
		if e.Exit != nil && e.Exit.Stack != "" {
			fmt.Fprintf(w, "%7s  (the full stack, %d lines, is in Exit.Stack)\n", "", strings.Count(e.Exit.Stack, "\n"))
		}
	}
	if *jsonOut {
		// Event implements slog.LogValuer: the handler writes all of it.
		logger := slog.New(slog.NewJSONHandler(w, nil))
		onEvent = func(e supervisor.Event) { logger.Info("supervisor", "event", e) }
	}

	slot, err := supervisor.NewChildSlot("flaky", flaky, config(onEvent))
	if err != nil {
		return err
	}
	rec, err := supervise(ctx, slot)
	if err != nil {
		return err
	}
	return printRecord(w, rec, *jsonOut)
}

// supervise is the control loop of the package documentation. It returns
// the slot's final record once the slot is finished or quarantined, after
// removing it: nothing is left running.
func supervise(ctx context.Context, slot *supervisor.ChildSlot) (supervisor.Record, error) {
	if err := slot.Start(ctx, time.Now()); err != nil {
		return supervisor.Record{}, err
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		select {
		case <-slot.Done(): // the attempt returned, failed or panicked
			_, _ = slot.Collect(time.Now()) // OnEvent prints the exit
		case <-timer.C: // a deadline: a due restart, a stale heartbeat
		}
		now := time.Now()
		slot.Advance(now) // start a due restart, cancel a stale attempt, abandon a stuck one
		// A quarantined slot waits for an operator; this program has none,
		// so it stops there, as it does when the slot is finished (ctx
		// ended: the parent context cancels the attempt and nothing more
		// starts).
		if rec := slot.Record(now); slot.Finished() || rec.Operation == supervisor.OperationQuarantined {
			_, _ = slot.Stop(context.WithoutCancel(ctx)) // nothing runs now; Stop removes the slot
			return rec, nil
		}
		if at, ok := slot.NextDeadline(); ok {
			timer.Reset(time.Until(at))
		}
	}
}

// flaky is the supervised child. It works for a few ticks, beating on each,
// then misbehaves according to its attempt number.
func flaky(ctx context.Context, a *supervisor.Attempt) error {
	a.Ready()
	tick := time.NewTicker(workTick)
	defer tick.Stop()
	for range workTicks {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			a.Beat()
		}
	}
	switch a.Number() {
	case 2:
		var shards []string
		_ = shards[a.Number()] // out of range: the slot recovers the panic and keeps the stack
	case 3:
		// Stuck: no more beats. The heartbeat timeout cancels the attempt,
		// and a child that honours its context returns.
		<-ctx.Done()
		return ctx.Err()
	}
	return errors.New("dial tcp 10.0.0.7:5432: connection refused")
}

// printRecord writes the final record: indented after readable lines, on
// one line in JSON mode.
func printRecord(w io.Writer, rec supervisor.Record, jsonOut bool) error {
	var (
		b   []byte
		err error
	)
	if jsonOut {
		b, err = json.Marshal(rec)
	} else {
		fmt.Fprintln(w, "\nfinal record:")
		b, err = json.MarshalIndent(rec, "", "  ")
	}
	if err != nil {
		return err
	}
	_, err = fmt.Fprintf(w, "%s\n", b)
	return err
}
