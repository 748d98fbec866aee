package supervisor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// errZeroSlot is what every method of a nil or zero ChildSlot returns.
var errZeroSlot = fmt.Errorf("%w: zero ChildSlot, use NewChildSlot", ErrInvalidConfig)

// ChildSlot supervises one child: it holds at most one running attempt and
// everything the caller's control loop needs to decide what happens next.
// The slot starts no goroutine of its own besides the child's; time moves
// only through the now passed to its methods.
//
// A ChildSlot belongs to the goroutine that runs the control loop: its
// methods are not safe for concurrent use, except Done. The zero ChildSlot
// is unusable: its methods return [ErrInvalidConfig] or do nothing; use
// [NewChildSlot].
type ChildSlot struct {
	// The fields Advance and NextDeadline read come first, so that a loop
	// sweeping many slots touches few cache lines per slot. What only some
	// slots ever need waits behind cold, and the restart tracker is
	// allocated by the first restart: an idle slot stays small.
	fn     ChildFunc
	active *Attempt // the active attempt, for the loop
	// parent is the context given to Start, the parent of every attempt.
	// The slot keeps the Context itself, not only a CancelFunc, because it
	// must derive later attempts from it and see when it ends.
	parent context.Context
	// The attempt's timeouts, from Config; zero is off.
	attemptTimeout   time.Duration
	heartbeatTimeout time.Duration
	readyTimeout     time.Duration
	started          bool
	final            bool // stopped for good: no restart follows its last exit, or the parent ended
	restartDue       bool
	// reaping mirrors len(abandoned) > 0 here in the first cache line:
	// Advance tests it on every call, and reading the slice header instead,
	// two lines further, costs an idle sweep a third more (measured).
	reaping bool
	op      Operation
	stop    StopState
	phase   FencePhase
	// hooks says, in the last byte of the first line, whether OnEvent is
	// running and whether a slotHeap is kept current: Advance tests both
	// on every call.
	hooks slotHooks
	// Second cache line: the clock, lastNow and the base's anchor.
	lastNow   time.Time // latest now seen; earlier ones are clamped to it
	base      timeBase
	abandoned []*Attempt
	pending   *PendingRestart // immutable once published; replaced on change
	restartAt time.Time
	cfg       slotConfig

	current atomic.Pointer[Attempt] // the active attempt, for Done
	queued  bool                    // posted to cfg.Exits and not yet drained; guarded by its mu
	frozen  bool                    // its group is shutting down or over: nothing may start it
	// groupDriven: its group stops and starts it (a walk, or before its
	// first start); its exits end the group's chain at once.
	groupDriven bool
	sched       int32 // index in a slotHeap plus one; zero: in none
	// schedule is the slotHeap the slot keeps its entry current in (with
	// hookFiled set), from track until untrack.
	schedule *slotHeap
	// grp is the group the slot is a member of, m its entry there; both
	// nil for a lone slot. The group decides what follows the slot's
	// exits (group_exit.go).
	grp *Group
	m   *member

	id       string
	gen      uint64 // generation of the current period
	attempts uint64 // attempts started
	restarts uint64 // automatic restarts
	exits    uint64 // exits collected or abandoned

	tracker  *restartCounter // nil until the first restart is planned; see restartTracker
	backoff  backoffSequence
	lastBeat *beatStamp // the latest beat as Liveness reported it
	cold     *slotCold  // nil until first needed; see coldState
}

// slotHooks are flags of a slot that its methods test on entry or exit.
type slotHooks uint8

const (
	// hookEmitting: Config.OnEvent is running; calls that would change the
	// slot are refused with ErrReentrant.
	hookEmitting slotHooks = 1 << iota
	// hookFiled: the slot is filed in s.schedule and refiles itself after
	// every call that may move its NextDeadline.
	hookFiled
)

// refile brings the slot's entry in its slotHeap up to date, if it is
// filed in one.
func (s *ChildSlot) refile() {
	if s.hooks&hookFiled != 0 {
		s.schedule.file(s)
	}
}

// slotConfig is what a slot keeps of its Config, defaults filled, besides
// the attempt's timeouts, which the slot keeps up front: the backoff
// settings live on in the slot's backoff sequence.
type slotConfig struct {
	StopTimeout   time.Duration
	Path          string
	Exits         *ExitQueue
	OnEvent       func(Event)
	RestartLimit  int
	RestartWindow time.Duration
	Restart       RestartType
}

