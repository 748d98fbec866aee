package supervisor_test

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"log/slog"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor"
	"github.com/childslot/supervisor/internal/looptest"
)

// TestEventLevel: failures, panics and quarantine are errors; refused
// restarts, abandonment and refused commands warnings; what the lines
// around already say is debug; the rest info.
func TestEventLevel(t *testing.T) {
	exit := func(k supervisor.ExitKind) *supervisor.Exit { return &supervisor.Exit{Kind: k, Attempt: 1} }
	tests := []struct {
		name string
		e    supervisor.Event
		want slog.Level
	}{
		{"failed", supervisor.Event{Kind: supervisor.EventExited, Exit: exit(supervisor.Failed)}, slog.LevelError},
		{"panicked", supervisor.Event{Kind: supervisor.EventExited, Exit: exit(supervisor.Panicked)}, slog.LevelError},
		{"timed out", supervisor.Event{Kind: supervisor.EventExited, Exit: exit(supervisor.TimedOut)}, slog.LevelError},
		{"unhealthy", supervisor.Event{Kind: supervisor.EventExited, Exit: exit(supervisor.Unhealthy)}, slog.LevelError},
		{"exit abandoned", supervisor.Event{Kind: supervisor.EventExited, Exit: exit(supervisor.Abandoned)}, slog.LevelWarn},
		{"succeeded", supervisor.Event{Kind: supervisor.EventExited, Exit: exit(supervisor.Succeeded)}, slog.LevelInfo},
		{"cancelled exit", supervisor.Event{Kind: supervisor.EventExited, Exit: exit(supervisor.Cancelled)}, slog.LevelInfo},
		{"quarantined", supervisor.Event{Kind: supervisor.EventQuarantined}, slog.LevelError},
		{"group failed", supervisor.Event{Kind: supervisor.EventGroupFailed}, slog.LevelError},
		{"restart refused", supervisor.Event{Kind: supervisor.EventRestartRefused}, slog.LevelWarn},
		{"abandoned", supervisor.Event{Kind: supervisor.EventAbandoned}, slog.LevelWarn},
		{"command refused", supervisor.Event{Kind: supervisor.EventCommand, Command: &supervisor.CommandRecord{Error: "no"}}, slog.LevelWarn},
		{"command", supervisor.Event{Kind: supervisor.EventCommand, Command: &supervisor.CommandRecord{}}, slog.LevelInfo},
		{"first start", supervisor.Event{Kind: supervisor.EventStarted, Attempt: 1}, slog.LevelInfo},
		{"start after a restart", supervisor.Event{Kind: supervisor.EventStarted, Attempt: 2}, slog.LevelDebug},
		{"group restart of the member alone", supervisor.Event{Kind: supervisor.EventGroupRestart, Member: "a", Scope: []string{"a"}}, slog.LevelDebug},
		{"group restart of several", supervisor.Event{Kind: supervisor.EventGroupRestart, Member: "a", Scope: []string{"a", "b"}}, slog.LevelInfo},
		{"cancelled", supervisor.Event{Kind: supervisor.EventCancelled}, slog.LevelDebug},
		{"restart scheduled", supervisor.Event{Kind: supervisor.EventRestartScheduled}, slog.LevelInfo},
		{"shutdown started", supervisor.Event{Kind: supervisor.EventShutdownStarted}, slog.LevelInfo},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.Equal(t, tt.want, tt.e.Level())
		})
	}
}

