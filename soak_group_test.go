package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"os"
	"os/exec"
	"runtime"
	"strconv"
	"sync"
	"sync/atomic"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
	"go.uber.org/goleak"

	"github.com/childslot/supervisor/internal/looptest"
)

// Tree soak settings. Like TestSoak, TestSoakTree runs only with
// SUPERVISOR_SOAK=1; SUPERVISOR_SOAK_TREE_ATTEMPTS overrides its number of
// attempts.
const (
	soakTreeAttemptsEnv = "SUPERVISOR_SOAK_TREE_ATTEMPTS"
	soakTreeAttempts    = 200_000
	soakTreeMids        = 10 // groups under the root
	soakTreeLeaves      = 10 // groups under each mid group
	soakTreeLeafSlots   = 4  // slots in each leaf group; each mid group holds one more
	soakTreeTick        = 100 * time.Millisecond
	soakTreeHeartbeat   = 400 * time.Millisecond
	soakTreeMaxWork     = 300 * time.Millisecond
	soakTreeOperators   = 4                      // goroutines submitting commands
	soakTreeCmdGap      = 100 * time.Millisecond // an operator's longest pause between commands
	soakTreeStall       = 30 * time.Second       // no attempt started for this long: the tree stalled
)

// stBehaviour is what a tree soak child does in one attempt.
type stBehaviour int

const (
	stSucceed        stBehaviour = iota // works a while, returns nil
	stFail                              // works a while, returns an error
	stPanic                             // works a while, panics
	stGoexit                            // works a while, calls runtime.Goexit
	stUntilCancelled                    // beats until its context ends
	stHang                              // ignores cancellation until released, usually past abandonment
	stBehaviours
)

// stRates are the behaviours' chances, in percent.
var stRates = [stBehaviours]int{30, 20, 6, 4, 30, 10}

var stNames = [stBehaviours]string{"succeed", "fail", "panic", "goexit", "until_cancelled", "hang"}

// stChildren are the tree soak's goroutine children: they draw a behaviour
// per attempt. The hung ones wait in the soak's registry of release
// channels.
type stChildren struct {
	*soakChildren
	drawn [stBehaviours]atomic.Int64
}

func newSTChildren() *stChildren {
	return &stChildren{soakChildren: &soakChildren{releaseAll: make(chan struct{})}}
}

func (c *stChildren) draw() stBehaviour {
	r := rand.IntN(100)
	for b, p := range stRates {
		if r < p {
			return stBehaviour(b)
		}
		r -= p
	}
	return stSucceed
}

func (c *stChildren) child(ctx context.Context, a *Attempt) error {
	c.running.Add(1)
	defer func() { c.running.Add(-1); c.returned.Add(1) }() // runs on panic and Goexit too
	b := c.draw()
	c.drawn[b].Add(1)
	switch b {
	case stUntilCancelled:
		return stUntil(ctx, a)
	case stHang:
		return c.hang(a)
	case stSucceed:
		a.Ready() // the crashing ones never get ready
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-time.After(time.Millisecond + rand.N(soakTreeMaxWork)):
	}
	switch b {
	case stSucceed:
		return nil
	case stFail:
		return errSoakFail
	case stPanic:
		panic("soak tree panic")
	}
	runtime.Goexit()
	return nil
}

// stUntil gets ready and beats until ctx ends (a group restart, an
// operator, the attempt's deadline or the shutdown).
func stUntil(ctx context.Context, a *Attempt) error {
	a.Ready()
	tick := time.NewTicker(soakTreeHeartbeat / 4)
	defer tick.Stop()
	for {
		a.Beat()
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-tick.C:
		}
	}
}

// hang gets ready, beats once (so it goes stale and is cancelled) and
// ignores cancellation until released.
func (c *stChildren) hang(a *Attempt) error {
	a.Ready()
	a.Beat()
	c.hangs.Add(1)
	rel := make(chan struct{})
	c.mu.Lock()
	c.hung = append(c.hung, rel)
	c.mu.Unlock()
	select {
	case <-rel:
	case <-c.releaseAll:
	}
	return errSoakLate
}

// stGroup is one group of the tree soak and what the events said of it.
type stGroup struct {
	g        *Group
	level    int // 0 root, 1 mid, 2 leaf
	restarts int // group_restart events
	failed   int // group_failed events
	auto     int // auto_shutdown events
	steady   bool
}

// stTree is the tree soak: the tree, its groups and slots, and the counts
// its events gave. The counts are written on the loop's goroutine only,
// except the atomic ones, which the driver reads while Run runs.
type stTree struct {
	root      *Group
	children  *stChildren
	groups    []*stGroup
	byPath    map[string]*stGroup
	slots     []*soakSlot
	slotPaths []string
	bySlot    map[string]*soakSlot
	// stopOf is, by slot path, the longest the shutdown waits for it: its
	// StopTimeout, twice that for a process (killed at StopTimeout, then
	// given one more to be reaped before it would be abandoned).
	stopOf   map[string]time.Duration
	attempts atomic.Int64 // started events
	abandons atomic.Int64 // abandoned events
	kills    atomic.Int64 // exits of processes killed by SIGKILL
	// groupPaths are the paths of the nested groups that take restart
	// commands; steady lists the slots that take pauses and quarantines.
	groupPaths  []string
	steady      []*soakSlot
	steadyPaths []string
	// cmdEvents holds each command event's record by requester and
	// reason, which are unique; cmdDup counts the events seen twice.
	cmdEvents map[string]*CommandRecord
	cmdDup    int
}

