package supervisor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"
	"unsafe"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlotStaleReportLeavesCurrentAttempt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		cfg := Config{StopTimeout: time.Second, Backoff: Backoff{NoDelay: true}}
		s := coreNew(t, coreIgnore(h), cfg)
		coreStartAt(t, s, h)
		h.attempt(t)
		require.True(t, s.Cancel(time.Now()))
		time.Sleep(time.Second)
		s.Advance(time.Now()) // abandons attempt 1 and starts attempt 2 at once
		second := h.attempt(t)
		assert.Equal(t, uint64(2), second.Number())
		before := s.Record(time.Now())
		require.True(t, before.Active)
		require.Equal(t, 1, before.Abandoned)
		require.Equal(t, Abandoned, before.LastExit.Kind)

		// Both attempts wait on the same release: attempt 2 returns too,
		// but only attempt 1's return is a stale report.
		h.free()
		synctest.Wait()
		s.Advance(time.Now())
		after := s.Record(time.Now())
		require.NotNil(t, after.LastStaleReport)
		assert.Equal(t, uint64(1), after.LastStaleReport.Attempt)
		assert.Equal(t, uint64(2), after.Attempt)
		assert.True(t, after.Active, "attempt 2 is still held until collected")
		assert.Equal(t, before.LastExit, after.LastExit, "the stale report is not the last exit")
		assert.Equal(t, before.Generation, after.Generation)
		assert.Equal(t, before.Exits, after.Exits)
		assert.Zero(t, after.Abandoned)
		coreCheckCounts(t, after)

		e := coreCollect(t, s)
		assert.Equal(t, uint64(2), e.Attempt)
		assert.Equal(t, Failed, e.Kind, "attempt 2 was never cancelled")
		coreCheckCounts(t, s.Record(time.Now()))
	})
}

func TestAttemptCacheLine(t *testing.T) {
	var a Attempt
	// A multiple of the line size lands in a size class whose objects start
	// on a line: children of different slots never share one when beating.
	assert.Zero(t, unsafe.Sizeof(a)%64, "sizeof(Attempt) = %d", unsafe.Sizeof(a))
	assert.LessOrEqual(t, unsafe.Offsetof(a.sig)+unsafe.Sizeof(a.sig), uintptr(64), "signals in the first line")
}

// TestMemberDoneMadeOnDemand: a member's attempt makes no done channel
// until Done asks for one (its loop learns of returns through the exit
// queue); asked for, it is one channel for every caller, closed when the
// child returns, and a closed one when the child returned before it was
// asked for.
func TestMemberDoneMadeOnDemand(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("app", GroupConfig{SnapshotInterval: NoSnapshots})
		require.NoError(t, err)
		release := make(chan struct{})
		wait := func(ctx context.Context, _ *Attempt) error {
			select {
			case <-release:
			case <-ctx.Done():
			}
			return nil
		}
		quick := func(context.Context, *Attempt) error { return nil }
		_, err = g.Add("a", wait, Config{})
		require.NoError(t, err)
		_, err = g.Add("b", quick, Config{Restart: Temporary})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		synctest.Wait()

		a := g.Slot("a")
		assert.Nil(t, a.active.done.Load(), "no channel until asked for")
		chans := make(chan (<-chan struct{}), 8)
		for range cap(chans) {
			go func() { chans <- a.Done() }()
		}
		synctest.Wait()
		first := <-chans
		for range cap(chans) - 1 {
			assert.Equal(t, first, <-chans, "one channel for every caller")
		}
		select {
		case <-first:
			t.Fatal("closed before the child returned")
		default:
		}
		close(release)
		synctest.Wait()
		select {
		case <-first:
		default:
			t.Fatal("not closed once the child returned")
		}

		b := g.Slot("b") // returned, not collected yet: no Advance since
		require.NotNil(t, b.active)
		select {
		case <-b.Done():
		default:
			t.Fatal("an attempt that returned before Done was asked gives a closed channel")
		}
		g.Shutdown(time.Now())
		for !g.Finished() {
			g.Advance(time.Now())
			synctest.Wait()
		}
	})
}
