package supervisor

import (
	"context"
	"errors"
	"fmt"
	"math/rand/v2"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// coreState builds a slot in one of the states the misuse test covers.
type coreState struct {
	name  string
	build func(t *testing.T, h *coreHarness) *ChildSlot
}

func coreStates() []coreState {
	started := func(t *testing.T, h *coreHarness, child ChildFunc, cfg Config) *ChildSlot {
		s := coreNew(t, child, cfg)
		coreStartAt(t, s, h)
		h.attempt(t)
		return s
	}
	return []coreState{
		{"nil", func(*testing.T, *coreHarness) *ChildSlot { return nil }},
		{"zero", func(*testing.T, *coreHarness) *ChildSlot { return &ChildSlot{} }},
		{"before start", func(t *testing.T, h *coreHarness) *ChildSlot { return coreNew(t, coreBlock(h), Config{}) }},
		{"running", func(t *testing.T, h *coreHarness) *ChildSlot { return started(t, h, coreBlock(h), Config{}) }},
		{"returned", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreRunFor(0, nil)(h), Config{})
			synctest.Wait()
			return s
		}},
		{"cancelling", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreIgnore(h), Config{})
			require.True(t, s.Cancel(time.Now()))
			return s
		}},
		{"abandoned", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreIgnore(h), Config{Backoff: Backoff{NoJitter: true}})
			_, ok := s.Abandon(time.Now())
			require.True(t, ok)
			return s
		}},
		{"quarantined", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreBlock(h), Config{})
			require.NoError(t, s.Quarantine(time.Now(), "operator"))
			coreCollect(t, s)
			return s
		}},
		{"removed", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreBlock(h), Config{})
			require.NoError(t, s.Remove(time.Now()))
			coreCollect(t, s)
			return s
		}},
		{"finished", func(t *testing.T, h *coreHarness) *ChildSlot {
			s := started(t, h, coreRunFor(0, nil)(h), Config{Restart: Temporary})
			coreCollect(t, s)
			return s
		}},
	}
}

// coreOutcome is what one call returned, reduced to what the misuse test
// checks: the error, a flag (the bool a method reports, or whether what it
// returned is non-zero) and a fence decision.
type coreOutcome struct {
	err      error
	ok       bool
	decision FenceDecision
}

// coreCall is one method of ChildSlot and what it should return in each
// state of coreStates, in order.
type coreCall struct {
	name      string
	call      func(s *ChildSlot, h *coreHarness) coreOutcome
	errs      []error
	flags     []bool
	decisions []FenceDecision
}

func coreCalls() []coreCall {
	inv, act, noA, notD := ErrInvalidConfig, ErrActive, ErrNoAttempt, ErrNotDone
	quar, rem := ErrQuarantined, ErrRemoved
	rej, queued, imm := FenceRejected, FenceQueuedAfterStop, FenceStartedImmediately
	// States: nil, zero, before start, running, returned, cancelling,
	// abandoned, quarantined, removed, finished.
	return []coreCall{
		{name: "Start", call: func(s *ChildSlot, h *coreHarness) coreOutcome {
			return coreOutcome{err: s.Start(h.ctx, time.Now())}
		}, errs: []error{inv, inv, nil, act, act, act, nil, quar, rem, nil}},
		{name: "Done", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Done() != nil}
		}, flags: []bool{false, false, false, true, true, true, false, false, false, false}},
		{name: "Collect", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			e, err := s.Collect(time.Now())
			return coreOutcome{err: err, ok: e.Kind != 0}
		},
			errs:  []error{inv, inv, noA, notD, nil, notD, noA, noA, rem, noA},
			flags: []bool{false, false, false, false, true, false, false, false, false, false}},
		{name: "Cancel", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Cancel(time.Now())}
		}, flags: []bool{false, false, false, true, false, false, false, false, false, false}},
		{name: "Abandon", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			e, ok := s.Abandon(time.Now())
			return coreOutcome{ok: ok && e.Kind == Abandoned}
		}, flags: []bool{false, false, false, true, false, true, false, false, false, false}},
		{name: "Advance", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			s.Advance(time.Now().Add(time.Hour))
			return coreOutcome{}
		}},
		{name: "NextDeadline", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			_, ok := s.NextDeadline()
			return coreOutcome{ok: ok}
		}, flags: []bool{false, false, false, false, false, true, true, false, false, false}},
		{name: "Liveness", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Liveness(time.Now()) != Liveness{}}
		}, flags: make([]bool, 10)},
		{name: "Record", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Record(time.Now()) != Record{}}
		}, flags: []bool{false, false, true, true, true, true, true, true, true, true}},
		{name: "Finished", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{ok: s.Finished()}
		}, flags: []bool{true, true, false, false, false, false, false, false, true, true}},
		{name: "Stop", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			e, err := s.Stop(context.Background())
			return coreOutcome{err: err, ok: e.Kind != 0}
		},
			errs:  []error{inv, inv, noA, nil, nil, nil, noA, noA, noA, noA},
			flags: []bool{false, false, false, true, true, true, false, false, false, false}},
		{name: "Pause", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Pause(time.Now())}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, quar, rem, nil}},
		{name: "Resume", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Resume(time.Now())}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, nil, rem, nil}},
		{name: "Quarantine", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Quarantine(time.Now(), "why")}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, nil, rem, nil}},
		{name: "Remove", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			return coreOutcome{err: s.Remove(time.Now())}
		}, errs: []error{inv, inv, nil, nil, nil, nil, nil, nil, rem, nil}},
		{name: "Restart", call: func(s *ChildSlot, _ *coreHarness) coreOutcome {
			d, err := s.Restart(time.Now())
			return coreOutcome{err: err, decision: d}
		},
			errs:      []error{inv, inv, ErrNotStarted, nil, nil, nil, nil, quar, rem, nil},
			decisions: []FenceDecision{rej, rej, rej, queued, queued, queued, imm, rej, rej, imm}},
	}
}

