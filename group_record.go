package supervisor

import (
	"log/slog"
	"time"
)

// GroupRecord is a serializable snapshot of a group and everything below
// it: a plain value that may be handed to any goroutine and round-trips
// through encoding/json. Times are wall times in UTC derived from the
// group's time base (and each slot's, for slot records).
type GroupRecord struct {
	GroupID  string     `json:"group_id"`
	Path     string     `json:"path"`
	Strategy Strategy   `json:"strategy"`
	State    GroupState `json:"state"`
	// Reason says why the group is shutting down, stopped or failed.
	Reason string `json:"reason,omitempty"`
	// Err is the failure's text, for a failed group.
	Err          string       `json:"error,omitempty"`
	AutoShutdown AutoShutdown `json:"auto_shutdown"`
	// Intensity is the group's restart budget; nil when it is off.
	Intensity *RestartLimit `json:"intensity"`
	// Restarts counts the restarts the group performed over its life.
	Restarts uint64 `json:"restarts"`
	// LastCommand is the latest operator command on the group.
	LastCommand *CommandRecord `json:"last_command,omitempty"`
	// ListenerPanics counts the panics of the group's OnEvent, recovered;
	// LastListenerPanic says on which event the latest was, and with what.
	ListenerPanics    uint64 `json:"listener_panics,omitempty"`
	LastListenerPanic string `json:"last_listener_panic,omitempty"`
	// Members lists the members in start order.
	Members    []MemberRecord `json:"members"`
	ObservedAt time.Time      `json:"observed_at"`
}

// MemberRecord is one member of a [GroupRecord]: exactly one of Slot and
// Group is set.
type MemberRecord struct {
	ID          string `json:"id"`
	Significant bool   `json:"significant,omitempty"`
	// Background reports a member left out of readiness
	// (Config.Background, GroupConfig.Background).
	Background bool `json:"background,omitempty"`
	// Leaving reports that the member was removed and is stopping; the
	// group forgets it once it has.
	Leaving bool `json:"leaving,omitempty"`
	// Waiting reports that the member slot waits for its group to start
	// it: its turn in a start in order, or the end of a group restart.
	Waiting bool `json:"waiting,omitempty"`
	// Shutdown says how the member ended in the group's shutdown; absent
	// until then.
	Shutdown ShutdownOutcome `json:"shutdown,omitempty"`
	// Exits counts a member slot's exits by kind (a nested group's
	// members count their own).
	Exits *ExitCounts `json:"exits,omitempty"`
	// LastCommand is the latest operator command on a member slot (a
	// nested group keeps its own in its record).
	LastCommand *CommandRecord `json:"last_command,omitempty"`
	Slot        *Record        `json:"slot,omitempty"`
	Group       *GroupRecord   `json:"group,omitempty"`
}

// ExitCounts counts a slot's recorded exits by kind; they add up to its
// Record.Exits.
type ExitCounts struct {
	Succeeded uint64 `json:"succeeded"`
	Failed    uint64 `json:"failed"`
	Panicked  uint64 `json:"panicked"`
	Cancelled uint64 `json:"cancelled"`
	TimedOut  uint64 `json:"timed_out"`
	Unhealthy uint64 `json:"unhealthy"`
	Abandoned uint64 `json:"abandoned"`
}

// Total returns the sum of the counts.
func (c ExitCounts) Total() uint64 {
	return c.Succeeded + c.Failed + c.Panicked + c.Cancelled + c.TimedOut + c.Unhealthy + c.Abandoned
}

// Record returns a snapshot of g and its members at now. A nil or zero
// group gives the zero GroupRecord.
func (g *Group) Record(now time.Time) GroupRecord {
	if !g.valid() {
		return GroupRecord{}
	}
	return g.record(g.t.clampNow(now), nil)
}

