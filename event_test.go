package supervisor

import (
	"context"
	"errors"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEventsNameAttemptsOfTheirGeneration drives a slot through fenced
// restarts, a pause, a quarantine, a refused restart, an abandonment and a
// removal, and checks that every event names an attempt together with that
// attempt's own generation (attempt 0, before any start, with generation 1).
func TestEventsNameAttemptsOfTheirGeneration(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCtlHarness(t, ctlConfig(), 6)
		var events []Event
		s := time.Second
		steps := []ctlStep{
			{do: ctlQuarantine, reason: "before start"}, {do: ctlResume},
			{do: ctlStart},
			{at: s, do: ctlRestart}, {at: s, do: ctlCollect}, {at: 2 * s, do: ctlAdvance}, // gen 2, attempt 2
			{at: 3 * s, do: ctlPause}, {at: 3 * s, do: ctlCollect},
			{at: 4 * s, do: ctlResume}, // gen 3, attempt 3, at once
			{at: 5 * s, do: ctlQuarantine, reason: "ops"},
			{at: 6 * s, do: ctlResume}, {at: 6 * s, do: ctlCollect}, {at: 6 * s, do: ctlAdvance}, // gen 4, attempt 4
			{at: 7 * s, do: ctlRelease, arg: 4}, {at: 7 * s, do: ctlCollect}, {at: 9 * s, do: ctlAdvance}, // restart: attempt 5
			{at: 10 * s, do: ctlRelease, arg: 5}, {at: 10 * s, do: ctlCollect}, {at: 12 * s, do: ctlAdvance}, // attempt 6, stubborn
			{at: 13 * s, do: ctlRestart}, {at: 18 * s, do: ctlAdvance}, // abandoned; gen 5, attempt 7
			{at: 19 * s, do: ctlRemove}, {at: 19 * s, do: ctlCollect},
			{at: 20 * s, do: ctlRelease, arg: 6}, {at: 20 * s, do: ctlAdvance},
		}
		for i, st := range steps {
			res := h.apply(st)
			require.NoError(t, res.err, "step %d: %v", i, st.do)
			events = append(events, h.events...)
			h.events = nil
		}
		require.Equal(t, uint64(7), h.slot.Record(h.at(20*s)).Attempt)

		genOf := map[uint64]uint64{}
		kinds := map[EventKind]bool{}
		for _, e := range events {
			kinds[e.Kind] = true
			if e.Kind == EventStarted {
				require.NotContains(t, genOf, e.Attempt, "attempt %d started twice", e.Attempt)
				genOf[e.Attempt] = e.Generation
				continue
			}
			if e.Attempt == 0 {
				assert.Equal(t, uint64(1), e.Generation, "event %v before any attempt", e)
				continue
			}
			gen, ok := genOf[e.Attempt]
			if assert.True(t, ok, "event %v names an attempt not started yet", e) {
				assert.Equal(t, gen, e.Generation, "event %v: attempt %d belongs to generation %d", e, e.Attempt, gen)
			}
			if e.Exit != nil {
				assert.Equal(t, e.Attempt, e.Exit.Attempt, "event %v", e)
				assert.Equal(t, e.Generation, e.Exit.Generation, "event %v", e)
			}
		}
		for _, k := range []EventKind{EventFence, EventPaused, EventResumed, EventQuarantined, EventAbandoned,
			EventStaleReport, EventRemoved, EventRestartScheduled, EventCancelled, EventExited} {
			assert.True(t, kinds[k], "the walk emits %v", k)
		}
	})
}

