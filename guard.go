package supervisor

import (
	"fmt"
	"runtime"
	"sync/atomic"
)

// guard keeps the calls that change a tree from overlapping: the loop's
// own (Start, Advance, Shutdown, each turn of Run), which wait for their
// turn, and Add, AddGroup and Remove, which are refused with
// ErrConcurrentUse rather than wait. Listeners run in the middle of such a
// call on the loop's goroutine and may call these methods themselves:
// while a listener runs, the call that runs it lends the tree to one
// nested call at a time.
//
// Its value counts up from 0 (free): odd, a call holds the tree; even and
// above 0, the holder at value-1 is running a listener and one nested call
// may take the tree as value+1. The atomic operations order every change a
// call made before the next call's reads, whichever goroutine makes it.
type guard struct{ v atomic.Int32 }

// try takes the tree for a call that must not wait, and returns the value
// to restore when it is done, or false when another call holds it.
func (g *guard) try() (int32, bool) {
	for {
		v := g.v.Load()
		if v%2 == 1 {
			return 0, false
		}
		if g.v.CompareAndSwap(v, v+1) {
			return v, true
		}
	}
}

// wait takes the tree for a call of the loop's, waiting while another
// call holds it, and returns the value to restore when it is done.
func (g *guard) wait() int32 {
	for {
		if v, ok := g.try(); ok {
			return v
		}
		runtime.Gosched()
	}
}

// release gives the tree back, as it was before the call took it.
func (g *guard) release(v int32) { g.v.Store(v) }

// lend lets one nested call take the tree while the holder runs a
// listener; it returns what unlend needs. A call that holds nothing (a
// slot method called directly) lends nothing.
func (g *guard) lend() int32 {
	v := g.v.Load()
	if v%2 == 0 {
		return -1
	}
	g.v.Store(v + 1)
	return v
}

// unlend takes the tree back after the listener, waiting for a nested call
// made on another goroutine while it ran to finish.
func (g *guard) unlend(v int32) {
	if v < 0 {
		return
	}
	for !g.v.CompareAndSwap(v+1, v) {
		runtime.Gosched()
	}
}

// enter takes g's tree for a membership call (Add, AddGroup, Remove), or
// returns an error wrapping ErrConcurrentUse; exit gives it back and wakes
// the loop, which may be waiting with a timer set before the change.
func (g *Group) enter() (int32, error) {
	v, ok := g.t.guard.try()
	if !ok {
		return 0, fmt.Errorf("group %q: %w", g.path, ErrConcurrentUse)
	}
	return v, nil
}

func (g *Group) exit(v int32) {
	g.t.guard.release(v)
	g.t.q.wake()
}
