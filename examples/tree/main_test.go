package main

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"net/http"
	"os"
	"regexp"
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

// The tree holds a real socket and a real process, which synctest's fake
// clock cannot drive: these tests run in real time, bounded by a context
// deadline. The default story takes about three seconds.
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

// split cuts run's output into the event log and the shutdown summary.
func split(t *testing.T, out string) (log, summary string) {
	t.Helper()
	log, summary, ok := strings.Cut(out, "\nwhat became of each member")
	require.True(t, ok, "no summary in:\n%s", out)
	return log, summary
}

// member returns the summary line of path: its outcome and attempts.
func member(t *testing.T, summary, path string) (outcome, attempts string) {
	t.Helper()
	m := regexp.MustCompile(`(?m)^\s+` + regexp.QuoteMeta(path) + `\s+(\S+)\s+(?:attempts (\d+)|\S+ group)`).FindStringSubmatch(summary)
	require.NotNil(t, m, "%s not in summary:\n%s", path, summary)
	return m[1], m[2]
}

// inOrder asserts that the lines matching each pattern appear in s in
// that order.
func inOrder(t *testing.T, s string, patterns ...string) {
	t.Helper()
	rest := s
	for _, p := range patterns {
		loc := regexp.MustCompile(p).FindStringIndex(rest)
		if !assert.NotNil(t, loc, "%q missing, or out of order, in:\n%s", p, s) {
			return
		}
		rest = rest[loc[1]:]
	}
}

// TestStory plays the default story: one server crash restarts http and
// consumer, and nothing started before them; the shutdown goes in reverse
// start order and every member stops.
func TestStory(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	err := run(ctx, &out, nil)
	took := time.Since(start)
	t.Log("\n" + out.String())
	require.NoError(t, err)
	assert.Equal(t, 0, exitCode(err))
	assert.Less(t, took, bound)
	log, summary := split(t, out.String())

	// The rest_for_one restart: http failed, http and consumer restarted,
	// in start order, the consumer only once http listens again. (What a
	// child logs itself may come before the started event of its attempt,
	// which the loop emits once the child's goroutine runs: the order is
	// asserted only between lines that cause one another.)
	inOrder(t, log,
		`level=ERROR msg=exited path=/app/http attempt=1 exit=failed ran=\S+ reason="order book corrupted"`,
		`msg=group_restart path=/app member=http scope=http,consumer\n`,
		`msg=exited path=/app/consumer attempt=1 exit=cancelled ran=\S+ reason="group restart"`,
		`msg=listening path=/app/http attempt=2`,
		`msg=consumed path=/app/consumer attempt=2`,
	)
	assert.Contains(t, log, "msg=consumed path=/app/consumer attempt=2 order=3", "the new consumer reads the new queue")
	assert.Equal(t, 1, strings.Count(log, "msg=group_restart path=/app "), "one restart of the root")
	// The members before http were not touched.
	assert.NotContains(t, log, "path=/app/ticker attempt=2")
	assert.NotContains(t, log, "path=/app/jobs/indexer attempt=2")
	assert.NotContains(t, log, "msg=shutdown_started path=/app/jobs reason=\"group restart\"")
	// The job group has a life of its own: report restarted one_for_one,
	// cleanup (Temporary) left.
	inOrder(t, log, `level=ERROR msg=exited path=/app/jobs/report attempt=1 exit=failed`,
		`msg=restart_scheduled path=/app/jobs/report attempt=1 in=100ms\n`, `msg=exited path=/app/jobs/report attempt=2 exit=succeeded`)
	assert.Contains(t, log, `msg=member_removed path=/app/jobs member=cleanup reason="temporary member ended"`)
	assert.Contains(t, log, `msg=output path=/app/ticker line="tick 1"`)

	// The ordered shutdown, as it happened and as the summary tells it.
	inOrder(t, log,
		`msg=shutdown_started path=/app reason="context done: the story is over"`,
		`msg=exited path=/app/consumer attempt=2`,
		`msg=exited path=/app/http attempt=2`,
		`msg=shutdown_started path=/app/jobs`,
		`msg=exited path=/app/jobs/indexer attempt=1`,
		`msg=shutdown_finished path=/app/jobs`,
		`msg=output path=/app/ticker line="SIGTERM: bye"`,
		`msg=exited path=/app/ticker attempt=1`,
		`msg=shutdown_finished path=/app `,
	)
	inOrder(t, summary, `/app/consumer `, `/app/http `, `/app/jobs `, `/app/jobs/indexer `, `/app/jobs/report `, `/app/ticker `)
	tests := []struct {
		path, outcome, attempts string
	}{
		{"/app/consumer", "stopped", "2"},
		{"/app/http", "stopped", "2"},
		{"/app/jobs", "stopped", ""},
		{"/app/jobs/indexer", "stopped", "1"},
		{"/app/jobs/report", "already_stopped", "2"},
		{"/app/ticker", "stopped", "1"},
	}
	for _, tt := range tests {
		outcome, attempts := member(t, summary, tt.path)
		assert.Equal(t, tt.outcome, outcome, tt.path)
		assert.Equal(t, tt.attempts, attempts, tt.path)
	}
	assert.NotContains(t, summary, "cleanup", "a Temporary member that ended left the group")
	assert.Contains(t, summary, "/app stopped: context done: the story is over")
}

