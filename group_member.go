package supervisor

import (
	"context"
	"time"
)

// This file is the member slot's side of its group: the group holds, stops
// and starts its slots through the few functions below; the slot tells its
// group what changed through report (slot_policy.go) alone.

// The causes a group gives when it stops a member.
var (
	causeGroupRestart  = &stopCause{Cancelled, "group restart"}
	causeGroupShutdown = &stopCause{Cancelled, "group shutting down"}
)

// ShutdownOutcome says how a member ended in its group's shutdown.
type ShutdownOutcome uint8

// The outcomes. The zero value means the member has not been shut down.
const (
	// OutcomeStopped: it returned after cancellation (a nested group: it
	// shut down in order).
	OutcomeStopped ShutdownOutcome = iota + 1
	// OutcomeAbandoned: it ignored cancellation past its StopTimeout.
	OutcomeAbandoned
	// OutcomeKilled: a process child that had to be killed.
	OutcomeKilled
	// OutcomeAlreadyStopped: nothing was running when the shutdown reached
	// it.
	OutcomeAlreadyStopped
	// OutcomeNotStarted: the shutdown came before the member had ever
	// started (a nested group: it ends stopped, and so do its members).
	OutcomeNotStarted
)

//enum:zero none
var shutdownOutcomeNames = []string{"", "stopped", "abandoned", "killed", "already_stopped", "not_started"}

// outcomeOf says how the stopped attempt a of a member ended, from its exit.
func outcomeOf(a *Attempt, e *Exit) ShutdownOutcome {
	if a.proc.Load() != nil && (e.Kind == Abandoned || a.rare != nil && a.rare.killed) {
		return OutcomeKilled
	}
	if e.Kind == Abandoned {
		return OutcomeAbandoned
	}
	return OutcomeStopped
}

// touched tells a member slot's group that a method changed the slot.
func (s *ChildSlot) touched() { s.report(s.lastNow, nil, nil) }

// joinGroup makes s a member of g, as its entry m: the group collects its
// exits and starts it.
func (s *ChildSlot) joinGroup(g *Group, m *member) {
	s.cfg.Exits = &g.t.q
	s.grp, s.m = g, m
	s.groupDriven = true
}

// moveTo files s's exits in q, under the group path (its group was
// nested in another tree).
func (s *ChildSlot) moveTo(q *ExitQueue, path string) {
	s.cfg.Exits = q
	s.cfg.Path = path + "/" + s.id
}

// leaveGroup makes s a lone slot again.
func (s *ChildSlot) leaveGroup() {
	s.grp, s.m = nil, nil
	s.release()
}

// release gives a slot its group held back to itself: it runs, or an
// operator holds it down.
func (s *ChildSlot) release() { s.groupDriven, s.frozen = false, false }

// heldDown reports whether s is running or an operator holds it down
// (paused, quarantined, removed): either way not the group's to start.
func (s *ChildSlot) heldDown() bool { return s.active != nil || s.op != OperationActive }

// ranTemporary reports whether s is Temporary and has run: a group does
// not start it again.
func (s *ChildSlot) ranTemporary() bool { return s.started && s.cfg.Restart == Temporary }

// passedOver reports whether s never started, was resumed, and waits for
// nobody but its group: a start in order passed it over while paused.
func (s *ChildSlot) passedOver() bool {
	return !s.started && !s.groupDriven && s.op == OperationActive && !s.frozen
}

// waitsForGroup reports whether s waits, stopped, for its group's walk to
// start it.
func (s *ChildSlot) waitsForGroup() bool { return s.groupDriven && s.active == nil && !s.frozen }

// endedForGood reports whether nothing of s runs and nothing will follow.
func (s *ChildSlot) endedForGood() bool {
	return s.active == nil && (s.final || s.op == OperationRemoved)
}

// notReadyYet reports whether s's readiness is watched and it has not
// reported Ready while it runs or is about to run again on its own.
func (s *ChildSlot) notReadyYet() bool {
	if s.readyTimeout == 0 || s.op != OperationActive || s.final || s.groupDriven {
		return false
	}
	if a := s.active; a != nil {
		return !s.wasReady(a)
	}
	return s.restartDue || s.pending != nil
}

// hold hands the slot to its group: its exits end the group's chain at
// once (memberExited), and a planned or fenced restart is dropped. frozen also refuses operator starts (the
// group shuts down).
func (s *ChildSlot) hold(now time.Time, frozen bool) {
	s.groupDriven = true
	s.frozen = s.frozen || frozen
	s.restartDue = false
	if s.pending != nil {
		s.dropPending(now)
	}
}

// groupStop cancels the slot's running attempt for its group, with c, and
// reports whether an attempt is still held (the group then waits for its
// exit, which Advance collects or abandons at StopTimeout).
//
// An attempt already cancelled is waited for, even if it has returned: its
// exit is queued, and a later Advance collects it. Collecting it on the
// spot would make the walk depend on how far a child cancelled in the same
// Advance had run: a shutdown taking over a restart would find the member
// stopped or still stopping by chance. One that returned on its own before
// the walk reached it (a storm's exits wait in the queue beyond a batch)
// is collected on the spot, so that the backlog does not hold the walk up.
func (s *ChildSlot) groupStop(now time.Time, c *stopCause) bool {
	a := s.active
	switch {
	case a == nil:
		return false
	case a.cancelled:
		return true
	case a.isDone():
		_, _ = s.Collect(now) // cannot fail: the attempt is done
		return s.active != nil
	}
	s.cancelAttempt(a, now, c)
	s.refile() // its stop deadline
	return true
}

// groupStart starts a held slot under ctx at now. A slot that ran before
// counts a restart; ownRestart also records it in the slot's own budget
// (the slot failed, and the group's chain allowed the restart).
func (s *ChildSlot) groupStart(ctx context.Context, now time.Time, ownRestart bool) {
	now = s.clamp(now)
	s.groupDriven, s.frozen = false, false
	s.parent = s.labelled(ctx)
	if s.pending != nil { // an operator restart asked for while held: this start supersedes it, as hold does
		s.dropPending(now)
	}
	if s.started {
		s.restarts++
		if ownRestart {
			s.restartTracker().record(now)
		}
	}
	s.started, s.final, s.restartDue = true, false, false
	s.launch(now)
	s.refile()
}
