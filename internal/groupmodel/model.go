// Package groupmodel is a reference model of a supervision tree (the
// package's Group): a pure, deterministic state machine over plain values,
// written from the Group contract (design/GROUPS.md and the README's
// "Supervision trees"), not from the group's code, so that a test can drive
// a real tree and the model with the same steps and demand that they agree.
//
// The model works at the level of the tree's loop: every call is followed
// by everything the tree does at that instant (collecting the exits it
// causes, carrying on its groups' jobs), as a loop that advances until nothing is
// due would see it. It knows what the real tree cannot: what each child
// does. The caller tells it when a child returns, panics, or decides to
// ignore cancellation, and when time passes.
//
// The children it models are simple: no readiness, heartbeat or attempt
// deadlines, no processes; a member's backoff is a fixed delay (possibly
// zero). Times are durations since an origin the caller picks. A Tree
// belongs to one goroutine; it starts none and reads no clock.
package groupmodel

import (
	"fmt"
	"slices"
	"strings"
	"time"
)

// SlotConfig is what the model knows of a member slot's Config.
type SlotConfig struct {
	Restart     Restart
	Significant bool
	Limit       int           // RestartLimit
	Window      time.Duration // RestartWindow
	StopTimeout time.Duration
	Delay       time.Duration // every backoff delay (zero: NoDelay)
}

// GroupConfig is what the model knows of a GroupConfig.
type GroupConfig struct {
	Strategy     Strategy
	Restart      Restart
	Significant  bool
	Intensity    int // 0: off (NoIntensity)
	Period       time.Duration
	AutoShutdown AutoShutdown
	// Concurrent is ShutdownOrder Concurrent: a shutdown or a restart's
	// scope cancels every member at once and waits for them together.
	Concurrent bool
	// MaxChildren bounds the members (0: no bound); Add past it is refused.
	MaxChildren int
	// ShutdownTimeout bounds a shutdown (0: none): at it, whatever still
	// runs below the group is abandoned.
	ShutdownTimeout time.Duration
}

// ChildRef names one attempt's child: its slot's path and attempt number.
type ChildRef struct {
	Path    string
	Attempt uint64
}

// Tree is the model of one supervision tree.
type Tree struct {
	root *group
	now  time.Duration

	slots  map[string]*slot  // every slot ever added, by path
	groups map[string]*group // every group, by path

	returned []*slot    // held attempts whose child returned, in order
	stale    []*attempt // abandoned attempts whose child still runs
	cancels  []ChildRef // cancellations the children saw, in order
	seq      uint64     // numbers the cancellations
	// busy lists the groups with a job in progress (job.go), in the order
	// their jobs began: at one instant, the job that began first moves first.
	busy []*group
	kick bool // a job began or a nested group moved on: look again
	// forced lists the groups whose shutdown reached its ShutdownTimeout
	// since the last TakeForced: they cancelled what still ran at once.
	forced map[string]bool
}

// New returns the model of a root group named id.
func New(id string, cfg GroupConfig) *Tree {
	t := &Tree{slots: map[string]*slot{}, groups: map[string]*group{}}
	t.root = &group{t: t, id: id, path: "/" + id, cfg: cfg}
	t.groups[t.root.path] = t.root
	return t
}

// Now returns the latest time the model has seen.
func (t *Tree) Now() time.Duration { return t.now }

func (t *Tree) at(now time.Duration) {
	if now > t.now {
		t.now = now
	}
}

// AddSlot adds a member slot named id to the group at path gpath. It
// reports false when the group refuses (it shuts down or has ended, or the
// id is taken), as Group.Add does.
func (t *Tree) AddSlot(gpath, id string, cfg SlotConfig, now time.Duration) bool {
	return t.addSlot(gpath, id, cfg, false, now)
}

func (t *Tree) addSlot(gpath, id string, cfg SlotConfig, dynamic bool, now time.Duration) bool {
	t.at(now)
	g := t.groups[gpath]
	if g == nil || !g.joinable(id) {
		return false
	}
	s := &slot{t: t, id: id, path: gpath + "/" + id, cfg: cfg, g: g, rule: groupRule}
	t.slots[s.path] = s
	g.join(&member{slot: s, dynamic: dynamic})
	t.settle()
	return true
}

