package groupmodel

// This file is the contract's reading of one member's exit, in the order
// GROUPS.md gives it:
//
//  1. Who stopped it. An exit the group caused itself (a restart's or a
//     shutdown's stop) triggers nothing and counts nothing; a removed
//     member leaves once stopped; an operator's own stop or fenced restart
//     is the slot's business.
//  2. Its restart type (and what its error asked): no restart to follow
//     means it ended for good, which may end a significant member's group.
//  3. Its own RestartLimit: refused, it is quarantined and the group goes on.
//  4. The group's Intensity: refused, the group fails.
//  5. The strategy: one_for_one restarts it alone after its own backoff;
//     one_for_all and rest_for_one restart it with the others.

// slotExited applies the contract to an exit of kind k of member slot s,
// whose error asked for d.
func (g *group) slotExited(s *slot, k Kind, d Directive) {
	m := s.m
	belongs := m.isIn()
	if belongs {
		g.stoppedForGroup(m, k == Abandoned)
	}

	// 1. Who stopped it.
	if g.notItsOwnExit(s, m, belongs) {
		return
	}

	// 2. Its restart type, and what its error asked.
	switch {
	case s.g.state.over():
		s.over = true // its group has ended: nothing restarts
	case d == FailGroup:
		s.over = true
		if belongs {
			g.fail() // no intensity asked or counted
		}
		return
	case d == DoNotRestart, !s.cfg.Restart.restarts(k):
		s.over = true
	}
	if s.over {
		if belongs {
			g.endedForGood(m)
		}
		return
	}

	// 3. Its own restart limit.
	if s.used() >= s.cfg.Limit {
		s.op = Quarantined
		return
	}
	if !belongs {
		s.backoff() // a slot that left restarts on its own
		return
	}

	// 4. The group's intensity.
	if !g.allowRestart() {
		return
	}

	// 5. The strategy.
	if g.cfg.Strategy == OneForOne {
		s.backoff()
		return
	}
	g.restart(m, g.t.now+s.cfg.Delay)
}

// notItsOwnExit is step 1: it reports whether the exit of s (member m,
// still in the group when belongs) was caused by someone else than the
// child, and does what that calls for.
func (g *group) notItsOwnExit(s *slot, m *member, belongs bool) bool {
	switch {
	case s.op == Removed:
		if belongs {
			g.dropIfStopped(m)
		}
		return true
	case s.rule != selfRule:
		return true // the group stopped it, or starts it: not an exit of its own
	case s.fenced:
		s.fenced = false
		s.launch() // the operator's restart, now that the old attempt is gone
		return true
	}
	return s.op != Active // paused or quarantined: it stays down
}

// nestedEnded applies the contract to the end of the nested group of m:
// to g, a member that exited, abnormally if it failed.
func (g *group) nestedEnded(m *member) {
	sub := m.sub
	g.stoppedForGroup(m, false)

	// 1. Who stopped it.
	switch {
	case m.place == removing:
		g.dropIfStopped(m)
		return
	case m.then == startAgain:
		m.then = judgeEnd
		if !g.ending() {
			sub.start()
		}
		return
	case m.then == ignoreEnd:
		return
	}

	// 2. Its restart type: a failed group exited abnormally.
	k := Succeeded
	if sub.state == GroupFailed {
		k = Failed
	}
	if !sub.cfg.Restart.restarts(k) {
		g.endedForGood(m)
		return
	}

	// 3. A group has no restart limit of its own; 4. the intensity.
	if !g.allowRestart() {
		return
	}

	// 5. The strategy: a nested group restarts at once.
	if g.cfg.Strategy == OneForOne {
		sub.start()
		g.restarts++
		return
	}
	g.restart(m, g.t.now)
}

// stoppedForGroup records, for m that just ended, the shutdown outcome
// when its group's shutdown or its removal stopped it.
func (g *group) stoppedForGroup(m *member, abandoned bool) {
	if m.shutdownStopped || m.place == removing && m.outcome == NoOutcome {
		m.shutdownStopped = false
		m.outcome = OutcomeStopped
		if abandoned {
			m.outcome = OutcomeAbandoned
		}
	}
	g.waiting = without(g.waiting, m)
}

// allowRestart counts one restart against g's intensity, or fails g when
// the intensity is spent; a group that shuts down restarts nothing.
func (g *group) allowRestart() bool {
	if g.ending() {
		return false
	}
	if g.cfg.Intensity > 0 {
		if g.used() >= g.cfg.Intensity {
			g.fail()
			return false
		}
		g.budget = append(g.budget, g.t.now)
	}
	return true
}

// fail fails g: it shuts down, and ends failed.
func (g *group) fail() {
	if g.ending() {
		return
	}
	g.failed = true
	g.shutdown()
}

// endedForGood is told that m ended with no restart to follow: a temporary
// or dynamic member leaves, and a significant one may shut g down.
func (g *group) endedForGood(m *member) {
	if m.restartType() == Temporary || m.dynamic {
		g.leave(m)
	}
	if !m.significant() || g.ending() {
		return
	}
	switch g.cfg.AutoShutdown {
	case AnySignificant:
		g.shutdown()
	case AllSignificant:
		for _, x := range g.current() {
			if x.significant() && !x.endedForGood() {
				return
			}
		}
		g.shutdown()
	}
}

// remove is Group.Remove of m: stop it, and forget it once stopped.
func (g *group) remove(m *member) {
	m.place = removing
	if m.sub != nil {
		m.sub.shutdown()
	} else if m.slot.op != Removed {
		m.slot.op = Removed
		m.slot.halt()
	}
	g.dropIfStopped(m)
}

// dropIfStopped lets m, which is being removed, leave once nothing of it
// runs.
func (g *group) dropIfStopped(m *member) {
	if m.place == removing && !m.running() {
		g.leave(m)
	}
}

// command applies an operator command to g.
func (g *group) command(op CommandOp) Result {
	switch op {
	case CmdShutdown:
		if g.ending() {
			return Refused
		}
		g.shutdown()
		return OK
	case CmdRemove:
		if g.parent == nil {
			return Refused
		}
		g.parent.remove(g.self)
		return OK
	case CmdRestart:
		if g.parent == nil || g.ending() || g.parent.state == ShuttingDown {
			return Refused
		}
		g.self.then = startAgain
		g.shutdown()
		return OK
	}
	return Refused
}
