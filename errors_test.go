package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log/slog"
	"math"
	"os/exec"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/enum"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestSlotErrorsNameTheSlot checks that every error a slot's method returns
// names the slot, without repeating the package prefix, and still matches
// its sentinel with errors.Is.
func TestSlotErrorsNameTheSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		s, err := NewChildSlot("ingest", coreBlock(h), Config{})
		require.NoError(t, err)
		now := time.Now()
		_, err = s.Restart(now)
		assertSlotError(t, err, ErrNotStarted, `supervisor: slot "ingest": slot not started`)
		_, err = s.Collect(now)
		assertSlotError(t, err, ErrNoAttempt, `supervisor: slot "ingest": no attempt`)
		//lint:ignore SA1012 a nil context is the misuse under test
		assertSlotError(t, s.Start(nil, now), ErrInvalidConfig, `supervisor: slot "ingest": invalid config: nil context`) //nolint:staticcheck // a nil context is the misuse under test

		require.NoError(t, s.Start(h.ctx, now))
		h.attempt(t)
		assertSlotError(t, s.Start(h.ctx, now), ErrActive, `supervisor: slot "ingest": attempt still active`)
		_, err = s.Collect(now)
		assertSlotError(t, err, ErrNotDone, `supervisor: slot "ingest": attempt not done`)

		require.NoError(t, s.Pause(now))
		assertSlotError(t, s.Start(h.ctx, now), ErrPaused, `supervisor: slot "ingest": slot paused`)
		_, err = s.Restart(now)
		assertSlotError(t, err, ErrPaused, `supervisor: slot "ingest": slot paused`)
		coreCollect(t, s)
		require.NoError(t, s.Quarantine(now, "ops"))
		assertSlotError(t, s.Pause(now), ErrQuarantined, `supervisor: slot "ingest": slot quarantined`)

		h.stop()
		assertSlotError(t, s.Resume(now), context.Canceled, `supervisor: slot "ingest": parent context done: context canceled`)
		require.NoError(t, s.Remove(now))
		assertSlotError(t, s.Remove(now), ErrRemoved, `supervisor: slot "ingest": slot removed`)
		_, err = s.Collect(now)
		assertSlotError(t, err, ErrRemoved, `supervisor: slot "ingest": slot removed`)
		_, err = s.Stop(t.Context())
		assertSlotError(t, err, ErrNoAttempt, `supervisor: slot "ingest": no attempt`)

		_, err = NewChildSlot("ingest", coreBlock(h), Config{StopTimeout: -1})
		assertSlotError(t, err, ErrInvalidConfig, `supervisor: slot "ingest": invalid config: StopTimeout is negative (-1ns)`)
	})
}

func assertSlotError(t *testing.T, err, sentinel error, msg string) {
	t.Helper()
	require.ErrorIs(t, err, sentinel)
	assert.EqualError(t, err, msg)
	var se *SlotError
	require.ErrorAs(t, err, &se)
	assert.Equal(t, "ingest", se.ID)
}

// TestSlotErrorZeroValue checks that a SlotError with nothing wrapped still
// prints.
func TestSlotErrorZeroValue(t *testing.T) {
	e := &SlotError{ID: "x"}
	assert.Equal(t, `supervisor: slot "x": <nil>`, e.Error())
	assert.NoError(t, errors.Unwrap(e))
}

// faultCase is one bad input, or one call in a bad state: call makes it and
// asserts the sentinel error or the documented result.
type faultCase struct {
	name string
	call func(t *testing.T)
}

// TestBadInputErrsWithoutPanic feeds every exported function and method bad input (zero
// values, nil funcs and contexts, negative and huge durations, extreme
// limits, a now far in the past or the future, zero and nil receivers):
// each gives a sentinel error or its documented result, and none panics.
// Each case runs in its own synctest bubble, so a child it starts runs on
// fake time and must be gone when the case ends.
func TestBadInputErrsWithoutPanic(t *testing.T) {
	var tests []faultCase
	tests = append(tests, faultConfigCases()...)
	tests = append(tests, faultHugeCases()...)
	tests = append(tests, faultZeroSlotCases()...)
	tests = append(tests, faultMisuseCases()...)
	tests = append(tests, faultTimeCases()...)
	tests = append(tests, faultValueCases()...)
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				assert.NotPanics(t, func() { tt.call(t) })
			})
		})
	}
}

