package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"strconv"
	"sync"
	"time"

	"github.com/childslot/supervisor"
)

// Timings of a tenant.
const (
	crashAfter   = 50 * time.Millisecond  // a "crashloop" tenant's attempts fail this soon
	revokedAfter = 400 * time.Millisecond // a "revoked" tenant learns it this soon
	stuckFlush   = 1500 * time.Millisecond
	requestWait  = 2 * time.Second // the most a request waits for the tree's loop
)

// tenants makes the pool's members and keeps count of their goroutines.
type tenants struct {
	flush  time.Duration
	cfg    supervisor.Config
	logger *slog.Logger
	wg     sync.WaitGroup // every tenant attempt, until it returns
}

// newTenants returns the tenant maker of the options o.
func newTenants(o options, logger *slog.Logger) *tenants {
	return &tenants{flush: o.flush, logger: logger, cfg: supervisor.Config{
		ReadyTimeout:  time.Second, // StartChild returns once the tenant is loaded
		StopTimeout:   o.stopTimeout,
		RestartLimit:  2, // the third failure within RestartWindow quarantines it
		RestartWindow: 10 * time.Second,
		Backoff:       supervisor.Backoff{Initial: crashAfter, NoJitter: true},
	}}
}

// child returns the member of tenant id; behave names how it misbehaves
// ("" for not at all), and is one of "broken" (fails to load), "revoked",
// "crashloop" and "stuck".
func (t *tenants) child(id, behave string) (supervisor.ChildFunc, error) {
	switch behave {
	case "", "broken", "revoked", "crashloop", "stuck":
	default:
		return nil, fmt.Errorf("behave=%q: want broken, revoked, crashloop or stuck", behave)
	}
	return func(ctx context.Context, a *supervisor.Attempt) error {
		t.wg.Add(1)
		defer t.wg.Done()
		if behave == "broken" {
			return fmt.Errorf("tenant %s: config: no such database", id)
		}
		a.Ready() // loaded
		switch behave {
		case "revoked":
			if sleep(ctx, revokedAfter) {
				return fmt.Errorf("tenant %s: licence revoked: %w", id, supervisor.ErrDoNotRestart)
			}
		case "crashloop":
			if sleep(ctx, crashAfter) {
				return fmt.Errorf("tenant %s: database: connection refused", id)
			}
		}
		<-ctx.Done()
		if behave == "stuck" {
			time.Sleep(stuckFlush) // deaf to cancellation
			t.logger.Info("tenant: late flush done", "tenant", id)
			return ctx.Err()
		}
		time.Sleep(t.flush) // writes its buffers out
		return ctx.Err()
	}, nil
}

// wait waits, at most d, for every tenant attempt to return, and reports
// whether they all did.
func (t *tenants) wait(d time.Duration) bool {
	done := make(chan struct{})
	go func() { t.wg.Wait(); close(done) }()
	timer := time.NewTimer(d)
	defer timer.Stop()
	select {
	case <-done:
		return true
	case <-timer.C:
		return false
	}
}

// gateway is the HTTP member: its handlers start and stop tenants.
type gateway struct {
	pool    *supervisor.Group
	tenants *tenants
	port    int
	logger  *slog.Logger
	first   chan string // receives the address of the first listen
	addr    string      // where the first attempt listened; later ones listen there too
}

// serve is the gateway member: it listens, reports Ready, and serves until
// cancelled.
func (gw *gateway) serve(ctx context.Context, a *supervisor.Attempt) error {
	addr := gw.addr
	if addr == "" {
		addr = net.JoinHostPort("127.0.0.1", strconv.Itoa(gw.port))
	}
	ln, err := new(net.ListenConfig).Listen(ctx, "tcp", addr)
	if err != nil {
		return err
	}
	if gw.addr == "" {
		gw.addr = ln.Addr().String()
		gw.first <- gw.addr
	}
	mux := http.NewServeMux()
	mux.HandleFunc("POST /tenants/{id}", gw.start)
	mux.HandleFunc("DELETE /tenants/{id}", gw.stop)
	srv := &http.Server{
		Handler:           mux,
		ReadHeaderTimeout: time.Second,
		ErrorLog:          slog.NewLogLogger(gw.logger.Handler(), slog.LevelWarn),
	}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	gw.logger.Info("gateway listening", "addr", gw.addr)
	a.Ready()
	select {
	case err := <-served:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.WithoutCancel(ctx), 500*time.Millisecond)
	defer cancel()
	err = srv.Shutdown(sctx)
	if serr := <-served; !errors.Is(serr, http.ErrServerClosed) {
		err = serr
	}
	if err != nil {
		return err
	}
	return ctx.Err()
}

// start is POST /tenants/{id}[?behave=...]: 201 once the tenant is ready.
func (gw *gateway) start(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	fn, err := gw.tenants.child(id, r.URL.Query().Get("behave"))
	if err != nil {
		reply(w, http.StatusBadRequest, map[string]string{"error": err.Error()})
		return
	}
	ctx, cancel := context.WithTimeout(r.Context(), requestWait)
	defer cancel()
	err = gw.pool.StartChild(ctx, id, fn, gw.tenants.cfg)
	if err != nil {
		reply(w, status(err), map[string]string{"error": err.Error()})
		return
	}
	reply(w, http.StatusCreated, map[string]string{"tenant": id})
}

// stop is DELETE /tenants/{id}: 200 with the outcome once it is gone.
func (gw *gateway) stop(w http.ResponseWriter, r *http.Request) {
	id := r.PathValue("id")
	ctx, cancel := context.WithTimeout(r.Context(), requestWait)
	defer cancel()
	outcome, err := gw.pool.StopChild(ctx, id)
	if err != nil {
		reply(w, status(err), map[string]string{"error": err.Error()})
		return
	}
	reply(w, http.StatusOK, map[string]string{"tenant": id, "outcome": outcome.String()})
}

// status maps an error of StartChild or StopChild to an HTTP status.
func status(err error) int {
	switch {
	case errors.Is(err, supervisor.ErrMaxChildren):
		return http.StatusTooManyRequests
	case errors.Is(err, supervisor.ErrUnknownMember):
		return http.StatusNotFound
	case errors.Is(err, supervisor.ErrInvalidConfig): // a bad or duplicate id
		return http.StatusConflict
	case errors.Is(err, supervisor.ErrStartFailed):
		return http.StatusUnprocessableEntity
	case errors.Is(err, context.DeadlineExceeded):
		return http.StatusGatewayTimeout
	default: // ErrGroupStopped, a cancelled request
		return http.StatusServiceUnavailable
	}
}

// reply writes v as the JSON body of an answer with status code.
func reply(w http.ResponseWriter, code int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(code)
	_ = json.NewEncoder(w).Encode(v) // a client gone away: nothing to do
}

// sleep waits d and reports whether ctx is still going.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-ctx.Done():
		return false
	case <-t.C:
		return true
	}
}
