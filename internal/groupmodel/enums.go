package groupmodel

// The model's enumerations mirror the package's by name (snake_case), not
// by value: a test maps one onto the other through the names.

// Strategy says which members a group restarts when one fails.
type Strategy uint8

// The strategies.
const (
	OneForOne Strategy = iota
	OneForAll
	RestForOne
)

// Restart is a member's restart type.
type Restart uint8

// The restart types.
const (
	Permanent Restart = iota
	Transient
	Temporary
)

// restarts reports whether an exit of kind k is followed by a restart.
func (r Restart) restarts(k Kind) bool {
	switch r {
	case Permanent:
		return true
	case Transient:
		return k != Succeeded && k != Cancelled
	}
	return false
}

// AutoShutdown says whether significant members' ends shut a group down.
type AutoShutdown uint8

// The automatic shutdown settings.
const (
	Never AutoShutdown = iota
	AnySignificant
	AllSignificant
)

// Directive is what a child's returned error asks of its supervisor
// (the package's ErrDoNotRestart and ErrFailGroup).
type Directive uint8

// The directives.
const (
	NoDirective  Directive = iota
	DoNotRestart           // never restart it: it ends as a normal end with no restart would
	FailGroup              // fail its group at once, as a spent intensity would
)

var directiveNames = []string{"none", "do_not_restart", "fail_group"}

// String returns the directive's snake_case name.
func (d Directive) String() string { return name(directiveNames, int(d)) }

// Kind is how an attempt ended.
type Kind uint8

// The exit kinds the model's children can produce.
const (
	Succeeded Kind = iota
	Failed
	Panicked
	Cancelled
	Abandoned
	NumKinds
)

var kindNames = [NumKinds]string{"succeeded", "failed", "panicked", "cancelled", "abandoned"}

// String returns the kind's snake_case name, as the package spells it.
func (k Kind) String() string {
	if k < NumKinds {
		return kindNames[k]
	}
	return "invalid"
}

// Operation is the operator's setting of a slot.
type Operation uint8

// The operations.
const (
	Active Operation = iota
	Paused
	Quarantined
	Removed
)

var opNames = []string{"active", "paused", "quarantined", "removed"}

// String returns the operation's snake_case name.
func (o Operation) String() string { return name(opNames, int(o)) }

// State is where a group's life stands.
type State uint8

// The group states.
const (
	Idle State = iota
	Starting
	Running
	Restarting
	ShuttingDown
	Stopped
	GroupFailed
)

var stateNames = []string{"idle", "starting", "running", "restarting", "shutting_down", "stopped", "failed"}

// String returns the state's snake_case name.
func (s State) String() string { return name(stateNames, int(s)) }

// over reports whether the state is an end.
func (s State) over() bool { return s == Stopped || s == GroupFailed }

// Outcome says how a member ended in its group's shutdown.
type Outcome uint8

// The outcomes; the zero value means not shut down.
const (
	NoOutcome Outcome = iota
	OutcomeStopped
	OutcomeAbandoned
	OutcomeAlreadyStopped
	OutcomeNotStarted // the shutdown came before it ever started
)

var outcomeNames = []string{"none", "stopped", "abandoned", "already_stopped", "not_started"}

// String returns the outcome's snake_case name ("none" for the zero value).
func (o Outcome) String() string { return name(outcomeNames, int(o)) }

// Result is what an operator call returned, as the model predicts it.
type Result uint8

// The results.
const (
	// OK: carried out.
	OK Result = iota
	// Noop: nothing to do; a direct call returns nil, a command is refused.
	Noop
	// Refused: the state refuses it; a direct call and a command both fail.
	Refused
	// Unknown: no such member.
	Unknown
)

var resultNames = []string{"ok", "noop", "refused", "unknown"}

// String returns the result's name.
func (r Result) String() string { return name(resultNames, int(r)) }

func name(names []string, i int) string {
	if i >= 0 && i < len(names) {
		return names[i]
	}
	return "invalid"
}
