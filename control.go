package supervisor

import (
	"context"
	"fmt"
	"time"
)

// Pause cancels the running attempt, drops a scheduled or pending restart,
// and starts nothing until Resume. Pausing a paused slot does nothing. It
// returns [ErrQuarantined] on a quarantined slot and [ErrRemoved] on a
// removed one.
func (s *ChildSlot) Pause(now time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.refile()
	switch s.op {
	case OperationPaused:
		return nil
	case OperationQuarantined:
		return s.fail(ErrQuarantined)
	case OperationRemoved:
		return s.fail(ErrRemoved)
	}
	now = s.clamp(now)
	s.op = OperationPaused
	s.halt(now, causePause, true)
	s.emit(Event{Kind: EventPaused, Time: now, Attempt: s.attempts, Generation: s.gen})
	s.touched()
	return nil
}

// halt drops what would start next and cancels the running attempt with c.
// requested says an operator asked for the stop, so that with nothing
// running the stop state says so.
func (s *ChildSlot) halt(now time.Time, c *stopCause, requested bool) {
	s.restartDue = false
	if s.pending != nil {
		s.dropPending(now)
	}
	a := s.active
	switch {
	case a == nil:
		if requested {
			s.stop = StopNoActiveAttempt
		}
	case !a.cancelled && !a.isDone():
		s.cancelAttempt(a, now, c)
	}
}

// Resume lets a paused or quarantined slot run again: it opens a new
// generation with a fresh restart budget and backoff (the restarts counted
// in the window are forgotten and the next delay is Backoff.Initial; an
// operator Restart keeps both), and starts it at once,
// or as soon as the previous attempt has stopped (a fenced start, shown in
// the record). Resuming an active slot does nothing; resuming one paused
// before Start only lifts the pause. It returns [ErrRemoved] on a removed
// slot, and the parent context's cause when that has ended.
func (s *ChildSlot) Resume(now time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.refile()
	switch {
	case s.op == OperationRemoved:
		return s.fail(ErrRemoved)
	case s.op == OperationActive:
		return nil
	case s.started && s.parent.Err() != nil:
		return s.fail(parentDone(s.parent))
	case s.frozen:
		return s.fail(errFrozen)
	}
	s.op = OperationActive
	if s.cold != nil {
		s.cold.qReason = ""
	}
	if !s.started {
		// Nothing ran yet: Start will start it, or, for a member its group
		// passed over while it was paused, the group does now.
		s.touched()
		return nil
	}
	now = s.clamp(now)
	s.final = false
	if s.tracker != nil {
		s.tracker.reset()
	}
	s.backoff.reset()
	s.emit(Event{Kind: EventResumed, Time: now, Attempt: s.attempts, Generation: s.gen})
	s.fence(now)
	s.touched()
	return nil
}

// Quarantine stops the slot for an operator to look at: it cancels the
// running attempt, drops a scheduled or pending restart and records reason.
// Only Resume or Remove lead out of it. Quarantining a quarantined slot
// does nothing; a removed one returns [ErrRemoved].
func (s *ChildSlot) Quarantine(now time.Time, reason string) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.refile()
	switch s.op {
	case OperationQuarantined:
		return nil
	case OperationRemoved:
		return s.fail(ErrRemoved)
	}
	s.quarantine(s.clamp(now), reason, true)
	s.touched()
	return nil
}

func (s *ChildSlot) quarantine(now time.Time, reason string, requested bool) {
	s.op = OperationQuarantined
	s.coldState().qReason = reason
	s.halt(now, &stopCause{Cancelled, "slot quarantined: " + reason}, requested)
	s.emit(Event{Kind: EventQuarantined, Time: now, Attempt: s.attempts, Generation: s.gen, Reason: reason})
}

// Remove ends the slot for good: it cancels the running attempt and drops
// every planned start. Collect, Abandon and Advance still serve the attempt
// that was running; once nothing runs, Finished reports true, and Start,
// the operator controls and Collect return [ErrRemoved].
func (s *ChildSlot) Remove(now time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	defer s.refile()
	if s.op == OperationRemoved {
		return s.fail(ErrRemoved)
	}
	now = s.clamp(now)
	s.op = OperationRemoved
	if s.cold != nil {
		s.cold.qReason = "" // documented as empty unless quarantined
	}
	s.pending = nil // dropped straight into FenceClosed, not through FenceOpen
	s.halt(now, causeRemove, true)
	s.setPhase(FenceClosed, now)
	s.emit(Event{Kind: EventRemoved, Time: now, Attempt: s.attempts, Generation: s.gen})
	s.touched()
	return nil
}

