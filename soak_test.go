package supervisor

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// Soak settings. The soak runs only with SUPERVISOR_SOAK=1 (so that
// `go test -race ./...` stays fast); SUPERVISOR_SOAK_ATTEMPTS overrides the
// number of attempts.
const (
	soakEnv         = "SUPERVISOR_SOAK"
	soakAttemptsEnv = "SUPERVISOR_SOAK_ATTEMPTS"
	soakSlots       = 1000
	soakAttempts    = 200_000
	soakTick        = 200 * time.Millisecond
)

var (
	errSoakFail = errors.New("soak child failed")
	errSoakLate = errors.New("soak child returned late")
)

// soakSlot is one slot of the soak and what its events said.
type soakSlot struct {
	s         *ChildSlot
	started   int
	exits     int            // exited + abandoned events
	abandoned map[uint64]int // attempt -> abandoned events
	stale     map[uint64]int // attempt -> stale_report events
	pausedFor int            // ticks left before the chaos resumes it
	kinds     [Abandoned + 1]int
	refused   int // restart_refused events: automatic quarantines
}

func (ss *soakSlot) onEvent(e Event) {
	switch e.Kind {
	case EventStarted:
		ss.started++
	case EventExited:
		ss.exits++
		ss.kinds[e.Exit.Kind]++
	case EventAbandoned:
		ss.exits++
		ss.kinds[Abandoned]++
		ss.abandoned[e.Attempt]++
	case EventRestartRefused:
		ss.refused++
	case EventStaleReport:
		ss.stale[e.Attempt]++
	}
}

// soakChildren are the soak's children: they draw a behaviour per attempt.
type soakChildren struct {
	mu         sync.Mutex
	hung       []chan struct{} // release channels of hung children
	releaseAll chan struct{}

	running  atomic.Int64 // child goroutines inside the ChildFunc
	returned atomic.Int64 // ChildFunc calls that ended, however
	hangs    atomic.Int64
}

func (c *soakChildren) child(ctx context.Context, a *Attempt) error {
	c.running.Add(1)
	defer func() { c.running.Add(-1); c.returned.Add(1) }() // runs on panic and Goexit too
	switch r := rand.IntN(100); {
	case r < 30:
		return nil
	case r < 55:
		return errSoakFail
	case r < 63:
		panic("soak panic")
	case r < 70:
		runtime.Goexit()
	case r < 85:
		// A worker: beats, gets ready, works a while or until cancelled;
		// one that works past HeartbeatTimeout goes stale.
		a.Beat()
		a.Ready()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(rand.N(1500 * time.Millisecond)):
			return nil
		}
	}
	// Hung: beats once, then ignores cancellation until released, which
	// is usually well past abandonment.
	a.Beat()
	c.hangs.Add(1)
	rel := make(chan struct{})
	c.mu.Lock()
	c.hung = append(c.hung, rel)
	c.mu.Unlock()
	select {
	case <-rel:
	case <-c.releaseAll:
	}
	return errSoakLate
}

// releaseSome releases each hung child with probability 1/n.
func (c *soakChildren) releaseSome(rng *rand.Rand, n int) {
	c.mu.Lock()
	defer c.mu.Unlock()
	kept := c.hung[:0]
	for _, rel := range c.hung {
		if rng.IntN(n) == 0 {
			close(rel)
		} else {
			kept = append(kept, rel)
		}
	}
	clear(c.hung[len(kept):])
	c.hung = kept
}

// soakFigures is what a soak run did.
type soakFigures struct {
	attempts, exits, abandoned, stale, restarts uint64
	hangs, returned                             int64
	ticks, refused                              int
	kinds                                       [Abandoned + 1]int
	fakeTime                                    time.Duration
}