// onEvent is the root's listener: the group events of the whole tree (the
// slots' own listeners count theirs, and keep counting after a member
// leaves its group).
func (tr *stTree) onEvent(e Event) {
	switch e.Kind {
	case EventGroupRestart:
		tr.byPath[e.Path].restarts++
	case EventGroupFailed:
		tr.byPath[e.Path].failed++
	case EventAutoShutdown:
		tr.byPath[e.Path].auto++
	case EventCommand:
		key := stCommandKey(e.Command.Command)
		if _, dup := tr.cmdEvents[key]; dup {
			tr.cmdDup++
		}
		tr.cmdEvents[key] = e.Command
	}
}

// stCommandKey names a command by its requester and reason.
func stCommandKey(c Command) string { return c.Requester + "|" + c.Reason }

// The tree soak cannot pause or quarantine a slot whose group may start
// afresh (see TestSoakTreeBugResumeAfterGroupRestart): no operator could
// ever resume it, and the tree would end up quarantined. So the slots the
// operators pause and quarantine, and those with a tight restart limit
// that quarantines them, are the "steady" ones: in a leaf that never fails
// or shuts down, under a mid group that never fails and restarts one for
// one, which no command restarts. Every slot takes restart commands; every
// other nested group takes group restarts.

// stSteadyMid reports whether mid group i is steady.
func stSteadyMid(i int) bool { return i == 0 || i == soakTreeMids-1 }

// soakTreeMidConfig is the config of mid group i (0..9): the strategies
// and intensities (off, 60 or 30 within 10s, sometimes spent) mixed.
func soakTreeMidConfig(i int) GroupConfig {
	if stSteadyMid(i) {
		return GroupConfig{Strategy: OneForOne, Intensity: NoIntensity}
	}
	cfg := GroupConfig{Strategy: Strategy(i % 3)}
	switch i % 4 {
	case 0:
		cfg.Intensity = NoIntensity
	case 1, 3:
		cfg.Intensity, cfg.Period = 60, 10*time.Second
	case 2:
		cfg.Intensity, cfg.Period = 30, 10*time.Second
	}
	return cfg
}

// soakTreeLeafConfig is the config of leaf k (0..99), the leaf k%10 of mid
// group k/10: the strategies rotate, the intensity is off, tight (spent
// often), loose (spent now and then) or the default, and every tenth leaf
// shuts down when any, or all, of its significant members end. It reports
// whether the leaf is steady: every other leaf of a steady mid group.
func soakTreeLeafConfig(k int) (GroupConfig, bool) {
	cfg := GroupConfig{Strategy: Strategy(k % 3)}
	if stSteadyMid(k/soakTreeLeaves) && k%2 == 0 {
		cfg.Intensity = NoIntensity
		return cfg, true
	}
	switch k % 4 {
	case 0:
		cfg.Intensity = NoIntensity
	case 1:
		cfg.Intensity, cfg.Period = 8, time.Second
	case 2:
		cfg.Intensity, cfg.Period = 40, 5*time.Second
	}
	switch k % 10 {
	case 3:
		cfg.AutoShutdown = AnySignificant
	case 7:
		cfg.AutoShutdown = AllSignificant
	}
	switch k {
	case 17: // its automatic shutdown ends it for good: its parent does not restart it
		cfg.Restart = Transient
	case 59: // its first end takes it out of its parent
		cfg.Restart = Temporary
	}
	return cfg, false
}

// soakTreeSlotConfig is the config of slot s of a group of cfg; n numbers
// the slot in the tree.
func soakTreeSlotConfig(n, s int, cfg GroupConfig, steady bool) Config {
	c := Config{
		StopTimeout:      time.Duration(2+n%3) * 100 * time.Millisecond,
		AttemptTimeout:   time.Duration(8+2*(n%3)) * 100 * time.Millisecond,
		HeartbeatTimeout: soakTreeHeartbeat,
		RestartLimit:     1 << 20,
		Backoff:          Backoff{NoDelay: true},
	}
	if n%2 == 1 {
		c.Backoff = Backoff{Initial: 10 * time.Millisecond, Max: 100 * time.Millisecond}
	}
	if steady && n%3 == 0 { // quarantined by its own limit now and then; operators resume it
		c.RestartLimit, c.RestartWindow = 4, time.Second
	}
	if s == 0 && cfg.Strategy == RestForOne { // the next waits for its readiness
		c.ReadyTimeout = 300 * time.Millisecond
	}
	switch {
	case cfg.AutoShutdown == AnySignificant && s == 0, cfg.AutoShutdown == AllSignificant && s < 2:
		c.Restart, c.Significant = Transient, true
	case n%40 == 23: // leaves its group at its first end
		c.Restart = Temporary
	}
	return c
}

// addSlot adds slot id to g, counting its events.
func (tr *stTree) addSlot(t *testing.T, g *Group, id string, fn ChildFunc, cfg Config, steady bool) {
	ss := &soakSlot{abandoned: make(map[uint64]int), stale: make(map[uint64]int)}
	cfg.OnEvent = func(e Event) {
		ss.onEvent(e)
		switch e.Kind {
		case EventStarted:
			tr.attempts.Add(1)
		case EventAbandoned:
			tr.abandons.Add(1)
		case EventExited:
			if readError(e.Exit.Err).killed {
				tr.kills.Add(1)
			}
		}
	}
	s, err := g.Add(id, fn, cfg)
	require.NoError(t, err)
	ss.s = s
	tr.slots = append(tr.slots, ss)
	if steady {
		tr.steady = append(tr.steady, ss)
	}
}