// TestRootFails crashes the server once more than the root's intensity
// allows: the root group fails, stops everything in order, and run returns
// ErrGroupFailed, which is exit status 1.
func TestRootFails(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	var out bytes.Buffer
	err := run(ctx, &out, []string{"-crashes", "4", "-pace", "50ms"})
	t.Log("\n" + out.String())
	require.ErrorIs(t, err, supervisor.ErrGroupFailed)
	assert.Contains(t, err.Error(), `member "http" failed (order book corrupted) after 3 restarts within 10s`)
	assert.Equal(t, 1, exitCode(err))
	log, summary := split(t, out.String())
	assert.Equal(t, 3, strings.Count(log, "msg=group_restart path=/app "))
	inOrder(t, log, `level=ERROR msg=group_failed path=/app member=http`, `msg=shutdown_finished path=/app `)
	outcome, attempts := member(t, summary, "/app/http")
	assert.Equal(t, "already_stopped", outcome, "it had failed when the shutdown reached it")
	assert.Equal(t, "4", attempts)
	outcome, _ = member(t, summary, "/app/ticker")
	assert.Equal(t, "stopped", outcome)
	assert.Contains(t, summary, "/app failed: group failed: restart intensity spent")
}

// TestServeUntilSIGTERM runs with -serve, which plays no story, and sends a
// real SIGTERM to the test process, caught by the context main uses.
func TestServeUntilSIGTERM(t *testing.T) {
	ctx, stop := notifyContext(t.Context())
	defer stop()
	var out syncBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, &out, []string{"-serve"}) }()

	deadline := time.After(bound)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for !strings.Contains(out.String(), "msg=group_started path=/app\n") {
		select {
		case <-tick.C:
		case err := <-errc:
			require.FailNow(t, "run returned before the tree started", "%v\n%s", err, out.String())
		case <-deadline:
			require.FailNow(t, "the tree did not start", out.String())
		}
	}
	// The server serves: an order posted by hand reaches the consumer.
	addr := regexp.MustCompile(`msg=listening path=/app/http attempt=1 addr=(\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, addr, out.String())
	resp, err := http.Post("http://"+addr[1]+"/orders?id=7", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	for !strings.Contains(out.String(), "msg=consumed path=/app/consumer attempt=1 order=7") {
		select {
		case <-tick.C:
		case <-deadline:
			require.FailNow(t, "order 7 was not consumed", out.String())
		}
	}

	require.NoError(t, syscall.Kill(os.Getpid(), syscall.SIGTERM))
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-deadline:
		require.FailNow(t, "run did not return after SIGTERM")
	}
	t.Log("\n" + out.String())
	log, summary := split(t, out.String())
	assert.NotContains(t, log, "story", "-serve plays no story")
	assert.NotContains(t, log, "msg=group_restart path=/app ")
	assert.Regexp(t, `msg=shutdown_started path=/app reason="context done: [^"]*terminated`, log, "the SIGTERM ended the run")
	for _, path := range []string{"/app/consumer", "/app/http", "/app/jobs/indexer", "/app/ticker"} {
		outcome, attempts := member(t, summary, path)
		assert.Equal(t, "stopped", outcome, path)
		assert.Equal(t, "1", attempts, path)
	}
}

func TestBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-nope"}},
		{"port out of range", []string{"-port", "70000"}},
		{"negative crashes", []string{"-crashes", "-1"}},
		{"no pace", []string{"-pace", "0s"}},
		{"admin not loopback", []string{"-admin", "0.0.0.0:8081"}},
		{"admin without port", []string{"-admin", "127.0.0.1"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			err := run(t.Context(), &out, tt.args)
			require.Error(t, err)
			assert.Equal(t, 1, exitCode(err))
		})
	}
}

// waitFor polls out every 20ms until it matches re, and returns the
// match; it fails the test at deadline or when run returns first.
func waitFor(t *testing.T, out *syncBuffer, errc <-chan error, deadline <-chan time.Time, re string) []string {
	t.Helper()
	rx := regexp.MustCompile(re)
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		if m := rx.FindStringSubmatch(out.String()); m != nil {
			return m
		}
		select {
		case <-tick.C:
		case err := <-errc:
			require.FailNow(t, "run returned early", "waiting for %q: %v\n%s", re, err, out.String())
		case <-deadline:
			require.FailNow(t, "timed out", "waiting for %q in:\n%s", re, out.String())
		}
	}
}

// adminClient asks the admin server at base, as curl would.
type adminClient struct {
	t        *testing.T
	base     string
	password string // of the user "operator"
	c        *http.Client
}

// do sends method path with body (a command, when not empty) as who
// (no credentials when empty) and returns the status and body.
func (a adminClient) do(method, path, who, body string) (int, string) {
	a.t.Helper()
	req, err := http.NewRequestWithContext(a.t.Context(), method, a.base+path, strings.NewReader(body))
	require.NoError(a.t, err)
	if body != "" {
		req.Header.Set("Content-Type", "application/json")
	}
	if who != "" {
		req.SetBasicAuth(who, a.password)
	}
	resp, err := a.c.Do(req)
	require.NoError(a.t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(a.t, err)
	return resp.StatusCode, string(b)
}

// poll asks GET path until ok says yes to the answer, and returns its
// body; it fails the test at deadline.
func (a adminClient) poll(deadline <-chan time.Time, path string, ok func(code int, body string) bool) string {
	a.t.Helper()
	tick := time.NewTicker(20 * time.Millisecond)
	defer tick.Stop()
	for {
		code, body := a.do(http.MethodGet, path, "", "")
		if ok(code, body) {
			return body
		}
		select {
		case <-tick.C:
		case <-deadline:
			require.FailNow(a.t, "timed out", "GET %s: %d: %s", path, code, body)
		}
	}
}

// TestAdmin runs with -serve and drives the tree through its admin server
// on 127.0.0.1, as the curl lines of the package doc do: the probes, the
// JSON, and an operator who pauses the consumer, lets an order wait in the
// queue, and resumes it, whose new attempt consumes the order.
func TestAdmin(t *testing.T) {
	ctx, cancel := context.WithCancel(t.Context())
	defer cancel()
	var out syncBuffer
	errc := make(chan error, 1)
	go func() { errc <- run(ctx, &out, []string{"-serve"}) }()
	deadline := time.After(bound)

	listening := waitFor(t, &out, errc, deadline, `msg="admin listening" url=(http://127\.0\.0\.1:\d+)/ user=operator password=(\S+)`)
	base := listening[1]
	waitFor(t, &out, errc, deadline, "msg=group_started path=/app\n")
	httpAddr := waitFor(t, &out, errc, deadline, `msg=listening path=/app/http attempt=1 addr=(\S+)`)[1]
	client := &http.Client{Timeout: 2 * time.Second}
	defer client.CloseIdleConnections()
	a := adminClient{t: t, base: base, password: listening[2], c: client}

	code, body := a.do(http.MethodGet, "/livez", "", "")
	assert.Equal(t, http.StatusOK, code, body)
	// Not ready for a moment while report waits for its restart: poll.
	ready := a.poll(deadline, "/readyz", func(code int, _ string) bool { return code == http.StatusOK })
	assert.JSONEq(t, `{"ready":true,"state":"running"}`, ready)
	var tree supervisor.GroupRecord
	code, body = a.do(http.MethodGet, "/tree", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &tree))
	assert.Equal(t, "/app", tree.Path)
	assert.Equal(t, supervisor.GroupRunning, tree.State)
	var httpMember supervisor.MemberRecord
	code, body = a.do(http.MethodGet, "/tree/app/http", "", "")
	require.Equal(t, http.StatusOK, code, body)
	require.NoError(t, json.Unmarshal([]byte(body), &httpMember))
	assert.Equal(t, "/app/http", httpMember.Slot.Path)
	code, body = a.do(http.MethodGet, "/tree/app/nope", "", "")
	assert.Equal(t, http.StatusNotFound, code, body)
	code, body = a.do(http.MethodGet, "/", "", "")
	assert.Equal(t, http.StatusOK, code)
	assert.Contains(t, body, "<html")

	// Commands: refused without credentials or with wrong ones, applied
	// with the operator's.
	pause := `{"op":"pause","path":"/app/consumer","reason":"demo"}`
	code, body = a.do(http.MethodPost, "/commands", "", pause)
	assert.Equal(t, http.StatusUnauthorized, code, body)
	code, body = a.do(http.MethodPost, "/commands", "alice", pause)
	assert.Equal(t, http.StatusUnauthorized, code, body)
	code, body = a.do(http.MethodPost, "/commands", "operator", pause)
	require.Equal(t, http.StatusOK, code, body)
	var rec supervisor.CommandRecord
	require.NoError(t, json.Unmarshal([]byte(body), &rec))
	assert.Equal(t, supervisor.CommandPause, rec.Op)
	assert.Equal(t, "operator", rec.Requester)
	assert.Empty(t, rec.Error)
	waitFor(t, &out, errc, deadline, `msg=command path=/app member=/app/consumer reason=demo op=pause requester=operator\n`)
	waitFor(t, &out, errc, deadline, `msg=exited path=/app/consumer attempt=1 exit=cancelled`)
	// The record shows the pause (with the next snapshot) and who asked.
	body = a.poll(deadline, "/tree/app/consumer", func(code int, body string) bool {
		return code == http.StatusOK && strings.Contains(body, `"operation": "paused"`)
	})
	var consumer supervisor.MemberRecord
	require.NoError(t, json.Unmarshal([]byte(body), &consumer))
	require.NotNil(t, consumer.LastCommand, body)
	assert.Equal(t, "operator", consumer.LastCommand.Requester)
	assert.Equal(t, supervisor.OperationPaused, consumer.Slot.Operation)
	// A paused member is out of service deliberately: still ready.
	code, body = a.do(http.MethodGet, "/readyz", "", "")
	assert.Equal(t, http.StatusOK, code, body)

	// An order posted while the consumer is paused waits in the queue.
	resp, err := client.Post("http://"+httpAddr+"/orders?id=8", "", nil)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusAccepted, resp.StatusCode)
	code, body = a.do(http.MethodPost, "/commands", "operator", `{"op":"resume","path":"/app/consumer","reason":"demo over"}`)
	require.Equal(t, http.StatusOK, code, body)
	waitFor(t, &out, errc, deadline, `msg=consumed path=/app/consumer attempt=2 order=8`)
	// Pausing a member not in the tree: 404.
	code, body = a.do(http.MethodPost, "/commands", "operator", `{"op":"pause","path":"/app/nope","reason":"demo"}`)
	assert.Equal(t, http.StatusNotFound, code, body)

	cancel()
	select {
	case err := <-errc:
		require.NoError(t, err)
	case <-deadline:
		require.FailNow(t, "run did not return after the cancel")
	}
	t.Log("\n" + out.String())
	log, summary := split(t, out.String())
	inOrder(t, log,
		`msg=paused path=/app/consumer`,
		`msg=command path=/app member=/app/consumer reason=demo op=pause requester=operator\n`,
		`msg=resumed path=/app/consumer`,
		`msg=command path=/app member=/app/consumer reason="demo over" op=resume requester=operator\n`,
	)
	assert.Regexp(t, `level=WARN msg=command path=/app member=/app/nope reason=demo op=pause requester=operator error=`, log)
	assert.NotContains(t, log, "msg=group_restart path=/app ", "a pause is no failure")
	assert.Contains(t, summary, "attempts 2; last: attempt 2 was cancelled")
	assert.Regexp(t, `/app/consumer\s+stopped\s+attempts 2; .*; last command: resume by operator \(demo over\)\n`, summary)
	// The admin server closed with the tree.
	_, err = client.Get(base + "/livez")
	assert.Error(t, err)
}

// TestHelp: -h prints the usage and is no error, so that the exit status
// is 0.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, []string{"-h"}))
	assert.Contains(t, out.String(), "Usage of ")
}
