package supervisor

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/groupmodel"
)

// This file holds FuzzGroup's steps and its checks; fuzz_group_test.go
// builds the tree and drives the loop.

// fgOps holds what each step op does with its argument, indexed by op.
// Each acts on the real tree and on the model; the harness then settles
// the tree and checks.
var fgOps = [16]func(h *fgHarness, arg byte){
	fgReturnNil: func(h *fgHarness, arg byte) { h.childStep(arg, fgCmdNil) },
	fgReturnErr: func(h *fgHarness, arg byte) { h.childStep(arg, fgDirective(arg, fgCmdDoNotRestart)) },
	fgFail:      func(h *fgHarness, arg byte) { h.childStep(arg, fgDirective(arg, fgCmdFailGroup)) },
	fgPanic:     func(h *fgHarness, arg byte) { h.childStep(arg, fgCmdPanic) },
	fgIgnore:    func(h *fgHarness, arg byte) { h.childStep(arg, fgCmdIgnore) },
	fgRelease: func(h *fgHarness, arg byte) {
		st := h.model.Stubborn()
		if len(st) == 0 {
			return
		}
		ref := st[int(arg)%len(st)]
		h.note(fmt.Sprintf("Release %s#%d", ref.Path, ref.Attempt))
		h.tell(ref, fgCmdRelease)
		h.model.Release(ref, h.mnow())
	},
	fgPause:      func(h *fgHarness, arg byte) { h.control(arg, groupmodel.Pause) },
	fgResume:     func(h *fgHarness, arg byte) { h.control(arg, groupmodel.Resume) },
	fgQuarantine: func(h *fgHarness, arg byte) { h.control(arg, groupmodel.Quarantine) },
	fgRestart:    func(h *fgHarness, arg byte) { h.control(arg, groupmodel.RestartSlot) },
	fgRemove:     (*fgHarness).remove,
	fgAdd: func(h *fgHarness, arg byte) {
		_, groups := h.model.Paths()
		if arg >= fgByCmd {
			h.startChild(groups[int(arg)%len(groups)], arg*53+7)
			return
		}
		h.addSlot(groups[int(arg)%len(groups)], arg*53+7)
	},
	fgGroupCmd: func(h *fgHarness, arg byte) {
		if arg >= fgStopChild {
			h.stopChild(arg)
			return
		}
		_, groups := h.model.Paths()
		path := groups[int(arg)%len(groups)]
		op := [3]groupmodel.CommandOp{groupmodel.CmdShutdown, groupmodel.CmdRestart, groupmodel.CmdRemove}[arg/16%3]
		h.submit(op, path)
	},
	fgSleep:  func(h *fgHarness, arg byte) { h.sleep(fgSleeps[arg%8]) },
	fgSleep2: func(h *fgHarness, arg byte) { h.sleep(fgSleeps[arg%8]) },
	fgShutdown: func(h *fgHarness, arg byte) {
		_, groups := h.model.Paths()
		path := groups[int(arg)%len(groups)]
		h.note("Shutdown " + path)
		h.groups[path].ShutdownWith(time.Now(), "fuzz")
		h.model.Shutdown(path, h.mnow())
	},
}

// fgStopChild and above, as fgGroupCmd's argument, is StopChild of a
// member instead of a command to a group.
const fgStopChild = 240

// fgDirective returns d when arg >= 128 (fgByCmd), a plain error
// otherwise.
func fgDirective(arg byte, d fgCmd) fgCmd {
	if arg >= fgByCmd {
		return d
	}
	return fgCmdErr
}

// liveSlot returns the path of the slot arg picks among those in the tree.
func (h *fgHarness) liveSlot(arg byte) (string, bool) {
	slots, _ := h.model.Paths()
	if len(slots) == 0 {
		return "", false
	}
	return slots[int(arg&0x7f)%len(slots)], true
}

