// Command probe runs supervised children behind the HTTP endpoints a
// Kubernetes pod exposes:
//
//   - GET /livez: 200 while the control loop is alive (it published a
//     snapshot recently), 503 otherwise. A failing child does not fail
//     liveness: restarting children is the supervisor's job, and a liveness
//     failure would make the kubelet restart the whole container.
//   - GET /readyz: 200 when every slot is active and its child reported
//     Ready, 503 (naming the slots that are not) otherwise and during
//     shutdown.
//   - GET /slots: the slots' records as a JSON array.
//
// The children are the members of one supervisor.Group (one_for_one),
// started in order: each waits for the one before it to report Ready. The
// group's loop is the one of its documentation plus a publishing step: the
// handlers never touch the group, which belongs to the loop's goroutine;
// the loop publishes immutable snapshots through an atomic.Pointer, and the
// handlers read the latest one.
//
// SIGTERM (or Ctrl-C) shuts down gracefully: readiness fails, the group
// stops its children in reverse start order, the server closes, and the
// program exits with status 2 if a slot ended quarantined (1 on other
// errors, such as the group giving up after too many restarts).
//
//	go run ./examples/probe                 # then curl 127.0.0.1:8080/slots
//	go run ./examples/probe -broken         # one child is quarantined
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"sync/atomic"
	"syscall"
	"time"

	"github.com/childslot/supervisor"
)

func main() {
	ctx, stop := notifyContext(context.Background())
	defer stop()
	err := run(ctx, os.Stdout, os.Args[1:], nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, "probe:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// notifyContext returns a context that ends at SIGTERM, which is how
// Kubernetes asks a pod to stop, or at Ctrl-C.
func notifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
}

// errQuarantined reports that a slot was quarantined when the program
// stopped: an operator should look at it.
var errQuarantined = errors.New("a slot ended quarantined")

// exitCode maps run's error to the process exit status.
func exitCode(err error) int {
	switch {
	case err == nil:
		return 0
	case errors.Is(err, errQuarantined):
		return 2
	default:
		return 1
	}
}

// snapshot is what the loop publishes for the handlers: immutable once
// published.
type snapshot struct {
	at       time.Time // when the loop took it
	records  []supervisor.Record
	stopping bool
}

// ready reports whether every slot serves, and names those that do not.
func (s *snapshot) ready() (bool, []string) {
	var not []string
	for _, r := range s.records {
		if r.Operation != supervisor.OperationActive || r.Status != supervisor.StatusReady {
			not = append(not, fmt.Sprintf("%s: %s, %s", r.ChildID, r.Operation, r.Status))
		}
	}
	return len(not) == 0 && !s.stopping, not
}

// server holds the handlers' side: the latest snapshot, nothing else.
type server struct {
	latest atomic.Pointer[snapshot]
	maxAge time.Duration // liveness fails when the snapshot is older
}

func (sv *server) routes() http.Handler {
	mux := http.NewServeMux()
	mux.HandleFunc("GET /livez", sv.livez)
	mux.HandleFunc("GET /readyz", sv.readyz)
	mux.HandleFunc("GET /slots", sv.slots)
	return mux
}

func (sv *server) livez(w http.ResponseWriter, _ *http.Request) {
	snap := sv.latest.Load()
	if snap == nil || time.Since(snap.at) > sv.maxAge {
		http.Error(w, "control loop stalled", http.StatusServiceUnavailable)
		return
	}
	fmt.Fprintln(w, "ok")
}

func (sv *server) readyz(w http.ResponseWriter, _ *http.Request) {
	snap := sv.latest.Load()
	if snap == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	ok, not := snap.ready()
	if ok {
		fmt.Fprintln(w, "ok")
		return
	}
	if snap.stopping {
		not = append([]string{"shutting down"}, not...)
	}
	http.Error(w, strings.Join(not, "\n"), http.StatusServiceUnavailable)
}

func (sv *server) slots(w http.ResponseWriter, _ *http.Request) {
	snap := sv.latest.Load()
	if snap == nil {
		http.Error(w, "starting", http.StatusServiceUnavailable)
		return
	}
	w.Header().Set("Content-Type", "application/json")
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	_ = enc.Encode(snap.records) // an error here is the client's going away
}

// Children's timings.
const (
	beatEvery     = 100 * time.Millisecond
	warmUp        = 200 * time.Millisecond // before the api reports Ready
	workerRuns    = 3 * time.Second        // the worker fails after this
	publishEvery  = 250 * time.Millisecond // the loop refreshes the snapshot at least this often
	livenessSlack = 2 * time.Second        // plus publishEvery: how stale a snapshot may be
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
	g, err := supervisor.NewGroup("probe", supervisor.GroupConfig{OnEvent: onEvent})
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

// run is the program. listening, when set, is told the address the server
// listens on (the test listens on port 0).
func run(ctx context.Context, w io.Writer, args []string, listening func(net.Addr)) error {
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
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	sv := &server{maxAge: publishEvery + livenessSlack}
	// The group's children never see ctx's cancellation: at shutdown the
	// loop stops them itself, in order, and sees first which were
	// quarantined.
	if err := g.Start(ctx, time.Now()); err != nil {
		ln.Close()
		return err
	}
	publish(sv, g, time.Now(), false) // the handlers never see no snapshot
	srv := &http.Server{Handler: sv.routes(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if listening != nil {
		listening(ln.Addr())
	}
	logger.Info("listening", "addr", ln.Addr().String())

	quarantined := supervise(ctx, g, sv, logger)

	// Children are stopped; let requests in flight finish, then close.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = errors.Join(g.Err(), srv.Shutdown(shutdownCtx))
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if len(quarantined) > 0 {
		err = errors.Join(err, fmt.Errorf("%w: %s", errQuarantined, strings.Join(quarantined, ", ")))
	}
	return err
}

// publish stores a new snapshot of the group's slots for the handlers.
// Records are plain values: the handlers' goroutines may read them; the
// group stays the loop's.
func publish(sv *server, g *supervisor.Group, now time.Time, stopping bool) *snapshot {
	rec := g.Record(now)
	snap := &snapshot{at: now, stopping: stopping, records: make([]supervisor.Record, 0, len(rec.Members))}
	for _, m := range rec.Members {
		if m.Slot != nil {
			snap.records = append(snap.records, *m.Slot)
		}
	}
	sv.latest.Store(snap)
	return snap
}

// supervise is the group's control loop with one step of its own: it
// publishes a snapshot after every wake-up and at least every publishEvery,
// which is what /livez watches. When ctx ends it fails readiness and shuts
// the group down in order, and it returns once the group has ended, with
// the ids of the slots that were quarantined when ctx ended.
func supervise(ctx context.Context, g *supervisor.Group, sv *server, logger *slog.Logger) []string {
	var quarantined []string
	done := ctx.Done()
	stopping := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	tick := time.NewTicker(publishEvery)
	defer tick.Stop()
	for !g.Finished() {
		if at, ok := g.NextDeadline(); ok {
			timer.Reset(time.Until(at))
		} else {
			timer.Stop()
		}
		select {
		case <-g.Wake():
		case <-timer.C:
		case <-tick.C:
		case <-done:
			done, stopping = nil, true
			now := time.Now()
			// Readiness fails before anything stops.
			for _, r := range publish(sv, g, now, true).records {
				if r.Operation == supervisor.OperationQuarantined {
					quarantined = append(quarantined, r.ChildID)
				}
			}
			logger.Info("shutting down", "quarantined", quarantined)
			g.Shutdown(now)
		}
		now := time.Now()
		g.Advance(now)
		publish(sv, g, now, stopping)
	}
	return quarantined
}
