// Package looptest drives a supervision tree's loop by hand inside a
// testing/synctest bubble, for the tests of the core, admin and prometheus
// packages alike.
package looptest

import (
	"testing"
	"testing/synctest"
	"time"
)

// Loop is what a test drives: the loop methods of a supervisor.Group.
type Loop interface {
	Advance(now time.Time)
	Wake() <-chan struct{}
	NextDeadline() (time.Time, bool)
}

// rounds bounds Settle: a tree that is still busy after this many
// Advances at one instant is stuck, not slow.
const rounds = 10000

// Settle lets the children run and advances l until nothing is due now:
// no exit waits behind Wake and no deadline is at or before now. It fails
// t when l never settles.
func Settle(t testing.TB, l Loop) {
	t.Helper()
	for range rounds {
		synctest.Wait()
		now := time.Now()
		l.Advance(now)
		synctest.Wait()
		select {
		case <-l.Wake():
			continue
		default:
		}
		if at, ok := l.NextDeadline(); ok && !at.After(now) {
			continue
		}
		return
	}
	t.Fatalf("the tree never settled in %d Advances", rounds)
}

// Wait lets fake time pass by d, settling l at every deadline on the way
// and at the end.
func Wait(t testing.TB, l Loop, d time.Duration) {
	t.Helper()
	end := time.Now().Add(d)
	for {
		Settle(t, l)
		at, ok := l.NextDeadline()
		if !ok || at.After(end) {
			time.Sleep(time.Until(end))
			Settle(t, l)
			return
		}
		time.Sleep(time.Until(at))
	}
}