// addGroup makes a group of cfg at level.
func (tr *stTree) addGroup(t *testing.T, id string, level int, cfg GroupConfig, steady bool) *Group {
	g, err := NewGroup(id, cfg)
	require.NoError(t, err)
	tr.groups = append(tr.groups, &stGroup{g: g, level: level, steady: steady})
	return g
}

// newSoakTree builds the tree: a root (one_for_one, no intensity, so that
// the soak never ends early) over 10 mid groups, each holding a slot and
// 10 leaf groups of 4 slots: 111 groups, 410 slots, 3 levels of groups.
func newSoakTree(t *testing.T) *stTree {
	tr := &stTree{children: newSTChildren(), byPath: map[string]*stGroup{}, bySlot: map[string]*soakSlot{},
		stopOf: map[string]time.Duration{}, cmdEvents: map[string]*CommandRecord{}}
	tr.root = tr.addGroup(t, "root", 0, GroupConfig{Intensity: NoIntensity, OnEvent: tr.onEvent}, true)
	n := 0
	for i := range soakTreeMids {
		mcfg, msteady := soakTreeMidConfig(i), stSteadyMid(i)
		mid := tr.addGroup(t, "m"+strconv.Itoa(i), 1, mcfg, msteady)
		tr.addSlot(t, mid, "w", tr.children.child, soakTreeSlotConfig(n, 1, mcfg, msteady), msteady)
		n++
		for j := range soakTreeLeaves {
			lcfg, steady := soakTreeLeafConfig(i*soakTreeLeaves + j)
			leaf := tr.addGroup(t, "l"+strconv.Itoa(j), 2, lcfg, steady)
			for s := range soakTreeLeafSlots {
				tr.addSlot(t, leaf, "s"+strconv.Itoa(s), tr.children.child, soakTreeSlotConfig(n, s, lcfg, steady), steady)
				n++
			}
			require.NoError(t, mid.AddGroup(leaf))
		}
		require.NoError(t, tr.root.AddGroup(mid))
	}
	tr.index()
	return tr
}

// index fills the tree's maps and the commands' target lists.
func (tr *stTree) index() {
	for _, gr := range tr.groups {
		tr.byPath[gr.g.Path()] = gr
		if !gr.steady {
			tr.groupPaths = append(tr.groupPaths, gr.g.Path())
		}
	}
	now := time.Now()
	for _, ss := range tr.slots {
		r := ss.s.Record(now)
		tr.bySlot[r.Path] = ss
		tr.slotPaths = append(tr.slotPaths, r.Path)
		tr.stopOf[r.Path] = ss.s.cfg.StopTimeout
	}
	for _, ss := range tr.steady {
		tr.steadyPaths = append(tr.steadyPaths, ss.s.Record(now).Path)
	}
}

// stFigures is what a tree soak run did.
type stFigures struct {
	attempts, exits, abandoned, stale uint64
	groupRestarts                     uint64
	failed, auto                      [3]int
	kinds                             [Abandoned + 1]int
	shutdown, shutdownBound           time.Duration
	abandonedInShutdown               int64
	commands                          stCommandFigures
	fakeTime                          time.Duration
}

// TestSoakTree is the chaos soak on a supervision tree (issue 13). Its
// goroutines phase runs, under Group.Run in a synctest bubble, 111 groups
// nested 3 deep (root, 10 mid groups, 100 leaf groups) with mixed
// strategies, intensities that are sometimes spent (groups fail, escalate,
// and their parents restart them) and significant members that shut their
// groups down; its 410 goroutine children succeed, fail, panic, call
// Goexit, run until cancelled, or hang past abandonment and return late,
// for at least 200,000 attempts, while 4 goroutines submit commands at
// random. Its processes phase runs a small tree with /bin/sh children in
// real time, which a bubble cannot hold. At the end of each, every count
// in every record adds up, every late return gave exactly one stale
// report, every applied command is in the events exactly once, the
// ordered shutdown took no longer than its bound (see shutdownBound), and
// no goroutine is left.
//
// Run it with SUPERVISOR_SOAK=1 (CI: once, under -race, apart from
// TestSoak).
func TestSoakTree(t *testing.T) {
	if os.Getenv(soakEnv) == "" || testing.Short() {
		t.Skipf("the tree chaos soak runs with %s=1 (and not under -short)", soakEnv)
	}
	target := soakTreeAttempts
	if v := os.Getenv(soakTreeAttemptsEnv); v != "" {
		n, err := strconv.Atoi(v)
		require.NoError(t, err, "%s", soakTreeAttemptsEnv)
		target = n
	}
	t.Run("goroutines", func(t *testing.T) {
		leaks := goleak.IgnoreCurrent()
		began := time.Now()
		var f stFigures
		synctest.Test(t, func(t *testing.T) { f = runSoakTree(t, target) })
		goleak.VerifyNone(t, leaks)
		logSoakTree(t, f, time.Since(began))
	})
	// Real processes cannot run in a bubble: a short real-time phase.
	t.Run("processes", func(t *testing.T) {
		procNeedShell(t)
		leaks := goleak.IgnoreCurrent()
		began := time.Now()
		f := runSoakTreeProcesses(t)
		goleak.VerifyNone(t, leaks)
		logSoakTree(t, f, time.Since(began))
	})
}

