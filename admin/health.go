package admin

import (
	"fmt"
	"time"

	sv "github.com/childslot/supervisor"
)

// The classes of a member's health: the page's colours, and readiness.
const (
	classHealthy     = "healthy"     // serving
	classRestarting  = "restarting"  // on its way: starting, stopping, in backoff
	classPaused      = "paused"      // an operator paused it
	classQuarantined = "quarantined" // awaits a person
	classFailed      = "failed"      // ended abnormally for good, or stuck
	classDone        = "done"        // ended normally, or leaving
)

// verdict is what the admin makes of one member (or group) of a snapshot:
// how it shows and whether it counts as ready. The page and /readyz share
// it, so that the colour a person sees and the answer a probe gets never
// disagree.
type verdict struct {
	Class string // one of the class constants
	Label string // a word or two: "ready", "restarting in 2s"
	Ready bool
	Why   string // why it is not ready; empty when it is
}

// groupVerdict judges the group of record g, which its parent is removing
// when leaving.
func groupVerdict(g *sv.GroupRecord, leaving bool) verdict {
	label := g.State.String()
	why := label
	if g.Reason != "" {
		why += ": " + g.Reason
	}
	switch {
	case leaving:
		return verdict{Class: classDone, Label: "leaving", Ready: true}
	case g.State == sv.GroupRunning:
		return verdict{Class: classHealthy, Label: label, Ready: true}
	case g.State == sv.GroupFailed:
		if g.Err != "" {
			why = "failed: " + g.Err
		}
		return verdict{Class: classFailed, Label: label, Why: why}
	case g.State == sv.GroupStopped:
		return verdict{Class: classDone, Label: label, Why: why}
	}
	return verdict{Class: classRestarting, Label: label, Why: why}
}

// slotVerdict judges member m, a slot, of a group in state gs, at now.
func slotVerdict(m *sv.MemberRecord, gs sv.GroupState, now time.Time) verdict {
	r := m.Slot
	switch {
	case m.Leaving || r.Operation == sv.OperationRemoved:
		return verdict{Class: classDone, Label: "leaving", Ready: true}
	case r.Operation == sv.OperationQuarantined:
		why := "quarantined"
		if r.QuarantineReason != "" {
			why += ": " + r.QuarantineReason
		}
		return verdict{Class: classQuarantined, Label: "quarantined", Why: why}
	case r.Operation == sv.OperationPaused:
		return verdict{Class: classPaused, Label: "paused", Ready: true}
	}
	switch r.Status {
	case sv.StatusRunning, sv.StatusReady:
		return runningVerdict(r)
	case sv.StatusStarting:
		return verdict{Class: classRestarting, Label: "starting",
			Why: fmt.Sprintf("starting: attempt %d has not signalled yet", r.Attempt)}
	case sv.StatusCancelling:
		return verdict{Class: classRestarting, Label: "stopping",
			Why: fmt.Sprintf("stopping: attempt %d was cancelled and has not returned", r.Attempt)}
	}
	return stoppedVerdict(r, gs, now)
}

// runningVerdict judges an active slot whose attempt runs.
func runningVerdict(r *sv.Record) verdict {
	switch {
	case r.Liveness.Stale:
		return verdict{Class: classFailed, Label: "stale",
			Why: fmt.Sprintf("heartbeat stale: attempt %d has not beaten in time", r.Attempt)}
	case r.Liveness.Readiness == sv.ReadinessNotReady:
		return verdict{Class: classRestarting, Label: "not ready", Why: "the child reports NotReady"}
	case r.FencePhase != sv.FenceOpen:
		return verdict{Class: classRestarting, Label: "restart pending",
			Why: "an operator restart waits for the old attempt (" + r.FencePhase.String() + ")"}
	}
	return verdict{Class: classHealthy, Label: r.Status.String(), Ready: true}
}

// stoppedVerdict judges an active slot with no attempt running, of a group
// in state gs.
func stoppedVerdict(r *sv.Record, gs sv.GroupState, now time.Time) verdict {
	switch {
	case r.NextRestartAt != nil:
		return verdict{Class: classRestarting, Label: "restarting in " + ago(r.NextRestartAt.Sub(now)),
			Why: "restarting at " + r.NextRestartAt.UTC().Format(time.RFC3339) + " after " + exitText(r.LastExit)}
	case r.FencePhase != sv.FenceOpen:
		return verdict{Class: classRestarting, Label: "restart pending",
			Why: "an operator restart is pending (" + r.FencePhase.String() + ")"}
	case gs == sv.GroupStarting || gs == sv.GroupRestarting:
		return verdict{Class: classRestarting, Label: "waiting", Why: "waiting for its turn in the group's " + gs.String()}
	case gs == sv.GroupShuttingDown || gs == sv.GroupStopped || gs == sv.GroupFailed:
		return verdict{Class: classDone, Label: "stopped", Why: "stopped: its group is " + gs.String()}
	case r.LastExit == nil:
		return verdict{Class: classRestarting, Label: "not started", Why: "not started"}
	case r.LastExit.Kind.Abnormal():
		return verdict{Class: classFailed, Label: "failed",
			Why: "ended with no restart to follow: " + exitText(r.LastExit)}
	}
	return verdict{Class: classDone, Label: "done", Ready: true}
}

// exitText says how an attempt ended, in words.
func exitText(e *sv.Exit) string {
	if e == nil {
		return "no exit"
	}
	s := e.Kind.String()
	if e.Code != 0 {
		s += fmt.Sprintf(" (code %d)", e.Code)
	}
	if e.Reason != "" {
		s += ": " + e.Reason
	}
	return s
}
