package supervisor

import (
	"context"
	"errors"
	"fmt"
	"strings"
	"sync"
	"time"
)

// CommandQueueSize is how many submitted commands a tree holds before its
// loop takes them; one more is refused with [ErrCommandQueueFull].
const CommandQueueSize = 64

// CommandOp is what an operator command asks for.
type CommandOp uint8

// The command ops. The zero value is not an op.
const (
	// CommandRestart: a fenced restart of a member slot (see
	// [ChildSlot.Restart]), or the ordered stop and fresh start of a nested
	// group. Neither counts against a restart budget.
	CommandRestart CommandOp = iota + 1
	// CommandPause: pause a member slot.
	CommandPause
	// CommandResume: resume a paused or quarantined member slot.
	CommandResume
	// CommandQuarantine: quarantine a member slot, with the command's reason.
	CommandQuarantine
	// CommandRemove: remove a member, slot or nested group, from its group.
	CommandRemove
	// CommandShutdown: shut a group down in order; the root's path shuts the
	// whole tree down.
	CommandShutdown
)

var commandOpNames = []string{"", "restart", "pause", "resume", "quarantine", "remove", "shutdown"}

// Command is an operator's request to the tree: what, on which member (by
// path, as in records), who asks and why. Requester and Reason are required:
// they are kept in the events and in the target's record.
type Command struct {
	Op        CommandOp `json:"op"`
	Path      string    `json:"path"`
	Requester string    `json:"requester"`
	Reason    string    `json:"reason"`
}

// CommandRecord is a command as the loop carried it out: the command, its
// sequence number in the tree, when it was applied, and its error, if any.
// It is a plain value, safe to hand to any goroutine.
type CommandRecord struct {
	Command
	// Seq numbers the tree's commands, from 1, in the order applied.
	Seq uint64 `json:"seq"`
	// AppliedAt is when the loop carried it out (or refused it).
	AppliedAt time.Time `json:"applied_at"`
	// Decision is what a slot's restart did with the request.
	Decision FenceDecision `json:"decision,omitempty"`
	// Err is why the command failed; nil when it was carried out. It is
	// not serialized; Error is.
	Err error `json:"-"`
	// Error is Err's text.
	Error string `json:"error,omitempty"`
}

// validate returns why c cannot be carried out as written, or nil.
func (c Command) validate() error {
	switch {
	case c.Op < CommandRestart || c.Op > CommandShutdown:
		return fmt.Errorf("%w: op %v", ErrInvalidCommand, c.Op)
	case c.Path == "":
		return fmt.Errorf("%w: no path", ErrInvalidCommand)
	case strings.TrimSpace(c.Requester) == "":
		return fmt.Errorf("%w: no requester: say who asks", ErrInvalidCommand)
	case len(c.Requester) > maxIDLen:
		return fmt.Errorf("%w: requester longer than %d bytes", ErrInvalidCommand, maxIDLen)
	case strings.TrimSpace(c.Reason) == "":
		return fmt.Errorf("%w: no reason: say why", ErrInvalidCommand)
	case len(c.Reason) > maxReason:
		return fmt.Errorf("%w: reason longer than %d bytes", ErrInvalidCommand, maxReason)
	}
	if err := checkPath(c.Path); err != nil {
		return fmt.Errorf("%w: %w", ErrInvalidCommand, err)
	}
	return nil
}

// commands is a tree's queue of submitted commands, the one part of a tree
// that other goroutines write.
type commands struct {
	mu       sync.Mutex
	pending  []pendingCommand
	space    chan struct{}   // closed when the loop takes the commands; made by a SubmitWait that found the queue full
	children []*childRequest // StartChild and StopChild requests, each with a caller waiting
	closed   bool            // the tree has ended: nothing more is taken
}

// pendingCommand is a submitted command and where its record goes.
type pendingCommand struct {
	cmd  Command
	done chan CommandRecord
}

