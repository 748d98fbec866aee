package supervisor

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/model"
)

// FuzzSlot drives a real ChildSlot and the reference model in
// internal/model with the same steps, chosen by the fuzzer's bytes, and
// demands after every step that the slot's Record, NextDeadline and
// Finished agree with the model and that the counts add up. Each input runs
// in its own synctest bubble, so time is fake and every child has settled
// (returned or blocked) before the slot is looked at: an input always
// replays the same way.
//
// The first three bytes choose the configuration (see fuzzConfig); each
// later byte is one step: the low four bits pick the operation, the high
// four its argument (see fuzzHarness.step).
func FuzzSlot(f *testing.F) {
	for _, seed := range fuzzSeeds {
		f.Add(seed)
	}
	f.Fuzz(func(t *testing.T, data []byte) {
		if len(data) < 3 {
			return
		}
		synctest.Test(t, func(t *testing.T) { runFuzzSlot(t, data) })
	})
}

// Step operations: the low four bits of a step byte.
const (
	fzStart byte = iota
	fzCollect
	fzCancel
	fzAbandon
	fzAdvance
	fzAdvance2 // a second Advance code: it is the loop's most common call
	fzPause
	fzResume
	fzQuarantine
	fzRemove // Remove when the argument is 0 or 1, Advance otherwise
	fzRestart
	fzSleep         // sleep fuzzSleeps[arg%8]
	fzHeld          // send fuzzCmds[arg%9] to the held attempt's child
	fzLate          // send a returning command to the oldest abandoned child still running
	fzSleepDeadline // sleep until NextDeadline (if any, at most 2 min), then Advance
	fzParent        // cancel the parent context when arg < 4; only look otherwise
)

// fuzzStep builds a step byte.
func fuzzStep(op, arg byte) byte { return op | arg<<4 }

var fuzzSleeps = [8]time.Duration{
	100 * time.Millisecond, time.Second, time.Second, 2 * time.Second,
	3 * time.Second, 5 * time.Second, 10 * time.Second, 61 * time.Second,
}

// fuzzCmd is what the test tells a fake child to do.
type fuzzCmd uint8

const (
	cmdReturnNil fuzzCmd = iota
	cmdReturnErr
	cmdPanic
	cmdGoexit
	cmdObey // return as soon as the context ends (the default)
	cmdBeat
	cmdReady
	cmdNotReady
	cmdIgnore // ignore cancellation
	numFuzzCmds
)

// fzLate sends one of the first numLateCmds commands: those that end an
// abandoned child, or make it obey its (ended) context.
const numLateCmds = 5

var errFuzzChild = errors.New("fuzz child failed")