func logSoakTree(t *testing.T, f stFigures, wall time.Duration) {
	t.Logf("tree soak: %d attempts, %d exits, %d abandoned, %d stale reports, %d group restarts, %v tree time (fake in the bubble), %v wall time",
		f.attempts, f.exits, f.abandoned, f.stale, f.groupRestarts, f.fakeTime, wall.Round(time.Millisecond))
	t.Logf("tree soak: groups failed by level (root, mid, leaf) %v, automatic shutdowns %v", f.failed, f.auto)
	c := f.commands
	t.Logf("tree soak: %d commands from %d goroutines: %d applied (%d carried out, %d refused by state, %d on members gone), %d answered by the tree's end, %d queue-full retries",
		c.submitted, soakTreeOperators, c.applied, c.applied-c.refused-c.unknown, c.refused, c.unknown, c.closed, c.queueFull)
	for op := CommandRestart; op <= CommandQuarantine; op++ {
		t.Logf("tree soak: command %-10v %d applied, %d refused by state", op, c.byOp[op], c.refusedByOp[op])
	}
	t.Logf("tree soak: shutdown took %v (bound %v), %d attempts abandoned while it ran (members not reached yet keep running)", f.shutdown, f.shutdownBound, f.abandonedInShutdown)
	for k := Succeeded; k <= Abandoned; k++ {
		t.Logf("tree soak: exit %-9v %d", k, f.kinds[k])
	}
}

func runSoakTree(t *testing.T, target int) stFigures {
	origin := time.Now()
	tr := newSoakTree(t)
	var f stFigures
	ops := tr.drive(t, target, &f)
	tr.windDown(t)
	tr.verify(t, &f)
	tr.verifyCommands(t, ops, &f)
	for b := range tr.children.drawn {
		t.Logf("tree soak: behaviour %-15s %d", stNames[b], tr.children.drawn[b].Load())
	}
	f.fakeTime = time.Since(origin)
	require.GreaterOrEqual(t, f.attempts, uint64(target))
	return f
}

// drive runs the tree with Run until it has started target attempts,
// releasing hung children now and then while operators submit commands
// from their own goroutines, then shuts it down and measures how long the
// shutdown took. It returns the operators, which have ended.
func (tr *stTree) drive(t *testing.T, target int, f *stFigures) []*stOperator {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	errc := make(chan error, 1)
	go func() { errc <- tr.root.Run(ctx) }()
	var calm atomic.Bool
	calmed := make(chan struct{}, soakTreeOperators)
	ops := make([]*stOperator, soakTreeOperators)
	var wg sync.WaitGroup
	for i := range ops {
		ops[i] = &stOperator{id: i, rng: rand.New(rand.NewPCG(uint64(i), 17))}
		wg.Go(func() { tr.operate(ops[i], &calm, calmed) })
	}
	rng := rand.New(rand.NewPCG(13, 13))
	last, lastAt := int64(-1), time.Now()
	for n := tr.attempts.Load(); n < int64(target); n = tr.attempts.Load() {
		if n != last {
			last, lastAt = n, time.Now()
		}
		if time.Since(lastAt) > soakTreeStall {
			t.Errorf("the tree stalled at %d attempts: nothing started for %v; %s", n, soakTreeStall, stSummary(tr.root.Snapshot()))
			break
		}
		time.Sleep(soakTreeTick)
		tr.children.releaseSome(rng, 10)
	}
	// The operators stop restarting slots before the shutdown begins (see
	// TestSoakTreeBugRestartDuringShutdown) and go on with the other
	// commands through it. No more releases: the shutdown meets the hung
	// children as they are.
	calm.Store(true)
	for range ops {
		<-calmed
	}
	before := tr.abandons.Load()
	began := time.Now()
	cancel()
	require.NoError(t, <-errc)
	f.shutdown = time.Since(began)
	f.abandonedInShutdown = tr.abandons.Load() - before
	wg.Wait() // each ends at its first command refused with ErrGroupStopped
	for _, op := range ops {
		require.ErrorIs(t, op.end, ErrGroupStopped, "operator %d", op.id)
	}
	return ops
}

// stOperator is a goroutine that submits commands at random, with its
// requester and a reason unique to each command, and keeps their records.
type stOperator struct {
	id      int
	rng     *rand.Rand
	answers []CommandRecord
	full    int // submissions refused with ErrCommandQueueFull (then retried)
	// calmFrom indexes the first answer submitted in the calm, which the
	// shutdown may have met.
	calmFrom int
	end      error // why it stopped
}

// operate submits random commands to the tree until it has ended. Once
// calm is set it restarts no slot and says so on calmed.
func (tr *stTree) operate(op *stOperator, calm *atomic.Bool, calmed chan<- struct{}) {
	acked := false
	defer func() {
		if !acked {
			calmed <- struct{}{}
		}
	}()
	for i := 0; ; i++ {
		if !acked && calm.Load() {
			op.calmFrom = len(op.answers)
			calmed <- struct{}{}
			acked = true
		}
		time.Sleep(time.Duration(op.rng.Int64N(int64(soakTreeCmdGap))))
		c := tr.pick(op.rng, acked)
		c.Requester, c.Reason = "operator-"+strconv.Itoa(op.id), "chaos "+strconv.Itoa(i)
		done, err := tr.root.Submit(c)
		for errors.Is(err, ErrCommandQueueFull) {
			op.full++
			time.Sleep(time.Millisecond)
			done, err = tr.root.Submit(c)
		}
		if err != nil {
			op.end = err
			return
		}
		op.answers = append(op.answers, <-done)
	}
}