// slotCold is the part of a slot's state that many slots never need: the
// last exit, fences, quarantine, abandoned attempts' reports, control
// failures and record caches. The slot allocates it on first use.
type slotCold struct {
	lastExit       Exit
	lastExitRec    *Exit // lastExit as recorded, built lazily by Record
	abandonedTotal uint64
	staleReports   uint64
	lastStale      *StaleReport
	lastFailure    *ControlFailure
	lastCommand    *CommandRecord        // the latest operator command on a member slot
	exitKinds      [Abandoned + 1]uint64 // exits recorded, by kind
	qReason        string
	genIssued      uint64 // highest generation handed out, pending ones included
	fenceReadyAt   time.Time
	stopBy         time.Time // when the cancelled active attempt is abandoned
	nextKey        time.Time
	nextRec        *time.Time
	listener       listenerFaults // panics of the slot's own OnEvent
}

// noCold stands in, read-only, for the cold state of a slot that has none.
var noCold slotCold

// coldView returns the slot's cold state for reading: the zero state while
// none is allocated. Never write through it.
func (s *ChildSlot) coldView() *slotCold {
	if s.cold == nil {
		return &noCold
	}
	return s.cold
}

// coldState returns the slot's cold state for writing, allocating it on
// first use. Until then no generation beyond the current one was issued.
func (s *ChildSlot) coldState() *slotCold {
	if s.cold == nil {
		s.cold = &slotCold{genIssued: s.gen}
	}
	return s.cold
}

// restartTracker returns the slot's restart tracker, allocating it on first
// use: a slot that never plans a restart carries none. A tracker made later
// behaves as one made at NewChildSlot, since the slot clamps every now.
func (s *ChildSlot) restartTracker() *restartCounter {
	if s.tracker == nil {
		s.tracker = newRestartCounter(s.cfg.RestartLimit, s.cfg.RestartWindow)
	}
	return s.tracker
}

// restartLimit returns the restart limit's state at now; with no tracker
// yet, that of a fresh one, without keeping it.
func (s *ChildSlot) restartLimit(now time.Time) RestartLimit {
	if s.tracker == nil {
		return newRestartCounter(s.cfg.RestartLimit, s.cfg.RestartWindow).state(now)
	}
	return s.tracker.state(now)
}

// NewChildSlot returns a slot that will supervise fn under the name id.
// It returns an error wrapping [ErrInvalidConfig] that names the field when
// id is empty, fn is nil or cfg holds an unusable value. Nothing runs until
// Start.
func NewChildSlot(id string, fn ChildFunc, cfg Config) (*ChildSlot, error) {
	if err := checkID(id); err != nil {
		return nil, err
	}
	if fn == nil {
		return nil, fmt.Errorf("%w: nil ChildFunc", ErrInvalidConfig)
	}
	cfg, err := cfg.withDefaults(id)
	if err != nil {
		return nil, &SlotError{ID: id, Err: err}
	}
	s := &ChildSlot{
		id:               id,
		fn:               fn,
		attemptTimeout:   cfg.AttemptTimeout,
		heartbeatTimeout: cfg.HeartbeatTimeout,
		readyTimeout:     cfg.ReadyTimeout,
		cfg: slotConfig{
			StopTimeout: cfg.StopTimeout,
			Path:        cfg.Path, Exits: cfg.Exits, OnEvent: cfg.OnEvent,
			RestartLimit: cfg.RestartLimit, RestartWindow: cfg.RestartWindow, Restart: cfg.Restart,
		},
		base: newTimeBase(time.Now()),
		gen:  1,
	}
	s.backoff.init(cfg.Backoff)
	return s, nil
}

// ID returns the id the slot was created with.
func (s *ChildSlot) ID() string {
	if s == nil {
		return ""
	}
	return s.id
}

// clock returns the slot's time base, from which its records' wall times
// and its children's heartbeats are measured.
func (s *ChildSlot) clock() timeBase {
	if s == nil {
		return timeBase{}
	}
	return s.base
}

// valid reports whether the slot came from NewChildSlot.
func (s *ChildSlot) valid() bool { return s != nil && s.fn != nil }

