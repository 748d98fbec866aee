package supervisor

import (
	"errors"
	"strings"
)

// Errors returned by the package, all of them. Match them with
// [errors.Is]; the returned error usually wraps one of them with a message
// that says more: a slot's methods return a [*SlotError] that names the
// slot.
var (
	// Slots.

	// ErrInvalidConfig reports a Config field, or an argument, that cannot be
	// used; the wrapping message names it.
	ErrInvalidConfig = errors.New("supervisor: invalid config")
	// ErrActive reports that an attempt is still running or not yet collected.
	ErrActive = errors.New("supervisor: attempt still active")
	// ErrNoAttempt reports that the slot holds no attempt.
	ErrNoAttempt = errors.New("supervisor: no attempt")
	// ErrNotDone reports that the attempt has not returned yet.
	ErrNotDone = errors.New("supervisor: attempt not done")
	// ErrPaused reports that the slot is paused.
	ErrPaused = errors.New("supervisor: slot paused")
	// ErrQuarantined reports that the slot is quarantined.
	ErrQuarantined = errors.New("supervisor: slot quarantined")
	// ErrRemoved reports that the slot was removed; nothing more can start.
	ErrRemoved = errors.New("supervisor: slot removed")
	// ErrNotStarted reports that the slot has not been started yet.
	ErrNotStarted = errors.New("supervisor: slot not started")
	// ErrReentrant reports a call that changes a slot made from that slot's
	// own Config.OnEvent listener; the call did nothing.
	ErrReentrant = errors.New("supervisor: slot method called from its own OnEvent")

	// Groups.

	// ErrGroupFailed reports that a group's restart intensity refused a
	// restart, or that a member returned ErrFailGroup: the group stopped
	// every member and gave up. The wrapping message names the group, the
	// member and why.
	ErrGroupFailed = errors.New("supervisor: group failed")
	// ErrGroupStopped reports that a group is shutting down or has ended:
	// nothing can join it or start in it.
	ErrGroupStopped = errors.New("supervisor: group stopped")
	// ErrUnknownMember reports that a group has no member of that id.
	ErrUnknownMember = errors.New("supervisor: no such member")
	// ErrConcurrentUse reports a call that would change a tree while another
	// call changes it on another goroutine: Add, AddGroup or Remove made while
	// the tree's loop is inside Advance (or another goroutine inside one of
	// them). The call changed nothing; from other goroutines, use
	// [Group.Submit], or call again.
	ErrConcurrentUse = errors.New("supervisor: tree in use by another goroutine")

	// Operator commands.

	// ErrInvalidCommand reports a command that cannot be carried out as
	// written: an unknown op, or no path, requester or reason.
	ErrInvalidCommand = errors.New("supervisor: invalid command")
	// ErrCommandQueueFull reports that the tree's loop has not taken the
	// commands already submitted: the new one is refused, not queued.
	ErrCommandQueueFull = errors.New("supervisor: command queue full")
	// ErrCommandRefused reports a command the target's state refuses (a
	// pause of a paused slot, say); it changed nothing.
	ErrCommandRefused = errors.New("supervisor: command refused")

	// Dynamic children.

	// ErrMaxChildren reports a member refused because its group holds
	// GroupConfig.MaxChildren members already.
	ErrMaxChildren = errors.New("supervisor: group at its MaxChildren")
	// ErrStartFailed reports a member started with StartChild whose first
	// attempt ended before it started (before it was ready, for one whose
	// readiness is watched); the member was removed.
	ErrStartFailed = errors.New("supervisor: member failed to start")

	// What a child's returned error asks of its supervisor, matched with
	// errors.Is on the child's goroutine (so a wrapped one counts too:
	// fmt.Errorf("config %s: %w", path, supervisor.ErrDoNotRestart)).

	// ErrDoNotRestart, returned by a child, means its exit needs no
	// restart whatever its RestartType: it ends as a normal exit with no
	// restart to follow would (a significant member's end counts; a member
	// started with StartChild leaves its group). Its kind is still Failed.
	ErrDoNotRestart = errors.New("supervisor: do not restart")
	// ErrFailGroup, returned by a member, fails its group at once, as a
	// spent intensity would: the group stops every member and its Err
	// wraps ErrGroupFailed, which escalates to its parent as any failure.
	// A lone slot treats it as ErrDoNotRestart.
	ErrFailGroup = errors.New("supervisor: fail the group")
)

// SlotError is the error a slot's method returns: it names the slot and
// wraps the sentinel (or other error) that says what went wrong, so that
// errors.Is(err, ErrActive) and the like keep working and errors.As finds
// the slot's id. Its message reads like
// `supervisor: slot "ingest": attempt still active`.
//
// A SlotError is a plain value, safe to hand to any goroutine.
type SlotError struct {
	// ID is the id of the slot whose method failed.
	ID string
	// Err is what went wrong, usually one of the package's sentinels.
	Err error
}

// Error returns the message of Err, prefixed with the slot's id.
func (e *SlotError) Error() string {
	msg := "<nil>"
	if e.Err != nil {
		msg = strings.TrimPrefix(e.Err.Error(), "supervisor: ")
	}
	return `supervisor: slot "` + e.ID + `": ` + msg
}

// Unwrap returns Err.
func (e *SlotError) Unwrap() error { return e.Err }

// fail wraps err with the slot's id. It is called only on the paths that
// return an error, so a method that succeeds allocates nothing for it.
func (s *ChildSlot) fail(err error) error {
	return &SlotError{ID: s.id, Err: err}
}
