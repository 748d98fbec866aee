package prometheus

import (
	"github.com/childslot/supervisor"
	prom "github.com/prometheus/client_golang/prometheus"
)

// memberState is a member slot's state, as member_state names it.
type memberState int

// The states of a member slot.
const (
	stateRunning     memberState = iota // an attempt runs and has signalled, or nothing is watched
	stateReady                          // the attempt reported Ready
	stateRestarting                     // on its way: starting, stopping, in backoff, a restart pending
	statePaused                         // an operator paused it: deliberately out
	stateQuarantined                    // waits for an operator
	stateStopped                        // nothing runs, and nothing will by itself
	numStates
)

// stateNames are the states' names, in the order the by-group gauge sends
// them.
var stateNames = [numStates]string{"running", "ready", "restarting", "paused", "quarantined", "stopped"}

// memberSum is what the collector reports of one member slot, or of the
// member slots of one group summed.
type memberSum struct {
	states    [numStates]int
	ready     int
	restarts  uint64
	exits     supervisor.ExitCounts
	abandoned int    // attempts abandoned and still running
	stale     uint64 // abandoned attempts that returned
	// everAbandoned: some attempt was abandoned, so the abandoned and
	// stale series are present.
	everAbandoned bool
}

// add adds member m, a slot of a group in state gs.
func (s *memberSum) add(m *supervisor.MemberRecord, gs supervisor.GroupState) {
	r := m.Slot
	s.states[stateOf(r, gs)]++
	if serves(r) {
		s.ready++
	}
	s.restarts += r.Restarts
	if e := m.Exits; e != nil {
		s.exits.Succeeded += e.Succeeded
		s.exits.Failed += e.Failed
		s.exits.Panicked += e.Panicked
		s.exits.Cancelled += e.Cancelled
		s.exits.TimedOut += e.TimedOut
		s.exits.Unhealthy += e.Unhealthy
		s.exits.Abandoned += e.Abandoned
	}
	s.abandoned += r.Abandoned
	s.stale += r.StaleReports
	s.everAbandoned = s.everAbandoned || r.AbandonedTotal > 0
}

// stateOf returns the state of slot r, a member of a group in state gs.
func stateOf(r *supervisor.Record, gs supervisor.GroupState) memberState {
	switch r.Operation {
	case supervisor.OperationQuarantined:
		return stateQuarantined
	case supervisor.OperationPaused:
		return statePaused
	case supervisor.OperationRemoved:
		return stateStopped
	}
	switch r.Status {
	case supervisor.StatusReady:
		return stateReady
	case supervisor.StatusRunning:
		return stateRunning
	}
	ending := gs == supervisor.GroupShuttingDown || gs == supervisor.GroupStopped || gs == supervisor.GroupFailed
	switch {
	case ending:
		return stateStopped
	case r.Status == supervisor.StatusStarting || r.Status == supervisor.StatusCancelling,
		r.NextRestartAt != nil, r.FencePhase != supervisor.FenceOpen,
		gs == supervisor.GroupStarting || gs == supervisor.GroupRestarting:
		return stateRestarting
	}
	return stateStopped
}

// serves reports whether slot r serves: active, with an attempt that runs
// and has signalled, whose heartbeat is not stale and which does not
// report NotReady.
func serves(r *supervisor.Record) bool {
	return r.Operation == supervisor.OperationActive &&
		(r.Status == supervisor.StatusRunning || r.Status == supervisor.StatusReady) &&
		!r.Liveness.Stale && r.Liveness.Readiness != supervisor.ReadinessNotReady
}

// collectMembers sends the member metrics of s, labelled with path: one
// member slot's, or (all) the sums of a group's, whose state gauge then
// has a series for every state.
func (c *Collector) collectMembers(ch chan<- prom.Metric, s *memberSum, path string, all bool) {
	for i, name := range stateNames {
		if all || s.states[i] > 0 {
			ch <- gauge(c.memberState, float64(s.states[i]), path, name)
		}
	}
	ch <- gauge(c.memberReady, float64(s.ready), path)
	ch <- counter(c.memberRestarts, s.restarts, path)
	e := &s.exits
	for _, k := range []struct {
		kind supervisor.ExitKind
		n    uint64
	}{
		{supervisor.Succeeded, e.Succeeded}, {supervisor.Failed, e.Failed}, {supervisor.Panicked, e.Panicked},
		{supervisor.Cancelled, e.Cancelled}, {supervisor.TimedOut, e.TimedOut}, {supervisor.Unhealthy, e.Unhealthy},
		{supervisor.Abandoned, e.Abandoned},
	} {
		if k.n > 0 {
			ch <- counter(c.memberExits, k.n, path, k.kind.String())
		}
	}
	if s.everAbandoned {
		ch <- gauge(c.memberAbandoned, float64(s.abandoned), path)
		ch <- counter(c.memberStale, s.stale, path)
	}
}
