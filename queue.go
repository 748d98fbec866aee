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
	slots []*ChildSlot  // guarded by mu, as are their queued flags
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
// since the last Drain. One receive may stand for many slots: drain them all.
func (q *ExitQueue) Ready() <-chan struct{} { return q.readyChan() }

// Drain appends the queued slots to buf, empties the queue and returns the
// extended buf. A drained slot may have nothing left to collect (its exit
// was already collected through Done): Collect then returns ErrNoAttempt,
// which is harmless. Call Advance on drained slots too, so that late returns
// of abandoned attempts are recorded.
func (q *ExitQueue) Drain(buf []*ChildSlot) []*ChildSlot {
	q.mu.Lock()
	for i, s := range q.slots {
		s.queued = false
		buf = append(buf, s)
		q.slots[i] = nil
	}
	q.slots = q.slots[:0]
	q.mu.Unlock()
	return buf
}

// Len returns the number of slots queued.
func (q *ExitQueue) Len() int {
	q.mu.Lock()
	defer q.mu.Unlock()
	return len(q.slots)
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