// Submit hands an operator command to the tree g belongs to. It is safe to
// call from any goroutine and never blocks: the loop applies the command at
// its next Advance (Submit wakes it through Wake), and the returned channel
// then receives the command's record, once, with its error if the target
// refused it. Submit returns an error wrapping [ErrInvalidCommand] for a
// command without a valid op, path, requester or reason,
// [ErrCommandQueueFull] when the loop has CommandQueueSize commands still to
// take, and [ErrGroupStopped] once the tree has ended.
func (g *Group) Submit(c Command) (<-chan CommandRecord, error) {
	if !g.valid() {
		return nil, errZeroGroup
	}
	if err := c.validate(); err != nil {
		return nil, err
	}
	t := g.t
	q := &t.cmds
	q.mu.Lock()
	switch {
	case q.closed:
		q.mu.Unlock()
		return nil, fmt.Errorf("tree %q: %w", t.rootPath, ErrGroupStopped)
	case len(q.pending) >= CommandQueueSize:
		q.mu.Unlock()
		return nil, fmt.Errorf("%w: %d commands wait for the loop", ErrCommandQueueFull, CommandQueueSize)
	}
	done := make(chan CommandRecord, 1)
	q.pending = append(q.pending, pendingCommand{cmd: c, done: done})
	q.mu.Unlock()
	t.q.wake()
	return done, nil
}

// SubmitWait is Submit for a caller that would rather wait than be
// refused: when the loop has CommandQueueSize commands still to take, it
// waits, within ctx, until the loop takes them, then submits c. It
// returns ctx's error if ctx ends first (c is then not submitted), and
// Submit's other errors. It is safe to call from any goroutine but the
// loop's, which would wait for itself; stopping thousands of members
// through it meets no refusal.
func (g *Group) SubmitWait(ctx context.Context, c Command) (<-chan CommandRecord, error) {
	if ctx == nil {
		return nil, fmt.Errorf("%w: nil context", ErrInvalidConfig)
	}
	for {
		done, err := g.Submit(c)
		if !errors.Is(err, ErrCommandQueueFull) {
			return done, err
		}
		q := &g.t.cmds
		q.mu.Lock()
		if q.space == nil {
			q.space = make(chan struct{})
		}
		space := q.space
		full := len(q.pending) >= CommandQueueSize && !q.closed
		q.mu.Unlock()
		if !full {
			continue // taken in between
		}
		select {
		case <-space:
		case <-ctx.Done():
			return nil, ctx.Err()
		}
	}
}

// take moves the submitted commands into buf and returns it.
func (q *commands) take(buf []pendingCommand) []pendingCommand {
	q.mu.Lock()
	buf = append(buf, q.pending...)
	clear(q.pending)
	q.pending = q.pending[:0]
	if q.space != nil {
		close(q.space) // the callers of SubmitWait waiting for room
		q.space = nil
	}
	q.mu.Unlock()
	return buf
}

// close refuses every later command and answers those still queued.
func (q *commands) close(now time.Time, err error) {
	q.mu.Lock()
	q.closed = true
	left, children := q.pending, q.children
	q.pending, q.children = nil, nil
	if q.space != nil {
		close(q.space)
		q.space = nil
	}
	q.mu.Unlock()
	for _, p := range left {
		p.done <- CommandRecord{Command: p.cmd, AppliedAt: now, Err: err, Error: err.Error()}
	}
	for _, r := range children {
		if r.state.CompareAndSwap(reqPending, reqTaken) {
			r.answer(0, err)
		}
	}
}

// applyCommands carries out the commands submitted since the last Advance.
func (t *tree) applyCommands(now time.Time) {
	t.cmdBuf = t.cmds.take(t.cmdBuf[:0])
	for i, p := range t.cmdBuf {
		t.cmdSeq++
		rec := CommandRecord{Command: p.cmd, Seq: t.cmdSeq, AppliedAt: t.root.base.wall(now)}
		target, d, err := t.root.apply(p.cmd, now)
		rec.Decision = d
		if err != nil {
			rec.Err, rec.Error = err, err.Error()
		}
		r := &rec
		switch {
		case target.slot != nil:
			target.slot.coldState().lastCommand = r
		case target.group != nil:
			target.group.lastCmd = r
		}
		ev := Event{Kind: EventCommand, Time: now, Member: p.cmd.Path, Reason: p.cmd.Reason, Command: r}
		switch {
		case target.group != nil:
			target.group.emit(ev)
		case target.parent != nil:
			target.parent.emit(ev)
		default:
			t.root.emit(ev)
		}
		p.done <- rec
		t.cmdBuf[i] = pendingCommand{}
		t.changed = true
	}
}

