package supervisor

import (
	"log/slog"
	"time"
)

// Status is what the active attempt is doing.
type Status uint8

// The statuses. The zero value is StatusStopped: no attempt is running.
const (
	// StatusStopped: no attempt runs (none started, or the last one returned).
	StatusStopped Status = iota
	// StatusStarting: an attempt runs and has not signalled yet (no beat,
	// no readiness) while the slot watches its heartbeat or readiness.
	StatusStarting
	// StatusRunning: an attempt runs and has signalled, or the slot watches
	// neither heartbeat nor readiness.
	StatusRunning
	// StatusReady: the attempt reported Ready.
	StatusReady
	// StatusCancelling: the attempt was cancelled and has not returned.
	StatusCancelling
)

var statusNames = []string{"stopped", "starting", "running", "ready", "cancelling"}

// Operation is the operator's setting of a slot.
type Operation uint8

// The operations. The zero value is OperationActive.
const (
	// OperationActive: attempts start and restart by policy.
	OperationActive Operation = iota
	// OperationPaused: nothing starts until Resume.
	OperationPaused
	// OperationQuarantined: stopped for an operator to look at (by
	// Quarantine, or because the restart limit refused a restart).
	OperationQuarantined
	// OperationRemoved: ended for good.
	OperationRemoved
)

var operationNames = []string{"active", "paused", "quarantined", "removed"}

// StopState is where the latest request to stop an attempt stands.
type StopState uint8

// The stop states. The zero value is StopIdle.
const (
	// StopIdle: no stop requested since the attempt started.
	StopIdle StopState = iota
	// StopNoActiveAttempt: a stop was requested with nothing running.
	StopNoActiveAttempt
	// StopCancelDelivered: the attempt's context was cancelled; it has not
	// returned.
	StopCancelDelivered
	// StopCompleted: the cancelled attempt returned. It stays visible until
	// the next start.
	StopCompleted
	// StopFailed: the stop deadline passed and the attempt was abandoned.
	StopFailed
)

var stopStateNames = []string{"idle", "no_active_attempt", "cancel_delivered", "completed", "failed"}

// FencePhase is where a fenced restart (Restart, or Resume while the old
// attempt still runs) stands.
type FencePhase uint8

// The fence phases. The zero value is FenceOpen.
const (
	// FenceOpen: no fenced restart pending.
	FenceOpen FencePhase = iota
	// FenceWaitingForOldStop: the old attempt was cancelled; the new
	// generation waits for it to return.
	FenceWaitingForOldStop
	// FenceAbandoningOld: the old attempt passed its stop deadline and is
	// being abandoned.
	FenceAbandoningOld
	// FenceReadyToStart: the old attempt is gone; Advance starts the new
	// generation.
	FenceReadyToStart
	// FenceClosed: the slot was removed; no restart can be fenced.
	FenceClosed
)

var fencePhaseNames = []string{"open", "waiting_for_old_stop", "abandoning_old", "ready_to_start", "closed"}

// FenceDecision is what Restart did with a request.
type FenceDecision uint8

// The decisions. The zero value is not a decision.
const (
	// FenceStartedImmediately: nothing ran; the new generation started.
	FenceStartedImmediately FenceDecision = iota + 1
	// FenceQueuedAfterStop: the running attempt was cancelled; the new
	// generation starts once it is gone.
	FenceQueuedAfterStop
	// FenceAlreadyPending: a restart was pending; the request merged with it.
	FenceAlreadyPending
	// FenceRejected: the slot cannot restart; the error says why.
	FenceRejected
)

var fenceDecisionNames = []string{"", "started_immediately", "queued_after_stop", "already_pending", "rejected"}

// PendingRestart is a fenced restart waiting for the old attempt to stop.
type PendingRestart struct {
	// Generation is the generation the restart will start.
	Generation uint64 `json:"generation"`
	// RequestedAt is when it was requested.
	RequestedAt time.Time `json:"requested_at"`
	// Merged counts the duplicate requests merged into it.
	Merged int `json:"merged"`
}

// StaleReport records, for audit, the late return of an abandoned attempt.
// It changes nothing else in the slot.
type StaleReport struct {
	// Generation and Attempt name the abandoned attempt.
	Generation uint64 `json:"generation"`
	Attempt    uint64 `json:"attempt"`
	// Kind is how it would have been classified had it not been abandoned.
	Kind ExitKind `json:"kind"`
	// Reason explains Kind.
	Reason string `json:"reason,omitempty"`
	// ObservedAt is when Advance noticed the return.
	ObservedAt time.Time `json:"observed_at"`
}

