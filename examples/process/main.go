// Command process supervises real OS processes (/bin/sh scripts) through
// supervisor.Process, on one control loop fed by an ExitQueue:
//
//   - "exit3" exits with status 3 every time: its exit code lands in
//     Exit.Code, it is restarted after a growing backoff (100ms, 200ms), and
//     the restart after that is refused, so the slot is quarantined;
//   - "polite" sleeps until its AttemptTimeout, when SIGTERM ends it at once;
//   - "stubborn" ignores SIGTERM, so after the StopTimeout grace exec sends
//     SIGKILL. Its background sleep ignores SIGTERM too, and dies with it:
//     each process runs in a process group of its own, and the group is
//     killed when the process exits, so nothing it started outlives it.
//
// Each process's pid is in its process_started event.
//
// The run takes about a second.
//
//	go run ./examples/process
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"os/signal"
	"time"

	"github.com/childslot/supervisor"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt)
	defer stop()
	if err := run(ctx, os.Stdout, os.Args[1:]); err != nil {
		fmt.Fprintln(os.Stderr, "process:", err)
		stop()
		os.Exit(1)
	}
}

// Timings of the demonstration.
const (
	attemptTimeout = 300 * time.Millisecond // polite and stubborn are cancelled after this
	stopGrace      = 500 * time.Millisecond // SIGTERM, then SIGKILL this much later
)

// child is one supervised script.
type child struct {
	id, script string
	cfg        supervisor.Config
}

func children(q *supervisor.ExitQueue, onEvent func(supervisor.Event)) []child {
	base := supervisor.Config{Exits: q, OnEvent: onEvent, StopTimeout: stopGrace}

	exit3 := base
	exit3.RestartLimit = 2
	exit3.Backoff = supervisor.Backoff{Initial: 100 * time.Millisecond, NoJitter: true}

	polite := base
	polite.Restart = supervisor.Temporary
	polite.AttemptTimeout = attemptTimeout

	stubborn := polite

	return []child{
		{"exit3", "sleep 0.05; exit 3", exit3},
		// exec: the shell becomes sleep, which SIGTERM ends.
		{"polite", "exec sleep 30", polite},
		// The shell ignores SIGTERM and becomes sleep, which inherits the
		// ignored signal, as does the sleep in the background; SIGKILL
		// cannot be ignored, and goes to the whole process group.
		{"stubborn", "trap '' TERM; sleep 30 & exec sleep 30", stubborn},
	}
}

// command returns the build function of a script for supervisor.Process:
// the command must come from exec.CommandContext with the attempt's ctx.
func command(script string) func(ctx context.Context) *exec.Cmd {
	return func(ctx context.Context) *exec.Cmd {
		return exec.CommandContext(ctx, "/bin/sh", "-c", script)
	}
}

func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("process", flag.ContinueOnError)
	fs.SetOutput(w)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return nil // -h printed the usage: exit status 0
	case err != nil:
		return err
	}

	start := time.Now()
	onEvent := func(e supervisor.Event) {
		switch e.Kind {
		case supervisor.EventFence, supervisor.EventRemoved:
			return // the clean-up at the end; not the point here
		}
		fmt.Fprintf(w, "%7s  %v\n", e.Time.Sub(start).Round(10*time.Millisecond), e)
	}
	q := supervisor.NewExitQueue()
	var slots []*supervisor.ChildSlot
	defer func() {
		for _, s := range slots {
			_, _ = s.Stop(context.WithoutCancel(ctx)) // kills what still runs; ErrNoAttempt otherwise
		}
	}()
	for _, c := range children(q, onEvent) {
		s, err := supervisor.NewChildSlot(c.id, supervisor.Process(command(c.script)), c.cfg)
		if err != nil {
			return err
		}
		slots = append(slots, s)
		if err := s.Start(ctx, start); err != nil {
			return err
		}
	}

	loop(q, slots)

	fmt.Fprintln(w, "\nlast exits:")
	for _, s := range slots {
		r := s.Record(time.Now())
		if r.LastExit == nil {
			continue
		}
		fmt.Fprintf(w, "  %-8s %-10s code %-3d %-12s %s\n", r.ChildID, r.LastExit.Kind, r.LastExit.Code, r.Operation, r.LastExit.Reason)
	}
	return nil
}

// loop runs until every slot is finished or quarantined. With a handful of
// slots, scanning them for the earliest deadline is fine; see
// examples/fleet for a heap.
func loop(q *supervisor.ExitQueue, slots []*supervisor.ChildSlot) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	var drained []*supervisor.ChildSlot
	for {
		now := time.Now()
		for _, s := range slots {
			s.Advance(now)
		}
		if !waiting(slots, now) {
			return
		}
		if at, ok := earliest(slots); ok {
			timer.Reset(time.Until(at))
		}
		select {
		case <-q.Ready():
			now := time.Now()
			drained = q.Drain(drained[:0])
			for _, s := range drained {
				// ErrNoAttempt (collected already) and ErrNotDone (the post
				// came from an abandoned attempt, while a newer one runs)
				// are harmless; the Advance at the top of the loop records
				// late returns.
				_, _ = s.Collect(now)
			}
		case <-timer.C:
		}
	}
}

// waiting reports whether some slot may still do something: it is neither
// finished nor quarantined (a quarantined slot waits for an operator, and
// this program has none).
func waiting(slots []*supervisor.ChildSlot, now time.Time) bool {
	for _, s := range slots {
		if !s.Finished() && s.Record(now).Operation != supervisor.OperationQuarantined {
			return true
		}
	}
	return false
}

// earliest returns the earliest NextDeadline of the slots.
func earliest(slots []*supervisor.ChildSlot) (time.Time, bool) {
	var next time.Time
	found := false
	for _, s := range slots {
		if at, ok := s.NextDeadline(); ok && (!found || at.Before(next)) {
			next, found = at, true
		}
	}
	return next, found
}
