package supervisor

import (
	"context"
	"os"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/require"
)

// Benchmarks of dynamic children beside floors, on real goroutines and the
// real clock (see BENCHMARKS.md).

// benchPark is a child that parks until cancelled.
func benchPark(ctx context.Context, _ *Attempt) error {
	<-ctx.Done()
	return nil
}

// BenchmarkStartChild is one StartChild and one StopChild, from the
// benchmark's goroutine, of a member of a root group under Run: an op is
// the pair, "ns/call" half of it.
func BenchmarkStartChild(b *testing.B) {
	g, err := NewGroup("pool", GroupConfig{Intensity: NoIntensity, SnapshotInterval: NoSnapshots})
	require.NoError(b, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	b.ReportAllocs()
	for b.Loop() {
		if err := g.StartChild(ctx, "m", benchPark, Config{}); err != nil {
			b.Fatal(err)
		}
		if _, err := g.StopChild(ctx, "m"); err != nil {
			b.Fatal(err)
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/call")
	cancel()
	require.NoError(b, <-done)
}

// floorReq is a request to the floor's loop: a start when fn is set, else
// a stop.
type floorReq struct {
	id   string
	fn   func(context.Context)
	done chan struct{}
}

// floorChild is what the floor's loop keeps of a running child.
type floorChild struct {
	cancel  context.CancelFunc
	stopped chan struct{} // the stop waiting for the child's exit
}

// floorLoop is the floor's loop: it adds a child to its map and starts its
// goroutine, or cancels it and answers once the child's exit came back,
// as StartChild and StopChild ask of the tree's loop.
func floorLoop(ctx context.Context, reqs <-chan floorReq) {
	children := make(map[string]*floorChild)
	exits := make(chan string, 1)
	for {
		select {
		case <-ctx.Done():
			return
		case id := <-exits:
			c := children[id]
			delete(children, id)
			close(c.stopped)
		case r := <-reqs:
			if r.fn == nil {
				c := children[r.id]
				c.cancel()
				c.stopped = r.done
				continue
			}
			cctx, cancel := context.WithCancel(ctx)
			children[r.id] = &floorChild{cancel: cancel}
			go func() {
				r.fn(cctx)
				exits <- r.id
			}()
			close(r.done)
		}
	}
}

// BenchmarkStartChildFloor is the same pair done by hand: a channel round
// trip to a loop goroutine that inserts in a map and starts a goroutine,
// then one that cancels it and answers once its exit came back.
func BenchmarkStartChildFloor(b *testing.B) {
	ctx, cancel := context.WithCancel(context.Background())
	reqs := make(chan floorReq)
	stopped := make(chan struct{})
	go func() { floorLoop(ctx, reqs); close(stopped) }()
	park := func(ctx context.Context) { <-ctx.Done() }
	b.ReportAllocs()
	for b.Loop() {
		start := floorReq{id: "m", fn: park, done: make(chan struct{})}
		reqs <- start
		<-start.done
		stop := floorReq{id: "m", done: make(chan struct{})}
		reqs <- stop
		<-stop.done
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(2*b.N), "ns/call")
	cancel()
	<-stopped
}

// benchLongEnv, set, adds 1,000,000 members to the shutdown benchmarks.
const benchLongEnv = "SUPERVISOR_BENCH_LONG"

// shutdownSizes are the member counts of the shutdown benchmarks.
func shutdownSizes() []int {
	if os.Getenv(benchLongEnv) != "" {
		return []int{100_000, 1_000_000}
	}
	return []int{100_000}
}

// BenchmarkConcurrentShutdown is the shutdown of a root group of n parked
// members with ShutdownOrder Concurrent: from Shutdown until the group has
// ended, on the real clock under a hand-written loop; "ns/member" is the
// wall per member. Building and starting the group is not timed.
func BenchmarkConcurrentShutdown(b *testing.B) {
	for _, n := range shutdownSizes() {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) {
			var wall time.Duration
			for b.Loop() {
				b.StopTimer()
				g := benchParkedGroup(b, n)
				b.StartTimer()
				t0 := time.Now()
				perfGroupShutdown(b, g)
				wall += time.Since(t0)
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*n), "ns/member")
		})
	}
}

// benchParkedGroup returns a started root group of n members parked until
// cancelled, shut down all at once.
func benchParkedGroup(b *testing.B, n int) *Group {
	b.Helper()
	g, err := NewGroup("pool", GroupConfig{
		Intensity:        NoIntensity,
		SnapshotInterval: NoSnapshots,
		EventLog:         NoEventLog,
		ShutdownOrder:    Concurrent,
	})
	require.NoError(b, err)
	started := perfParked(b, g, n, Config{})
	require.NoError(b, g.Start(context.Background(), time.Now()))
	perfGroupLoop(g, func() bool { return g.State() == GroupRunning })
	started.Wait()
	return g
}

// BenchmarkConcurrentShutdownFloor is the same by hand: n goroutines
// parked on contexts of their own; cancel every context, wait for every
// goroutine.
func BenchmarkConcurrentShutdownFloor(b *testing.B) {
	for _, n := range shutdownSizes() {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) {
			var wall time.Duration
			cancels := make([]context.CancelFunc, n)
			for b.Loop() {
				b.StopTimer()
				var started, done sync.WaitGroup
				started.Add(n)
				for i := range cancels {
					ctx, cancel := context.WithCancel(context.Background())
					cancels[i] = cancel
					done.Go(func() {
						started.Done()
						<-ctx.Done()
					})
				}
				started.Wait()
				b.StartTimer()
				t0 := time.Now()
				for _, cancel := range cancels {
					cancel()
				}
				done.Wait()
				wall += time.Since(t0)
			}
			b.ReportMetric(float64(wall.Nanoseconds())/float64(b.N*n), "ns/member")
		})
	}
}