// TestOnEventReentrancy: from its own OnEvent, a slot can be read, calls
// that would change it are refused with ErrReentrant and change nothing,
// and other slots can be driven; after the listener returns the slot works
// as usual (issue 11, item 4).
func TestOnEventReentrancy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		sibling := coreNew(t, coreBlock(h), Config{})
		var s *ChildSlot
		var checked int
		listener := func(e Event) {
			if e.Kind != EventExited {
				return
			}
			checked++
			now := time.Now()
			before := s.Record(now)
			assert.Equal(t, uint64(1), before.Exits, "reads see the slot mid-Collect")
			assert.Equal(t, OperationActive, s.Operation())
			_, _ = s.NextDeadline()
			_ = s.Finished()

			assert.ErrorIs(t, s.Start(h.ctx, now), ErrReentrant)
			_, err := s.Collect(now)
			assert.ErrorIs(t, err, ErrReentrant)
			_, ok, err := s.TryCollect(now)
			assert.False(t, ok)
			assert.ErrorIs(t, err, ErrReentrant)
			assert.False(t, s.Cancel(now))
			_, ok = s.Abandon(now)
			assert.False(t, ok)
			s.Advance(now)
			assert.ErrorIs(t, s.Pause(now), ErrReentrant)
			assert.ErrorIs(t, s.Resume(now), ErrReentrant)
			assert.ErrorIs(t, s.Quarantine(now, "x"), ErrReentrant)
			assert.ErrorIs(t, s.Remove(now), ErrReentrant)
			d, err := s.Restart(now)
			assert.Equal(t, FenceRejected, d)
			assert.ErrorIs(t, err, ErrReentrant)
			_, err = s.Stop(t.Context())
			assert.ErrorIs(t, err, ErrReentrant)
			assert.Equal(t, before, s.Record(now), "refused calls changed nothing")

			assert.NoError(t, sibling.Start(h.ctx, now), "a listener may drive another slot")
		}
		s = coreNew(t, coreRunFor(time.Second, nil)(h), Config{Restart: Temporary, OnEvent: listener})
		coreStartAt(t, s, h)
		h.attempt(t)
		coreCollect(t, s)
		assert.Equal(t, 1, checked)
		h.attempt(t) // the sibling's attempt
		assert.NotNil(t, sibling.Done(), "the sibling runs")

		require.NoError(t, s.Start(h.ctx, time.Now()), "the slot works again once the listener returned")
		h.attempt(t)
	})
}

// TestOnEventPanicLeavesSlotUsable: a listener that panics propagates
// through the slot's method, and the slot does not stay refusing calls.
func TestOnEventPanicIsRecoveredAndReported(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		h := newCoreHarness(t)
		boom := true
		var kinds []EventKind
		s := coreNew(t, coreBlock(h), Config{OnEvent: func(e Event) {
			kinds = append(kinds, e.Kind)
			if boom && e.Kind == EventStarted || e.Kind == EventListenerPanicked {
				panic("listener")
			}
		}})
		require.NoError(t, s.Start(h.ctx, time.Now()), "the listener's panic does not reach the caller")
		h.attempt(t)
		assert.Equal(t, []EventKind{EventStarted, EventListenerPanicked}, kinds,
			"reported once, after the event; a panic on the report is only counted")
		r := s.Record(time.Now())
		assert.Equal(t, uint64(2), r.ListenerPanics)
		assert.Equal(t, "OnEvent panicked on listener_panicked: listener", r.LastListenerPanic)
		assert.True(t, r.Active, "the attempt started")
		boom = false
		assert.True(t, s.Cancel(time.Now()), "not left refusing calls")
	})
}

// TestEventStringIsOneLine: texts from children and operators (an error,
// a command's reason, a quarantine's) cannot forge a log line through
// Event.String or Exit.String.
func TestEventStringIsOneLine(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []Event
		g, err := NewGroup("app", GroupConfig{OnEvent: func(e Event) { events = append(events, e) }})
		require.NoError(t, err)
		_, err = g.Add("job", func(context.Context, *Attempt) error {
			return errors.New("bad input\nlevel=INFO msg=\"all good\"")
		}, Config{Restart: Transient})
		require.NoError(t, err)
		_, err = g.Add("api", func(ctx context.Context, _ *Attempt) error { <-ctx.Done(); return nil }, Config{})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		synctest.Wait()
		g.Advance(time.Now())
		done, err := g.Submit(Command{Op: CommandQuarantine, Path: "/app/api", Requester: "op",
			Reason: "disk full\r\nSTATUS=forged\x1b[2J"})
		require.NoError(t, err)
		g.Advance(time.Now())
		require.NoError(t, (<-done).Err)
		g.Shutdown(time.Now())
		for !g.Finished() {
			synctest.Wait()
			g.Advance(time.Now())
		}
		var exited, quarantined bool
		for _, e := range events {
			s := e.String()
			assert.NotContains(t, s, "\n", "%q", s)
			assert.NotContains(t, s, "\r", "%q", s)
			assert.NotContains(t, s, "\x1b", "%q", s)
			exited = exited || e.Kind == EventExited && strings.Contains(s, `bad input\nlevel=INFO`)
			quarantined = quarantined || e.Kind == EventQuarantined && strings.Contains(s, `disk full\r\nSTATUS=forged\x1b[2J`)
		}
		assert.True(t, exited, "the error's text is kept, escaped")
		assert.True(t, quarantined, "the command's reason is kept, escaped")
	})
}

