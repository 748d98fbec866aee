package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/groupmodel"
)

// FuzzGroup drives a real supervision tree and the reference model in
// internal/groupmodel with the same steps, chosen by the fuzzer's bytes,
// and demands after every step that the tree's records agree with the
// model and that the invariants hold: the children see a group's stops in
// reverse start order, nothing an operator stopped is started again unless
// an operator resumes it, and the counts add up. Each input runs in its own
// synctest bubble, so time is fake and every child has settled before the
// tree is looked at: an input always replays the same way.
//
// The first bytes build the tree (see fgBuild): a root and up to two nested
// groups (two levels, or three when the second nests in the first), each
// with its strategy, intensity and automatic shutdown, and up to six member
// slots with their restart types, significance, restart limits, backoffs
// and stop timeouts; the groups' ShutdownOrder (InOrder or Concurrent),
// MaxChildren and ShutdownTimeout. Each later pair of bytes is one step:
// the op, then its argument (see fgOps): children that return nil, an
// error, one wrapping ErrDoNotRestart or ErrFailGroup, panic or ignore
// cancellation; operator controls and commands; Add and StartChild,
// Remove and StopChild (both from a goroutine while the harness
// advances); shutdowns and time. Every input ends with the root's
// shutdown.
func FuzzGroup(f *testing.F) {
	for _, seed := range fgSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < fgHeader {
			return
		}
		synctest.Test(t, func(t *testing.T) { runFuzzGroup(t, data) })
	})
}

// The input's bounds: a header, then at most fgMaxSlots slot specs of two
// bytes, then at most fgMaxSteps steps of two bytes.
const (
	fgHeader   = 5
	fgMaxSteps = 40
	fgMaxSlots = 12 // slots ever made, those Add makes later included
)

// Step ops: the first byte of a step, modulo 16.
const (
	fgReturnNil byte = iota // the held attempt of a slot returns nil
	fgReturnErr             // ... returns an error; wrapping ErrDoNotRestart when arg >= 128
	fgPanic                 // ... panics
	fgIgnore                // ... ignores cancellation from now on
	fgRelease               // a child that ignores its cancellation returns after all
	fgPause                 // operator controls on a slot: directly, or by Submit when arg >= 128
	fgResume
	fgQuarantine
	fgRestart
	fgRemove   // remove a slot or a nested group: Group.Remove, ChildSlot.Remove or Submit
	fgAdd      // add a member slot to a group
	fgGroupCmd // Submit shutdown, restart or remove to a group
	fgSleep    // let time pass by fgSleeps[arg%8], serving every deadline on the way
	fgShutdown // ShutdownWith on a group
	fgFail     // as fgReturnErr: failures are what the group is about; wrapping ErrFailGroup when arg >= 128
	fgSleep2   // as fgSleep
)

var fgSleeps = [8]time.Duration{
	100 * time.Millisecond, 500 * time.Millisecond, time.Second, 2 * time.Second,
	3 * time.Second, 5 * time.Second, 11 * time.Second, 61 * time.Second,
}

// fgCmd is what the test tells a fake child to do.
type fgCmd uint8

const (
	fgCmdNil fgCmd = iota
	fgCmdErr
	fgCmdPanic
	fgCmdIgnore
	fgCmdRelease
	fgCmdDoNotRestart // return an error wrapping ErrDoNotRestart
	fgCmdFailGroup    // return an error wrapping ErrFailGroup
)

var errFG = errors.New("fuzz group child failed")

// fgRef names one attempt's child.
type fgRef = groupmodel.ChildRef

// fgCancel is a cancellation a child saw, with its cause, or, when
// started is set, the mark that the group at that path may begin a new
// walk (see markWalk).
type fgCancel struct {
	ref     fgRef
	cause   error
	started string
}

