package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

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

// TestOperatorRestartKeepsBudgetResumeResets checks what the docs say: an
// operator Restart keeps the restart budget used and the backoff where they
// are, while Resume resets both.
func TestOperatorRestartKeepsBudgetResumeResets(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		cfg := Config{RestartLimit: 5, Backoff: Backoff{Initial: time.Second, Max: time.Minute, NoJitter: true}}
		s := coreNew(t, coreRunFor(10*time.Millisecond, errors.New("boom"))(h), cfg)
		var delays []time.Duration
		coreStartAt(t, s, h)
		h.attempt(t)
		// failOnce lets the running attempt fail, notes the backoff delay and
		// starts the restart when it is due.
		failOnce := func() {
			coreCollect(t, s)
			at, ok := s.NextDeadline()
			require.True(t, ok, "a restart is scheduled")
			delays = append(delays, time.Until(at))
			coreSleepUntil(at)
			s.Advance(time.Now())
			h.attempt(t)
		}
		failOnce() // delay 1s
		failOnce() // delay 2s
		require.Equal(t, 2, s.Record(time.Now()).RestartLimit.Used)

		d, err := s.Restart(time.Now())
		require.NoError(t, err)
		require.Equal(t, FenceQueuedAfterStop, d)
		coreCollect(t, s) // the cancelled attempt of the old generation
		s.Advance(time.Now())
		h.attempt(t)
		assert.Equal(t, 2, s.Record(time.Now()).RestartLimit.Used, "Restart keeps the budget used")
		failOnce() // the backoff goes on: 4s
		assert.Equal(t, []time.Duration{time.Second, 2 * time.Second, 4 * time.Second}, delays,
			"Restart keeps the backoff")

		require.NoError(t, s.Quarantine(time.Now(), "look"))
		require.NoError(t, s.Resume(time.Now()))
		coreCollect(t, s)
		s.Advance(time.Now())
		h.attempt(t)
		assert.Zero(t, s.Record(time.Now()).RestartLimit.Used, "Resume resets the budget")
		delays = delays[:0]
		failOnce()
		assert.Equal(t, []time.Duration{time.Second}, delays, "Resume resets the backoff")
	})
}
