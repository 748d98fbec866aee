package supervisor

import (
	"context"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/quick"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The helpers of the Schedule tests carry a "sched" prefix so that they do
// not collide with the helpers of the package's other test files.

// schedCheck verifies q against model, the deadline each slot was last filed
// under: the heap order, every slot's position, the size, and that Next is an
// entry with the earliest deadline a scan of the model finds.
func schedCheck(t *testing.T, q *slotHeap, model map[*ChildSlot]time.Time) {
	t.Helper()
	require.Equal(t, len(model), q.size(), "size")
	for i, e := range q.heap {
		require.Equal(t, i+1, int(e.slot.sched), "position kept in the slot")
		require.True(t, e.at.Equal(model[e.slot]), "entry %d filed under its latest deadline", i)
		if i > 0 {
			p := q.heap[(i-1)/2]
			require.False(t, e.at.Before(p.at), "entry %d earlier than its parent", i)
		}
	}
	for _, e := range q.heap[len(q.heap):cap(q.heap)] {
		require.Nil(t, e.slot, "a removed entry keeps no slot alive")
	}
	s, at, ok := q.next()
	if len(model) == 0 {
		require.False(t, ok)
		require.Nil(t, s)
		return
	}
	require.True(t, ok)
	var earliest time.Time
	first := true
	for _, d := range model {
		if first || d.Before(earliest) {
			earliest, first = d, false
		}
	}
	require.True(t, at.Equal(earliest), "Next %v, scan %v", at, earliest)
	require.True(t, model[s].Equal(at), "Next returns a slot filed under the earliest deadline")
}

func TestScheduleZeroValue(t *testing.T) {
	var q slotHeap
	s, at, ok := q.next()
	assert.False(t, ok)
	assert.Nil(t, s)
	assert.True(t, at.IsZero())
	assert.Zero(t, q.size())

	q.track(nil)
	q.untrack(nil)
	q.untrack(new(ChildSlot))
	q.track(new(ChildSlot)) // a zero slot has no deadline: nothing is filed
	assert.Zero(t, q.size())
}

// TestScheduleMatchesScan files, refiles and removes slots at random, with
// many equal deadlines, and after every step compares the heap with a naive
// scan of what was filed.
func TestScheduleMatchesScan(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed=", seed), func(t *testing.T) {
			rng := rand.New(rand.NewPCG(seed, 0x5c4ed))
			slots := make([]*ChildSlot, 1+rng.IntN(40))
			for i := range slots {
				slots[i] = new(ChildSlot)
			}
			var q slotHeap
			model := make(map[*ChildSlot]time.Time)
			base := time.Now()
			for range 2000 {
				s := slots[rng.IntN(len(slots))]
				switch op := rng.IntN(10); {
				case op < 6: // file or refile, earlier or later, often a tie
					at := base.Add(time.Duration(rng.IntN(50)) * time.Second)
					q.set(s, at)
					model[s] = at
				case op < 8:
					q.untrack(s)
					delete(model, s)
				default: // a zero slot has no deadline: Update removes it
					q.track(s)
					delete(model, s)
				}
				schedCheck(t, &q, model)
			}
			for q.size() > 0 {
				s, _, _ := q.next()
				q.untrack(s)
				delete(model, s)
				assert.Zero(t, s.sched, "a removed slot is in no schedule")
				schedCheck(t, &q, model)
			}
		})
	}
}

// schedOp is one step of the property test: file slot Slot (of eight)
// under minute At, or remove it.
type schedOp struct {
	Slot   uint8
	At     int8
	Remove bool
}

// TestScheduleProperty: whatever the sequence of steps, taking entries off
// the front yields each slot still filed exactly once, under the deadline it
// was last filed under, in order of deadline.
func TestScheduleProperty(t *testing.T) {
	base := time.Now()
	property := func(ops []schedOp) bool {
		slots := make([]*ChildSlot, 8)
		for i := range slots {
			slots[i] = new(ChildSlot)
		}
		var q slotHeap
		want := make(map[*ChildSlot]time.Time)
		for _, op := range ops {
			s := slots[op.Slot%8]
			if op.Remove {
				q.untrack(s)
				delete(want, s)
				continue
			}
			at := base.Add(time.Duration(op.At) * time.Minute)
			q.set(s, at)
			want[s] = at
		}
		var prev time.Time
		for n := 0; q.size() > 0; n++ {
			s, at, _ := q.next()
			if n > 0 && at.Before(prev) {
				return false
			}
			if w, ok := want[s]; !ok || !w.Equal(at) {
				return false
			}
			delete(want, s)
			q.untrack(s)
			prev = at
		}
		return len(want) == 0
	}
	require.NoError(t, quick.Check(property, &quick.Config{MaxCount: 2000}))
}