var fuzzSeeds = func() [][]byte {
	s := fuzzStep
	return [][]byte{
		// Permanent, limit 2: fail until quarantined, then resume.
		{0, 1, 0, s(fzStart, 0), s(fzHeld, 1), s(fzCollect, 0), s(fzSleepDeadline, 0),
			s(fzHeld, 2), s(fzCollect, 0), s(fzSleepDeadline, 0), s(fzHeld, 3),
			s(fzCollect, 0), s(fzResume, 0), s(fzHeld, 0), s(fzCollect, 0)},
		// A child that ignores cancellation is fenced out, abandoned, and
		// reports late.
		{0, 0, 0, s(fzStart, 0), s(fzHeld, 8), s(fzRestart, 0), s(fzRestart, 0),
			s(fzSleepDeadline, 0), s(fzLate, 0), s(fzAdvance, 0), s(fzHeld, 5)},
		// Pause, collect, resume; quarantine before start, resume.
		{1, 2, 0, s(fzQuarantine, 3), s(fzResume, 0), s(fzStart, 0), s(fzPause, 0),
			s(fzCollect, 0), s(fzResume, 0), s(fzCancel, 0), s(fzCollect, 0),
			s(fzSleepDeadline, 0)},
		// The parent ends; a new Start brings a new parent.
		{2, 0, 0, s(fzStart, 0), s(fzParent, 0), s(fzAdvance, 0), s(fzCollect, 0),
			s(fzRestart, 0), s(fzStart, 0), s(fzHeld, 0), s(fzCollect, 0)},
		// Attempt timeout, heartbeat and readiness deadlines.
		{0, 3, 1 + 3*1 + 9*1, s(fzStart, 0), s(fzHeld, 5), s(fzSleep, 1), s(fzHeld, 6),
			s(fzSleep, 3), s(fzAdvance, 0), s(fzSleepDeadline, 0), s(fzCollect, 0),
			s(fzSleepDeadline, 0), s(fzHeld, 8), s(fzSleep, 6), s(fzAdvance, 0),
			s(fzSleepDeadline, 0), s(fzLate, 2), s(fzAdvance, 0)},
		// The parent ends under a child that ignores it: Advance cancels,
		// then abandons; the child reports late.
		{0, 0, 0, s(fzStart, 0), s(fzHeld, 8), s(fzParent, 0), s(fzSleepDeadline, 0),
			s(fzSleepDeadline, 0), s(fzLate, 1), s(fzAdvance, 0), s(fzStart, 0)},
		// The parent ends while a restart is scheduled: it never starts.
		{0, 0, 0, s(fzStart, 0), s(fzHeld, 1), s(fzCollect, 0), s(fzParent, 0),
			s(fzSleepDeadline, 0), s(fzResume, 0), s(fzRestart, 0), s(fzStart, 0)},
		// Found by the fuzzer: an attempt deadline ends a child mid-sleep;
		// its run time, not the sleep, decides the backoff.
		[]byte("0010210{1"),
		// Heartbeat only: a beat moves the stale deadline, which fires
		// exactly on time.
		{0, 0, 3, s(fzStart, 0), s(fzSleep, 1), s(fzHeld, 5), s(fzSleepDeadline, 0),
			s(fzCollect, 0), s(fzSleepDeadline, 0), s(fzSleep, 2), s(fzHeld, 5),
			s(fzSleep, 1), s(fzHeld, 5), s(fzSleepDeadline, 0)},
		// A child that ignores Cancel: a second Cancel delivers nothing, and
		// nothing is abandoned before the stop deadline.
		{0, 0, 0, s(fzStart, 0), s(fzHeld, 8), s(fzCancel, 0), s(fzCancel, 0),
			s(fzAdvance, 0), s(fzSleep, 0), s(fzAdvance, 0), s(fzCancel, 0),
			s(fzSleepDeadline, 0), s(fzLate, 1), s(fzAdvance, 0)},
		// Panics and Goexit, abandon, remove.
		{0, 0, 18, s(fzStart, 0), s(fzHeld, 2), s(fzCollect, 0), s(fzAdvance, 0),
			s(fzHeld, 3), s(fzCollect, 0), s(fzAdvance, 0), s(fzHeld, 8),
			s(fzAbandon, 0), s(fzHeld, 8), s(fzRemove, 0), s(fzSleepDeadline, 0),
			s(fzLate, 0), s(fzLate, 4), s(fzAdvance, 0), s(fzCollect, 0)},
	}
}()

// fuzzConfig decodes the configuration bytes into the slot's Config and the
// model's, which must say the same thing.
//
//	b0: policy = b0%3, StopTimeout = {1s, 2s, 5s}[b0/3%3]
//	b1: RestartLimit = 1 + b1%4, RestartWindow = {10s, 60s}[b1/4%2]
//	b2: AttemptTimeout = {0, 5s, 20s}[b2%3], HeartbeatTimeout = {0, 3s, 10s}[b2/3%3],
//	    ReadyTimeout = {0, 4s}[b2/9%2], NoDelay = b2/18%2 == 1
func fuzzConfig(b0, b1, b2 byte) (Config, model.Config) {
	m := model.Config{
		Policy:            model.Policy(b0 % 3),
		StopTimeout:       [3]time.Duration{time.Second, 2 * time.Second, 5 * time.Second}[b0/3%3],
		RestartLimit:      1 + int(b1%4),
		RestartWindow:     [2]time.Duration{10 * time.Second, time.Minute}[b1/4%2],
		AttemptTimeout:    [3]time.Duration{0, 5 * time.Second, 20 * time.Second}[b2%3],
		HeartbeatTimeout:  [3]time.Duration{0, 3 * time.Second, 10 * time.Second}[b2/3%3],
		ReadyTimeout:      [2]time.Duration{0, 4 * time.Second}[b2/9%2],
		NoDelay:           b2/18%2 == 1,
		BackoffInitial:    time.Second,
		BackoffMax:        4 * time.Second,
		BackoffResetAfter: 10 * time.Second,
	}
	c := Config{
		Restart:          RestartType(m.Policy),
		StopTimeout:      m.StopTimeout,
		RestartLimit:     m.RestartLimit,
		RestartWindow:    m.RestartWindow,
		AttemptTimeout:   m.AttemptTimeout,
		HeartbeatTimeout: m.HeartbeatTimeout,
		ReadyTimeout:     m.ReadyTimeout,
		Backoff: Backoff{
			Initial: m.BackoffInitial, Max: m.BackoffMax, Multiplier: 2,
			ResetAfter: m.BackoffResetAfter, NoJitter: true, NoDelay: m.NoDelay,
		},
	}
	return c, m
}

