package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// dyRun runs g under Run in the bubble and returns a function that ends it
// and returns Run's error.
func dyRun(t *testing.T, g *Group) func() error {
	ctx, cancel := context.WithCancel(t.Context())
	done := make(chan error, 1)
	go func() { done <- g.Run(ctx) }()
	return func() error { cancel(); return <-done }
}

// dyCount counts a tree's events by kind and child.
type dyCount struct {
	mu sync.Mutex
	n  map[string]int
}

func (c *dyCount) on(e Event) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.n == nil {
		c.n = map[string]int{}
	}
	id := e.ChildID
	if e.Member != "" {
		id = e.Member
	}
	c.n[e.Kind.String()+" "+id]++
}

func (c *dyCount) get(k string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.n[k]
}

// TestStartChildFromManyGoroutines: 50 goroutines start a child each under
// Run, then 50 stop them: each starts once and stops once; records and
// events agree.
func TestStartChildFromManyGoroutines(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var ev dyCount
		g, err := NewGroup("pool", GroupConfig{Intensity: NoIntensity, OnEvent: ev.on})
		require.NoError(t, err)
		stop := dyRun(t, g)
		var wg sync.WaitGroup
		for i := range 50 {
			wg.Go(func() {
				assert.NoError(t, g.StartChild(t.Context(), fmt.Sprintf("t%d", i), gdPark, Config{}))
			})
		}
		wg.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		snap := g.Snapshot()
		require.NotNil(t, snap)
		rec := *snap
		require.Len(t, rec.Members, 50)
		for i := range 50 {
			id := fmt.Sprintf("t%d", i)
			assert.Equal(t, 1, ev.get("member_added "+id), id)
			assert.Equal(t, 1, ev.get("started "+id), id)
		}
		for i := range 50 {
			wg.Go(func() {
				o, err := g.StopChild(t.Context(), fmt.Sprintf("t%d", i))
				assert.NoError(t, err)
				assert.Equal(t, OutcomeStopped, o)
			})
		}
		wg.Wait()
		for i := range 50 {
			id := fmt.Sprintf("t%d", i)
			assert.Equal(t, 1, ev.get("member_removed "+id), id)
			assert.Equal(t, 1, ev.get("exited "+id), id)
		}
		require.NoError(t, stop())
		assert.Zero(t, g.Len())
	})
}

// TestStartChildWaitsForReady: a member whose readiness is watched is
// started once ready; one that fails, or misses its ReadyTimeout, before
// is refused with the failure and removed.
func TestStartChildWaitsForReady(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("pool", GroupConfig{})
		require.NoError(t, err)
		stop := dyRun(t, g)
		t0 := time.Now()
		err = g.StartChild(t.Context(), "slow", func(ctx context.Context, a *Attempt) error {
			time.Sleep(2 * time.Second)
			a.Ready()
			<-ctx.Done()
			return nil
		}, Config{ReadyTimeout: time.Minute})
		require.NoError(t, err)
		assert.Equal(t, 2*time.Second, time.Since(t0), "returned when ready")

		err = g.StartChild(t.Context(), "broken", func(context.Context, *Attempt) error {
			return errors.New("bad config")
		}, Config{ReadyTimeout: time.Minute})
		require.ErrorIs(t, err, ErrStartFailed)
		assert.Contains(t, err.Error(), "bad config")

		for _, restart := range []RestartType{Permanent, Transient, Temporary} {
			err = g.StartChild(t.Context(), "dnr", func(context.Context, *Attempt) error {
				return fmt.Errorf("bad config: %w", ErrDoNotRestart)
			}, Config{ReadyTimeout: time.Minute, Restart: restart})
			require.ErrorIs(t, err, ErrStartFailed, "%v: it ended for good before it was ready", restart)
			assert.Contains(t, err.Error(), "bad config")
		}

		t1 := time.Now()
		err = g.StartChild(t.Context(), "mute", gdPark, Config{ReadyTimeout: time.Second})
		require.ErrorIs(t, err, ErrStartFailed)
		assert.Contains(t, err.Error(), "not ready in time")
		assert.Equal(t, time.Second, time.Since(t1))
		assert.Equal(t, []string{"slow"}, dyIDs(g), "the failed members were removed")
		require.NoError(t, stop())
	})
}

// dyIDs returns the member ids of g's snapshot, a pulse from now (the loop
// publishes at most every SnapshotInterval).
func dyIDs(g *Group) []string {
	time.Sleep(time.Second)
	synctest.Wait()
	var ids []string
	for _, m := range g.Snapshot().Members {
		ids = append(ids, m.ID)
	}
	return ids
}