// childStep tells the running child of the slot arg picks to do cmd.
func (h *fgHarness) childStep(arg byte, cmd fgCmd) {
	path, ok := h.liveSlot(arg)
	if !ok {
		return
	}
	ref, ok := h.model.Running(path)
	if !ok {
		return
	}
	h.note(fmt.Sprintf("%s %s#%d", fgCmdNames[cmd], path, ref.Attempt))
	h.tell(ref, cmd)
	now := h.mnow()
	switch cmd {
	case fgCmdIgnore:
		h.model.Ignore(path, now)
	case fgCmdDoNotRestart:
		h.model.ReturnDirective(path, groupmodel.DoNotRestart, now)
	case fgCmdFailGroup:
		h.model.ReturnDirective(path, groupmodel.FailGroup, now)
	default:
		h.model.Return(path, cmd == fgCmdErr, cmd == fgCmdPanic, now)
	}
}

var fgCmdNames = [...]string{
	fgCmdNil: "Nil", fgCmdErr: "Err", fgCmdPanic: "Panic", fgCmdIgnore: "Ignore",
	fgCmdDoNotRestart: "DoNotRestart", fgCmdFailGroup: "FailGroup",
}

var fgControlNames = [...]string{"Pause", "Resume", "Quarantine", "Restart", "RemoveSlot"}

// control applies an operator control to the slot arg picks: by its own
// method, or by Submit when arg >= 128.
func (h *fgHarness) control(arg byte, c groupmodel.Control) {
	if path, ok := h.liveSlot(arg); ok {
		h.controlPath(path, c, arg >= 128)
	}
}

// controlPath applies c to the slot at path, by Submit when cmd is set.
func (h *fgHarness) controlPath(path string, c groupmodel.Control, cmd bool) {
	if cmd {
		h.submit([...]groupmodel.CommandOp{
			groupmodel.Pause: groupmodel.CmdPause, groupmodel.Resume: groupmodel.CmdResume,
			groupmodel.Quarantine: groupmodel.CmdQuarantine, groupmodel.RestartSlot: groupmodel.CmdRestart,
		}[c], path)
		return
	}
	h.note(fgControlNames[c] + " " + path)
	s, now := h.slots[path], time.Now()
	var err error
	switch c {
	case groupmodel.Pause:
		err = s.Pause(now)
	case groupmodel.Resume:
		err = s.Resume(now)
	case groupmodel.Quarantine:
		err = s.Quarantine(now, "fuzz")
	case groupmodel.RestartSlot:
		_, err = s.Restart(now)
	case groupmodel.RemoveSlot:
		err = s.Remove(now)
	}
	want := h.model.SlotControl(path, c, h.mnow())
	if want == groupmodel.OK && (c == groupmodel.Resume || c == groupmodel.RestartSlot) {
		h.resumed[path] = true
	}
	require.Equal(h.t, want == groupmodel.Refused, err != nil,
		"%s %s: the model says %v, the slot returned %v; steps %v", fgControlNames[c], path, want, err, h.steps)
}

// remove removes the slot or nested group arg picks: by Group.Remove, by
// ChildSlot.Remove (arg/64%2 == 1, slots only) or by Submit (arg >= 128).
func (h *fgHarness) remove(arg byte) {
	slots, groups := h.model.Paths()
	targets := append(slices.Clone(slots), groups[1:]...)
	if len(targets) == 0 {
		return
	}
	path := targets[int(arg&0x3f)%len(targets)]
	switch {
	case arg >= 128:
		h.submit(groupmodel.CmdRemove, path)
		return
	case arg/64%2 == 1 && h.slots[path] != nil:
		h.controlPath(path, groupmodel.RemoveSlot, false)
		return
	}
	h.note("Remove " + path)
	parent, id := path[:strings.LastIndex(path, "/")], path[strings.LastIndex(path, "/")+1:]
	err := h.groups[parent].Remove(id, time.Now())
	want := h.model.RemoveMember(path, h.mnow())
	require.Equal(h.t, want == groupmodel.Unknown, errors.Is(err, ErrUnknownMember),
		"Remove %s: the model says %v, the group returned %v; steps %v", path, want, err, h.steps)
	require.Equal(h.t, want == groupmodel.OK, err == nil, "Remove %s: %v; steps %v", path, err, h.steps)
}