var (
	faultPast   = time.Time{}
	faultFuture = time.Date(9999, 12, 31, 23, 59, 59, 0, time.UTC)
)

// faultObedient returns when its context ends.
func faultObedient(ctx context.Context, _ *Attempt) error {
	<-ctx.Done()
	return ctx.Err()
}

// faultStubborn ignores cancellation until release is closed.
func faultStubborn(release <-chan struct{}) ChildFunc {
	return func(context.Context, *Attempt) error {
		<-release
		return nil
	}
}

func faultNewSlot(t *testing.T, fn ChildFunc, cfg Config) *ChildSlot {
	t.Helper()
	s, err := NewChildSlot("fault", fn, cfg)
	require.NoError(t, err)
	return s
}

// faultCounts checks that the record's counts add up.
func faultCounts(t *testing.T, r Record) {
	t.Helper()
	active := uint64(0)
	if r.Active {
		active = 1
	}
	assert.Equal(t, r.Attempt, r.Exits+active, "attempt == exits + active")
	assert.GreaterOrEqual(t, r.Abandoned, 0)
	assert.Equal(t, r.AbandonedTotal, r.StaleReports+uint64(r.Abandoned))
}

// faultEnd removes s and collects its attempt, so the bubble ends clean.
func faultEnd(t *testing.T, s *ChildSlot) {
	t.Helper()
	_ = s.Remove(time.Now())
	synctest.Wait()
	if s.Record(time.Now()).Active {
		_, err := s.Collect(time.Now())
		require.NoError(t, err)
	}
}

func faultConfigCases() []faultCase {
	bad := []struct {
		name  string
		id    string
		fn    ChildFunc
		cfg   Config
		field string
	}{
		{"empty id", "", faultObedient, Config{}, "id"},
		{"nil func", "x", nil, Config{}, "ChildFunc"},
		{"negative RestartWindow", "x", faultObedient, Config{RestartWindow: -1}, "RestartWindow"},
		{"negative StopTimeout", "x", faultObedient, Config{StopTimeout: -time.Second}, "StopTimeout"},
		{"negative AttemptTimeout", "x", faultObedient, Config{AttemptTimeout: -1}, "AttemptTimeout"},
		{"negative HeartbeatTimeout", "x", faultObedient, Config{HeartbeatTimeout: -1}, "HeartbeatTimeout"},
		{"MinInt64 ReadyTimeout", "x", faultObedient, Config{ReadyTimeout: math.MinInt64}, "ReadyTimeout"},
		{"negative RestartLimit", "x", faultObedient, Config{RestartLimit: -1}, "RestartLimit"},
		{"MinInt RestartLimit", "x", faultObedient, Config{RestartLimit: math.MinInt}, "RestartLimit"},
		{"unknown RestartType", "x", faultObedient, Config{Restart: RestartType(3)}, "Restart"},
		{"RestartType 255", "x", faultObedient, Config{Restart: RestartType(255)}, "Restart"},
		{"negative Backoff.Initial", "x", faultObedient, Config{Backoff: Backoff{Initial: -1}}, "Backoff.Initial"},
		{"negative Backoff.Max", "x", faultObedient, Config{Backoff: Backoff{Max: -1}}, "Backoff.Max"},
		{"negative Backoff.ResetAfter", "x", faultObedient, Config{Backoff: Backoff{ResetAfter: -1}}, "Backoff.ResetAfter"},
		{"Backoff.Multiplier below 1", "x", faultObedient, Config{Backoff: Backoff{Multiplier: 0.5}}, "Backoff.Multiplier"},
		{"Backoff.Multiplier NaN", "x", faultObedient, Config{Backoff: Backoff{Multiplier: math.NaN()}}, "Backoff.Multiplier"},
		{"Backoff.Multiplier +Inf", "x", faultObedient, Config{Backoff: Backoff{Multiplier: math.Inf(1)}}, "Backoff.Multiplier"},
		{"Backoff.Multiplier -Inf", "x", faultObedient, Config{Backoff: Backoff{Multiplier: math.Inf(-1)}}, "Backoff.Multiplier"},
		{"Backoff.Jitter 1", "x", faultObedient, Config{Backoff: Backoff{Jitter: 1}}, "Backoff.Jitter"},
		{"Backoff.Jitter negative", "x", faultObedient, Config{Backoff: Backoff{Jitter: -0.1}}, "Backoff.Jitter"},
		{"Backoff.Jitter NaN", "x", faultObedient, Config{Backoff: Backoff{Jitter: math.NaN()}}, "Backoff.Jitter"},
		{"Backoff.Max below Initial", "x", faultObedient, Config{Backoff: Backoff{Initial: time.Second, Max: time.Millisecond}}, "Backoff.Max"},
	}
	cases := make([]faultCase, 0, len(bad))
	for _, b := range bad {
		cases = append(cases, faultCase{"NewChildSlot/" + b.name, func(t *testing.T) {
			s, err := NewChildSlot(b.id, b.fn, b.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), b.field, "the error names the field")
			assert.Nil(t, s)
		}})
	}
	return cases
}