// enter returns the error of a call that may change the slot, when it may
// not: the slot is nil or zero, or the call comes from the slot's own
// Config.OnEvent.
func (s *ChildSlot) enter() error {
	if !s.valid() {
		return errZeroSlot
	}
	if s.hooks&hookEmitting != 0 {
		return s.fail(ErrReentrant)
	}
	return nil
}

// clamp returns now, or the latest now seen when now is earlier: time seen
// by the slot never runs backwards.
func (s *ChildSlot) clamp(now time.Time) time.Time {
	if now.Before(s.lastNow) {
		return s.lastNow
	}
	s.lastNow = now
	return now
}

// Start starts the first attempt at now, under ctx, which is the parent of
// this and every later attempt. Start may be called again once a slot has
// nothing running (after a Temporary child ended, say): it then starts a new
// attempt at once in the same generation, without counting a restart.
//
// Start returns [ErrActive] while an attempt runs or waits to be collected,
// [ErrPaused], [ErrQuarantined] or [ErrRemoved] in those operations, an
// error wrapping [ErrInvalidConfig] for a nil ctx, and ctx's cause when ctx
// is already done.
func (s *ChildSlot) Start(ctx context.Context, now time.Time) error {
	if err := s.enter(); err != nil {
		return err
	}
	if s.m != nil {
		return s.fail(fmt.Errorf("%w: a member of group %q is started by its group", ErrInvalidConfig, s.grp.path))
	}
	defer s.refile()
	if ctx == nil {
		return s.fail(fmt.Errorf("%w: nil context", ErrInvalidConfig))
	}
	if err := s.opErr(); err != nil {
		return s.fail(err)
	}
	if s.active != nil {
		return s.fail(ErrActive)
	}
	if ctx.Err() != nil {
		return s.fail(parentDone(ctx))
	}
	now = s.clamp(now)
	s.parent = s.labelled(ctx)
	s.started = true
	s.final = false
	s.restartDue = false
	if s.pending != nil {
		s.startPending(now)
		return nil
	}
	s.launch(now)
	return nil
}

// parentDone is the error of a start refused because the parent context
// ctx has ended: it wraps ctx's cause.
func parentDone(ctx context.Context) error {
	return fmt.Errorf("supervisor: parent context done: %w", context.Cause(ctx))
}

// opErr returns the sentinel for an operation that forbids starting.
func (s *ChildSlot) opErr() error {
	if s.frozen {
		return errFrozen
	}
	switch s.op {
	case OperationPaused:
		return ErrPaused
	case OperationQuarantined:
		return ErrQuarantined
	case OperationRemoved:
		return ErrRemoved
	}
	return nil
}

// launch starts a new attempt at now in the current generation.
func (s *ChildSlot) launch(now time.Time) {
	s.attempts++
	a := &Attempt{
		anchor:     s.base.origin,
		number:     s.attempts,
		generation: s.gen,
		slot:       s,
		startedAt:  now,
		startNanos: s.base.nanos(now),
	}
	if s.m == nil { // a lone slot's loop waits on Done
		a.own = make(chan struct{})
		a.done.Store(&a.own)
	}
	if s.m != nil && s.readyTimeout > 0 {
		a.sig.wakeOnReady() // the group waits for it before starting the next member
	}
	ctx, cancel := context.WithCancelCause(s.parent)
	a.cancel = cancel
	if s.attemptTimeout > 0 {
		ctx, a.stopDeadline = context.WithDeadlineCause(ctx, now.Add(s.attemptTimeout), causeTimeout)
	}
	s.active = a
	s.current.Store(a)
	s.stop = StopIdle
	s.restartDue = false
	// The started event comes before anything the child does, so that logs
	// read in order; the child runs even if a listener panics.
	defer spawn(a, ctx)
	s.emit(Event{Kind: EventStarted, Time: now, Attempt: a.number, Generation: a.generation})
}

// spawn runs attempt a's goroutine under ctx, with the slot's profiler
// labels (labels.go). A function of its own, so that launch defers a call,
// which costs no closure.
func spawn(a *Attempt, ctx context.Context) { go runLabelled(a, ctx) }

// Done returns a channel that is closed when the active attempt returns,
// or nil while no attempt is active (a nil channel blocks in a select, as
// it should). Done is safe to call from any goroutine.
func (s *ChildSlot) Done() <-chan struct{} {
	if s == nil {
		return nil
	}
	if a := s.current.Load(); a != nil {
		return a.doneChan()
	}
	return nil
}