// record builds g's record at now. prev, when not nil, is g's record in
// the last snapshot: a member record equal to prev's (but for when it was
// taken) is prev's, shared, and so is prev's whole member list when no
// member changed, so that a snapshot of a large tree allocates for what
// changed since the last one, not for every member.
func (g *Group) record(now time.Time, prev *GroupRecord) GroupRecord {
	r := GroupRecord{
		GroupID:           g.id,
		Path:              g.path,
		Strategy:          g.cfg.Strategy,
		State:             g.state,
		Reason:            g.reason,
		AutoShutdown:      g.cfg.AutoShutdown,
		Restarts:          g.restarts,
		LastCommand:       g.lastCmd,
		ListenerPanics:    g.listener.count,
		LastListenerPanic: g.listener.last,
		ObservedAt:        g.base.wall(now),
	}
	if g.err != nil {
		r.Err = g.err.Error()
	}
	b := memberBuilder{left: g.Len()}
	if prev != nil {
		b.old = prev.Members
	}
	if g.tracker != nil {
		lim := g.tracker.state(now)
		lim.UpdatedAt = g.base.wall(lim.UpdatedAt)
		if prev != nil && prev.Intensity != nil && *prev.Intensity == lim {
			r.Intensity = prev.Intensity
		} else {
			kept := lim // declared here, so that only a change allocates
			r.Intensity = &kept
		}
	}
	for _, m := range g.members {
		if !m.gone {
			b.add(g.memberRecord(m, now, &b))
		}
	}
	r.Members = b.list()
	return r
}

// memberRecord builds m's record at now, sharing what b finds unchanged
// since the last snapshot.
func (g *Group) memberRecord(m *member, now time.Time, b *memberBuilder) MemberRecord {
	prev := b.prev(m.id())
	mr := MemberRecord{ID: m.id(), Significant: m.significant, Background: m.background, Leaving: m.leaving, Shutdown: m.outcome}
	mr.Waiting = m.slot != nil && m.slot.waitsForGroup() &&
		(g.state == GroupStarting || g.state == GroupRestarting)
	if m.sub != nil {
		var old *GroupRecord
		if prev != nil {
			old = prev.Group
		}
		sr := m.sub.record(now, old)
		if old != nil && sameGroupRecord(old, &sr) {
			mr.Group = old
		} else {
			kept := sr
			mr.Group = &kept
		}
		return mr
	}
	c := m.slot.coldView()
	mr.LastCommand = c.lastCommand
	counts := ExitCounts{
		Succeeded: c.exitKinds[Succeeded], Failed: c.exitKinds[Failed], Panicked: c.exitKinds[Panicked],
		Cancelled: c.exitKinds[Cancelled], TimedOut: c.exitKinds[TimedOut], Unhealthy: c.exitKinds[Unhealthy],
		Abandoned: c.exitKinds[Abandoned],
	}
	rec := m.slot.Record(now)
	if prev != nil && prev.Exits != nil && *prev.Exits == counts {
		mr.Exits = prev.Exits
	} else {
		mr.Exits = b.newCounts(&counts)
	}
	if prev != nil && prev.Slot != nil && sameSlotRecord(prev.Slot, &rec) {
		mr.Slot = prev.Slot
	} else {
		mr.Slot = b.newRecord(&rec)
	}
	return mr
}

// sameSlotRecord reports whether the slot records a and b say the same
// but for when each was taken.
func sameSlotRecord(a, b *Record) bool {
	x := *b
	x.ObservedAt = a.ObservedAt
	return *a == x
}

// sameGroupRecord reports whether the group record b, built against a,
// says what a says but for when each was taken: b shares a's member list,
// intensity and last command, and its other fields are equal.
func sameGroupRecord(a, b *GroupRecord) bool {
	return len(a.Members) == len(b.Members) && (len(a.Members) == 0 || &a.Members[0] == &b.Members[0]) &&
		a.Intensity == b.Intensity && a.LastCommand == b.LastCommand &&
		a.GroupID == b.GroupID && a.Path == b.Path && a.Strategy == b.Strategy && a.State == b.State &&
		a.Reason == b.Reason && a.Err == b.Err && a.AutoShutdown == b.AutoShutdown && a.Restarts == b.Restarts &&
		a.ListenerPanics == b.ListenerPanics && a.LastListenerPanic == b.LastListenerPanic
}

