package groupmodel

import (
	"slices"
	"time"
)

// This file holds what a group does over time, read from the contract:
// a restart stops the members it covers in reverse start order, waits for
// the failed member's backoff, and starts them in start order; a shutdown
// stops every member in reverse start order. Each is a job: a queue of
// the members still to pass, next first.

// jobKind is what a group's job is doing.
type jobKind uint8

const (
	noJob       jobKind = iota
	jobStop             // a restart stops the members it covers
	jobBackoff          // a restart waits before it starts them
	jobStart            // a start (or a restart's) starts members in order
	jobShutdown         // a shutdown stops every member
)

// job is a group's restart, start or shutdown in progress.
type job struct {
	kind  jobKind
	queue []*member // the members still to pass, next first
	// A restart covers from and every member after it, starts them no
	// sooner than at, and counts its decided restarts once its starts
	// begin.
	from    *member
	at      time.Duration
	decided uint64
	// A shutdown with a ShutdownTimeout: at deadline what still runs is
	// abandoned; forced once it has been.
	deadline        time.Duration
	bounded, forced bool
}

// reversed returns list in reverse order, as a new slice.
func reversed(list []*member) []*member {
	out := slices.Clone(list)
	slices.Reverse(out)
	return out
}

// fromOn returns the members of g from m on, in start order.
func (g *group) fromOn(m *member) []*member {
	var out []*member
	for _, x := range g.members[g.position(m):] {
		if x.isIn() {
			out = append(out, x)
		}
	}
	return out
}

// start starts g afresh: a new budget, every member in start order.
func (g *group) start() {
	g.budget, g.failed, g.waiting = nil, false, nil
	for _, m := range g.current() {
		m.outcome, m.shutdownStopped = NoOutcome, false
		if m.then == ignoreEnd {
			m.then = judgeEnd
		}
		if m.slot != nil {
			m.slot.handTo(groupRule)
		}
	}
	g.state, g.up = Starting, false
	g.job = job{kind: jobStart, queue: g.current()}
	g.t.busyAdd(g)
}

// restart begins a group restart of failed (and, by the strategy, the
// members after it, or all) no sooner than at. A restart already under way
// grows to cover both; its restarts not yet counted still count.
func (g *group) restart(failed *member, at time.Duration) {
	from := failed
	if g.cfg.Strategy == OneForAll {
		from = g.members[0]
	}
	decided := uint64(1)
	if g.state == Restarting {
		if g.position(g.job.from) < g.position(from) {
			from = g.job.from
		}
		at = max(at, g.job.at)
		if g.job.kind != jobStart {
			decided += g.job.decided
		}
	}
	if failed.slot != nil {
		g.charge(failed.slot)
	}
	covered := g.fromOn(from)
	for _, x := range covered {
		if x.slot != nil {
			x.slot.handTo(groupRule)
		}
	}
	g.job = job{kind: jobStop, queue: reversed(covered), from: from, at: at, decided: decided}
	g.state = Restarting
	g.t.busyAdd(g)
}

// charge notes that s's own budget pays for the group restart of its
// failure when the group starts it.
func (g *group) charge(s *slot) {
	if g.chargeOwn == nil {
		g.chargeOwn = map[*slot]bool{}
	}
	g.chargeOwn[s] = true
}

// shutdown begins g's shutdown: every member stops, from the last.
func (g *group) shutdown() {
	switch {
	case g.ending():
		return
	}
	g.refuseWaitingStarts()
	if g.state == Idle {
		g.endUnstarted()
		return
	}
	all := g.current()
	for _, m := range all {
		if m.slot != nil {
			m.slot.handTo(frozenRule)
		}
	}
	g.state = ShuttingDown
	g.job = job{kind: jobShutdown, queue: reversed(all)}
	if d := g.cfg.ShutdownTimeout; d > 0 {
		g.job.deadline, g.job.bounded = g.t.now+d, true
	}
	g.t.busyAdd(g)
}

// shutdownDeadline returns when g's shutdown reaches its ShutdownTimeout,
// if it is bounded and has not yet.
func (g *group) shutdownDeadline() (time.Duration, bool) {
	j := g.job
	if j.kind != jobShutdown || !j.bounded || j.forced {
		return 0, false
	}
	return j.deadline, true
}

// progress carries g's job on as far as it goes now; it reports whether
// it moved.
func (g *group) progress() bool {
	if at, due := g.shutdownDeadline(); due && at <= g.t.now {
		g.forceStop()
	}
	moved := false
	for g.next() {
		moved = true
	}
	return moved
}