// Collect records how the ended attempt exited and plans what comes next:
// an automatic restart (started by a later Advance), a refused one (the
// slot is quarantined), or nothing. It returns [ErrNoAttempt] when no
// attempt is held (ErrRemoved once a removed slot has finished) and
// [ErrNotDone] while the attempt still runs.
func (s *ChildSlot) Collect(now time.Time) (Exit, error) {
	if err := s.enter(); err != nil {
		return Exit{}, err
	}
	defer s.refile()
	a := s.active
	if a == nil {
		if s.op == OperationRemoved {
			return Exit{}, s.fail(ErrRemoved)
		}
		return Exit{}, s.fail(ErrNoAttempt)
	}
	if !a.isDone() {
		return Exit{}, s.fail(ErrNotDone)
	}
	now = s.clamp(now)
	e := s.exitOf(a, now)
	s.detach(a)
	if s.stop == StopCancelDelivered {
		s.stop = StopCompleted
	}
	s.setLastExit(e)
	s.reportPid(a, now) // a process that exited before the loop saw it run
	s.emitExit(Event{Kind: EventExited, Time: now, Attempt: e.Attempt, Generation: e.Generation}, &e)
	s.afterExit(a, &e, now)
	return e, nil
}

// TryCollect collects the attempt's exit if it has returned, as Collect
// does, and reports whether there was one: with no attempt held, or one
// still running, it reports false with a nil error and changes nothing. It
// is the form for a slot drained from an [ExitQueue], which may have been
// collected already. Its error is only for a real failure: a nil or zero
// slot, or a call from the slot's own OnEvent ([ErrReentrant]).
func (s *ChildSlot) TryCollect(now time.Time) (Exit, bool, error) {
	if err := s.enter(); err != nil {
		return Exit{}, false, err
	}
	if a := s.active; a == nil || !a.isDone() {
		return Exit{}, false, nil
	}
	e, err := s.Collect(now)
	return e, err == nil, err
}

// exitOf builds the exit of the returned attempt a, observed at now. The
// child's own return time is used, kept between the start and now.
func (s *ChildSlot) exitOf(a *Attempt, now time.Time) Exit {
	e := a.exit()
	e.Attempt, e.Generation, e.StartedAt = a.number, a.generation, a.startedAt
	e.ExitedAt = s.base.instant(a.exitNanos)
	if e.ExitedAt.Before(a.startedAt) {
		e.ExitedAt = a.startedAt
	}
	if e.ExitedAt.After(now) {
		e.ExitedAt = now
	}
	return e
}

// detach frees the slot of attempt a and releases a's contexts.
func (s *ChildSlot) detach(a *Attempt) {
	a.cancel(context.Canceled)
	if a.stopDeadline != nil {
		a.stopDeadline()
	}
	s.active = nil
	s.current.Store(nil)
	s.exits++
}

func (s *ChildSlot) setLastExit(e Exit) {
	c := s.coldState()
	c.lastExit = e
	c.lastExitRec = nil
	c.exitKinds[e.Kind]++ // every kind, from classify or abandon, is at most Abandoned
}

// Operation returns the operator's setting of the slot: active, paused,
// quarantined or removed, as Record(now).Operation would, without building
// a record. A loop that waits for its slots to settle stops on
// Finished() || Operation() == OperationQuarantined, since a quarantined
// slot waits for an operator and never finishes on its own. A nil or zero
// slot is OperationRemoved.
func (s *ChildSlot) Operation() Operation {
	if !s.valid() {
		return OperationRemoved
	}
	return s.op
}

// Finished reports whether the slot is done for good and nothing is left
// running: it was removed, or its attempt ended with no restart to follow
// (a Temporary child, a Transient one that ended normally, or the parent
// context ended). A paused or quarantined slot is not finished: an operator
// may resume it (see [ChildSlot.Operation]). Abandoned goroutines do not
// hold Finished back. A nil or zero slot is finished.
func (s *ChildSlot) Finished() bool {
	if !s.valid() {
		return true
	}
	if s.active != nil {
		return false
	}
	return s.op == OperationRemoved || (s.started && s.final && s.pending == nil)
}
