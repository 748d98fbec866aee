package supervisor

import (
	"log/slog"
	"strconv"
	"strings"
	"time"
)

// EventKind names what an [Event] reports.
type EventKind uint8

// The kinds of event, in the order a slot's life usually shows them.
const (
	// EventStarted: an attempt started.
	EventStarted EventKind = iota + 1
	// EventExited: an attempt's exit was collected; Event.Exit holds it.
	EventExited
	// EventRestartScheduled: an automatic restart is due Event.Delay later.
	EventRestartScheduled
	// EventRestartRefused: the restart limit refused an automatic restart.
	EventRestartRefused
	// EventQuarantined: the slot was quarantined; Event.Reason says why.
	EventQuarantined
	// EventCancelled: the active attempt's context was cancelled.
	EventCancelled
	// EventAbandoned: an attempt ignored cancellation and was abandoned.
	EventAbandoned
	// EventStaleReport: an abandoned attempt finally returned; Event.Exit
	// says how. Nothing else changed.
	EventStaleReport
	// EventFence: the fence moved to Event.Phase.
	EventFence
	// EventPaused: the slot was paused.
	EventPaused
	// EventResumed: the slot was resumed.
	EventResumed
	// EventRemoved: the slot was removed.
	EventRemoved

	// The kinds a [Group] reports about itself. ChildID and Path name the
	// group; Member names the member concerned, where there is one.

	// EventGroupStarted: every member started in order (and, where its
	// readiness is watched, reported Ready): the group runs.
	EventGroupStarted
	// EventGroupRestart: a member failed and the group restarts it, with
	// those its strategy covers; Member is the one that failed, Scope the
	// members the restart covers, in start order.
	EventGroupRestart
	// EventGroupFailed: the group's restart intensity refused a restart; it
	// stops every member and ends with an error wrapping ErrGroupFailed.
	// Member is the one whose failure was refused.
	EventGroupFailed
	// EventShutdownStarted: the group began its ordered shutdown; Reason
	// says why.
	EventShutdownStarted
	// EventShutdownFinished: every member has stopped; the group is stopped
	// or failed.
	EventShutdownFinished
	// EventMemberAdded: Member joined the group.
	EventMemberAdded
	// EventMemberRemoved: Member left the group; Reason says why.
	EventMemberRemoved
	// EventAutoShutdown: the significant member Member ended with no
	// restart to follow, and the group's AutoShutdown shuts it down.
	EventAutoShutdown
	// EventCommand: the loop carried out (or refused) an operator command;
	// Command holds it with who asked, why and its error, Member its path.
	EventCommand
	// EventListenerPanicked: the OnEvent of the slot or group the event
	// names panicked; Reason says on which event and with what. The loop
	// went on as if it had returned.
	EventListenerPanicked
	// EventNotifyFailed: Run's sd_notify datagrams stopped reaching
	// NOTIFY_SOCKET (it cannot be dialled, or its receiver does not read);
	// Reason says why. Once per outage; Run tries again every pulse.
	EventNotifyFailed
	// EventNotifyRestored: sd_notify datagrams reach NOTIFY_SOCKET again,
	// with the current state; Reason says how many were dropped.
	EventNotifyRestored
	// EventProcessStarted: the attempt's OS process ([Process]) runs;
	// Event.Pid is its pid. It follows started once the loop sees the
	// process (the process starts on the attempt's goroutine), and comes
	// before the attempt's exited.
	EventProcessStarted
)

var eventKindNames = []string{"", "started", "exited", "restart_scheduled", "restart_refused",
	"quarantined", "cancelled", "abandoned", "stale_report", "fence", "paused", "resumed", "removed",
	"group_started", "group_restart", "group_failed", "shutdown_started", "shutdown_finished",
	"member_added", "member_removed", "auto_shutdown", "command", "listener_panicked",
	"notify_failed", "notify_restored", "process_started"}

// Event is what a slot reports to Config.OnEvent: a plain value, built and
// delivered on the loop's goroutine, that may be kept or handed on.
type Event struct {
	// Kind says what happened.
	Kind EventKind
	// ChildID and Path name the slot.
	ChildID, Path string
	// Attempt and Generation name the attempt concerned (for slot-wide
	// events, the latest one).
	Attempt, Generation uint64
	// Time is the now of the call that emitted the event. LogValue leaves
	// it out: a log record carries its own time.
	Time time.Time
	// Exit is the exit, for exited, abandoned and stale_report; nil
	// otherwise.
	Exit *Exit
	// Reason says why, where there is a why and no Exit: an exit's own
	// Reason says why it ended, and is not repeated here.
	Reason string
	// Phase is the fence's new phase, for fence events.
	Phase FencePhase
	// Delay is the backoff before the restart, for restart_scheduled.
	Delay time.Duration
	// Member is the member a group event is about: the one that failed,
	// joined, left or ended.
	Member string
	// Scope lists, in start order, the members a group_restart covers.
	Scope []string
	// Command is the operator command, for command events.
	Command *CommandRecord
	// Pid is the process's pid, for process_started.
	Pid int
}