// TestSoak is the chaos soak: 1,000 slots on one loop and one ExitQueue,
// whose children succeed, fail, panic, call Goexit, work until cancelled or
// hang ignoring cancellation until released (usually long after they were
// abandoned), under operator chaos (fenced restarts, pauses, cancels,
// abandons, automatic quarantines and resumes), for at least 200,000
// attempts. At the end, with every hung child released and one more
// Advance, every count adds up: per slot attempt == exits + active, every
// abandoned attempt produced exactly one stale report, and no goroutine is
// left. It runs in a synctest bubble, so stop timeouts and backoffs cost no
// wall time.
//
// Run it with SUPERVISOR_SOAK=1 (CI: once, under -race).
func TestSoak(t *testing.T) {
	if os.Getenv(soakEnv) == "" || testing.Short() {
		t.Skipf("the chaos soak runs with %s=1 (and not under -short)", soakEnv)
	}
	target := soakAttempts
	if v := os.Getenv(soakAttemptsEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "%s", soakAttemptsEnv)
		target = n
	}
	leaks := goleak.IgnoreCurrent()
	began := time.Now()
	var f soakFigures
	synctest.Test(t, func(t *testing.T) { f = runSoak(t, target) })
	goleak.VerifyNone(t, leaks)
	t.Logf("soak: %d slots, %d attempts (%d restarts), %d exits, %d hung children, %d abandoned, %d stale reports, %d restarts refused, %d ticks, %v fake time, %v wall time",
		soakSlots, f.attempts, f.restarts, f.exits, f.hangs, f.abandoned, f.stale, f.refused, f.ticks, f.fakeTime, time.Since(began).Round(time.Millisecond))
	for k := Succeeded; k <= Abandoned; k++ {
		t.Logf("soak: %-9v %d", k, f.kinds[k])
	}
}

func runSoak(t *testing.T, target int) soakFigures {
	rng := rand.New(rand.NewPCG(7, 7))
	children := &soakChildren{releaseAll: make(chan struct{})}
	q := NewExitQueue()
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	origin := time.Now()

	slots := make([]*soakSlot, soakSlots)
	for i := range slots {
		ss := &soakSlot{abandoned: make(map[uint64]int), stale: make(map[uint64]int)}
		cfg := Config{
			Exits:            q,
			OnEvent:          ss.onEvent,
			RestartLimit:     1 << 20,
			Backoff:          Backoff{NoDelay: true},
			StopTimeout:      time.Second,
			HeartbeatTimeout: time.Second,
		}
		switch i % 10 {
		case 0: // a small backoff: restarts wait
			cfg.Backoff = Backoff{Initial: 100 * time.Millisecond, Max: time.Second}
		case 1: // stops after a normal exit; the chaos starts it again
			cfg.Restart = Transient
		case 2: // a tight limit: quarantined now and then, then resumed
			cfg.RestartLimit, cfg.RestartWindow = 5, 2*time.Second
		case 3: // an attempt deadline: slow workers time out
			cfg.AttemptTimeout = 700 * time.Millisecond
		}
		s, err := NewChildSlot("soak-"+strconv.Itoa(i), children.child, cfg)
		require.NoError(t, err)
		ss.s = s
		require.NoError(t, s.Start(ctx, time.Now()))
		slots[i] = ss
	}

	ticks := soakLoop(t, rng, q, slots, children, ctx, target)
	soakWindDown(t, slots, children)
	f := soakVerify(t, slots, children, target, origin)
	f.ticks = ticks
	return f
}

// soakLoop runs the control loop until the slots have started target
// attempts, and returns how many ticks that took.
func soakLoop(t *testing.T, rng *rand.Rand, q *ExitQueue, slots []*soakSlot, children *soakChildren, ctx context.Context, target int) int {
	ticks := 0
	buf := make([]*ChildSlot, 0, soakSlots)
	for attempts := 0; attempts < target; {
		time.Sleep(soakTick)
		synctest.Wait()
		ticks++
		children.releaseSome(rng, 15)
		synctest.Wait()
		now := time.Now()
		for _, s := range q.Drain(buf[:0]) {
			if _, err := s.Collect(now); err != nil {
				// A late return of an abandoned attempt posts the slot
				// too; it has nothing to collect.
				require.True(t, errors.Is(err, ErrNoAttempt) || errors.Is(err, ErrNotDone), "Collect: %v", err)
			}
		}
		attempts = 0
		for _, ss := range slots {
			soakChaos(t, rng, ss, ctx, now)
			ss.s.Advance(now)
			attempts += int(ss.s.Record(now).Attempt)
		}
	}
	return ticks
}

