package supervisor

import (
	"context"
	"errors"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor/internal/looptest"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// lsStory runs one story on a tree whose root listener panics on the
// events of kind boom (0: never): a member fails twice (one_for_all
// restarts), an operator pauses and resumes another, the tree shuts down.
// It returns the events other than listener_panicked, the answers to the
// commands, the final record and the listener panics the root counted.
func lsStory(t *testing.T, boom EventKind) ([]Event, []CommandRecord, GroupRecord) {
	var events []Event
	g, err := NewGroup("app", GroupConfig{Strategy: OneForAll, OnEvent: func(e Event) {
		if e.Kind != EventListenerPanicked {
			events = append(events, e)
		}
		if e.Kind == boom {
			panic("listener: " + e.Kind.String())
		}
	}})
	require.NoError(t, err)
	// A cancelled child returns a moment later, not within the Advance that
	// cancelled it: whether that Advance's drain finds its exit would
	// otherwise depend on the scheduler, and the two runs could differ.
	park := func(ctx context.Context, _ *Attempt) error {
		<-ctx.Done()
		time.Sleep(time.Millisecond)
		return nil
	}
	fails := func(ctx context.Context, a *Attempt) error {
		if a.Number() <= 2 {
			return errors.New("flaky")
		}
		return park(ctx, a)
	}
	cfg := Config{Backoff: Backoff{Initial: time.Second, NoJitter: true}}
	for _, id := range []string{"db", "api"} {
		_, err := g.Add(id, park, cfg)
		require.NoError(t, err)
	}
	_, err = g.Add("jobs", fails, cfg)
	require.NoError(t, err)

	step := func() {
		synctest.Wait()
		g.Advance(time.Now())
	}
	require.NoError(t, g.Start(t.Context(), time.Now()))
	var answers []CommandRecord
	for _, op := range []CommandOp{CommandPause, CommandResume} {
		done, err := g.Submit(Command{Op: op, Path: "/app/api", Requester: "test", Reason: "maintenance"})
		require.NoError(t, err)
		step()
		answers = append(answers, <-done)
	}
	for range 6 {
		step()
		time.Sleep(time.Second)
	}
	g.Shutdown(time.Now())
	for !g.Finished() {
		step()
		time.Sleep(time.Millisecond)
	}
	return events, answers, g.Record(time.Now())
}

// TestListenerPanicChangesNothing: a root listener that panics on each of
// these kinds leaves the tree's story exactly as one that does not: the
// same events at the same times, the same answers, the same record; the
// panics are counted and reported.
func TestListenerPanicChangesNothing(t *testing.T) {
	var want []Event
	var wantAnswers []CommandRecord
	var wantRec GroupRecord
	synctest.Test(t, func(t *testing.T) { want, wantAnswers, wantRec = lsStory(t, 0) })
	for _, boom := range []EventKind{EventStarted, EventExited, EventRestartScheduled, EventCommand, EventGroupRestart} {
		t.Run(boom.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				got, answers, rec := lsStory(t, boom)
				assert.Equal(t, want, got)
				assert.Equal(t, wantAnswers, answers, "every command answered as before")
				assert.NotZero(t, rec.ListenerPanics)
				assert.Contains(t, rec.LastListenerPanic, "OnEvent panicked on "+boom.String()+": listener: "+boom.String())
				rec.ListenerPanics, rec.LastListenerPanic = 0, ""
				assert.Equal(t, wantRec, rec)
			})
		})
	}
}

// TestStartedEventComesFirst: a listener hears that an attempt started
// before the child can do anything, so that logs read in order.
func TestStartedEventComesFirst(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a")
		_, err := g.Add("eager", func(ctx context.Context, _ *Attempt) error {
			l.add("eager ran")
			<-ctx.Done()
			return nil
		}, ghCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a", "start eager", "eager ran"}, l.take())
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}
