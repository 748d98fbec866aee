package supervisor

import "strings"

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
