// Command probe runs supervised children behind the HTTP endpoints a
// Kubernetes pod exposes, served by the admin handler of package admin
// (admin.New, admin.Serve):
//
//   - GET /livez: 200 while the group's loop advances, 503 once it has
//     stalled or the tree has ended. A failing child does not fail
//     liveness: restarting children is the supervisor's job, and a liveness
//     failure would make the kubelet restart the whole container.
//   - GET /readyz: 200 when every member serves (active, its child reported
//     Ready), 503 naming those that do not, and during shutdown.
//   - GET /tree: the group's record as JSON, each slot's record in it.
//
// The children are the members of one supervisor.Group (one_for_one),
// started in order: each waits for the one before it to report Ready. The
// group runs under Group.Run; the handler reads the snapshots the loop
// publishes, never the group itself. The handler takes no commands (no
// authorizer).
//
// SIGTERM (or Ctrl-C) shuts down gracefully: readiness fails, the group
// stops its children in reverse start order, the server closes, and the
// program exits with status 2 if a slot ended quarantined (1 on other
// errors, such as the group giving up after too many restarts).
//
//	go run ./examples/probe                 # then curl 127.0.0.1:8080/tree
//	go run ./examples/probe -broken         # one child is quarantined
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"os"
	"os/signal"
	"syscall"
	"time"

	"github.com/childslot/supervisor"
	"github.com/childslot/supervisor/admin"
)

func main() {
	ctx, stop := notifyContext(context.Background())
	err := run(ctx, os.Stdout, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
	}
	os.Exit(exitCode(err))
}

// notifyContext returns a context that ends at SIGTERM (Kubernetes' stop) or Ctrl-C.
func notifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
}

// errQuarantined: a slot ended quarantined, for an operator to look at.
var errQuarantined = errors.New("a slot ended quarantined")

// exitCode maps run's error to the process exit status.
func exitCode(err error) int {
	switch {
	case errors.Is(err, errQuarantined):
		return 2
	case err != nil:
		return 1
	}
	return 0
}

// Children's timings.
const (
	beatEvery    = 100 * time.Millisecond
	warmUp       = 200 * time.Millisecond // before the api reports Ready
	workerRuns   = 3 * time.Second        // the worker fails after this
	publishEvery = 250 * time.Millisecond // the loop publishes a snapshot at most this often
)

// api warms up, reports Ready and serves until cancelled, beating as it goes.
func api(ctx context.Context, a *supervisor.Attempt) error {
	tick := time.NewTicker(beatEvery)
	defer tick.Stop()
	started := time.Now()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			a.Beat()
			if time.Since(started) >= warmUp {
				a.Ready()
			}
		}
	}
}

// worker is ready at once and fails every workerRuns; the slot restarts it.
func worker(ctx context.Context, a *supervisor.Attempt) error {
	a.Ready()
	tick := time.NewTicker(beatEvery)
	defer tick.Stop()
	fail := time.NewTimer(workerRuns)
	defer fail.Stop()
	for {
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
			a.Beat()
		case <-fail.C:
			return errors.New("lost the queue lease")
		}
	}
}

// migrator never gets anywhere: with -broken it exhausts its restart budget
// and is quarantined.
func migrator(context.Context, *supervisor.Attempt) error {
	return errors.New("schema version 41, want 42")
}

// newGroup returns the group of the children, one_for_one: they do not
// depend on each other. With broken it adds the migrator.
func newGroup(broken bool, onEvent func(supervisor.Event)) (*supervisor.Group, error) {
	g, err := supervisor.NewGroup("probe", supervisor.GroupConfig{OnEvent: onEvent, SnapshotInterval: publishEvery})
	if err != nil {
		return nil, err
	}
	cfg := supervisor.Config{
		HeartbeatTimeout: 10 * beatEvery,
		ReadyTimeout:     10 * warmUp, // the next child starts once this one is Ready
		StopTimeout:      2 * time.Second,
		Backoff:          supervisor.Backoff{Initial: 100 * time.Millisecond},
	}
	_, err = g.Add("api", api, cfg)
	if err == nil {
		_, err = g.Add("worker", worker, cfg)
	}
	if err == nil && broken {
		cfg.RestartLimit = 3
		cfg.Backoff = supervisor.Backoff{Initial: 50 * time.Millisecond}
		_, err = g.Add("migrator", migrator, cfg)
	}
	return g, err
}

// run is the program; main adds the signals and the exit status.
func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(w)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	broken := fs.Bool("broken", false, "add a child that always fails, so that it is quarantined")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return nil // -h printed the usage: exit status 0
	case err != nil:
		return err
	}

	logger := slog.New(slog.NewTextHandler(w, nil))
	g, err := newGroup(*broken, supervisor.LogEvents(logger))
	if err != nil {
		return err
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	serving, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- admin.Serve(serving, ln, admin.New(g, admin.Options{})) }()
	logger.Info("listening", "addr", ln.Addr().String())

	// The group's children never see ctx's cancellation: at shutdown the
	// loop stops them itself, in order.
	err = g.Run(ctx)
	stopServing() // once the children are stopped: requests in flight finish
	rec := g.Record(time.Now())
	_ = rec.WriteOutcomes(w) // the shutdown summary; w is the log
	for _, m := range rec.Members {
		if m.Slot != nil && m.Slot.Operation == supervisor.OperationQuarantined {
			err = errors.Join(err, fmt.Errorf("%w: %s", errQuarantined, m.ID))
		}
	}
	return errors.Join(err, <-served)
}