// LogValue groups the event's fields for log/slog, so that
// logger.Info("supervisor", "event", e) logs all of it, each fact once: not
// Time, which the log record carries, and the exit's stack only if it was
// kept (see [Event.WithoutStacks]).
func (e Event) LogValue() slog.Value {
	attrs := make([]slog.Attr, 0, 8)
	attrs = append(attrs,
		slog.String("kind", e.Kind.String()),
		slog.String("child_id", e.ChildID),
		slog.String("path", e.Path),
	)
	if e.Attempt != 0 || e.Generation != 0 { // group events name no attempt
		attrs = append(attrs, slog.Uint64("attempt", e.Attempt), slog.Uint64("generation", e.Generation))
	}
	if e.Reason != "" {
		attrs = append(attrs, slog.String("reason", e.Reason))
	}
	switch e.Kind {
	case EventFence:
		attrs = append(attrs, slog.String("phase", e.Phase.String()))
	case EventRestartScheduled:
		attrs = append(attrs, slog.Duration("delay", e.Delay))
	}
	if e.Member != "" {
		attrs = append(attrs, slog.String("member", e.Member))
	}
	if e.Pid != 0 {
		attrs = append(attrs, slog.Int("pid", e.Pid))
	}
	if e.Scope != nil {
		attrs = append(attrs, slog.Any("scope", e.Scope))
	}
	if c := e.Command; c != nil {
		attrs = append(attrs, slog.String("op", c.Op.String()), slog.String("requester", c.Requester),
			slog.Uint64("seq", c.Seq))
		if c.Error != "" {
			attrs = append(attrs, slog.String("error", c.Error))
		}
	}
	if e.Exit != nil {
		attrs = append(attrs, slog.Any("exit", *e.Exit))
	}
	return slog.GroupValue(attrs...)
}

// WithoutStacks returns a copy of e whose Exit has no stack, for logs that
// must not show file paths and goroutines. e's own Exit is not changed: it
// may be shared.
func (e Event) WithoutStacks() Event {
	if e.Exit != nil && e.Exit.Stack != "" {
		x := e.Exit.WithoutStacks()
		e.Exit = &x
	}
	return e
}

// String returns a one-line description of the event. Control characters
// in its texts (a reason, a command's) are escaped as Go escapes them
// ("\n"), so that log.Print(e) writes one line whatever the texts hold.
func (e Event) String() string {
	s := e.ChildID + ": " + e.Kind.String()
	switch {
	case e.Exit != nil:
		s += ": " + e.Exit.String()
	case e.Kind == EventFence:
		s += ": " + e.Phase.String()
	case e.Kind == EventRestartScheduled:
		s += " in " + roundDuration(e.Delay).String()
	case e.Kind == EventProcessStarted:
		s += ": pid " + strconv.Itoa(e.Pid)
	case e.Kind == EventGroupRestart:
		s += " after " + e.Member + " failed: " + strings.Join(e.Scope, ", ")
	case e.Reason != "":
		s += ": " + escapeControl(e.Reason)
	}
	return s
}

// emit hands the event to OnEvent, if set. It is small enough to be inlined,
// so that with no listener an event costs only the check.
func (s *ChildSlot) emit(e Event) {
	if s.cfg.OnEvent != nil || s.m != nil && s.grp.heard() {
		s.deliver(e)
	}
}

// deliver fills the event's slot fields and hands it to OnEvent, then to
// the OnEvent of every group above the slot. While the listeners run, the
// slot refuses calls that would change it (ErrReentrant): it is in the
// middle of one of its own methods. A listener's panic is recovered and
// reported once every listener has had the event (see listener.go).
func (s *ChildSlot) deliver(e Event) {
	e.ChildID, e.Path = s.id, s.cfg.Path
	if s.m != nil {
		s.grp.t.events.add(&e, e.Exit)
	}
	emitting := s.hooks & hookEmitting
	s.hooks |= hookEmitting
	fault := ""
	if s.cfg.OnEvent != nil {
		lent := int32(-1)
		if s.m != nil { // a listener may call the tree's methods
			lent = s.grp.t.guard.lend()
		}
		fault = callListener(s.cfg.OnEvent, e)
		if s.m != nil {
			s.grp.t.guard.unlend(lent)
		}
	}
	if s.m != nil && s.grp.t.listens {
		s.grp.relay(e)
	}
	if fault != "" {
		s.listenerPanicked(e, fault)
	}
	s.hooks = s.hooks&^hookEmitting | emitting
}

// emitExit emits ev carrying a copy of exit e. It reads e and does not keep
// it, so the caller's exit stays on its stack: an exit costs no allocation
// unless an OnEvent listens (the tree's event log copies it by value).
func (s *ChildSlot) emitExit(ev Event, e *Exit) {
	if s.cfg.OnEvent == nil && (s.m == nil || !s.grp.t.listens) {
		if s.m != nil { // the event log alone: it copies the exit, no allocation
			ev.ChildID, ev.Path = s.id, s.cfg.Path
			s.grp.t.events.add(&ev, e)
		}
		return
	}
	x := *e
	ev.Exit = &x
	s.deliver(ev)
}