// TestScheduleFollowsSlots runs real slots in fake time: Next always agrees
// with a scan of the slots' NextDeadline after Update, a missed beat wakes
// the loop early and never late, and a slot with no deadline leaves.
func TestScheduleFollowsSlots(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := t.Context()
		started := make(chan *Attempt, 3)
		hang := func(ctx context.Context, a *Attempt) error {
			started <- a
			<-ctx.Done()
			return ctx.Err()
		}
		t0 := time.Now()
		var q slotHeap
		slots := make(map[string]*ChildSlot)
		attempts := make(map[string]*Attempt)
		for _, c := range []struct {
			id string
			hb time.Duration
		}{{"a", 3 * time.Second}, {"b", time.Second}, {"c", 2 * time.Second}} {
			s, err := NewChildSlot(c.id, hang, Config{Restart: Temporary, HeartbeatTimeout: c.hb, StopTimeout: 10 * time.Second})
			require.NoError(t, err)
			require.NoError(t, s.Start(ctx, t0))
			attempts[c.id] = <-started
			slots[c.id] = s
			q.track(s)
		}
		// agrees checks that Next is the earliest deadline of a scan.
		agrees := func(wantID string, wantAt time.Duration) {
			t.Helper()
			var earliest time.Time
			found := false
			for _, s := range slots {
				if at, ok := s.NextDeadline(); ok && (!found || at.Before(earliest)) {
					earliest, found = at, true
				}
			}
			s, at, ok := q.next()
			require.True(t, ok)
			require.True(t, found)
			assert.Equal(t, wantID, s.ID())
			assert.Equal(t, wantAt, at.Sub(t0))
			assert.True(t, at.Equal(earliest), "Next %v, scan %v", at.Sub(t0), earliest.Sub(t0))
		}
		agrees("b", time.Second)

		time.Sleep(500 * time.Millisecond)
		attempts["a"].Beat() // a's deadline moves to 3.5s; its entry says 3s

		time.Sleep(500 * time.Millisecond)
		b := slots["b"]
		b.Advance(time.Now()) // stale: cancelled, the stop deadline follows
		q.track(b)
		_, at, _ := q.next()
		assert.Equal(t, 2*time.Second, at.Sub(t0), "c is next; b waits 10s for its stop")
		synctest.Wait() // b's child returns
		q.track(b)
		assert.Equal(t, 2, q.size(), "a returned attempt has no deadline")
		_, err := b.Collect(time.Now())
		require.NoError(t, err)
		q.track(b)
		assert.Equal(t, 2, q.size())
		agrees("c", 2*time.Second)

		time.Sleep(time.Second)
		c := slots["c"]
		c.Advance(time.Now())
		q.track(c)
		synctest.Wait()
		_, err = c.Collect(time.Now())
		require.NoError(t, err)
		q.track(c)
		require.Equal(t, 1, q.size())
		s, at, _ := q.next()
		assert.Equal(t, "a", s.ID())
		assert.Equal(t, 3*time.Second, at.Sub(t0), "the entry missed the beat: early")

		time.Sleep(time.Second)
		a := slots["a"]
		a.Advance(time.Now()) // not stale yet: nothing to do
		assert.Equal(t, StatusRunning, a.Record(time.Now()).Status)
		q.track(a)
		agrees("a", 3500*time.Millisecond)

		require.NoError(t, a.Remove(time.Now()))
		q.track(a)
		synctest.Wait()
		_, err = a.Collect(time.Now())
		require.NoError(t, err)
		q.track(a)
		assert.Zero(t, q.size())
		for _, s := range slots {
			assert.Zero(t, s.sched)
		}
	})
}

// TestScheduleUpdateAllocs: refiling a slot that is in the schedule does
// not allocate.
func TestScheduleUpdateAllocs(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		started := make(chan *Attempt, 1)
		s, err := NewChildSlot("beater", func(ctx context.Context, a *Attempt) error {
			started <- a
			<-ctx.Done()
			return nil
		}, Config{HeartbeatTimeout: time.Second})
		require.NoError(t, err)
		require.NoError(t, s.Start(t.Context(), time.Now()))
		a := <-started
		var q slotHeap
		for i := range 100 { // others from 0 to 2s, so that it moves in the heap
			q.set(new(ChildSlot), time.Now().Add(time.Duration(i)*20*time.Millisecond))
		}
		q.track(s)
		allocs := testing.AllocsPerRun(100, func() {
			time.Sleep(time.Millisecond)
			a.Beat()
			q.track(s)
		})
		assert.Zero(t, allocs)
		require.NoError(t, s.Remove(time.Now()))
		synctest.Wait()
		_, err = s.Collect(time.Now())
		require.NoError(t, err)
	})
}

