package groupmodel

import "time"

// attempt is one run of a slot's child.
type attempt struct {
	s         *slot
	n         uint64
	obeys     bool // returns as soon as its context ends
	cancelled bool
	cancelSeq uint64
	stopBy    time.Duration
	returned  bool
	kind      Kind
	directive Directive // what its returned error asked
}

// ret makes the child return with an exit of kind k; the tree collects it.
func (a *attempt) ret(k Kind) {
	a.returned, a.kind = true, k
	a.s.t.returned = append(a.s.t.returned, a.s)
}

// slot is the model of one member slot.
type slot struct {
	t    *Tree
	id   string
	path string
	cfg  SlotConfig
	g    *group
	m    *member

	op      Operation
	started bool
	over    bool // ended with no restart to follow
	cur     *attempt

	attempts, restarts, exits uint64
	kinds                     [NumKinds]uint64
	lastDirective             Directive // what the last exit's error asked

	restartDue bool // its own restart waits for its backoff
	restartAt  time.Duration
	history    []time.Duration // its own restarts, for its RestartLimit
	pending    bool            // an operator restart or resume waits for cur to end
	owes       bool            // a group restart of its own failure is to count in its budget

	// held: its group stops and starts it, and its exits plan nothing;
	// frozen: its group shuts down, so no operator may start it.
	held, frozen bool
}

// used is how many of its own restarts count now.
func (s *slot) used() int {
	n := 0
	for _, r := range s.history {
		if s.t.now-r < s.cfg.Window {
			n++
		}
	}
	return min(n, s.cfg.Limit)
}

// parentDone reports whether the context its attempts run under has ended:
// its group has ended.
func (s *slot) parentDone() bool { return s.g.state.over() }

// launch starts a new attempt now.
func (s *slot) launch() {
	s.attempts++
	s.cur = &attempt{s: s, n: s.attempts, obeys: true}
	s.started, s.over, s.restartDue = true, false, false
}

// cancel cancels the running attempt, if it runs and was not cancelled.
func (s *slot) cancel() {
	a := s.cur
	if a == nil || a.returned || a.cancelled {
		return
	}
	s.markCancelled(a)
	if a.obeys {
		a.ret(Cancelled)
	}
}

// markCancelled notes that a's child saw its cancellation now.
func (s *slot) markCancelled(a *attempt) {
	t := s.t
	t.seq++
	a.cancelled, a.cancelSeq, a.stopBy = true, t.seq, t.now+s.cfg.StopTimeout
	t.cancels = append(t.cancels, ChildRef{s.path, a.n})
}

// hold hands the slot to its group: a planned or pending start is dropped.
func (s *slot) hold(frozen bool) {
	s.held = true
	s.frozen = s.frozen || frozen
	s.restartDue, s.pending = false, false
}

// groupStart starts the held slot for its group.
func (s *slot) groupStart() {
	s.held, s.frozen = false, false
	if s.started {
		s.restarts++
		if s.owes {
			s.history = append(s.history, s.t.now)
		}
	}
	s.owes, s.pending = false, false // the group's start supersedes a pending one
	s.launch()
}

// collect records the exit of the returned held attempt and plans what
// follows.
func (s *slot) collect() {
	a := s.cur
	s.cur = nil
	s.exits++
	s.kinds[a.kind]++
	s.lastDirective = a.directive // a cancelled child's error still says it
	s.plan(a.kind, a.directive)
	s.g.slotExited(s, a.kind)
}

// abandon gives up on the cancelled attempt that ignored its stop deadline.
func (s *slot) abandon() {
	a := s.cur
	s.cur = nil
	s.t.stale = append(s.t.stale, a)
	s.exits++
	s.kinds[Abandoned]++
	s.lastDirective = NoDirective
	s.plan(Abandoned, NoDirective)
	s.g.slotExited(s, Abandoned)
}

