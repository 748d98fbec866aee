package supervisor

import (
	"context"
	"fmt"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"
)

// queueKey names one attempt of one slot.
type queueKey struct {
	id      string
	attempt uint64
}

// TestExitQueueManySlotsEndTogether has 10,000 slots share one queue; their
// children all return at the same moment, released by one closed channel,
// while a single loop waits on Ready, drains and collects. Every exit must
// be collected exactly once and no drain may list a slot twice. A second
// round starts every slot again, so that slots drained once post again.
func TestExitQueueManySlotsEndTogether(t *testing.T) {
	const (
		slots  = 10_000
		rounds = 2
	)
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		release := make([]chan struct{}, rounds+1) // by attempt number
		for i := range release {
			release[i] = make(chan struct{})
		}
		var started atomic.Int64
		child := func(_ context.Context, a *Attempt) error {
			started.Add(1)
			<-release[a.Number()]
			return nil
		}
		all := make([]*ChildSlot, slots)
		for i := range all {
			s, err := NewChildSlot(fmt.Sprintf("s%05d", i), child, Config{Restart: Temporary, Exits: q})
			require.NoError(t, err)
			all[i] = s
		}
		ctx := context.Background()
		seen := make(map[queueKey]bool, slots*rounds)
		var buf []*ChildSlot
		for round := 1; round <= rounds; round++ {
			for _, s := range all {
				require.NoError(t, s.Start(ctx, time.Now()))
			}
			synctest.Wait()
			require.Equal(t, int64(slots*round), started.Load(), "every child signalled started")
			require.Zero(t, q.Len(), "nothing returned yet")

			close(release[round])
			collected, drains, empty := 0, 0, 0
			for collected < slots {
				<-q.Ready()
				buf = q.Drain(buf[:0])
				drains++
				if len(buf) == 0 {
					empty++ // a wake-up for slots an earlier drain already took
				}
				inDrain := make(map[*ChildSlot]bool, len(buf))
				for _, s := range buf {
					require.False(t, inDrain[s], "slot %s listed twice in one drain", s.ID())
					inDrain[s] = true
					e, err := s.Collect(time.Now())
					require.NoError(t, err, "slot %s", s.ID())
					k := queueKey{s.ID(), e.Attempt}
					require.False(t, seen[k], "exit %v collected twice", k)
					seen[k] = true
					assert.Equal(t, Succeeded, e.Kind)
					assert.Equal(t, uint64(round), e.Attempt)
					collected++
				}
			}
			t.Logf("round %d: %d exits collected in %d drains (%d empty)", round, collected, drains, empty)
			assert.Zero(t, q.Len())
			for _, s := range all {
				assert.True(t, s.Finished(), "slot %s", s.ID())
			}
		}
		assert.Len(t, seen, slots*rounds, "distinct attempts collected")
	})
}

// TestExitQueueUndrainedHoldsOneEntryPerSlot collects every exit through
// Done and restarts, many times, without ever draining the queue: it must
// hold at most one entry per slot, and leak nothing.
func TestExitQueueUndrainedHoldsOneEntryPerSlot(t *testing.T) {
	defer goleak.VerifyNone(t, goleak.IgnoreCurrent())
	const (
		slots  = 64
		rounds = 50
	)
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		child := func(context.Context, *Attempt) error { return nil }
		cfg := Config{Exits: q, Backoff: Backoff{NoDelay: true}, RestartLimit: rounds + 1}
		all := make([]*ChildSlot, slots)
		for i := range all {
			s, err := NewChildSlot(fmt.Sprintf("s%02d", i), child, cfg)
			require.NoError(t, err)
			require.NoError(t, s.Start(context.Background(), time.Now()))
			all[i] = s
		}
		for round := range rounds {
			for _, s := range all {
				<-s.Done()
				_, err := s.Collect(time.Now())
				require.NoError(t, err)
				s.Advance(time.Now()) // no delay: the restart starts now
				require.True(t, s.Record(time.Now()).Active, "round %d: slot %s restarted", round, s.ID())
				require.LessOrEqual(t, q.Len(), slots)
			}
		}
		synctest.Wait()
		assert.Equal(t, slots, q.Len(), "one entry per slot after %d exits each", rounds)
		assert.Len(t, q.Ready(), 1, "one wake-up pending")

		assert.ElementsMatch(t, queueIDs(all), queueIDs(q.Drain(nil)), "each slot exactly once")
		assert.Zero(t, q.Len())

		// Once drained, a slot posts again at its next exit.
		for _, s := range all {
			_, err := s.Collect(time.Now())
			require.NoError(t, err)
			s.Advance(time.Now())
		}
		synctest.Wait()
		assert.ElementsMatch(t, queueIDs(all), queueIDs(q.Drain(nil)))

		for _, s := range all {
			require.NoError(t, s.Remove(time.Now()))
			<-s.Done()
			_, err := s.Collect(time.Now())
			require.NoError(t, err)
			require.True(t, s.Finished())
		}
	})
}

