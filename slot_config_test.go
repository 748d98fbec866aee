package supervisor

import (
	"context"
	"errors"
	"math"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSlotConfigValidation(t *testing.T) {
	tests := []struct {
		name  string
		id    string
		nilFn bool
		cfg   Config
		field string
	}{
		{name: "empty id", field: "id"},
		{name: "nil fn", id: "x", nilFn: true, field: "ChildFunc"},
		{name: "restart type", id: "x", cfg: Config{Restart: Temporary + 1}, field: "Restart"},
		{name: "restart limit", id: "x", cfg: Config{RestartLimit: -1}, field: "RestartLimit"},
		{name: "restart window", id: "x", cfg: Config{RestartWindow: -1}, field: "RestartWindow"},
		{name: "stop timeout", id: "x", cfg: Config{StopTimeout: -1}, field: "StopTimeout"},
		{name: "attempt timeout", id: "x", cfg: Config{AttemptTimeout: -time.Second}, field: "AttemptTimeout"},
		{name: "heartbeat timeout", id: "x", cfg: Config{HeartbeatTimeout: -1}, field: "HeartbeatTimeout"},
		{name: "ready timeout", id: "x", cfg: Config{ReadyTimeout: -1}, field: "ReadyTimeout"},
		{name: "backoff initial", id: "x", cfg: Config{Backoff: Backoff{Initial: -1}}, field: "Backoff.Initial"},
		{name: "backoff max", id: "x", cfg: Config{Backoff: Backoff{Max: -1}}, field: "Backoff.Max"},
		{name: "backoff max below initial", id: "x", cfg: Config{Backoff: Backoff{Initial: time.Second, Max: time.Millisecond}}, field: "Backoff.Max"},
		{name: "backoff multiplier", id: "x", cfg: Config{Backoff: Backoff{Multiplier: 0.5}}, field: "Backoff.Multiplier"},
		{name: "backoff jitter", id: "x", cfg: Config{Backoff: Backoff{Jitter: 1}}, field: "Backoff.Jitter"},
		{name: "backoff jitter negative", id: "x", cfg: Config{Backoff: Backoff{Jitter: -0.1}}, field: "Backoff.Jitter"},
		{name: "backoff jitter NaN", id: "x", cfg: Config{Backoff: Backoff{Jitter: math.NaN()}}, field: "Backoff.Jitter"},
		{name: "backoff multiplier NaN", id: "x", cfg: Config{Backoff: Backoff{Multiplier: math.NaN()}}, field: "Backoff.Multiplier"},
		{name: "backoff multiplier infinite", id: "x", cfg: Config{Backoff: Backoff{Multiplier: math.Inf(1)}}, field: "Backoff.Multiplier"},
		{name: "backoff reset after", id: "x", cfg: Config{Backoff: Backoff{ResetAfter: -1}}, field: "Backoff.ResetAfter"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			var fn ChildFunc = func(context.Context, *Attempt) error { return nil }
			if tt.nilFn {
				fn = nil
			}
			s, err := NewChildSlot(tt.id, fn, tt.cfg)
			require.ErrorIs(t, err, ErrInvalidConfig)
			assert.Contains(t, err.Error(), tt.field)
			assert.Nil(t, s)
		})
	}
}

func TestSlotConfigDefaults(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s, err := NewChildSlot("ingest", func(context.Context, *Attempt) error { return nil }, Config{})
		require.NoError(t, err)
		r := s.Record(time.Now())
		assert.Equal(t, "ingest", r.ChildID)
		assert.Equal(t, "/ingest", r.Path)
		assert.Equal(t, uint64(1), r.Generation)
		assert.Equal(t, DefaultRestartLimit, r.RestartLimit.Limit)
		assert.Equal(t, DefaultRestartWindow, r.RestartLimit.Window)
		assert.Equal(t, DefaultStopTimeout, s.cfg.StopTimeout)
		assert.False(t, s.Finished(), "not started is not finished")

		//lint:ignore SA1012 a nil context is the misuse under test
		err = s.Start(nil, time.Now()) //nolint:staticcheck // a nil context is the misuse under test
		assert.ErrorIs(t, err, ErrInvalidConfig)
		done, cancel := context.WithCancelCause(t.Context())
		cause := errors.New("shutting down")
		cancel(cause)
		err = s.Start(done, time.Now())
		assert.ErrorIs(t, err, cause)
		assert.Equal(t, uint64(0), s.Record(time.Now()).Attempt, "nothing started")
	})
}
