// Command tree runs a small supervision tree with supervisor.Group and
// Group.Run, and logs its events with supervisor.LogEvents (log/slog, one
// line each, at their level) and its process member's output with
// supervisor.LogLines:
//
//	app (rest_for_one)
//	├── ticker    an OS process: /bin/sh printing a tick every half second
//	├── jobs      a nested group (one_for_one) of jobs:
//	│   ├── cleanup   Temporary: finishes at once and leaves the group
//	│   ├── report    Transient: fails once, is restarted, then finishes
//	│   └── indexer   Transient: runs until the shutdown
//	├── http      an HTTP server on 127.0.0.1 (POST /orders?id=N, POST /crash)
//	└── consumer  consumes the orders the server queues
//
// The consumer reads the queue that the running server attempt made: after
// a server restart, a consumer still reading the old queue would wait
// forever. That is what rest_for_one is for: when http fails, the group
// stops the consumer, restarts http, waits for it to report Ready, and
// starts the consumer again, while ticker and jobs, started before http,
// keep running untouched.
//
// By default the program plays a story of about three seconds: a client
// posts a few orders, tells the server to crash (-crashes times), posts a
// few more, and then the program shuts the tree down in order (reverse
// start order, one member at a time) and prints what became of each member.
// With -serve it runs until SIGTERM or Ctrl-C instead, then does the same
// (go run does not pass a SIGTERM on to the program it runs: signal a
// built binary, or press Ctrl-C, which reaches both).
// The exit status is 1 when the root group gave up: with the default
// restart intensity of the root, -crashes 4 shows it.
//
// Beside the tree, on its own listener, the program serves the admin
// handler of package admin (-admin, a free port of 127.0.0.1 by default,
// "" for none; it logs the URL): the status page at /, the probes /livez
// and /readyz, the tree's JSON at /tree and /tree/{path}, and operator
// commands at POST /commands. The admin server is not a member of the
// tree: it reports on the tree through its restarts and its shutdown, and
// closes once the tree has ended. It is admin's ready-made server
// (admin.NewServer: every timeout set), and commands need HTTP basic
// credentials (admin.BasicAuth): user "operator", the password of
// $ADMIN_PASSWORD or else a random one the program logs, so that the
// page's buttons work in a browser (its "sign in" asks for them).
//
//	go run ./examples/tree
//	go run ./examples/tree -crashes 4          # the root fails: exit status 1
//	go run ./examples/tree -serve -port 8080 -admin 127.0.0.1:8081   # then:
//	curl -X POST '127.0.0.1:8080/orders?id=7'; curl -X POST 127.0.0.1:8080/crash
//	curl 127.0.0.1:8081/readyz; curl 127.0.0.1:8081/tree/app/http
//	curl -X POST -H 'Content-Type: application/json' -u operator:"$ADMIN_PASSWORD" \
//	  -d '{"op":"pause","path":"/app/consumer","reason":"demo"}' 127.0.0.1:8081/commands
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
	"os"
	"os/exec"
	"os/signal"
	"strconv"
	"sync"
	"syscall"
	"time"

	"github.com/childslot/supervisor"
	"github.com/childslot/supervisor/admin"
)

func main() {
	ctx, stop := notifyContext(context.Background())
	defer stop()
	err := run(ctx, os.Stdout, os.Args[1:])
	if err != nil {
		fmt.Fprintln(os.Stderr, "tree:", err)
	}
	stop()
	os.Exit(exitCode(err))
}

// notifyContext returns a context that ends at SIGTERM or Ctrl-C.
func notifyContext(parent context.Context) (context.Context, context.CancelFunc) {
	return signal.NotifyContext(parent, syscall.SIGTERM, os.Interrupt)
}

// exitCode maps run's error to the process exit status: 1 when the tree
// gave up (or could not start), so that the platform restarts the program.
func exitCode(err error) int {
	if err == nil {
		return 0
	}
	return 1
}

// Timings of the tree.
const (
	rootIntensity = 3 // restarts of app's members within rootPeriod; one more fails the tree
	rootPeriod    = 10 * time.Second
	httpBackoff   = 200 * time.Millisecond // before a failed server starts again, doubling
	readyTimeout  = 2 * time.Second        // the server must listen by then
	stopTimeout   = time.Second            // grace of each member in a shutdown
	jobTime       = 300 * time.Millisecond // what a job's work takes
)

// shutdownBound is the longest the tree's ordered shutdown can take: the
// StopTimeouts of its members one after another (ticker, indexer, http and
// consumer have stopTimeout, cleanup and report the default). The files in
// deploy/ give the process longer before SIGKILL (TestDeploySystemd,
// TestDeployKubernetes).
const shutdownBound = 4*stopTimeout + 2*supervisor.DefaultStopTimeout

// tickerScript prints a tick every half second. At SIGTERM it stops its
// sleep and says goodbye, so that it returns within its StopTimeout.
const tickerScript = `trap 'kill $pid 2>/dev/null; echo "SIGTERM: bye"; exit 0' TERM
i=0
while :; do i=$((i+1)); echo "tick $i"; sleep 0.5 & pid=$!; wait $pid; done`

