package supervisor

import (
	"context"
	"errors"
	"fmt"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// errCtlLate is what a stubborn child returns once it is finally released.
var errCtlLate = errors.New("late return")

// ctlOp is an operation of a control step table.
type ctlOp uint8

const (
	ctlStart ctlOp = iota + 1
	ctlRestart
	ctlCollect
	ctlAdvance
	ctlCancel
	ctlPause
	ctlResume
	ctlQuarantine // with ctlStep.reason
	ctlRemove
	ctlRelease   // let attempt ctlStep.arg return (nil, or errCtlLate if stubborn)
	ctlEndParent // cancel the context given to Start
)

var ctlOpNames = []string{"", "start", "restart", "collect", "advance", "cancel", "pause",
	"resume", "quarantine", "remove", "release", "end_parent"}

func (o ctlOp) String() string { return ctlOpNames[o] }

// ctlView is the part of a Record (and Finished) the control tables check
// after every step.
type ctlView struct {
	Gen, Attempt uint64
	Active       bool
	Status       Status
	Op           Operation
	QReason      string
	Phase        FencePhase
	Pending      uint64 // pending_restart.generation; 0 for null
	Merged       int    // pending_restart.merged
	Used         int    // restart_limit.used
	Restarts     uint64 // automatic restarts
	Abandoned    int    // abandoned attempts not yet returned
	Stale        uint64 // stale reports
	Finished     bool
}

// ctlStep is one row of a control step table: at now (since the harness
// started), do the operation, then want its result, the events it emitted
// and the record.
type ctlStep struct {
	at     time.Duration
	do     ctlOp
	arg    uint64 // ctlRelease: the attempt
	reason string // ctlQuarantine: the reason

	decision FenceDecision // ctlRestart
	err      error         // matched with errors.Is; nil wants no error
	exit     ExitKind      // ctlCollect without error: the exit's kind
	events   []string      // kinds emitted, "fence:<phase>", "quarantined:<reason>"

	want  ctlView
	check func(t *testing.T, h *ctlHarness, r Record) // optional further checks
}

// ctlHarness drives one slot inside a synctest bubble. Its children signal
// started, then block until released or, unless stubborn, cancelled. It
// records the slot's events.
type ctlHarness struct {
	t      *testing.T
	slot   *ChildSlot
	ctx    context.Context
	cancel context.CancelFunc
	start  time.Time
	events []Event // OnEvent runs on the test goroutine: no lock

	mu       sync.Mutex
	runs     map[uint64]*ctlRun // by attempt number
	stubborn map[uint64]bool    // attempts that ignore cancellation
}

type ctlRun struct {
	started  chan struct{}
	release  chan struct{}
	released bool
}

// ctlConfig is the control tests' configuration: exact backoff of 1s, 2s,
// 4s, ..., a restart limit of 2 per minute and a stop timeout of 5s.
func ctlConfig() Config {
	return Config{
		RestartLimit:  2,
		RestartWindow: time.Minute,
		Backoff:       Backoff{Initial: time.Second, NoJitter: true},
		StopTimeout:   5 * time.Second,
	}
}

// newCtlHarness must be called inside the bubble.
func newCtlHarness(t *testing.T, cfg Config, stubborn ...uint64) *ctlHarness {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	h := &ctlHarness{
		t: t, ctx: ctx, cancel: cancel, start: time.Now(),
		runs: map[uint64]*ctlRun{}, stubborn: map[uint64]bool{},
	}
	for _, n := range stubborn {
		h.stubborn[n] = true
	}
	cfg.OnEvent = func(e Event) { h.events = append(h.events, e) }
	s, err := NewChildSlot("ctl", h.child, cfg)
	require.NoError(t, err)
	h.slot = s
	// Cleanups run inside the bubble before it waits for its goroutines.
	t.Cleanup(func() {
		cancel()
		h.releaseAll()
	})
	return h
}

func (h *ctlHarness) child(ctx context.Context, a *Attempt) error {
	r, stubborn := h.run(a.Number())
	close(r.started)
	if stubborn {
		<-r.release
		return errCtlLate
	}
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-r.release:
		return nil
	}
}

func (h *ctlHarness) run(n uint64) (*ctlRun, bool) {
	h.mu.Lock()
	defer h.mu.Unlock()
	r := h.runs[n]
	if r == nil {
		r = &ctlRun{started: make(chan struct{}), release: make(chan struct{})}
		h.runs[n] = r
	}
	return r, h.stubborn[n]
}

func (h *ctlHarness) release(n uint64) {
	r, _ := h.run(n)
	h.mu.Lock()
	defer h.mu.Unlock()
	if !r.released {
		r.released = true
		close(r.release)
	}
}

