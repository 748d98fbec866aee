// Package model is a reference model of a supervisor slot: a pure,
// deterministic state machine over plain values, written from the package's
// contract (the design's API.md and the semantics it is built to) and not
// from its code, so that a test can drive the real slot and the model with
// the same steps and demand that they agree.
//
// The model knows what the real slot cannot: what each child does. The
// caller tells it when a child beats, reports readiness, returns, panics or
// decides to ignore cancellation, and when time passes; the model then works
// out, as the package promises to, what the slot shows.
//
// Times are durations since an origin the caller picks (in a test, the
// instant the slot was made). A Slot belongs to one goroutine; it starts
// none and reads no clock.
package model

import (
	"fmt"
	"time"
)

// Config is the slot configuration the model understands: every field is
// taken as given (no defaults). The backoff doubles from BackoffInitial to
// BackoffMax without jitter.
type Config struct {
	Policy           Policy
	RestartLimit     int
	RestartWindow    time.Duration
	StopTimeout      time.Duration
	AttemptTimeout   time.Duration // 0: none
	HeartbeatTimeout time.Duration // 0: off
	ReadyTimeout     time.Duration // 0: off

	BackoffInitial    time.Duration
	BackoffMax        time.Duration
	BackoffResetAfter time.Duration
	NoDelay           bool
}

// Attempt is the model of one attempt: what the slot knows of it and what
// its child is doing.
type Attempt struct {
	Number, Generation uint64
	StartedAt          time.Duration

	// Obeys reports whether the child returns as soon as its context ends.
	Obeys bool
	// Cancelled reports whether the slot delivered a cancellation; StopBy
	// is then when it abandons the attempt.
	Cancelled bool
	StopBy    time.Duration
	// Cause is the kind named by whatever ended the attempt's context first
	// (NoExit while it is live).
	Cause Kind

	// Returned reports whether the child has returned, at ReturnedAt, with
	// an exit of kind Exit.
	Returned   bool
	ReturnedAt time.Duration
	Exit       Kind

	Beaten    bool
	LastBeat  time.Duration
	Signalled bool // beat or said anything about readiness
	Readiness Readiness
	EverReady bool
}

// ExitRef names an exit: its kind and the attempt it ended.
type ExitRef struct {
	Kind       Kind
	Attempt    uint64
	Generation uint64
}

// Pending is a fenced restart waiting to start.
type Pending struct {
	Generation uint64
	Merged     int
}

// Failure is the last control failure: a restart refused by the limit
// (Reason holds the text) or an operator Restart rejected with Err.
type Failure struct {
	Op     string
	Reason string
	Err    Error
}

// View is what the slot shows at an instant: the fields of its record, its
// next deadline and whether it is finished.
type View struct {
	Generation, Attempt, Restarts uint64
	Exits, AbandonedTotal         uint64
	StaleReports                  uint64
	Abandoned                     int
	Active                        bool

	Status           Status
	Operation        Operation
	QuarantineReason string
	Stop             Stop
	Phase            Phase
	Pending          *Pending

	LastExit    ExitRef
	LastStale   ExitRef
	LastFailure Failure

	RestartScheduled bool
	NextRestartAt    time.Duration

	Used      int
	Exhausted bool

	Stale     bool
	Beaten    bool
	Readiness Readiness

	Finished    bool
	HasDeadline bool
	Deadline    time.Duration
}

// Slot is the model of one supervisor slot.
type Slot struct {
	cfg Config
	now time.Duration

	op      Operation
	qReason string
	phase   Phase
	stop    Stop

	started    bool
	over       bool // stopped for good until an operator or Start says otherwise
	parentDone bool

	gen, genIssued uint64
	attempts       uint64
	restarts       uint64
	exits          uint64
	abandonedTotal uint64
	staleReports   uint64

	held      *Attempt
	abandoned []*Attempt // abandoned attempts not yet reported, oldest first

	pending      *Pending
	fenceReadyAt time.Duration

	restartDue bool
	restartAt  time.Duration
	history    []time.Duration // automatic restarts, oldest first
	backoffN   int

	lastExit    ExitRef
	lastStale   ExitRef
	lastFailure Failure
}

// New returns the model of a slot made at time 0 with cfg.
func New(cfg Config) *Slot {
	return &Slot{cfg: cfg, gen: 1, genIssued: 1}
}

// at moves the model's clock to now; time never runs backwards.
func (s *Slot) at(now time.Duration) time.Duration {
	if now > s.now {
		s.now = now
	}
	return s.now
}