// run is the program; main adds the signals and the exit status, so that
// the test can call run directly.
func run(ctx context.Context, w io.Writer, args []string) error {
	fs := flag.NewFlagSet("tree", flag.ContinueOnError)
	fs.SetOutput(w)
	port := fs.Int("port", 0, "port of the HTTP server on 127.0.0.1 (0: any free port)")
	serve := fs.Bool("serve", false, "keep running until SIGTERM or Ctrl-C instead of playing the story")
	crashes := fs.Int("crashes", 1, "how often the story makes the server crash")
	pace := fs.Duration("pace", 400*time.Millisecond, "time between the story's requests")
	adminAddr := fs.String("admin", "127.0.0.1:0", `address of the admin handler, a loopback one such as 127.0.0.1:8081, or any with $ADMIN_PASSWORD set (port 0: any free port; "": no admin server)`)
	switch err := fs.Parse(args); {
	case errors.Is(err, flag.ErrHelp):
		return nil // -h printed the usage: exit status 0
	case err != nil:
		return err
	}
	if *port < 0 || *port > 65535 || *crashes < 0 || *pace <= 0 {
		return errors.New("-port must be 0 to 65535, -crashes not negative, -pace positive")
	}
	if err := checkAdminAddr(*adminAddr); err != nil {
		return err
	}

	logger := slog.New(slog.NewTextHandler(w, nil))
	sv := &server{port: *port, logger: logger, q: &queue{}, first: make(chan string, 1)}
	app, err := tree(sv, logger)
	if err != nil {
		return err
	}
	stopAdmin, err := startAdmin(ctx, *adminAddr, app, logger)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancelCause(ctx)
	defer cancel(nil)
	var story sync.WaitGroup
	if !*serve {
		story.Go(func() {
			play(runCtx, logger, sv.first, *crashes, *pace)
			cancel(errors.New("the story is over"))
		})
	}
	err = app.Run(runCtx)
	cancel(errors.New("the tree has ended"))
	story.Wait()
	stopAdmin()

	rec := app.Record(time.Now())
	fmt.Fprintln(w, "\nwhat became of each member, in shutdown order (reverse start order):")
	if err := rec.WriteOutcomes(w); err != nil {
		return err
	}
	fmt.Fprintf(w, "%s %s: %s\n", rec.Path, rec.State, rec.Reason)
	return err
}

// tree builds the root group app; sv is the HTTP server member's state.
func tree(sv *server, logger *slog.Logger) (*supervisor.Group, error) {
	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{
		Strategy:  supervisor.RestForOne,
		Intensity: rootIntensity,
		Period:    rootPeriod,
		OnEvent:   supervisor.LogEvents(logger),
	})
	if err != nil {
		return nil, err
	}
	ticker := supervisor.Process(func(ctx context.Context) *exec.Cmd {
		cmd := exec.CommandContext(ctx, "/bin/sh", "-c", tickerScript)
		out := supervisor.LogLines(logger, slog.String("path", "/app/ticker"))
		cmd.Stdout, cmd.Stderr = out, out
		return cmd
	})
	if _, err := app.Add("ticker", ticker, supervisor.Config{StopTimeout: stopTimeout}); err != nil {
		return nil, err
	}
	jobs, err := jobGroup()
	if err != nil {
		return nil, err
	}
	if err := app.AddGroup(jobs); err != nil {
		return nil, err
	}
	if _, err := app.Add("http", sv.serve, supervisor.Config{
		ReadyTimeout: readyTimeout, // the consumer starts once the server listens
		StopTimeout:  stopTimeout,
		Backoff:      supervisor.Backoff{Initial: httpBackoff, NoJitter: true},
	}); err != nil {
		return nil, err
	}
	_, err = app.Add("consumer", sv.q.consume(logger), supervisor.Config{StopTimeout: stopTimeout})
	return app, err
}

// checkAdminAddr returns why addr, the -admin flag, is not empty nor an
// address with a port, or nil. A non-loopback address (":8081" in a pod)
// needs $ADMIN_PASSWORD set: a random password logged by the program is
// for a listener nobody else reaches. The handler still answers only
// requests whose Host is an IP literal or localhost, and commands need the
// credentials, which travel in the clear without TLS in front.
func checkAdminAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-admin: %w", err)
	}
	if ip := net.ParseIP(host); (ip == nil || !ip.IsLoopback()) && os.Getenv("ADMIN_PASSWORD") == "" {
		return fmt.Errorf("-admin %s: want a loopback address such as 127.0.0.1:8081, or set $ADMIN_PASSWORD: basic credentials travel in the clear", addr)
	}
	return nil
}

// startAdmin serves the admin handler of app on addr, logs its URL, and
// returns the function that closes the server once the tree has ended. An
// empty addr serves nothing.
func startAdmin(ctx context.Context, addr string, app *supervisor.Group, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin server: %w", err)
	}
	auth, shown, err := admin.BasicAuthFromEnv("operator", "ADMIN_PASSWORD")
	if err != nil {
		return nil, err
	}
	srv := admin.NewServer(admin.New(app, admin.Options{Authorize: auth}))
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("admin listening", "url", "http://"+ln.Addr().String()+"/", "user", "operator", "password", shown)
	return func() {
		// A command still waiting for the loop, which has ended, gets
		// stopTimeout; then its connection is closed.
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close() // the server closes either way; nothing to report
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("admin server", "error", err)
		}
	}, nil
}

