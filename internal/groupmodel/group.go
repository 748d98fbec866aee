package groupmodel

import "time"

// member is one entry of a group: a slot or a nested group.
type member struct {
	slot *slot
	sub  *group
	grp  *group // the group it belongs to

	gone     bool // left the group
	leaving  bool // removed: forget it once stopped
	held     bool // a nested group its group stops, or stopped, itself
	reopen   bool // a nested group an operator restarts: start it once stopped
	stopping bool // stopped by the shutdown, which waits for its end
	awaited  bool // a Concurrent walk cancelled it and waits for its end
	dynamic  bool // started by StartChild: it leaves when it ends for good
	outcome  Outcome
}

func (m *member) owner() *group { return m.grp }

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

func (m *member) restart() Restart {
	if m.sub != nil {
		return m.sub.cfg.Restart
	}
	return m.slot.cfg.Restart
}

// ended reports whether the member ended with nothing to follow.
func (m *member) ended() bool {
	if m.sub != nil {
		return m.sub.state.over()
	}
	s := m.slot
	return s.cur == nil && (s.over || s.op == Removed)
}

type walkKind uint8

const (
	walkNone walkKind = iota
	walkStop
	walkWait
	walkStart
	walkShutdown
)

// walk is a group's restart or shutdown in progress.
type walk struct {
	kind walkKind
	lo   int // the lowest member a restart covers
	cur  int
	at   time.Duration // a restart's start waits until then
	owed uint64        // restarts decided for it, performed when its starts begin
	// A shutdown with a ShutdownTimeout: by (when bounded) is when what
	// still runs is abandoned, forced once it has been.
	by              time.Duration
	bounded, forced bool
}

// group is the model of one group.
type group struct {
	t      *Tree
	id     string
	path   string
	cfg    GroupConfig
	parent *group
	self   *member

	members  []*member // in start order; gone ones stay, marked
	state    State
	up       bool // started every member in order since its last start
	restarts uint64
	history  []time.Duration // restarts counted against the intensity
	failing  bool            // its intensity refused a restart
	w        walk
}

func (g *group) walkSlots(f func(*slot)) {
	for _, m := range g.members {
		switch {
		case m.gone && m.slot != nil:
		case m.sub != nil:
			if !m.gone {
				m.sub.walkSlots(f)
			}
		default:
			f(m.slot)
		}
	}
}

func (g *group) walkGroups(f func(*group)) {
	f(g)
	for _, m := range g.members {
		if m.sub != nil && !m.gone {
			m.sub.walkGroups(f)
		}
	}
}

// used is how many restarts count against the intensity now.
func (g *group) used() int {
	n := 0
	for _, r := range g.history {
		if g.t.now-r < g.cfg.Period {
			n++
		}
	}
	return min(n, g.cfg.Intensity)
}

// size is how many members g holds: those leaving count until gone.
func (g *group) size() int {
	n := 0
	for _, m := range g.members {
		if !m.gone {
			n++
		}
	}
	return n
}

func (g *group) joinable(id string) bool {
	if g.cfg.MaxChildren > 0 && g.size() >= g.cfg.MaxChildren {
		return false
	}
	if g.state == ShuttingDown || g.state.over() {
		return false
	}
	for _, m := range g.members {
		if !m.gone && m.id() == id {
			return false
		}
	}
	return true
}

// join appends m; a running group starts it at once, a walk in progress
// reaches it.
func (g *group) join(m *member) {
	m.grp = g
	if m.slot != nil {
		m.slot.m = m
	}
	g.members = append(g.members, m)
	if g.state == Running {
		g.launch(m)
	}
}

// start starts g afresh: a new budget, its members in order.
func (g *group) start() {
	g.history, g.failing = nil, false
	for _, m := range g.members {
		if m.gone {
			continue // it left: its outcome is what StopChild answered
		}
		m.outcome, m.stopping, m.held, m.awaited = NoOutcome, false, false, false
		if m.slot != nil {
			m.slot.hold(false)
		}
	}
	g.state, g.up = Starting, false
	g.w = walk{kind: walkStart}
	g.t.busyAdd(g)
}