// TestStartChildRefusals: each refusal leaves the tree as it was.
func TestStartChildRefusals(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("pool", GroupConfig{MaxChildren: 2})
		require.NoError(t, err)
		stop := dyRun(t, g)
		ctx := t.Context()
		require.NoError(t, g.StartChild(ctx, "a", gdPark, Config{}))
		tests := []struct {
			name string
			id   string
			fn   ChildFunc
			cfg  Config
			want error
		}{
			{"bad id", "a/b", gdPark, Config{}, ErrInvalidConfig},
			{"nil fn", "b", nil, Config{}, ErrInvalidConfig},
			{"bad config", "b", gdPark, Config{StopTimeout: -1}, ErrInvalidConfig},
			{"duplicate", "a", gdPark, Config{}, ErrInvalidConfig},
		}
		for _, tt := range tests {
			err := g.StartChild(ctx, tt.id, tt.fn, tt.cfg)
			assert.ErrorIs(t, err, tt.want, tt.name)
		}
		require.NoError(t, g.StartChild(ctx, "b", gdPark, Config{}))
		err = g.StartChild(ctx, "c", gdPark, Config{})
		require.ErrorIs(t, err, ErrMaxChildren)
		assert.Equal(t, []string{"a", "b"}, dyIDs(g))

		o, err := g.StopChild(ctx, "a")
		require.NoError(t, err)
		assert.Equal(t, OutcomeStopped, o)
		require.NoError(t, g.StartChild(ctx, "c", gdPark, Config{}), "a removal makes room")
		_, err = g.StopChild(ctx, "nobody")
		require.ErrorIs(t, err, ErrUnknownMember)

		require.NoError(t, stop())
		require.ErrorIs(t, g.StartChild(ctx, "d", gdPark, Config{}), ErrGroupStopped)
		_, err = g.StopChild(ctx, "b")
		require.ErrorIs(t, err, ErrGroupStopped)
	})
}

// TestStartChildWithdrawn: a request the loop has not taken when its ctx
// ends is withdrawn: it changes nothing.
func TestStartChildWithdrawn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("pool", GroupConfig{})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now())) // a hand-written loop that does not advance yet
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		err = g.StartChild(ctx, "late", gdPark, Config{})
		require.ErrorIs(t, err, context.DeadlineExceeded)
		g.Advance(time.Now())
		assert.Zero(t, g.Len(), "withdrawn")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestStopChildDuringBackoff: a member waiting out its backoff is removed
// at once and its restart dropped; a dynamic member that ends for good
// leaves by itself.
func TestStopChildDuringBackoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("pool", GroupConfig{})
		require.NoError(t, err)
		stop := dyRun(t, g)
		var runs int
		require.NoError(t, g.StartChild(t.Context(), "flaky", func(context.Context, *Attempt) error {
			runs++
			return errors.New("flaky")
		}, Config{Backoff: Backoff{Initial: time.Minute, NoJitter: true}}))
		assert.Equal(t, []string{"flaky"}, dyIDs(g), "waiting out its backoff, still a member")
		o, err := g.StopChild(t.Context(), "flaky")
		require.NoError(t, err)
		assert.Equal(t, OutcomeAlreadyStopped, o)
		time.Sleep(2 * time.Minute)
		assert.Equal(t, 1, runs, "its planned restart was dropped")

		require.NoError(t, g.StartChild(t.Context(), "job", func(context.Context, *Attempt) error { return nil },
			Config{Restart: Transient}))
		assert.Empty(t, dyIDs(g), "a transient member that ended normally left")
		require.NoError(t, g.StartChild(t.Context(), "job", gdPark, Config{}), "its id is free again")
		require.NoError(t, stop())
	})
}

func TestMaxChildrenAdd(t *testing.T) {
	g, err := NewGroup("pool", GroupConfig{MaxChildren: 1})
	require.NoError(t, err)
	_, err = g.Add("a", gdPark, Config{})
	require.NoError(t, err)
	_, err = g.Add("b", gdPark, Config{})
	require.ErrorIs(t, err, ErrMaxChildren)
	sub, err := NewGroup("sub", GroupConfig{})
	require.NoError(t, err)
	require.ErrorIs(t, g.AddGroup(sub), ErrMaxChildren)
	assert.Equal(t, 1, g.Len())
	_, err = NewGroup("bad", GroupConfig{MaxChildren: -1})
	require.ErrorIs(t, err, ErrInvalidConfig)
}

// TestStartChildNested: StartChild and StopChild on a nested group, and
// StopChild of a nested group itself, stopped in order.
func TestStartChildNested(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		tenants, err := NewGroup("tenants", GroupConfig{ShutdownOrder: Concurrent})
		require.NoError(t, err)
		require.NoError(t, root.AddGroup(tenants))
		stop := dyRun(t, root)
		require.NoError(t, tenants.StartChild(t.Context(), "acme", gdPark, Config{}))
		require.NoError(t, root.StartChild(t.Context(), "side", gdPark, Config{}))
		o, err := tenants.StopChild(t.Context(), "acme")
		require.NoError(t, err)
		assert.Equal(t, OutcomeStopped, o)
		o, err = root.StopChild(t.Context(), "tenants")
		require.NoError(t, err)
		assert.Equal(t, OutcomeStopped, o)
		assert.Equal(t, []string{"side"}, dyIDs(root))
		require.ErrorIs(t, tenants.StartChild(t.Context(), "late", gdPark, Config{}), ErrGroupStopped,
			"a group removed from the tree takes no more")
		require.NoError(t, stop())
	})
}

