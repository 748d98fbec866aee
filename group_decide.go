package supervisor

import (
	"fmt"
	"time"
)

// This file holds the group's decisions after a member ended on its own:
// the strategy, the restart intensity and its escalation, significant
// members and automatic shutdown. Exits the group caused itself (members it
// stopped for a restart or a shutdown) never reach it.

// admitRestart is asked by member slot s, whose exit e its own restart
// limit allows to restart, whether the group allows it too: the restart
// counts once against the group's intensity, and the one the intensity
// refuses fails the group instead, before the slot announces a restart.
func (g *Group) admitRestart(s *ChildSlot, e *Exit, now time.Time) bool {
	m := g.memberOf(s)
	if m == nil {
		return true
	}
	return g.admit(m, now, e.Reason)
}

// admit counts m's restart against the intensity, or fails the group
// when the intensity refuses it, and reports whether the restart goes on.
// As in OTP, a restart counts against the intensity when it is decided;
// the group's Restarts counts it when it is performed (a shutdown during
// the backoff leaves it undone and uncounted).
func (g *Group) admit(m *member, now time.Time, why string) bool {
	if g.state == GroupShuttingDown || g.state.over() {
		if m.slot != nil {
			m.slot.hold(now, true)
		}
		return false
	}
	if g.tracker != nil {
		if !g.tracker.Allow(now) {
			g.fail(now, m, why)
			return false
		}
		g.tracker.Record(now)
	}
	return true
}

// memberFailed applies the strategy to m, which failed: its restart type
// calls for a restart, due at (after its own backoff), which admit has
// counted.
func (g *Group) memberFailed(m *member, now, at time.Time) {
	lo := int(m.idx)
	switch g.cfg.Strategy {
	case OneForOne:
		g.emitRestart(now, m, lo, lo+1)
		if m.sub != nil {
			m.sub.start(now, g.ctx)
			g.restarts++
		}
		// A slot restarts itself after its backoff, as it planned, and
		// counts the group's restart then (startDue).
	case OneForAll:
		g.beginRestart(now, 0, m, at)
	case RestForOne:
		g.beginRestart(now, lo, m, at)
	}
}

// emitRestart reports a group restart that m's failure triggered, covering
// the members from lo up to hi.
func (g *Group) emitRestart(now time.Time, m *member, lo, hi int) {
	if !g.heard() {
		return
	}
	span := g.members[lo:hi]
	scope := make([]string, 0, len(span))
	for _, x := range span {
		if !x.gone {
			scope = append(scope, x.id())
		}
	}
	g.emit(Event{Kind: EventGroupRestart, Time: now, Member: m.id(), Scope: scope})
}

// memberEnded is told that m ended with no restart to follow: a Temporary
// member leaves the group, as in OTP, and a significant one may shut the
// group down.
func (g *Group) memberEnded(m *member, now time.Time) {
	temporary := m.sub == nil && m.slot.cfg.Restart == Temporary ||
		m.sub != nil && m.sub.cfg.Restart == Temporary
	switch {
	case temporary:
		g.leave(m, now, "temporary member ended")
	case m.dynamic:
		g.leave(m, now, "member started by StartChild ended")
	}
	if !m.significant || g.state == GroupShuttingDown || g.state.over() {
		return
	}
	switch g.cfg.AutoShutdown {
	case AnySignificant:
		g.autoShutdown(now, m)
	case AllSignificant:
		for _, x := range g.members {
			if !x.gone && x.significant && !x.ended() {
				return
			}
		}
		g.autoShutdown(now, m)
	}
}

// ended reports whether the member has ended with nothing to follow.
func (m *member) ended() bool {
	if m.sub != nil {
		return m.sub.state.over()
	}
	s := m.slot
	return s.active == nil && (s.over || s.op == OperationRemoved)
}

// autoShutdown shuts the group down because significant member m ended.
func (g *Group) autoShutdown(now time.Time, m *member) {
	g.emit(Event{Kind: EventAutoShutdown, Time: now, Member: m.id()})
	g.beginShutdown(now, fmt.Sprintf("automatic shutdown (%v): significant member %q ended", g.cfg.AutoShutdown, m.id()))
}