// step carries the walk on as far as it goes now; it reports whether it
// moved.
func (g *group) step() bool {
	moved := false
	if at, due := g.shutdownDeadline(); due && at <= g.t.now {
		g.forceStop()
	}
	for {
		var ok bool
		switch g.w.kind {
		case walkStop:
			if g.cfg.Concurrent {
				ok = g.stepStopAll()
			} else {
				ok = g.stepStop()
			}
		case walkWait:
			if ok = g.t.now >= g.w.at; ok {
				g.w.kind, g.w.cur = walkStart, g.w.lo
				g.restarts += g.w.owed
			}
		case walkStart:
			ok = g.stepStart()
		case walkShutdown:
			if g.cfg.Concurrent {
				ok = g.stepShutdownAll()
			} else {
				ok = g.stepShutdown()
			}
		}
		if !ok {
			return moved
		}
		moved = true
	}
}

func (g *group) stepStop() bool {
	if g.w.cur < g.w.lo {
		g.w.kind = walkWait
		return true
	}
	m := g.members[g.w.cur]
	if !m.gone && g.stop(m) {
		return false
	}
	g.w.cur--
	return true
}

func (g *group) stepShutdown() bool {
	if g.w.cur < 0 {
		g.finish()
		return true
	}
	m := g.members[g.w.cur]
	if !m.gone {
		if g.stop(m) {
			m.stopping = true
			return false
		}
		g.noteStopped(m)
	}
	g.w.cur--
	return true
}

// stepStopAll is stepStop for a Concurrent group: every member of the
// scope is cancelled at once, and the walk moves on when all have ended.
func (g *group) stepStopAll() bool {
	moved := g.stopAll(g.w.lo, false)
	if g.waiting() {
		return moved
	}
	g.w.kind = walkWait
	return true
}

// stepShutdownAll is stepShutdown for a Concurrent group.
func (g *group) stepShutdownAll() bool {
	moved := g.stopAll(0, true)
	if g.waiting() {
		return moved
	}
	g.finish()
	return true
}

// stopAll cancels, from the last member down to lo, every member that
// runs and is not awaited yet, and notes the outcome of those a shutdown
// finds stopped; it reports whether it passed any member.
func (g *group) stopAll(lo int, shutdown bool) bool {
	moved := false
	for ; g.w.cur >= lo; g.w.cur-- {
		moved = true
		m := g.members[g.w.cur]
		switch {
		case m.gone:
		case m.awaited: // a walk this one took over cancelled it
			m.stopping = m.stopping || shutdown
		case g.stop(m):
			m.awaited = true
			m.stopping = m.stopping || shutdown
		case shutdown:
			g.noteStopped(m)
		}
	}
	return moved
}

// waiting reports whether a member a Concurrent walk cancelled still runs.
func (g *group) waiting() bool {
	for _, m := range g.members {
		if m.awaited && !m.gone {
			return true
		}
	}
	return false
}

// noteStopped records the outcome of m, which a shutdown found stopped.
func (g *group) noteStopped(m *member) {
	if m.outcome != NoOutcome {
		return
	}
	m.outcome = OutcomeAlreadyStopped
	if m.sub != nil && m.sub.state == Idle || m.slot != nil && !m.slot.started {
		m.outcome = OutcomeNotStarted
	}
	if m.sub != nil && m.sub.state == Idle {
		m.sub.endUnstarted()
	}
}

// stop stops m for g and reports whether g must wait for it.
func (g *group) stop(m *member) bool {
	if sub := m.sub; sub != nil {
		if sub.state == Idle || sub.state.over() {
			return false
		}
		m.held = true
		sub.beginShutdown()
		return !sub.state.over()
	}
	s := m.slot
	if s.cur == nil {
		return false
	}
	s.cancel()
	return true
}

func (g *group) stepStart() bool {
	if g.w.cur >= len(g.members) {
		g.w = walk{}
		g.state, g.up = Running, true
		g.t.kick = true // a parent's start walk may go on
		return true
	}
	m := g.members[g.w.cur]
	if !m.gone {
		g.launch(m)
		if m.sub != nil && !m.sub.up && !m.sub.state.over() {
			return false
		}
	}
	g.w.cur++
	return true
}