// TestScheduleKeptCurrentBySlot: a slot filed once keeps its entry current
// through every method that moves its deadline, with no further Update,
// until Remove (issue 11, item 9).
func TestScheduleKeptCurrentBySlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		cfg := Config{HeartbeatTimeout: 10 * time.Second, StopTimeout: 5 * time.Second,
			Backoff: Backoff{Initial: time.Second, NoJitter: true}}
		s := coreNew(t, coreBlock(h), cfg)
		var q slotHeap
		q.track(s) // filed once, before Start: no deadline yet
		assert.Zero(t, q.size())
		// filed checks that the schedule holds s under its NextDeadline.
		filed := func(what string) {
			t.Helper()
			synctest.Wait()
			if a := s.active; a != nil && a.isDone() {
				// The child returned after the call refiled the slot: its
				// entry may wake the loop early, as documented, until the
				// exit is collected.
				return
			}
			at, ok := s.NextDeadline()
			if !ok {
				assert.Zero(t, q.size(), "%s: no deadline, no entry", what)
				return
			}
			got, gotAt, ok := q.next()
			require.True(t, ok, "%s: filed", what)
			assert.Same(t, s, got)
			assert.True(t, gotAt.Equal(at), "%s: filed under %v, deadline %v", what, gotAt, at)
		}
		coreStartAt(t, s, h)
		filed("Start")
		h.attempt(t)
		time.Sleep(time.Second)
		require.True(t, s.Cancel(time.Now()))
		filed("Cancel")
		coreCollect(t, s)
		filed("Collect") // restart scheduled
		at, _ := s.NextDeadline()
		coreSleepUntil(at)
		s.Advance(time.Now())
		filed("Advance")
		h.attempt(t)
		require.NoError(t, s.Pause(time.Now()))
		filed("Pause")
		coreCollect(t, s)
		filed("Collect after Pause")
		require.NoError(t, s.Resume(time.Now()))
		filed("Resume")
		h.attempt(t)
		_, err := s.Restart(time.Now())
		require.NoError(t, err)
		filed("Restart")
		coreCollect(t, s)
		filed("Collect under a fence")
		s.Advance(time.Now())
		filed("Advance")
		h.attempt(t)
		require.NoError(t, s.Quarantine(time.Now(), "ops"))
		filed("Quarantine")
		coreCollect(t, s)
		require.NoError(t, s.Remove(time.Now()))
		filed("Remove")

		// Remove ends it: the slot no longer files itself.
		other := coreNew(t, coreBlock(h), cfg)
		q.track(other)
		coreStartAt(t, other, h)
		h.attempt(t)
		require.Equal(t, 1, q.size())
		q.untrack(other)
		assert.Zero(t, q.size())
		require.True(t, other.Cancel(time.Now()))
		assert.Zero(t, q.size(), "a removed slot does not refile itself")
		synctest.Wait() // the cancelled child has returned: no deadline until collected

		// Filing in another schedule leaves the first.
		var q2 slotHeap
		q.track(other)
		q2.track(other)
		assert.Zero(t, q.size())
		assert.Zero(t, q2.size(), "filed, with no deadline")
		coreCollect(t, other)
		assert.Equal(t, 1, q2.size(), "the restart is filed in the second schedule")
		assert.Zero(t, q.size())
	})
}

// TestScheduleMovesSlot: a slot filed in one schedule and updated
// in another leaves the first.
func TestScheduleMovesSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := mqSlots(t, 1, nil, time.Hour)[0]
		var a, b slotHeap
		a.track(s)
		require.Equal(t, 1, a.size())
		b.track(s)
		assert.Zero(t, a.size(), "the slot left its old schedule")
		assert.Equal(t, 1, b.size())
		b.track(s)
		assert.Equal(t, 1, b.size(), "updated in place")
	})
}

// TestScheduleRemoveFromOtherSchedule: Remove of a slot filed in another
// schedule is ignored, whatever position the slot holds there.
func TestScheduleRemoveFromOtherSchedule(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		slots := mqSlots(t, 2, nil, time.Hour)
		var a, b slotHeap
		a.track(slots[0])
		b.track(slots[1])
		var empty slotHeap
		require.NotPanics(t, func() { empty.untrack(slots[0]) })
		require.NotPanics(t, func() { b.untrack(slots[0]) })
		assert.Equal(t, 1, a.size(), "still in its own schedule")
		assert.Equal(t, 1, b.size())
		next, _, ok := a.next()
		require.True(t, ok)
		assert.Same(t, slots[0], next)
	})
}
