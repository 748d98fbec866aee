package supervisor

import (
	"context"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ghRunLoop runs g.Run until the test's end, inside its bubble.
func ghRunLoop(t *testing.T, g *Group) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-errc)
	})
	synctest.Wait()
}

// TestRecentEvents: the tree's event log keeps the latest EventLog events
// of slots and nested groups alike, oldest first, the same as an OnEvent
// sees them, each exit in a copy of its own; total counts them all.
func TestRecentEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var seen ghEvents
		g := ghGroup(t, l, "app", GroupConfig{EventLog: 8, OnEvent: seen.on}, "a")
		jobs := ghSub(t, l, "jobs", GroupConfig{Strategy: OneForAll}, "x", "y")
		require.NoError(t, g.AddGroup(jobs))
		ghRunLoop(t, g)
		for range 3 {
			l.end("a", errGH)
			synctest.Wait()
		}
		l.end("x", errGH) // a group restart of jobs
		synctest.Wait()

		events, total := g.RecentEvents()
		seen.mu.Lock()
		all := seen.events
		seen.mu.Unlock()
		require.Greater(t, len(all), 8)
		assert.Equal(t, uint64(len(all)), total, "the log saw every event the listener did")
		require.Len(t, events, 8, "bounded by EventLog")
		assert.Equal(t, all[len(all)-8:], events, "the latest, oldest first, as the listener saw them")
		var restart *Event
		for i := range events {
			if events[i].Kind == EventGroupRestart {
				restart = &events[i]
			}
		}
		require.NotNil(t, restart, "group events are logged")
		assert.Equal(t, "/app/jobs", restart.Path)
		assert.Equal(t, []string{"x", "y"}, restart.Scope)

		// Exits are copies: changing one changes nothing logged.
		for i := range events {
			if events[i].Exit != nil {
				events[i].Exit.Reason = "changed"
			}
		}
		again, _ := g.RecentEvents()
		for _, e := range again {
			if e.Exit != nil {
				assert.NotEqual(t, "changed", e.Exit.Reason)
			}
		}
		// A nested group's RecentEvents is its tree's.
		sub, _ := jobs.RecentEvents()
		assert.Equal(t, again, sub)
	})
}

// TestRecentEventsWithoutListener: with no OnEvent anywhere, the log alone
// keeps the events, exits by value; NoEventLog keeps none; a negative
// size other than NoEventLog is refused.
func TestRecentEventsWithoutListener(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghSub(t, l, "app", GroupConfig{}, "a")
		off := ghSub(t, l, "quiet", GroupConfig{EventLog: NoEventLog}, "q")
		ghRunLoop(t, g)
		ghRunLoop(t, off)
		l.end("a", errGH)
		l.end("q", errGH)
		synctest.Wait()

		events, total := g.RecentEvents()
		assert.Equal(t, uint64(len(events)), total)
		var kinds []EventKind
		var exit *Exit
		for _, e := range events {
			kinds = append(kinds, e.Kind)
			if e.Kind == EventExited {
				exit = e.Exit
				assert.Equal(t, "/app/a", e.Path)
				assert.Equal(t, "a", e.ChildID)
			}
		}
		assert.Equal(t, []EventKind{EventMemberAdded, EventStarted, EventGroupStarted, EventExited, EventRestartScheduled, EventGroupRestart, EventStarted}, kinds)
		require.NotNil(t, exit)
		assert.Equal(t, Failed, exit.Kind)
		assert.Equal(t, "boom", exit.Reason)

		events, total = off.RecentEvents()
		assert.Empty(t, events)
		assert.Zero(t, total)
		var zero *Group
		events, _ = zero.RecentEvents()
		assert.Nil(t, events)
		_, err := NewGroup("bad", GroupConfig{EventLog: -2})
		assert.ErrorIs(t, err, ErrInvalidConfig)
	})
}

// TestRecentEventsConcurrent: RecentEvents is safe from any goroutine
// while the loop logs (run with -race).
func TestRecentEventsConcurrent(t *testing.T) {
	g, err := NewGroup("app", GroupConfig{EventLog: 16, Intensity: NoIntensity})
	require.NoError(t, err)
	n := 0
	_, err = g.Add("flaky", func(context.Context, *Attempt) error {
		n++
		return errGH
	}, Config{Backoff: Backoff{NoDelay: true}, RestartLimit: 1 << 20})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	wg.Go(func() { _ = g.Run(ctx) })
	deadline := time.Now().Add(5 * time.Second)
	for {
		events, total := g.RecentEvents()
		assert.LessOrEqual(t, len(events), 16)
		if total > 200 || time.Now().After(deadline) {
			break
		}
	}
	cancel()
	wg.Wait()
	_, total := g.RecentEvents()
	assert.Greater(t, total, uint64(200))
}
