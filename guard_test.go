package supervisor

import (
	"context"
	"fmt"
	"runtime"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func gdPark(ctx context.Context, _ *Attempt) error { <-ctx.Done(); return nil }

// TestGuardAddFromManyGoroutinesUnderRun: 20 goroutines call Add on a tree
// under Run. Each call lands (the member starts, and stops at the
// shutdown) or returns ErrConcurrentUse having changed nothing; nothing
// crashes, nothing is lost. 100 runs; CI runs it under -race as well.
func TestGuardAddFromManyGoroutinesUnderRun(t *testing.T) {
	for range 100 {
		synctest.Test(t, func(t *testing.T) {
			g, err := NewGroup("app", GroupConfig{})
			require.NoError(t, err)
			_, err = g.Add("seed", gdPark, Config{})
			require.NoError(t, err)
			ctx, cancel := context.WithCancel(t.Context())
			done := make(chan error, 1)
			go func() { done <- g.Run(ctx) }()

			var landed sync.Map
			var refused atomic.Int32
			var wg sync.WaitGroup
			for w := range 20 {
				wg.Go(func() {
					for j := range 5 {
						id := fmt.Sprintf("w%d-%d", w, j)
						_, err := g.Add(id, gdPark, Config{})
						if err != nil {
							assert.ErrorIs(t, err, ErrConcurrentUse)
							refused.Add(1)
						} else {
							landed.Store(id, true)
						}
						runtime.Gosched()
					}
				})
			}
			wg.Wait()
			synctest.Wait()
			cancel()
			require.NoError(t, <-done)

			rec := g.Record(time.Now())
			n := 0
			landed.Range(func(any, any) bool { n++; return true })
			require.Len(t, rec.Members, n+1, "every call that landed is a member; no other is")
			assert.Equal(t, 100, n+int(refused.Load()))
			for _, m := range rec.Members {
				_, ok := landed.Load(m.ID)
				assert.True(t, ok || m.ID == "seed", m.ID)
				assert.Equal(t, uint64(1), m.Slot.Attempt, "%s started once", m.ID)
				assert.Equal(t, OutcomeStopped, m.Shutdown, "%s stopped by the shutdown", m.ID)
			}
		})
	}
}

// TestGuardShutdownFromAnotherGoroutine: Shutdown from another goroutine
// (a signal handler's) waits for the loop's turn and wakes it.
func TestGuardShutdownFromAnotherGoroutine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		_, err = g.Add("a", gdPark, Config{})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- g.Run(context.Background()) }()
		synctest.Wait()
		go g.ShutdownWith(time.Now(), "SIGTERM")
		require.NoError(t, <-done)
		rec := g.Record(time.Now())
		assert.Equal(t, "SIGTERM", rec.Reason)
		assert.Equal(t, OutcomeStopped, rec.Members[0].Shutdown)
	})
}

// TestGuardListenerMayAdd: a listener, called in the middle of Advance,
// may still add a member to its tree (a nested call the loop lends the
// tree to), and Add called while another goroutine holds the tree is
// refused.
func TestGuardListenerMayAdd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var g *Group
		var added error
		g, err := NewGroup("app", GroupConfig{OnEvent: func(e Event) {
			if e.Kind == EventGroupStarted {
				_, added = g.Add("late", gdPark, Config{})
			}
		}})
		require.NoError(t, err)
		_, err = g.Add("a", gdPark, Config{})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		require.NoError(t, added)
		assert.NotNil(t, g.Slot("late"))

		v := g.t.guard.wait() // as if another goroutine were inside Advance
		_, err = g.Add("refused", gdPark, Config{})
		require.ErrorIs(t, err, ErrConcurrentUse)
		require.ErrorIs(t, g.Remove("a", time.Now()), ErrConcurrentUse)
		g.t.guard.release(v)
		assert.Nil(t, g.Slot("refused"), "the refused call changed nothing")
		assert.Equal(t, 2, g.Len())

		g.Shutdown(time.Now())
		for !g.Finished() {
			synctest.Wait()
			g.Advance(time.Now())
		}
	})
}