// Restart is a fenced restart into a new generation: with nothing running
// it starts the new generation at once (FenceStartedImmediately);
// otherwise it cancels the running attempt and starts the new generation
// once that has returned and been collected, or been abandoned at its stop
// deadline (FenceQueuedAfterStop). A request while one is pending merges
// with it and allocates no generation (FenceAlreadyPending). On a paused,
// quarantined, removed or never started slot it is FenceRejected with the
// sentinel error saying why. Operator restarts do not count against the
// restart limit, and they keep the restart budget and the backoff as they
// are: the restarts already counted in the window still count, and the next
// automatic restart waits the next delay of the sequence. Resume, by
// contrast, resets both.
func (s *ChildSlot) Restart(now time.Time) (FenceDecision, error) {
	if err := s.enter(); err != nil {
		return FenceRejected, err
	}
	defer s.refile()
	var err error
	switch {
	case s.op != OperationActive, s.frozen:
		err = s.opErr()
	case !s.started:
		err = ErrNotStarted
	case s.parent.Err() != nil:
		err = parentDone(s.parent)
	}
	now = s.clamp(now)
	if err != nil {
		// The record names the slot already: the reason does not repeat it.
		s.failControl("restart", err.Error(), now)
		return FenceRejected, s.fail(err)
	}
	if s.pending != nil {
		p := *s.pending
		p.Merged++
		s.pending = &p // records handed out keep the old value
		return FenceAlreadyPending, nil
	}
	s.final = false
	d := s.fence(now)
	s.touched()
	return d, nil
}

// fence opens a new generation: at once with nothing running, otherwise
// after the running attempt has stopped.
func (s *ChildSlot) fence(now time.Time) FenceDecision {
	s.restartDue = false
	c := s.coldState()
	c.genIssued++
	s.pending = &PendingRestart{Generation: c.genIssued, RequestedAt: s.base.wall(now)}
	if s.active == nil {
		s.startPending(now)
		return FenceStartedImmediately
	}
	s.setPhase(FenceWaitingForOldStop, now)
	if a := s.active; !a.cancelled && !a.isDone() {
		s.cancelAttempt(a, now, causeRestart)
	}
	return FenceQueuedAfterStop
}

// startPending starts the pending generation now and opens the fence. The
// fence opens after the launch, so that its event names the new attempt
// with its generation: before it, s.attempts is still the old generation's.
func (s *ChildSlot) startPending(now time.Time) {
	s.gen = s.pending.Generation
	s.pending = nil
	s.launch(now)
	s.setPhase(FenceOpen, now)
}

func (s *ChildSlot) dropPending(now time.Time) {
	s.pending = nil
	s.setPhase(FenceOpen, now)
}

func (s *ChildSlot) setPhase(p FencePhase, now time.Time) {
	if s.phase == p || s.phase == FenceClosed {
		return
	}
	s.phase = p
	s.emit(Event{Kind: EventFence, Time: now, Attempt: s.attempts, Generation: s.gen, Phase: p})
}

func (s *ChildSlot) failControl(op, reason string, now time.Time) {
	s.coldState().lastFailure = &ControlFailure{Op: op, Reason: reason, At: s.base.wall(now)}
}

// Stop is a blocking convenience for simple programs: it removes the slot,
// waits for the active attempt to return and collects it, or abandons it at
// the stop deadline or when ctx ends. A process child is killed instead of
// abandoned, and Stop waits for its exit, with the signal (abandoning it
// only if it is still not reaped StopTimeout after the kill). Stop returns
// the attempt's exit, or [ErrNoAttempt] when nothing was running (the slot
// is removed all the same). Stop must be called from the loop's goroutine
// like every other method; it reads the clock itself.
func (s *ChildSlot) Stop(ctx context.Context) (Exit, error) {
	if err := s.enter(); err != nil {
		return Exit{}, err
	}
	if ctx == nil {
		return Exit{}, s.fail(fmt.Errorf("%w: nil context", ErrInvalidConfig))
	}
	if s.op != OperationRemoved {
		_ = s.Remove(time.Now()) // cannot fail: the slot is valid and not removed
	}
	a := s.active
	if a == nil {
		return Exit{}, s.fail(ErrNoAttempt)
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	ctxDone, returned := ctx.Done(), a.doneChan()
	for {
		if at, ok := s.NextDeadline(); ok {
			timer.Reset(time.Until(at))
		}
		select {
		case <-returned:
			return s.Collect(time.Now())
		case <-timer.C:
			s.Advance(time.Now())
		case <-ctxDone:
			ctxDone = nil // served once: a killed process is waited for
			now := s.clamp(time.Now())
			switch {
			case a.isDone(): // collected on the next turn
			case a.proc.Load() != nil:
				s.kill(a, now)
			default:
				s.abandonWith(a, now, abandonedByStop)
			}
			s.refile()
		}
		if s.active != a {
			return s.coldView().lastExit, nil
		}
	}
}