// fuzzChild is the test's handle on one attempt's fake child.
type fuzzChild struct {
	number, generation uint64
	cmds               chan fuzzCmd // capacity 1; the child reads it whenever it runs
}

// fuzzHarness runs one fuzz input inside a synctest bubble.
type fuzzHarness struct {
	t      *testing.T
	slot   *ChildSlot
	model  *model.Slot
	origin time.Time // the slot's time base's anchor: model time 0
	wall0  time.Time // origin as the records' wall time

	ctx     context.Context // the parent for the next Start
	cancels []context.CancelFunc

	reg      chan *fuzzChild // children announce themselves here
	release  chan struct{}   // closed at the end: every child returns
	children map[uint64]*fuzzChild
	events   map[EventKind]int
	steps    []string // what ran, for failure messages
}

func runFuzzSlot(t *testing.T, data []byte) {
	cfg, mcfg := fuzzConfig(data[0], data[1], data[2])
	h := &fuzzHarness{
		t:        t,
		reg:      make(chan *fuzzChild, 4),
		release:  make(chan struct{}),
		children: make(map[uint64]*fuzzChild),
		events:   make(map[EventKind]int),
	}
	// Deferred, so a failing check still lets every child return and the
	// bubble end cleanly.
	defer func() {
		close(h.release)
		for _, cancel := range h.cancels {
			cancel()
		}
		synctest.Wait()
	}()
	h.newParent()
	cfg.OnEvent = func(e Event) { h.events[e.Kind]++ }
	h.origin = time.Now()
	slot, err := NewChildSlot("fuzz", h.child, cfg)
	require.NoError(t, err)
	h.slot, h.model = slot, model.New(mcfg)
	h.wall0 = slot.clock().wall(h.origin)
	h.check("new")
	for i, b := range data[3:] {
		if i == 256 {
			break
		}
		h.step(b&0x0f, b>>4)
	}
}

func (h *fuzzHarness) newParent() {
	ctx, cancel := context.WithCancel(context.Background())
	h.ctx = ctx
	h.cancels = append(h.cancels, cancel)
}

// child is the fake ChildFunc: it announces itself, then does what the test
// tells it until it returns.
func (h *fuzzHarness) child(ctx context.Context, a *Attempt) error {
	c := &fuzzChild{number: a.Number(), generation: a.Generation(), cmds: make(chan fuzzCmd, 1)}
	h.reg <- c
	obey := true
	for {
		var done <-chan struct{}
		if obey {
			done = ctx.Done()
		}
		select {
		case <-done:
			return ctx.Err()
		case <-h.release:
			return nil
		case cmd := <-c.cmds:
			switch cmd {
			case cmdReturnNil:
				return nil
			case cmdReturnErr:
				return errFuzzChild
			case cmdPanic:
				panic("fuzz panic")
			case cmdGoexit:
				runtime.Goexit()
			case cmdObey:
				obey = true
			case cmdBeat:
				a.Beat()
			case cmdReady:
				a.Ready()
			case cmdNotReady:
				a.NotReady()
			case cmdIgnore:
				obey = false
			}
		}
	}
}

// now returns the bubble's time and the same instant as model time.
func (h *fuzzHarness) now() (time.Time, time.Duration) {
	now := time.Now()
	return now, now.Sub(h.origin)
}