// fgHarness runs one FuzzGroup input inside a synctest bubble.
type fgHarness struct {
	t      *testing.T
	root   *Group
	model  *groupmodel.Tree
	origin time.Time

	groups map[string]*Group
	slots  map[string]*ChildSlot
	nslots int

	mu       sync.Mutex
	children map[fgRef]chan fgCmd
	cancels  []fgCancel
	release  chan struct{} // closed at the end: every child returns

	// What the root's listener saw, on the loop's goroutine.
	starts    map[string]uint64          // started events per slot path
	windows   map[string][]time.Duration // when each group restarted since its last start, by path
	announced map[string]uint64          // group_restart events per group path in the step
	// announcedTotal adds them up over the run: a group performs no more
	// restarts than were announced (one may be decided and never
	// performed, when a shutdown comes during its backoff).
	announcedTotal map[string]uint64
	groupStarts    map[string]bool // groups that reported group_started in the step

	prev    GroupRecord       // the record before the step
	built   *GroupRecord      // the record built against the last one, as snapshots are
	resumed map[string]bool   // slots an operator resumed or restarted in the step
	steps   []string          // what ran, for failure messages
	cfgs    map[string]Config // each slot's config, for failure messages
	// concurrent holds the paths of the groups whose ShutdownOrder is
	// Concurrent: their children see a walk's cancellations in any order.
	concurrent map[string]bool
	// startsInFlight are the StartChild calls not answered yet, and
	// stopsInFlight the StopChild calls.
	startsInFlight []*fgStart
	stopsInFlight  []*fgStop
}

func runFuzzGroup(t *testing.T, data []byte) {
	h := &fgHarness{
		t: t, groups: map[string]*Group{}, slots: map[string]*ChildSlot{},
		children: map[fgRef]chan fgCmd{}, release: make(chan struct{}),
		starts: map[string]uint64{}, windows: map[string][]time.Duration{}, announced: map[string]uint64{}, announcedTotal: map[string]uint64{},
		groupStarts: map[string]bool{}, resumed: map[string]bool{}, cfgs: map[string]Config{}, concurrent: map[string]bool{},
	}
	defer func() {
		close(h.release)
		synctest.Wait()
	}()
	h.origin = time.Now()
	rest := h.build(data)
	require.NoError(t, h.root.Start(t.Context(), time.Now()))
	h.model.Start(h.mnow())
	h.settle()
	h.check("start")
	for i := 0; i+1 < len(rest) && i/2 < fgMaxSteps; i += 2 {
		h.prev = h.root.Record(time.Now())
		clear(h.resumed)
		fgOps[rest[i]%16](h, rest[i+1])
		h.settle()
		h.check(fmt.Sprintf("step %d", i/2))
	}
	// Every input ends with the root's shutdown, and long enough a wait
	// for every stubborn child to be abandoned.
	h.prev = h.root.Record(time.Now())
	h.note("Shutdown /root")
	h.root.Shutdown(time.Now())
	h.model.Shutdown("/root", h.mnow())
	h.settle()
	h.sleep(time.Minute)
	h.check("shutdown")
	require.True(t, h.root.Finished(), "the tree finished; steps %v", h.steps)
	if fgDebug {
		t.Logf("steps %v\nerr %v\n%v", h.steps, h.root.Err(), h.model)
	}
}

var fgDebug = false // true logs each input's steps and final tree

// mnow returns the bubble's time as model time.
func (h *fgHarness) mnow() time.Duration { return time.Since(h.origin) }

func (h *fgHarness) note(s string) {
	h.steps = append(h.steps, s+"@"+h.mnow().String())
}

// ---- building the tree ---------------------------------------------------

