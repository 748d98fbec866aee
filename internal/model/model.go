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
