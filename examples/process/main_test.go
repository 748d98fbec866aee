package main

import (
	"bytes"
	"context"
	"os"
	"regexp"
	"runtime"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

func TestMain(m *testing.M) { goleak.VerifyTestMain(m) }

// Real processes cannot run on synctest's fake clock: these tests use real
// time, with a context deadline as the bound.
const bound = 10 * time.Second

// at returns the time column of the first line that contains s.
func at(t *testing.T, out, s string) time.Duration {
	t.Helper()
	for line := range strings.SplitSeq(out, "\n") {
		if strings.Contains(line, s) {
			d, err := time.ParseDuration(strings.Fields(line)[0])
			require.NoError(t, err)
			return d
		}
	}
	require.Failf(t, "line not found", "%q in:\n%s", s, out)
	return 0
}

func TestRun(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), bound)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(ctx, &out, nil))
	took := time.Since(start)
	s := out.String()
	t.Log("\n" + s)

	// exit3: the exit status reaches Exit.Code; two restarts with backoff,
	// then the refused one quarantines the slot.
	assert.Len(t, regexp.MustCompile(`exit3: exited: attempt \d failed after \S+: exit status 3 \(code 3\)`).FindAllString(s, -1), 3)
	assert.Contains(t, s, "exit3: restart_scheduled in 100ms")
	assert.Contains(t, s, "exit3: restart_scheduled in 200ms")
	assert.Contains(t, s, "exit3: quarantined: restart limit reached: 2 restarts within 1m0s")

	// polite: SIGTERM at the attempt deadline ends it.
	assert.Regexp(t, `polite: exited: attempt 1 timed out after \S+: attempt deadline passed \(returned: signal: terminated\) \(code -1\)`, s)

	// stubborn: SIGTERM is ignored; SIGKILL follows the grace.
	assert.Regexp(t, `stubborn: exited: attempt 1 timed out after \S+: attempt deadline passed \(returned: signal: killed\) \(code -1\)`, s)
	// The attempt's deadline is start+attemptTimeout; SIGKILL follows
	// stopGrace later (the time column is rounded to 10ms).
	assert.GreaterOrEqual(t, at(t, s, "stubborn: exited"), attemptTimeout+stopGrace-10*time.Millisecond,
		"SIGKILL comes only after the grace")

	assert.Regexp(t, `exit3\s+failed\s+code 3\s+quarantined`, s)
	assert.Less(t, took, 5*time.Second)

	// Nothing of stubborn's process group, its background sleep included,
	// is left (Linux: /proc; a zombie runs nothing).
	m := regexp.MustCompile(`stubborn: process_started: pid (\d+)`).FindStringSubmatch(s)
	require.NotNil(t, m, "stubborn's pid")
	pgid, err := strconv.Atoi(m[1])
	require.NoError(t, err)
	if runtime.GOOS == "linux" {
		assert.Eventually(t, func() bool { return len(groupLeft(pgid)) == 0 }, 2*time.Second, 10*time.Millisecond,
			"stubborn's group %d outlived it", pgid)
	}
}

// groupLeft returns the live (not zombie) processes of group pgid, from
// /proc.
func groupLeft(pgid int) []int {
	entries, _ := os.ReadDir("/proc")
	var left []int
	for _, e := range entries {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		b, err := os.ReadFile("/proc/" + e.Name() + "/stat")
		if err != nil {
			continue
		}
		// pid (comm) state ppid pgrp ...
		f := strings.Fields(string(b[bytes.LastIndexByte(b, ')')+1:]))
		if len(f) >= 3 && f[0] != "Z" && f[2] == strconv.Itoa(pgid) {
			left = append(left, pid)
		}
	}
	return left
}

// TestRunStopsWithContext checks that the end of the parent context (what
// Ctrl-C does) stops every process, the stubborn one included.
func TestRunStopsWithContext(t *testing.T) {
	ctx, cancel := context.WithTimeout(t.Context(), 100*time.Millisecond)
	defer cancel()
	var out bytes.Buffer
	start := time.Now()
	require.NoError(t, run(ctx, &out, nil))
	s := out.String()
	assert.Regexp(t, `polite: exited: attempt 1 was cancelled after \S+: parent context`, s)
	// Killed after the grace, or terminated if SIGTERM came before the
	// shell had set its trap.
	assert.Regexp(t, `stubborn: exited: attempt 1 was cancelled after \S+: parent context.*signal: (killed|terminated)`, s)
	assert.Less(t, time.Since(start), bound)
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