// ControlFailure records a control action that could not be carried out: a
// restart refused by the restart limit, or an operator Restart rejected.
type ControlFailure struct {
	// Op is the action: "restart".
	Op string `json:"op"`
	// Reason says why it failed.
	Reason string `json:"reason"`
	// At is when.
	At time.Time `json:"at"`
}

// Record is a serializable snapshot of a slot: a plain value that may be
// handed to any goroutine and round-trips through encoding/json. Times are
// wall times in UTC derived from the slot's time base, so they never go
// backwards when the system clock steps; durations are whole milliseconds in
// fields ending in _ms. A field that has nothing to say is null.
type Record struct {
	ChildID string `json:"child_id"`
	Path    string `json:"path"`
	// Generation is the current generation; Attempt the number of the latest
	// attempt started; Restarts the automatic restarts so far.
	Generation uint64 `json:"generation"`
	Attempt    uint64 `json:"attempt"`
	Restarts   uint64 `json:"restarts"`

	Status    Status    `json:"status"`
	Operation Operation `json:"operation"`
	StopState StopState `json:"stop_state"`
	// QuarantineReason says why the slot is quarantined; empty otherwise.
	QuarantineReason string `json:"quarantine_reason,omitempty"`

	Liveness      Liveness     `json:"liveness"`
	RestartLimit  RestartLimit `json:"restart_limit"`
	NextRestartAt *time.Time   `json:"next_restart_at"`
	LastExit      *Exit        `json:"last_exit"`

	FencePhase     FencePhase      `json:"fence_phase"`
	PendingRestart *PendingRestart `json:"pending_restart"`

	LastControlFailure *ControlFailure `json:"last_control_failure"`
	// Abandoned counts abandoned attempts whose return Advance has not
	// observed yet.
	Abandoned       int          `json:"abandoned"`
	LastStaleReport *StaleReport `json:"last_stale_report"`

	// Exits counts exits recorded (collected or abandoned), AbandonedTotal
	// the attempts ever abandoned and StaleReports their late returns, so
	// that Attempt == Exits + (1 if an attempt is active).
	Exits          uint64 `json:"exits"`
	AbandonedTotal uint64 `json:"abandoned_total"`
	StaleReports   uint64 `json:"stale_reports"`
	// Active reports whether an attempt is held (running, or returned and
	// not yet collected).
	Active bool `json:"active"`
	// ListenerPanics counts the panics of the slot's own OnEvent,
	// recovered; LastListenerPanic says on which event the latest was, and
	// with what.
	ListenerPanics    uint64 `json:"listener_panics,omitempty"`
	LastListenerPanic string `json:"last_listener_panic,omitempty"`
	// StartedAt is when the held attempt started, on ObservedAt's clock,
	// so that ObservedAt - StartedAt is its uptime; zero (and absent in
	// JSON) when none is held.
	StartedAt time.Time `json:"started_at,omitzero"`
	// ObservedAt is the now the record was taken at. In a tree's
	// Snapshot, a member's record that nothing but time changed since the
	// last snapshot is that one's, shared: its ObservedAt is then when it
	// was first taken so, and the snapshot's own is its GroupRecord's.
	ObservedAt time.Time `json:"observed_at"`
	// Pid is the pid of the active attempt's OS process ([Process]) while
	// it runs; absent otherwise.
	Pid int `json:"pid,omitempty"`
}