// cmdTarget is what a command's path names: a member slot, or a group (the
// root or a nested one), with the group that holds it.
type cmdTarget struct {
	slot   *ChildSlot
	group  *Group
	parent *Group
}

// lookup resolves an absolute path below the root g.
func (g *Group) lookup(path string) (cmdTarget, error) {
	rest, ok := strings.CutPrefix(path, g.path)
	if !ok || rest != "" && rest[0] != '/' {
		return cmdTarget{}, fmt.Errorf("%w: %q is not in tree %q", ErrUnknownMember, path, g.path)
	}
	cur := cmdTarget{group: g}
	rest = strings.TrimPrefix(rest, "/")
	for rest != "" {
		var id string
		id, rest, _ = strings.Cut(rest, "/")
		if cur.group == nil {
			return cmdTarget{}, fmt.Errorf("%w: %q: a slot has no members", ErrUnknownMember, path)
		}
		m, ok := cur.group.byID[id]
		if !ok || m.gone {
			return cmdTarget{}, fmt.Errorf("%w: %q: no member %q in %q", ErrUnknownMember, path, id, cur.group.path)
		}
		cur = cmdTarget{slot: m.slot, group: m.sub, parent: cur.group}
	}
	return cur, nil
}

// apply carries out c at now on the tree rooted at g.
func (g *Group) apply(c Command, now time.Time) (cmdTarget, FenceDecision, error) {
	target, err := g.lookup(c.Path)
	if err != nil {
		return target, 0, err
	}
	if target.slot != nil {
		d, err := applyToSlot(target.slot, c, now)
		return target, d, err
	}
	return target, 0, applyToGroup(target, c, now)
}

// refused wraps a state's refusal of a command.
func refused(c Command, why error) error {
	return fmt.Errorf("%w: %v %s: %w", ErrCommandRefused, c.Op, c.Path, why)
}

// applyToSlot carries out c on member slot s. An op that would change
// nothing (pausing a paused slot) is refused, so that the operator learns
// that nothing happened.
func applyToSlot(s *ChildSlot, c Command, now time.Time) (FenceDecision, error) {
	var err error
	switch c.Op {
	case CommandRestart:
		d, err := s.Restart(now)
		if err != nil {
			return d, refused(c, err)
		}
		return d, nil
	case CommandPause:
		if s.op == OperationPaused {
			return 0, refused(c, ErrPaused)
		}
		err = s.Pause(now)
	case CommandResume:
		if s.op == OperationActive {
			return 0, refused(c, errors.New("not paused or quarantined"))
		}
		err = s.Resume(now)
	case CommandQuarantine:
		if s.op == OperationQuarantined {
			return 0, refused(c, ErrQuarantined)
		}
		err = s.Quarantine(now, c.Reason+" (by "+c.Requester+")")
	case CommandRemove:
		return 0, s.grp.remove(s.id, now)
	case CommandShutdown:
		return 0, refused(c, errors.New("a slot is removed, not shut down"))
	}
	if err != nil {
		return 0, refused(c, err)
	}
	return 0, nil
}

// applyToGroup carries out c on a group: the root or a nested one.
func applyToGroup(target cmdTarget, c Command, now time.Time) error {
	g := target.group
	why := fmt.Sprintf("%v by %s: %s", c.Op, c.Requester, c.Reason)
	switch c.Op {
	case CommandShutdown:
		if g.state == GroupShuttingDown || g.state.over() {
			return refused(c, ErrGroupStopped)
		}
		g.beginShutdown(now, why)
		return nil
	case CommandRemove:
		if target.parent == nil {
			return refused(c, errors.New("the root cannot be removed; shut it down"))
		}
		return target.parent.remove(g.id, now)
	case CommandRestart:
		if target.parent == nil {
			return refused(c, errors.New("the root is restarted by its platform; shut it down"))
		}
		if g.state == GroupShuttingDown || g.state.over() || target.parent.state == GroupShuttingDown {
			return refused(c, ErrGroupStopped)
		}
		g.self.restartWhenStopped = true
		g.self.subHalted = true
		g.beginShutdown(now, why)
		return nil
	}
	return refused(c, fmt.Errorf("%v applies to slots, not groups", c.Op))
}
