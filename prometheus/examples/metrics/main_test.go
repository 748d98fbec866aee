package main

import (
	"bytes"
	"context"
	"io"
	"net/http"
	"net/http/httptest"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// The program holds a real socket and real timers: these tests run in
// real time, each bounded by a deadline.
const bound = 6 * time.Second

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

// TestDefaultRun runs without -serve: the program prints its last scrape,
// which shows the queue's two failures and the cron's panic, shuts the
// tree down and returns nil.
func TestDefaultRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := run(ctx, &out, []string{"-duration", "2s"})
	t.Log("\n" + out.String())
	require.NoError(t, err)
	assert.Less(t, time.Since(start), bound)
	log, scrape, ok := strings.Cut(out.String(), "\nthe samples of the last scrape that are not zero:\n")
	require.True(t, ok, "no scrape")
	assert.Regexp(t, `msg=listening metrics=http://127\.0\.0\.1:\d+/metrics admin=http://127\.0\.0\.1:\d+/\n`, log)
	for _, line := range []string{
		`supervisor_member_exits_total{kind="failed",path="/app/queue"} 2`,
		`supervisor_member_restarts_total{path="/app/queue"} 2`,
		`supervisor_member_exits_total{kind="panicked",path="/app/cron"} 1`,
		`supervisor_member_ready{path="/app/jobs/worker2"} 1`,
		`supervisor_group_state{path="/app",state="running"} 1`,
		`supervisor_group_members{path="/app"} 4`,
	} {
		assert.Contains(t, scrape, line+"\n")
	}
	assert.NotContains(t, scrape, `state="quarantined"`)
	assert.Contains(t, scrape, "/app stopped: context done: the run is over\n")
}

// client asks the program's server at base, as curl would.
type client struct {
	t    *testing.T
	base string
	c    *http.Client
}

// do sends method path, with body as a command from alice when it is not
// empty, and returns the status and body.
func (c client) do(method, path, body string) (int, string) {
	c.t.Helper()
	req, err := http.NewRequestWithContext(c.t.Context(), method, c.base+path, strings.NewReader(body))
	require.NoError(c.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
		req.Header.Set("X-Requester", "alice")
	}
	resp, err := c.c.Do(req)
	require.NoError(c.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(c.t, err)
	return resp.StatusCode, string(b)
}

// poll asks GET path until it answers code with a body containing want,
// and returns the body; it fails the test at deadline.
func (c client) poll(deadline <-chan time.Time, path string, code int, want string) string {
	c.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		got, body := c.do(http.MethodGet, path, "")
		if got == code && strings.Contains(body, want) {
			return body
		}
		select {
		case <-tick.C:
		case <-deadline:
			require.FailNow(c.t, "timed out", "GET %s: %d, want %d with %q:\n%s", path, got, code, want, body)
		}
	}
}

// TestServe runs with -serve and checks that the admin handler and the
// metrics, on one listener of 127.0.0.1, tell the same story: an
// operator's quarantine of the queue shows in /readyz and in
// supervisor_member_state, and so does its resume.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, &out, []string{"-serve"}) }()
	deadline := time.After(bound)

	rx := regexp.MustCompile(`msg=listening metrics=(http://127\.0\.0\.1:\d+)/metrics`)
	var m []string
	for m = rx.FindStringSubmatch(out.String()); m == nil; m = rx.FindStringSubmatch(out.String()) {
		select {
		case <-time.After(10 * time.Millisecond):
		case err := <-errc:
			require.FailNow(t, "run returned early", "%v\n%s", err, out.String())
		case <-deadline:
			require.FailNow(t, "no listening line", out.String())
		}
	}
	hc := &http.Client{Timeout: 2 * time.Second}
	defer hc.CloseIdleConnections()
	c := client{t: t, base: m[1], c: hc}

	c.poll(deadline, "/metrics", http.StatusOK, `supervisor_member_restarts_total{path="/app/queue"} 2`+"\n")
	code, body := c.do(http.MethodGet, "/livez", "")
	assert.Equal(t, http.StatusOK, code, body)
	c.poll(deadline, "/readyz", http.StatusOK, `"ready": true`)
	code, body = c.do(http.MethodGet, "/tree/app/cron", "")
	assert.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"kind": "panicked"`, "the cron's last exit is its panic")

	code, body = c.do(http.MethodPost, "/commands", `{"op":"quarantine","path":"/app/queue","reason":"demo"}`)
	require.Equal(t, http.StatusOK, code, body)
	assert.Contains(t, body, `"requester": "alice"`)
	c.poll(deadline, "/metrics", http.StatusOK, `supervisor_member_state{path="/app/queue",state="quarantined"} 1`+"\n")
	c.poll(deadline, "/readyz", http.StatusServiceUnavailable, "/app/queue")
	code, body = c.do(http.MethodPost, "/commands", `{"op":"resume","path":"/app/queue","reason":"demo over"}`)
	require.Equal(t, http.StatusOK, code, body)
	c.poll(deadline, "/metrics", http.StatusOK, `supervisor_member_ready{path="/app/queue"} 1`+"\n")
	c.poll(deadline, "/readyz", http.StatusOK, `"ready": true`)
	code, body = c.do(http.MethodGet, "/nope", "")
	assert.Equal(t, http.StatusNotFound, code, body)

	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-deadline:
		require.FailNow(t, "run did not return after the cancel")
	}
	t.Log("\n" + out.String())
	assert.NotContains(t, out.String(), "the samples of the last scrape", "-serve prints no scrape")
	assert.Contains(t, out.String(), "msg=command path=/app member=/app/queue reason=demo op=quarantine requester=alice\n")
	assert.Contains(t, out.String(), `msg=command path=/app member=/app/queue reason="demo over" op=resume requester=alice`+"\n")
	assert.Contains(t, out.String(), "/app stopped: context done: context canceled\n")
}

func TestBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-nope"}},
		{"not loopback", []string{"-addr", "0.0.0.0:9090"}},
		{"no port", []string{"-addr", "127.0.0.1"}},
		{"no duration", []string{"-duration", "0s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			require.Error(t, run(t.Context(), &out, tt.args))
		})
	}
}

// TestDemoAuthorize: commands from the loopback address with a requester
// only.
func TestDemoAuthorize(t *testing.T) {
	tests := []struct {
		name, remote, who, err string
	}{
		{"loopback", "127.0.0.1:5000", "alice", ""},
		{"no requester", "127.0.0.1:5000", "", "X-Requester"},
		{"elsewhere", "192.0.2.7:5000", "alice", "127.0.0.1 only"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			r := httptest.NewRequest(http.MethodPost, "/commands", nil)
			r.RemoteAddr = tt.remote
			r.Header.Set("X-Requester", tt.who)
			who, err := demoAuthorize(r)
			if tt.err != "" {
				require.ErrorContains(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			assert.Equal(t, tt.who, who)
		})
	}
}

// TestHelp: -h prints the usage and is no error, so that the exit status
// is 0.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, []string{"-h"}))
	assert.Contains(t, out.String(), "Usage of ")
}