// fuzzOps holds what each step operation does, indexed by its code. Each
// runs the operation on the slot, lets the children settle, runs it on the
// model and compares the results.
var fuzzOps = [16]func(h *fuzzHarness, arg byte, now time.Time, mnow time.Duration){
	fzStart: func(h *fuzzHarness, _ byte, now time.Time, mnow time.Duration) {
		h.note("Start")
		got := h.slot.Start(h.ctx, now)
		synctest.Wait()
		h.sameError("Start", h.model.Start(mnow), got)
	},
	fzCollect: func(h *fuzzHarness, _ byte, now time.Time, mnow time.Duration) {
		h.note("Collect")
		e, err := h.slot.Collect(now)
		want, werr := h.model.Collect(mnow)
		h.sameError("Collect", werr, err)
		if err == nil {
			h.sameExit("Collect", want, e)
		}
		synctest.Wait()
	},
	fzCancel: func(h *fuzzHarness, _ byte, now time.Time, mnow time.Duration) {
		h.note("Cancel")
		got := h.slot.Cancel(now)
		synctest.Wait()
		require.Equal(h.t, h.model.Cancel(mnow), got, "Cancel result; steps %v", h.steps)
	},
	fzAbandon: func(h *fuzzHarness, _ byte, now time.Time, mnow time.Duration) {
		h.note("Abandon")
		e, ok := h.slot.Abandon(now)
		synctest.Wait()
		want, wok := h.model.Abandon(mnow)
		require.Equal(h.t, wok, ok, "Abandon result; steps %v", h.steps)
		if ok {
			h.sameExit("Abandon", want, e)
		}
	},
	fzAdvance:  func(h *fuzzHarness, _ byte, _ time.Time, _ time.Duration) { h.advance() },
	fzAdvance2: func(h *fuzzHarness, _ byte, _ time.Time, _ time.Duration) { h.advance() },
	fzPause: func(h *fuzzHarness, _ byte, now time.Time, mnow time.Duration) {
		h.note("Pause")
		got := h.slot.Pause(now)
		synctest.Wait()
		h.sameError("Pause", h.model.Pause(mnow), got)
	},
	fzResume: func(h *fuzzHarness, _ byte, now time.Time, mnow time.Duration) {
		h.note("Resume")
		got := h.slot.Resume(now)
		synctest.Wait()
		h.sameError("Resume", h.model.Resume(mnow), got)
	},
	fzQuarantine: func(h *fuzzHarness, arg byte, now time.Time, mnow time.Duration) {
		reason := "q" + string(rune('a'+arg))
		h.note("Quarantine")
		got := h.slot.Quarantine(now, reason)
		synctest.Wait()
		h.sameError("Quarantine", h.model.Quarantine(mnow, reason), got)
	},
	fzRemove: func(h *fuzzHarness, arg byte, now time.Time, mnow time.Duration) {
		if arg > 1 {
			h.advance()
			return
		}
		h.note("Remove")
		got := h.slot.Remove(now)
		synctest.Wait()
		h.sameError("Remove", h.model.Remove(mnow), got)
	},
	fzRestart: func(h *fuzzHarness, _ byte, now time.Time, mnow time.Duration) {
		h.note("Restart")
		d, err := h.slot.Restart(now)
		synctest.Wait()
		wd, werr := h.model.Restart(mnow)
		h.sameError("Restart", werr, err)
		require.Equal(h.t, wd.String(), d.String(), "Restart decision; steps %v", h.steps)
	},
	fzSleep: func(h *fuzzHarness, arg byte, _ time.Time, _ time.Duration) { h.sleep(fuzzSleeps[arg%8]) },
	fzHeld: func(h *fuzzHarness, arg byte, _ time.Time, _ time.Duration) {
		if a, ok := h.model.Held(); ok && !a.Returned {
			h.command(a.Number, fuzzCmd(arg%byte(numFuzzCmds)))
		}
	},
	fzLate: func(h *fuzzHarness, arg byte, _ time.Time, _ time.Duration) {
		run := h.model.Running()
		if a, ok := h.model.Held(); ok && !a.Returned {
			run = run[1:] // the held attempt comes first: skip it
		}
		if len(run) > 0 {
			h.command(run[0], fuzzCmd(arg%numLateCmds))
		}
	},
	fzSleepDeadline: func(h *fuzzHarness, _ byte, now time.Time, _ time.Duration) {
		if at, ok := h.slot.NextDeadline(); ok {
			if d := at.Sub(now); d > 0 {
				h.sleep(min(d, 2*time.Minute))
			}
		}
		h.advance()
	},
	fzParent: func(h *fuzzHarness, arg byte, _ time.Time, mnow time.Duration) {
		if arg >= 4 {
			return
		}
		h.note("CancelParent")
		h.cancels[len(h.cancels)-1]()
		synctest.Wait()
		h.model.CancelParent(mnow)
		h.newParent()
	},
}

// step runs one operation on the slot and the model, lets the children
// settle, and checks that both agree.
func (h *fuzzHarness) step(op, arg byte) {
	now, mnow := h.now()
	fuzzOps[op](h, arg, now, mnow)
	h.check("step")
}

