// Command pool runs one supervised child per tenant, added and removed
// from HTTP requests while the tree runs:
//
//	app (one_for_one)
//	├── tenants   a pool: a nested group whose members are added with
//	│             Group.StartChild and removed with Group.StopChild, at most
//	│             -max of them (GroupConfig.MaxChildren), shut down all at
//	│             once (ShutdownOrder Concurrent) within -shutdown-timeout
//	└── gateway   a fixed member: the HTTP server on 127.0.0.1
//	              POST   /tenants/{id}   start a tenant (201; 429 at -max)
//	              DELETE /tenants/{id}   stop and remove it (200; 404)
//
// The gateway's request goroutines call StartChild and StopChild directly:
// both are safe from any goroutine and wait, within the request's context,
// for the tree's loop to answer. A tenant reports Ready once loaded, runs
// until cancelled, then flushes its buffers (-flush). ?behave= makes one
// misbehave, for the story: "broken" fails before it is ready (StartChild
// returns ErrStartFailed: 422), "revoked" returns an error wrapping
// supervisor.ErrDoNotRestart (it is not restarted and leaves the pool),
// "crashloop" fails every 50ms until its RestartLimit quarantines it,
// "stuck" ignores cancellation while it flushes (the pool's ShutdownTimeout
// abandons it).
//
// By default the program plays a story of a few seconds over HTTP (adds,
// the two failing tenants, a refusal at -max, removals), then shuts the
// tree down and prints what became of each tenant and how long the pool's
// shutdown took: all at once, the tenants flush together and only "stuck"
// is abandoned at the pool's ShutdownTimeout; with -concurrent=false (one
// at a time, in reverse order) "stuck" spends the whole deadline and the
// tenants behind it are abandoned unflushed. With -serve it runs until
// SIGTERM or Ctrl-C instead.
// Beside the tree, on its own listener (-admin), it serves package admin's
// handler: the status page, /livez, /readyz, /tree and POST /commands
// (user "operator", the password of $ADMIN_PASSWORD or a random one it
// logs).
//
//	go run ./examples/pool
//	go run ./examples/pool -concurrent=false
//	go run ./examples/pool -serve -port 8080 -admin 127.0.0.1:8081   # then:
//	curl -X POST 127.0.0.1:8080/tenants/acme; curl -X DELETE 127.0.0.1:8080/tenants/acme
//	curl 127.0.0.1:8081/tree/app/tenants
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
	"os/signal"
	"strings"
	"sync"
	"syscall"
	"time"

	"github.com/childslot/supervisor"
	"github.com/childslot/supervisor/admin"
)

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGTERM, os.Interrupt)
	defer stop()
	err := run(ctx, os.Stdout, os.Args[1:])
	stop()
	switch {
	case errors.Is(err, flag.ErrHelp):
		os.Exit(0)
	case err != nil:
		fmt.Fprintln(os.Stderr, "pool:", err)
		os.Exit(1)
	}
}

// options are the program's flags.
type options struct {
	port            int
	admin           string
	serve           bool
	max             int
	flush           time.Duration
	stopTimeout     time.Duration
	shutdownTimeout time.Duration
	concurrent      bool
}

// parse reads the flags of args.
func parse(w io.Writer, args []string) (options, error) {
	var o options
	fs := flag.NewFlagSet("pool", flag.ContinueOnError)
	fs.SetOutput(w)
	fs.IntVar(&o.port, "port", 0, "port of the gateway on 127.0.0.1 (0: any free port)")
	fs.StringVar(&o.admin, "admin", "127.0.0.1:0", `address of the admin handler, a loopback one (port 0: any free port; "": none)`)
	fs.BoolVar(&o.serve, "serve", false, "keep serving until SIGTERM or Ctrl-C instead of playing the story")
	fs.IntVar(&o.max, "max", 4, "most tenants at once (GroupConfig.MaxChildren)")
	fs.DurationVar(&o.flush, "flush", 200*time.Millisecond, "what a tenant's flush takes once cancelled")
	fs.DurationVar(&o.stopTimeout, "stop-timeout", 2*time.Second, "each tenant's StopTimeout")
	fs.DurationVar(&o.shutdownTimeout, "shutdown-timeout", time.Second, "the pool's ShutdownTimeout: the most its whole shutdown takes (0: none)")
	fs.BoolVar(&o.concurrent, "concurrent", true, "stop the pool's tenants all at once (false: one at a time, in reverse order)")
	if err := fs.Parse(args); err != nil {
		return o, err
	}
	if o.port < 0 || o.port > 65535 || o.max < 1 || o.flush < 0 || o.stopTimeout <= 0 || o.shutdownTimeout < 0 {
		return o, errors.New("-port must be 0 to 65535, -max at least 1, -flush and -shutdown-timeout not negative, -stop-timeout positive")
	}
	return o, checkAdminAddr(o.admin)
}