func TestSlotMisuse(t *testing.T) {
	states := coreStates()
	for _, c := range coreCalls() {
		for i, st := range states {
			t.Run(c.name+"/"+st.name, func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					h := newCoreHarness(t)
					s := st.build(t, h)
					var got coreOutcome
					require.NotPanics(t, func() { got = c.call(s, h) })
					coreCheckOutcome(t, c, i, got)
					r := s.Record(time.Now())
					if s.valid() {
						coreCheckCounts(t, r)
					} else {
						assert.Equal(t, Record{}, r)
					}
				})
			})
		}
	}
}

func coreCheckOutcome(t *testing.T, c coreCall, state int, got coreOutcome) {
	t.Helper()
	if want := coreWantErr(c, state); want != nil {
		assert.ErrorIs(t, got.err, want)
	} else {
		assert.NoError(t, got.err)
	}
	if c.flags != nil {
		assert.Equal(t, c.flags[state], got.ok, "flag")
	}
	if c.decisions != nil {
		assert.Equal(t, c.decisions[state], got.decision)
	}
}

func coreWantErr(c coreCall, state int) error {
	if c.errs == nil {
		return nil
	}
	return c.errs[state]
}

func TestSlotAccountingInvariant(t *testing.T) {
	for seed := range uint64(8) {
		t.Run(fmt.Sprint("seed ", seed), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				coreRandomWalk(t, seed)
			})
		})
	}
}

// coreRandomWalk drives a slot through a random sequence of calls, with
// children that succeed, fail, panic, block until cancelled or ignore
// cancellation for a while, and checks the accounting after every call.
func coreRandomWalk(t *testing.T, seed uint64) {
	rng := rand.New(rand.NewPCG(seed, 42))
	behaviours := make([]int, 64) // read-only once the slot starts
	for i := range behaviours {
		behaviours[i] = rng.IntN(5)
	}
	child := func(ctx context.Context, a *Attempt) error {
		d := time.Duration(a.Number()%7) * 300 * time.Millisecond
		switch behaviours[a.Number()%64] {
		case 0:
			time.Sleep(d)
			return nil
		case 1:
			time.Sleep(d)
			return errors.New("fail")
		case 2:
			time.Sleep(d)
			panic("boom")
		case 3:
			<-ctx.Done()
			return ctx.Err()
		default:
			time.Sleep(5 * time.Second) // ignores cancellation
			return nil
		}
	}
	cfg := Config{
		StopTimeout: time.Second, HeartbeatTimeout: 2 * time.Second, AttemptTimeout: 4 * time.Second,
		RestartLimit: 5, RestartWindow: 10 * time.Second,
	}
	s := coreNew(t, child, cfg)
	ctx := t.Context()
	ops := []func(now time.Time){
		func(now time.Time) { _ = s.Start(ctx, now) },
		func(now time.Time) { _, _ = s.Collect(now) },
		func(now time.Time) { s.Cancel(now) },
		func(now time.Time) { s.Abandon(now) },
		func(now time.Time) { s.Advance(now) },
		func(now time.Time) { s.Advance(now) },
		func(now time.Time) { _ = s.Pause(now) },
		func(now time.Time) { _ = s.Resume(now) },
		func(now time.Time) { _ = s.Quarantine(now, "walk") },
		func(now time.Time) { _, _ = s.Restart(now) },
		func(time.Time) { s.Liveness(time.Now()) },
	}
	var last Record
	for step := range 300 {
		time.Sleep(time.Duration(rng.IntN(1500)) * time.Millisecond)
		synctest.Wait()
		now := time.Now()
		op := rng.IntN(len(ops))
		require.NotPanics(t, func() { ops[op](now) }, "step %d op %d", step, op)
		r := s.Record(now)
		coreCheckCounts(t, r)
		require.GreaterOrEqual(t, r.Attempt, last.Attempt)
		require.GreaterOrEqual(t, r.Exits, last.Exits)
		require.GreaterOrEqual(t, r.Generation, last.Generation)
		require.False(t, s.Finished() && r.Active, "finished with an attempt held")
		last = r
	}
	require.NoError(t, s.Remove(time.Now()))
	time.Sleep(time.Minute) // abandoned children finish their fake work
}
