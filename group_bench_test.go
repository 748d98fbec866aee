package supervisor

import (
	"context"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Benchmarks of the group beside floors, on real goroutines and the real
// clock (see BENCHMARKS.md).

// perfGroupIdle returns a running root group of n members whose children
// park until cancelled, each with a heartbeat deadline an hour away, so the
// tree's schedule holds n entries and nothing is due.
func perfGroupIdle(tb testing.TB, n int) (*Group, func()) {
	tb.Helper()
	g, err := NewGroup("idle", GroupConfig{Intensity: NoIntensity})
	require.NoError(tb, err)
	started := perfParked(tb, g, n, Config{HeartbeatTimeout: time.Hour})
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(tb, g.Start(ctx, time.Now()))
	perfGroupLoop(g, func() bool { return g.State() == GroupRunning }) // a start walk goes a batch per Advance
	started.Wait()
	g.Advance(time.Now())
	return g, func() {
		cancel()
		perfGroupShutdown(tb, g)
	}
}

// perfParked adds n members with config cfg to g, whose children park
// until cancelled, and returns what is done once every child has started.
func perfParked(tb testing.TB, g *Group, n int, cfg Config) *sync.WaitGroup {
	tb.Helper()
	started := new(sync.WaitGroup)
	started.Add(n)
	fn := func(ctx context.Context, _ *Attempt) error {
		started.Done()
		<-ctx.Done()
		return nil
	}
	for i := range n {
		_, err := g.Add("m"+strconv.Itoa(i), fn, cfg)
		require.NoError(tb, err)
	}
	return started
}

// perfGroupShutdown shuts g down and runs its loop until it has ended.
func perfGroupShutdown(tb testing.TB, g *Group) {
	tb.Helper()
	g.Shutdown(time.Now())
	perfGroupLoop(g, g.Finished)
}

// perfGroupLoop runs g's loop until done reports true.
func perfGroupLoop(g *Group, done func() bool) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		g.Advance(time.Now())
		if done() {
			return
		}
		if at, ok := g.NextDeadline(); ok {
			timer.Reset(time.Until(at))
		}
		select {
		case <-g.Wake():
		case <-timer.C:
		}
	}
}

// BenchmarkGroupAdvanceIdle is one Advance of a tree with nothing due, at
// 10 and at 100,000 members: the cost must not follow the member count.
func BenchmarkGroupAdvanceIdle(b *testing.B) {
	for _, n := range []int{10, 100_000} {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) {
			g, stop := perfGroupIdle(b, n)
			defer stop()
			b.ReportAllocs()
			for b.Loop() {
				g.Advance(time.Now())
				perfSinkTime, perfSinkBool = g.NextDeadline()
			}
		})
	}
}

// BenchmarkGroupAdvanceIdleFloor is the same check by hand: a clock read, a
// non-blocking receive on a wake channel, and a look at the head of a
// min-heap of deadlines.
func BenchmarkGroupAdvanceIdleFloor(b *testing.B) {
	b.ReportAllocs()
	wake := make(chan struct{}, 1)
	heap := []time.Time{time.Now().Add(time.Hour)}
	for b.Loop() {
		now := time.Now()
		select {
		case <-wake:
		default:
		}
		perfSinkBool = heap[0].After(now)
		perfSinkTime = heap[0]
	}
}

// perfRestartMembers is the size of the one_for_all group restarted.
const perfRestartMembers = 1000

// BenchmarkGroupOneForAllRestart is one one_for_all restart of a
// 1,000-member group: the first member fails, the other 999 are cancelled
// in reverse order, one at a time, each waited for, and all 1,000 start
// again in order. It reports the time and allocations per member.
func BenchmarkGroupOneForAllRestart(b *testing.B) {
	g, err := NewGroup("all", GroupConfig{Strategy: OneForAll, Intensity: NoIntensity})
	require.NoError(b, err)
	fail := make(chan struct{})
	park := func(ctx context.Context, _ *Attempt) error {
		<-ctx.Done()
		return nil
	}
	first := func(ctx context.Context, _ *Attempt) error {
		select {
		case <-ctx.Done():
			return nil
		case <-fail:
			return errPerf
		}
	}
	// A window shorter than a restart: the failing member's own limit
	// never refuses.
	cfg := Config{Backoff: Backoff{NoDelay: true}, RestartWindow: time.Nanosecond}
	for i := range perfRestartMembers {
		fn := park
		if i == 0 {
			fn = first
		}
		_, err := g.Add("m"+strconv.Itoa(i), fn, cfg)
		require.NoError(b, err)
	}
	require.NoError(b, g.Start(context.Background(), time.Now()))
	perfGroupLoop(g, func() bool { return g.State() == GroupRunning })
	b.ReportAllocs()
	for b.Loop() {
		want := g.restarts + 1
		fail <- struct{}{}
		perfGroupLoop(g, func() bool { return g.restarts == want && g.State() == GroupRunning })
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perfRestartMembers), "ns/member")
	perfGroupShutdown(b, g)
}

