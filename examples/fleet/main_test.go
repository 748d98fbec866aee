package main

import (
	"bytes"
	"context"
	"regexp"
	"strconv"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/childslot/supervisor"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// field returns the first integer after label in the summary.
func field(t *testing.T, out, label string) int {
	t.Helper()
	m := regexp.MustCompile(regexp.QuoteMeta(label) + `\s+(\d+)`).FindStringSubmatch(out)
	require.NotNil(t, m, "%q not in summary:\n%s", label, out)
	n, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	return n
}

// TestRunSummary runs a small fleet on the fake clock and checks that the
// summary adds up: every attempt started was collected or abandoned, and
// every slot stopped.
func TestRunSummary(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, []string{"-n", "100", "-duration", "3s"}))
		s := out.String()
		t.Log("\n" + s)

		assert.Contains(t, s, "fleet: 100 slots on one loop for 3s")
		started := field(t, s, "attempts started")
		exits := field(t, s, "exits")
		assert.Equal(t, started, exits, "every attempt started ends in exactly one exit")
		assert.Greater(t, started, 100, "children were restarted")

		var kinds int
		for _, k := range []string{"succeeded", "failed", "panicked", "cancelled", "timed_out", "unhealthy", "abandoned"} {
			kinds += field(t, s, k)
		}
		assert.Equal(t, exits, kinds, "exits by kind add up")
		assert.Positive(t, field(t, s, "failed"))
		assert.Positive(t, field(t, s, "cancelled"), "the running children were cancelled at the end")
		assert.Zero(t, field(t, s, "abandoned"), "every child honours cancellation")

		// Each refused restart quarantined its slot, locally: the group,
		// with its intensity off, went on.
		m := regexp.MustCompile(`(\d+) refused \(slots quarantined: (\d+) at the end\)`).FindStringSubmatch(s)
		require.NotNil(t, m, s)
		assert.Equal(t, m[1], m[2])

		assert.GreaterOrEqual(t, field(t, s, "peak goroutines"), 50)
		assert.Regexp(t, `memory per slot\s+\d+ B heap \+ \d+ B goroutine stack`, s)
		assert.Contains(t, s, "stopped            100 slots in order in 0s", "children stop at once on the fake clock")
	})
}

// TestRunStopsWithContext checks that cancelling the context (Ctrl-C) ends
// the run early, still stopping every slot.
func TestRunStopsWithContext(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx, cancel := context.WithTimeout(t.Context(), 200*time.Millisecond)
		defer cancel()
		var out bytes.Buffer
		require.NoError(t, run(ctx, &out, []string{"-n", "50", "-duration", "1h"}))
		assert.Contains(t, out.String(), "for 200ms")
		assert.Contains(t, out.String(), "stopped            50 slots")
	})
}

// TestRunConcurrentShutdown: with children that take 10ms to flush once
// cancelled, the ordered shutdown adds their flushes up, -concurrent waits
// for one (fake clock).
func TestRunConcurrentShutdown(t *testing.T) {
	took := func(args ...string) (string, time.Duration) {
		var out bytes.Buffer
		synctest.Test(t, func(t *testing.T) {
			require.NoError(t, run(t.Context(), &out, append([]string{"-n", "100", "-duration", "1s", "-flush", "10ms"}, args...)))
		})
		m := regexp.MustCompile(`stopped\s+100 slots (in order|all at once) in (\S+)`).FindStringSubmatch(out.String())
		require.NotNil(t, m, out.String())
		d, err := time.ParseDuration(m[2])
		require.NoError(t, err)
		return m[1], d
	}
	how, inOrder := took()
	assert.Equal(t, "in order", how)
	how, concurrent := took("-concurrent")
	assert.Equal(t, "all at once", how)
	assert.Equal(t, 10*time.Millisecond, concurrent, "every child flushes at the same time")
	assert.Greater(t, inOrder, 20*concurrent, "one flush after another (the children in a backoff have none)")
}

func TestRunBadArguments(t *testing.T) {
	tests := []struct {
		name string
		args []string
	}{
		{"unknown flag", []string{"-nope"}},
		{"no slots", []string{"-n", "0"}},
		{"no time", []string{"-duration", "0s"}},
		{"negative flush", []string{"-flush", "-1ms"}},
		{"flush past the stop timeout", []string{"-flush", "1s"}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var out bytes.Buffer
			assert.Error(t, run(t.Context(), &out, tt.args))
		})
	}
}

// TestRunStorm runs -storm on the fake clock: every child parks, all fail
// at once, each is restarted once after its backoff and parks again, and
// the run then stops in order. On the fake clock the loop keeps up, so
// every restart starts exactly when its backoff ends.
func TestRunStorm(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, []string{"-n", "200", "-storm", "-duration", "1h"}))
		s := out.String()
		t.Log("\n" + s)

		assert.Equal(t, 400, field(t, s, "attempts started"), "each child ran once before the storm and once after")
		assert.Equal(t, 200, field(t, s, "failed"), "the storm failed every child once")
		assert.Equal(t, 200, field(t, s, "cancelled"), "the shutdown cancelled every parked child")
		assert.Equal(t, 200, field(t, s, "restarts"), "one restart per child")
		assert.Zero(t, field(t, s, "timed_out"), "parked children have no AttemptTimeout")
		assert.Contains(t, s, "storm              200 failed at once, all back in")
		assert.Regexp(t, `parked\s+\d+ B heap \+ \d+ B goroutine stack per child`, s)
		assert.Regexp(t, `backlog peak\s+\d+ exits queued, deadlines \d+\S* overdue`, s)
		assert.Contains(t, s, "storm lateness     p50 0s, p99 0s, max 0s (200 restarts)",
			"on the fake clock every restart starts when its backoff ends")
		assert.NotContains(t, s, "for 1h", "the run ends once the storm has drained, not at -duration")
	})
}

// TestRunStormWithoutSnapshots: -snapshots=false runs the same storm with
// the tree's snapshots off.
func TestRunStormWithoutSnapshots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, []string{"-n", "50", "-storm", "-snapshots=false"}))
		assert.Contains(t, out.String(), "storm              50 failed at once, all back in")
		assert.Equal(t, 100, field(t, out.String(), "attempts started"))
	})
}

// TestLatenessQuantiles checks the quantiles on known values, and that a
// start with no restart due (a first start) is not counted.
func TestLatenessQuantiles(t *testing.T) {
	l := newLateness(3)
	_, _, _, ok := l.quantiles()
	assert.False(t, ok, "no restarts yet")
	l.record(supervisor.Event{Kind: supervisor.EventStarted, ChildID: "worker-00001"})
	_, _, _, ok = l.quantiles()
	assert.False(t, ok, "a first start is no restart")
	for i := range 100 {
		l.late = append(l.late, time.Duration(100-i)*time.Millisecond)
	}
	p50, p99, top, ok := l.quantiles()
	require.True(t, ok)
	assert.Equal(t, 50*time.Millisecond, p50)
	assert.Equal(t, 99*time.Millisecond, p99)
	assert.Equal(t, 100*time.Millisecond, top)
}

// TestHelp: -h prints the usage and is no error, so that the exit status
// is 0.
func TestHelp(t *testing.T) {
	var out bytes.Buffer
	require.NoError(t, run(t.Context(), &out, []string{"-h"}))
	assert.Contains(t, out.String(), "Usage of ")
}
