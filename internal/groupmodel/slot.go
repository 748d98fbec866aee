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
	fenced     bool            // an operator restart or resume waits for cur to end
	rule       rule
}

// rule says who decides when a member slot starts.
type rule uint8

const (
	selfRule   rule = iota // the slot: its exits are its own, judged by the contract
	groupRule              // its group stops and starts it; its exits trigger nothing
	frozenRule             // its group shuts down: no operator may start it either
)

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

// handTo hands the slot to its group under r (a frozen slot stays
// frozen): a planned or fenced start is dropped.
func (s *slot) handTo(r rule) {
	s.rule = max(s.rule, r)
	s.restartDue, s.fenced = false, false
}

// startForGroup starts the slot for its group; charged: the restart is of
// its own failure and counts in its own budget.
func (s *slot) startForGroup(charged bool) {
	s.rule = selfRule
	if s.started {
		s.restarts++
		if charged {
			s.history = append(s.history, s.t.now)
		}
	}
	s.fenced = false // the group's start supersedes a fenced one
	s.launch()
}

// backoff plans the slot's own restart after its backoff.
func (s *slot) backoff() {
	s.restartDue, s.restartAt = true, s.t.now+s.cfg.Delay
}

// collect records the exit of the returned held attempt and plans what
// follows.
func (s *slot) collect() {
	a := s.cur
	s.cur = nil
	s.exits++
	s.kinds[a.kind]++
	s.lastDirective = a.directive // a cancelled child's error still says it
	s.g.slotExited(s, a.kind, a.directive)
}

// abandon gives up on the cancelled attempt that ignored its stop deadline.
func (s *slot) abandon() {
	a := s.cur
	s.cur = nil
	s.t.stale = append(s.t.stale, a)
	s.exits++
	s.kinds[Abandoned]++
	s.lastDirective = NoDirective
	s.g.slotExited(s, Abandoned, NoDirective)
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
	s.g.slotExited(s, Abandoned, NoDirective)
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
	if s.m.isIn() {
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
		s.m.owner().remove(s.m)
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
	s.restartDue, s.fenced = false, false
	s.cancel()
}

func (s *slot) resume() Result {
	switch {
	case s.op == Removed:
		return Refused
	case s.op == Active:
		return Noop
	case s.started && s.parentDone(), s.rule == frozenRule:
		return Refused
	}
	s.op = Active
	if !s.started {
		// One its group holds waits for the group to start it; one the
		// group passed over while it was stopped starts now, if its group
		// runs, starts or restarts.
		if st := s.g.state; s.rule == selfRule && (st == Running || st == Starting || st == Restarting) {
			s.startForGroup(false)
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
	case s.op != Active, !s.started, s.parentDone(), s.rule == frozenRule:
		return Refused // frozen: its group shuts down and decides what runs
	case s.fenced:
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
	s.fenced = true
	s.cancel()
}
