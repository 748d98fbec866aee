package supervisor

import (
	"context"
	"fmt"
	"time"
)

// errFrozen is what a member slot's starts return while its group shuts
// down: the group, not an operator, decides what runs then.
var errFrozen = fmt.Errorf("%w: the slot's group is shutting down", ErrGroupStopped)

var errZeroGroup = fmt.Errorf("%w: zero Group, use NewGroup", ErrInvalidConfig)

// Group supervises members, each a [ChildSlot] or a nested Group, the way an
// Erlang/OTP supervisor does: it starts them in order, applies its
// [Strategy] when one fails, counts its restarts against an intensity that
// fails the group when spent (escalating to a parent group, and at the root
// ending [Group.Run] with [ErrGroupFailed]), shuts down automatically on
// significant members' ends, and stops its members in reverse order, one at
// a time. Like a slot it starts no goroutine of its own besides the
// children's and moves only with the now passed to it.
//
// A Group belongs to the goroutine that runs the tree's loop ([Group.Run],
// or the caller's own around [Group.Advance]), and so do its member slots.
// The package doc's Concurrency section lists the exceptions: the methods
// safe from any goroutine (Wake, Snapshot, Submit, Shutdown, ...) and
// those refused with [ErrConcurrentUse] rather than raced (Add, AddGroup,
// Remove). The zero Group is
// unusable: its methods return [ErrInvalidConfig] or do nothing; use
// [NewGroup]. A nil *Group behaves the same.
type Group struct {
	id      string
	path    string
	cfg     GroupConfig
	t       *tree
	parent  *Group
	self    *member   // this group's entry in its parent; nil for a root
	members []*member // in start order; gone members are compacted away when idle
	byID    map[string]*member
	gone    int // members that left and are not compacted yet

	state   GroupState
	up      bool   // every member was started in order since the group's last start
	err     error  // why the group failed
	reason  string // why the state is what it is, in words
	lastCmd *CommandRecord
	// listener counts the panics of the group's OnEvent.
	listener listenerFaults
	tracker  *restartCounter
	// restarts counts the restarts the group performed over its life.
	restarts uint64
	base     timeBase

	// ctx is the parent of the members' attempts: the caller's ctx without
	// its cancellation (context.WithoutCancel), so that it gives them its
	// values and nothing can cancel them all at once. Being never done, it
	// also keeps no list of its children: an attempt's context costs no
	// entry in a map shared by a hundred thousand siblings.
	ctx context.Context

	w    walk // the restart or shutdown in progress
	busy bool // listed in the tree's busy groups
}

// GroupState is where a group's life stands.
type GroupState uint8

// The group states. The zero value is GroupIdle.
const (
	// GroupIdle: not started yet.
	GroupIdle GroupState = iota
	// GroupStarting: starting its members in order.
	GroupStarting
	// GroupRunning: every member was started; the group supervises them.
	GroupRunning
	// GroupRestarting: stopping, then starting again in order, the members
	// a failure's restart covers.
	GroupRestarting
	// GroupShuttingDown: stopping every member in reverse order.
	GroupShuttingDown
	// GroupStopped: every member stopped; the group ended normally.
	GroupStopped
	// GroupFailed: the restart intensity was spent; every member stopped
	// and Err says why.
	GroupFailed
)

var groupStateNames = []string{"idle", "starting", "running", "restarting", "shutting_down", "stopped", "failed"}

// over reports whether the state is an end: stopped or failed.
func (s GroupState) over() bool { return s == GroupStopped || s == GroupFailed }

// member is one entry of a group: a slot or a nested group.
type member struct {
	slot        *ChildSlot
	sub         *Group
	idx         int32 // position in the group's members
	significant bool
	background  bool // left out of readiness (Config.Background, GroupConfig.Background)
	gone        bool // left the group; dropped at the next compaction
	leaving     bool // Remove was asked: forget it once it has stopped
	subHalted   bool // a nested group the group stops, or stopped, itself
	// restartWhenStopped: a nested group an operator restarts; start it
	// once stopped.
	restartWhenStopped bool
	stopping           bool // the group cancelled it for a shutdown and awaits its end
	ownRestart         bool // its own failure's restart is to be counted in its own budget
	dynamic            bool // started by StartChild: it leaves the group when it ends for good
	awaitedStop        bool // a Concurrent stop cancelled it and counts it in the walk's waiting
	outcome            ShutdownOutcome
}

