package supervisor

import "time"

// This file holds what any goroutine may read of how a tree's loop is
// doing: the published snapshot, the backlog, the time since the latest
// Advance.

// Snapshot returns the latest record of the whole tree g belongs to, as its
// loop published it: after each Advance that changed something, at most
// every GroupConfig.SnapshotInterval (and, for a large tree, no more often
// than twenty times what building one takes, so that snapshots cost the
// loop at most a twentieth of its time). It is safe to call from any
// goroutine, never blocks the loop and allocates nothing. The record is
// shared: treat it as read-only. Snapshot returns nil before the tree's
// first Advance, and always under NoSnapshots.
func (g *Group) Snapshot() *GroupRecord {
	if !g.valid() {
		return nil
	}
	return g.t.snap.Load()
}

// Backlog is how far behind its own work a tree's loop is: what its latest
// Advance, bounded to a batch of each kind, left for the next, and the
// exits queued since. A loop that keeps up shows zeros; in a storm the
// figures say how far behind it fell and how fast it catches up, rather
// than leaving it to be guessed from children's timeouts.
type Backlog struct {
	// Exits counts the member slots whose exits wait to be collected, as
	// the tree's queue holds them now.
	Exits int
	// Overdue is how long the earliest deadline left unserved (a restart
	// after its backoff, a stop or liveness deadline) had been due at that
	// Advance's now; zero when every due deadline was served.
	Overdue time.Duration
	// Starts counts the members that start walks have yet to reach.
	Starts int
}

// storeBacklog publishes, at the end of an Advance at now, the deadlines
// and starts it left.
func (t *tree) storeBacklog(now time.Time) {
	var overdue time.Duration
	if _, at, ok := t.sched.Next(); ok && at.Before(now) {
		overdue = now.Sub(at)
	}
	t.backOverdue.Store(int64(overdue))
	starts := 0
	for _, g := range t.busy {
		if g.w.kind == walkStart {
			starts += len(g.members) - g.w.cur
		}
	}
	t.backStarts.Store(int64(starts))
}

// Backlog returns what the tree's latest Advance left for the next (the
// overdue deadline and the starts as that Advance stored them, the exits
// as queued now): zeros before the first. It is safe to call from any
// goroutine.
func (g *Group) Backlog() Backlog {
	if !g.valid() {
		return Backlog{}
	}
	t := g.t
	return Backlog{
		Exits:   t.q.Len(),
		Overdue: time.Duration(t.backOverdue.Load()),
		Starts:  int(t.backStarts.Load()),
	}
}

// SinceAdvance returns how long before now the tree's latest Advance was,
// measured on the monotonic clock (so a stepped wall clock cannot fake a
// stall), and false before the first Advance. It is safe to call from any
// goroutine.
func (g *Group) SinceAdvance(now time.Time) (time.Duration, bool) {
	if !g.valid() {
		return 0, false
	}
	n := g.t.monoAdv.Load()
	if n == 0 {
		return 0, false
	}
	return max(0, time.Duration(g.t.root.base.Nanos(now)-(n-1))), true
}

// Pulse returns the longest the tree's loop goes without an Advance when
// nothing is due (GroupConfig.Pulse of the root): a probe may call a loop
// stalled after a few pulses.
func (g *Group) Pulse() time.Duration {
	if !g.valid() {
		return 0
	}
	return g.t.root.cfg.Pulse
}

// LastAdvance returns the wall time of the tree's latest Advance, or the
// zero time before the first: a loop that stops advancing (stuck in user
// code, say) shows here. It is safe to call from any goroutine. Run
// advances at least every GroupConfig.Pulse.
func (g *Group) LastAdvance() time.Time {
	if !g.valid() {
		return time.Time{}
	}
	n := g.t.monoAdv.Load()
	if n == 0 {
		return time.Time{}
	}
	return time.Unix(0, g.t.root.base.WallNanos(n-1).UnixNano())
}
