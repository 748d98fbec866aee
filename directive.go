package supervisor

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