// faultMaxConfig has every duration and limit at its largest.
var faultMaxConfig = Config{
	RestartLimit:     math.MaxInt,
	RestartWindow:    math.MaxInt64,
	StopTimeout:      math.MaxInt64,
	AttemptTimeout:   math.MaxInt64,
	HeartbeatTimeout: math.MaxInt64,
	ReadyTimeout:     math.MaxInt64,
	Backoff:          Backoff{Initial: math.MaxInt64, Max: math.MaxInt64, ResetAfter: math.MaxInt64, Multiplier: math.MaxFloat64, NoJitter: true},
}

func faultHugeCases() []faultCase {
	return []faultCase{
		{"huge durations: no deadline fires early", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, faultMaxConfig)
			time.Sleep(time.Second) // start away from the time base, where sums overflow
			start := time.Now()
			require.NoError(t, s.Start(t.Context(), start))
			at, ok := s.NextDeadline()
			require.True(t, ok)
			assert.True(t, at.After(start.Add(100*365*24*time.Hour)), "the next deadline (%v) is centuries away", at)
			time.Sleep(time.Hour)
			s.Advance(time.Now())
			synctest.Wait()
			r := s.Record(time.Now())
			assert.Equal(t, StatusStarting, r.Status, "still running an hour later")
			assert.False(t, r.Liveness.Stale)
			assert.Equal(t, StopIdle, r.StopState)
			faultEnd(t, s)
		}},
		{"huge StopTimeout: a stubborn child is not abandoned early", func(t *testing.T) {
			release := make(chan struct{})
			s := faultNewSlot(t, faultStubborn(release), faultMaxConfig)
			time.Sleep(time.Second)
			require.NoError(t, s.Start(t.Context(), time.Now()))
			require.True(t, s.Cancel(time.Now()))
			at, ok := s.NextDeadline()
			require.True(t, ok)
			assert.True(t, at.After(time.Now()), "the stop deadline is ahead")
			time.Sleep(time.Hour)
			s.Advance(time.Now())
			assert.Equal(t, StatusCancelling, s.Record(time.Now()).Status)
			close(release)
			synctest.Wait()
			e, err := s.Collect(time.Now())
			require.NoError(t, err)
			assert.Equal(t, Cancelled, e.Kind)
			r := s.Record(time.Now())
			require.NotNil(t, r.NextRestartAt)
			assert.True(t, r.NextRestartAt.After(r.ObservedAt), "a huge backoff never schedules into the past")
			faultCounts(t, r)
		}},
		{"RestartLimit MaxInt and no delay", func(t *testing.T) {
			cfg := faultMaxConfig
			cfg.Backoff = Backoff{NoDelay: true}
			cfg.HeartbeatTimeout, cfg.ReadyTimeout = 0, 0
			s := faultNewSlot(t, func(context.Context, *Attempt) error { return errors.New("x") }, cfg)
			require.NoError(t, s.Start(t.Context(), time.Now()))
			for range 20 {
				synctest.Wait()
				_, err := s.Collect(time.Now())
				require.NoError(t, err)
				s.Advance(time.Now())
			}
			synctest.Wait()
			r := s.Record(time.Now())
			assert.Equal(t, uint64(20), r.Restarts)
			assert.Equal(t, math.MaxInt, r.RestartLimit.Limit)
			assert.Equal(t, 20, r.RestartLimit.Used)
			assert.False(t, r.RestartLimit.Exhausted)
			faultEnd(t, s)
		}},
		{"RestartTracker limit MaxInt window MaxInt64", func(t *testing.T) {
			tr := newRestartCounter(math.MaxInt, math.MaxInt64)
			for _, now := range []time.Time{t0, faultPast, faultFuture, t0} {
				assert.True(t, tr.allow(now))
				tr.record(now)
			}
			assert.Equal(t, 2, tr.used(faultFuture), "t0 and 9999 (the past one clamped to t0) still count")
			st := tr.state(faultFuture)
			assert.Equal(t, math.MaxInt-st.Used, st.Remaining)
		}},
		{"RestartTracker negative limit and window", func(t *testing.T) {
			tr := newRestartCounter(-1, -1)
			assert.Equal(t, 0, tr.limit())
			assert.Equal(t, time.Duration(0), tr.window())
			assert.False(t, tr.allow(t0), "a limit of 0 allows nothing")
			tr.record(t0)
			assert.Equal(t, 0, tr.used(t0))
		}},
		{"zero RestartTracker", func(t *testing.T) {
			var tr restartCounter
			assert.False(t, tr.allow(faultFuture))
			tr.record(faultPast)
			tr.reset()
			assert.Equal(t, 0, tr.used(faultPast))
			assert.True(t, tr.state(faultPast).Exhausted, "documented: allows nothing")
		}},
		{"Backoff.Delay extremes", func(t *testing.T) {
			b := Backoff{Initial: math.MaxInt64, Max: math.MaxInt64, Multiplier: math.MaxFloat64}
			assert.Equal(t, time.Duration(math.MaxInt64), b.Delay(math.MaxInt))
			assert.Equal(t, Backoff{}.Delay(0), Backoff{}.Delay(-1), "negative n is 0")
			assert.Equal(t, 30*time.Second, Backoff{}.Delay(math.MaxInt))
			assert.Equal(t, time.Duration(0), Backoff{NoDelay: true}.Delay(math.MaxInt))
		}},
		{"BackoffSequence huge and zero", func(t *testing.T) {
			seq := Backoff{Initial: math.MaxInt64, Max: math.MaxInt64, Jitter: 0.99}.sequence()
			for range 3 {
				assert.GreaterOrEqual(t, seq.next(), time.Duration(0))
			}
			var zero backoffSequence
			d := zero.next()
			assert.InDelta(t, float64(100*time.Millisecond), float64(d), float64(20*time.Millisecond), "behaves like Backoff{}")
			zero.ran(math.MaxInt64)
			assert.Equal(t, 0, zero.attempts(), "a run of MaxInt64 resets")
			zero.ran(math.MinInt64)
		}},
	}
}