// memberBuilder builds a group record's member list against old, the last
// snapshot's: while each member's record is old's at the same place, the
// list is old itself and nothing is allocated. The records it does build
// share slabs, a few allocations for many members.
type memberBuilder struct {
	old    []MemberRecord
	next   int            // where in old the next member's record should be
	same   int            // members so far, while the list is old[:same]
	out    []MemberRecord // the list, once it differs from old
	left   int            // members still to come, this one included
	recs   []Record       // slab of slot records
	counts []ExitCounts   // slab of exit counts
}

// sharedLookahead bounds how far past where it should be prev looks for a
// member's record in the last snapshot (members removed since), so that
// many members added at once do not each scan the rest of the old list.
const sharedLookahead = 8

// prev returns the last snapshot's record of the member named id, or nil.
func (b *memberBuilder) prev(id string) *MemberRecord {
	for k := b.next; k < len(b.old) && k < b.next+sharedLookahead; k++ {
		if b.old[k].ID == id {
			b.next = k + 1
			return &b.old[k]
		}
	}
	return nil
}

// add appends mr to the list.
func (b *memberBuilder) add(mr MemberRecord) {
	b.left--
	if b.out == nil && b.same < len(b.old) && b.old[b.same] == mr {
		b.same++
		return
	}
	if b.out == nil {
		b.out = make([]MemberRecord, b.same, b.same+1+b.left)
		copy(b.out, b.old)
	}
	b.out = append(b.out, mr)
}

// list returns the member list built: old, or the part of it kept, when
// nothing else changed. A shared list's capacity is its length, so that an
// append to it copies rather than write into another snapshot.
func (b *memberBuilder) list() []MemberRecord {
	if b.out != nil {
		return b.out
	}
	if b.old == nil {
		return make([]MemberRecord, 0)
	}
	return b.old[:b.same:b.same]
}

// slab returns the size of the next slab: every member to come for a
// record built from nothing, fewer against a snapshot, where most members
// are shared and a large slab would be kept alive by a few of its records.
func (b *memberBuilder) slab() int {
	if b.old == nil {
		return b.left
	}
	return min(b.left, 16)
}

// newRecord returns a copy of r in the slab.
func (b *memberBuilder) newRecord(r *Record) *Record {
	if len(b.recs) == cap(b.recs) {
		b.recs = make([]Record, 0, b.slab())
	}
	b.recs = append(b.recs, *r)
	return &b.recs[len(b.recs)-1]
}

// newCounts returns a copy of c in the slab.
func (b *memberBuilder) newCounts(c *ExitCounts) *ExitCounts {
	if len(b.counts) == cap(b.counts) {
		b.counts = make([]ExitCounts, 0, b.slab())
	}
	b.counts = append(b.counts, *c)
	return &b.counts[len(b.counts)-1]
}

// LogValue groups the record's main fields for log/slog: the group's own,
// and each member's state in one line.
func (r GroupRecord) LogValue() slog.Value {
	attrs := []slog.Attr{
		slog.String("group_id", r.GroupID),
		slog.String("path", r.Path),
		slog.String("strategy", r.Strategy.String()),
		slog.String("state", r.State.String()),
		slog.Uint64("restarts", r.Restarts),
		slog.Int("members", len(r.Members)),
	}
	if r.Reason != "" {
		attrs = append(attrs, slog.String("reason", r.Reason))
	}
	if r.Err != "" {
		attrs = append(attrs, slog.String("error", r.Err))
	}
	return slog.GroupValue(attrs...)
}

// WithoutStacks returns a copy of r, all the way down, with the panic
// stacks left out of every member's last exit, for serving records where
// file paths and goroutine addresses must not go (an admin page, say). r
// itself, which may be a shared Snapshot, is not changed.
func (r GroupRecord) WithoutStacks() GroupRecord {
	members := make([]MemberRecord, len(r.Members))
	for i, m := range r.Members {
		if m.Slot != nil {
			s := m.Slot.WithoutStacks()
			m.Slot = &s
		}
		if m.Group != nil {
			g := m.Group.WithoutStacks()
			m.Group = &g
		}
		members[i] = m
	}
	r.Members = members
	return r
}