// pick draws a command: a restart of a nested group (5%), of a slot (25%,
// not when calm), a pause (15%) or a quarantine (10%) of a steady slot,
// or else a resume of a slot the latest snapshot shows paused or
// quarantined.
func (tr *stTree) pick(rng *rand.Rand, calm bool) Command {
	switch r := rng.IntN(100); {
	case r < 5:
		return Command{Op: CommandRestart, Path: tr.groupPaths[rng.IntN(len(tr.groupPaths))]}
	case r < 30 && !calm:
		return Command{Op: CommandRestart, Path: tr.slotPaths[rng.IntN(len(tr.slotPaths))]}
	case r < 45:
		return Command{Op: CommandPause, Path: tr.steadyPaths[rng.IntN(len(tr.steadyPaths))]}
	case r < 55:
		return Command{Op: CommandQuarantine, Path: tr.steadyPaths[rng.IntN(len(tr.steadyPaths))]}
	}
	down := stDownSlots(tr.root.Snapshot(), nil)
	if len(down) == 0 {
		return Command{Op: CommandResume, Path: tr.steadyPaths[rng.IntN(len(tr.steadyPaths))]}
	}
	return Command{Op: CommandResume, Path: down[rng.IntN(len(down))]}
}

// stDownSlots appends to out the paths of the slots that r shows paused or
// quarantined. r is a shared snapshot: it is only read.
func stDownSlots(r *GroupRecord, out []string) []string {
	if r == nil {
		return out
	}
	for i := range r.Members {
		m := &r.Members[i]
		switch {
		case m.Group != nil:
			out = stDownSlots(m.Group, out)
		case m.Slot != nil && (m.Slot.Operation == OperationPaused || m.Slot.Operation == OperationQuarantined):
			out = append(out, m.Slot.Path)
		}
	}
	return out
}

// windDown releases every hung child and advances the finished tree until
// every late return is recorded.
func (tr *stTree) windDown(t *testing.T) {
	now := time.Now()
	for _, ss := range tr.slots {
		require.False(t, ss.s.Record(now).Active, "%s runs after the shutdown", ss.s.ID())
	}
	close(tr.children.releaseAll)
	for range 1000 {
		synctest.Wait()
		select {
		case <-tr.root.Wake():
			tr.root.Advance(time.Now())
			continue
		default:
		}
		break
	}
	assert.Zero(t, tr.children.running.Load(), "every child returned")
}

// TestSoakTreeBugRestartDuringShutdown pins a bug the tree soak found
// (fixed: Restart now refuses a frozen slot): a restart command (or ChildSlot.Restart) on a member slot whose
// group is shutting down starts a new attempt, although the slot is frozen
// ("frozen also refuses operator starts": Resume is refused with errFrozen,
// Restart is not). When the shutdown walk has already passed the slot, the
// new attempt is never stopped in order: the group reports Finished with
// that member still running, and a child that ignores cancellation keeps
// its slot active with no loop left to abandon it.
func TestSoakTreeBugRestartDuringShutdown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		release := make(chan struct{})
		defer close(release)
		// a ignores cancellation, so the shutdown walk waits for it after
		// it has stopped b; b's first attempt stops when cancelled, its
		// later ones ignore cancellation.
		stubborn := func(context.Context, *Attempt) error {
			<-release
			return nil
		}
		b := func(ctx context.Context, a *Attempt) error {
			if a.Number() > 1 {
				<-release
				return nil
			}
			<-ctx.Done()
			return ctx.Err()
		}
		g, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		_, err = g.Add("a", stubborn, Config{StopTimeout: time.Second})
		require.NoError(t, err)
		bs, err := g.Add("b", b, Config{StopTimeout: time.Second})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)

		g.Shutdown(time.Now())
		looptest.Settle(t, g) // b stopped; the walk waits for a
		require.Equal(t, GroupShuttingDown, g.State())
		require.False(t, bs.Record(time.Now()).Active, "the walk stopped b")

		done, err := g.Submit(Command{Op: CommandRestart, Path: "/app/b", Requester: "soak", Reason: "repro"})
		require.NoError(t, err)
		looptest.Settle(t, g)
		r := <-done
		assert.ErrorIs(t, r.Err, ErrCommandRefused, "a frozen slot refuses an operator start, as Resume does")
		assert.Equal(t, uint64(1), bs.Record(time.Now()).Attempt, "nothing starts in a group shutting down")

		looptest.Wait(t, g, 3*time.Second) // a is abandoned; the shutdown finishes
		require.True(t, g.Finished())
		assert.False(t, bs.Record(time.Now()).Active, "Finished: every member stopped")
	})
}

// verify checks that every count of every record adds up, slot by slot and
// group by group, and sums the figures.
func (tr *stTree) verify(t *testing.T, f *stFigures) {
	now := time.Now()
	for _, ss := range tr.slots {
		tr.verifySlot(t, ss, now, f)
	}
	inTree := 0
	for _, gr := range tr.groups {
		rec := gr.g.Record(now)
		require.True(t, gr.g.Finished(), "%s: finished", rec.Path)
		// A restart is announced when decided and counted when performed: one a
		// shutdown or failure overtook during its backoff is announced only.
		// FuzzGroup's model checks the count exactly.
		require.LessOrEqual(t, rec.Restarts, uint64(gr.restarts), "%s: a group_restart event for each restart in the record", rec.Path)
		f.groupRestarts += rec.Restarts
		f.failed[gr.level] += gr.failed
		f.auto[gr.level] += gr.auto
		inTree += tr.verifyMembers(t, rec)
	}
	assert.Equal(t, GroupStopped, tr.root.State())
	assert.NoError(t, tr.root.Err())
	f.shutdownBound = tr.shutdownBound(tr.root.Record(now))
	assert.LessOrEqual(t, f.shutdown, f.shutdownBound, "the ordered shutdown's bound")
	t.Logf("tree soak: %d groups, %d slots, %d of them still members at the end", len(tr.groups), len(tr.slots), inTree)
	f.hangsReturned(t, tr.children)
	require.Positive(t, f.abandoned, "the soak abandoned nothing: it tested nothing")
	require.Positive(t, f.failed[1], "no mid group failed: escalation untested")
	require.Positive(t, f.failed[2], "no leaf group failed: escalation untested")
	require.Positive(t, f.auto[2], "no automatic shutdown")
}