func faultZeroSlotCases() []faultCase {
	receivers := []struct {
		name string
		s    *ChildSlot
	}{{"nil ChildSlot", nil}, {"zero ChildSlot", &ChildSlot{}}}
	var cases []faultCase
	for _, rc := range receivers {
		s := rc.s
		add := func(method string, call func(t *testing.T)) {
			cases = append(cases, faultCase{rc.name + "/" + method, call})
		}
		add("ID", func(t *testing.T) { assert.Empty(t, s.ID()) })
		add("TimeBase", func(t *testing.T) { assert.Equal(t, timeBase{}, s.clock()) })
		add("Start", func(t *testing.T) { assert.ErrorIs(t, s.Start(t.Context(), time.Now()), ErrInvalidConfig) })
		//lint:ignore SA1012 nil ctx is the fault
		add("Start nil ctx", func(t *testing.T) { assert.ErrorIs(t, s.Start(nil, faultPast), ErrInvalidConfig) }) //nolint:staticcheck // nil ctx is the fault
		add("Done", func(t *testing.T) { assert.Nil(t, s.Done()) })
		add("Collect", func(t *testing.T) {
			_, err := s.Collect(faultFuture)
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
		add("Cancel", func(t *testing.T) { assert.False(t, s.Cancel(faultPast)) })
		add("Abandon", func(t *testing.T) {
			_, ok := s.Abandon(faultFuture)
			assert.False(t, ok)
		})
		add("Advance", func(t *testing.T) { s.Advance(faultFuture) })
		add("NextDeadline", func(t *testing.T) {
			_, ok := s.NextDeadline()
			assert.False(t, ok)
		})
		add("Liveness", func(t *testing.T) { assert.Equal(t, Liveness{}, s.Liveness(faultPast)) })
		add("Record", func(t *testing.T) { assert.Equal(t, Record{}, s.Record(faultFuture)) })
		add("Finished", func(t *testing.T) { assert.True(t, s.Finished(), "documented: a zero slot is finished") })
		add("Stop", func(t *testing.T) {
			_, err := s.Stop(t.Context())
			assert.ErrorIs(t, err, ErrInvalidConfig)
		})
		add("Pause", func(t *testing.T) { assert.ErrorIs(t, s.Pause(faultPast), ErrInvalidConfig) })
		add("Resume", func(t *testing.T) { assert.ErrorIs(t, s.Resume(faultFuture), ErrInvalidConfig) })
		add("Quarantine", func(t *testing.T) { assert.ErrorIs(t, s.Quarantine(faultPast, ""), ErrInvalidConfig) })
		add("Remove", func(t *testing.T) { assert.ErrorIs(t, s.Remove(faultFuture), ErrInvalidConfig) })
		add("Restart", func(t *testing.T) {
			d, err := s.Restart(faultPast)
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.Equal(t, FenceRejected, d)
		})
	}
	return cases
}

func faultMisuseCases() []faultCase {
	return []faultCase{
		{"Start nil ctx", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			//lint:ignore SA1012 nil ctx is the fault
			assert.ErrorIs(t, s.Start(nil, time.Now()), ErrInvalidConfig) //nolint:staticcheck // nil ctx is the fault
			assert.False(t, s.Record(time.Now()).Active)
		}},
		{"Start with a done ctx", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			cause := errors.New("gone")
			ctx, cancel := context.WithCancelCause(t.Context())
			cancel(cause)
			err := s.Start(ctx, time.Now())
			assert.ErrorIs(t, err, cause, "the context's cause")
			_, err = s.Restart(time.Now())
			assert.ErrorIs(t, err, ErrNotStarted, "nothing started")
		}},
		{"Start twice", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			assert.ErrorIs(t, s.Start(t.Context(), time.Now()), ErrActive)
			faultEnd(t, s)
		}},
		{"Collect before Start and while running", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			_, err := s.Collect(time.Now())
			assert.ErrorIs(t, err, ErrNoAttempt)
			require.NoError(t, s.Start(t.Context(), time.Now()))
			_, err = s.Collect(time.Now())
			assert.ErrorIs(t, err, ErrNotDone)
			faultEnd(t, s)
		}},
		{"Cancel and Abandon with nothing held", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			assert.False(t, s.Cancel(time.Now()))
			assert.Equal(t, StopNoActiveAttempt, s.Record(time.Now()).StopState)
			_, ok := s.Abandon(time.Now())
			assert.False(t, ok)
		}},
		{"Restart before Start", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			d, err := s.Restart(time.Now())
			assert.ErrorIs(t, err, ErrNotStarted)
			assert.Equal(t, FenceRejected, d)
			require.NotNil(t, s.Record(time.Now()).LastControlFailure)
		}},
		{"everything after Remove", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			require.NoError(t, s.Remove(time.Now()))
			assert.ErrorIs(t, s.Remove(time.Now()), ErrRemoved)
			assert.ErrorIs(t, s.Start(t.Context(), time.Now()), ErrRemoved)
			assert.ErrorIs(t, s.Pause(time.Now()), ErrRemoved)
			assert.ErrorIs(t, s.Resume(time.Now()), ErrRemoved)
			assert.ErrorIs(t, s.Quarantine(time.Now(), "q"), ErrRemoved)
			_, err := s.Restart(time.Now())
			assert.ErrorIs(t, err, ErrRemoved)
			synctest.Wait()
			_, err = s.Collect(time.Now())
			assert.NoError(t, err, "the removed slot's attempt is still collected")
			_, err = s.Collect(time.Now())
			assert.ErrorIs(t, err, ErrRemoved)
			assert.True(t, s.Finished())
		}},
		{"Stop nil ctx", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			//lint:ignore SA1012 nil ctx is the fault
			_, err := s.Stop(nil) //nolint:staticcheck // nil ctx is the fault
			assert.ErrorIs(t, err, ErrInvalidConfig)
		}},
		{"Stop never started", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			_, err := s.Stop(t.Context())
			assert.ErrorIs(t, err, ErrNoAttempt)
			assert.True(t, s.Finished(), "removed all the same")
		}},
		{"Stop with a done ctx and a stubborn child", func(t *testing.T) {
			release := make(chan struct{})
			s := faultNewSlot(t, faultStubborn(release), Config{})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			ctx, cancel := context.WithCancel(t.Context())
			cancel()
			e, err := s.Stop(ctx)
			require.NoError(t, err)
			assert.Equal(t, Abandoned, e.Kind)
			close(release)
			synctest.Wait()
			s.Advance(time.Now())
			assert.Equal(t, uint64(1), s.Record(time.Now()).StaleReports)
		}},
		{"Quarantine with an empty reason, twice", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			require.NoError(t, s.Quarantine(time.Now(), ""))
			assert.NoError(t, s.Quarantine(time.Now(), "again"))
			assert.ErrorIs(t, s.Start(t.Context(), time.Now()), ErrQuarantined)
			assert.ErrorIs(t, s.Pause(time.Now()), ErrQuarantined)
		}},
		{"Pause twice, Resume twice", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			require.NoError(t, s.Pause(time.Now()))
			assert.NoError(t, s.Pause(time.Now()))
			assert.ErrorIs(t, s.Start(t.Context(), time.Now()), ErrPaused)
			require.NoError(t, s.Resume(time.Now()))
			assert.NoError(t, s.Resume(time.Now()))
		}},
		{"Resume after the parent ended", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{})
			ctx, cancel := context.WithCancel(t.Context())
			require.NoError(t, s.Start(ctx, time.Now()))
			require.NoError(t, s.Pause(time.Now()))
			cancel()
			assert.ErrorIs(t, s.Resume(time.Now()), context.Canceled)
			synctest.Wait()
			_, err := s.Collect(time.Now())
			require.NoError(t, err)
		}},
		{"Process with a nil build", func(t *testing.T) {
			s := faultNewSlot(t, Process(nil), Config{Restart: Temporary})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			synctest.Wait()
			e, err := s.Collect(time.Now())
			require.NoError(t, err)
			assert.Equal(t, Failed, e.Kind)
			assert.Contains(t, e.Reason, "nil build")
		}},
		{"Process whose build returns nil", func(t *testing.T) {
			s := faultNewSlot(t, Process(func(context.Context) *exec.Cmd { return nil }), Config{Restart: Temporary})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			synctest.Wait()
			e, err := s.Collect(time.Now())
			require.NoError(t, err)
			assert.Equal(t, Failed, e.Kind)
			assert.Contains(t, e.Reason, "nil *exec.Cmd")
		}},
		{"Process with no command", func(t *testing.T) {
			s := faultNewSlot(t, Process(func(ctx context.Context) *exec.Cmd { return exec.CommandContext(ctx, "") }), Config{Restart: Temporary})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			synctest.Wait()
			e, err := s.Collect(time.Now())
			require.NoError(t, err)
			assert.Equal(t, Failed, e.Kind, "the start error is the exit: %v", e)
			assert.Zero(t, e.Code)
		}},
	}
}

