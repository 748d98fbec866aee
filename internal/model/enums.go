package model

// The model's enumerations mirror the package's by name (snake_case), not by
// value: a test maps one onto the other through the names, so a reordering
// on either side cannot make a wrong state look right.

// Operation is the operator's setting of the slot.
type Operation uint8

// The operations.
const (
	Active Operation = iota
	Paused
	Quarantined
	Removed
)

// Phase is where a fenced restart stands.
type Phase uint8

// The fence phases.
const (
	Open Phase = iota
	WaitingForOldStop
	AbandoningOld
	ReadyToStart
	Closed
)

// Stop is where the latest request to stop an attempt stands.
type Stop uint8

// The stop states.
const (
	StopIdle Stop = iota
	StopNoActiveAttempt
	StopCancelDelivered
	StopCompleted
	StopFailed
)

// Kind is how an attempt ended; NoExit marks "nothing".
type Kind uint8

// The exit kinds.
const (
	NoExit Kind = iota
	Succeeded
	Failed
	Panicked
	Cancelled
	TimedOut
	Unhealthy
	Abandoned
)

// Abnormal reports whether k is anything but Succeeded and Cancelled.
func (k Kind) Abnormal() bool { return k != Succeeded && k != Cancelled }

// Status is what the held attempt is doing.
type Status uint8

// The statuses.
const (
	Stopped Status = iota
	Starting
	Running
	Ready
	Cancelling
)

// Readiness is what the child last said about being ready.
type Readiness uint8

// The readiness values.
const (
	ReadinessUnknown Readiness = iota
	ReadinessReady
	ReadinessNotReady
)

// Policy says after which exits the slot restarts its child.
type Policy uint8

// The restart policies.
const (
	Permanent Policy = iota
	Transient
	Temporary
)

// restarts reports whether an exit of kind k is followed by a restart.
func (p Policy) restarts(k Kind) bool {
	switch p {
	case Permanent:
		return true
	case Transient:
		return k.Abnormal()
	default:
		return false
	}
}

// Decision is what an operator Restart did.
type Decision uint8

// The fence decisions.
const (
	NoDecision Decision = iota
	StartedImmediately
	QueuedAfterStop
	AlreadyPending
	Rejected
)

// Error is the sentinel an operation returned; OK is none.
type Error uint8

// The errors. ErrParentDone stands for "the parent context has ended",
// which the package reports with the context's cause rather than a sentinel.
const (
	OK Error = iota
	ErrActive
	ErrNoAttempt
	ErrNotDone
	ErrPaused
	ErrQuarantined
	ErrRemoved
	ErrNotStarted
	ErrParentDone
)

// Outcome is what a child does when it returns of its own accord.
type Outcome uint8

// The outcomes.
const (
	ReturnNil Outcome = iota
	ReturnError
	Panic
	Goexit
)

var (
	operationNames = []string{"active", "paused", "quarantined", "removed"}
	phaseNames     = []string{"open", "waiting_for_old_stop", "abandoning_old", "ready_to_start", "closed"}
	stopNames      = []string{"idle", "no_active_attempt", "cancel_delivered", "completed", "failed"}
	kindNames      = []string{"", "succeeded", "failed", "panicked", "cancelled", "timed_out", "unhealthy", "abandoned"}
	statusNames    = []string{"stopped", "starting", "running", "ready", "cancelling"}
	readinessNames = []string{"unknown", "ready", "not_ready"}
	decisionNames  = []string{"", "started_immediately", "queued_after_stop", "already_pending", "rejected"}
	errorNames     = []string{"ok", "active", "no_attempt", "not_done", "paused", "quarantined", "removed", "not_started", "parent_done"}
)

func name(names []string, v uint8) string {
	if int(v) < len(names) {
		return names[v]
	}
	return "?"
}

func parse[T ~uint8](names []string, s string) (T, bool) {
	for i, n := range names {
		if n == s {
			return T(i), true
		}
	}
	return 0, false
}

// String returns the operation's snake_case name.
func (o Operation) String() string { return name(operationNames, uint8(o)) }

// String returns the phase's snake_case name.
func (p Phase) String() string { return name(phaseNames, uint8(p)) }

// String returns the stop state's snake_case name.
func (s Stop) String() string { return name(stopNames, uint8(s)) }

// String returns the kind's snake_case name; NoExit is "".
func (k Kind) String() string { return name(kindNames, uint8(k)) }

// String returns the status's snake_case name.
func (s Status) String() string { return name(statusNames, uint8(s)) }

// String returns the readiness's snake_case name.
func (r Readiness) String() string { return name(readinessNames, uint8(r)) }

// String returns the decision's snake_case name; NoDecision is "".
func (d Decision) String() string { return name(decisionNames, uint8(d)) }

// String returns a short name for the error.
func (e Error) String() string { return name(errorNames, uint8(e)) }

// GoString returns the name, so that test failures print it.
func (o Operation) GoString() string { return o.String() }

// GoString returns the name, so that test failures print it.
func (p Phase) GoString() string { return p.String() }

// GoString returns the name, so that test failures print it.
func (s Stop) GoString() string { return s.String() }

// GoString returns the name, so that test failures print it.
func (k Kind) GoString() string { return `"` + k.String() + `"` }

// GoString returns the name, so that test failures print it.
func (s Status) GoString() string { return s.String() }

// GoString returns the name, so that test failures print it.
func (r Readiness) GoString() string { return r.String() }

// GoString returns the name, so that test failures print it.
func (e Error) GoString() string { return e.String() }

// ParseOperation returns the operation named s.
func ParseOperation(s string) (Operation, bool) { return parse[Operation](operationNames, s) }

// ParsePhase returns the phase named s.
func ParsePhase(s string) (Phase, bool) { return parse[Phase](phaseNames, s) }

// ParseStop returns the stop state named s.
func ParseStop(s string) (Stop, bool) { return parse[Stop](stopNames, s) }

// ParseKind returns the kind named s ("" is NoExit).
func ParseKind(s string) (Kind, bool) { return parse[Kind](kindNames, s) }

// ParseStatus returns the status named s.
func ParseStatus(s string) (Status, bool) { return parse[Status](statusNames, s) }

// ParseReadiness returns the readiness named s.
func ParseReadiness(s string) (Readiness, bool) { return parse[Readiness](readinessNames, s) }

// ParseDecision returns the decision named s.
func ParseDecision(s string) (Decision, bool) { return parse[Decision](decisionNames, s) }