// hangsReturned checks that every attempt's child returned exactly once.
func (f *stFigures) hangsReturned(t *testing.T, c *stChildren) {
	require.Equal(t, int64(f.attempts), c.returned.Load(), "every attempt's child returned exactly once")
}

// verifySlot checks one slot's record against its events.
func (tr *stTree) verifySlot(t *testing.T, ss *soakSlot, now time.Time, f *stFigures) {
	r := ss.s.Record(now)
	id := r.Path
	require.False(t, r.Active, "%s still holds an attempt", id)
	require.Equal(t, r.Attempt, r.Exits, "%s: attempt == exits + active", id)
	require.Zero(t, r.Abandoned, "%s: every abandoned attempt returned", id)
	require.Equal(t, r.AbandonedTotal, r.StaleReports, "%s: one stale report per abandoned attempt", id)
	require.Equal(t, int(r.Attempt), ss.started, "%s: one started event per attempt", id)
	require.Equal(t, int(r.Exits), ss.exits, "%s: one exit event per exit", id)
	require.Len(t, ss.abandoned, int(r.AbandonedTotal), id)
	for n, c := range ss.abandoned {
		require.Equal(t, 1, c, "%s: attempt %d abandoned once", id, n)
		require.Equal(t, 1, ss.stale[n], "%s: attempt %d reported late exactly once", id, n)
	}
	require.Len(t, ss.stale, len(ss.abandoned), "%s: no stale report without an abandonment", id)
	f.attempts += r.Attempt
	f.exits += r.Exits
	f.abandoned += r.AbandonedTotal
	f.stale += r.StaleReports
	for k, n := range ss.kinds {
		f.kinds[k] += n
	}
}

// verifyMembers checks the member records of group record rec: a slot's
// exit counts by kind add up to its exits and match its events, and every
// member has a shutdown outcome. It returns how many slots it checked.
func (tr *stTree) verifyMembers(t *testing.T, rec GroupRecord) int {
	slots := 0
	for _, m := range rec.Members {
		assert.NotZero(t, m.Shutdown, "%s/%s: a shutdown outcome", rec.Path, m.ID)
		if m.Slot == nil {
			continue
		}
		slots++
		ss := tr.bySlot[m.Slot.Path]
		require.NotNil(t, ss, m.Slot.Path)
		require.NotNil(t, m.Exits, m.Slot.Path)
		require.Equal(t, m.Slot.Exits, m.Exits.Total(), "%s: exit counts add up to exits", m.Slot.Path)
		got := [Abandoned + 1]int{
			Succeeded: int(m.Exits.Succeeded), Failed: int(m.Exits.Failed), Panicked: int(m.Exits.Panicked),
			Cancelled: int(m.Exits.Cancelled), TimedOut: int(m.Exits.TimedOut), Unhealthy: int(m.Exits.Unhealthy),
			Abandoned: int(m.Exits.Abandoned),
		}
		require.Equal(t, ss.kinds, got, "%s: exit counts by kind match the events", m.Slot.Path)
	}
	return slots
}

// shutdownBound returns the bound of the ordered shutdown of the tree whose
// record is rec. The shutdown is one walk: each group stops its members in
// reverse start order, one at a time, a nested group by its own walk
// (depth-first), and waits for each slot until it returns or its
// StopTimeout passes and it is abandoned; a group adds no wait of its own.
// Nothing runs in parallel, so the bound is the sum of the StopTimeouts of
// every slot the walk visits, not of those along the deepest path, which
// would bound a shutdown that stopped siblings at once.
func (tr *stTree) shutdownBound(rec GroupRecord) time.Duration {
	var sum time.Duration
	for _, m := range rec.Members {
		switch {
		case m.Group != nil:
			sum += tr.shutdownBound(*m.Group)
		case m.Slot != nil:
			sum += tr.stopOf[m.Slot.Path]
		}
	}
	return sum
}

// stCommandFigures counts the operators' commands by how they ended.
type stCommandFigures struct {
	submitted, applied, refused, unknown, closed, queueFull int
	byOp, refusedByOp                                       [CommandShutdown + 1]int
}

