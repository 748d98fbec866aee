package groupmodel

import "time"

// This file holds what the model knows of members added and removed while
// the tree runs: StartChild's dynamic members, StopChild's answer, and
// MaxChildren.

// StartChild adds a member slot as Group.StartChild does (applied at the
// loop's next Advance): a dynamic member, which leaves its group when it
// ends for good. It reports false when the group refuses, as AddSlot.
func (t *Tree) StartChild(gpath, id string, cfg SlotConfig, now time.Duration) bool {
	return t.addSlot(gpath, id, cfg, true, now)
}

// Left reports whether the member at path (a slot or a nested group) has
// left its group or its group has ended, and how it ended: what
// Group.StopChild answers once it returns (OutcomeAlreadyStopped for a
// member that had stopped before).
func (t *Tree) Left(path string) (bool, Outcome) {
	m := t.memberAt(path)
	if m == nil {
		return false, NoOutcome
	}
	if m.isIn() && !m.grp.state.over() {
		return false, NoOutcome
	}
	if m.outcome == NoOutcome {
		return true, OutcomeAlreadyStopped
	}
	return true, m.outcome
}

// Started reports whether the slot at path has started an attempt.
func (t *Tree) Started(path string) bool {
	s := t.slots[path]
	return s != nil && s.started
}

// Full reports whether the group at gpath would refuse a new member for
// its MaxChildren: it takes members (it neither shuts down nor has ended)
// and holds MaxChildren already, those leaving included until gone.
func (t *Tree) Full(gpath string) bool {
	g := t.groups[gpath]
	if g == nil || g.ending() || g.cfg.MaxChildren == 0 {
		return false
	}
	return g.size() >= g.cfg.MaxChildren
}

// refuseWaitingStarts removes the members StartChild added that have not
// started, as g begins to shut down: their calls are answered
// ErrGroupStopped, and a refused start leaves nothing behind.
func (g *group) refuseWaitingStarts() {
	for _, m := range g.current() {
		if m.dynamic && m.slot != nil && !m.slot.started {
			g.remove(m)
		}
	}
}