// BenchmarkGroupOneForAllRestartFloor is the bare slots' restart cycle for
// the same 1,000 children, done by hand one at a time as the group does:
// cancel one, wait for it, collect it, next; then start each again.
func BenchmarkGroupOneForAllRestartFloor(b *testing.B) {
	park := func(ctx context.Context, _ *Attempt) error {
		<-ctx.Done()
		return nil
	}
	slots := make([]*ChildSlot, perfRestartMembers)
	ctx := context.Background()
	for i := range slots {
		s, err := NewChildSlot("m"+strconv.Itoa(i), park, Config{Restart: Temporary})
		require.NoError(b, err)
		require.NoError(b, s.Start(ctx, time.Now()))
		slots[i] = s
	}
	b.ReportAllocs()
	for b.Loop() {
		for i := len(slots) - 1; i >= 0; i-- {
			s := slots[i]
			s.Cancel(time.Now())
			<-s.Done()
			if _, err := s.Collect(time.Now()); err != nil {
				b.Fatal(err)
			}
		}
		for _, s := range slots {
			if err := s.Start(ctx, time.Now()); err != nil {
				b.Fatal(err)
			}
		}
	}
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*perfRestartMembers), "ns/member")
	for _, s := range slots {
		s.Cancel(time.Now())
		<-s.Done()
		_, _ = s.Collect(time.Now())
	}
}

// perfMemberBytes returns the heap one member of a group takes beyond a
// slot made alone with the same config, over n of each, none started.
func perfMemberBytes(tb testing.TB, n int) float64 {
	tb.Helper()
	fn := func(context.Context, *Attempt) error { return nil }
	ids := make([]string, n)
	for i := range ids {
		ids[i] = "m" + strconv.Itoa(i)
	}
	lone := make([]*ChildSlot, n)
	m0 := perfHeap()
	for i := range lone {
		s, err := NewChildSlot(ids[i], fn, Config{Path: "/g/" + ids[i]})
		require.NoError(tb, err)
		lone[i] = s
	}
	m1 := perfHeap()
	g, err := NewGroup("g", GroupConfig{})
	require.NoError(tb, err)
	for i := range n {
		_, err := g.Add(ids[i], fn, Config{})
		require.NoError(tb, err)
	}
	m2 := perfHeap()
	runtime.KeepAlive(lone)
	runtime.KeepAlive(g)
	return perfPerSlot(m1, m2, n) - perfPerSlot(m0, m1, n)
}

// TestGroupMemberMemory holds a member to at most 64 bytes beyond its slot.
func TestGroupMemberMemory(t *testing.T) {
	if testing.Short() {
		t.Skip("measures the heap")
	}
	perMember := perfMemberBytes(t, 100_000)
	t.Logf("%.1f B per member beyond its slot", perMember)
	assert.LessOrEqual(t, perMember, 64.0)
}

// BenchmarkGroupMemberMemory reports the heap per member beyond its slot.
func BenchmarkGroupMemberMemory(b *testing.B) {
	var total float64
	for b.Loop() {
		total += perfMemberBytes(b, 100_000)
	}
	b.ReportMetric(total/float64(b.N), "B/member-beyond-slot")
}

// perfStorm is a restart storm: n children in a one_for_one group (backoff
// off, intensity off) whose attempts k all fail at once when rounds[k-1]
// closes. An attempt picks its round by its number, however late its
// goroutine runs.
type perfStorm struct {
	rounds []chan struct{}
}

func newPerfStorm(n int) *perfStorm {
	p := &perfStorm{rounds: make([]chan struct{}, n)}
	for i := range p.rounds {
		p.rounds[i] = make(chan struct{})
	}
	return p
}

func (p *perfStorm) child(ctx context.Context, a *Attempt) error {
	select {
	case <-p.rounds[a.Number()-1]:
		return errPerf
	case <-ctx.Done():
		return nil
	}
}

// perfStormSizes are the sizes of the storm benchmarks; 1,000,000 needs
// -benchtime 1x and a few GiB (see BENCHMARKS.md).
var perfStormSizes = []int{1000, 100_000, 1_000_000}

// BenchmarkGroupStorm is one restart storm per op: every member of an
// n-member one_for_one group fails at once and is restarted. It reports the
// time and allocations per exit; events=on logs nothing but builds every
// event for a listener.
func BenchmarkGroupStorm(b *testing.B) {
	for _, n := range perfStormSizes {
		for _, events := range []bool{false, true} {
			name := "members=" + strconv.Itoa(n) + "/events=" + map[bool]string{false: "off", true: "on"}[events]
			b.Run(name, func(b *testing.B) {
				if n > 100_000 && testing.Short() {
					b.Skip("a million children")
				}
				perfGroupStorm(b, n, events)
			})
		}
	}
}