func queueIDs(slots []*ChildSlot) []string {
	ids := make([]string, len(slots))
	for i, s := range slots {
		ids[i] = s.ID()
	}
	return ids
}

// TestExitQueuePostNeverBlocks lets children exit, round after round, while
// nobody reads Ready or drains. A post that blocked would leave its
// goroutine blocked in the bubble, which fails synctest.Test.
func TestExitQueuePostNeverBlocks(t *testing.T) {
	const (
		slots  = 100
		rounds = 10
	)
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		var returned atomic.Int64
		child := func(context.Context, *Attempt) error {
			returned.Add(1)
			return nil
		}
		all := make([]*ChildSlot, slots)
		for i := range all {
			s, err := NewChildSlot(fmt.Sprintf("s%03d", i), child, Config{Restart: Temporary, Exits: q})
			require.NoError(t, err)
			all[i] = s
		}
		for round := 1; round <= rounds; round++ {
			for _, s := range all {
				require.NoError(t, s.Start(context.Background(), time.Now()))
			}
			synctest.Wait() // every child has returned and posted
			require.Equal(t, int64(slots*round), returned.Load())
			for _, s := range all {
				_, err := s.Collect(time.Now())
				require.NoError(t, err)
			}
			assert.Equal(t, slots, q.Len(), "round %d", round)
			assert.Len(t, q.Ready(), 1, "round %d: the wake-up does not pile up", round)
		}
		assert.Len(t, q.Drain(nil), slots)
	})
}

func TestExitQueueZeroValue(t *testing.T) {
	tests := []struct {
		name  string
		queue func() *ExitQueue
	}{
		{name: "zero value", queue: func() *ExitQueue { return new(ExitQueue) }},
		{name: "NewExitQueue", queue: NewExitQueue},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				q := tt.queue()
				assert.Zero(t, q.Len())
				assert.Empty(t, q.Drain(nil))
				require.NotNil(t, q.Ready())
				assert.Empty(t, q.Ready(), "no wake-up before any exit")

				started, release := make(chan struct{}), make(chan struct{})
				child := func(context.Context, *Attempt) error {
					close(started)
					<-release
					return nil
				}
				s, err := NewChildSlot("zero", child, Config{Restart: Temporary, Exits: q})
				require.NoError(t, err)
				require.NoError(t, s.Start(context.Background(), time.Now()))
				<-started
				synctest.Wait()
				assert.Zero(t, q.Len())

				close(release)
				synctest.Wait()
				select {
				case <-q.Ready():
				default:
					require.Fail(t, "Ready did not fire after an exit")
				}
				assert.Equal(t, []string{"zero"}, queueIDs(q.Drain(nil)))
				e, err := s.Collect(time.Now())
				require.NoError(t, err)
				assert.Equal(t, Succeeded, e.Kind)
				assert.Zero(t, q.Len())
				assert.Empty(t, q.Drain(nil))
			})
		})
	}
}