// verifyCommands checks that every command submitted got one answer, that
// every command the loop applied appears in the events exactly once with
// the same sequence number and error, that the sequence numbers run from 1
// without a gap, and that each target's record holds its latest command.
func (tr *stTree) verifyCommands(t *testing.T, ops []*stOperator, f *stFigures) {
	c := &f.commands
	last := map[string]CommandRecord{} // target path -> latest command applied to it
	seqs := map[uint64]bool{}
	for _, op := range ops {
		c.queueFull += op.full
		for i, rec := range op.answers {
			c.submitted++
			ev := tr.cmdEvents[stCommandKey(rec.Command)]
			if rec.Seq == 0 { // answered by the tree's end, never applied
				require.ErrorIs(t, rec.Err, ErrGroupStopped, "%+v", rec.Command)
				require.Nil(t, ev, "%+v: a command never applied has no event", rec.Command)
				c.closed++
				continue
			}
			require.NotNil(t, ev, "%+v: in the events", rec.Command)
			require.Equal(t, rec.Seq, ev.Seq, "%+v", rec.Command)
			require.Equal(t, rec.Error, ev.Error, "%+v", rec.Command)
			require.False(t, seqs[rec.Seq], "seq %d answered twice", rec.Seq)
			seqs[rec.Seq] = true
			c.applied++
			c.byOp[rec.Op]++
			switch {
			case rec.Err == nil:
			case errors.Is(rec.Err, ErrUnknownMember): // a member that left its group
				c.unknown++
				continue
			default:
				require.ErrorIs(t, rec.Err, ErrCommandRefused, "%+v", rec.Command)
				c.refused++
				c.refusedByOp[rec.Op]++
				if rec.Op == CommandResume && i < op.calmFrom { // before the shutdown stopped their groups
					require.NotContains(t, rec.Error, "parent context done", "a steady slot lost its group's context")
				}
			}
			if rec.Seq > last[rec.Path].Seq {
				last[rec.Path] = rec
			}
		}
	}
	require.Zero(t, tr.cmdDup, "a command in the events twice")
	require.Len(t, tr.cmdEvents, c.applied, "a command event without its answer")
	require.True(t, seqs[uint64(c.applied)], "sequence numbers run from 1 without a gap")
	tr.verifyLastCommands(t, last)
	require.Positive(t, c.applied-c.refused-c.unknown, "no command carried out")
}

// verifyLastCommands checks that each slot and group still in the tree
// records, as its last command, the latest one applied to it.
func (tr *stTree) verifyLastCommands(t *testing.T, last map[string]CommandRecord) {
	now := time.Now()
	for _, gr := range tr.groups {
		rec := gr.g.Record(now)
		if want, ok := last[rec.Path]; ok {
			require.NotNil(t, rec.LastCommand, rec.Path)
			assert.Equal(t, want.Seq, rec.LastCommand.Seq, "%s: last command", rec.Path)
		}
		for _, m := range rec.Members {
			if m.Slot == nil {
				continue
			}
			if want, ok := last[m.Slot.Path]; ok {
				require.NotNil(t, m.LastCommand, m.Slot.Path)
				assert.Equal(t, want.Seq, m.LastCommand.Seq, "%s: last command", m.Slot.Path)
			}
		}
	}
}

// stSummary counts, in snapshot r, the groups by state and the slots by
// operation and status, for a stalled tree's report.
func stSummary(r *GroupRecord) string {
	groups, slots := map[string]int{}, map[string]int{}
	var walk func(r *GroupRecord, depth int)
	walk = func(r *GroupRecord, depth int) {
		groups[strconv.Itoa(depth)+":"+r.State.String()]++
		for i := range r.Members {
			m := &r.Members[i]
			switch {
			case m.Group != nil:
				walk(m.Group, depth+1)
			case m.Slot != nil:
				k := m.Slot.Operation.String() + "/" + m.Slot.Status.String()
				if m.Waiting {
					k += "/waiting"
				}
				slots[k]++
			}
		}
	}
	if r != nil {
		walk(r, 0)
	}
	return fmt.Sprintf("groups by depth:state %v, slots by operation/status %v", groups, slots)
}

// TestSoakTreeBugResumeAfterGroupRestart pins a bug the tree soak found
// (fixed: a group's context is never cancelled, so no slot keeps a dead
// one) (the whole tree ended up quarantined): a member slot that is
// paused or quarantined when its group ends and starts afresh (its parent
// restarts it after it failed or shut down on its own, or an operator
// restarts it) keeps, as its parent context, the context of the group's
// previous run, which the group cancelled when it stopped. The group's
// restart rightly does not revive the slot, but neither can an operator
// afterwards: Resume (and Restart) refuse with "parent context done"
// forever.
func TestSoakTreeBugResumeAfterGroupRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		root := ghGroup(t, l, "app", GroupConfig{})
		sub := ghSub(t, l, "jobs", GroupConfig{}, "x", "y")
		require.NoError(t, root.AddGroup(sub))
		require.NoError(t, root.Start(t.Context(), time.Now()))
		looptest.Settle(t, root)
		do := func(op CommandOp, path string) CommandRecord {
			t.Helper()
			done, err := root.Submit(Command{Op: op, Path: path, Requester: "soak", Reason: "repro"})
			require.NoError(t, err)
			looptest.Settle(t, root)
			return <-done
		}
		require.NoError(t, do(CommandQuarantine, "/app/jobs/x").Err)
		require.NoError(t, do(CommandRestart, "/app/jobs").Err)
		require.Equal(t, GroupRunning, sub.State())
		x := sub.Slot("x")
		require.Equal(t, OperationQuarantined, x.Operation(), "a group restart does not revive a quarantined member")

		r := do(CommandResume, "/app/jobs/x")
		assert.NoError(t, r.Err, "an operator resumes it")
		assert.Equal(t, OperationActive, x.Operation())
		assert.True(t, x.Record(time.Now()).Active, "it runs again")
		root.Shutdown(time.Now())
		looptest.Settle(t, root)
	})
}

// Settings of the tree soak's real-time phase with process children.
const (
	soakTreeProcAttempts = 150                    // attempts of the whole small tree
	soakTreeProcStop     = 100 * time.Millisecond // every member's StopTimeout
	soakTreeProcSlack    = 3 * time.Second        // what a loaded machine may add to the bound in real time
)