func perfGroupStorm(b *testing.B, n int, events bool) {
	cfg := GroupConfig{Intensity: NoIntensity}
	var seen atomic.Int64
	if events {
		cfg.OnEvent = func(Event) { seen.Add(1) }
	}
	g, err := NewGroup("storm", cfg)
	require.NoError(b, err)
	p := newPerfStorm(b.N + 1)
	mcfg := Config{Backoff: Backoff{NoDelay: true}, RestartWindow: time.Nanosecond}
	for i := range n {
		_, err := g.Add("m"+strconv.Itoa(i), p.child, mcfg)
		require.NoError(b, err)
	}
	require.NoError(b, g.Start(context.Background(), time.Now()))
	perfGroupLoop(g, func() bool { return g.State() == GroupRunning })
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		// Done when the group has restarted every member, as the floor is
		// done when it has started every goroutine again.
		want := g.restarts + uint64(n)
		close(p.rounds[i])
		perfGroupLoop(g, func() bool { return g.restarts == want })
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/exit")
	b.ReportMetric(0, "ns/op")
	perfGroupShutdown(b, g)
}

// BenchmarkGroupStormFloor is the same storm by hand: n goroutines, each
// with a cancellable context and a done channel, all failing at once, each
// waited for and started again.
func BenchmarkGroupStormFloor(b *testing.B) {
	for _, n := range perfStormSizes {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) {
			if n > 100_000 && testing.Short() {
				b.Skip("a million children")
			}
			perfStormFloor(b, n)
		})
	}
}

func perfStormFloor(b *testing.B, n int) {
	type child struct {
		cancel context.CancelFunc
		done   chan struct{}
		err    error
	}
	kids := make([]child, n)
	release := make(chan struct{})
	start := func(k *child, rel chan struct{}) {
		ctx, cancel := context.WithCancel(context.Background())
		k.cancel, k.done = cancel, make(chan struct{})
		go func() {
			select {
			case <-rel:
				k.err = errPerf
			case <-ctx.Done():
			}
			close(k.done)
		}()
	}
	for i := range kids {
		start(&kids[i], release)
	}
	b.ReportAllocs()
	b.ResetTimer()
	for i := 0; i < b.N; i++ {
		old := release
		release = make(chan struct{})
		close(old)
		for j := range kids {
			k := &kids[j]
			<-k.done
			k.cancel()
			if k.err == nil {
				b.Fatal("no failure")
			}
			start(k, release)
		}
	}
	b.StopTimer()
	b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/exit")
	b.ReportMetric(0, "ns/op")
	close(release)
	for j := range kids {
		<-kids[j].done
		kids[j].cancel()
	}
}

// BenchmarkGroupShutdown is one ordered shutdown of an n-member group under
// Run, each child parked until cancelled: members stop one at a time, in
// reverse start order. It reports the time per member stopped.
func BenchmarkGroupShutdown(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				b.StopTimer()
				g, err := NewGroup("stop", GroupConfig{Intensity: NoIntensity, SnapshotInterval: NoSnapshots})
				require.NoError(b, err)
				parked := perfParked(b, g, n, Config{})
				ctx, cancel := context.WithCancel(context.Background())
				done := make(chan error, 1)
				go func() { done <- g.Run(ctx) }()
				parked.Wait()
				b.StartTimer()
				cancel()
				require.NoError(b, <-done)
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/member")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkGroupShutdownFloor is the same stop by hand: n goroutines, each
// with a cancellable context and a done channel, cancelled in reverse
// order, each waited for before the next.
func BenchmarkGroupShutdownFloor(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		b.Run("members="+strconv.Itoa(n), func(b *testing.B) {
			b.ReportAllocs()
			type child struct {
				cancel context.CancelFunc
				done   chan struct{}
			}
			kids := make([]child, n)
			for range b.N {
				b.StopTimer()
				var parked sync.WaitGroup
				parked.Add(n)
				for i := range kids {
					ctx, cancel := context.WithCancel(context.Background())
					k := &kids[i]
					k.cancel, k.done = cancel, make(chan struct{})
					go func() {
						parked.Done()
						<-ctx.Done()
						close(k.done)
					}()
				}
				parked.Wait()
				b.StartTimer()
				for i := n - 1; i >= 0; i-- {
					kids[i].cancel()
					<-kids[i].done
				}
			}
			b.ReportMetric(float64(b.Elapsed().Nanoseconds())/float64(b.N*n), "ns/member")
			b.ReportMetric(0, "ns/op")
		})
	}
}

// BenchmarkGroupSnapshot builds the snapshot of an idle n-member tree: from
// nothing (as every snapshot was built before they shared what did not
// change; Record still is), and against the last one when nothing changed.
func BenchmarkGroupSnapshot(b *testing.B) {
	for _, n := range []int{1000, 100_000} {
		g, stop := perfGroupIdle(b, n)
		now := time.Now()
		last := g.Record(now)
		b.Run("members="+strconv.Itoa(n)+"/from=nothing", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = g.record(now, nil)
			}
		})
		b.Run("members="+strconv.Itoa(n)+"/from=last", func(b *testing.B) {
			b.ReportAllocs()
			for range b.N {
				_ = g.record(now, &last)
			}
		})
		stop()
	}
}
