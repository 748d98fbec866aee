package supervisor

import "time"

// This file holds what any goroutine may read of how a tree's loop is
// doing: the published snapshot, the backlog, the time since the latest
// Advance.

// Snapshot returns the latest record of the whole tree g belongs to, as its
// loop published it: after each Advance that changed something, at most
// every GroupConfig.SnapshotInterval (and, for a large tree, no more often
// than twenty times what building one takes, so that snapshots cost the
// loop at most a twentieth of its time; while an Advance leaves work for
// the next, as in a storm, the snapshot waits, for at most 30 pulses).
// It is safe to call from any goroutine, never blocks the loop and
// allocates nothing. The record is shared: treat it as read-only. A
// snapshot shares with the one before it every member record (and every
// member list) that did not change, so that publishing one allocates for
// what changed, not for the whole tree; a shared slot record keeps the
// ObservedAt it was first taken at. Snapshot returns nil before the tree's
// first Advance, and always under NoSnapshots.
func (g *Group) Snapshot() *GroupRecord {
	if !g.valid() {
		return nil
	}
	return g.t.snap.Load()
}

// Health is how a tree's loop is doing, as any goroutine may read it: when
// it last advanced, how often it must, and how far behind its own work the
// latest Advance left it. A loop that keeps up shows a recent Advance and a
// zero Backlog; in a storm the Backlog says how far behind it fell and how
// fast it catches up, rather than leaving it to be guessed from children's
// timeouts.
type Health struct {
	// Advanced is false before the tree's first Advance; the two fields
	// after it are zero then.
	Advanced bool
	// LastAdvance is the wall time of the latest Advance: a loop that stops
	// advancing (stuck in user code, say) shows here.
	LastAdvance time.Time
	// SinceAdvance is how long before the now given to Health the latest
	// Advance was, measured on the monotonic clock, so that a stepped wall
	// clock cannot fake a stall.
	SinceAdvance time.Duration
	// Pulse is the longest the loop goes without an Advance when nothing is
	// due (the root's GroupConfig.Pulse; Run advances at least that
	// often): a probe may call a loop stalled after a few pulses.
	Pulse time.Duration
	// Backlog is what the latest Advance, bounded to a batch of each kind,
	// left for the next, and the exits queued since.
	Backlog Backlog
}

// Backlog is how far behind its own work a tree's loop is (see Health).
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
	if _, at, ok := t.sched.next(); ok && at.Before(now) {
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

// Health returns how the tree g belongs to is doing at now: its latest
// Advance (on the monotonic clock against now), its pulse, and what that
// Advance left for the next (the overdue deadline and the starts as it
// stored them, the exits as queued now). It is safe to call from any
// goroutine, and allocates nothing; a nil or zero group returns the zero
// Health.
func (g *Group) Health(now time.Time) Health {
	if !g.valid() {
		return Health{}
	}
	t := g.t
	h := Health{
		Pulse: t.root.cfg.Pulse,
		Backlog: Backlog{
			Exits:   t.q.Len(),
			Overdue: time.Duration(t.backOverdue.Load()),
			Starts:  int(t.backStarts.Load()),
		},
	}
	if n := t.monoAdv.Load(); n != 0 {
		base := t.root.base
		h.Advanced = true
		h.LastAdvance = time.Unix(0, base.wallNanos(n-1).UnixNano())
		h.SinceAdvance = max(0, time.Duration(base.nanos(now)-(n-1)))
	}
	return h
}