// newSoakTreeProcesses builds the real-time tree: a root (no intensity)
// over svc (one_for_all: a restart stops its nested group sh too, killing
// its processes), holding sh (rest_for_one) and the goroutine slot w. sh
// holds three /bin/sh children (one that exits 0, one that exits 3, one
// that ignores SIGTERM and is killed at its StopTimeout) and a goroutine
// child. w, whose group never starts afresh, takes the pauses.
func newSoakTreeProcesses(t *testing.T) *stTree {
	tr := &stTree{children: newSTChildren(), byPath: map[string]*stGroup{}, bySlot: map[string]*soakSlot{},
		stopOf: map[string]time.Duration{}, cmdEvents: map[string]*CommandRecord{}}
	tr.root = tr.addGroup(t, "procs", 0, GroupConfig{Intensity: NoIntensity, OnEvent: tr.onEvent}, true)
	svc := tr.addGroup(t, "svc", 1, GroupConfig{Strategy: OneForAll, Intensity: NoIntensity}, true)
	sh := tr.addGroup(t, "sh", 2, GroupConfig{Strategy: RestForOne, Intensity: NoIntensity}, false)
	shell := func(script string) ChildFunc {
		return Process(func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "/bin/sh", "-c", script) })
	}
	proc := Config{StopTimeout: soakTreeProcStop, AttemptTimeout: time.Second, RestartLimit: 1 << 20,
		Backoff: Backoff{Initial: 10 * time.Millisecond, Max: 50 * time.Millisecond}}
	gor := proc
	gor.HeartbeatTimeout = soakTreeHeartbeat
	var procs []*soakSlot
	for _, c := range []struct{ id, script string }{
		{"ok", "exec sleep 0.05"},
		{"bad", "sleep 0.1; exit 3"},
		{"stubborn", "trap '' TERM; exec sleep 30"},
	} {
		tr.addSlot(t, sh, c.id, shell(c.script), proc, false)
		procs = append(procs, tr.slots[len(tr.slots)-1])
	}
	tr.addSlot(t, sh, "go", tr.children.child, gor, false)
	tr.addSlot(t, svc, "w", tr.children.child, gor, true)
	require.NoError(t, svc.AddGroup(sh))
	require.NoError(t, tr.root.AddGroup(svc))
	tr.index()
	for _, ss := range procs {
		tr.stopOf[ss.s.cfg.Path] = 2 * soakTreeProcStop
	}
	return tr
}

// runSoakTreeProcesses runs the real-time tree under Run, with an operator
// goroutine sending commands, for soakTreeProcAttempts attempts, shuts it
// down, and checks its counts as the bubble phase does. Every wait is
// bounded.
func runSoakTreeProcesses(t *testing.T) stFigures {
	origin := time.Now()
	tr := newSoakTreeProcesses(t)
	var f stFigures
	ops := tr.drive(t, soakTreeProcAttempts, &f)
	tr.windDownReal(t)
	now := time.Now()
	for _, ss := range tr.slots {
		tr.verifySlot(t, ss, now, &f)
		r := ss.s.Record(now)
		if tr.stopOf[r.Path] == 2*soakTreeProcStop { // a process child
			assert.Zero(t, r.AbandonedTotal, "%s: a process is killed, never abandoned", r.Path)
		}
		t.Logf("tree soak: %-18s %4d attempts, %3d abandoned", r.Path, r.Attempt, r.AbandonedTotal)
	}
	for _, gr := range tr.groups {
		rec := gr.g.Record(now)
		require.True(t, gr.g.Finished(), rec.Path)
		// A restart is announced when decided and counted when performed: one a
		// shutdown or failure overtook during its backoff is announced only.
		// FuzzGroup's model checks the count exactly.
		require.LessOrEqual(t, rec.Restarts, uint64(gr.restarts), "%s: a group_restart event for each restart in the record", rec.Path)
		f.groupRestarts += rec.Restarts
		tr.verifyMembers(t, rec)
	}
	tr.verifyCommands(t, ops, &f)
	f.shutdownBound = tr.shutdownBound(tr.root.Record(now))
	assert.LessOrEqual(t, f.shutdown, f.shutdownBound+soakTreeProcSlack, "the ordered shutdown's bound, and the slack of real time")
	assert.Positive(t, tr.kills.Load(), "no process was killed")
	t.Logf("tree soak: %d process exits by SIGKILL", tr.kills.Load())
	f.fakeTime = time.Since(origin)
	return f
}

// windDownReal is windDown in real time: it releases every hung child and
// advances the finished tree until every child has returned and every late
// return is recorded, for at most procWaitLimit.
func (tr *stTree) windDownReal(t *testing.T) {
	now := time.Now()
	for _, ss := range tr.slots {
		require.False(t, ss.s.Record(now).Active, "%s runs after the shutdown", ss.s.ID())
	}
	close(tr.children.releaseAll)
	limit := time.NewTimer(procWaitLimit)
	defer limit.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for tr.children.running.Load() > 0 || tr.reaping() {
		select {
		case <-tr.root.Wake():
		case <-tick.C:
		case <-limit.C:
			require.FailNow(t, "the released children did not all return")
		}
		tr.root.Advance(time.Now())
	}
}

// reaping reports whether some slot still waits for an abandoned attempt.
func (tr *stTree) reaping() bool {
	now := time.Now()
	for _, ss := range tr.slots {
		if ss.s.Record(now).Abandoned > 0 {
			return true
		}
	}
	return false
}