// run is the program; main adds the signals and the exit status.
func run(ctx context.Context, out io.Writer, args []string) error {
	// The log and the summary share w: an abandoned tenant may still log
	// while the summary is printed.
	w := &lockedWriter{w: out}
	o, err := parse(w, args)
	if err != nil {
		return err
	}
	start := time.Now()
	logger := newLogger(w, start)
	clock := &shutdownClock{}
	app, pool, err := tree(o, func(e supervisor.Event) {
		clock.note(e, time.Now())
		logEvent(logger, e)
	})
	if err != nil {
		return err
	}
	gw := &gateway{pool: pool, port: o.port, logger: logger, tenants: newTenants(o, logger), first: make(chan string, 1)}
	if _, err := app.Add("gateway", gw.serve, supervisor.Config{ReadyTimeout: time.Second, StopTimeout: time.Second}); err != nil {
		return err
	}
	stopAdmin, err := startAdmin(ctx, o.admin, app, logger)
	if err != nil {
		return err
	}

	runCtx, cancel := context.WithCancel(ctx)
	defer cancel()
	var story sync.WaitGroup
	if !o.serve {
		story.Go(func() {
			play(runCtx, logger, gw.first)
			logger.Info("story: over, shutting down")
			cancel()
		})
	}
	err = app.Run(runCtx)
	cancel()
	story.Wait()
	stopAdmin()

	rec := app.Record(time.Now())
	fmt.Fprintln(w, "\nwhat became of each tenant still in the pool:")
	for _, m := range rec.Members {
		if m.ID == "tenants" && m.Group != nil {
			printTenants(w, *m.Group)
		}
	}
	fmt.Fprintf(w, "pool shutdown (%s) took %v\n", order(o.concurrent), clock.took().Round(10*time.Millisecond))
	// An abandoned tenant's goroutine still runs: wait a moment for it,
	// as a program about to exit need not.
	if !gw.tenants.wait(3 * time.Second) {
		fmt.Fprintln(w, "a tenant goroutine is still running")
	}
	fmt.Fprintf(w, "%s %s\n", rec.Path, rec.State)
	return err
}

// lockedWriter serializes the writes of several goroutines to w.
type lockedWriter struct {
	mu sync.Mutex
	w  io.Writer
}

// Write writes p to the underlying writer, alone.
func (l *lockedWriter) Write(p []byte) (int, error) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.w.Write(p)
}

// order names the pool's shutdown order for the summary.
func order(concurrent bool) string {
	if concurrent {
		return "concurrent"
	}
	return "in order"
}

// tree builds the root group app and its pool group, tenants; the gateway
// is added by the caller.
func tree(o options, onEvent func(supervisor.Event)) (app, pool *supervisor.Group, err error) {
	app, err = supervisor.NewGroup("app", supervisor.GroupConfig{OnEvent: onEvent})
	if err != nil {
		return nil, nil, err
	}
	pool, err = supervisor.NewGroup("tenants", poolConfig(o))
	if err != nil {
		return nil, nil, err
	}
	return app, pool, app.AddGroup(pool)
}

// poolConfig is the tenants group's configuration.
func poolConfig(o options) supervisor.GroupConfig {
	c := supervisor.GroupConfig{
		Strategy:    supervisor.OneForOne,
		MaxChildren: o.max,
		// A tenant's crash loop is its own business (its RestartLimit
		// quarantines it); the pool's intensity is for a pool-wide storm.
		Intensity: 50,
		Period:    10 * time.Second,
		// However many tenants and however they behave, the pool's
		// shutdown takes at most this: what still runs is abandoned.
		ShutdownTimeout: o.shutdownTimeout,
	}
	if o.concurrent {
		c.ShutdownOrder = supervisor.Concurrent // order means nothing in a pool
	}
	return c
}