// AddGroup nests a new, empty group named id in the group at ppath, as
// Group.AddGroup does with a fresh group; it reports false when refused.
func (t *Tree) AddGroup(ppath, id string, cfg GroupConfig, now time.Duration) bool {
	t.at(now)
	p := t.groups[ppath]
	if p == nil || !p.joinable(id) {
		return false
	}
	sub := &group{t: t, id: id, path: ppath + "/" + id, cfg: cfg, parent: p}
	m := &member{sub: sub}
	sub.self = m
	t.groups[sub.path] = sub
	p.join(m)
	t.settle()
	return true
}

// Start starts the tree at now.
func (t *Tree) Start(now time.Duration) {
	t.at(now)
	if t.root.state == Idle {
		t.root.start()
	}
	t.settle()
}

// Finished reports whether the root has ended.
func (t *Tree) Finished() bool { return t.root.state.over() }

// Failed reports whether the root failed (its Err is set): its intensity
// refused a restart, and it shuts down or has ended.
func (t *Tree) Failed() bool { return t.root.failed }

// TakeForced returns the paths of the groups whose shutdown reached its
// ShutdownTimeout since the last call: their children saw the
// cancellations it sent all at once, in no order.
func (t *Tree) TakeForced() map[string]bool {
	out := t.forced
	t.forced = nil
	return out
}

// TakeCancels returns the cancellations children saw since the last call,
// in order.
func (t *Tree) TakeCancels() []ChildRef {
	out := t.cancels
	t.cancels = nil
	return out
}

// ---- what the children do ----------------------------------------------

// Running returns the child of the attempt slot path holds, if its child
// runs.
func (t *Tree) Running(path string) (ChildRef, bool) {
	s := t.slots[path]
	if s == nil || s.cur == nil || s.cur.returned {
		return ChildRef{}, false
	}
	return ChildRef{path, s.cur.n}, true
}

// Stubborn returns the children that saw their cancellation and ignore it,
// held or abandoned, in the order they were cancelled.
func (t *Tree) Stubborn() []ChildRef {
	var out []ChildRef
	for _, p := range t.sortedSlots() {
		if a := t.slots[p].cur; a != nil && a.cancelled && !a.obeys && !a.returned {
			out = append(out, ChildRef{p, a.n})
		}
	}
	for _, a := range t.stale {
		out = append(out, ChildRef{a.s.path, a.n})
	}
	return sortRefs(out, t)
}

// Return makes the held attempt of slot path return: with an error
// (fail), a panic, or nil. A child whose context was cancelled returns
// as cancelled, whatever it returns, unless it panics.
func (t *Tree) Return(path string, fail, panics bool, now time.Duration) bool {
	t.at(now)
	s := t.slots[path]
	if s == nil || s.cur == nil || s.cur.returned {
		return false
	}
	k := Succeeded
	switch {
	case panics:
		k = Panicked
	case s.cur.cancelled:
		k = Cancelled
	case fail:
		k = Failed
	}
	s.cur.ret(k)
	t.settle()
	return true
}

// ReturnDirective makes the held attempt of slot path return an error
// wrapping the directive d: a failure that asks its supervisor for d.
func (t *Tree) ReturnDirective(path string, d Directive, now time.Duration) bool {
	t.at(now)
	s := t.slots[path]
	if s == nil || s.cur == nil || s.cur.returned {
		return false
	}
	k := Failed
	if s.cur.cancelled {
		k = Cancelled
	}
	s.cur.directive = d
	s.cur.ret(k)
	t.settle()
	return true
}

// Ignore makes the held attempt of slot path ignore cancellation from now
// on.
func (t *Tree) Ignore(path string, now time.Duration) bool {
	t.at(now)
	s := t.slots[path]
	if s == nil || s.cur == nil || s.cur.returned {
		return false
	}
	s.cur.obeys = false
	return true
}

// Release makes the stubborn child c return after all: a held attempt is
// then collected as cancelled; an abandoned one only reports late.
func (t *Tree) Release(c ChildRef, now time.Duration) bool {
	t.at(now)
	for i, a := range t.stale {
		if a.s.path == c.Path && a.n == c.Attempt {
			t.stale = append(t.stale[:i], t.stale[i+1:]...)
			return true
		}
	}
	s := t.slots[c.Path]
	if s == nil || s.cur == nil || s.cur.n != c.Attempt || s.cur.returned {
		return false
	}
	s.cur.ret(Cancelled)
	t.settle()
	return true
}

// ---- time ---------------------------------------------------------------

// Sleep lets time pass to now, serving every deadline on the way at its
// instant: stop deadlines (abandoning), backoffs (restarts), the backoff
// a group restart waits for, and shutdowns' ShutdownTimeouts.
func (t *Tree) Sleep(now time.Duration) {
	for {
		at, ok := t.nextDeadline()
		if !ok || at > now {
			break
		}
		t.at(at)
		t.settle()
	}
	t.at(now)
	t.settle()
}

