package main

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/http"
	"os"
	"os/exec"
	"regexp"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/childslot/supervisor"
)

// TestMain runs main itself when the test binary is started as the
// program (POOL_MAIN=1), so that exit statuses can be checked.
func TestMain(m *testing.M) {
	if os.Getenv("POOL_MAIN") == "1" {
		main()
		return
	}
	goleak.VerifyTestMain(m)
}

// The pool serves real sockets, which synctest's fake clock cannot drive:
// these tests run in real time, bounded by a context deadline. The story
// takes about two and a half seconds and its shutdown one more.
const bound = 10 * time.Second

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

// summary returns the line of tenant id in the summary: its outcome and
// attempts, or "" when it is not there.
func summary(out, id string) (outcome, attempts string) {
	_, sum, _ := strings.Cut(out, "\nwhat became of each tenant")
	m := regexp.MustCompile(`(?m)^\s+app/tenants/` + id + `\s+(\S+)\s+attempts (\d+)`).FindStringSubmatch(sum)
	if m == nil {
		return "", ""
	}
	return m[1], m[2]
}

// TestStory plays the default story: every answer is the one the script
// expects, the failing tenants fail as told, and the shutdown ends each
// tenant still in the pool within the pool's ShutdownTimeout (1s): all at
// once, only the tenant deaf to cancellation is abandoned; in order, it
// spends the whole deadline and the others are abandoned behind it.
func TestStory(t *testing.T) {
	for _, tc := range []struct {
		args     []string
		order    string
		outcomes map[string]string
	}{
		{nil, "concurrent", map[string]string{"acme": "stopped", "initech": "stopped", "slow": "abandoned"}},
		{[]string{"-concurrent=false"}, "in order", map[string]string{"acme": "abandoned", "initech": "abandoned", "slow": "abandoned"}},
	} {
		t.Run(tc.order, func(t *testing.T) {
			ctx, cancel := context.WithTimeout(t.Context(), bound)
			defer cancel()
			var out bytes.Buffer
			require.NoError(t, run(ctx, &out, tc.args))
			s := out.String()
			t.Log("\n" + s)
			checkStory(t, s)
			for id, want := range tc.outcomes {
				outcome, attempts := summary(s, id)
				assert.Equal(t, want, outcome, id)
				assert.Equal(t, "1", attempts, id)
			}
			m := regexp.MustCompile(`pool shutdown \(` + tc.order + `\) took (\S+)`).FindStringSubmatch(s)
			require.NotNil(t, m, s)
			took, err := time.ParseDuration(m[1])
			require.NoError(t, err)
			assert.InDelta(t, time.Second.Seconds(), took.Seconds(), 0.3, "the shutdown ends at its ShutdownTimeout")
		})
	}
}

// checkStory checks what both orders share: the story's answers and the
// failing tenants' ends.
func checkStory(t *testing.T, s string) {
	t.Helper()
	answers := regexp.MustCompile(`msg="story: answer" method=(\S+) path=(\S+) status=(\d+) want=(\d+)`).FindAllStringSubmatch(s, -1)
	require.Len(t, answers, len(script), "every step answered")
	for i, a := range answers {
		st := script[i]
		assert.Equal(t, []string{st.method, st.path}, []string{a[1], strings.Trim(a[2], `"`)}, "step %d", i)
		assert.Equal(t, fmt.Sprint(st.want), a[3], "step %d: %s %s", i, st.method, st.path)
	}
	// umbrella failed to load: refused, and not in the pool.
	assert.Contains(t, s, `member \\\"umbrella\\\": supervisor: member failed to start`)
	// hooli returned ErrDoNotRestart: no restart, and it left the pool.
	assert.Regexp(t, `msg=exited path=/app/tenants/hooli attempt=1 exit=".*licence revoked: supervisor: do not restart" directive=do_not_restart`, s)
	assert.Contains(t, s, `msg=member_removed path=/app/tenants member=hooli reason="member started by StartChild ended"`)
	assert.NotContains(t, s, "path=/app/tenants/hooli attempt=2")
	// flaky crash-looped into quarantine, and StopChild removed it as it was.
	assert.Contains(t, s, "msg=quarantined path=/app/tenants/flaky attempt=3")
	assert.Contains(t, s, `"outcome\":\"already_stopped\",\"tenant\":\"flaky\"`)
	assert.Contains(t, s, `"outcome\":\"stopped\",\"tenant\":\"globex\"`)
	for _, id := range []string{"umbrella", "hooli", "flaky", "globex"} {
		outcome, _ := summary(s, id)
		assert.Empty(t, outcome, "%s left the pool", id)
	}
	// The abandoned tenant's goroutine came back after the summary.
	assert.Contains(t, s, `msg="tenant: late flush done" tenant=slow`)
	assert.NotContains(t, s, "still running")
	assert.True(t, strings.HasSuffix(s, "/app stopped\n"))
}

