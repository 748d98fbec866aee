package groupmodel

import "time"

// ---- operator controls ---------------------------------------------------

// Control is an operator control or command on a slot.
type Control uint8

// The controls.
const (
	Pause Control = iota
	Resume
	Quarantine
	RestartSlot
	RemoveSlot // ChildSlot.Remove
)

// SlotControl applies an operator control to slot path, as the slot's own
// method does.
func (t *Tree) SlotControl(path string, c Control, now time.Duration) Result {
	t.at(now)
	s := t.slots[path]
	if s == nil {
		return Unknown
	}
	r := s.control(c)
	t.settle()
	return r
}

// RemoveMember is Group.Remove on the member at path (a slot or a nested
// group) of its group.
func (t *Tree) RemoveMember(path string, now time.Duration) Result {
	t.at(now)
	m := t.memberAt(path)
	if m == nil || !m.isIn() {
		return Unknown
	}
	m.owner().remove(m)
	t.settle()
	return OK
}

// Shutdown is Group.Shutdown on the group at path.
func (t *Tree) Shutdown(path string, now time.Duration) {
	t.at(now)
	if g := t.groups[path]; g != nil {
		g.shutdown()
	}
	t.settle()
}

// CommandOp is what an operator command asks for.
type CommandOp uint8

// The command ops.
const (
	CmdRestart CommandOp = iota
	CmdPause
	CmdResume
	CmdQuarantine
	CmdRemove
	CmdShutdown
)

// Command is Group.Submit of op on path, applied at the next Advance.
func (t *Tree) Command(op CommandOp, path string, now time.Duration) Result {
	t.at(now)
	r := t.command(op, path)
	t.settle()
	return r
}

func (t *Tree) command(op CommandOp, path string) Result {
	if g := t.groups[path]; g != nil && (g == t.root || g.self != nil && g.self.isIn()) {
		return g.command(op)
	}
	m := t.memberAt(path)
	if m == nil || !m.isIn() || m.slot == nil {
		return Unknown
	}
	s := m.slot
	switch op {
	case CmdRemove:
		m.owner().remove(m)
		return OK
	case CmdShutdown:
		return Refused
	}
	r := s.control([...]Control{CmdRestart: RestartSlot, CmdPause: Pause, CmdResume: Resume, CmdQuarantine: Quarantine}[op])
	switch {
	case r == Noop && op == CmdRestart:
		return OK // merged with the restart pending: carried out
	case r == Noop:
		return Refused // it would change nothing: the operator learns so
	}
	return r
}

// memberAt returns the member entry at path, or nil.
func (t *Tree) memberAt(path string) *member {
	if s := t.slots[path]; s != nil {
		return s.m
	}
	if g := t.groups[path]; g != nil {
		return g.self
	}
	return nil
}