var fgCommandOps = [...]CommandOp{
	groupmodel.CmdRestart: CommandRestart, groupmodel.CmdPause: CommandPause, groupmodel.CmdResume: CommandResume,
	groupmodel.CmdQuarantine: CommandQuarantine, groupmodel.CmdRemove: CommandRemove, groupmodel.CmdShutdown: CommandShutdown,
}

// submit hands the tree an operator command and lets the loop apply it.
func (h *fgHarness) submit(op groupmodel.CommandOp, path string) {
	t := h.t
	cmd := Command{Op: fgCommandOps[op], Path: path, Requester: "fuzz", Reason: "fuzz"}
	h.note(fmt.Sprintf("Submit %v %s", cmd.Op, path))
	done, err := h.root.Submit(cmd)
	if h.model.Finished() {
		require.ErrorIs(t, err, ErrGroupStopped, "Submit to an ended tree; steps %v", h.steps)
		return
	}
	require.NoError(t, err, "Submit; steps %v", h.steps)
	h.settle()
	var rec CommandRecord
	select {
	case rec = <-done:
	default:
		require.FailNow(t, "the command was not applied by the next Advance", "steps %v", h.steps)
	}
	want := h.model.Command(op, path, h.mnow())
	if want == groupmodel.OK && (op == groupmodel.CmdResume || op == groupmodel.CmdRestart) {
		h.resumed[path] = true
	}
	switch want {
	case groupmodel.OK:
		require.NoError(t, rec.Err, "%v %s; steps %v", cmd.Op, path, h.steps)
	case groupmodel.Unknown:
		require.ErrorIs(t, rec.Err, ErrUnknownMember, "%v %s; steps %v", cmd.Op, path, h.steps)
	default:
		require.ErrorIs(t, rec.Err, ErrCommandRefused, "%v %s; steps %v", cmd.Op, path, h.steps)
	}
}

// ---- the checks ------------------------------------------------------------

// check compares the tree with the model and checks the invariants.
func (h *fgHarness) check(what string) {
	t := h.t
	rec := h.root.Record(time.Now())
	want := h.model.View()
	got := fgViewOf(t, rec)
	require.Equal(t, want, got, "after %s; steps %v\nmodel:\n%v", what, h.steps, h.model)
	h.checkBuilt(rec, what)
	require.Equal(t, h.model.Finished(), h.root.Finished(), "Finished after %s; steps %v", what, h.steps)
	require.Equal(t, h.model.Failed(), h.root.Err() != nil, "Err after %s: %v; steps %v", what, h.root.Err(), h.steps)
	if err := h.root.Err(); err != nil {
		require.ErrorIs(t, err, ErrGroupFailed)
	}
	h.checkCancels(what)
	h.checkCounts(rec, what)
	h.checkNoRevival(rec, what)
	h.checkIntensity(rec, what)
	h.checkStarts(what)
	h.checkStops(what)
	clear(h.groupStarts)
}

// checkBuilt checks that the record a snapshot builds against the last
// one (sharing what did not change) says what rec, built from nothing,
// says, but for when each shared part was taken.
func (h *fgHarness) checkBuilt(rec GroupRecord, what string) {
	built := h.root.record(h.root.t.clampNow(time.Now()), h.built)
	require.Equal(h.t, fgUntimed(rec), fgUntimed(built), "the record built against the last, after %s; steps %v", what, h.steps)
	h.built = &built
}

// fgUntimed returns a copy of r without the times its records were taken
// at, all the way down.
func fgUntimed(r GroupRecord) GroupRecord {
	r.ObservedAt = time.Time{}
	r.Members = slices.Clone(r.Members)
	for i, m := range r.Members {
		if m.Slot != nil {
			s := *m.Slot
			s.ObservedAt = time.Time{}
			r.Members[i].Slot = &s
		}
		if m.Group != nil {
			g := fgUntimed(*m.Group)
			r.Members[i].Group = &g
		}
	}
	return r
}

