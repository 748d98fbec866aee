package supervisor

import "time"

// This file holds how a slot stops an attempt: cancellation, abandonment,
// and the kill of a process.

// Cancel asks the active attempt to stop, cooperatively, by cancelling its
// context; the attempt is abandoned if it has not returned StopTimeout
// later. Cancel reports whether it delivered a cancellation: true on the
// first delivery only, false with no attempt running or one already
// cancelled or returned. Cancel does not stop later restarts: Pause does.
func (s *ChildSlot) Cancel(now time.Time) bool {
	if s.enter() != nil {
		return false
	}
	defer s.refile()
	now = s.clamp(now)
	a := s.active
	if a == nil {
		s.stop = StopNoActiveAttempt
		return false
	}
	if a.cancelled || a.isDone() {
		return false
	}
	s.cancelAttempt(a, now, causeCancel)
	s.touched()
	return true
}

// cancelAttempt cancels a with cause c at now and starts its stop deadline.
func (s *ChildSlot) cancelAttempt(a *Attempt, now time.Time, c *stopCause) {
	// The cold state may need allocating: do it before the child is woken,
	// so that cancelling takes no longer than it did.
	s.coldState().stopBy = now.Add(s.cfg.StopTimeout)
	a.cancel(c)
	a.cancelled = true
	s.stop = StopCancelDelivered
	s.emit(Event{Kind: EventCancelled, Time: now, Attempt: a.number, Generation: a.generation, Reason: c.reason})
}

// Abandon gives up on the active attempt, which has not returned: it is
// cancelled if it was not, detached with an Abandoned exit, counted in
// Record.Abandoned, and the next step planned as after any exit. When the
// goroutine finally returns, Advance records a StaleReport and changes
// nothing else. Abandon reports false, and does nothing, with no attempt or
// one that has already returned (Collect it).
//
// A process child ([Process]) is killed, never abandoned: Abandon sends it
// SIGKILL and reports false, and its exit, with the signal, arrives through
// Done and Collect as usual. Only if it has still not been reaped
// StopTimeout after the kill does Advance abandon it. An attempt counts as
// a process child once its process has started (before that, while build
// runs, it is a goroutine like any other).
func (s *ChildSlot) Abandon(now time.Time) (Exit, bool) {
	if !s.valid() || s.hooks&hookEmitting != 0 {
		return Exit{}, false
	}
	a := s.active
	if a == nil || a.isDone() {
		return Exit{}, false
	}
	now = s.clamp(now)
	if a.proc.Load() != nil {
		s.kill(a, now) // once: a killed process is waited for
		s.refile()
		s.touched()
		return Exit{}, false
	}
	e := s.abandon(a, now)
	s.refile()
	s.touched()
	return e, true
}

// kill sends SIGKILL to a's process, if a runs one and has not been killed
// yet, cancelling a first if it was not, and gives the kernel one more
// StopTimeout to reap it. It reports whether it killed.
func (s *ChildSlot) kill(a *Attempt, now time.Time) bool {
	p := a.proc.Load()
	if p == nil || a.killExtended {
		return false
	}
	if !a.cancelled {
		s.cancelAttempt(a, now, causeCancel)
	}
	p.kill() // the process may have exited already; nothing to do then
	a.killExtended = true
	s.cold.stopBy = now.Add(s.cfg.StopTimeout) // cancelAttempt allocated cold
	return true
}

// abandon detaches the running attempt a with an Abandoned exit at now and
// plans what follows. The exit's reason says who gave up on a: the stop
// deadline, or the caller before it.
func (s *ChildSlot) abandon(a *Attempt, now time.Time) Exit {
	reason := abandonedEarly
	switch {
	case !a.cancelled || now.Before(s.cold.stopBy):
	case a.killExtended:
		reason = abandonedUnreaped
	default:
		reason = abandonedReason
	}
	return s.abandonWith(a, now, reason)
}

// abandonWith is abandon with the exit's reason given.
func (s *ChildSlot) abandonWith(a *Attempt, now time.Time, reason string) Exit {
	if !a.cancelled {
		s.cancelAttempt(a, now, causeCancel)
	}
	if p := a.proc.Load(); p != nil {
		p.kill() // the process may have exited already; nothing to do then
	}
	e := Exit{
		Kind: Abandoned, Reason: reason,
		Attempt: a.number, Generation: a.generation,
		StartedAt: a.startedAt, ExitedAt: now,
	}
	s.detach(a)
	s.abandoned = append(s.abandoned, a)
	s.reaping = true
	s.coldState().abandonedTotal++
	s.stop = StopFailed
	s.setLastExit(e)
	s.emitExit(Event{Kind: EventAbandoned, Time: now, Attempt: e.Attempt, Generation: e.Generation}, &e)
	s.afterExit(a, &e, now)
	return e
}
