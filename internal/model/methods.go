package model

import (
	"fmt"
	"time"
)

// This file holds the slot's own methods as the contract states them:
// Start, Collect and what an exit plans, Cancel, Abandon, Advance.

// Start is ChildSlot.Start with a live parent context.
func (s *Slot) Start(now time.Duration) Error {
	defer s.settle()
	if e := s.opErr(); e != OK {
		return e
	}
	if s.held != nil {
		return ErrActive
	}
	s.at(now)
	s.parentDone = false // a new parent
	s.started, s.over, s.restartDue = true, false, false
	if s.pending != nil {
		s.startPending()
	} else {
		s.launch()
	}
	return OK
}

func (s *Slot) opErr() Error {
	switch s.op {
	case Paused:
		return ErrPaused
	case Quarantined:
		return ErrQuarantined
	case Removed:
		return ErrRemoved
	}
	return OK
}

func (s *Slot) launch() {
	s.attempts++
	s.held = &Attempt{Number: s.attempts, Generation: s.gen, StartedAt: s.now, Obeys: true}
	s.stop = StopIdle
	s.restartDue = false
}

// Collect is ChildSlot.Collect.
func (s *Slot) Collect(now time.Duration) (ExitRef, Error) {
	defer s.settle()
	a := s.held
	switch {
	case a == nil && s.op == Removed:
		return ExitRef{}, ErrRemoved
	case a == nil:
		return ExitRef{}, ErrNoAttempt
	case !a.Returned:
		return ExitRef{}, ErrNotDone
	}
	s.at(now)
	s.held = nil
	s.exits++
	if s.stop == StopCancelDelivered {
		s.stop = StopCompleted
	}
	s.lastExit = ExitRef{a.Exit, a.Number, a.Generation}
	s.plan(a.Exit, a.ReturnedAt-a.StartedAt)
	return s.lastExit, OK
}

// plan decides what follows an exit of kind k from an attempt that ran for
// ran.
func (s *Slot) plan(k Kind, ran time.Duration) {
	switch {
	case s.op == Removed:
		return
	case s.pending != nil:
		s.setPhase(ReadyToStart)
		s.fenceReadyAt = s.now
		return
	case s.op != Active:
		return
	case s.parentDone:
		s.over = true
		return
	case !s.cfg.Policy.restarts(k):
		s.over = true
		return
	}
	if used := s.used(); used >= s.cfg.RestartLimit {
		reason := fmt.Sprintf("restart limit reached: %d restarts within %v", used, s.cfg.RestartWindow)
		s.lastFailure = Failure{Op: "restart", Reason: reason}
		s.quarantine(reason, false)
		return
	}
	if ran >= s.cfg.BackoffResetAfter {
		s.backoffN = 0
	}
	d := s.delay(s.backoffN)
	s.backoffN++
	s.restartDue, s.restartAt = true, s.now+d
}

// delay is the n-th backoff delay: Initial doubled n times, capped at Max.
func (s *Slot) delay(n int) time.Duration {
	if s.cfg.NoDelay {
		return 0
	}
	d := s.cfg.BackoffInitial
	for range n {
		if d >= s.cfg.BackoffMax {
			break
		}
		d *= 2
	}
	return min(d, s.cfg.BackoffMax)
}

// used is how many automatic restarts count now: those younger than the
// window, never more than the limit.
func (s *Slot) used() int {
	n := 0
	for _, r := range s.history {
		if s.now-r < s.cfg.RestartWindow {
			n++
		}
	}
	return min(n, s.cfg.RestartLimit)
}

// Cancel is ChildSlot.Cancel.
func (s *Slot) Cancel(now time.Duration) bool {
	defer s.settle()
	s.at(now)
	a := s.held
	switch {
	case a == nil:
		s.stop = StopNoActiveAttempt
		return false
	case a.Cancelled || a.Returned:
		return false
	}
	s.cancel(a, Cancelled)
	return true
}

func (s *Slot) cancel(a *Attempt, cause Kind) {
	a.Cancelled = true
	if a.Cause == NoExit {
		a.Cause = cause
	}
	a.StopBy = s.now + s.cfg.StopTimeout
	s.stop = StopCancelDelivered
}

// Abandon is ChildSlot.Abandon.
func (s *Slot) Abandon(now time.Duration) (ExitRef, bool) {
	defer s.settle()
	a := s.held
	if a == nil || a.Returned {
		return ExitRef{}, false
	}
	s.at(now)
	return s.abandon(a), true
}

func (s *Slot) abandon(a *Attempt) ExitRef {
	if !a.Cancelled {
		s.cancel(a, Cancelled)
	}
	s.held = nil
	s.exits++
	s.abandoned = append(s.abandoned, a)
	s.abandonedTotal++
	s.stop = StopFailed
	s.lastExit = ExitRef{Abandoned, a.Number, a.Generation}
	s.plan(Abandoned, s.now-a.StartedAt)
	return s.lastExit
}

// Advance is ChildSlot.Advance.
func (s *Slot) Advance(now time.Duration) {
	defer s.settle()
	s.at(now)
	kept := s.abandoned[:0]
	for _, a := range s.abandoned {
		if !a.Returned {
			kept = append(kept, a)
			continue
		}
		s.staleReports++
		s.lastStale = ExitRef{a.Exit, a.Number, a.Generation}
	}
	s.abandoned = kept
	if a := s.held; a != nil && !a.Returned {
		s.check(a)
	}
	if s.held == nil {
		s.startDue()
	}
}

// check applies the running attempt's deadlines.
func (s *Slot) check(a *Attempt) {
	if a.Cancelled {
		if s.now < a.StopBy {
			return
		}
		if s.pending != nil {
			s.setPhase(AbandoningOld)
		}
		s.abandon(a)
		return
	}
	switch {
	case s.parentDone:
		s.cancel(a, Cancelled)
	case s.cfg.AttemptTimeout > 0 && s.now >= a.StartedAt+s.cfg.AttemptTimeout:
		s.cancel(a, TimedOut)
	case s.cfg.HeartbeatTimeout > 0 && s.now >= s.staleAt(a):
		s.cancel(a, Unhealthy)
	case s.cfg.ReadyTimeout > 0 && !a.EverReady && s.now >= a.StartedAt+s.cfg.ReadyTimeout:
		s.cancel(a, Unhealthy)
	}
}

// staleAt is when a goes stale: HeartbeatTimeout after its latest beat, or
// after its start before the first beat.
func (s *Slot) staleAt(a *Attempt) time.Duration {
	from := a.StartedAt
	if a.Beaten && a.LastBeat > from {
		from = a.LastBeat
	}
	return from + s.cfg.HeartbeatTimeout
}

func (s *Slot) startDue() {
	if s.phase == ReadyToStart && s.pending != nil {
		if s.parentDone {
			s.dropPending()
			s.over = true
			return
		}
		s.startPending()
		return
	}
	if !s.restartDue || s.op != Active {
		return
	}
	if s.parentDone {
		s.restartDue, s.over = false, true
		return
	}
	if s.now < s.restartAt {
		return
	}
	s.history = append(s.history, s.now)
	s.restarts++
	s.launch()
}