// TestServe keeps serving until the context ends: a tenant added over HTTP
// shows in the admin handler's tree, and is stopped by the shutdown.
func TestServe(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	runCtx, stop := context.WithCancel(ctx)
	var out syncBuffer
	done := make(chan error, 1)
	go func() { done <- run(runCtx, &out, []string{"-serve"}) }()

	addr := regexp.MustCompile(`msg="gateway listening" addr=(\S+)`)
	var m []string
	require.Eventually(t, func() bool { m = addr.FindStringSubmatch(out.String()); return m != nil }, bound/2, 10*time.Millisecond)
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+m[1]+"/tenants/solo", nil)
	require.NoError(t, err)
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	resp.Body.Close()
	assert.Equal(t, http.StatusCreated, resp.StatusCode)
	// The admin handler shows the new tenant once the tree publishes it.
	adminURL := regexp.MustCompile(`msg="admin listening" url=(\S+)`).FindStringSubmatch(out.String())
	require.NotNil(t, adminURL, out.String())
	assert.Eventually(t, func() bool {
		req, err := http.NewRequestWithContext(ctx, http.MethodGet, adminURL[1]+"tree/app/tenants/solo", nil)
		if err != nil {
			return false
		}
		resp, err := http.DefaultClient.Do(req)
		if err != nil {
			return false
		}
		resp.Body.Close()
		return resp.StatusCode == http.StatusOK
	}, bound/2, 20*time.Millisecond)
	http.DefaultClient.CloseIdleConnections()

	stop()
	require.NoError(t, <-done)
	s := out.String()
	assert.NotContains(t, s, "story:", "no story with -serve")
	outcome, _ := summary(s, "solo")
	assert.Equal(t, "stopped", outcome, s)
}

// TestExitStatus runs the program as a process: -h exits 0, a bad flag 1.
func TestExitStatus(t *testing.T) {
	for _, tc := range []struct {
		args []string
		code int
	}{
		{[]string{"-h"}, 0},
		{[]string{"-max", "0"}, 1},
		{[]string{"-admin", "0.0.0.0:0"}, 1},
	} {
		ctx, cancel := context.WithTimeout(t.Context(), bound)
		cmd := exec.CommandContext(ctx, os.Args[0], tc.args...)
		cmd.Env = append(os.Environ(), "POOL_MAIN=1")
		out, err := cmd.CombinedOutput()
		cancel()
		code := 0
		if ee := (*exec.ExitError)(nil); errors.As(err, &ee) {
			code = ee.ExitCode()
		} else {
			require.NoError(t, err)
		}
		assert.Equal(t, tc.code, code, "%v: %s", tc.args, out)
		if tc.code == 0 {
			assert.Contains(t, string(out), "-max int")
		}
	}
}

// TestStatus maps each refusal of StartChild and StopChild to its answer.
func TestStatus(t *testing.T) {
	for err, want := range map[error]int{
		fmt.Errorf("x: %w", supervisor.ErrMaxChildren):   http.StatusTooManyRequests,
		fmt.Errorf("x: %w", supervisor.ErrUnknownMember): http.StatusNotFound,
		fmt.Errorf("x: %w", supervisor.ErrInvalidConfig): http.StatusConflict,
		fmt.Errorf("x: %w", supervisor.ErrStartFailed):   http.StatusUnprocessableEntity,
		fmt.Errorf("x: %w", supervisor.ErrGroupStopped):  http.StatusServiceUnavailable,
		context.DeadlineExceeded:                         http.StatusGatewayTimeout,
	} {
		assert.Equal(t, want, status(err), "%v", err)
	}
}
