package supervisor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// tree is what the groups of one supervision tree share: one exit queue for
// every member slot (so Wake is one channel), one schedule of their
// deadlines, and the groups with a walk in progress. It belongs to the
// tree's loop goroutine.
type tree struct {
	root     *Group
	rootPath string
	cmds     commands // the one part other goroutines write
	cmdBuf   []pendingCommand
	cmdSeq   uint64
	reqBuf   []*childRequest // the child requests one Advance takes
	reqs     []*childRequest // taken, their answer waiting for their member
	changed  bool            // something changed since the snapshot was published
	// The published snapshot, read by any goroutine, and what the loop
	// keeps to space its publications.
	snap     atomic.Pointer[GroupRecord]
	snapAt   time.Time
	snapCost time.Duration
	monoAdv  atomic.Int64 // the latest Advance on the root's time base, plus one: zero before the first
	lastAdv  time.Time
	q        ExitQueue
	sched    slotHeap
	buf      []*ChildSlot
	busy     []*Group
	lastNow  time.Time
	// advanceNow says that something changed outside Advance (an operator
	// control, a member added): NextDeadline then asks for an Advance now.
	advanceNow bool
	listens    bool // some group in the tree has an OnEvent: group events are built at all
	// startsVisited counts the members the start walks reached in this
	// Advance; startsLeft says a walk stopped at advanceBatch of them and
	// goes on in the next Advance, which NextDeadline then asks for at once.
	startsVisited int
	startsLeft    bool
	// How far behind the latest Advance left the loop (see Backlog; the
	// exits queued are the queue's own count).
	backOverdue atomic.Int64
	backStarts  atomic.Int64
	// guard keeps calls that change the tree from overlapping (guard.go).
	guard guard
	// events is the tree's log of recent events (eventlog.go); nil when its
	// root's GroupConfig.EventLog is NoEventLog.
	events *eventLog
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

// advanceBatch bounds the exits and the deadlines one Advance serves, and
// the members its start walks reach, so that a storm of exits cannot starve
// the deadlines, nor the other way round, and a start of a million members
// does not run on one stale now (each attempt's deadlines count from the
// now it started at); the loop comes back at once for the rest.
const advanceBatch = 1024

// busyAdd lists g among the groups whose walk Advance carries on.
func (t *tree) busyAdd(g *Group) {
	t.advanceNow = true
	if !g.busy {
		g.busy = true
		t.busy = append(t.busy, g)
	}
}

// Start starts the tree whose root is g at now: its members start in order,
// a member whose readiness is watched (Config.ReadyTimeout) holding back the
// next until it reports Ready, and nested groups likewise. Start and each
// Advance after it reach at most 1,024 members, so that a large tree starts
// over several Advances, each at its own now, with exits and deadlines
// served between them (NextDeadline asks for the next at once); the group
// reports EventGroupStarted, and State GroupRunning, once all have started.
// ctx gives the members' contexts their values, never its cancellation:
// the children's contexts are the group's, and the caller ends the tree by
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
	v := g.t.guard.wait()
	defer g.t.guard.release(v)
	if g.state != GroupIdle { // another goroutine's Start won the race
		return fmt.Errorf("group %q: %w", g.path, ErrActive)
	}
	now = g.t.clampNow(now)
	g.start(now, context.WithoutCancel(ctx))
	g.t.advance(now)
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
// holds, and is bounded: at most 1,024 exits, 1,024 deadlines and 1,024
// members of start walks per call; what is left is due at once (Wake stays
// signalled, NextDeadline returns a past instant). Called on a nested group,
// it advances the whole tree.
func (g *Group) Advance(now time.Time) {
	if !g.valid() {
		return
	}
	t := g.t
	v := t.guard.wait()
	t.advance(now)
	t.guard.release(v)
}

// advance is Advance, for a caller that holds the tree.
func (t *tree) advance(now time.Time) {
	now = t.clampNow(now)
	if t.advanceNow {
		t.changed = true
	}
	// Reset before takeChildren, which sets startsLeft when it leaves
	// requests for the next Advance, as the walks do for their members.
	t.startsVisited, t.startsLeft = 0, false
	t.applyCommands(now)
	t.takeChildren(now)
	// Bounded: in a storm, deadlines and commands keep their turn; what is
	// left stays queued and Wake stays signalled.
	t.buf = t.q.DrainN(t.buf[:0], advanceBatch)
	if len(t.buf) > 0 {
		t.changed = true
	}
	for i, s := range t.buf {
		t.serve(s, now)
		t.buf[i] = nil
	}
	if t.due(now) {
		t.changed = true
	}
	if t.walk(now) {
		t.changed = true
	}
	if len(t.reqs) > 0 {
		t.answerChildren(now)
	}
	t.lastAdv = now
	t.monoAdv.Store(t.root.base.nanos(now) + 1)
	t.storeBacklog(now)
	if now.Sub(t.snapAt) >= t.root.cfg.Pulse {
		// What changes without an event (heartbeats, readiness, restart
		// budgets leaving their window) is published once a pulse.
		t.changed = true
	}
	t.publish(now)
}

// publish stores a fresh snapshot of the tree when something changed and
// the last one is old enough: SnapshotInterval, and at least twenty times
// what building the last one took, so that a large tree spends at most a
// twentieth of its loop on snapshots.
func (t *tree) publish(now time.Time) {
	if t.root.cfg.SnapshotInterval == NoSnapshots {
		t.changed = false // nothing to publish, nothing to come back for
		return
	}
	if !t.changed && t.snap.Load() != nil {
		return
	}
	over := t.root.state.over()
	if !over && now.Before(t.snapDue()) {
		return
	}
	start := time.Now()
	r := t.root.record(now, t.snap.Load())
	t.snapCost = time.Since(start)
	t.snap.Store(&r)
	t.snapAt, t.changed = now, false
}

// snapshotPatience, in pulses, is how long a snapshot waits for a loop
// that is behind (see behind) before it is published anyway.
const snapshotPatience = 30

// behind reports whether the latest Advance left work for the next: exits
// queued, a deadline overdue, or members of a start beyond its batch.
func (t *tree) behind() bool {
	return t.q.Len() > 0 || t.backOverdue.Load() > 0 || t.startsLeft
}

// snapDue returns when the next snapshot may be published: SnapshotInterval
// after the last, and twenty times what building it took. While the loop is
// behind, a snapshot waits longer, up to snapshotPatience pulses after the
// last: in a storm, building one would take the loop's time from the storm,
// and its records would be out of date before anyone read them.
func (t *tree) snapDue() time.Time {
	if t.snap.Load() == nil {
		return time.Time{}
	}
	wait := max(t.root.cfg.SnapshotInterval, 20*t.snapCost)
	if t.behind() {
		wait = max(wait, snapshotPatience*t.root.cfg.Pulse)
	}
	return t.snapAt.Add(wait)
}

// serve collects a drained slot's exit, if it has one, and advances it (a
// late return of an abandoned attempt is recorded so).
func (t *tree) serve(s *ChildSlot, now time.Time) {
	if a := s.active; a != nil && a.isDone() {
		_, _ = s.Collect(now) // cannot fail: the attempt is done
	}
	t.advanceSlot(s, now)
}

// advanceSlot advances member slot s at now (it refiles itself in the
// tree's schedule), then performs its restart if one is due.
func (t *tree) advanceSlot(s *ChildSlot, now time.Time) {
	s.advance(now)
	if s.grp != nil && s.restartDue {
		s.grp.restartIfDue(s.m, now)
	}
}

// due advances the slots whose deadline has come, earliest first, and
// reports whether there was any.
func (t *tree) due(now time.Time) bool {
	served := false
	for range min(t.sched.size()+1, advanceBatch) {
		s, at, ok := t.sched.next()
		if !ok || at.After(now) {
			return served
		}
		served = true
		t.advanceSlot(s, now)
		if next, at2, ok := t.sched.next(); ok && next == s && !at2.After(at) {
			return served // nothing moved: leave it for the next call rather than spin
		}
	}
	return served
}

// walk carries on every walk in progress until none can move, children's
// and parents' alike: a nested group that has started lets its parent's
// start walk go on in the same call. It reports whether any moved.
func (t *tree) walk(now time.Time) bool {
	movedAny := false
	for range 1 << 16 { // bounded: a walk that could move forever is a bug, not a hang
		t.advanceNow = false
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
			} else {
				g.busy = false
			}
		}
		clear(t.busy[len(kept):])
		t.busy = kept
		movedAny = movedAny || moved || t.advanceNow
		if !moved && !t.advanceNow {
			return movedAny
		}
	}
	return movedAny
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
	if t.advanceNow || t.startsLeft {
		return t.lastNow, true
	}
	var d deadline
	if _, at, ok := t.sched.next(); ok {
		d.offer(at)
	}
	for _, b := range t.busy {
		if b.w.kind == walkBackoff {
			d.offer(b.w.at)
		}
		if b.w.kind == walkShutdown && !b.w.deadline.IsZero() && !b.w.forced {
			d.offer(b.w.deadline)
		}
	}
	if t.changed {
		d.offer(t.snapDue())
	}
	if !t.lastAdv.IsZero() && !t.root.state.over() {
		d.offer(t.lastAdv.Add(t.root.cfg.Pulse))
	}
	return d.at, d.ok
}

