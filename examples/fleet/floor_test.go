package main

import (
	"bytes"
	"regexp"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestRunFloor: -floor runs the storm, then the floor's phases (here in
// this process: a test binary is not the fleet), and prints the floor's
// figures and the library's ratios to them.
func TestRunFloor(t *testing.T) {
	floorInProcess = true
	t.Cleanup(func() { floorInProcess = false })
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, []string{"-n", "100", "-floor"}))
		s := out.String()
		t.Log("\n" + s)
		assert.Contains(t, s, "storm              100 failed at once, all back in", "-floor is a storm run")
		assert.Contains(t, s, "floor: the same phases by hand, no library")
		assert.Regexp(t, `storm\s+all back in 2[01]ms`, s, "on the fake clock the floor's restarts wait the backoff (and its 1ms poll), no more")
		assert.Regexp(t, `stopped\s+in order in 0s`, s)
		assert.Regexp(t, `ratios \(library / floor\): storm wall \d+\.\d\dx, storm CPU \S+, ordered stop \S+, peak RSS \S+, heap per parked child \d+\.\d\dx`, s)
	})
}

// TestRunFloorOnly: -floor-only prints the floor's figures in the form
// the -floor run reads back.
func TestRunFloorOnly(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var out bytes.Buffer
		require.NoError(t, run(t.Context(), &out, []string{"-n", "1000", "-floor-only"}))
		f, err := parseFloor(out.String())
		require.NoError(t, err, out.String())
		assert.GreaterOrEqual(t, f.stormWall, 20*time.Millisecond, "every restart waited the backoff, on the fake clock")
		assert.LessOrEqual(t, f.stormWall, 21*time.Millisecond, "and its 1ms poll, no more")
		assert.Greater(t, f.heapPerChild, 300.0, "a parked child holds a goroutine and a context")
		assert.Regexp(t, regexp.MustCompile(`(?m)^storm_wall_ns 2[01]000000$`), out.String())
	})
}

// TestParseFloorRefusesPartialOutput: a floor process that died half way
// is an error, not zeros.
func TestParseFloorRefusesPartialOutput(t *testing.T) {
	_, err := parseFloor("heap_per_child 1000\nstorm_wall_ns 5\n")
	require.Error(t, err)
	_, err = parseFloor("heap_per_child x\n")
	require.Error(t, err)
}