// fgGroupConfig decodes a group's config byte into the real config and the
// model's:
//
//	strategy = b%3, intensity = {off, 1, 2, 4}[b/3%4], period = {10s, 60s}[b/12%2],
//	auto shutdown = b/24%3, restart (nested only) = b/72%3, significant
//	when not permanent
//
// The header adds the shutdown order, MaxChildren and ShutdownTimeout
// (x); see build.
func fgGroupConfig(b byte, nested bool, x fgGroupExtra) (GroupConfig, groupmodel.GroupConfig) {
	m := groupmodel.GroupConfig{
		Strategy:        groupmodel.Strategy(b % 3),
		Intensity:       [4]int{0, 1, 2, 4}[b/3%4],
		Period:          [2]time.Duration{10 * time.Second, time.Minute}[b/12%2],
		AutoShutdown:    groupmodel.AutoShutdown(b / 24 % 3),
		Concurrent:      x.concurrent,
		MaxChildren:     x.maxKids,
		ShutdownTimeout: x.shutdownTimeout,
	}
	if nested {
		m.Restart = groupmodel.Restart(b / 72 % 3)
		m.Significant = m.Restart != groupmodel.Permanent
	}
	c := GroupConfig{
		Strategy: Strategy(m.Strategy), Intensity: m.Intensity, Period: m.Period,
		AutoShutdown: AutoShutdown(m.AutoShutdown), Restart: RestartType(m.Restart), Significant: m.Significant,
		MaxChildren: x.maxKids, ShutdownTimeout: x.shutdownTimeout,
	}
	if x.concurrent {
		c.ShutdownOrder = Concurrent
	}
	if m.Intensity == 0 {
		c.Intensity = NoIntensity
	}
	return c, m
}

// fgGroupExtra is what the header says of a group beyond its config byte.
type fgGroupExtra struct {
	concurrent      bool // ShutdownOrder Concurrent
	maxKids         int  // MaxChildren
	shutdownTimeout time.Duration
}

// fgSlotConfig decodes a slot's config byte:
//
//	restart = c%3, significant = c/3%2 (when not permanent), limit = 1 + c/6%3,
//	window = {10s, 60s}[c/18%2], backoff = {none, 1s fixed}[c/36%2],
//	stop timeout = {1s, 2s}[c/72%2]
func fgSlotConfig(c byte) (Config, groupmodel.SlotConfig) {
	m := groupmodel.SlotConfig{
		Restart:     groupmodel.Restart(c % 3),
		Limit:       1 + int(c/6%3),
		Window:      [2]time.Duration{10 * time.Second, time.Minute}[c/18%2],
		Delay:       [2]time.Duration{0, time.Second}[c/36%2],
		StopTimeout: [2]time.Duration{time.Second, 2 * time.Second}[c/72%2],
	}
	m.Significant = c/3%2 == 1 && m.Restart != groupmodel.Permanent
	cfg := Config{
		Restart: RestartType(m.Restart), Significant: m.Significant,
		RestartLimit: m.Limit, RestartWindow: m.Window, StopTimeout: m.StopTimeout,
		Backoff: Backoff{NoDelay: true},
	}
	if m.Delay > 0 {
		cfg.Backoff = Backoff{Initial: m.Delay, Max: m.Delay, Multiplier: 2, NoJitter: true}
	}
	return cfg, m
}