// TestLogEventsHandlers: one line per event, the kind as the message, and
// durations that read as durations under the text and the JSON handler.
func TestLogEventsHandlers(t *testing.T) {
	t0 := time.Date(2026, 1, 2, 3, 4, 5, 0, time.UTC)
	failed := supervisor.Event{
		Kind: supervisor.EventExited, ChildID: "db", Path: "/app/db", Attempt: 3,
		Exit: &supervisor.Exit{Kind: supervisor.Failed, Attempt: 3, Reason: "connection reset",
			StartedAt: t0, ExitedAt: t0.Add(1500 * time.Millisecond)},
	}
	restart := supervisor.Event{Kind: supervisor.EventRestartScheduled, ChildID: "db", Path: "/app/db", Attempt: 3, Delay: 250 * time.Millisecond}
	noTime := func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}

	var text bytes.Buffer
	log := supervisor.LogEvents(slog.New(slog.NewTextHandler(&text, &slog.HandlerOptions{ReplaceAttr: noTime})))
	log(failed)
	log(restart)
	assert.Equal(t, `level=ERROR msg=exited path=/app/db attempt=3 exit=failed ran=1.5s reason="connection reset"`+"\n"+
		`level=INFO msg=restart_scheduled path=/app/db attempt=3 in=250ms`+"\n", text.String())

	var js bytes.Buffer
	log = supervisor.LogEvents(slog.New(slog.NewJSONHandler(&js, &slog.HandlerOptions{ReplaceAttr: noTime})))
	log(failed)
	log(restart)
	lines := strings.Split(strings.TrimSpace(js.String()), "\n")
	require.Len(t, lines, 2)
	var got map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[0]), &got))
	assert.Equal(t, map[string]any{"level": "ERROR", "msg": "exited", "path": "/app/db", "attempt": 3.0,
		"exit": "failed", "ran": "1.5s", "reason": "connection reset"}, got)
	require.NoError(t, json.Unmarshal([]byte(lines[1]), &got))
	assert.Equal(t, "250ms", got["in"])
}

// TestLogEventsOneFailure: a member's failure in a running group logs two
// lines at Info and above (its exit, its restart) where the events are
// four.
func TestLogEventsOneFailure(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var buf bytes.Buffer
		var events []supervisor.EventKind
		logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
			if a.Key == slog.TimeKey {
				return slog.Attr{}
			}
			return a
		}}))
		log := supervisor.LogEvents(logger)
		g, err := supervisor.NewGroup("app", supervisor.GroupConfig{OnEvent: func(e supervisor.Event) {
			events = append(events, e.Kind)
			log(e)
		}})
		require.NoError(t, err)
		fail := make(chan struct{})
		_, err = g.Add("db", func(ctx context.Context, a *supervisor.Attempt) error {
			if a.Number() == 1 {
				select {
				case <-fail:
					return errors.New("connection reset")
				case <-ctx.Done():
					return nil
				}
			}
			<-ctx.Done()
			return nil
		}, supervisor.Config{Backoff: supervisor.Backoff{Initial: 100 * time.Millisecond, NoJitter: true}})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		buf.Reset()
		events = nil
		close(fail)
		looptest.Wait(t, g, time.Second)
		assert.Equal(t, []supervisor.EventKind{supervisor.EventExited, supervisor.EventRestartScheduled,
			supervisor.EventGroupRestart, supervisor.EventStarted}, events, "the events of one failure")
		assert.Equal(t, `level=ERROR msg=exited path=/app/db attempt=1 exit=failed ran=0s reason="connection reset"`+"\n"+
			`level=INFO msg=restart_scheduled path=/app/db attempt=1 in=100ms`+"\n", buf.String())
		g.Shutdown(time.Now())
		looptest.Wait(t, g, time.Second)
	})
}

// TestLogLines: one record per line, whatever the writes' boundaries; a
// partial line waits for its end; an endless line is logged in pieces of
// 64 KiB rather than buffered for ever.
func TestLogLines(t *testing.T) {
	var buf bytes.Buffer
	logger := slog.New(slog.NewTextHandler(&buf, &slog.HandlerOptions{ReplaceAttr: func(_ []string, a slog.Attr) slog.Attr {
		if a.Key == slog.TimeKey {
			return slog.Attr{}
		}
		return a
	}}))
	w := supervisor.LogLines(logger, slog.String("path", "/app/ticker"))
	for _, p := range []string{"tick 1\ntick", " 2\r\n", "\n", "half"} {
		n, err := w.Write([]byte(p))
		require.NoError(t, err)
		assert.Equal(t, len(p), n)
	}
	assert.Equal(t, `level=INFO msg=output path=/app/ticker line="tick 1"`+"\n"+
		`level=INFO msg=output path=/app/ticker line="tick 2"`+"\n"+
		`level=INFO msg=output path=/app/ticker line=""`+"\n", buf.String(), "half waits for its newline")

	buf.Reset()
	_, err := w.Write(bytes.Repeat([]byte("x"), 150<<10))
	require.NoError(t, err)
	lines := strings.Split(strings.TrimSuffix(buf.String(), "\n"), "\n")
	require.Len(t, lines, 2, "two pieces of 64 KiB; the rest waits")
	assert.Len(t, lines[0], len(`level=INFO msg=output path=/app/ticker line=half`)+64<<10-4)
}
