package model

import (
	"time"
)

// This file holds the operator's controls (Pause, Resume, Quarantine,
// Remove, Restart and its fence) and what the slot shows (View).

// Pause is ChildSlot.Pause.
func (s *Slot) Pause(now time.Duration) Error {
	defer s.settle()
	switch s.op {
	case Paused:
		return OK
	case Quarantined:
		return ErrQuarantined
	case Removed:
		return ErrRemoved
	}
	s.at(now)
	s.op = Paused
	s.halt(true)
	return OK
}

// halt drops what would start next and cancels the running attempt.
func (s *Slot) halt(requested bool) {
	s.restartDue = false
	if s.pending != nil {
		s.dropPending()
	}
	switch a := s.held; {
	case a == nil:
		if requested {
			s.stop = StopNoActiveAttempt
		}
	case !a.Cancelled && !a.Returned:
		s.cancel(a, Cancelled)
	}
}

// Resume is ChildSlot.Resume.
func (s *Slot) Resume(now time.Duration) Error {
	defer s.settle()
	switch {
	case s.op == Removed:
		return ErrRemoved
	case s.op == Active:
		return OK
	case !s.started:
		s.op, s.qReason = Active, ""
		return OK
	case s.parentDone:
		return ErrParentDone
	}
	s.at(now)
	s.op, s.qReason, s.over = Active, "", false
	s.history = nil
	s.backoffN = 0
	s.fence()
	return OK
}

// Quarantine is ChildSlot.Quarantine.
func (s *Slot) Quarantine(now time.Duration, reason string) Error {
	defer s.settle()
	switch s.op {
	case Quarantined:
		return OK
	case Removed:
		return ErrRemoved
	}
	s.at(now)
	s.quarantine(reason, true)
	return OK
}

func (s *Slot) quarantine(reason string, requested bool) {
	s.op, s.qReason = Quarantined, reason
	s.halt(requested)
}

// Remove is ChildSlot.Remove.
func (s *Slot) Remove(now time.Duration) Error {
	defer s.settle()
	if s.op == Removed {
		return ErrRemoved
	}
	s.at(now)
	s.op, s.qReason = Removed, ""
	s.halt(true)
	s.setPhase(Closed)
	return OK
}

// Restart is ChildSlot.Restart.
func (s *Slot) Restart(now time.Duration) (Decision, Error) {
	defer s.settle()
	s.at(now)
	e := OK
	switch {
	case s.op != Active:
		e = s.opErr()
	case !s.started:
		e = ErrNotStarted
	case s.parentDone:
		e = ErrParentDone
	}
	if e != OK {
		s.lastFailure = Failure{Op: "restart", Err: e}
		return Rejected, e
	}
	if s.pending != nil {
		p := *s.pending
		p.Merged++
		s.pending = &p
		return AlreadyPending, OK
	}
	s.over = false
	return s.fence(), OK
}

// fence opens a new generation: at once with nothing held, otherwise once
// the held attempt is gone.
func (s *Slot) fence() Decision {
	s.restartDue = false
	s.genIssued++
	s.pending = &Pending{Generation: s.genIssued}
	if s.held == nil {
		s.startPending()
		return StartedImmediately
	}
	s.setPhase(WaitingForOldStop)
	if a := s.held; !a.Cancelled && !a.Returned {
		s.cancel(a, Cancelled)
	}
	return QueuedAfterStop
}

func (s *Slot) startPending() {
	s.gen = s.pending.Generation
	s.pending = nil
	s.setPhase(Open)
	s.launch()
}

func (s *Slot) dropPending() {
	s.pending = nil
	s.setPhase(Open)
}

func (s *Slot) setPhase(p Phase) {
	if s.phase != Closed {
		s.phase = p
	}
}

// View returns what the slot shows at now.
func (s *Slot) View(now time.Duration) View {
	now = s.at(now)
	v := View{
		Generation: s.gen, Attempt: s.attempts, Restarts: s.restarts,
		Exits: s.exits, AbandonedTotal: s.abandonedTotal, StaleReports: s.staleReports,
		Abandoned: len(s.abandoned), Active: s.held != nil,
		Status: s.status(), Operation: s.op, QuarantineReason: s.qReason,
		Stop: s.stop, Phase: s.phase,
		LastExit: s.lastExit, LastStale: s.lastStale, LastFailure: s.lastFailure,
		Used: s.used(),
	}
	v.Exhausted = v.Used >= s.cfg.RestartLimit
	if s.pending != nil {
		p := *s.pending
		v.Pending = &p
	}
	if s.restartDue && s.op == Active && s.held == nil {
		v.RestartScheduled, v.NextRestartAt = true, s.restartAt
	}
	if a := s.held; a != nil && !a.Returned {
		v.Beaten, v.Readiness = a.Beaten, a.Readiness
		v.Stale = s.cfg.HeartbeatTimeout > 0 && !a.Cancelled && now >= s.staleAt(a)
	}
	v.Finished = s.held == nil && (s.op == Removed || (s.started && s.over && s.pending == nil))
	v.Deadline, v.HasDeadline = s.deadline()
	return v
}

func (s *Slot) status() Status {
	a := s.held
	switch {
	case a == nil || a.Returned:
		return Stopped
	case a.Cancelled:
		return Cancelling
	case a.Readiness == ReadinessReady:
		return Ready
	case a.Signalled || (s.cfg.HeartbeatTimeout == 0 && s.cfg.ReadyTimeout == 0):
		return Running
	}
	return Starting
}

// deadline is NextDeadline: when Advance next has something to do.
func (s *Slot) deadline() (time.Duration, bool) {
	var at time.Duration
	ok := false
	offer := func(t time.Duration) {
		if !ok || t < at {
			at, ok = t, true
		}
	}
	if a := s.held; a != nil {
		switch {
		case a.Returned:
		case a.Cancelled:
			offer(a.StopBy)
		case s.parentDone:
			offer(s.now)
		default:
			if t := s.cfg.AttemptTimeout; t > 0 {
				offer(a.StartedAt + t)
			}
			if s.cfg.HeartbeatTimeout > 0 {
				offer(s.staleAt(a))
			}
			if t := s.cfg.ReadyTimeout; t > 0 && !a.EverReady {
				offer(a.StartedAt + t)
			}
		}
		return at, ok
	}
	if s.phase == ReadyToStart && s.pending != nil {
		offer(s.fenceReadyAt)
	}
	if s.restartDue && s.op == Active {
		offer(s.restartAt)
	}
	return at, ok
}