// Record returns a snapshot of the slot at now. In the steady state it does
// not allocate: the values behind its pointers are shared, immutable
// snapshots, built once per change. A nil or zero slot gives the zero
// Record.
func (s *ChildSlot) Record(now time.Time) Record {
	if !s.valid() {
		return Record{}
	}
	now = s.clamp(now)
	lim := s.restartLimit(now)
	lim.UpdatedAt = s.base.wall(lim.UpdatedAt)
	c := s.coldView()
	r := Record{
		ChildID:            s.id,
		Path:               s.cfg.Path,
		Generation:         s.gen,
		Attempt:            s.attempts,
		Restarts:           s.restarts,
		Status:             s.status(),
		Operation:          s.op,
		StopState:          s.stop,
		QuarantineReason:   c.qReason,
		Liveness:           s.Liveness(now),
		RestartLimit:       lim,
		FencePhase:         s.phase,
		PendingRestart:     s.pending,
		LastControlFailure: c.lastFailure,
		Abandoned:          len(s.abandoned),
		LastStaleReport:    c.lastStale,
		Exits:              s.exits,
		AbandonedTotal:     c.abandonedTotal,
		StaleReports:       c.staleReports,
		Active:             s.active != nil,
		ListenerPanics:     c.listener.count,
		LastListenerPanic:  c.listener.last,
		ObservedAt:         s.base.wall(now),
		Pid:                runningPid(s.active),
	}
	if s.active != nil {
		r.StartedAt = s.base.wall(s.active.startedAt)
	}
	if s.restartDue && s.op == OperationActive && s.active == nil {
		c = s.coldState()
		if c.nextRec == nil || !c.nextKey.Equal(s.restartAt) {
			t := s.base.wall(s.restartAt)
			c.nextKey, c.nextRec = s.restartAt, &t
		}
		r.NextRestartAt = c.nextRec
	}
	if c.lastExit.Kind != 0 { // c is the allocated state: an exit was set
		if c.lastExitRec == nil {
			e := c.lastExit
			e.StartedAt, e.ExitedAt = s.base.wall(e.StartedAt), s.base.wall(e.ExitedAt)
			c.lastExitRec = &e
		}
		r.LastExit = c.lastExitRec
	}
	return r
}

// status derives the Status of the active attempt.
func (s *ChildSlot) status() Status {
	a := s.active
	switch {
	case a == nil || a.isDone():
		return StatusStopped
	case a.cancelled:
		return StatusCancelling
	}
	if r, _ := a.sig.readiness(); r == ReadinessReady {
		return StatusReady
	}
	if a.sig.signalled() || (s.heartbeatTimeout == 0 && s.readyTimeout == 0) {
		return StatusRunning
	}
	return StatusStarting
}

// Liveness returns the active attempt's health at now; with no attempt
// running, the zero Liveness. It does not allocate while the beat has not
// moved since the previous call.
func (s *ChildSlot) Liveness(now time.Time) Liveness {
	if !s.valid() {
		return Liveness{}
	}
	a := s.active
	if a == nil || a.isDone() {
		return Liveness{}
	}
	now = s.clamp(now)
	var l Liveness
	l.Readiness, _ = a.sig.readiness()
	if b, ok := a.sig.lastBeat(); ok {
		if s.lastBeat == nil || s.lastBeat.nanos != b {
			s.lastBeat = &beatStamp{nanos: b, at: s.base.wallNanos(b)}
		}
		l.LastBeat = &s.lastBeat.at
	}
	if d := s.heartbeatTimeout; d > 0 && !a.cancelled {
		l.Stale = s.base.nanos(now) >= a.sig.staleAt(a.startNanos, d)
	}
	return l
}

// WithoutStacks returns a copy of r whose LastExit has no stack, for
// records served (over HTTP, say) or logged where file paths and goroutines
// must not show. The snapshot r points to is shared and is not changed; the
// copy allocates only when there is a stack to leave out.
func (r Record) WithoutStacks() Record {
	if r.LastExit != nil && r.LastExit.Stack != "" {
		x := r.LastExit.WithoutStacks()
		r.LastExit = &x
	}
	return r
}

// LogValue groups the record's main fields for log/slog, the last exit's
// stack included when there is one; log r.WithoutStacks() to leave it out.
func (r Record) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("child_id", r.ChildID),
		slog.String("path", r.Path),
		slog.Uint64("generation", r.Generation),
		slog.Uint64("attempt", r.Attempt),
		slog.Uint64("restarts", r.Restarts),
		slog.String("status", r.Status.String()),
		slog.String("operation", r.Operation.String()),
		slog.String("stop_state", r.StopState.String()),
		slog.Bool("stale", r.Liveness.Stale),
		slog.String("readiness", r.Liveness.Readiness.String()),
		slog.Int("restarts_used", r.RestartLimit.Used),
		slog.Int("restarts_limit", r.RestartLimit.Limit),
		slog.String("fence_phase", r.FencePhase.String()),
		slog.Int("abandoned", r.Abandoned),
	}
	if r.LastExit != nil {
		attrs = append(attrs, slog.Any("last_exit", *r.LastExit))
	}
	return slog.GroupValue(attrs...)
}

// beatStamp is a beat as Liveness reported it: its nanoseconds since the
// time base and its wall time, which records point at. It is replaced, never
// changed, when the beat moves.
type beatStamp struct {
	nanos int64
	at    time.Time
}