// Now returns the latest time the model has seen.
func (s *Slot) Now() time.Duration { return s.now }

// Held returns a copy of the held attempt (running, or returned and not
// collected).
func (s *Slot) Held() (Attempt, bool) {
	if s.held == nil {
		return Attempt{}, false
	}
	return *s.held, true
}

// Running returns the numbers of the attempts whose child has not returned:
// the held one first, if it runs, then the abandoned ones, oldest first.
func (s *Slot) Running() []uint64 {
	var out []uint64
	if s.held != nil && !s.held.Returned {
		out = append(out, s.held.Number)
	}
	for _, a := range s.abandoned {
		if !a.Returned {
			out = append(out, a.Number)
		}
	}
	return out
}

// attempt returns the attempt numbered n whose child has not returned.
func (s *Slot) attempt(n uint64) *Attempt {
	if s.held != nil && s.held.Number == n && !s.held.Returned {
		return s.held
	}
	for _, a := range s.abandoned {
		if a.Number == n && !a.Returned {
			return a
		}
	}
	return nil
}

// ---- time and children ----------------------------------------------------

// Tick lets time pass to now: attempt deadlines fire on their own (the
// attempt's context ends as TimedOut), and obedient children return.
func (s *Slot) Tick(now time.Duration) {
	now = s.at(now)
	if t := s.cfg.AttemptTimeout; t > 0 {
		for _, a := range s.live() {
			if at := a.StartedAt + t; a.Cause == NoExit && now >= at {
				a.Cause = TimedOut
				if a.Obeys { // it returned when the deadline fired
					s.ret(a, ReturnError, at)
				}
			}
		}
	}
	s.settle()
}

// live returns every attempt whose child has not returned.
func (s *Slot) live() []*Attempt {
	var out []*Attempt
	if s.held != nil && !s.held.Returned {
		out = append(out, s.held)
	}
	for _, a := range s.abandoned {
		if !a.Returned {
			out = append(out, a)
		}
	}
	return out
}

// settle returns every obedient child whose context has ended.
func (s *Slot) settle() {
	for _, a := range s.live() {
		if a.Obeys && a.Cause != NoExit {
			s.ret(a, ReturnError, s.now)
		}
	}
}

func (s *Slot) ret(a *Attempt, o Outcome, at time.Duration) {
	a.Returned = true
	a.ReturnedAt = at
	a.Exit = classify(o, a.Cause)
}

// classify is the kind of an exit: a panic, then Goexit, then whatever
// ended the context, then what the child returned.
func classify(o Outcome, cause Kind) Kind {
	switch {
	case o == Panic:
		return Panicked
	case o == Goexit:
		return Failed
	case cause != NoExit:
		return cause
	case o == ReturnError:
		return Failed
	default:
		return Succeeded
	}
}

// Return makes the child of attempt n return with o at now. It reports
// false when that child is not running.
func (s *Slot) Return(n uint64, o Outcome, now time.Duration) bool {
	s.at(now)
	a := s.attempt(n)
	if a == nil {
		return false
	}
	s.ret(a, o, s.now)
	return true
}

// Obey sets whether the child of attempt n returns as soon as its context
// ends; one told to obey a context that has ended returns at once.
func (s *Slot) Obey(n uint64, obey bool, now time.Duration) bool {
	s.at(now)
	a := s.attempt(n)
	if a == nil {
		return false
	}
	a.Obeys = obey
	s.settle()
	return true
}

// Beat records a heartbeat of attempt n's child at now.
func (s *Slot) Beat(n uint64, now time.Duration) bool {
	now = s.at(now)
	a := s.attempt(n)
	if a == nil {
		return false
	}
	a.Beaten, a.LastBeat, a.Signalled = true, now, true
	return true
}

// SetReadiness records what attempt n's child says about being ready.
func (s *Slot) SetReadiness(n uint64, r Readiness, now time.Duration) bool {
	s.at(now)
	a := s.attempt(n)
	if a == nil {
		return false
	}
	a.Readiness, a.Signalled = r, true
	if r == ReadinessReady {
		a.EverReady = true
	}
	return true
}

// CancelParent ends the parent context given to Start: every live attempt's
// context ends with it.
func (s *Slot) CancelParent(now time.Duration) {
	s.at(now)
	if !s.started {
		return
	}
	s.parentDone = true
	for _, a := range s.live() {
		if a.Cause == NoExit {
			a.Cause = Cancelled
		}
	}
	s.settle()
}

// ---- the slot's methods ---------------------------------------------------

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

// ---- what the slot shows ----------------------------------------------------

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
