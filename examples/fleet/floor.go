package main

import (
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"strings"
	"sync/atomic"
	"time"
)

// The -floor run: the storm's phases done by hand, with no library, so that
// one run of the fleet prints what the library costs beside what the same
// work costs bare. Each child is one goroutine and one cancellable context,
// parked on a select; the storm fails them all at once; one loop collects
// each exit from a channel and, after the same initial backoff, starts a
// fresh goroutine and context for it; then every child is cancelled and
// waited for in reverse order, one at a time, as an ordered shutdown does.
// It runs in a process of its own (the fleet runs its own binary with
// -floor-only), so that its peak RSS is its own.

// floorResult is what a floor run measured; the same figures as the
// library's storm run, per child where the summary gives them so.
type floorResult struct {
	heapPerChild  float64       // heap per parked child, in bytes
	stackPerChild float64       // goroutine stack per parked child, in bytes
	stormWall     time.Duration // from the storm until every child parked again
	stormCPU      time.Duration // the process's CPU time over the same span
	stop          time.Duration // the ordered stop, one child at a time, in reverse order
	peakRSS       int64         // the process's peak RSS, bytes; 0 where unknown
}

// floorKid is one hand-supervised child: its context's cancel and the
// channel its goroutine closes when it returns.
type floorKid struct {
	cancel context.CancelFunc
	done   chan struct{}
}

// runFloor runs the floor's phases on n children whose restarts wait
// backoff after their exit.
func runFloor(n int, backoff time.Duration) floorResult {
	var r floorResult
	kids := make([]floorKid, n)
	exits := make(chan int, n)
	var parked atomic.Int64
	start := func(i int, gate chan struct{}) {
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan struct{})
		kids[i] = floorKid{cancel: cancel, done: done}
		go func() {
			defer close(done)
			parked.Add(1)
			select {
			case <-ctx.Done():
				parked.Add(-1)
			case <-gate:
				parked.Add(-1)
				exits <- i
			}
		}()
	}
	waitParked := func() {
		for parked.Load() != int64(n) {
			time.Sleep(time.Millisecond)
		}
	}

	var before, after runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&before)
	gate := make(chan struct{})
	for i := range n {
		start(i, gate)
	}
	waitParked()
	runtime.GC()
	runtime.ReadMemStats(&after)
	r.heapPerChild = perChild(after.HeapAlloc, before.HeapAlloc, n)
	r.stackPerChild = perChild(after.StackInuse, before.StackInuse, n)

	cpu, _ := cpuTime()
	began := time.Now()
	fresh := make(chan struct{})
	close(gate)
	for range n {
		i := <-exits
		<-kids[i].done
		kids[i].cancel() // release the ended attempt's context
		if wake := began.Add(backoff); time.Now().Before(wake) {
			time.Sleep(time.Until(wake))
		}
		start(i, fresh)
	}
	waitParked()
	r.stormWall = time.Since(began)
	cpuEnd, _ := cpuTime()
	r.stormCPU = cpuEnd - cpu

	stopped := time.Now()
	for i := n - 1; i >= 0; i-- {
		kids[i].cancel()
		<-kids[i].done
	}
	r.stop = time.Since(stopped)
	r.peakRSS, _ = peakRSS()
	return r
}

// floorKeys are the names of floorResult's fields in -floor-only's output,
// one "key value" line each.
var floorKeys = []string{"heap_per_child", "stack_per_child", "storm_wall_ns", "storm_cpu_ns", "stop_ns", "peak_rss"}

// writeFloor writes r as -floor-only prints it.
func writeFloor(w io.Writer, r floorResult) {
	vals := []int64{int64(r.heapPerChild), int64(r.stackPerChild), int64(r.stormWall), int64(r.stormCPU), int64(r.stop), r.peakRSS}
	for i, k := range floorKeys {
		fmt.Fprintf(w, "%s %d\n", k, vals[i])
	}
}

// parseFloor reads what writeFloor wrote.
func parseFloor(out string) (floorResult, error) {
	vals := make(map[string]int64, len(floorKeys))
	for line := range strings.Lines(out) {
		k, v, ok := strings.Cut(strings.TrimSpace(line), " ")
		if !ok {
			continue
		}
		n, err := strconv.ParseInt(v, 10, 64)
		if err != nil {
			return floorResult{}, fmt.Errorf("floor output %q: %w", line, err)
		}
		vals[k] = n
	}
	for _, k := range floorKeys {
		if _, ok := vals[k]; !ok {
			return floorResult{}, fmt.Errorf("floor output lacks %q:\n%s", k, out)
		}
	}
	return floorResult{
		heapPerChild: float64(vals["heap_per_child"]), stackPerChild: float64(vals["stack_per_child"]),
		stormWall: time.Duration(vals["storm_wall_ns"]), stormCPU: time.Duration(vals["storm_cpu_ns"]),
		stop: time.Duration(vals["stop_ns"]), peakRSS: vals["peak_rss"],
	}, nil
}

// floorInProcess, when set, runs the floor in this process instead of in
// one of its own (tests: a test binary is not the fleet).
var floorInProcess bool

// measureFloor runs the floor on n children, in a process of its own.
func measureFloor(ctx context.Context, n int, backoff time.Duration) (floorResult, error) {
	if floorInProcess {
		return runFloor(n, backoff), nil
	}
	self, err := os.Executable()
	if err != nil {
		return floorResult{}, err
	}
	cmd := exec.CommandContext(ctx, self, "-floor-only", "-n", strconv.Itoa(n))
	cmd.Stderr = os.Stderr
	out, err := cmd.Output()
	if err != nil {
		return floorResult{}, fmt.Errorf("floor run: %w", err)
	}
	return parseFloor(string(out))
}

// printFloor writes the floor's figures and the library's ratios to them:
// the library's storm run (sm, with its heap per parked child, its ordered
// stop stopTook and its peak RSS rss) against the floor's f.
func printFloor(w io.Writer, sm *storm, heapPerChild float64, stopTook time.Duration, rss int64, f floorResult) {
	fmt.Fprintln(w, "floor: the same phases by hand, no library (a process of its own)")
	fmt.Fprintf(w, "  parked             %.0f B heap + %.0f B goroutine stack per child, all parked\n", f.heapPerChild, f.stackPerChild)
	fmt.Fprintf(w, "  storm              all back in %v (%v CPU)\n", f.stormWall.Round(time.Millisecond), f.stormCPU.Round(time.Millisecond))
	fmt.Fprintf(w, "  stopped            in order in %v\n", f.stop.Round(time.Millisecond))
	if f.peakRSS > 0 {
		fmt.Fprintf(w, "  peak RSS           %.0f MiB\n", float64(f.peakRSS)/(1<<20))
	}
	ratio := func(a, b float64) string {
		if b <= 0 {
			return "n/a"
		}
		return fmt.Sprintf("%.2fx", a/b)
	}
	fmt.Fprintf(w, "ratios (library / floor): storm wall %s, storm CPU %s, ordered stop %s, peak RSS %s, heap per parked child %s\n",
		ratio(float64(sm.drainWall), float64(f.stormWall)), ratio(float64(sm.drainCPU), float64(f.stormCPU)),
		ratio(float64(stopTook), float64(f.stop)), ratio(float64(rss), float64(f.peakRSS)),
		ratio(heapPerChild, f.heapPerChild))
}
