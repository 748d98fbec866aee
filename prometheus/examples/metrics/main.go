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
// The admin authorizer is a demo one (see demoAuthorize): it takes the
// requester from the X-Requester header of a request from the loopback
// address, so that curl can send commands; a real program checks a token
// or a client certificate (mTLS) instead.
//
// From the prometheus directory (its own module):
//
//	go run ./examples/metrics
//	go run ./examples/metrics -serve -addr 127.0.0.1:9090   # then:
//	curl -s 127.0.0.1:9090/metrics | grep supervisor_
//	curl -s 127.0.0.1:9090/readyz
//	curl -s -X POST -H 'Content-Type: application/json' -H 'X-Requester: alice' \
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
	defer stop()
	err := run(ctx, os.Stdout, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "metrics:", err)
	}
	stop()
	if err != nil {
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
	if err := checkAddr(*addr); err != nil {
		return err
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
	handler := mux(app, reg)
	stopServer, err := listen(ctx, *addr, handler, logger)
	if err != nil {
		return err
	}
	defer stopServer()

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
	fmt.Fprint(w, scrape)
	rec := app.Record(time.Now())
	fmt.Fprintf(w, "%s %s: %s\n", rec.Path, rec.State, rec.Reason)
	return err
}

// checkAddr returns why addr, the -addr flag, is not a loopback address
// with a port, or nil. The demo authorizer trusts a header, which only a
// listener that nobody else reaches makes tolerable.
func checkAddr(addr string) error {
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-addr: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-addr %s: want a loopback address such as 127.0.0.1:9090: the demo authorizer trusts a header", addr)
	}
	return nil
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

// mux serves reg's metrics at /metrics and app's admin handler elsewhere.
func mux(app *supervisor.Group, reg *prometheus.Registry) http.Handler {
	m := http.NewServeMux()
	m.Handle("GET /metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
	m.Handle("/", admin.New(app, admin.Options{Authorize: demoAuthorize}))
	return m
}

// listen serves h on addr, logs the URLs, and returns the function that
// closes the server.
func listen(ctx context.Context, addr string, h http.Handler, logger *slog.Logger) (stop func(), err error) {
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, err
	}
	srv := &http.Server{
		Handler:           h,
		ReadHeaderTimeout: time.Second,
		ErrorLog:          slog.NewLogLogger(logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	base := "http://" + ln.Addr().String()
	logger.Info("listening", "metrics", base+"/metrics", "admin", base+"/")
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close() // the server closes either way; nothing to report
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("server", "error", err)
		}
	}, nil
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

// demoAuthorize is the admin handler's authorizer of this demo, and only
// that: it lets a request from the loopback address send commands and
// takes who asks from its X-Requester header, which anyone on the machine
// can set to any name. A real program checks a token or a client
// certificate (mTLS), or trusts a header only from the authenticating
// proxy in front of the port.
func demoAuthorize(r *http.Request) (string, error) {
	host, _, err := net.SplitHostPort(r.RemoteAddr)
	if err != nil {
		return "", fmt.Errorf("remote address %q: %w", r.RemoteAddr, err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return "", errors.New("this demo takes commands from 127.0.0.1 only")
	}
	who := strings.TrimSpace(r.Header.Get("X-Requester"))
	if who == "" {
		return "", errors.New("say who asks in the X-Requester header")
	}
	return who, nil
}
