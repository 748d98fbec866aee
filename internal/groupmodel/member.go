package groupmodel

import "time"

// This file holds a group's data as the contract describes it: its
// members in start order, its budget (a list of restart times), its
// counters, and what it is doing now (a job: see job.go).

// membership is where a member stands in its group.
type membership uint8

const (
	inGroup  membership = iota // a member
	removing                   // removed: it leaves once nothing of it runs
	left                       // no longer a member (kept for Left and the paths)
)

// onEnd is what a group does when a nested group of its own ends.
type onEnd uint8

const (
	judgeEnd   onEnd = iota // an end of its own: restart type, budget, strategy
	ignoreEnd               // the group stopped it itself: nothing follows
	startAgain              // an operator restarts it: start it afresh once ended
)

// member is one entry of a group: a slot or a nested group.
type member struct {
	slot *slot
	sub  *group
	grp  *group // the group it belongs to

	place   membership
	dynamic bool // started by StartChild: it leaves when it ends for good
	then    onEnd
	// shutdownStopped: the group's shutdown (or its removal) stopped it,
	// so its end is recorded as the shutdown outcome.
	shutdownStopped bool
	outcome         Outcome
}

func (m *member) owner() *group { return m.grp }

// isIn reports whether m is still a member (removing included).
func (m *member) isIn() bool { return m.place != left }

func (m *member) id() string {
	if m.sub != nil {
		return m.sub.id
	}
	return m.slot.id
}

func (m *member) significant() bool {
	if m.sub != nil {
		return m.sub.cfg.Significant
	}
	return m.slot.cfg.Significant
}

func (m *member) restartType() Restart {
	if m.sub != nil {
		return m.sub.cfg.Restart
	}
	return m.slot.cfg.Restart
}

// running reports whether something of m runs: an attempt is held, or a
// nested group has started and not ended.
func (m *member) running() bool {
	if m.sub != nil {
		st := m.sub.state
		return st != Idle && !st.over()
	}
	return m.slot.cur != nil
}

// endedForGood reports whether m ended with nothing to follow.
func (m *member) endedForGood() bool {
	if m.sub != nil {
		return m.sub.state.over()
	}
	s := m.slot
	return s.cur == nil && (s.over || s.op == Removed)
}

// group is the model of one group.
type group struct {
	t      *Tree
	id     string
	path   string
	cfg    GroupConfig
	parent *group
	self   *member

	members  []*member // in start order; those that left stay, marked left
	state    State
	up       bool // every member started in order since its last start
	restarts uint64
	budget   []time.Duration // when the restarts counted against Intensity were decided
	failed   bool            // its Err is set: it ends failed once stopped
	job      job
	// waiting lists the members a Concurrent stop cancelled that have not
	// ended yet; a job that replaces another keeps waiting for them.
	waiting []*member
	// chargeOwn lists the slots whose own failure a group restart covers:
	// their own restart budget is charged when the group starts them.
	chargeOwn map[*slot]bool
}

// current returns g's members still in it, in start order.
func (g *group) current() []*member {
	var out []*member
	for _, m := range g.members {
		if m.isIn() {
			out = append(out, m)
		}
	}
	return out
}

func (g *group) position(m *member) int {
	for i, x := range g.members {
		if x == m {
			return i
		}
	}
	panic("groupmodel: member not in its group")
}

func (g *group) walkSlots(f func(*slot)) {
	for _, m := range g.members {
		switch {
		case m.sub != nil:
			if m.isIn() {
				m.sub.walkSlots(f)
			}
		case m.isIn():
			f(m.slot)
		}
	}
}

func (g *group) walkGroups(f func(*group)) {
	f(g)
	for _, m := range g.current() {
		if m.sub != nil {
			m.sub.walkGroups(f)
		}
	}
}

// ending reports whether g shuts down or has ended.
func (g *group) ending() bool { return g.state == ShuttingDown || g.state.over() }

// used is how many restarts count against the intensity now.
func (g *group) used() int {
	n := 0
	for _, r := range g.budget {
		if g.t.now-r < g.cfg.Period {
			n++
		}
	}
	return min(n, g.cfg.Intensity)
}

// size is how many members g holds: those being removed count until they
// have left.
func (g *group) size() int { return len(g.current()) }

func (g *group) joinable(id string) bool {
	if g.cfg.MaxChildren > 0 && g.size() >= g.cfg.MaxChildren {
		return false
	}
	if g.ending() {
		return false
	}
	for _, m := range g.current() {
		if m.id() == id {
			return false
		}
	}
	return true
}

// join appends m, last in start order. A running group starts it at once;
// a group restarting starts it with the rest when its restart starts them.
func (g *group) join(m *member) {
	m.grp = g
	if m.slot != nil {
		m.slot.m = m
	}
	g.members = append(g.members, m)
	switch {
	case g.state == Running:
		g.bringUp(m)
	case g.job.kind == jobStart:
		g.job.queue = append(g.job.queue, m)
	}
}

// leave takes m out of g.
func (g *group) leave(m *member) {
	if !m.isIn() {
		return
	}
	m.place = left
	g.waiting = without(g.waiting, m)
	if s := m.slot; s != nil {
		s.rule = selfRule
	}
}

// without returns list less m.
func without(list []*member, m *member) []*member {
	out := list[:0]
	for _, x := range list {
		if x != m {
			out = append(out, x)
		}
	}
	return out
}
