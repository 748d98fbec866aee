package supervisor

import "github.com/childslot/supervisor/internal/enum"

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
