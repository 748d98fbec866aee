package supervisor

import (
	"context"
	"fmt"
	"time"
)

// This file holds the group's walks of its member list, as in OTP's
// supervisor: starting in order, stopping a restart's scope in reverse
// order, and the ordered shutdown. A walk moves one member at a time and
// waits, without blocking, for that member's exit or readiness; Advance
// carries it on.

// walkKind is what a group's walk is doing.
type walkKind uint8

const (
	walkNone     walkKind = iota
	walkStop              // stopping the restart scope, from the last member down to lo
	walkBackoff           // the scope stopped; waiting for the failed member's backoff
	walkStart             // starting members in order, from cur up
	walkShutdown          // stopping every member, from the last down
)

// walk is the walk in progress: its kind, the lowest member index a
// restart covers, the member at hand, and when a start may begin.
type walk struct {
	kind walkKind
	lo   int
	cur  int
	at   time.Time
	owed int // the restarts decided for this walk, counted when its start begins
	// waiting counts the members a Concurrent stop cancelled and waits for.
	waiting int
	// deadline ends a shutdown with a ShutdownTimeout: what still runs
	// then is stopped at once (forced), whatever the order.
	deadline time.Time
	forced   bool
}

// start starts g afresh under parent (a context that is never done) at
// now: a fresh restart budget, and its members started in order.
func (g *Group) start(now time.Time, parent context.Context) {
	g.ctx = parent
	g.err, g.reason = nil, ""
	if g.tracker != nil {
		g.tracker.reset()
	}
	for _, m := range g.members {
		if m.gone {
			continue // it left, with its outcome: a StopChild may read it yet
		}
		m.outcome, m.stopping, m.subHalted, m.awaitedStop = 0, false, false, false
		if m.slot != nil {
			m.slot.hold(now, false)
		}
	}
	g.state, g.up = GroupStarting, false
	g.w = walk{kind: walkStart}
	g.t.busyAdd(g)
}

// beginRestart stops, in reverse order, the members from lo up (m, which
// failed, among them) and then starts them again in order, no sooner than
// at. A restart already under way widens to cover them.
func (g *Group) beginRestart(now time.Time, lo int, m *member, at time.Time) {
	owed := 1
	if g.state == GroupRestarting { // not the first start: that has no scope
		lo = min(lo, g.w.lo)
		if g.w.at.After(at) {
			at = g.w.at
		}
		if g.w.kind != walkStart { // its restarts are not performed yet
			owed += g.w.owed
		}
	}
	g.emitRestart(now, m, lo, len(g.members))
	m.ownRestart = m.slot != nil
	for _, x := range g.members[lo:] {
		if x.slot != nil && !x.gone {
			x.slot.hold(now, false)
		}
	}
	// Members a walk this one takes over cancelled are still awaited.
	g.w = walk{kind: walkStop, lo: lo, cur: len(g.members) - 1, at: at, owed: owed, waiting: g.w.waiting}
	g.state = GroupRestarting
	g.t.busyAdd(g)
}

// beginShutdown starts g's ordered shutdown at now, for reason: every
// member stops, from the last started down, one at a time. A group that
// never started stops at once; one already shutting down or ended is left
// as it is.
func (g *Group) beginShutdown(now time.Time, reason string) {
	if g.state == GroupShuttingDown || g.state.over() {
		return
	}
	g.t.refuseStarts(g, now)
	if g.state == GroupIdle {
		g.endUnstarted(reason)
		return
	}
	g.reason = reason
	for _, m := range g.members {
		if m.slot != nil && !m.gone {
			m.slot.hold(now, true)
		}
	}
	g.state = GroupShuttingDown
	g.w = walk{kind: walkShutdown, cur: len(g.members) - 1, waiting: g.w.waiting}
	if g.cfg.ShutdownTimeout > 0 {
		g.w.deadline = now.Add(g.cfg.ShutdownTimeout)
	}
	g.emit(Event{Kind: EventShutdownStarted, Time: now, Reason: reason})
	g.t.busyAdd(g)
}

// step carries g's walk on as far as it can go at now without waiting, and
// reports whether it moved.
func (g *Group) step(now time.Time) bool {
	moved := false
	g.overdue(now)
	concurrent := g.cfg.ShutdownOrder == Concurrent
	for {
		var ok bool
		switch {
		case g.w.kind == walkStop && concurrent:
			ok = g.stepStopAll(now)
		case g.w.kind == walkShutdown && concurrent:
			ok = g.stepShutdownAll(now)
		case g.w.kind == walkStop:
			ok = g.stepStop(now)
		case g.w.kind == walkBackoff:
			ok = !now.Before(g.w.at)
			if ok { // the restart is performed: its starts begin
				g.w.kind, g.w.cur = walkStart, g.w.lo
				g.restarts += uint64(g.w.owed)
			}
		case g.w.kind == walkStart:
			ok = g.stepStart(now)
		case g.w.kind == walkShutdown:
			ok = g.stepShutdown(now)
		default:
			return moved
		}
		if !ok {
			return moved
		}
		moved = true
	}
}

// stepStop stops the member at hand of a restart's scope, or moves past
// it once stopped; it reports whether it moved.
func (g *Group) stepStop(now time.Time) bool {
	if g.w.cur < g.w.lo {
		g.w.kind = walkBackoff
		return true
	}
	m := g.members[g.w.cur]
	if !m.gone && g.stopMember(m, now, causeGroupRestart) {
		return false
	}
	g.w.cur--
	return true
}

