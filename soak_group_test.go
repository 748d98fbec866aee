package supervisor

import (
	"context"
	"errors"
	"math/rand/v2"
	"os"
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
// afresh (see TestResumeAfterGroupRestart): no operator could
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
	// TestRestartRefusedDuringGroupShutdown) and go on with the other
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