func (h *fuzzHarness) note(s string) {
	_, mnow := h.now()
	h.steps = append(h.steps, s+"@"+mnow.String())
}

func (h *fuzzHarness) advance() {
	h.note("Advance")
	now, mnow := h.now()
	h.slot.Advance(now)
	synctest.Wait()
	h.model.Advance(mnow)
}

func (h *fuzzHarness) sleep(d time.Duration) {
	h.note("Sleep(" + d.String() + ")")
	time.Sleep(d)
	synctest.Wait()
	_, mnow := h.now()
	h.model.Tick(mnow)
}

// command tells the child of attempt n to do cmd, and the model the same.
func (h *fuzzHarness) command(n uint64, cmd fuzzCmd) {
	t := h.t
	names := [...]string{"ReturnNil", "ReturnErr", "Panic", "Goexit", "Obey", "Beat", "Ready", "NotReady", "Ignore"}
	h.note(names[cmd] + "#" + string(rune('0'+n%10)))
	c := h.children[n]
	require.NotNil(t, c, "attempt %d never announced itself; steps %v", n, h.steps)
	c.cmds <- cmd
	synctest.Wait()
	_, mnow := h.now()
	m := h.model
	switch cmd {
	case cmdReturnNil:
		m.Return(n, model.ReturnNil, mnow)
	case cmdReturnErr:
		m.Return(n, model.ReturnError, mnow)
	case cmdPanic:
		m.Return(n, model.Panic, mnow)
	case cmdGoexit:
		m.Return(n, model.Goexit, mnow)
	case cmdObey:
		m.Obey(n, true, mnow)
	case cmdBeat:
		m.Beat(n, mnow)
	case cmdReady:
		m.SetReadiness(n, model.ReadinessReady, mnow)
	case cmdNotReady:
		m.SetReadiness(n, model.ReadinessNotReady, mnow)
	case cmdIgnore:
		m.Obey(n, false, mnow)
	}
}

// check compares the slot with the model and checks the invariants.
func (h *fuzzHarness) check(what string) {
	t := h.t
	for {
		select {
		case c := <-h.reg:
			require.NotContains(t, h.children, c.number, "attempt %d started twice", c.number)
			h.children[c.number] = c
			continue
		default:
		}
		break
	}
	now, mnow := h.now()
	rec := h.slot.Record(now)
	want := h.model.View(mnow)
	got := h.viewOf(rec)
	require.Equal(t, want, got, "after %s; steps %v", what, h.steps)

	active := uint64(0)
	if rec.Active {
		active = 1
	}
	require.Equal(t, rec.Attempt, rec.Exits+active, "attempt == exits + active")
	require.GreaterOrEqual(t, rec.Abandoned, 0)
	require.LessOrEqual(t, rec.StaleReports, rec.AbandonedTotal)
	require.Equal(t, rec.AbandonedTotal, rec.StaleReports+uint64(rec.Abandoned))
	require.Equal(t, rec.Active, h.slot.Done() != nil, "Done is non-nil exactly while an attempt is held")
	require.Len(t, h.children, int(rec.Attempt), "one child per attempt")
	if a, ok := h.model.Held(); ok {
		c := h.children[a.Number]
		require.Equal(t, a.Generation, c.generation, "the child saw its generation")
	}

	require.Equal(t, int(rec.Attempt), h.events[EventStarted], "one started event per attempt")
	require.Equal(t, int(rec.Exits), h.events[EventExited]+h.events[EventAbandoned], "one exited or abandoned event per exit")
	require.Equal(t, int(rec.AbandonedTotal), h.events[EventAbandoned])
	require.Equal(t, int(rec.StaleReports), h.events[EventStaleReport])
}

