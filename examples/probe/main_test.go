package main

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"os"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/childslot/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The server listens on a real socket, which synctest's fake clock cannot
// drive: these tests use real time, bounded by deadlines.
const bound = 10 * time.Second

// probe runs the program in the background on 127.0.0.1:0.
type probe struct {
	t      *testing.T
	base   string
	client *http.Client
	errc   chan error
	out    *syncBuffer // the program's log
}

// syncBuffer is a bytes.Buffer that the test may read while run writes.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

func start(t *testing.T, ctx context.Context, args ...string) *probe {
	t.Helper()
	addrc := make(chan net.Addr, 1)
	p := &probe{
		t:      t,
		errc:   make(chan error, 1),
		out:    &syncBuffer{},
		client: &http.Client{Transport: &http.Transport{DisableKeepAlives: true}, Timeout: 5 * time.Second},
	}
	t.Cleanup(p.client.CloseIdleConnections)
	go func() {
		p.errc <- run(ctx, p.out, append([]string{"-addr", "127.0.0.1:0"}, args...), func(a net.Addr) { addrc <- a })
	}()
	select {
	case a := <-addrc:
		p.base = "http://" + a.String()
	case err := <-p.errc:
		require.FailNow(t, "run returned before listening", "%v", err)
	case <-time.After(bound):
		require.FailNow(t, "not listening")
	}
	return p
}