// build makes the tree the header and the slot specs describe, in the real
// world and in the model, and returns the bytes left for the steps.
//
//	data[0]: nested groups = d%3; the second nests in the first when d/3%2 == 1;
//	         the root, the first and the second nested group stop
//	         concurrently when d/6%2, d/12%2, d/24%2 == 1; every group's
//	         MaxChildren is 1 + d/48 when d/48 > 0 (none when 0)
//	data[1..3]: the config bytes of the root and the nested groups
//	data[4]: slots = 1 + d%6; each nested group joins its parent after
//	         d/6%4 (the first) and d/24%4 (the second) of the parent's slots;
//	         every group's ShutdownTimeout is {none, 500ms, 1.5s}[d/96]
//	then two bytes per slot: its config byte and its group (modulo the groups)
func (h *fgHarness) build(data []byte) []byte {
	t := h.t
	nsub := int(data[0] % 3)
	maxKids := 0
	if k := int(data[0] / 48); k > 0 {
		maxKids = 1 + k
	}
	concurrent := func(i int) bool { return data[0]/(6<<i)%2 == 1 }
	extra := func(i int) fgGroupExtra {
		return fgGroupExtra{concurrent(i), maxKids, [3]time.Duration{0, 500 * time.Millisecond, 1500 * time.Millisecond}[data[4]/96]}
	}
	rcfg, rmcfg := fgGroupConfig(data[1], false, extra(0))
	rcfg.OnEvent = h.onEvent
	root, err := NewGroup("root", rcfg)
	require.NoError(t, err)
	h.root, h.model = root, groupmodel.New("root", rmcfg)
	h.groups["/root"] = root
	h.concurrent["/root"] = concurrent(0)
	paths := []string{"/root"}
	parents := []int{0, 0, 0}
	if nsub == 2 && data[0]/3%2 == 1 {
		parents[2] = 1
	}
	cfgs := make([]groupmodel.GroupConfig, 3)
	subs := make([]*Group, 3)
	for i := 1; i <= nsub; i++ {
		c, m := fgGroupConfig(data[1+i], true, extra(i))
		id := fmt.Sprintf("g%d", i)
		subs[i], err = NewGroup(id, c)
		require.NoError(t, err)
		cfgs[i] = m
		paths = append(paths, paths[parents[i]]+"/"+id)
		h.concurrent[paths[i]] = concurrent(i)
	}
	nslots := 1 + int(data[4]%6)
	at := []int{0, int(data[4] / 6 % 4), int(data[4] / 24 % 4)}
	added := make([]int, 3) // slots added to each group so far
	joined := make([]bool, 3)
	var ensure func(i int)
	ensure = func(i int) { // nests group i, its parent first
		if i == 0 || joined[i] {
			return
		}
		ensure(parents[i])
		joined[i] = true
		h.addGroup(paths[parents[i]], subs[i], cfgs[i])
	}
	rest := data[fgHeader:]
	for range nslots {
		if len(rest) < 2 {
			break
		}
		gi := int(rest[1]) % (1 + nsub)
		ensure(gi)
		for i := 1; i <= nsub; i++ {
			if parents[i] == gi && at[i] <= added[gi] {
				ensure(i)
			}
		}
		h.addSlot(paths[gi], rest[0])
		added[gi]++
		rest = rest[2:]
	}
	for i := 1; i <= nsub; i++ {
		ensure(i)
	}
	return rest
}

// addGroup nests sub in the group at ppath, in both worlds; a group its
// parent refused (MaxChildren), or whose parent is not in the tree, stays
// out, and so do the slots meant for it.
func (h *fgHarness) addGroup(ppath string, sub *Group, cfg groupmodel.GroupConfig) {
	p := h.groups[ppath]
	if p == nil {
		return
	}
	h.note("AddGroup " + ppath + "/" + sub.ID())
	full := h.model.Full(ppath)
	err := p.AddGroup(sub)
	require.Equal(h.t, full, errors.Is(err, ErrMaxChildren), "AddGroup %s/%s: %v; steps %v", ppath, sub.ID(), err, h.steps)
	require.Equal(h.t, h.model.AddGroup(ppath, sub.ID(), cfg, h.mnow()), err == nil, "AddGroup: %v; steps %v", err, h.steps)
	if err == nil {
		h.groups[sub.Path()] = sub
	}
}

// addSlot adds a member slot with config byte c to the group at gpath, in
// both worlds, and reports whether both accepted it.
func (h *fgHarness) addSlot(gpath string, c byte) {
	if h.nslots >= fgMaxSlots || h.groups[gpath] == nil {
		return
	}
	id := fmt.Sprintf("m%d", h.nslots)
	h.nslots++
	path := gpath + "/" + id
	cfg, mcfg := fgSlotConfig(c)
	h.note("Add " + path)
	full := h.model.Full(gpath)
	s, err := h.groups[gpath].Add(id, h.child(path), cfg)
	require.Equal(h.t, full, errors.Is(err, ErrMaxChildren), "Add %s past MaxChildren: %v; steps %v", path, err, h.steps)
	ok := h.model.AddSlot(gpath, id, mcfg, h.mnow())
	require.Equal(h.t, ok, err == nil, "Add %s: %v; steps %v", path, err, h.steps)
	if err == nil {
		h.slots[path] = s
		h.cfgs[path] = cfg
	}
}