// stepShutdown is stepStop for the shutdown, which covers every member and
// records how each ended; past the first member it finishes the group.
func (g *Group) stepShutdown(now time.Time) bool {
	if g.w.cur < 0 {
		g.finish(now)
		return true
	}
	m := g.members[g.w.cur]
	if !m.gone {
		if g.stopMember(m, now, causeGroupShutdown) {
			m.stopping = true
			return false
		}
		if m.outcome == 0 {
			m.outcome = m.shutdownUnstarted(g.reason)
		}
	}
	g.w.cur--
	return true
}

// endUnstarted ends g, which never started, for reason: it is stopped,
// and every member below it has the outcome OutcomeNotStarted.
func (g *Group) endUnstarted(reason string) {
	g.state, g.reason = GroupStopped, reason
	for _, m := range g.members {
		if !m.gone {
			m.outcome = OutcomeNotStarted
			if m.sub != nil && m.sub.state == GroupIdle {
				m.sub.endUnstarted(reason)
			}
		}
	}
}

// shutdownUnstarted returns the outcome of m, which a shutdown found with
// nothing running: a member that never started did not start (a nested
// group that never started ends, for reason, with its members), one that
// ran had already stopped.
func (m *member) shutdownUnstarted(reason string) ShutdownOutcome {
	switch {
	case m.sub != nil && m.sub.state == GroupIdle:
		m.sub.endUnstarted(reason)
		return OutcomeNotStarted
	case m.slot != nil && !m.slot.started:
		return OutcomeNotStarted
	}
	return OutcomeAlreadyStopped
}

// stopMember stops m for g (a nested group by its own ordered shutdown) and
// reports whether g must still wait for it.
func (g *Group) stopMember(m *member, now time.Time, c *stopCause) bool {
	if sub := m.sub; sub != nil {
		if sub.state == GroupIdle || sub.state.over() {
			return false
		}
		m.subHalted = true
		sub.beginShutdown(now, c.reason)
		return !sub.state.over()
	}
	return m.slot.groupStop(now, c)
}

// stepStart starts the member at hand and moves past it once it need not
// be waited for; past the last member the group runs. It reports whether it
// moved.
func (g *Group) stepStart(now time.Time) bool {
	if g.w.cur >= len(g.members) {
		g.w = walk{}
		g.state = GroupRunning
		if !g.up {
			g.up = true
			g.emit(Event{Kind: EventGroupStarted, Time: now})
		}
		g.compact()
		if g.parent != nil {
			g.parent.t.advanceNow = true
		}
		return true
	}
	t := g.t
	if t.startsVisited >= advanceBatch {
		t.startsLeft = true // the next Advance goes on, with its own now
		return false
	}
	t.startsVisited++
	m := g.members[g.w.cur]
	if !m.gone {
		g.launchMember(m, now)
		if m.awaited() {
			return false
		}
	}
	g.w.cur++
	return true
}

// launchMember starts m if it is the group's to start: a held slot or a
// nested group that is not running. A slot an operator paused, quarantined
// or removed stays down, and a Temporary slot that ran before leaves.
func (g *Group) launchMember(m *member, now time.Time) {
	if sub := m.sub; sub != nil {
		if sub.state == GroupIdle || sub.state.over() {
			m.subHalted = false
			sub.start(now, g.ctx)
		}
		return
	}
	s := m.slot
	if !s.groupDriven {
		return // running, or restarting on its own
	}
	switch {
	case s.heldDown():
		s.release()
		m.ownRestart = false // the restart it owed is not the group's to make
		// Resumed later, it runs under g.ctx: the same context for every
		// life of the group (it is never cancelled), so nothing to renew.
	case s.ranTemporary():
		g.leave(m, now, "temporary member stopped by the group")
	default:
		s.groupStart(g.ctx, now, m.ownRestart)
		m.ownRestart = false
	}
}

// awaited reports whether the next member must wait for m: a nested group
// still starting, or a slot whose readiness is watched and that has not
// reported Ready while it runs or is about to run again. A watched member
// that never gets ready so holds every later member back until its own
// restart limit quarantines it (or an operator pauses, quarantines or
// removes it), and its restarts meanwhile count against the group's
// intensity: give such a member a RestartLimit that ends the wait.
func (m *member) awaited() bool {
	if m.gone {
		return false
	}
	if sub := m.sub; sub != nil {
		return !sub.up && !sub.state.over()
	}
	return m.slot.notReadyYet()
}

// startMember starts m, which joined g while it runs.
func (g *Group) startMember(m *member, now time.Time) {
	g.launchMember(m, now)
	g.t.advanceNow = true
}

// finish ends g's shutdown: it is stopped, or failed when its intensity was
// spent, its context is released, and its parent learns of its end.
func (g *Group) finish(now time.Time) {
	g.w = walk{}
	g.state = GroupStopped
	if g.err != nil {
		g.state = GroupFailed
	}
	g.emit(Event{Kind: EventShutdownFinished, Time: now, Reason: g.reason})
	g.compact()
	if p := g.parent; p != nil && g.self != nil {
		p.subEnded(g.self, now)
	} else if g == g.t.root {
		g.t.cmds.close(now, fmt.Errorf("tree %q: %w", g.path, ErrGroupStopped))
	}
}
