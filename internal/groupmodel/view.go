package groupmodel

// GroupView is what a group's record shows, as the model predicts it.
type GroupView struct {
	Path     string
	State    State
	Restarts uint64
	// Used is the intensity's restarts within the period; -1 when off.
	Used    int
	Failed  bool // Err is set
	Members []MemberView
}

// MemberView is one member of a GroupView: exactly one of Slot and Group
// is set.
type MemberView struct {
	ID       string
	Leaving  bool
	Shutdown Outcome
	Slot     *SlotView
	Group    *GroupView
}

// SlotView is what a member slot's record shows.
type SlotView struct {
	Attempt, Restarts, Exits uint64
	Kinds                    [NumKinds]uint64
	Operation                Operation
	Active                   bool // an attempt is held
	Used                     int  // its own restarts within its window
	Backoff                  bool // its own restart waits for its backoff
	// Directive is what its last exit's error asked (an abandoned exit
	// returned nothing: none).
	Directive Directive
}

// View returns what the tree shows now.
func (t *Tree) View() GroupView { return t.root.view() }

func (g *group) view() GroupView {
	v := GroupView{Path: g.path, State: g.state, Restarts: g.restarts, Used: -1, Failed: g.failed}
	if g.cfg.Intensity > 0 {
		v.Used = g.used()
	}
	v.Members = []MemberView{}
	for _, m := range g.current() {
		mv := MemberView{ID: m.id(), Leaving: m.place == removing, Shutdown: m.outcome}
		if m.sub != nil {
			sv := m.sub.view()
			mv.Group = &sv
		} else {
			sv := m.slot.view()
			mv.Slot = &sv
		}
		v.Members = append(v.Members, mv)
	}
	return v
}

func (s *slot) view() SlotView {
	return SlotView{
		Attempt: s.attempts, Restarts: s.restarts, Exits: s.exits, Kinds: s.kinds,
		Operation: s.op, Active: s.cur != nil, Used: s.used(),
		Backoff:   s.restartDue && s.op == Active && s.cur == nil,
		Directive: s.lastDirective,
	}
}

// Paths returns the paths of the slots and of the nested groups in the
// tree now, each in tree order.
func (t *Tree) Paths() (slots, groups []string) {
	t.root.walkSlots(func(s *slot) { slots = append(slots, s.path) })
	t.root.walkGroups(func(g *group) { groups = append(groups, g.path) })
	return slots, groups
}

// GroupState returns the state of the group at path (Idle if unknown).
func (t *Tree) GroupState(path string) State {
	if g := t.groups[path]; g != nil {
		return g.state
	}
	return Idle
}

// Frozen reports whether the slot at path belongs to a group that shuts
// down (or stopped and has not started again): no operator may start it.
func (t *Tree) Frozen(path string) bool {
	s := t.slots[path]
	return s != nil && s.rule == frozenRule
}
