package supervisor

import (
	"context"
	"fmt"
	"time"
)

// tree is what the groups of one supervision tree share: one exit queue for
// every member slot (so Wake is one channel), one schedule of their
// deadlines, and the groups with a walk in progress. It belongs to the
// tree's loop goroutine.
type tree struct {
	root    *Group
	q       ExitQueue
	sched   Schedule
	buf     []*ChildSlot
	busy    []*Group
	lastNow time.Time
	// kick says that something changed outside Advance (an operator
	// control, a member added): NextDeadline then asks for an Advance now.
	kick    bool
	listens bool // some OnEvent in the tree: events are built at all
}

// clampNow returns now, or the latest now the tree has seen when now is
// earlier: time seen by the tree never runs backwards.
func (t *tree) clampNow(now time.Time) time.Time {
	if now.Before(t.lastNow) {
		return t.lastNow
	}
	t.lastNow = now
	return now
}

// busyAdd lists g among the groups whose walk Advance carries on.
func (t *tree) busyAdd(g *Group) {
	t.kick = true
	for _, b := range t.busy {
		if b == g {
			return
		}
	}
	t.busy = append(t.busy, g)
}

// Start starts the tree whose root is g at now: its members start in order,
// a member whose readiness is watched (Config.ReadyTimeout) holding back the
// next until it reports Ready, and nested groups likewise. ctx gives the
// members' contexts their values, never its cancellation: the children's
// contexts are the group's, and the caller ends the tree by
// [Group.Shutdown], or [Group.Run] does when its ctx ends, so that the
// caller's cancellation never reaches all children at once.
//
// Start returns an error wrapping [ErrInvalidConfig] for a nil ctx or a
// nested group (it starts with its parent), [ErrActive] once started,
// [ErrGroupStopped] once ended, and ctx's cause when ctx is already done.
func (g *Group) Start(ctx context.Context, now time.Time) error {
	switch {
	case !g.valid():
		return errZeroGroup
	case ctx == nil:
		return fmt.Errorf("%w: nil context", ErrInvalidConfig)
	case g.parent != nil:
		return fmt.Errorf("%w: group %q is nested; it starts with its parent", ErrInvalidConfig, g.path)
	case g.state.over():
		return fmt.Errorf("group %q: %w", g.path, ErrGroupStopped)
	case g.state != GroupIdle:
		return fmt.Errorf("group %q: %w", g.path, ErrActive)
	case ctx.Err() != nil:
		return fmt.Errorf("supervisor: parent context done: %w", context.Cause(ctx))
	}
	now = g.t.clampNow(now)
	g.values = ctx
	g.start(now, context.WithoutCancel(ctx))
	g.Advance(now)
	return nil
}

// Wake returns a channel that receives when a member anywhere in the tree
// returned, or reported the Ready that a start in order waits for: then
// call Advance. One receive may stand for many. Wake is safe to call from
// any goroutine; a nil or zero group returns nil.
func (g *Group) Wake() <-chan struct{} {
	if !g.valid() {
		return nil
	}
	return g.t.q.Ready()
}

// Advance does what is due in the tree at now: it collects the exits of
// member slots and applies each group's strategy, carries on starts in
// order, restarts and shutdowns, and gives each slot that has a deadline
// due its own Advance (restarts after backoff, stale heartbeats, stop
// deadlines). Its cost follows what is due, not how many members the tree
// holds. Called on a nested group, it advances the whole tree.
func (g *Group) Advance(now time.Time) {
	if !g.valid() {
		return
	}
	t := g.t
	now = t.clampNow(now)
	t.buf = t.q.Drain(t.buf[:0])
	for i, s := range t.buf {
		t.serve(s, now)
		t.buf[i] = nil
	}
	t.due(now)
	t.walk(now)
}

// serve collects a drained slot's exit, if it has one, and advances it (a
// late return of an abandoned attempt is recorded so).
func (t *tree) serve(s *ChildSlot, now time.Time) {
	if a := s.active; a != nil && a.isDone() {
		_, _ = s.Collect(now) // cannot fail: the attempt is done
	}
	s.advance(now)
	if s.grp != nil {
		t.sched.Update(s)
	}
}