// checkCancels compares the cancellations the children saw in the step
// with the model's, and checks, independently of the model, that within
// each group the children the group itself stopped saw their cancellation
// in reverse start order.
func (h *fgHarness) checkCancels(what string) {
	t := h.t
	h.mu.Lock()
	seen := h.cancels
	h.cancels = nil
	h.mu.Unlock()
	refs := make([]fgRef, 0, len(seen))
	for _, c := range seen {
		if c.started == "" {
			refs = append(refs, c.ref)
		}
	}
	forced := h.model.TakeForced()
	require.Equal(t, h.byGroup(h.model.TakeCancels(), forced), h.byGroup(refs, forced),
		"the cancellations each group's children saw, after %s; steps %v", what, h.steps)
	pos := fgPositions(h.prev)
	last := map[string]int{} // each group's walk so far: the position it stopped last
	for _, c := range seen {
		if c.started != "" {
			// The group started, or started a member, since its last
			// stop: its next stops are a new reverse walk.
			delete(last, c.started)
			continue
		}
		if c.cause != causeGroupRestart && c.cause != causeGroupShutdown {
			continue
		}
		g := fgParent(c.ref.Path)
		if h.concurrent[g] || forced[g] {
			continue // cancelled at once: the children see it in any order
		}
		p, ok := pos[c.ref.Path]
		if !ok {
			continue // added in the step
		}
		if l, ok := last[g]; ok {
			require.Less(t, p, l, "%s cancelled after a member that started after it, after %s; steps %v",
				c.ref.Path, what, h.steps)
		}
		last[g] = p
	}
}

// byGroup splits cancellations by the group of their slot, keeping their
// order within each: independent walks of different groups may interleave
// in either order when their deadlines fall on the same instant. A
// Concurrent group cancels a walk's members at once, and its children see
// the cancellations in whatever order they run: its list is sorted; so is
// that of a group whose shutdown reached its ShutdownTimeout in the step
// (forced), which cancels what still runs at once.
func (h *fgHarness) byGroup(refs []fgRef, forced map[string]bool) map[string][]fgRef {
	out := map[string][]fgRef{}
	for _, r := range refs {
		g := fgParent(r.Path)
		out[g] = append(out[g], r)
	}
	for g, rs := range out {
		if h.concurrent[g] || forced[g] {
			slices.SortFunc(rs, func(a, b fgRef) int {
				return cmp.Or(strings.Compare(a.Path, b.Path), cmp.Compare(a.Attempt, b.Attempt))
			})
		}
	}
	return out
}

func fgParent(path string) string { return path[:strings.LastIndex(path, "/")] }

// fgPositions returns each member slot's position in its group's start
// order, by path.
func fgPositions(r GroupRecord) map[string]int {
	out := map[string]int{}
	var walk func(r GroupRecord)
	walk = func(r GroupRecord) {
		for i, m := range r.Members {
			if m.Group != nil {
				walk(*m.Group)
				continue
			}
			out[r.Path+"/"+m.ID] = i
		}
	}
	walk(r)
	return out
}

// fgSlots calls f for each member slot record of r, with its path.
func fgSlots(r GroupRecord, f func(path string, m MemberRecord)) {
	for _, m := range r.Members {
		if m.Group != nil {
			fgSlots(*m.Group, f)
			continue
		}
		f(r.Path+"/"+m.ID, m)
	}
}

// checkCounts: for every slot, attempts are exits plus the one held, the
// exit counts add up to the exits, and one started event per attempt.
func (h *fgHarness) checkCounts(rec GroupRecord, what string) {
	t := h.t
	fgSlots(rec, func(path string, m MemberRecord) {
		s := m.Slot
		active := uint64(0)
		if s.Active {
			active = 1
		}
		require.Equal(t, s.Attempt, s.Exits+active, "%s: attempt == exits + active, after %s; steps %v", path, what, h.steps)
		require.Equal(t, s.Exits, m.Exits.Total(), "%s: exit counts add up, after %s; steps %v", path, what, h.steps)
		require.Equal(t, s.Attempt, h.starts[path], "%s: one started event per attempt, after %s; steps %v", path, what, h.steps)
	})
}