func faultTimeCases() []faultCase {
	return []faultCase{
		{"now in year 1 then 9999", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{HeartbeatTimeout: time.Second, AttemptTimeout: time.Minute})
			require.NoError(t, s.Start(t.Context(), faultPast))
			faultCounts(t, s.Record(faultPast))
			s.Advance(faultPast)
			s.Advance(faultFuture)
			synctest.Wait()
			r := s.Record(faultFuture)
			assert.Equal(t, StatusStopped, r.Status, "at 9999 the attempt is long overdue: cancelled, and it returned")
			e, err := s.Collect(faultFuture)
			require.NoError(t, err)
			assert.False(t, e.ExitedAt.Before(e.StartedAt))
			faultCounts(t, s.Record(faultFuture))
			_, err = json.Marshal(s.Record(faultFuture))
			assert.NoError(t, err, "year 9999 still encodes")
			faultEnd(t, s)
		}},
		{"now in 9999 then year 1: clamped", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{HeartbeatTimeout: time.Second})
			require.NoError(t, s.Start(t.Context(), faultFuture))
			s.Advance(faultPast)
			r := s.Record(faultPast)
			// 9999 lies 8,000 years past the slot's time base, beyond the
			// ±292 years a monotonic offset holds: it saturates at the end
			// of the range, where every deadline is due at once.
			assert.Equal(t, StatusCancelling, r.Status, "saturated: the heartbeat deadline is due")
			assert.False(t, r.ObservedAt.Before(s.clock().wall(faultFuture)), "the record's now never runs back")
			faultCounts(t, r)
			faultEnd(t, s)
		}},
		{"Liveness and NextDeadline at the extremes", func(t *testing.T) {
			s := faultNewSlot(t, faultObedient, Config{HeartbeatTimeout: time.Second, ReadyTimeout: time.Second})
			assert.Equal(t, Liveness{}, s.Liveness(faultFuture), "no attempt, no liveness")
			require.NoError(t, s.Start(t.Context(), time.Now()))
			assert.True(t, s.Liveness(faultFuture).Stale)
			_, ok := s.NextDeadline()
			assert.True(t, ok)
			faultEnd(t, s)
		}},
		{"a restart due in the far future", func(t *testing.T) {
			s := faultNewSlot(t, func(context.Context, *Attempt) error { return nil },
				Config{Backoff: Backoff{Initial: time.Hour, Max: time.Hour, NoJitter: true}})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			synctest.Wait()
			_, err := s.Collect(time.Now())
			require.NoError(t, err)
			s.Advance(faultPast)
			assert.False(t, s.Record(faultPast).Active, "not due")
			s.Advance(faultFuture)
			synctest.Wait()
			assert.Equal(t, uint64(1), s.Record(faultFuture).Restarts)
			faultEnd(t, s)
		}},
		{"zero TimeBase", func(t *testing.T) {
			var b timeBase
			assert.True(t, b.start().IsZero())
			assert.Equal(t, time.Duration(math.MaxInt64), b.since(faultFuture), "saturates")
			assert.Equal(t, int64(0), b.nanos(faultPast))
			assert.Positive(t, b.now())
			assert.False(t, b.instant(math.MaxInt64).IsZero())
			assert.False(t, b.instant(math.MinInt64).After(b.start()))
			assert.True(t, b.wall(faultPast).IsZero(), "the zero time stays zero")
			assert.False(t, b.wall(faultFuture).IsZero())
			assert.False(t, b.wallNanos(math.MinInt64).IsZero())
			_ = b.unix(faultFuture) // out of UnixNano's range: any value, no panic
		}},
		{"TimeBase at 9999", func(t *testing.T) {
			b := newTimeBase(faultFuture)
			assert.Equal(t, time.Duration(math.MinInt64), b.since(faultPast))
			assert.Equal(t, faultFuture, b.wall(faultFuture))
		}},
	}
}