// get returns the status and body of GET path.
func (p *probe) get(path string) (int, string) {
	p.t.Helper()
	resp, err := p.client.Get(p.base + path)
	require.NoError(p.t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(p.t, err)
	return resp.StatusCode, string(body)
}

// records returns the slots' records by child id.
func (p *probe) records() map[string]supervisor.Record {
	p.t.Helper()
	code, body := p.get("/slots")
	require.Equal(p.t, http.StatusOK, code, body)
	var recs []supervisor.Record
	require.NoError(p.t, json.Unmarshal([]byte(body), &recs))
	out := make(map[string]supervisor.Record, len(recs))
	for _, r := range recs {
		out[r.ChildID] = r
	}
	return out
}

// await polls cond every 20ms until it holds, failing the test after bound.
func (p *probe) await(what string, cond func() bool) {
	p.t.Helper()
	deadline := time.NewTimer(bound)
	defer deadline.Stop()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !cond() {
		select {
		case <-tick.C:
		case <-deadline.C:
			require.FailNow(p.t, "timed out waiting", what)
		}
	}
}

// wait returns run's error once it has returned.
func (p *probe) wait() error {
	p.t.Helper()
	select {
	case err := <-p.errc:
		return err
	case <-time.After(bound):
		require.FailNow(p.t, "run did not return")
		return nil
	}
}

func TestProbeHealthy(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := start(t, ctx)

	code, _ := p.get("/livez")
	assert.Equal(t, http.StatusOK, code, "the loop is alive from the start")

	// The api warms up before it reports Ready, and only then does the
	// group start the worker: readiness follows both.
	p.await("api ready", func() bool {
		recs := p.records()
		if recs["api"].Status == supervisor.StatusReady {
			return true
		}
		assert.Zero(t, recs["worker"].Attempt, "the worker waits for the api's Ready")
		return false
	})
	p.await("ready", func() bool { code, _ := p.get("/readyz"); return code == http.StatusOK })
	recs := p.records()
	require.Len(t, recs, 2)
	for _, id := range []string{"api", "worker"} {
		assert.Equal(t, supervisor.StatusReady, recs[id].Status, id)
		assert.Equal(t, supervisor.OperationActive, recs[id].Operation, id)
		assert.Equal(t, uint64(1), recs[id].Attempt, id)
	}
	p.await("both beat", func() bool {
		recs := p.records()
		return recs["api"].Liveness.LastBeat != nil && recs["worker"].Liveness.LastBeat != nil
	})

	cancel() // what SIGTERM does
	require.NoError(t, p.wait(), "no slot was quarantined")
	// The group stopped its children in reverse start order.
	log := p.out.String()
	w := strings.Index(log, "msg=exited path=/probe/worker attempt=1 exit=cancelled")
	a := strings.Index(log, "msg=exited path=/probe/api attempt=1 exit=cancelled")
	require.Positive(t, w, log)
	assert.Greater(t, a, w, "the worker, started last, stops first")
	assert.Contains(t, log, "msg=shutdown_finished path=/probe ")
	_, err := p.client.Get(p.base + "/livez")
	assert.Error(t, err, "the server is closed")
}

func TestProbeQuarantined(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	p := start(t, ctx, "-broken")

	p.await("migrator quarantined", func() bool {
		return p.records()["migrator"].Operation == supervisor.OperationQuarantined
	})
	m := p.records()["migrator"]
	assert.Equal(t, uint64(4), m.Attempt, "three restarts, the fourth refused")
	assert.Contains(t, m.QuarantineReason, "restart limit reached")
	require.NotNil(t, m.LastExit)
	assert.Equal(t, "schema version 41, want 42", m.LastExit.Reason)

	code, body := p.get("/readyz")
	assert.Equal(t, http.StatusServiceUnavailable, code)
	assert.Contains(t, body, "migrator: quarantined")
	code, _ = p.get("/livez")
	assert.Equal(t, http.StatusOK, code, "a quarantined child does not fail liveness")

	cancel()
	err := p.wait()
	require.ErrorIs(t, err, errQuarantined)
	assert.Contains(t, err.Error(), "migrator")
	assert.Equal(t, 2, exitCode(err))
}

// TestProbeSIGTERM sends a real SIGTERM to the test process, caught by the
// context main uses, and checks the graceful shutdown.
func TestProbeSIGTERM(t *testing.T) {
	ctx, stop := notifyContext(t.Context())
	defer stop()
	p := start(t, ctx)
	p.await("ready", func() bool { code, _ := p.get("/readyz"); return code == http.StatusOK })

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	require.NoError(t, p.wait())
	require.Error(t, context.Cause(ctx))
	assert.Contains(t, context.Cause(ctx).Error(), "terminated", "the SIGTERM ended the run")
}

// TestHandlers checks the handlers on hand-made snapshots:
// readiness fails as soon as the loop starts stopping, liveness fails when
// the loop stops publishing.
func TestHandlers(t *testing.T) {
	ready := supervisor.Record{ChildID: "api", Status: supervisor.StatusReady}
	tests := []struct {
		name       string
		snap       *snapshot
		path       string
		wantCode   int
		wantInBody string
	}{
		{"no snapshot yet: not live", nil, "/livez", http.StatusServiceUnavailable, "stalled"},
		{"no snapshot yet: not ready", nil, "/readyz", http.StatusServiceUnavailable, "starting"},
		{"fresh snapshot: live", &snapshot{at: time.Now()}, "/livez", http.StatusOK, "ok"},
		{"old snapshot: not live", &snapshot{at: time.Now().Add(-time.Hour)}, "/livez", http.StatusServiceUnavailable, "stalled"},
		{"all ready", &snapshot{at: time.Now(), records: []supervisor.Record{ready}}, "/readyz", http.StatusOK, "ok"},
		{"stopping", &snapshot{at: time.Now(), records: []supervisor.Record{ready}, stopping: true}, "/readyz", http.StatusServiceUnavailable, "shutting down"},
		{"one starting", &snapshot{at: time.Now(), records: []supervisor.Record{ready, {ChildID: "worker", Status: supervisor.StatusStarting}}},
			"/readyz", http.StatusServiceUnavailable, "worker: active, starting"},
		{"paused", &snapshot{at: time.Now(), records: []supervisor.Record{{ChildID: "api", Status: supervisor.StatusReady, Operation: supervisor.OperationPaused}}},
			"/readyz", http.StatusServiceUnavailable, "api: paused, ready"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			sv := &server{maxAge: time.Minute}
			if tt.snap != nil {
				sv.latest.Store(tt.snap)
			}
			rec := httptest.NewRecorder()
			sv.routes().ServeHTTP(rec, httptest.NewRequestWithContext(t.Context(), http.MethodGet, tt.path, nil))
			assert.Equal(t, tt.wantCode, rec.Code)
			assert.Contains(t, rec.Body.String(), tt.wantInBody)
		})
	}
}

func TestExitCode(t *testing.T) {
	assert.Equal(t, 0, exitCode(nil))
	assert.Equal(t, 2, exitCode(errors.Join(errors.New("x"), errQuarantined)))
	assert.Equal(t, 1, exitCode(errors.New("listen: address in use")))
}

// TestHelp: -h prints the usage and is no error, so that the exit status
// is 0.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, []string{"-h"}, nil))
	assert.Contains(t, out.String(), "Usage of ")
}