// next takes one step of g's job, if one can be taken now.
func (g *group) next() bool {
	j := &g.job
	switch j.kind {
	case jobStop, jobShutdown:
		shutdown := j.kind == jobShutdown
		moved := false
		if g.cfg.Concurrent {
			moved = g.cancelQueue(shutdown)
			if len(g.waiting) > 0 {
				return moved
			}
		} else if len(j.queue) > 0 {
			return g.stopHead(shutdown)
		}
		if shutdown {
			g.finish()
		} else {
			j.kind = jobBackoff
		}
		return true
	case jobBackoff:
		if g.t.now < j.at {
			return false
		}
		g.restarts += j.decided
		j.kind, j.queue = jobStart, g.fromOn(j.from)
		return true
	case jobStart:
		if len(j.queue) == 0 {
			g.job = job{}
			g.state, g.up = Running, true
			g.t.kick = true // a parent's start may go on
			return true
		}
		m := j.queue[0]
		if m.isIn() {
			g.bringUp(m)
			if m.sub != nil && !m.sub.up && !m.sub.state.over() {
				return false // a nested group holds the next until it is up
			}
		}
		j.queue = j.queue[1:]
		return true
	}
	return false
}

// stopHead stops the member at the head of the queue, one at a time: it
// waits while that member runs.
func (g *group) stopHead(shutdown bool) bool {
	m := g.job.queue[0]
	if m.isIn() {
		if g.stopMember(m) {
			m.shutdownStopped = m.shutdownStopped || shutdown
			return false
		}
		if shutdown {
			g.noteStopped(m)
		}
	}
	g.job.queue = g.job.queue[1:]
	return true
}

// cancelQueue stops, for a Concurrent group, every member in the queue at
// once; those that run join g.waiting. It reports whether it passed any.
func (g *group) cancelQueue(shutdown bool) bool {
	moved := len(g.job.queue) > 0
	for _, m := range g.job.queue {
		switch {
		case !m.isIn():
		case slices.Contains(g.waiting, m): // a job this one replaced cancelled it
			m.shutdownStopped = m.shutdownStopped || shutdown
		case g.stopMember(m):
			g.waiting = append(g.waiting, m)
			m.shutdownStopped = m.shutdownStopped || shutdown
		case shutdown:
			g.noteStopped(m)
		}
	}
	g.job.queue = nil
	return moved
}

// stopMember stops m for g and reports whether m still runs.
func (g *group) stopMember(m *member) bool {
	if !m.running() {
		return false
	}
	if sub := m.sub; sub != nil {
		if m.then == judgeEnd {
			m.then = ignoreEnd
		}
		sub.shutdown()
		return !sub.state.over()
	}
	m.slot.cancel()
	return true
}

// bringUp starts m if it is g's to start: a slot an operator stopped stays
// down (and the group lets go of it), and a temporary slot that ran
// before leaves.
func (g *group) bringUp(m *member) {
	if sub := m.sub; sub != nil {
		if !m.running() {
			if m.then == ignoreEnd {
				m.then = judgeEnd
			}
			sub.start()
		}
		return
	}
	s := m.slot
	if s.rule == selfRule {
		return
	}
	switch {
	case s.cur != nil, s.op != Active:
		s.rule = selfRule
		delete(g.chargeOwn, s)
	case s.started && s.cfg.Restart == Temporary:
		g.leave(m)
	default:
		s.startForGroup(g.chargeOwn[s])
		delete(g.chargeOwn, s)
	}
}

// noteStopped records the outcome of m, which a shutdown found stopped.
func (g *group) noteStopped(m *member) {
	if m.outcome != NoOutcome {
		return
	}
	m.outcome = OutcomeAlreadyStopped
	if m.sub != nil && m.sub.state == Idle || m.slot != nil && !m.slot.started {
		m.outcome = OutcomeNotStarted
	}
	if m.sub != nil && m.sub.state == Idle {
		m.sub.endUnstarted()
	}
}

// forceStop ends the shutdown's patience: whatever still runs below g is
// abandoned now (cancelled first if it was not), nested groups shut down
// and forced likewise.
func (g *group) forceStop() {
	g.job.forced = true
	g.t.kick = true
	if g.t.forced == nil {
		g.t.forced = map[string]bool{}
	}
	g.t.forced[g.path] = true
	for _, m := range reversed(g.current()) {
		if sub := m.sub; sub != nil {
			if !m.running() {
				continue
			}
			m.shutdownStopped = true
			if m.then == judgeEnd {
				m.then = ignoreEnd
			}
			sub.shutdown()
			if !sub.job.forced {
				sub.forceStop()
			}
			continue
		}
		if a := m.slot.cur; a != nil && !a.returned {
			m.shutdownStopped = true
			m.slot.abandonNow()
		}
	}
}

// endUnstarted ends g, which never started: it is stopped, and so is
// every group below it; no member started.
func (g *group) endUnstarted() {
	g.state = Stopped
	for _, m := range g.current() {
		m.outcome = OutcomeNotStarted
		if m.sub != nil && m.sub.state == Idle {
			m.sub.endUnstarted()
		}
	}
}

// finish ends the shutdown; the parent learns of the end.
func (g *group) finish() {
	g.job = job{}
	g.state = Stopped
	if g.failed {
		g.state = GroupFailed
	}
	g.t.kick = true
	if g.parent != nil && g.self != nil && g.self.isIn() {
		g.parent.nestedEnded(g.self)
	}
}
