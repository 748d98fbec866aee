// Command metrics runs a small supervision tree and serves, on one
// listener of 127.0.0.1, its Prometheus metrics at /metrics (promhttp,
// with the collector of this module registered) and the admin handler of
// package admin everywhere else: the status page at /, the probes /livez
// and /readyz, the tree's JSON at /tree and /tree/{path}, and operator
// commands at POST /commands.
//
//	app (one_for_one)
//	├── api      runs until the shutdown
//	├── queue    flaky: its first two attempts fail ("connection reset")
//	├── cron     its first attempt panics, the next ones run
//	└── jobs     a nested group (one_for_all) of two workers
//
// By default the program runs for -duration (three seconds), prints the
// supervisor_ lines of its last scrape that are not zero, shuts the tree
// down and exits 0; with -serve it runs until SIGTERM or Ctrl-C instead.
// Either way it logs every event of the tree, one line each, and the URL
// it serves.
//
// The listener is served by admin.Serve (every timeout set), and commands
// need HTTP basic credentials (admin.BasicAuth): user "operator", the
// password of $ADMIN_PASSWORD or else a random one the program logs.
// Basic credentials travel in the clear, so -addr must be a loopback one.
//
// From the prometheus directory (its own module):
//
//	go run ./examples/metrics
//	go run ./examples/metrics -serve -addr 127.0.0.1:9090   # then:
//	curl -s 127.0.0.1:9090/metrics | grep supervisor_
//	curl -s 127.0.0.1:9090/readyz
//	curl -s -X POST -H 'Content-Type: application/json' -u operator:"$ADMIN_PASSWORD" \
//	  -d '{"op":"quarantine","path":"/app/queue","reason":"demo"}' 127.0.0.1:9090/commands
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/childslot/supervisor"
	"github.com/childslot/supervisor/admin"
	supervisorprom "github.com/childslot/supervisor/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	err := run(ctx, os.Stdout, os.Args[1:])
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
		os.Exit(1)
	}
}

// Timings of the tree.
const (
	backoff     = 200 * time.Millisecond // before a failed member starts again
	failAfter   = 300 * time.Millisecond // what the queue's failing attempts take
	stopTimeout = time.Second            // grace of each member in a shutdown
	snapshotGap = 100 * time.Millisecond // at most this often a new snapshot
)

// run is the program; main adds the signals and the exit status, so that
// the test can call run directly.
func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("metrics", flag.ContinueOnError)
	fs.SetOutput(w)
	addr := fs.String("addr", "127.0.0.1:0", "loopback address of /metrics and the admin handler (port 0: any free port)")
	serve := fs.Bool("serve", false, "keep running until SIGTERM or Ctrl-C")
	duration := fs.Duration("duration", 3*time.Second, "how long to run without -serve")
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return nil // -h printed the usage: exit status 0
	case err != nil:
		return err
	}
	if host, _, err := net.SplitHostPort(*addr); err != nil || !net.ParseIP(host).IsLoopback() {
		return fmt.Errorf("-addr %q: want a loopback address and port such as 127.0.0.1:9090: basic credentials travel in the clear", *addr)
	}
	if *duration <= 0 {
		return errors.New("-duration must be positive")
	}

	logger := slog.New(slog.NewTextHandler(w, nil))
	app, err := tree(logger)
	if err != nil {
		return err
	}
	reg := prometheus.NewRegistry()
	if err := reg.Register(supervisorprom.NewCollector(app, supervisorprom.Config{})); err != nil {
		return err
	}
	handler, err := mux(app, reg, logger)
	if err != nil {
		return err
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", *addr)
	if err != nil {
		return err
	}
	serving, stopServing := context.WithCancel(context.WithoutCancel(ctx))
	served := make(chan error, 1)
	go func() { served <- admin.Serve(serving, ln, handler) }()
	logger.Info("listening", "metrics", "http://"+ln.Addr().String()+"/metrics", "admin", "http://"+ln.Addr().String()+"/")

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var scrape string // the last scrape, taken before the shutdown, printed after it
	if !*serve {
		timer := time.AfterFunc(*duration, func() {
			scrape = nonZero(handler)
			cancel(errors.New("the run is over")) // Run returns after this
		})
		defer timer.Stop()
	}
	err = app.Run(runCtx)
	stopServing() // the server outlives the tree: commands in flight get their answer
	fmt.Fprint(w, scrape)
	rec := app.Record(time.Now())
	fmt.Fprintf(w, "%s %s: %s\n", rec.Path, rec.State, rec.Reason)
	return errors.Join(err, <-served)
}