// TestEventLogValueOfGroupEvent: a group event names no attempt, and its
// log value says none rather than "attempt=0 generation=0".
func TestEventLogValueOfGroupEvent(t *testing.T) {
	keys := func(e Event) []string {
		var out []string
		for _, a := range e.LogValue().Group() {
			out = append(out, a.Key)
		}
		return out
	}
	assert.Equal(t, []string{"kind", "child_id", "path", "reason"},
		keys(Event{Kind: EventShutdownStarted, ChildID: "app", Path: "/app", Reason: "SIGTERM"}))
	assert.Equal(t, []string{"kind", "child_id", "path", "attempt", "generation"},
		keys(Event{Kind: EventStarted, ChildID: "db", Path: "/app/db", Attempt: 1, Generation: 1}))
}

// TestEventStringGroupRestart: a group restart's one-line form
// names the member that failed and the restart's scope; other kinds carry
// their reason.
func TestEventStringGroupRestart(t *testing.T) {
	e := Event{ChildID: "app", Kind: EventGroupRestart, Member: "b", Scope: []string{"b", "c"}}
	assert.Equal(t, "app: "+EventGroupRestart.String()+" after b failed: b, c", e.String())
	e = Event{ChildID: "w", Kind: EventPaused, Reason: "maintenance"}
	assert.Equal(t, "w: "+EventPaused.String()+": maintenance", e.String())
	e = Event{ChildID: "w", Kind: EventPaused}
	assert.Equal(t, "w: "+EventPaused.String(), e.String(), "no reason, nothing after the kind")
}

// TestEventLogValueCommandError: a command event's log value has
// the command's error only when it failed.
func TestEventLogValueCommandError(t *testing.T) {
	cmd := &CommandRecord{Command: Command{Op: CommandRestart, Path: "/app/w", Requester: "ops"}, Seq: 4}
	e := Event{ChildID: "w", Kind: EventCommand, Command: cmd}
	got := coreLogJSON(t, "event", e)
	assert.Equal(t, "ops", got["requester"])
	assert.EqualValues(t, 4, got["seq"])
	assert.NotContains(t, got, "error", "a command carried out has no error")

	failed := *cmd
	failed.Error = "member is removed"
	e.Command = &failed
	assert.Equal(t, "member is removed", coreLogJSON(t, "event", e)["error"])
}

// TestEventLogValueMemberScope: a group event's log value has the
// member and the scope only when the event has them.
func TestEventLogValueMemberScope(t *testing.T) {
	got := coreLogJSON(t, "event", Event{ChildID: "app", Kind: EventGroupRestart, Member: "b", Scope: []string{"b", "c"}})
	assert.Equal(t, "b", got["member"])
	assert.Equal(t, []any{"b", "c"}, got["scope"])
	got = coreLogJSON(t, "event", Event{ChildID: "w", Kind: EventStarted})
	assert.NotContains(t, got, "member")
	assert.NotContains(t, got, "scope")
}

func TestSlotEventsFailRestart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		var events []Event
		h := newCoreHarness(t)
		child := func(ctx context.Context, a *Attempt) error {
			h.started <- a
			if a.Number() == 1 {
				time.Sleep(time.Second)
				return errors.New("dial tcp: connection refused")
			}
			<-ctx.Done()
			return ctx.Err()
		}
		cfg := Config{Path: "/app/ingest", Backoff: Backoff{NoJitter: true}, OnEvent: func(e Event) { events = append(events, e) }}
		s, err := NewChildSlot("ingest", child, cfg)
		require.NoError(t, err)
		t0 := coreStartAt(t, s, h)
		h.attempt(t)
		coreCollect(t, s)
		at, ok := s.NextDeadline()
		require.True(t, ok)
		coreSleepUntil(at)
		s.Advance(at)
		h.attempt(t)

		type brief struct {
			Kind                EventKind
			Attempt, Generation uint64
			At                  time.Duration
			Delay               time.Duration
			Exit                ExitKind
		}
		var got []brief
		for _, e := range events {
			b := brief{Kind: e.Kind, Attempt: e.Attempt, Generation: e.Generation, At: e.Time.Sub(t0), Delay: e.Delay}
			if e.Exit != nil {
				b.Exit = e.Exit.Kind
			}
			assert.Equal(t, "ingest", e.ChildID)
			assert.Equal(t, "/app/ingest", e.Path)
			got = append(got, b)
		}
		sec, ms := time.Second, time.Millisecond
		assert.Equal(t, []brief{
			{Kind: EventStarted, Attempt: 1, Generation: 1},
			{Kind: EventExited, Attempt: 1, Generation: 1, At: sec, Exit: Failed},
			{Kind: EventRestartScheduled, Attempt: 1, Generation: 1, At: sec, Delay: 100 * ms},
			{Kind: EventStarted, Attempt: 2, Generation: 1, At: sec + 100*ms},
		}, got)
		assert.Empty(t, events[1].Reason, "the exit carries the reason")
		assert.Equal(t, "dial tcp: connection refused", events[1].Exit.Reason)
	})
}
