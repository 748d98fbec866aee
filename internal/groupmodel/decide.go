package groupmodel

import "time"

// admit counts m's restart against the intensity, or fails g when the
// intensity refuses it; it reports whether the restart goes on. The
// group's restarts count it only once performed: a one_for_one slot's
// when its backoff ends and it starts, a nested group's at once, a walk's
// when its starts begin.
func (g *group) admit(m *member) bool {
	if g.state == ShuttingDown || g.state.over() {
		if m.slot != nil {
			m.slot.hold(true)
		}
		return false
	}
	if g.cfg.Intensity > 0 {
		if g.used() >= g.cfg.Intensity {
			g.failing = true
			g.beginShutdown()
			return false
		}
		g.history = append(g.history, g.t.now)
	}
	return true
}

// failNow fails g at once, as a member's ErrFailGroup asks: it shuts
// down, and fails when the shutdown ends, as a spent intensity would.
func (g *group) failNow() {
	if g.state == ShuttingDown || g.state.over() {
		return
	}
	g.failing = true
	g.beginShutdown()
}

// memberFailed applies the strategy to m, whose restart admit counted, due
// at at.
func (g *group) memberFailed(m *member, at time.Duration) {
	switch g.cfg.Strategy {
	case OneForOne:
		if m.sub != nil {
			m.sub.start()
			g.restarts++
		}
	case OneForAll:
		g.beginRestart(0, m, at)
	case RestForOne:
		g.beginRestart(g.index(m), m, at)
	}
}

func (g *group) index(m *member) int {
	for i, x := range g.members {
		if x == m {
			return i
		}
	}
	panic("groupmodel: member not in its group")
}

// memberEnded is told that m ended with no restart to follow.
func (g *group) memberEnded(m *member) {
	if m.restart() == Temporary || m.dynamic {
		g.leave(m)
	}
	if !m.significant() || g.state == ShuttingDown || g.state.over() {
		return
	}
	switch g.cfg.AutoShutdown {
	case AnySignificant:
		g.beginShutdown()
	case AllSignificant:
		for _, x := range g.members {
			if !x.gone && x.significant() && !x.ended() {
				return
			}
		}
		g.beginShutdown()
	}
}

// slotExited is told that member slot s exited with kind k, after its plan.
func (g *group) slotExited(s *slot, k Kind) {
	m := s.m
	if m.gone {
		return
	}
	if m.stopping || m.leaving && m.outcome == NoOutcome {
		m.stopping = false
		m.outcome = OutcomeStopped
		if k == Abandoned {
			m.outcome = OutcomeAbandoned
		}
	}
	m.awaited = false
	switch {
	case m.leaving:
		g.dropIfStopped(m)
	case s.held:
	case s.restartDue:
		g.memberFailed(m, s.restartAt)
	case s.over:
		g.memberEnded(m)
	}
}

// subEnded is told that the nested group of m stopped or failed.
func (g *group) subEnded(m *member) {
	sub := m.sub
	if m.stopping || m.leaving && m.outcome == NoOutcome {
		m.stopping = false
		m.outcome = OutcomeStopped
	}
	m.awaited = false
	switch {
	case m.leaving:
		g.dropIfStopped(m)
		return
	case m.reopen:
		m.reopen, m.held = false, false
		if g.state != ShuttingDown && !g.state.over() {
			sub.start()
		}
		return
	case m.held:
		return
	}
	k := Succeeded
	if sub.state == GroupFailed {
		k = Failed
	}
	if sub.cfg.Restart.restarts(k) {
		if g.admit(m) {
			g.memberFailed(m, g.t.now)
		}
		return
	}
	g.memberEnded(m)
}

// leave takes m out of g.
func (g *group) leave(m *member) {
	if m.gone {
		return
	}
	m.gone = true
	if s := m.slot; s != nil {
		s.held, s.frozen = false, false
	}
}

// remove is Group.Remove of m.
func (g *group) remove(m *member) {
	m.leaving = true
	if m.sub != nil {
		m.sub.beginShutdown()
	} else if m.slot.op != Removed {
		m.slot.op = Removed
		m.slot.halt()
	}
	g.dropIfStopped(m)
}

// removeSlot is ChildSlot.Remove on member slot m.
func (g *group) removeSlot(m *member) {
	s := m.slot
	s.op = Removed
	s.halt()
	m.leaving = true
	g.dropIfStopped(m)
}

// dropIfStopped forgets m, which is leaving, once nothing of it runs.
func (g *group) dropIfStopped(m *member) {
	if !m.leaving || m.gone {
		return
	}
	if m.sub != nil {
		if st := m.sub.state; st != Idle && !st.over() {
			return
		}
	} else if m.slot.cur != nil {
		return
	}
	g.leave(m)
}

// command applies an operator command to g.
func (g *group) command(op CommandOp) Result {
	switch op {
	case CmdShutdown:
		if g.state == ShuttingDown || g.state.over() {
			return Refused
		}
		g.beginShutdown()
		return OK
	case CmdRemove:
		if g.parent == nil {
			return Refused
		}
		g.parent.remove(g.self)
		return OK
	case CmdRestart:
		if g.parent == nil || g.state == ShuttingDown || g.state.over() || g.parent.state == ShuttingDown {
			return Refused
		}
		g.self.reopen, g.self.held = true, true
		g.beginShutdown()
		return OK
	}
	return Refused
}