// ---- the children --------------------------------------------------------

// child is the fake ChildFunc of the slot at path: each attempt registers
// its command channel, logs the cancellation it sees, and does what the
// test tells it.
func (h *fgHarness) child(path string) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		ref := fgRef{Path: path, Attempt: a.Number()}
		cmds := make(chan fgCmd, 1)
		h.mu.Lock()
		h.children[ref] = cmds
		h.mu.Unlock()
		obey := true
		done := ctx.Done()
		for {
			select {
			case <-done:
				h.mu.Lock()
				h.cancels = append(h.cancels, fgCancel{ref: ref, cause: context.Cause(ctx)})
				h.mu.Unlock()
				done = nil
				if obey {
					return ctx.Err()
				}
			case <-h.release:
				return nil
			case cmd := <-cmds:
				switch cmd {
				case fgCmdNil:
					return nil
				case fgCmdErr:
					return errFG
				case fgCmdPanic:
					panic("fuzz group panic")
				case fgCmdIgnore:
					obey = false
				case fgCmdRelease:
					return ctx.Err()
				case fgCmdDoNotRestart:
					return fmt.Errorf("fuzz child done: %w", ErrDoNotRestart)
				case fgCmdFailGroup:
					return fmt.Errorf("fuzz child fails its group: %w", ErrFailGroup)
				}
			}
		}
	}
}

// tell sends cmd to the child of ref.
func (h *fgHarness) tell(ref fgRef, cmd fgCmd) {
	h.mu.Lock()
	c := h.children[ref]
	h.mu.Unlock()
	require.NotNil(h.t, c, "%v never registered; steps %v", ref, h.steps)
	c <- cmd
	synctest.Wait()
}

// onEvent is the root's listener.
func (h *fgHarness) onEvent(e Event) {
	switch e.Kind {
	case EventStarted:
		h.starts[e.Path]++
		h.markWalk(fgParent(e.Path))
	case EventGroupStarted:
		h.groupStarts[e.Path] = true
		h.windows[e.Path] = nil
		h.markWalk(e.Path)
	case EventGroupRestart:
		// Stamped with the time the group decided, not the step's end:
		// a step that sleeps spans a minute.
		h.windows[e.Path] = append(h.windows[e.Path], e.Time.Sub(h.origin))
		h.announced[e.Path]++
	}
}

// markWalk notes, among the cancellations, that the group at path started
// (again) or started a member: the stops that follow belong to a new walk,
// since a walk stops its members before it starts any. A group whose
// parent's shutdown is held by a stubborn sibling goes on supervising, so
// one step may hold two walks of the same group.
func (h *fgHarness) markWalk(path string) {
	h.mu.Lock()
	h.cancels = append(h.cancels, fgCancel{started: path})
	h.mu.Unlock()
}

// ---- driving the loop ----------------------------------------------------

// settle lets the children run and advances the tree until nothing is due
// now, as a loop would.
func (h *fgHarness) settle() {
	for range 10000 {
		synctest.Wait()
		now := time.Now()
		h.root.Advance(now)
		synctest.Wait()
		select {
		case <-h.root.Wake():
			continue
		default:
		}
		if at, ok := h.root.NextDeadline(); ok && !at.After(now) {
			continue
		}
		return
	}
	require.FailNow(h.t, "the tree never settled", "steps %v", h.steps)
}

// sleep lets fake time pass by d, serving every deadline on the way, in
// both worlds.
func (h *fgHarness) sleep(d time.Duration) {
	h.note("Sleep(" + d.String() + ")")
	end := time.Now().Add(d)
	for {
		h.settle()
		at, ok := h.root.NextDeadline()
		if !ok || at.After(end) {
			time.Sleep(time.Until(end))
			h.settle()
			break
		}
		time.Sleep(time.Until(at))
	}
	h.model.Sleep(h.mnow())
}