// id returns the member's id.
func (m *member) id() string {
	if m.sub != nil {
		return m.sub.id
	}
	return m.slot.id
}

// NewGroup returns a group named id. It returns an error wrapping
// [ErrInvalidConfig], naming the field, when id is empty or cfg holds an
// unusable value. A group is a root until [Group.AddGroup] nests it.
func NewGroup(id string, cfg GroupConfig) (*Group, error) {
	if err := checkID(id); err != nil {
		return nil, fmt.Errorf("group: %w", err)
	}
	cfg, err := cfg.withDefaults()
	if err != nil {
		return nil, err
	}
	events, err := newEventLog(cfg.EventLog)
	if err != nil {
		return nil, err
	}
	g := &Group{
		id:   id,
		path: "/" + id,
		cfg:  cfg,
		byID: make(map[string]*member),
		base: newTimeBase(time.Now()),
	}
	g.t = &tree{root: g, rootPath: g.path, listens: cfg.OnEvent != nil, events: events}
	if cfg.Intensity != NoIntensity {
		g.tracker = newRestartCounter(cfg.Intensity, cfg.Period)
	}
	return g, nil
}

// valid reports whether the group came from NewGroup.
func (g *Group) valid() bool { return g != nil && g.t != nil }

// ID returns the id the group was created with.
func (g *Group) ID() string {
	if g == nil {
		return ""
	}
	return g.id
}

// Path returns the group's position in the tree: "/" + id for a root, the
// parent's path + "/" + id when nested.
func (g *Group) Path() string {
	if g == nil {
		return ""
	}
	return g.path
}

// State returns where the group's life stands.
func (g *Group) State() GroupState {
	if !g.valid() {
		return GroupIdle
	}
	return g.state
}

// Add creates a member slot that supervises fn under the name id, last in
// start order, and returns it: a normal [ChildSlot] to read (Record,
// Liveness) and for the operator controls, which the group respects. The
// group, not the caller, starts it and collects its exits. A member added
// after Start starts at once.
//
// Add returns an error wrapping [ErrInvalidConfig] for an id the id rule
// refuses (empty, over 128 bytes, with '/' or a control character, "." or
// "..") or a duplicate one, a nil fn, a cfg the slot refuses, or a cfg with
// Exits set (the group collects its members' exits itself);
// [ErrGroupStopped] once the group shuts down or has ended;
// [ErrConcurrentUse] when another goroutine is changing the tree.
func (g *Group) Add(id string, fn ChildFunc, cfg Config) (*ChildSlot, error) {
	if !g.valid() {
		return nil, errZeroGroup
	}
	v, err := g.enter()
	if err != nil {
		return nil, err
	}
	defer g.exit(v)
	return g.add(id, fn, cfg)
}

// add is Add, for a caller that holds the tree.
func (g *Group) add(id string, fn ChildFunc, cfg Config) (*ChildSlot, error) {
	if err := g.joinable(id); err != nil {
		return nil, err
	}
	if cfg.Exits != nil {
		return nil, fmt.Errorf("%w: member %q: Exits is set; the group collects its members' exits", ErrInvalidConfig, id)
	}
	cfg.Path = g.path + "/" + id
	s, err := NewChildSlot(id, fn, cfg)
	if err != nil {
		return nil, fmt.Errorf("member %q: %w", id, err)
	}
	m := &member{slot: s, significant: cfg.Significant, background: cfg.Background}
	s.joinGroup(g, m)
	g.t.sched.track(s) // filed once: from now on the slot keeps its entry current
	// The slot calls its own OnEvent itself: the tree's listens is for
	// the groups' listeners only.
	g.join(m)
	return s, nil
}