// checkNoRevival: a slot that was paused, quarantined or removed before the
// step has started no attempt in it, unless an operator resumed it.
func (h *fgHarness) checkNoRevival(rec GroupRecord, what string) {
	before := map[string]*Record{}
	fgSlots(h.prev, func(path string, m MemberRecord) { before[path] = m.Slot })
	fgSlots(rec, func(path string, m MemberRecord) {
		b := before[path]
		if b == nil || b.Operation == OperationActive || h.resumed[path] {
			return
		}
		require.Equal(h.t, b.Attempt, m.Slot.Attempt, "%s was %v and started again, after %s; steps %v",
			path, b.Operation, what, h.steps)
	})
}

// checkIntensity: each restart a group counted in the step was announced
// by a group_restart event, and a group that has not failed performed at
// most Intensity restarts within any Period since its last start.
func (h *fgHarness) checkIntensity(rec GroupRecord, what string) {
	now := h.mnow()
	fgGroups(rec, func(r GroupRecord) {
		h.announcedTotal[r.Path] += h.announced[r.Path]
		require.LessOrEqual(h.t, r.Restarts, h.announcedTotal[r.Path],
			"%s: every restart performed was announced by a group_restart event, after %s; steps %v", r.Path, what, h.steps)
		if r.Intensity == nil {
			return
		}
		kept := h.windows[r.Path][:0]
		for _, at := range h.windows[r.Path] {
			if now-at < r.Intensity.Window {
				kept = append(kept, at)
			}
		}
		h.windows[r.Path] = kept
		if r.State != GroupFailed && r.Err == "" {
			require.LessOrEqual(h.t, len(kept), r.Intensity.Limit, "%s restarted more than its intensity, after %s; steps %v",
				r.Path, what, h.steps)
		}
	})
	clear(h.announced)
}

func fgGroups(r GroupRecord, f func(GroupRecord)) {
	f(r)
	for _, m := range r.Members {
		if m.Group != nil {
			fgGroups(*m.Group, f)
		}
	}
}

// fgViewOf reads a record as the model's view, mapping enums by name.
func fgViewOf(t require.TestingT, r GroupRecord) groupmodel.GroupView {
	v := groupmodel.GroupView{
		Path: r.Path, State: fgParse(t, r.State.String(), groupmodel.State.String),
		Restarts: r.Restarts, Used: -1, Failed: r.Err != "", Members: []groupmodel.MemberView{},
	}
	if r.Intensity != nil {
		v.Used = r.Intensity.Used
	}
	for _, m := range r.Members {
		mv := groupmodel.MemberView{ID: m.ID, Leaving: m.Leaving, Shutdown: fgParse(t, m.Shutdown.String(), groupmodel.Outcome.String)}
		if m.Group != nil {
			g := fgViewOf(t, *m.Group)
			mv.Group = &g
		} else {
			mv.Slot = fgSlotView(t, m)
		}
		v.Members = append(v.Members, mv)
	}
	return v
}

func fgSlotView(t require.TestingT, m MemberRecord) *groupmodel.SlotView {
	s, c := m.Slot, m.Exits
	require.Zero(t, c.TimedOut+c.Unhealthy, "%s: no deadlines, no timed_out or unhealthy exits", s.Path)
	d := DirectiveNone
	if s.LastExit != nil {
		d = s.LastExit.Directive
	}
	return &groupmodel.SlotView{
		Directive: fgParse(t, d.String(), groupmodel.Directive.String),
		Attempt:   s.Attempt, Restarts: s.Restarts, Exits: s.Exits,
		Kinds:     [groupmodel.NumKinds]uint64{c.Succeeded, c.Failed, c.Panicked, c.Cancelled, c.Abandoned},
		Operation: fgParse(t, s.Operation.String(), groupmodel.Operation.String),
		Active:    s.Active, Used: s.RestartLimit.Used, Backoff: s.NextRestartAt != nil,
	}
}

// fgParse finds the model's value whose name is name.
func fgParse[T ~uint8](t require.TestingT, name string, str func(T) string) T {
	for v := range T(16) {
		if str(v) == name {
			return v
		}
	}
	require.FailNow(t, "the model has no value named "+name)
	return 0
}
