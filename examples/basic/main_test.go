package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/childslot/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// TestRunReachesQuarantine runs the program on the fake clock: the child
// fails, panics, hangs until the heartbeat timeout cancels it, fails again,
// and the refused restart quarantines the slot.
func TestRunReachesQuarantine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		start := time.Now()
		require.NoError(t, run(t.Context(), &out, nil))
		elapsed := time.Since(start)

		text := out.String()
		events, record, ok := strings.Cut(text, "\nfinal record:\n")
		require.True(t, ok, "no final record in:\n%s", text)

		// The story, in order.
		want := []string{
			"flaky: started",
			"attempt 1 failed after 80ms: dial tcp",
			"restart_scheduled in 50ms",
			"attempt 2 panicked after 80ms: panic: runtime error: index out of range",
			"(the full stack,",
			"restart_scheduled in 100ms",
			"flaky: cancelled: heartbeat stale",
			"attempt 3 was unhealthy after 280ms: heartbeat stale",
			"restart_scheduled in 200ms",
			"attempt 4 failed after 80ms",
			"restart_refused: restart limit reached: 3 restarts within 1m0s",
			"flaky: quarantined:",
			"flaky: removed",
		}
		rest := events
		for _, w := range want {
			i := strings.Index(rest, w)
			if !assert.GreaterOrEqual(t, i, 0, "%q missing (or out of order) in:\n%s", w, events) {
				break
			}
			rest = rest[i+len(w):]
		}
		// Each line starts with the time since start: the stale attempt 3
		// started at 310ms (two backoffs and two 80ms runs), beat last at
		// 390ms and went stale 200ms later.
		assert.Contains(t, events, "  590ms  flaky: cancelled: heartbeat stale")

		var rec supervisor.Record
		require.NoError(t, json.Unmarshal([]byte(record), &rec))
		assert.Equal(t, supervisor.OperationQuarantined, rec.Operation)
		assert.Equal(t, uint64(4), rec.Attempt)
		assert.Equal(t, uint64(3), rec.Restarts)
		assert.Equal(t, uint64(4), rec.Exits)
		assert.True(t, rec.RestartLimit.Exhausted)
		assert.Contains(t, rec.QuarantineReason, "restart limit reached")
		require.NotNil(t, rec.LastExit)
		assert.Equal(t, supervisor.Failed, rec.LastExit.Kind)
		assert.False(t, rec.Active)

		assert.Less(t, elapsed, 2*time.Second, "the demonstration should take about a second")
	})
}

// TestRunJSON checks that -json prints one JSON object per line: the events
// through log/slog, then the record.
func TestRunJSON(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, []string{"-json"}))

		var kinds []string
		var last map[string]any
		sc := bufio.NewScanner(&out)
		sc.Buffer(nil, 1<<20) // a panic event carries the whole stack
		for sc.Scan() {
			var line map[string]any
			require.NoError(t, json.Unmarshal(sc.Bytes(), &line), "not JSON: %s", sc.Text())
			if ev, ok := line["event"].(map[string]any); ok {
				kinds = append(kinds, ev["kind"].(string))
			}
			last = line
		}
		require.NoError(t, sc.Err())
		assert.Equal(t, []string{
			"started", "exited", "restart_scheduled",
			"started", "exited", "restart_scheduled",
			"started", "cancelled", "exited", "restart_scheduled",
			"started", "exited", "restart_refused", "quarantined",
			"fence", "removed",
		}, kinds)
		assert.Equal(t, "quarantined", last["operation"], "the last line is the record")
	})
}

// TestRunStopsWithContext checks that cancelling the parent context (what
// Ctrl-C does) ends the run early with every child stopped.
func TestRunStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
		defer cancel()
		var out bytes.Buffer
		require.NoError(t, run(ctx, &out, nil))
		_, record, ok := strings.Cut(out.String(), "\nfinal record:\n")
		require.True(t, ok)
		var rec supervisor.Record
		require.NoError(t, json.Unmarshal([]byte(record), &rec))
		assert.Equal(t, supervisor.OperationActive, rec.Operation, "stopped before quarantine")
		assert.False(t, rec.Active)
		assert.Less(t, rec.Attempt, uint64(4))
	})
}

func TestRunBadFlag(t *testing.T) {
	var out bytes.Buffer
	assert.Error(t, run(t.Context(), &out, []string{"-nope"}))
}

// TestHelp: -h prints the usage and is no error, so that the exit status
// is 0.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, []string{"-h"}))
	assert.Contains(t, out.String(), "Usage of ")
}