// AddGroup nests sub in g as a member, last in start order. sub must be a
// root that has not started: it then shares g's loop (Wake, Advance), and its
// path becomes g's path + "/" + its id. A group added after g started starts
// at once.
//
// AddGroup returns an error wrapping [ErrInvalidConfig] when sub is nil or
// zero, is g or one of g's ancestors, already has a parent, has started, or
// its id is taken in g; [ErrGroupStopped] once g shuts down or has ended.
func (g *Group) AddGroup(sub *Group) error {
	if !g.valid() {
		return errZeroGroup
	}
	v, err := g.enter()
	if err != nil {
		return err
	}
	defer g.exit(v)
	if !sub.valid() {
		return fmt.Errorf("%w: nil or zero nested group", ErrInvalidConfig)
	}
	for a := g; a != nil; a = a.parent {
		if a == sub {
			return fmt.Errorf("%w: group %q cannot be nested in itself or below itself", ErrInvalidConfig, sub.id)
		}
	}
	switch {
	case sub.parent != nil:
		return fmt.Errorf("%w: group %q already belongs to %q", ErrInvalidConfig, sub.id, sub.parent.path)
	case sub.state != GroupIdle:
		return fmt.Errorf("%w: group %q has started; nest it before", ErrInvalidConfig, sub.id)
	}
	if err := g.joinable(sub.id); err != nil {
		return err
	}
	sub.parent = g
	sub.adopt(g.t, g.path+"/"+sub.id)
	m := &member{sub: sub, significant: sub.cfg.Significant, background: sub.cfg.Background}
	sub.self = m
	g.join(m)
	return nil
}

// adopt moves g and everything below it into tree t under path. Nothing
// below g has started, so no child reads what changes.
func (g *Group) adopt(t *tree, path string) {
	if g.t.listens { // g's own OnEvent or one below it: NewGroup and adopt set it
		t.listens = true
	}
	g.t, g.path = t, path
	for _, m := range g.members {
		if m.gone {
			continue
		}
		if m.sub != nil {
			m.sub.adopt(t, path+"/"+m.sub.id)
			continue
		}
		m.slot.moveTo(&t.q, path)
		t.sched.track(m.slot) // moves it from the nested group's own schedule
	}
}

// replayAdded tells the listeners above top, at now, of every member below
// g, each of which joined before top joined its parent; top's own
// listeners heard of them then.
func (g *Group) replayAdded(now time.Time, top *Group) {
	if !g.heard() {
		return
	}
	for _, m := range g.members {
		if m.gone {
			continue
		}
		e := Event{Kind: EventMemberAdded, Time: now, Member: m.id(), ChildID: g.id, Path: g.path}
		g.t.events.add(&e, nil)
		if top.parent != nil {
			top.parent.relay(e)
		}
		if m.sub != nil {
			m.sub.replayAdded(now, top)
		}
	}
}

// joinable returns why a member named id cannot join g, or nil.
func (g *Group) joinable(id string) error {
	if err := checkID(id); err != nil {
		return fmt.Errorf("group %q: member: %w", g.path, err)
	}
	switch {
	case g.state == GroupShuttingDown || g.state.over():
		return fmt.Errorf("group %q: %w", g.path, ErrGroupStopped)
	}
	if _, dup := g.byID[id]; dup {
		return fmt.Errorf("%w: group %q already has a member %q", ErrInvalidConfig, g.path, id)
	}
	if g.cfg.MaxChildren > 0 && g.Len() >= g.cfg.MaxChildren {
		return fmt.Errorf("group %q: %w (%d)", g.path, ErrMaxChildren, g.cfg.MaxChildren)
	}
	return nil
}

