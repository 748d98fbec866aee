package supervisor

import (
	"fmt"
	"time"
)

// This file is what a lone slot decides after an exit, and the restart
// mechanics that both it and a member slot's group use. A member slot
// decides nothing: it reports its exit to its group (report), which runs
// the chain in group_exit.go.

// afterExit hands exit e of attempt a to whoever decides what follows:
// the group of a member slot, the slot's own policy otherwise.
func (s *ChildSlot) afterExit(a *Attempt, e *Exit, now time.Time) {
	if !s.report(now, a, e) {
		s.decideAlone(e, now)
	}
}

// report is the one call from a member slot into its group: its attempt a
// ended with exit e, or, with e nil, one of its methods changed it. It
// reports false for a lone slot, which has no group to tell.
func (s *ChildSlot) report(now time.Time, a *Attempt, e *Exit) bool {
	if s.grp == nil {
		return false
	}
	s.grp.memberChanged(s.m, now, a, e)
	return true
}

// decideAlone decides what follows exit e of a lone slot at now, in the
// order a group's chain takes: the operator's setting, the parent context,
// the child's directive and the restart type, the restart limit, and the
// backoff.
func (s *ChildSlot) decideAlone(e *Exit, now time.Time) {
	switch {
	case s.operatorDecides(now):
	case s.parent.Err() != nil, !s.wantsRestart(e):
		s.end()
	case !s.restartTracker().allow(now):
		s.refuseRestart(e, now)
	default:
		s.scheduleRestart(e, now)
	}
}

// operatorDecides reports whether the operator's setting decides what
// follows an exit at now: a removed, paused or quarantined slot stays down,
// and a fenced operator restart waiting for the exit starts at the next
// Advance.
func (s *ChildSlot) operatorDecides(now time.Time) bool {
	switch {
	case s.op == OperationRemoved:
		return true
	case s.pending != nil:
		s.fenceReady(now)
		return true
	}
	return s.op != OperationActive
}

// wantsRestart reports whether exit e calls for a restart by the slot's
// restart type, with no directive from the child against it.
func (s *ChildSlot) wantsRestart(e *Exit) bool {
	return e.Directive == DirectiveNone && s.cfg.Restart.restarts(e.Kind)
}

// end marks the slot stopped for good: no restart follows its last exit.
func (s *ChildSlot) end() { s.final = true }

// restarts reports whether an exit of kind k is followed by an automatic
// restart under t.
func (t RestartType) restarts(k ExitKind) bool {
	switch t {
	case Permanent:
		return true
	case Transient:
		return k.Abnormal()
	default:
		return false
	}
}

// fenceReady lets the operator restart that waited for the attempt's exit
// start at the next Advance.
func (s *ChildSlot) fenceReady(now time.Time) {
	s.setPhase(FenceReadyToStart, now)
	s.coldState().fenceReadyAt = now
}

// refuseRestart records that the restart limit refused the restart exit e
// asked for, at now, and quarantines the slot for an operator.
func (s *ChildSlot) refuseRestart(e *Exit, now time.Time) {
	lim := s.tracker.state(now)
	reason := fmt.Sprintf("restart limit reached: %d restarts within %v", lim.Used, lim.Window)
	s.failControl("restart", reason, now)
	s.emit(Event{Kind: EventRestartRefused, Time: now, Attempt: e.Attempt, Generation: e.Generation, Reason: reason})
	s.quarantine(now, reason, false)
}

// scheduleRestart plans the restart exit e calls for after the slot's next
// backoff delay, announces it, and returns when it is due.
func (s *ChildSlot) scheduleRestart(e *Exit, now time.Time) time.Time {
	s.backoff.ran(e.Duration())
	d := s.backoff.next()
	s.restartDue = true
	s.restartAt = now.Add(d)
	s.emit(Event{Kind: EventRestartScheduled, Time: now, Attempt: e.Attempt, Generation: e.Generation, Delay: d})
	return s.restartAt
}

// restartReady reports whether the planned restart is due at now and
// nothing holds it back.
func (s *ChildSlot) restartReady(now time.Time) bool {
	return s.restartDue && s.op == OperationActive && s.active == nil && !now.Before(s.restartAt)
}

// restartNow performs the planned restart at now: it counts it in the
// restart limit and starts the next attempt. The caller refiles the slot.
func (s *ChildSlot) restartNow(now time.Time) {
	s.restartTracker().record(now)
	s.restarts++
	s.launch(now)
}