// abandonNow gives up on the running attempt at once, for its group's
// ShutdownTimeout: cancelled first if it was not (the child sees it), then
// abandoned; a child that ignores cancellation runs on, stale.
func (s *slot) abandonNow() {
	a := s.cur
	if !a.cancelled {
		s.markCancelled(a) // one that obeys returns, too late to count
	}
	s.cur = nil
	if !a.obeys {
		s.t.stale = append(s.t.stale, a)
	}
	s.exits++
	s.kinds[Abandoned]++
	s.lastDirective = NoDirective
	s.plan(Abandoned, NoDirective)
	s.g.slotExited(s, Abandoned)
}

// plan decides what follows an exit of kind k whose error asked for d.
// What the group stops, or an operator controls, is theirs to decide
// whatever the child asked.
func (s *slot) plan(k Kind, d Directive) {
	switch {
	case s.op == Removed || s.held:
	case s.pending:
		s.pending = false
		s.launch() // the operator's restart, once the old attempt is gone
	case s.op != Active:
	case s.parentDone():
		s.over = true
	case d == FailGroup:
		s.over = true
		s.g.failNow() // no intensity asked or counted
	case d == DoNotRestart, !s.cfg.Restart.restarts(k):
		s.over = true
	case s.used() >= s.cfg.Limit:
		s.op = Quarantined // its own limit refuses: locally, the group goes on
	case !s.g.admit(s.m):
	default:
		s.restartDue, s.restartAt = true, s.t.now+s.cfg.Delay
	}
}

// deadline returns when the slot next has something due.
func (s *slot) deadline() (time.Duration, bool) {
	if a := s.cur; a != nil {
		if a.cancelled && !a.returned {
			return a.stopBy, true
		}
		return 0, false
	}
	if s.restartDue && s.op == Active {
		return s.restartAt, true
	}
	return 0, false
}

// serveDue does what is due now, and reports whether it did anything.
func (s *slot) serveDue() bool {
	at, ok := s.deadline()
	if !ok || at > s.t.now {
		return false
	}
	if s.cur != nil {
		s.abandon()
		return true
	}
	if s.parentDone() {
		s.restartDue, s.over = false, true
		return true
	}
	s.history = append(s.history, s.t.now)
	s.restarts++
	if s.g != nil {
		s.g.restarts++ // its group's one_for_one restart, performed
	}
	s.launch()
	return true
}

// control applies an operator control.
func (s *slot) control(c Control) Result {
	switch c {
	case Pause:
		return s.pause()
	case Quarantine:
		return s.quarantine()
	case Resume:
		return s.resume()
	case RestartSlot:
		return s.restart()
	case RemoveSlot:
		if s.op == Removed {
			return Refused
		}
		s.m.owner().removeSlot(s.m)
		return OK
	}
	return Refused
}

func (s *slot) pause() Result {
	switch s.op {
	case Paused:
		return Noop
	case Quarantined, Removed:
		return Refused
	}
	s.op = Paused
	s.halt()
	return OK
}

func (s *slot) quarantine() Result {
	switch s.op {
	case Quarantined:
		return Noop
	case Removed:
		return Refused
	}
	s.op = Quarantined
	s.halt()
	return OK
}

// halt drops what would start next and cancels the running attempt.
func (s *slot) halt() {
	s.restartDue, s.pending = false, false
	s.cancel()
}

func (s *slot) resume() Result {
	switch {
	case s.op == Removed:
		return Refused
	case s.op == Active:
		return Noop
	case s.started && s.parentDone(), s.frozen:
		return Refused
	}
	s.op = Active
	if !s.started {
		// A held slot waits for its group's walk; one the walk passed over
		// while it was stopped starts now, if its group runs or walks.
		if st := s.g.state; !s.held && (st == Running || st == Starting || st == Restarting) {
			s.groupStart()
		}
		return OK
	}
	s.over = false
	s.history = nil // a fresh budget
	s.fence()
	return OK
}

func (s *slot) restart() Result {
	switch {
	case s.op != Active, !s.started, s.parentDone(), s.frozen:
		return Refused // frozen: its group shuts down and decides what runs
	case s.pending:
		return Noop // merged with the one pending
	}
	s.over = false
	s.fence()
	return OK
}

// fence starts a new attempt at once, or once the running one has ended.
func (s *slot) fence() {
	s.restartDue = false
	if s.cur == nil {
		s.launch()
		return
	}
	s.pending = true
	s.cancel()
}