// join appends m to g's members and, if g runs, starts it.
func (g *Group) join(m *member) {
	m.idx = int32(len(g.members))
	g.members = append(g.members, m)
	g.byID[m.id()] = m
	now := g.t.lastNow
	if now.IsZero() { // before Start: the tree has seen no time yet
		now = time.Now()
	}
	g.emit(Event{Kind: EventMemberAdded, Time: now, Member: m.id()})
	if m.sub != nil {
		m.sub.replayAdded(now, m.sub) // g's listeners learn what it holds
	}
	switch g.state {
	case GroupRunning:
		g.startMember(m, now)
	case GroupStarting, GroupRestarting:
		// The start walk in progress reaches it: it is last in order.
		g.t.advanceNow = true
	}
}

// Remove stops the member named id (a nested group by its ordered
// shutdown) and forgets it once it has stopped; meanwhile its record shows
// it leaving. It returns an error wrapping [ErrUnknownMember] when g has no
// such member.
func (g *Group) Remove(id string, now time.Time) error {
	if !g.valid() {
		return errZeroGroup
	}
	v, err := g.enter()
	if err != nil {
		return err
	}
	defer g.exit(v)
	return g.remove(id, now)
}

// remove is Remove, for a caller that holds the tree.
func (g *Group) remove(id string, now time.Time) error {
	m, ok := g.byID[id]
	if !ok || m.gone {
		return fmt.Errorf("group %q: member %q: %w", g.path, id, ErrUnknownMember)
	}
	now = g.t.clampNow(now)
	m.leaving = true
	if m.sub != nil {
		m.sub.beginShutdown(now, "removed from "+g.path)
	} else {
		s := m.slot
		if s.op != OperationRemoved {
			_ = s.Remove(now) // cannot fail: valid and not removed
		}
	}
	g.dropIfStopped(m, now)
	return nil
}

// Slot returns the member slot named id, or nil when g has no such slot.
func (g *Group) Slot(id string) *ChildSlot {
	if !g.valid() {
		return nil
	}
	if m, ok := g.byID[id]; ok && !m.gone {
		return m.slot
	}
	return nil
}

// Group returns the nested group named id, or nil when g has no such
// group.
func (g *Group) Group(id string) *Group {
	if !g.valid() {
		return nil
	}
	if m, ok := g.byID[id]; ok && !m.gone {
		return m.sub
	}
	return nil
}

// Len returns the number of g's members, nested groups counted as one.
func (g *Group) Len() int {
	if !g.valid() {
		return 0
	}
	return len(g.members) - g.gone
}

// leave takes m out of the group, for why. Its entry stays, marked gone,
// until the next compaction, so that walks in progress keep their places.
func (g *Group) leave(m *member, now time.Time, why string) {
	if m.gone {
		return
	}
	m.gone = true
	g.gone++
	delete(g.byID, m.id())
	if s := m.slot; s != nil {
		g.t.sched.untrack(s)
		s.leaveGroup()
	}
	if m.sub != nil {
		m.sub.parent, m.sub.self = nil, nil
	}
	g.emit(Event{Kind: EventMemberRemoved, Time: now, Member: m.id(), Reason: why})
	g.compact()
}

// dropIfStopped forgets m, which is leaving, once nothing of it runs.
func (g *Group) dropIfStopped(m *member, now time.Time) {
	if !m.leaving || m.gone {
		return
	}
	if m.sub != nil {
		if st := m.sub.state; st != GroupIdle && !st.over() {
			return
		}
	} else if m.slot.active != nil {
		return
	}
	g.leave(m, now, "removed")
}

// compact drops the entries of members that left, once they are half of
// the list and no walk holds a place in it: amortized, each entry is
// moved a constant number of times. With none gone the test returns on its
// own (0 < len), and an empty list compacts to itself.
func (g *Group) compact() {
	if g.w.kind != walkNone || g.gone*2 < len(g.members) {
		return
	}
	kept := g.members[:0]
	for _, m := range g.members {
		if !m.gone {
			m.idx = int32(len(kept))
			kept = append(kept, m)
		}
	}
	clear(g.members[len(kept):])
	g.members = kept
	g.gone = 0
}