// shutdownClock notes when the pool's shutdown started and finished.
type shutdownClock struct {
	mu            sync.Mutex
	start, finish time.Time
}

// note records e's time if it starts or finishes the pool's shutdown.
func (c *shutdownClock) note(e supervisor.Event, now time.Time) {
	if e.Path != "/app/tenants" {
		return
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	switch e.Kind {
	case supervisor.EventShutdownStarted:
		c.start = now
	case supervisor.EventShutdownFinished:
		c.finish = now
	}
}

// took is the shutdown's duration, or zero when it did not finish.
func (c *shutdownClock) took() time.Duration {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.start.IsZero() || c.finish.IsZero() {
		return 0
	}
	return c.finish.Sub(c.start)
}

// checkAdminAddr returns why addr, the -admin flag, is not empty nor a
// loopback address with a port: basic credentials travel in the clear.
func checkAdminAddr(addr string) error {
	if addr == "" {
		return nil
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return fmt.Errorf("-admin: %w", err)
	}
	if ip := net.ParseIP(host); ip == nil || !ip.IsLoopback() {
		return fmt.Errorf("-admin %s: want a loopback address such as 127.0.0.1:8081", addr)
	}
	return nil
}

// startAdmin serves admin's handler of app on addr (nothing when empty)
// and returns the function that closes it once the tree has ended.
func startAdmin(ctx context.Context, addr string, app *supervisor.Group, logger *slog.Logger) (stop func(), err error) {
	if addr == "" {
		return func() {}, nil
	}
	auth, shown, err := admin.BasicAuthFromEnv("operator", "ADMIN_PASSWORD")
	if err != nil {
		return nil, err
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("admin server: %w", err)
	}
	srv := admin.NewServer(admin.New(app, admin.Options{Authorize: auth}))
	srv.ErrorLog = slog.NewLogLogger(logger.Handler(), slog.LevelWarn)
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	logger.Info("admin listening", "url", "http://"+ln.Addr().String()+"/", "user", "operator", "password", shown)
	return func() {
		sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), time.Second)
		defer cancel()
		if err := srv.Shutdown(sctx); err != nil {
			_ = srv.Close() // the server closes either way
		}
		if err := <-served; !errors.Is(err, http.ErrServerClosed) {
			logger.Warn("admin server", "error", err)
		}
	}, nil
}

// newLogger returns a slog text logger to w that shows the time since
// start instead of the wall clock.
func newLogger(w io.Writer, start time.Time) *slog.Logger {
	return slog.New(slog.NewTextHandler(w, &slog.HandlerOptions{
		ReplaceAttr: func(groups []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey && len(groups) == 0 {
				return slog.String("t", fmt.Sprintf("%.3fs", time.Since(start).Seconds()))
			}
			return a
		},
	}))
}

// logEvent logs a supervisor event on one line.
func logEvent(logger *slog.Logger, e supervisor.Event) {
	attrs := []any{"path", e.Path}
	if e.Attempt != 0 {
		attrs = append(attrs, "attempt", e.Attempt)
	}
	if e.Member != "" {
		attrs = append(attrs, "member", e.Member)
	}
	level := slog.LevelInfo
	switch {
	case e.Exit != nil:
		attrs = append(attrs, "exit", e.Exit.String())
		if d := e.Exit.Directive; d != supervisor.DirectiveNone {
			attrs = append(attrs, "directive", d.String())
		}
		if e.Exit.Kind.Abnormal() {
			level = slog.LevelWarn
		}
	case e.Reason != "":
		attrs = append(attrs, "reason", e.Reason)
	}
	logger.Log(context.Background(), level, e.Kind.String(), attrs...)
}

// printTenants prints how each member of the pool r ended.
func printTenants(w io.Writer, r supervisor.GroupRecord) {
	for _, m := range r.Members {
		if m.Slot == nil {
			continue
		}
		last := "no exit"
		if m.Slot.LastExit != nil {
			last = m.Slot.LastExit.String()
		}
		fmt.Fprintf(w, "  %-24s %-16s attempts %d; last: %s\n", strings.TrimPrefix(r.Path+"/"+m.ID, "/"), m.Shutdown, m.Slot.Attempt, last)
	}
}
