package supervisor

import (
	"errors"

	"github.com/childslot/supervisor/internal/enum"
)

// Errors a child returns to say what its exit means, matched with
// [errors.Is] on the child's goroutine (so a wrapped one counts too:
// fmt.Errorf("config %s: %w", path, supervisor.ErrDoNotRestart)).
var (
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

// Directive is what a child's returned error asked of its supervisor
// ([ErrDoNotRestart], [ErrFailGroup]). The zero Directive asks nothing.
type Directive uint8

// The directives.
const (
	// DirectiveNone: the exit is handled by the restart type and budgets.
	DirectiveNone Directive = iota
	// DirectiveDoNotRestart: the child returned ErrDoNotRestart.
	DirectiveDoNotRestart
	// DirectiveFailGroup: the child returned ErrFailGroup.
	DirectiveFailGroup
)

var directiveNames = []string{"none", "do_not_restart", "fail_group"}

// String returns the directive's snake_case name.
func (d Directive) String() string { return enum.Name(directiveNames, "Directive", d) }

// MarshalText encodes the directive as its name.
func (d Directive) MarshalText() ([]byte, error) {
	return enum.Marshal(directiveNames, "Directive", d)
}

// UnmarshalText decodes a directive from its name; an unknown name is an
// error and leaves d unchanged.
func (d *Directive) UnmarshalText(text []byte) error {
	return enum.Unmarshal(directiveNames, "Directive", text, d)
}

// directiveOf returns what e itself asks, calling its Is method (the
// caller recovers it).
func directiveOf(e error) Directive {
	is, _ := e.(interface{ Is(error) bool })
	switch {
	case e == ErrFailGroup || is != nil && is.Is(ErrFailGroup):
		return DirectiveFailGroup
	case e == ErrDoNotRestart || is != nil && is.Is(ErrDoNotRestart):
		return DirectiveDoNotRestart
	}
	return DirectiveNone
}