func faultValueCases() []faultCase {
	type texter interface {
		String() string
		MarshalText() ([]byte, error)
	}
	enums := []struct {
		name      string
		bad       texter
		unmarshal func([]byte) error
	}{
		{"ExitKind", ExitKind(0), func(b []byte) error { var v ExitKind; return v.UnmarshalText(b) }},
		{"ExitKind 200", ExitKind(200), func(b []byte) error { var v ExitKind; return v.UnmarshalText(b) }},
		{"Readiness", Readiness(9), func(b []byte) error { var v Readiness; return v.UnmarshalText(b) }},
		{"Status", Status(9), func(b []byte) error { var v Status; return v.UnmarshalText(b) }},
		{"Operation", Operation(9), func(b []byte) error { var v Operation; return v.UnmarshalText(b) }},
		{"StopState", StopState(9), func(b []byte) error { var v StopState; return v.UnmarshalText(b) }},
		{"FencePhase", FencePhase(9), func(b []byte) error { var v FencePhase; return v.UnmarshalText(b) }},
		{"FenceDecision", FenceDecision(0), func(b []byte) error { var v FenceDecision; return v.UnmarshalText(b) }},
		{"EventKind", EventKind(0), func(b []byte) error { var v EventKind; return v.UnmarshalText(b) }},
		{"RestartType", RestartType(9), func(b []byte) error { var v RestartType; return v.UnmarshalText(b) }},
	}
	var cases []faultCase
	for _, e := range enums {
		cases = append(cases, faultCase{"enum/" + e.name, func(t *testing.T) {
			assert.NotEmpty(t, e.bad.String())
			_, err := e.bad.MarshalText()
			assert.ErrorIs(t, err, enum.ErrUnknown)
			for _, text := range [][]byte{nil, []byte(""), []byte("bogus"), []byte("ACTIVE"), {0xff}} {
				assert.ErrorIs(t, e.unmarshal(text), enum.ErrUnknown, "%q", text)
			}
		}})
	}
	return append(cases,
		faultCase{"zero Exit", func(t *testing.T) {
			var e Exit
			assert.Equal(t, "no exit", e.String())
			assert.Equal(t, time.Duration(0), e.Duration())
			assert.Equal(t, slog.KindGroup, e.LogValue().Kind())
			assert.NotEmpty(t, Exit{Kind: 200, Attempt: 1}.String())
			assert.Equal(t, time.Duration(0), Exit{StartedAt: faultFuture}.Duration(), "no end: no duration")
		}},
		faultCase{"zero PanicError", func(t *testing.T) {
			var p PanicError
			assert.Equal(t, "panic: <nil>", p.Error())
			assert.NoError(t, p.Unwrap())
			inner := errors.New("inner")
			assert.ErrorIs(t, &PanicError{Value: inner}, inner)
		}},
		faultCase{"zero Record, Event, Liveness", func(t *testing.T) {
			assert.Equal(t, slog.KindGroup, Record{}.LogValue().Kind())
			assert.NotPanics(t, func() { _ = Event{}.String() })
			assert.Equal(t, slog.KindGroup, Event{}.LogValue().Kind())
			_, err := json.Marshal(Liveness{})
			assert.NoError(t, err)
			_, err = json.Marshal(Record{})
			assert.NoError(t, err, "every zero enum has a name")
		}},
		faultCase{"RestartLimit JSON out of range", func(t *testing.T) {
			var l RestartLimit
			assert.Error(t, json.Unmarshal([]byte(fmt.Sprintf(`{"window_ms": %d}`, int64(math.MaxInt64))), &l))
			assert.Error(t, json.Unmarshal([]byte(`{"window_ms": "x"}`), &l))
			assert.Error(t, json.Unmarshal([]byte(`[`), &l))
			b, err := json.Marshal(RestartLimit{Window: math.MaxInt64, Limit: math.MaxInt})
			require.NoError(t, err)
			assert.NoError(t, json.Unmarshal(b, &l))
		}},
		faultCase{"zero Attempt", func(t *testing.T) {
			var a Attempt
			a.Beat()
			a.Ready()
			a.NotReady()
			assert.Zero(t, a.Number())
			assert.Zero(t, a.Generation())
		}},
		faultCase{"zero ExitQueue", func(t *testing.T) {
			var q ExitQueue
			assert.Equal(t, 0, q.Len())
			assert.Empty(t, q.Drain(nil))
			ready := q.Ready()
			require.NotNil(t, ready)
			assert.Equal(t, 1, cap(ready))
			s := faultNewSlot(t, func(context.Context, *Attempt) error { return nil }, Config{Exits: &q, Restart: Temporary})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			synctest.Wait()
			<-q.Ready()
			assert.Equal(t, []*ChildSlot{s}, q.Drain(nil))
			_, err := s.Collect(time.Now())
			assert.NoError(t, err)
		}},
	)
}