// TestSubmitWaitBulk: 5,000 removals through SubmitWait under Run, from 50
// goroutines, meet no refusal however full the queue gets.
func TestSubmitWaitBulk(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("pool", GroupConfig{ShutdownOrder: Concurrent})
		require.NoError(t, err)
		for i := range 5000 {
			_, err := g.Add(fmt.Sprintf("t%d", i), gdPark, Config{})
			require.NoError(t, err)
		}
		stop := dyRun(t, g)
		var wg sync.WaitGroup
		for w := range 50 {
			wg.Go(func() {
				for i := w; i < 5000; i += 50 {
					done, err := g.SubmitWait(t.Context(), Command{Op: CommandRemove,
						Path: fmt.Sprintf("/pool/t%d", i), Requester: "bulk", Reason: "scale down"})
					if !assert.NoError(t, err) {
						return
					}
					assert.NoError(t, (<-done).Err)
				}
			})
		}
		wg.Wait()
		assert.Empty(t, dyIDs(g))
		require.NoError(t, stop())
	})
}

// TestSubmitWaitFull: with the queue full, SubmitWait waits for the loop
// to take it, or for its ctx.
func TestSubmitWaitFull(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		_, err = g.Add("a", gdPark, Config{})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		c := Command{Op: CommandRestart, Path: "/app/a", Requester: "op", Reason: "test"}
		for range CommandQueueSize {
			_, err := g.Submit(c)
			require.NoError(t, err)
		}
		_, err = g.Submit(c)
		require.ErrorIs(t, err, ErrCommandQueueFull)
		ctx, cancel := context.WithTimeout(t.Context(), time.Second)
		defer cancel()
		_, err = g.SubmitWait(ctx, c)
		require.ErrorIs(t, err, context.DeadlineExceeded)

		got := make(chan error, 1)
		go func() { _, err := g.SubmitWait(t.Context(), c); got <- err }()
		synctest.Wait()
		require.Empty(t, got, "SubmitWait waits while the queue is full")
		g.Advance(time.Now()) // takes the queue
		require.NoError(t, <-got)
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestStartChildRefusedLeavesNothing: a StartChild that waits out its
// group's restart, and is refused when the group shuts down, leaves no
// member behind, even though the parent restarts the group: the caller may
// start the same id again.
func TestStartChildRefusedLeavesNothing(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		root, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		pool, err := NewGroup("pool", GroupConfig{Strategy: OneForAll})
		require.NoError(t, err)
		require.NoError(t, root.AddGroup(pool))
		fail := make(chan struct{})
		_, err = pool.Add("a", func(ctx context.Context, _ *Attempt) error {
			select {
			case <-ctx.Done():
				return nil
			case <-fail:
				return errors.New("boom")
			}
		}, Config{Backoff: Backoff{Initial: time.Second, Max: time.Second, NoJitter: true}})
		require.NoError(t, err)
		stop := dyRun(t, root)
		synctest.Wait()
		fail <- struct{}{} // pool restarts "a" after a second
		synctest.Wait()
		refused := make(chan error, 1)
		go func() { refused <- pool.StartChild(t.Context(), "late", gdPark, Config{}) }()
		synctest.Wait() // "late" waits for the restart
		pool.Shutdown(time.Now())
		require.ErrorIs(t, <-refused, ErrGroupStopped)
		time.Sleep(2 * time.Second) // the parent restarts pool, which starts its members
		synctest.Wait()
		require.NoError(t, pool.StartChild(t.Context(), "late", gdPark, Config{}), "the refused member left: its id is free")
		time.Sleep(time.Second) // a snapshot is published
		synctest.Wait()
		var ids []string
		for _, m := range root.Snapshot().Members[0].Group.Members {
			ids = append(ids, m.ID)
		}
		assert.Equal(t, []string{"a", "late"}, ids)
		require.NoError(t, stop())
	})
}

// TestStartChildBeyondABatch: more StartChild calls than an Advance takes
// (advanceBatch) ask for the next Advance at once; once every call is
// answered, an idle tree asks for none.
func TestStartChildBeyondABatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("pool", GroupConfig{Intensity: NoIntensity, SnapshotInterval: NoSnapshots})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		const n = advanceBatch + 1
		var answered sync.WaitGroup
		answered.Add(n)
		for i := range n {
			go func() {
				defer answered.Done()
				assert.NoError(t, g.StartChild(t.Context(), fmt.Sprint("m", i), gdPark, Config{}))
			}()
		}
		synctest.Wait()
		g.Advance(time.Now())
		at, ok := g.NextDeadline()
		assert.True(t, ok && !at.After(time.Now()), "a call left over: the next Advance is due now")
		for range 3 {
			g.Advance(time.Now())
			synctest.Wait()
		}
		answered.Wait()
		at, ok = g.NextDeadline()
		assert.False(t, ok && !at.After(time.Now()), "every call answered: nothing is due (next at %v)", at)
		assert.Equal(t, n, g.Len())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}