func (h *ctlHarness) releaseAll() {
	h.mu.Lock()
	defer h.mu.Unlock()
	for _, r := range h.runs {
		if !r.released {
			r.released = true
			close(r.release)
		}
	}
}

// at returns the instant d after the harness started and moves the bubble's
// clock there, so that the children's own clock agrees with the slot's.
func (h *ctlHarness) at(d time.Duration) time.Time {
	now := h.start.Add(d)
	if wait := time.Until(now); wait > 0 {
		time.Sleep(wait)
	}
	return now
}

type ctlResult struct {
	decision FenceDecision
	err      error
	exit     Exit
}

// apply does st's operation and waits until every child has started and
// blocked, or returned.
func (h *ctlHarness) apply(st ctlStep) ctlResult {
	now := h.at(st.at)
	s := h.slot
	var res ctlResult
	switch st.do {
	case ctlStart:
		res.err = s.Start(h.ctx, now)
	case ctlRestart:
		res.decision, res.err = s.Restart(now)
	case ctlCollect:
		res.exit, res.err = s.Collect(now)
	case ctlAdvance:
		s.Advance(now)
	case ctlCancel:
		s.Cancel(now)
	case ctlPause:
		res.err = s.Pause(now)
	case ctlResume:
		res.err = s.Resume(now)
	case ctlQuarantine:
		res.err = s.Quarantine(now, st.reason)
	case ctlRemove:
		res.err = s.Remove(now)
	case ctlRelease:
		h.release(st.arg)
	case ctlEndParent:
		h.cancel()
	default:
		h.t.Fatalf("unknown op %d", st.do)
	}
	synctest.Wait()
	return res
}

func (h *ctlHarness) setup(steps []ctlStep) {
	for _, st := range steps {
		res := h.apply(st)
		require.NoError(h.t, res.err, "setup %v at %v", st.do, st.at)
	}
	h.events = nil
}

func (h *ctlHarness) view(r Record) ctlView {
	v := ctlView{
		Gen: r.Generation, Attempt: r.Attempt, Active: r.Active, Status: r.Status,
		Op: r.Operation, QReason: r.QuarantineReason, Phase: r.FencePhase,
		Used: r.RestartLimit.Used, Restarts: r.Restarts,
		Abandoned: r.Abandoned, Stale: r.StaleReports, Finished: h.slot.Finished(),
	}
	if p := r.PendingRestart; p != nil {
		v.Pending, v.Merged = p.Generation, p.Merged
	}
	return v
}

// eventNames names the events for a table: the kind, with the phase of a
// fence move and the reason of a quarantine.
func eventNames(evs []Event) []string {
	var names []string
	for _, e := range evs {
		n := e.Kind.String()
		switch e.Kind {
		case EventFence:
			n += ":" + e.Phase.String()
		case EventQuarantined:
			n += ":" + e.Reason
		}
		names = append(names, n)
	}
	return names
}

// step runs st and checks everything it wants; it reports whether all held.
func (h *ctlHarness) step(i int, st ctlStep) bool {
	t := h.t
	t.Helper()
	h.events = nil
	res := h.apply(st)
	msg := fmt.Sprintf("step %d: %v at %v", i, st.do, st.at)
	ok := h.checkResult(st, res, msg)
	ok = assert.Equal(t, st.events, eventNames(h.events), msg+": events") && ok
	r := h.slot.Record(h.start.Add(st.at))
	ok = assert.Equal(t, st.want, h.view(r), msg+": record") && ok
	if r.Active && r.Status != StatusStopped {
		run, _ := h.run(r.Attempt)
		select {
		case <-run.started:
		default:
			ok = assert.Fail(t, "running attempt never signalled started", msg)
		}
	}
	if st.check != nil {
		st.check(t, h, r)
	}
	return ok && !t.Failed()
}

// checkResult checks what st's operation returned.
func (h *ctlHarness) checkResult(st ctlStep, res ctlResult, msg string) bool {
	t := h.t
	t.Helper()
	var ok bool
	if st.err != nil {
		ok = assert.ErrorIs(t, res.err, st.err, msg)
	} else {
		ok = assert.NoError(t, res.err, msg)
	}
	if st.do == ctlRestart {
		ok = assert.Equal(t, st.decision, res.decision, msg) && ok
	}
	if st.do == ctlCollect && st.err == nil {
		ok = assert.Equal(t, st.exit, res.exit.Kind, msg+": exit %v", res.exit) && ok
	}
	return ok
}

func runCtlSteps(t *testing.T, cfg Config, stubborn []uint64, steps []ctlStep) {
	t.Helper()
	synctest.Test(t, func(t *testing.T) {
		h := newCtlHarness(t, cfg, stubborn...)
		for i, st := range steps {
			if !h.step(i, st) {
				return // later steps would only repeat the failure
			}
		}
	})
}
