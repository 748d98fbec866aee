package supervisor

import "time"

// slotHeap keeps slots ordered by their next deadline ([ChildSlot.NextDeadline]),
// so that a tree's loop learns when to wake, and which member slot is due,
// without asking every slot on every Advance: next is O(1), filing and
// removing a slot are O(log n). It is a binary min-heap; each slot holds its
// own position in it, so no lookup is needed.
//
// A slot is filed once, with track, and from then on keeps its own entry
// current: every method of the slot that may move its NextDeadline (Start,
// Collect, TryCollect, Advance, Cancel, Abandon, Stop and the operator
// controls) refiles it, until untrack takes it out. A slot with no deadline
// stays filed, out of the heap, and comes back into it when it has one
// again. A child moves its own deadlines only later (Beat, Ready), so an
// entry that missed a beat wakes the loop early, never late: Advance then
// finds nothing to do and refiles the later deadline. What has no deadline
// reaches the loop by other ways: an attempt's return through the tree's
// exit queue.
//
// A slotHeap belongs to the loop's goroutine, like its slots. A slot is in
// at most one slotHeap at a time: filing it in another takes it out of the
// first. The zero slotHeap is empty and ready to use; filing allocates only
// when the heap grows past its capacity.
type slotHeap struct {
	heap []scheduled
}

// scheduled is one heap entry: a slot and the deadline it is filed under.
type scheduled struct {
	at   time.Time
	slot *ChildSlot
}

// track files s in the schedule under its current NextDeadline, and has s
// keep that entry current from then on, until untrack; calling it again is
// harmless. A slot filed in another slotHeap leaves that one. A nil slot is
// ignored; a zero one has no deadline and is not filed.
func (q *slotHeap) track(s *ChildSlot) {
	if s == nil {
		return
	}
	if !s.valid() {
		q.untrack(s)
		return
	}
	if s.schedule != q && s.schedule != nil {
		s.schedule.untrack(s)
	}
	s.schedule = q
	s.hooks |= hookFiled
	q.file(s)
}

// file puts s in the heap under its current NextDeadline, or takes it out
// of the heap when it has none.
func (q *slotHeap) file(s *ChildSlot) {
	if at, ok := s.NextDeadline(); ok {
		q.set(s, at)
		return
	}
	q.unheap(s)
}

// untrack takes s out of the schedule: s no longer keeps an entry in it. A
// slot that is not in it is ignored.
func (q *slotHeap) untrack(s *ChildSlot) {
	if s == nil {
		return
	}
	q.unheap(s)
	if s.schedule == q {
		s.schedule = nil
		s.hooks &^= hookFiled
	}
}

// unheap takes s out of the heap, if it is there, leaving it filed.
func (q *slotHeap) unheap(s *ChildSlot) {
	i, ok := q.index(s)
	if !ok {
		return
	}
	last := len(q.heap) - 1
	if i != last {
		q.swap(i, last)
	}
	q.heap[last] = scheduled{} // drop the reference for the collector
	q.heap = q.heap[:last]
	s.sched = 0
	if i != last {
		q.fix(i)
	}
}

// size returns the number of slots in the schedule that have a deadline.
func (q *slotHeap) size() int { return len(q.heap) }

// next returns the slot with the earliest deadline and that deadline, or
// false when the schedule is empty. The deadline may be in the past: the
// slot's Advance is then due at once. Among equal deadlines, which slot
// comes first is unspecified.
func (q *slotHeap) next() (*ChildSlot, time.Time, bool) {
	if len(q.heap) == 0 {
		return nil, time.Time{}, false
	}
	return q.heap[0].slot, q.heap[0].at, true
}

// index returns s's position in q, and whether s is in q at all: a slot
// keeps its position plus one, zero when it is in no schedule.
func (q *slotHeap) index(s *ChildSlot) (int, bool) {
	if s == nil {
		return 0, false
	}
	i := int(s.sched) - 1
	if i < 0 || i >= len(q.heap) || q.heap[i].slot != s {
		return 0, false
	}
	return i, true
}

// set files s under at, adding it when it is not in q.
func (q *slotHeap) set(s *ChildSlot, at time.Time) {
	if i, ok := q.index(s); ok {
		q.heap[i].at = at
		q.fix(i)
		return
	}
	q.heap = append(q.heap, scheduled{at: at, slot: s})
	s.sched = int32(len(q.heap))
	q.up(len(q.heap) - 1)
}

// fix restores the heap order after the entry at i changed.
func (q *slotHeap) fix(i int) {
	if !q.down(i) {
		q.up(i)
	}
}

func (q *slotHeap) less(i, j int) bool { return q.heap[i].at.Before(q.heap[j].at) }

func (q *slotHeap) swap(i, j int) {
	h := q.heap
	h[i], h[j] = h[j], h[i]
	h[i].slot.sched = int32(i + 1)
	h[j].slot.sched = int32(j + 1)
}

// up moves the entry at i towards the root while it is earlier than its
// parent.
func (q *slotHeap) up(i int) {
	for i > 0 {
		p := (i - 1) / 2
		if !q.less(i, p) {
			return
		}
		q.swap(i, p)
		i = p
	}
}

// down moves the entry at i towards the leaves while a child is earlier,
// and reports whether it moved.
func (q *slotHeap) down(i int) bool {
	start, n := i, len(q.heap)
	for {
		// 2*i+1 cannot overflow: i < n, and n entries of 24 bytes or more
		// fit in the address space only for n far below math.MaxInt/2.
		c := 2*i + 1
		if c >= n {
			break
		}
		if r := c + 1; r < n && q.less(r, c) {
			c = r
		}
		if !q.less(c, i) {
			break
		}
		q.swap(i, c)
		i = c
	}
	return i > start
}