// nextDeadline is the earliest instant at which something is due.
func (t *Tree) nextDeadline() (time.Duration, bool) {
	var at time.Duration
	ok := false
	offer := func(d time.Duration) {
		if !ok || d < at {
			at, ok = d, true
		}
	}
	for _, s := range t.slots {
		if d, due := s.deadline(); due {
			offer(d)
		}
	}
	for _, g := range t.groups {
		if g.job.kind == jobBackoff {
			offer(g.job.at)
		}
		if d, due := g.shutdownDeadline(); due {
			offer(d)
		}
	}
	return at, ok
}

// settle does everything due at the current instant until nothing moves,
// pass by pass as the tree's Advance does: the exits of the children that
// returned before the pass, then the deadlines, then the jobs, each as far
// as it goes. A child that returns during a pass (a job cancelled it) is
// seen in the next: a job that reaches it again in the same pass (a
// shutdown that took over a restart) finds it still stopping.
func (t *Tree) settle() {
	for range 1 << 16 {
		moved := false
		returned := t.returned
		t.returned = nil
		for _, s := range returned {
			s.collect()
			moved = true
		}
		for _, p := range t.sortedSlots() {
			if t.slots[p].serveDue() {
				moved = true
			}
		}
		if t.runJobs() {
			moved = true
		}
		if !moved && len(t.returned) == 0 { // a job that cancels does not move, but its child returns (and leaves no kick)
			return
		}
	}
	panic("groupmodel: the tree never settles")
}

// runJobs carries every job in progress on until none moves: a nested
// group that started lets its parent's start go on, a parent's shutdown starts
// its nested groups' own. It reports whether any moved.
func (t *Tree) runJobs() bool {
	movedAny := false
	for range 1 << 16 {
		t.kick = false
		moved := false
		for i := 0; i < len(t.busy); i++ {
			if t.busy[i].progress() {
				moved = true
			}
		}
		t.busy = slices.DeleteFunc(t.busy, func(g *group) bool { return g.job.kind == noJob })
		movedAny = movedAny || moved || t.kick
		if !moved && !t.kick {
			return movedAny
		}
	}
	panic("groupmodel: the jobs never settle")
}

// ---- helpers --------------------------------------------------------------

func (t *Tree) sortedSlots() []string {
	var out []string
	t.root.walkSlots(func(s *slot) { out = append(out, s.path) })
	for p, s := range t.slots { // slots that left the tree, by path
		if !s.m.isIn() {
			out = append(out, p)
		}
	}
	return dedupe(out)
}

// busyAdd lists g among the groups whose job moves.
func (t *Tree) busyAdd(g *group) {
	t.kick = true
	if !slices.Contains(t.busy, g) {
		t.busy = append(t.busy, g)
	}
}

func dedupe(in []string) []string {
	seen := map[string]bool{}
	out := in[:0]
	for _, p := range in {
		if !seen[p] {
			seen[p] = true
			out = append(out, p)
		}
	}
	return out
}

// sortRefs orders refs by when their child saw its cancellation.
func sortRefs(refs []ChildRef, t *Tree) []ChildRef {
	seq := func(c ChildRef) uint64 {
		if s := t.slots[c.Path]; s != nil && s.cur != nil && s.cur.n == c.Attempt {
			return s.cur.cancelSeq
		}
		for _, a := range t.stale {
			if a.s.path == c.Path && a.n == c.Attempt {
				return a.cancelSeq
			}
		}
		return 0
	}
	for i := 1; i < len(refs); i++ {
		for j := i; j > 0 && seq(refs[j]) < seq(refs[j-1]); j-- {
			refs[j], refs[j-1] = refs[j-1], refs[j]
		}
	}
	return refs
}

// String describes the tree in one line per member, for failure messages.
func (t *Tree) String() string {
	var b strings.Builder
	t.root.describe(&b, "")
	return b.String()
}

func (g *group) describe(b *strings.Builder, indent string) {
	fmt.Fprintf(b, "%s%s %v restarts=%d\n", indent, g.path, g.state, g.restarts)
	for _, m := range g.current() {
		if m.sub != nil {
			m.sub.describe(b, indent+"  ")
			continue
		}
		s := m.slot
		fmt.Fprintf(b, "%s  %s %v attempt=%d running=%v rule=%d\n", indent, s.path, s.op, s.attempts, s.cur != nil, s.rule)
	}
}
