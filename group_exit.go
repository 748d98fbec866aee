package supervisor

import (
	"fmt"
	"time"
)

// This file is the group's whole decision after a member ended on its own,
// in the order OTP's supervisor takes it: the member's restart type (and
// a directive its error carried), the member's own restart limit, the
// group's intensity, the delay, the strategy; significance and automatic
// shutdown apart. A member slot plans nothing: it reports to its group
// (memberChanged, the one call from slot code into group code), and the
// group asks it small questions and tells it what to do. Exits the group
// caused itself (members it stopped for a restart or a shutdown) end the
// chain at its first step.

// memberChanged is the one report from member slot m.slot to its group, at
// now: its attempt a ended with exit e, or, with e nil, one of its methods
// changed it (an operator control, its own Advance).
func (g *Group) memberChanged(m *member, now time.Time, a *Attempt, e *Exit) {
	g.t.advanceNow = true // the walks may move
	if e == nil {
		g.memberTouched(m, now)
		return
	}
	g.memberExited(m, a, e, now)
}

// memberExited takes exit e of member slot m's attempt a through the chain.
func (g *Group) memberExited(m *member, a *Attempt, e *Exit, now time.Time) {
	s := m.slot
	if m.stopping || m.leaving && m.outcome == 0 {
		m.stopping = false
		m.outcome = outcomeOf(a, e)
	}
	g.stopped(m)
	switch {
	case m.leaving:
		g.dropIfStopped(m, now)
	case s.groupDriven:
		// The group stopped it: the walk in progress carries on.
	case s.operatorDecides(now):
	case !g.byRestartType(m, e, now):
	case !g.withinMemberLimit(s, e, now):
	case !g.admit(m, now, e.Reason):
	default:
		g.memberFailed(m, now, s.scheduleRestart(e, now))
	}
}

// byRestartType reports whether m's exit e calls for a restart, by the
// directive the child's error carried and by m's restart type. A member
// with none to follow has ended: [ErrFailGroup] fails the group, and the
// end may take the member out of the group or shut the group down
// (memberEnded).
func (g *Group) byRestartType(m *member, e *Exit, now time.Time) bool {
	s := m.slot
	switch {
	case e.Directive == DirectiveFailGroup:
		s.end()
		if g.state != GroupShuttingDown && !g.state.over() {
			g.failGroup(now, m, fmt.Errorf("%w: %s: member %q returned ErrFailGroup (%s)",
				ErrGroupFailed, g.path, m.id(), e.Reason), "a member returned ErrFailGroup")
		}
		return false
	case !s.wantsRestart(e):
		s.end()
		g.memberEnded(m, now)
		return false
	}
	return true
}

// withinMemberLimit reports whether s's own restart limit allows the
// restart exit e asks for; when it does not, the slot is quarantined for
// an operator, and the group does nothing more.
func (g *Group) withinMemberLimit(s *ChildSlot, e *Exit, now time.Time) bool {
	if s.restartTracker().allow(now) {
		return true
	}
	s.refuseRestart(e, now)
	return false
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
		if !g.tracker.allow(now) {
			lim := g.tracker.state(now)
			g.failGroup(now, m, fmt.Errorf("%w: %s: member %q failed (%s) after %d restarts within %v",
				ErrGroupFailed, g.path, m.id(), why, lim.Used, lim.Window), "restart intensity spent")
			return false
		}
		g.tracker.record(now)
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
		// A slot waits for its backoff (scheduleRestart set it); the
		// group restarts it then (restartIfDue).
	case OneForAll:
		g.beginRestart(now, 0, m, at)
	case RestForOne:
		g.beginRestart(now, lo, m, at)
	}
}

// restartIfDue performs member m's one_for_one restart once its backoff
// has passed, at now, and counts it.
func (g *Group) restartIfDue(m *member, now time.Time) {
	if s := m.slot; s.restartReady(now) {
		g.restarts++
		s.restartNow(now)
		s.refile()
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
// member leaves the group, as in OTP, and so does one StartChild started;
// a significant one may shut the group down.
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
			if !x.gone && x.significant && !x.finished() {
				return
			}
		}
		g.autoShutdown(now, m)
	}
}

// finished reports whether the member has ended with nothing to follow.
func (m *member) finished() bool {
	if m.sub != nil {
		return m.sub.state.over()
	}
	return m.slot.endedForGood()
}

// autoShutdown shuts the group down because significant member m ended.
func (g *Group) autoShutdown(now time.Time, m *member) {
	g.emit(Event{Kind: EventAutoShutdown, Time: now, Member: m.id()})
	g.beginShutdown(now, fmt.Sprintf("automatic shutdown (%v): significant member %q ended", g.cfg.AutoShutdown, m.id()))
}

// failGroup ends the group with err, for why, m's exit being the cause:
// every member stops in reverse order, and Err returns err.
func (g *Group) failGroup(now time.Time, m *member, err error, why string) {
	g.err = err
	g.emit(Event{Kind: EventGroupFailed, Time: now, Member: m.id(), Reason: g.err.Error()})
	g.beginShutdown(now, "group failed: "+why)
}

// subEnded is told by the nested group of m that it stopped or failed. To
// g that is the end of a member: one it stopped itself, or one that
// failed (abnormal) or shut down on its own (normal), which goes through
// the chain as a slot's exit does: its restart type, the intensity, the
// strategy (a nested group has no budget or backoff of its own).
func (g *Group) subEnded(m *member, now time.Time) {
	g.t.advanceNow = true
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
	case m.restartWhenStopped:
		m.restartWhenStopped, m.subHalted = false, false
		if g.state != GroupShuttingDown && !g.state.over() {
			sub.start(now, g.ctx)
		}
		return
	case m.subHalted:
		return // g stopped it: the walk in progress carries on
	}
	kind, why := Succeeded, "nested group stopped: "+sub.reason
	if sub.state == GroupFailed {
		kind, why = Failed, sub.err.Error()
	}
	switch {
	case !sub.cfg.Restart.restarts(kind):
		g.memberEnded(m, now)
	case g.admit(m, now, why):
		g.memberFailed(m, now, now)
	}
}

// memberTouched lets the group see what a method that changed member slot
// m.slot (and refiled it in the tree's schedule) means for it: a member its
// start in order passed over while paused starts once resumed, a removed
// one leaves once stopped, and a restart whose backoff has passed starts.
func (g *Group) memberTouched(m *member, now time.Time) {
	t, s := g.t, m.slot
	switch {
	case s.passedOver() && g.ctx != nil &&
		(g.state == GroupRunning || g.state == GroupStarting || g.state == GroupRestarting):
		s.groupStart(g.ctx, t.lastNow, false)
	case s.op == OperationRemoved:
		m.leaving = true
		g.dropIfStopped(m, t.lastNow)
	default:
		g.restartIfDue(m, now)
	}
}