// Shutdown begins the ordered shutdown of g at now: its members stop in
// reverse start order, one at a time, each within its own StopTimeout,
// nested groups depth-first; Advance carries it out, and Finished reports
// true when it is done. A group that never started stops at once. On a
// nested group it shuts that group down, which its parent sees as a normal
// end.
func (g *Group) Shutdown(now time.Time) { g.ShutdownWith(now, "shutdown requested") }

// ShutdownWith is Shutdown with the reason the record and the events give
// ("SIGTERM", say).
//
// ShutdownWith and Shutdown are safe to call from any goroutine (a signal
// handler's, say): they wait while the loop is inside Advance, and wake it
// after.
func (g *Group) ShutdownWith(now time.Time, reason string) {
	if !g.valid() {
		return
	}
	t := g.t
	v := t.guard.wait()
	g.beginShutdown(t.clampNow(now), reason)
	t.advanceNow = true
	t.guard.release(v)
	t.q.wake()
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
//
// When the environment has NOTIFY_SOCKET, as under a systemd unit of
// Type=notify, Run speaks sd_notify(3): READY=1 once the tree has started
// in order (each member that watches readiness having reported Ready),
// STATUS= with a one-line summary as it changes, WATCHDOG=1 every half
// WATCHDOG_USEC while the loop keeps advancing (a loop stuck in user code
// stops it, and systemd restarts the service), and STOPPING=1 when the
// shutdown begins. A send never blocks the loop: what cannot go at once is
// sent a pulse later, as it stands then, and a socket that cannot be
// reached is dialled again every pulse; EventNotifyFailed and
// EventNotifyRestored tell the root's OnEvent when an outage begins and
// ends.
func (g *Group) Run(ctx context.Context) error {
	if err := g.Start(ctx, time.Now()); err != nil {
		return err
	}
	n := openNotifier()
	defer n.close()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	done := ctx.Done()
	t := g.t
	now, stop := time.Now(), false
	for started := true; ; started = false {
		// Each turn holds the tree once, while it changes and reads it:
		// calls from other goroutines (Shutdown, Add) find it free while
		// the loop waits.
		v := t.guard.wait()
		if stop {
			g.beginShutdown(t.clampNow(now), "context done: "+errorText(context.Cause(ctx)))
		}
		if !started { // Start advanced the first turn
			t.advance(now)
		}
		n.after(g, now)
		finished := g.state.over()
		at, due := g.NextDeadline()
		t.guard.release(v)
		if finished {
			break
		}
		var d deadline
		if due {
			d.offer(at)
		}
		if at, ok := n.deadline(); ok {
			d.offer(at)
		}
		if d.ok {
			timer.Reset(time.Until(d.at))
		} else {
			timer.Stop()
		}
		stop = false
		select {
		case <-t.q.Ready():
		case <-timer.C:
		case <-done:
			done, stop = nil, true
		}
		now = time.Now()
	}
	return g.Err()
}
