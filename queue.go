package supervisor

import "sync"

// ExitQueue is a fan-in of exits: slots configured with it (Config.Exits)
// post themselves when an attempt returns, and one loop waits on Ready for
// any number of slots, without reflect.Select and without a goroutine per
// slot. A slot is queued at most once until drained, so the queue holds at
// most one entry per slot however long nobody drains it.
//
// Its methods are safe for concurrent use. The zero ExitQueue is ready to
// use; NewExitQueue is a convenience.
type ExitQueue struct {
	mu    sync.Mutex
	slots []*ChildSlot  // guarded by mu, as are their queued flags; slots[head:] are queued
	head  int           // guarded by mu
	once  sync.Once     // makes ready, for the zero ExitQueue
	ready chan struct{} // capacity 1: a post never blocks; set once, then only read
}

// NewExitQueue returns an empty queue.
func NewExitQueue() *ExitQueue {
	return &ExitQueue{ready: make(chan struct{}, 1)}
}

// readyChan returns the ready channel, made on first use: the per-exit path
// reads it without taking mu.
func (q *ExitQueue) readyChan() chan struct{} {
	q.once.Do(func() {
		if q.ready == nil {
			q.ready = make(chan struct{}, 1)
		}
	})
	return q.ready
}

// Ready returns a channel that receives a value when slots have been queued
// since the last Drain, or are left queued by DrainN. One receive may stand
// for many slots: drain them all, or DrainN some and come back.
func (q *ExitQueue) Ready() <-chan struct{} { return q.readyChan() }

// Drain appends the queued slots to buf, empties the queue and returns the
// extended buf. A drained slot may have nothing left to collect (its exit
// was already collected through Done): collect it with TryCollect, which
// says so without an error. Call Advance on drained slots too, so that late
// returns of abandoned attempts are recorded. Drain takes every queued
// slot, however many: a loop that must stay responsive uses DrainN.
func (q *ExitQueue) Drain(buf []*ChildSlot) []*ChildSlot {
	return q.DrainN(buf, 0)
}

// DrainN is Drain taking at most max slots, the longest queued first (max
// <= 0: all of them). The rest stay queued, in order, and Ready stays
// signalled while any is left, so a loop that serves max slots per wake-up
// comes back for the rest after its other work (its timers, say).
func (q *ExitQueue) DrainN(buf []*ChildSlot, max int) []*ChildSlot {
	q.mu.Lock()
	queued := q.slots[q.head:]
	n := len(queued)
	if max > 0 {
		n = min(n, max)
	}
	for i, s := range queued[:n] {
		s.queued = false
		buf = append(buf, s)
		queued[i] = nil
	}
	q.head += n
	left := len(q.slots) - q.head
	switch {
	case left == 0:
		q.slots, q.head = q.slots[:0], 0
	case q.head >= left: // compact once the taken part outgrows what is left
		copy(q.slots, q.slots[q.head:])
		clear(q.slots[left:])
		q.slots, q.head = q.slots[:left], 0
	}
	q.mu.Unlock()
	if left > 0 {
		q.signal()
	}
	return buf
}

// Len returns the number of slots queued.
func (q *ExitQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.slots) - q.head
}

// signal makes Ready ready, without blocking.
func (q *ExitQueue) signal() {
	select {
	case q.readyChan() <- struct{}{}:
	default:
	}
}

// wake makes Ready receive, as a post does, without queueing a slot.
func (q *ExitQueue) wake() {
	select {
	case q.readyChan() <- struct{}{}:
	default:
	}
}

// post queues s, unless it is queued already, and wakes the reader. It is
// called on the child's exit path and never blocks beyond the short lock.
func (q *ExitQueue) post(s *ChildSlot) {
	ready := q.readyChan()
	q.mu.Lock()
	if s.queued {
		q.mu.Unlock()
		return
	}
	s.queued = true
	q.slots = append(q.slots, s)
	q.mu.Unlock()
	select {
	case ready <- struct{}{}:
	default:
	}
}
