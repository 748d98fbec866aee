package supervisor

// Listeners. Config.OnEvent and GroupConfig.OnEvent run on the loop's
// goroutine, in the middle of the loop's work. A listener that panics is
// recovered: the loop goes on exactly as if it had returned (the restart
// still happens, the command is still answered), and the panic is not
// lost: the slot or group whose listener it was counts it in its record
// (ListenerPanics, LastListenerPanic) and reports it as an
// EventListenerPanicked, after the event that caused it has reached every
// other listener. A listener that blocks still blocks the loop: /livez and
// the systemd watchdog see that (see Group.Health).

// listenerFaults is what panicking listeners left on one slot or group.
type listenerFaults struct {
	count uint64
	last  string
}

// callListener calls fn with e and returns the text of the panic it
// raised, or "" when it returned.
func callListener(fn func(Event), e Event) (fault string) {
	defer func() {
		if r := recover(); r != nil {
			fault = bound("OnEvent panicked on " + e.Kind.String() + ": " + panicText(r))
		}
	}()
	fn(e)
	return ""
}

// note counts the fault and reports whether an EventListenerPanicked is
// to follow: not for a panic on such an event itself, so that a listener
// that panics on every event cannot loop.
func (f *listenerFaults) note(e Event, fault string) bool {
	f.count++
	f.last = fault
	return e.Kind != EventListenerPanicked
}

// listenerPanicked records that the slot's own listener panicked on e.
func (s *ChildSlot) listenerPanicked(e Event, fault string) {
	if s.coldState().listener.note(e, fault) {
		s.deliver(Event{Kind: EventListenerPanicked, Time: e.Time, Attempt: e.Attempt,
			Generation: e.Generation, Reason: fault})
	}
}

// listenerPanicked records that g's listener panicked on e.
func (g *Group) listenerPanicked(e Event, fault string) {
	if g.listener.note(e, fault) {
		g.emit(Event{Kind: EventListenerPanicked, Time: e.Time, Reason: fault})
	}
}

// emit hands a group event to the tree's event log and to the OnEvent of
// g and of every group above.
func (g *Group) emit(e Event) {
	if !g.heard() {
		return
	}
	e.ChildID, e.Path = g.id, g.path
	g.t.events.add(&e, nil)
	g.relay(e)
}

// relay hands e to the OnEvent of g and of every group above it. A
// listener's panic is recovered and reported once every listener has had
// the event (see listener.go).
func (g *Group) relay(e Event) {
	lent := g.t.guard.lend() // a listener may call the tree's methods
	type fault struct {
		g    *Group
		text string
	}
	var faults []fault
	for a := g; a != nil; a = a.parent {
		if a.cfg.OnEvent == nil {
			continue
		}
		if f := callListener(a.cfg.OnEvent, e); f != "" {
			faults = append(faults, fault{a, f})
		}
	}
	g.t.guard.unlend(lent)
	for _, f := range faults {
		f.g.listenerPanicked(e, f.text)
	}
}