// TestExitQueueAbandonedLateReturn: an abandoned attempt that finally
// returns posts its slot too, so the loop calls Advance, which records the
// stale report.
func TestExitQueueAbandonedLateReturn(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		release := make(chan struct{})
		child := func(ctx context.Context, a *Attempt) error {
			if a.Number() == 1 {
				<-release // ignores cancellation
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
		cfg := Config{Exits: q, StopTimeout: time.Second, Backoff: Backoff{NoDelay: true}}
		s, err := NewChildSlot("late", child, cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		defer cancel()
		start := time.Now()
		require.NoError(t, s.Start(ctx, start))
		require.True(t, s.Cancel(start))
		s.Advance(start.Add(time.Second)) // abandons attempt 1, starts attempt 2
		synctest.Wait()
		r := s.Record(start.Add(time.Second))
		require.Equal(t, uint64(2), r.Attempt)
		require.Equal(t, 1, r.Abandoned)
		assert.Zero(t, q.Len(), "nothing has returned")

		close(release)
		synctest.Wait()
		select {
		case <-q.Ready():
		default:
			require.Fail(t, "the late return did not post")
		}
		assert.Equal(t, []string{"late"}, queueIDs(q.Drain(nil)))
		_, err = s.Collect(start.Add(2 * time.Second))
		assert.ErrorIs(t, err, ErrNotDone, "attempt 2 still runs")
		s.Advance(start.Add(2 * time.Second))
		r = s.Record(start.Add(2 * time.Second))
		assert.Zero(t, r.Abandoned)
		assert.Equal(t, uint64(1), r.StaleReports)
		require.NotNil(t, r.LastStaleReport)
		assert.Equal(t, uint64(1), r.LastStaleReport.Attempt)

		cancel()
		<-s.Done()
		_, err = s.Collect(start.Add(3 * time.Second))
		require.NoError(t, err)
	})
}

// TestExitQueueDrainN: DrainN takes at most max slots, the longest queued
// first, leaves the rest queued in order and keeps Ready signalled while
// any is left (issue 11, item 10).
func TestExitQueueDrainN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		slots := make([]*ChildSlot, 10)
		for i := range slots {
			s, err := NewChildSlot(fmt.Sprint("s", i), func(context.Context, *Attempt) error { return nil },
				Config{Restart: Temporary, Exits: q})
			require.NoError(t, err)
			require.NoError(t, s.Start(t.Context(), time.Now()))
			synctest.Wait() // returned and posted, in this order
			slots[i] = s
		}
		require.Equal(t, 10, q.Len())
		<-q.Ready()

		var got []*ChildSlot
		for range 3 {
			n := len(got)
			got = q.DrainN(got, 3)
			assert.Len(t, got[n:], 3)
			select {
			case <-q.Ready():
			default:
				require.Fail(t, "Ready is signalled while slots are left")
			}
		}
		assert.Equal(t, 1, q.Len())
		// A slot collected and run again posts itself behind the one left.
		_, ok, err := slots[0].TryCollect(time.Now())
		require.NoError(t, err)
		require.True(t, ok)
		require.NoError(t, slots[0].Start(t.Context(), time.Now()))
		synctest.Wait()
		<-q.Ready()
		got = q.DrainN(got, 5)
		assert.Equal(t, append(slots[:10:10], slots[0]), got, "oldest first, across calls")
		assert.Zero(t, q.Len())
		select {
		case <-q.Ready():
			require.Fail(t, "Ready signalled with nothing left")
		default:
		}
		assert.Empty(t, q.DrainN(nil, 4))
		assert.Empty(t, q.Drain(nil))
	})
}

// TestExitQueueDrainNUnbounded: max <= 0 takes everything, as Drain.
func TestExitQueueDrainNUnbounded(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		for i := range 4 {
			s, err := NewChildSlot(fmt.Sprint("s", i), func(context.Context, *Attempt) error { return nil },
				Config{Restart: Temporary, Exits: q})
			require.NoError(t, err)
			require.NoError(t, s.Start(t.Context(), time.Now()))
		}
		synctest.Wait()
		assert.Len(t, q.DrainN(nil, 0), 4)
		assert.Zero(t, q.Len())
	})
}

// TestExitQueueLenAfterDrainN: Len counts what DrainN left queued.
func TestExitQueueLenAfterDrainN(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		q := NewExitQueue()
		mqSlots(t, 3, q, time.Second)
		time.Sleep(time.Second)
		synctest.Wait()
		require.Equal(t, 3, q.Len())
		assert.Len(t, q.DrainN(nil, 1), 1)
		assert.Equal(t, 2, q.Len())
		assert.Len(t, q.Drain(nil), 2)
		assert.Zero(t, q.Len())
	})
}

// TestExitQueueNeverEmptyStaysSmall: a queue that is never empty
// (a loop that drains one slot per wake-up while exits keep coming) holds
// memory for what is queued, not for every slot that has passed through.
func TestExitQueueNeverEmptyStaysSmall(t *testing.T) {
	q := NewExitQueue()
	a := coreNew(t, func(context.Context, *Attempt) error { return nil }, Config{})
	b := coreNew(t, func(context.Context, *Attempt) error { return nil }, Config{})
	q.post(a)
	q.post(b)
	for range 1000 {
		got := q.DrainN(nil, 1)
		require.Len(t, got, 1)
		require.Equal(t, 1, q.Len(), "one stays queued")
		q.post(got[0]) // it exits again
	}
	assert.LessOrEqual(t, len(q.slots), 4, "the drained prefix is compacted away")
}
