package supervisor

import "time"

// Advance does what is due at now: it notices abandoned attempts that have
// finally returned (recording a StaleReport each), cancels an attempt whose
// deadline passed, whose heartbeat went stale or that missed its readiness
// deadline, abandons one that ignored cancellation past StopTimeout, and
// starts a due restart. Apart from recording late returns, which it checks
// without blocking on every call (they have no deadline: a loop learns of
// them through Config.Exits or at its next wake-up), it does nothing before
// NextDeadline. It does not allocate in the steady state. Advance never
// collects an exit: Collect does.
func (s *ChildSlot) Advance(now time.Time) {
	if !s.valid() || s.hooks&hookEmitting != 0 {
		return
	}
	s.advance(now)
	s.report(s.lastNow, nil, nil) // a member's group may have a restart to perform
}

// advance is Advance on a valid slot, without telling its group.
func (s *ChildSlot) advance(now time.Time) {
	now = s.clamp(now)
	if s.reaping {
		s.reap(now)
	}
	if a := s.active; a != nil {
		s.reportPid(a, now)
		if !a.isDone() {
			s.check(a, now)
		}
	}
	if s.active == nil {
		s.startDue(now)
	}
	if s.hooks&hookFiled != 0 {
		s.schedule.file(s)
	}
}

// reap records a stale report for each abandoned attempt that has returned.
func (s *ChildSlot) reap(now time.Time) {
	kept := s.abandoned[:0]
	for _, a := range s.abandoned {
		if !a.isDone() {
			kept = append(kept, a)
			continue
		}
		e := s.exitOf(a, now)
		c := s.coldState()
		c.lastStale = &StaleReport{
			Generation: a.generation, Attempt: a.number,
			Kind: e.Kind, Reason: e.Reason, ObservedAt: s.base.wall(now),
		}
		c.staleReports++
		s.emitExit(Event{Kind: EventStaleReport, Time: now, Attempt: a.number, Generation: a.generation}, &e)
	}
	clear(s.abandoned[len(kept):])
	s.abandoned = kept
	s.reaping = len(kept) != 0
}

// check applies the active, running attempt's deadlines at now.
func (s *ChildSlot) check(a *Attempt, now time.Time) {
	if a.cancelled {
		if now.Before(s.cold.stopBy) { // cancelAttempt set it
			return
		}
		// A process is killed, not abandoned: exec sends SIGKILL at the
		// grace; give the kernel one more StopTimeout to reap it.
		if s.kill(a, now) {
			return
		}
		if s.pending != nil {
			s.setPhase(FenceAbandoningOld, now)
		}
		s.abandon(a, now)
		return
	}
	n := s.base.nanos(now)
	switch {
	case s.parent.Err() != nil:
		s.cancelAttempt(a, now, causeParent)
	case s.attemptTimeout > 0 && n >= addSat(a.startNanos, s.attemptTimeout):
		s.cancelAttempt(a, now, causeTimeout)
	case s.heartbeatTimeout > 0 && n >= a.sig.staleAt(a.startNanos, s.heartbeatTimeout):
		s.cancelAttempt(a, now, causeStale)
	case s.readyTimeout > 0 && !s.wasReady(a) && n >= addSat(a.startNanos, s.readyTimeout):
		s.cancelAttempt(a, now, causeNotReady)
	}
}

func (s *ChildSlot) wasReady(a *Attempt) bool {
	_, ever := a.sig.readiness()
	return ever
}

// startDue starts a pending fenced restart or a due automatic restart.
func (s *ChildSlot) startDue(now time.Time) {
	if s.phase == FenceReadyToStart && s.pending != nil {
		if s.parent.Err() != nil {
			s.dropPending(now)
			s.final = true
			return
		}
		s.startPending(now)
		return
	}
	if !s.restartDue || s.op != OperationActive || s.m != nil {
		return // a member's restart is its group's to perform (restartIfDue)
	}
	if s.parent.Err() != nil {
		s.restartDue = false
		s.final = true
		return
	}
	if !now.Before(s.restartAt) {
		s.restartNow(now)
	}
}

// NextDeadline returns when Advance next has something to do: the earliest
// of the due restart, the stop deadline of a cancelled attempt, and the
// attempt, heartbeat and readiness deadlines of a running one. It reports
// false when nothing is scheduled (an exit is signalled by Done instead).
// A deadline may be in the past: Advance is then due at once.
func (s *ChildSlot) NextDeadline() (time.Time, bool) {
	if !s.valid() {
		return time.Time{}, false
	}
	if a := s.active; a != nil {
		return s.attemptDeadline(a)
	}
	var d deadline
	if s.phase == FenceReadyToStart && s.pending != nil {
		d.offer(s.coldView().fenceReadyAt)
	}
	if s.restartDue && s.op == OperationActive {
		d.offer(s.restartAt)
	}
	return d.at, d.ok
}

// attemptDeadline returns the earliest deadline of the active attempt a.
func (s *ChildSlot) attemptDeadline(a *Attempt) (time.Time, bool) {
	var d deadline
	switch {
	case a.isDone():
	case a.cancelled:
		d.offer(s.cold.stopBy) // cancelAttempt set it
	case s.parent.Err() != nil:
		d.offer(s.lastNow)
	default:
		if t := s.attemptTimeout; t > 0 {
			d.offer(a.startedAt.Add(t))
		}
		if t := s.heartbeatTimeout; t > 0 {
			d.offer(s.base.instant(a.sig.staleAt(a.startNanos, t)))
		}
		if t := s.readyTimeout; t > 0 && !s.wasReady(a) {
			d.offer(a.startedAt.Add(t))
		}
	}
	return d.at, d.ok
}

// deadline keeps the earliest of the instants offered to it.
type deadline struct {
	at time.Time
	ok bool
}

func (d *deadline) offer(t time.Time) {
	if !d.ok || t.Before(d.at) {
		d.at, d.ok = t, true
	}
}