// due advances the slots whose deadline has come, earliest first.
func (t *tree) due(now time.Time) {
	for range t.sched.Len() + 1 {
		s, at, ok := t.sched.Next()
		if !ok || at.After(now) {
			return
		}
		s.advance(now)
		t.sched.Update(s)
		if next, at2, ok := t.sched.Next(); ok && next == s && !at2.After(at) {
			return // nothing moved: leave it for the next call rather than spin
		}
	}
}

// walk carries on every walk in progress until none can move, children's
// and parents' alike: a nested group that has started lets its parent's
// start walk go on in the same call.
func (t *tree) walk(now time.Time) {
	for range 1 << 16 { // bounded: a walk that could move forever is a bug, not a hang
		t.kick = false
		moved := false
		for i := 0; i < len(t.busy); i++ {
			if t.busy[i].step(now) {
				moved = true
			}
		}
		kept := t.busy[:0]
		for _, g := range t.busy {
			if g.w.kind != walkNone {
				kept = append(kept, g)
			}
		}
		clear(t.busy[len(kept):])
		t.busy = kept
		if !moved && !t.kick {
			return
		}
	}
}

// NextDeadline returns when Advance next has something to do in the tree:
// the earliest deadline of a member slot, or the end of the backoff a
// restart waits for; at once after a change made outside Advance. It reports
// false when nothing is scheduled: exits and readiness arrive through Wake.
func (g *Group) NextDeadline() (time.Time, bool) {
	if !g.valid() {
		return time.Time{}, false
	}
	t := g.t
	if t.kick {
		return t.lastNow, true
	}
	var d deadline
	if _, at, ok := t.sched.Next(); ok {
		d.offer(at)
	}
	for _, b := range t.busy {
		if b.w.kind == walkWait {
			d.offer(b.w.at)
		}
	}
	return d.at, d.ok
}

// Shutdown begins the ordered shutdown of g at now: its members stop in
// reverse start order, one at a time, each within its own StopTimeout,
// nested groups depth-first; Advance carries it out, and Finished reports
// true when it is done. A group that never started stops at once. On a
// nested group it shuts that group down, which its parent sees as a normal
// end.
func (g *Group) Shutdown(now time.Time) {
	if !g.valid() {
		return
	}
	g.beginShutdown(g.t.clampNow(now), "shutdown requested")
	g.t.kick = true
}

// Finished reports whether g has ended (stopped or failed) with every
// member stopped. Abandoned goroutines do not hold it back. A nil or zero
// group is finished.
func (g *Group) Finished() bool {
	if !g.valid() {
		return true
	}
	return g.state.over()
}

// Err returns nil, or why g gave up: an error wrapping [ErrGroupFailed] that
// names the group, the member whose failure was refused and the budget.
func (g *Group) Err() error {
	if !g.valid() {
		return nil
	}
	return g.err
}

// Run is the ready-made loop: it starts the tree whose root is g, then
// waits on Wake and the next deadline and calls Advance until the tree has
// ended. When ctx ends it begins the ordered shutdown, and returns once it
// is done. Run returns nil after a normal end, or an error wrapping
// [ErrGroupFailed] when the root gave up, so that
//
//	if err := app.Run(ctx); err != nil {
//		os.Exit(1)
//	}
//
// hands the last escalation to the platform (systemd, Kubernetes). Run
// returns Start's error when the tree cannot start.
func (g *Group) Run(ctx context.Context) error {
	if err := g.Start(ctx, time.Now()); err != nil {
		return err
	}
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	done := ctx.Done()
	for !g.Finished() {
		if at, ok := g.NextDeadline(); ok {
			timer.Reset(time.Until(at))
		} else {
			timer.Stop()
		}
		select {
		case <-g.Wake():
		case <-timer.C:
		case <-done:
			done = nil
			g.beginShutdown(g.t.clampNow(time.Now()), "context done: "+context.Cause(ctx).Error())
		}
		g.Advance(time.Now())
	}
	return g.Err()
}