// tree builds the root group app; logger logs its events.
func tree(logger *slog.Logger) (*supervisor.Group, error) {
	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{
		Strategy:         supervisor.OneForOne,
		SnapshotInterval: snapshotGap,
		OnEvent:          supervisor.LogEvents(logger),
	})
	if err != nil {
		return nil, err
	}
	retry := supervisor.Config{StopTimeout: stopTimeout, Backoff: supervisor.Backoff{Initial: backoff, NoJitter: true}}
	members := []struct {
		id string
		fn supervisor.ChildFunc
	}{
		{"api", idle},
		{"queue", flaky},
		{"cron", panicsOnce},
	}
	for _, m := range members {
		if _, err := app.Add(m.id, m.fn, retry); err != nil {
			return nil, err
		}
	}
	jobs, err := supervisor.NewGroup("jobs", supervisor.GroupConfig{Strategy: supervisor.OneForAll})
	if err != nil {
		return nil, err
	}
	for _, id := range []string{"worker1", "worker2"} {
		if _, err := jobs.Add(id, idle, retry); err != nil {
			return nil, err
		}
	}
	return app, app.AddGroup(jobs)
}

// idle reports Ready and runs until cancelled.
func idle(ctx context.Context, a *supervisor.Attempt) error {
	a.Ready()
	<-ctx.Done()
	return ctx.Err()
}

// flaky fails its first two attempts after failAfter, then runs like idle.
func flaky(ctx context.Context, a *supervisor.Attempt) error {
	if a.Number() > 2 {
		return idle(ctx, a)
	}
	t := time.NewTimer(failAfter)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-t.C:
		return errors.New("connection reset")
	}
}

// panicsOnce panics in its first attempt, then runs like idle.
func panicsOnce(ctx context.Context, a *supervisor.Attempt) error {
	if a.Number() == 1 {
		panic("nil map in the schedule")
	}
	return idle(ctx, a)
}

// mux serves reg's metrics at /metrics and app's admin handler elsewhere,
// commands for user operator, password $ADMIN_PASSWORD or a random logged one.
func mux(app *supervisor.Group, reg *prometheus.Registry, logger *slog.Logger) (http.Handler, error) {
	auth, shown, err := admin.BasicAuthFromEnv("operator", "ADMIN_PASSWORD")
	if err != nil {
		return nil, err
	}
	logger.Info("admin credentials", "user", "operator", "password", shown)
	m := http.NewServeMux()
	m.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.Handle("/", admin.New(app, admin.Options{Authorize: auth}))
	return m, nil
}

// nonZero scrapes h's /metrics in process and returns the supervisor_
// samples that are not zero.
func nonZero(h http.Handler) string {
	rec := httptest.NewRecorder()
	h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/metrics", nil))
	var b strings.Builder
	b.WriteString("\nthe samples of the last scrape that are not zero:\n")
	for line := range strings.Lines(rec.Body.String()) {
		if strings.HasPrefix(line, "supervisor_") && !strings.HasSuffix(line, " 0\n") &&
			!strings.HasPrefix(line, "supervisor_loop_last_advance_timestamp_seconds") {
			b.WriteString(line)
		}
	}
	return b.String() + "\n"
}