// viewOf reads the slot as the model's View, mapping enums by name.
func (h *fuzzHarness) viewOf(rec Record) model.View {
	t := h.t
	v := model.View{
		Generation: rec.Generation, Attempt: rec.Attempt, Restarts: rec.Restarts,
		Exits: rec.Exits, AbandonedTotal: rec.AbandonedTotal, StaleReports: rec.StaleReports,
		Abandoned: rec.Abandoned, Active: rec.Active,
		Status:           fuzzParsed(t, model.ParseStatus, rec.Status.String()),
		Operation:        fuzzParsed(t, model.ParseOperation, rec.Operation.String()),
		QuarantineReason: rec.QuarantineReason,
		Stop:             fuzzParsed(t, model.ParseStop, rec.StopState.String()),
		Phase:            fuzzParsed(t, model.ParsePhase, rec.FencePhase.String()),
		Used:             rec.RestartLimit.Used,
		Exhausted:        rec.RestartLimit.Exhausted,
		Stale:            rec.Liveness.Stale,
		Beaten:           rec.Liveness.LastBeat != nil,
		Readiness:        fuzzParsed(t, model.ParseReadiness, rec.Liveness.Readiness.String()),
		Finished:         h.slot.Finished(),
	}
	if p := rec.PendingRestart; p != nil {
		v.Pending = &model.Pending{Generation: p.Generation, Merged: p.Merged}
	}
	if e := rec.LastExit; e != nil {
		v.LastExit = h.exitRef(e.Kind, e.Attempt, e.Generation)
	}
	if r := rec.LastStaleReport; r != nil {
		v.LastStale = h.exitRef(r.Kind, r.Attempt, r.Generation)
	}
	if f := rec.LastControlFailure; f != nil {
		v.LastFailure = model.Failure{Op: f.Op, Reason: f.Reason}
		if e := fuzzReasonError(f.Reason); e != model.OK {
			v.LastFailure.Reason, v.LastFailure.Err = "", e
		}
	}
	if at := rec.NextRestartAt; at != nil {
		v.RestartScheduled, v.NextRestartAt = true, at.Sub(h.wall0)
	}
	if at, ok := h.slot.NextDeadline(); ok {
		v.HasDeadline, v.Deadline = true, at.Sub(h.origin)
	}
	return v
}

func (h *fuzzHarness) exitRef(k ExitKind, attempt, gen uint64) model.ExitRef {
	return model.ExitRef{Kind: fuzzParsed(h.t, model.ParseKind, k.String()), Attempt: attempt, Generation: gen}
}

func fuzzParsed[T any](t *testing.T, parse func(string) (T, bool), name string) T {
	t.Helper()
	v, ok := parse(name)
	require.True(t, ok, "the model has no %T named %q", v, name)
	return v
}

// fuzzSentinels maps the package's sentinels onto the model's errors.
var fuzzSentinels = []struct {
	err  error
	want model.Error
}{
	{ErrActive, model.ErrActive},
	{ErrNoAttempt, model.ErrNoAttempt},
	{ErrNotDone, model.ErrNotDone},
	{ErrPaused, model.ErrPaused},
	{ErrQuarantined, model.ErrQuarantined},
	{ErrRemoved, model.ErrRemoved},
	{ErrNotStarted, model.ErrNotStarted},
}

// fuzzErrorOf maps an error from the slot onto the model's; ok is false for an
// error the model does not know.
func fuzzErrorOf(err error) (model.Error, bool) {
	if err == nil {
		return model.OK, true
	}
	for _, s := range fuzzSentinels {
		if errors.Is(err, s.err) {
			return s.want, true
		}
	}
	if strings.Contains(err.Error(), "parent context done") && errors.Is(err, context.Canceled) {
		return model.ErrParentDone, true
	}
	return model.OK, false
}

// fuzzReasonError maps a control failure's reason back onto the model's error.
func fuzzReasonError(reason string) model.Error {
	for _, s := range fuzzSentinels {
		if reason == s.err.Error() {
			return s.want
		}
	}
	if strings.HasPrefix(reason, "supervisor: parent context done") {
		return model.ErrParentDone
	}
	return model.OK
}

func (h *fuzzHarness) sameError(op string, want model.Error, got error) {
	e, ok := fuzzErrorOf(got)
	require.True(h.t, ok, "%s returned an unexpected error %v; steps %v", op, got, h.steps)
	require.Equal(h.t, want.String(), e.String(), "%s error (%v); steps %v", op, got, h.steps)
}

func (h *fuzzHarness) sameExit(op string, want model.ExitRef, e Exit) {
	t := h.t
	require.Equal(t, want, h.exitRef(e.Kind, e.Attempt, e.Generation), "%s exit %v; steps %v", op, e, h.steps)
	switch e.Kind {
	case Panicked:
		require.Equal(t, "fuzz panic", e.PanicValue)
		require.Contains(t, e.Stack, "panic")
		var pe *PanicError
		require.ErrorAs(t, e.Err, &pe)
	case Failed:
		if e.Reason != "child called runtime.Goexit" {
			require.ErrorIs(t, e.Err, errFuzzChild)
		}
	}
	require.False(t, e.ExitedAt.Before(e.StartedAt), "exit before start: %v", e)
}
