package supervisor

import (
	"time"
)

// This file holds how a group stops many members: in order (OTP's way,
// group_walk.go) or all at once (a pool's), and the bound a group puts on
// a whole shutdown.

// ShutdownOrder says how a group stops the members of a shutdown, or of a
// restart's scope.
type ShutdownOrder uint8

// The shutdown orders. The zero value is InOrder.
const (
	// InOrder stops the members in reverse start order, one at a time: a
	// member is cancelled once the one after it has returned or been
	// abandoned (OTP's order, for members that depend on each other).
	InOrder ShutdownOrder = iota
	// Concurrent cancels every member at once and waits for them together,
	// each abandoned (a process: killed) at its own StopTimeout, as OTP's
	// simple_one_for_one and Elixir's DynamicSupervisor do: for a pool whose
	// members do not depend on each other.
	Concurrent
)

var shutdownOrderNames = []string{"in_order", "concurrent"}

// abandonedAtDeadline is the reason of an exit abandoned at the end of
// its group's ShutdownTimeout.
const abandonedAtDeadline = "abandoned at its group's ShutdownTimeout"

// stopAll is the concurrent form of a stop walk: it cancels every member
// of the walk not cancelled yet, from the last down to lo (at most a batch
// each Advance), then waits for them together. It reports whether it
// moved, and done once every one of them has ended.
func (g *Group) stopAll(now time.Time, lo int, c *stopCause) (moved, done bool) {
	t := g.t
	for ; g.w.cur >= lo; g.w.cur-- {
		if t.startsVisited >= advanceBatch {
			t.startsLeft = true // the next Advance goes on, with its own now
			return moved, false
		}
		t.startsVisited++
		moved = true
		m := g.members[g.w.cur]
		if m.gone {
			continue
		}
		if m.awaitedStop { // cancelled by the walk this one took over, and counted
			m.stopping = m.stopping || c == causeGroupShutdown
			continue
		}
		if g.stopMember(m, now, c) {
			m.awaitedStop = true
			g.w.waiting++
			if c == causeGroupShutdown {
				m.stopping = true
			}
		} else if c == causeGroupShutdown && m.outcome == 0 {
			m.outcome = m.shutdownUnstarted(g.reason)
		}
	}
	return moved, g.w.waiting == 0
}

// stopped tells g's walk that m, which it waited for, has ended.
func (g *Group) stopped(m *member) {
	if m.awaitedStop {
		m.awaitedStop = false
		if g.w.waiting > 0 {
			g.w.waiting--
		}
	}
}

// stepStopAll is stepStop for a Concurrent group.
func (g *Group) stepStopAll(now time.Time) bool {
	moved, done := g.stopAll(now, g.w.lo, causeGroupRestart)
	if done {
		g.w.kind = walkBackoff
		return true
	}
	return moved
}

// stepShutdownAll is stepShutdown for a Concurrent group.
func (g *Group) stepShutdownAll(now time.Time) bool {
	moved, done := g.stopAll(now, 0, causeGroupShutdown)
	if done {
		g.finish(now)
		return true
	}
	return moved
}

// overdue reports whether g's shutdown has reached its ShutdownTimeout at
// now and, the first time, stops what still runs below g at once: a slot's
// attempt is abandoned (a process: killed), a nested group's members
// likewise.
func (g *Group) overdue(now time.Time) {
	if g.w.kind != walkShutdown || g.w.deadline.IsZero() || now.Before(g.w.deadline) || g.w.forced {
		return
	}
	g.forceStop(now)
}

// forceStop stops every member of g that still runs, at once, for its
// shutdown's deadline, and records each so.
func (g *Group) forceStop(now time.Time) {
	g.w.forced = true
	for i := len(g.members) - 1; i >= 0; i-- {
		m := g.members[i]
		if m.gone {
			continue
		}
		if sub := m.sub; sub != nil {
			if sub.state == GroupIdle || sub.state.over() {
				continue
			}
			m.subHalted, m.stopping = true, true
			sub.beginShutdown(now, causeGroupShutdown.reason)
			if !sub.w.forced {
				sub.forceStop(now)
			}
			continue
		}
		a := m.slot.active
		if a == nil || a.isDone() {
			continue // a returned attempt is collected through the queue
		}
		m.stopping = true
		m.slot.abandonNow(a, now, causeGroupShutdown)
	}
	g.t.advanceNow = true
}

// abandonNow gives up on a at once, for a group's deadline: cancelled if
// it was not, then abandoned, or killed for a process (whose exit then
// comes as any other).
func (s *ChildSlot) abandonNow(a *Attempt, now time.Time, c *stopCause) {
	if !a.cancelled {
		s.cancelAttempt(a, now, c)
	}
	if a.proc.Load() != nil {
		s.kill(a, now)
	} else {
		s.abandonWith(a, now, abandonedAtDeadline)
	}
	s.refile()
}