// jobGroup builds the nested group of jobs.
func jobGroup() (*supervisor.Group, error) {
	jobs, err := supervisor.NewGroup("jobs", supervisor.GroupConfig{Strategy: supervisor.OneForOne})
	if err != nil {
		return nil, err
	}
	members := []struct {
		id  string
		fn  supervisor.ChildFunc
		cfg supervisor.Config
	}{
		{"cleanup", job(nil), supervisor.Config{Restart: supervisor.Temporary}},
		{"report", job(errors.New("smtp: connection reset")), supervisor.Config{
			Restart: supervisor.Transient,
			Backoff: supervisor.Backoff{Initial: 100 * time.Millisecond, NoJitter: true},
		}},
		{"indexer", indexer, supervisor.Config{Restart: supervisor.Transient, StopTimeout: stopTimeout}},
	}
	for _, m := range members {
		if _, err := jobs.Add(m.id, m.fn, m.cfg); err != nil {
			return nil, err
		}
	}
	return jobs, nil
}

// job works for jobTime, then finishes; its first attempt fails with
// firstErr when that is set.
func job(firstErr error) supervisor.ChildFunc {
	return func(ctx context.Context, a *supervisor.Attempt) error {
		t := time.NewTimer(jobTime)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-t.C:
		}
		if a.Number() == 1 && firstErr != nil {
			return firstErr
		}
		return nil
	}
}

// indexer runs until cancelled.
func indexer(ctx context.Context, a *supervisor.Attempt) error {
	a.Ready()
	<-ctx.Done()
	return ctx.Err()
}

// queue holds the orders channel of the running server attempt: each
// attempt makes a new one, and the consumer started after it reads that.
type queue struct {
	mu sync.Mutex
	ch chan int
}

// renew gives the queue a new channel and returns it.
func (q *queue) renew() chan int {
	q.mu.Lock()
	defer q.mu.Unlock()
	q.ch = make(chan int, 16)
	return q.ch
}

// current returns the channel of the latest server attempt.
func (q *queue) current() chan int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return q.ch
}

// consume returns the consumer member: it logs the orders of the queue
// that was current when it started.
func (q *queue) consume(logger *slog.Logger) supervisor.ChildFunc {
	return func(ctx context.Context, a *supervisor.Attempt) error {
		ch := q.current()
		a.Ready()
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case id := <-ch:
				logger.Info("consumed", "path", "/app/consumer", "attempt", a.Number(), "order", id)
			}
		}
	}
}

// server is the HTTP server member's state across its attempts.
type server struct {
	port   int
	logger *slog.Logger
	q      *queue
	first  chan string // receives the address of the first listen
	// addr is where the first attempt listened; later attempts listen there
	// too, so that clients find the server again. Attempts run one after
	// another, each started after the previous one returned.
	addr string
}

// serve is the HTTP server member: it listens, makes a new order queue,
// reports Ready, and serves until cancelled or told to crash.
func (sv *server) serve(ctx context.Context, a *supervisor.Attempt) error {
	addr := sv.addr
	if addr == "" {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(sv.port))
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if sv.addr == "" {
		sv.addr = ln.Addr().String()
		sv.first <- sv.addr
	}
	orders := sv.q.renew()
	crash := make(chan struct{}, 1)
	mux := http.NewServeMux()
	mux.HandleFunc("POST /orders", func(w http.ResponseWriter, r *http.Request) {
		id, err := strconv.Atoi(r.URL.Query().Get("id"))
		if err != nil {
			http.Error(w, "id: want a number", http.StatusBadRequest)
			return
		}
		select {
		case orders <- id:
			w.WriteHeader(http.StatusAccepted)
		default:
			http.Error(w, "queue full", http.StatusServiceUnavailable)
		}
	})
	mux.HandleFunc("POST /crash", func(w http.ResponseWriter, _ *http.Request) {
		select {
		case crash <- struct{}{}:
		default:
		}
		w.WriteHeader(http.StatusAccepted)
	})
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: time.Second,
		ErrorLog:          slog.NewLogLogger(sv.logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	sv.logger.Info("listening", "path", "/app/http", "attempt", a.Number(), "addr", sv.addr)
	a.Ready()

	// closeServer lets the requests in flight finish, waits for Serve, and
	// returns err, or what went wrong with the server.
	closeServer := func(err error) error {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), stopTimeout/2)
		defer cancel()
		if serr := srv.Shutdown(sctx); serr != nil {
			err = serr
		}
		if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
			err = serr
		}
		return err
	}
	select {
	case <-ctx.Done():
		return closeServer(ctx.Err())
	case <-crash:
		return closeServer(errors.New("order book corrupted"))
	case err := <-served:
		return err
	}
}
