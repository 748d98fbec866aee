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
// The handlers never touch a slot: a ChildSlot belongs to the loop's
// goroutine. The loop publishes immutable snapshots through an
// atomic.Pointer, and the handlers read the latest one.
//
// SIGTERM (or Ctrl-C) shuts down gracefully: readiness fails, every child
// is stopped, the server closes, and the program exits with status 2 if a
// slot ended quarantined (1 on other errors).
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
	"slices"
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

type childSpec struct {
	id  string
	fn  supervisor.ChildFunc
	cfg supervisor.Config
}

func specs(broken bool, q *supervisor.ExitQueue, onEvent func(supervisor.Event)) []childSpec {
	base := supervisor.Config{
		Exits:            q,
		OnEvent:          onEvent,
		HeartbeatTimeout: 10 * beatEvery,
		ReadyTimeout:     10 * warmUp,
		StopTimeout:      2 * time.Second,
		Backoff:          supervisor.Backoff{Initial: 100 * time.Millisecond},
	}
	out := []childSpec{{"api", api, base}, {"worker", worker, base}}
	if broken {
		cfg := base
		cfg.RestartLimit = 3
		cfg.Backoff = supervisor.Backoff{Initial: 50 * time.Millisecond}
		out = append(out, childSpec{"migrator", migrator, cfg})
	}
	return out
}

// run is the program. listening, when set, is told the address the server
// listens on (the test listens on port 0).
func run(ctx context.Context, w io.Writer, args []string, listening func(net.Addr)) error {
	fs := flag.NewFlagSet("probe", flag.ContinueOnError)
	fs.SetOutput(w)
	addr := fs.String("addr", "127.0.0.1:8080", "address to listen on")
	broken := fs.Bool("broken", false, "add a child that always fails, so that it is quarantined")
	if err := fs.Parse(args); err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(w, nil))
	q := supervisor.NewExitQueue()
	var slots []*supervisor.ChildSlot
	for _, c := range specs(*broken, q, func(e supervisor.Event) { logger.Info("supervisor", "event", e) }) {
		s, err := supervisor.NewChildSlot(c.id, c.fn, c.cfg)
		if err != nil {
			return err
		}
		slots = append(slots, s)
	}

	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return err
	}
	sv := &server{maxAge: publishEvery + livenessSlack}
	// A child's parent is Background, not ctx: at shutdown the loop stops
	// the children itself, and sees which were quarantined first.
	for _, s := range slots {
		if err := s.Start(context.WithoutCancel(ctx), time.Now()); err != nil {
			logger.Error("start", "slot", s.ID(), "err", err)
		}
	}
	publish(sv, slots, time.Now(), false) // the handlers never see no snapshot
	srv := &http.Server{Handler: sv.routes(), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	if listening != nil {
		listening(ln.Addr())
	}
	logger.Info("listening", "addr", ln.Addr().String())

	quarantined := supervise(ctx, slots, q, sv, logger)

	// Children are stopped; let requests in flight finish, then close.
	shutdownCtx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 5*time.Second)
	defer cancel()
	err = errors.Join(srv.Shutdown(shutdownCtx))
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = errors.Join(err, serr)
	}
	if len(quarantined) > 0 {
		err = errors.Join(err, fmt.Errorf("%w: %s", errQuarantined, strings.Join(quarantined, ", ")))
	}
	return err
}

// publish stores a new snapshot of the slots for the handlers. Records are
// plain values: the handlers' goroutines may read them; the slots stay the
// loop's.
func publish(sv *server, slots []*supervisor.ChildSlot, now time.Time, stopping bool) {
	snap := &snapshot{at: now, stopping: stopping, records: make([]supervisor.Record, len(slots))}
	for i, s := range slots {
		snap.records[i] = s.Record(now)
	}
	sv.latest.Store(snap)
}

// supervise is the control loop over the started slots. It serves their
// exits and deadlines, and publishes a snapshot after every wake-up and at
// least every publishEvery. When ctx ends it fails readiness, removes every
// slot and returns once all are finished, with the ids of the slots that
// were quarantined at that point.
func supervise(ctx context.Context, slots []*supervisor.ChildSlot, q *supervisor.ExitQueue,
	sv *server, logger *slog.Logger) []string {
	var quarantined []string
	done := ctx.Done()
	stopping := false
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	tick := time.NewTicker(publishEvery)
	defer tick.Stop()
	var drained []*supervisor.ChildSlot
	for {
		now := time.Now()
		for _, s := range slots {
			s.Advance(now)
		}
		publish(sv, slots, now, stopping)
		if stopping && !slices.ContainsFunc(slots, func(s *supervisor.ChildSlot) bool { return !s.Finished() }) {
			return quarantined
		}
		if at, ok := earliest(slots); ok {
			timer.Reset(time.Until(at))
		}
		select {
		case <-q.Ready():
			now := time.Now()
			for _, s := range q.Drain(drained[:0]) {
				_, _ = s.Collect(now) // ErrNoAttempt: already collected
			}
		case <-timer.C:
		case <-tick.C:
		case <-done:
			done, stopping = nil, true
			now := time.Now()
			publish(sv, slots, now, true) // readiness fails before anything stops
			for _, s := range slots {
				if s.Record(now).Operation == supervisor.OperationQuarantined {
					quarantined = append(quarantined, s.ID())
				}
				_ = s.Remove(now) // cancels the child; Advance abandons it past StopTimeout
			}
			logger.Info("shutting down", "quarantined", quarantined)
		}
	}
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