// soakWindDown releases every hung child, removes every slot, collects what
// returns, and Advances once more to record the late returns.
func soakWindDown(t *testing.T, slots []*soakSlot, children *soakChildren) {
	close(children.releaseAll)
	synctest.Wait()
	now := time.Now()
	for _, ss := range slots {
		require.NoError(t, ss.s.Remove(now))
	}
	synctest.Wait()
	for _, ss := range slots {
		if ss.s.Done() != nil {
			_, err := ss.s.Collect(now)
			require.NoError(t, err)
		}
		ss.s.Advance(now)
	}
	synctest.Wait()
	assert.Zero(t, children.running.Load(), "every child returned")
}

// soakVerify checks that every count adds up and returns the figures.
func soakVerify(t *testing.T, slots []*soakSlot, children *soakChildren, target int, origin time.Time) soakFigures {
	var f soakFigures
	now := time.Now()
	for _, ss := range slots {
		r := ss.s.Record(now)
		id := r.ChildID
		require.False(t, r.Active, "%s still holds an attempt", id)
		require.True(t, ss.s.Finished(), id)
		require.Equal(t, r.Attempt, r.Exits, "%s: attempt == exits + active", id)
		require.Zero(t, r.Abandoned, "%s: every abandoned attempt returned", id)
		require.Equal(t, r.AbandonedTotal, r.StaleReports, "%s: one stale report per abandoned attempt", id)
		require.Equal(t, int(r.Attempt), ss.started, "%s: one started event per attempt", id)
		require.Equal(t, int(r.Exits), ss.exits, "%s: one exit event per exit", id)
		require.Len(t, ss.abandoned, int(r.AbandonedTotal), id)
		for n, c := range ss.abandoned {
			require.Equal(t, 1, c, "%s: attempt %d abandoned once", id, n)
			require.Equal(t, 1, ss.stale[n], "%s: attempt %d reported late exactly once", id, n)
		}
		require.Len(t, ss.stale, len(ss.abandoned), "%s: no stale report without an abandonment", id)
		f.attempts += r.Attempt
		f.exits += r.Exits
		f.abandoned += r.AbandonedTotal
		f.stale += r.StaleReports
		f.restarts += r.Restarts
		f.refused += ss.refused
		for k, n := range ss.kinds {
			f.kinds[k] += n
		}
	}
	f.hangs, f.returned = children.hangs.Load(), children.returned.Load()
	require.Equal(t, int64(f.attempts), f.returned, "every attempt's child returned exactly once")
	require.GreaterOrEqual(t, f.attempts, uint64(target))
	require.Positive(t, f.abandoned, "the soak abandoned nothing: it tested nothing")
	f.fakeTime = now.Sub(origin)
	return f
}

// soakChaos is the operator's part: now and then it restarts, pauses,
// cancels, abandons or quarantines ss, and it resumes what was paused or
// quarantined and starts what finished.
func soakChaos(t *testing.T, rng *rand.Rand, ss *soakSlot, ctx context.Context, now time.Time) {
	s := ss.s
	switch r := s.Record(now); {
	case r.Operation == OperationPaused || r.Operation == OperationQuarantined:
		if ss.pausedFor > 0 {
			ss.pausedFor--
			return
		}
		require.NoError(t, s.Resume(now))
		return
	case s.Finished():
		require.NoError(t, s.Start(ctx, now))
		return
	}
	switch rng.IntN(400) {
	case 0:
		d, err := s.Restart(now)
		require.NoError(t, err)
		require.NotEqual(t, FenceRejected, d)
	case 1:
		require.NoError(t, s.Pause(now))
		ss.pausedFor = rng.IntN(5)
	case 2:
		s.Cancel(now)
	case 3:
		s.Abandon(now)
	case 4:
		require.NoError(t, s.Quarantine(now, "soak"))
		ss.pausedFor = rng.IntN(5)
	}
}