// launch starts m if it is g's to start; a slot an operator stopped stays
// down, and a temporary slot that ran before leaves.
func (g *group) launch(m *member) {
	if sub := m.sub; sub != nil {
		if sub.state == Idle || sub.state.over() {
			m.held = false
			sub.start()
		}
		return
	}
	s := m.slot
	if !s.held {
		return
	}
	switch {
	case s.cur != nil, s.op != Active:
		s.held, s.frozen, s.owes = false, false, false
	case s.started && s.cfg.Restart == Temporary:
		g.leave(m)
	default:
		s.groupStart()
	}
}

// beginRestart stops the members from lo up in reverse order, then starts
// them in order no sooner than at; one under way widens to cover them.
func (g *group) beginRestart(lo int, m *member, at time.Duration) {
	owed := uint64(1)
	if g.state == Restarting {
		lo = min(lo, g.w.lo)
		at = max(at, g.w.at)
		if g.w.kind != walkStart {
			owed += g.w.owed // decided, not performed yet
		}
	}
	if m.slot != nil {
		m.slot.owes = true
	}
	for _, x := range g.members[lo:] {
		if x.slot != nil && !x.gone {
			x.slot.hold(false)
		}
	}
	g.w = walk{kind: walkStop, lo: lo, cur: len(g.members) - 1, at: at, owed: owed}
	g.state = Restarting
	g.t.busyAdd(g)
}

// beginShutdown stops every member from the last down.
func (g *group) beginShutdown() {
	switch {
	case g.state == ShuttingDown || g.state.over():
		return
	case g.state == Idle:
		g.endUnstarted()
		return
	}
	for _, m := range g.members {
		if m.slot != nil && !m.gone {
			m.slot.hold(true)
		}
	}
	g.state = ShuttingDown
	g.w = walk{kind: walkShutdown, cur: len(g.members) - 1}
	if d := g.cfg.ShutdownTimeout; d > 0 {
		g.w.by, g.w.bounded = g.t.now+d, true
	}
	g.t.busyAdd(g)
}

// shutdownDeadline returns when g's shutdown reaches its ShutdownTimeout,
// if it is bounded and has not yet.
func (g *group) shutdownDeadline() (time.Duration, bool) {
	if g.w.kind != walkShutdown || !g.w.bounded || g.w.forced {
		return 0, false
	}
	return g.w.by, true
}

// forceStop ends g's shutdown's patience: every member that still runs
// below g is abandoned now (cancelled first if it was not), nested groups
// shut down and forced likewise, each recorded abandoned.
func (g *group) forceStop() {
	g.w.forced = true
	g.t.kick = true
	if g.t.forced == nil {
		g.t.forced = map[string]bool{}
	}
	g.t.forced[g.path] = true
	for i := len(g.members) - 1; i >= 0; i-- {
		m := g.members[i]
		if m.gone {
			continue
		}
		if sub := m.sub; sub != nil {
			if sub.state == Idle || sub.state.over() {
				continue
			}
			m.held, m.stopping = true, true
			sub.beginShutdown()
			if !sub.w.forced {
				sub.forceStop()
			}
			continue
		}
		if a := m.slot.cur; a != nil && !a.returned {
			m.stopping = true
			m.slot.abandonNow()
		}
	}
}

// endUnstarted ends g, which never started: it is stopped, and so is
// every group below it; each member did not start.
func (g *group) endUnstarted() {
	g.state = Stopped
	for _, m := range g.members {
		if m.gone {
			continue
		}
		m.outcome = OutcomeNotStarted
		if m.sub != nil && m.sub.state == Idle {
			m.sub.endUnstarted()
		}
	}
}

// finish ends the shutdown; the parent learns of the end.
func (g *group) finish() {
	g.w = walk{}
	g.state = Stopped
	if g.failing {
		g.state = GroupFailed
	}
	g.t.kick = true
	if g.parent != nil && g.self != nil && !g.self.gone {
		g.parent.subEnded(g.self)
	}
}