// fail ends the group because its intensity refused the restart that m's
// failure asked for: every member stops in reverse order, and Err wraps
// ErrGroupFailed.
func (g *Group) fail(now time.Time, m *member, why string) {
	lim := g.tracker.State(now)
	g.failWith(now, m, fmt.Errorf("%w: %s: member %q failed (%s) after %d restarts within %v",
		ErrGroupFailed, g.path, m.id(), why, lim.Used, lim.Window), "restart intensity spent")
}

// memberFailsGroup fails the group at once because member slot s returned
// ErrFailGroup (exit e).
func (g *Group) memberFailsGroup(s *ChildSlot, e *Exit, now time.Time) {
	m := g.memberOf(s)
	if m == nil || g.state == GroupShuttingDown || g.state.over() {
		return
	}
	g.failWith(now, m, fmt.Errorf("%w: %s: member %q returned ErrFailGroup (%s)",
		ErrGroupFailed, g.path, m.id(), e.Reason), "a member returned ErrFailGroup")
}

// failWith ends the group with err, for why, m's exit being the cause:
// every member stops in reverse order.
func (g *Group) failWith(now time.Time, m *member, err error, why string) {
	g.err = err
	g.emit(Event{Kind: EventGroupFailed, Time: now, Member: m.id(), Reason: g.err.Error()})
	g.beginShutdown(now, "group failed: "+why)
}

// subEnded is told by the nested group of m that it stopped or failed. To
// g that is the end of a member: one it stopped itself, or one that
// failed (abnormal) or shut down on its own (normal), treated by the nested
// group's restart type and g's strategy.
func (g *Group) subEnded(m *member, now time.Time) {
	g.t.kick = true
	sub := m.sub
	if m.stopping {
		m.stopping = false
		m.outcome = OutcomeStopped
	}
	g.stopped(m)
	switch {
	case m.leaving:
		if m.outcome == 0 {
			m.outcome = OutcomeStopped
		}
		g.dropIfStopped(m, now)
		return
	case m.reopen:
		m.reopen, m.held = false, false
		if g.state != GroupShuttingDown && !g.state.over() {
			sub.start(now, g.ctx)
		}
		return
	case m.held:
		return // g stopped it: the walk in progress carries on
	}
	kind, why := Succeeded, "nested group stopped: "+sub.reason
	if sub.state == GroupFailed {
		kind, why = Failed, sub.err.Error()
	}
	if sub.cfg.Restart.restarts(kind) {
		if g.admit(m, now, why) {
			g.memberFailed(m, now, now)
		}
		return
	}
	g.memberEnded(m, now)
}

// leave takes m out of the group, for why. Its entry stays, marked gone,
// until the next compaction, so that walks in progress keep their places.
func (g *Group) leave(m *member, now time.Time, why string) {
	if m.gone {
		return
	}
	m.gone = true
	g.gone++
	delete(g.byID, m.id())
	if s := m.slot; s != nil {
		g.t.sched.Remove(s)
		s.grp = nil
		s.held, s.frozen = false, false
	}
	if m.sub != nil {
		m.sub.parent, m.sub.self = nil, nil
	}
	g.emit(Event{Kind: EventMemberRemoved, Time: now, Member: m.id(), Reason: why})
	g.compact()
}

// dropIfStopped forgets m, which is leaving, once nothing of it runs.
func (g *Group) dropIfStopped(m *member, now time.Time) {
	if !m.leaving || m.gone {
		return
	}
	if m.sub != nil {
		if st := m.sub.state; st != GroupIdle && !st.over() {
			return
		}
	} else if m.slot.active != nil {
		return
	}
	g.leave(m, now, "removed")
}

// compact drops the entries of members that left, once they are half of
// the list and no walk holds a place in it: amortized, each entry is
// moved a constant number of times. With none gone the test returns on its
// own (0 < len), and an empty list compacts to itself.
func (g *Group) compact() {
	if g.w.kind != walkNone || g.gone*2 < len(g.members) {
		return
	}
	kept := g.members[:0]
	for _, m := range g.members {
		if !m.gone {
			m.idx = int32(len(kept))
			kept = append(kept, m)
		}
	}
	clear(g.members[len(kept):])
	g.members = kept
	g.gone = 0
}
