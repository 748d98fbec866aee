package supervisor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// TestGroupStrategies fails the middle of three members under each
// strategy and checks the stops and starts as the children see them, and
// that members outside the restart's scope keep their attempt.
func TestGroupStrategies(t *testing.T) {
	tests := []struct {
		name     string
		strategy Strategy
		want     []string
		attempts map[string]uint64
	}{
		{"one_for_one", OneForOne,
			[]string{"fail b", "start b"},
			map[string]uint64{"a": 1, "b": 2, "c": 1}},
		{"one_for_all", OneForAll,
			[]string{"fail b", "stop c", "stop a", "start a", "start b", "start c"},
			map[string]uint64{"a": 2, "b": 2, "c": 2}},
		{"rest_for_one", RestForOne,
			[]string{"fail b", "stop c", "start b", "start c"},
			map[string]uint64{"a": 1, "b": 2, "c": 2}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				l := newGHLog(t)
				var ev ghEvents
				g := ghGroup(t, l, "app", GroupConfig{Strategy: tt.strategy, OnEvent: ev.on}, "a", "b", "c")
				require.NoError(t, g.Start(t.Context(), time.Now()))
				looptest.Settle(t, g)
				l.take()
				l.end("b", errGH)
				looptest.Settle(t, g)
				assert.Equal(t, tt.want, l.take())
				assert.Equal(t, tt.attempts, ghAttempts(g))
				rec := g.Record(time.Now())
				assert.Equal(t, GroupRunning, rec.State)
				assert.Equal(t, uint64(1), rec.Restarts, "one failure, one group restart")
				restarts := ev.of(EventGroupRestart)
				require.Len(t, restarts, 1)
				assert.Equal(t, "b", restarts[0].Member)
				// Only b failed: the siblings the group stopped count nothing
				// against their own budgets.
				for _, m := range rec.Members {
					want := 0
					if m.ID == "b" {
						want = 1
					}
					assert.Equal(t, want, m.Slot.RestartLimit.Used, m.ID)
				}
				g.Shutdown(time.Now())
				looptest.Settle(t, g)
				assert.True(t, g.Finished())
			})
		})
	}
}

func TestGroupAddRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var ev ghEvents
		g := ghGroup(t, l, "app", GroupConfig{Strategy: RestForOne, OnEvent: ev.on}, "a")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		_, err := g.Add("b", l.child("b"), ghCfg())
		require.NoError(t, err)
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a", "start b"}, l.take(), "added after Start: starts at once, last")
		require.NoError(t, g.Remove("a", time.Now()))
		looptest.Settle(t, g)
		assert.Equal(t, []string{"stop a"}, l.take(), "removing a restarts nothing")
		assert.Nil(t, g.Slot("a"))
		assert.Equal(t, 1, g.Len())
		require.ErrorIs(t, g.Remove("a", time.Now()), ErrUnknownMember)
		// The id is free again.
		_, err = g.Add("a", l.child("a"), ghCfg())
		require.NoError(t, err)
		looptest.Settle(t, g)
		assert.Equal(t, []string{"start a"}, l.take())
		ids := []string{}
		for _, m := range g.Record(time.Now()).Members {
			ids = append(ids, m.ID)
		}
		assert.Equal(t, []string{"b", "a"}, ids)
		assert.Len(t, ev.of(EventMemberAdded), 3)
		assert.Len(t, ev.of(EventMemberRemoved), 1)
		for _, e := range ev.of(EventMemberAdded, EventMemberRemoved) {
			assert.False(t, e.Time.IsZero(), "%v has a time", e)
		}
		g.ShutdownWith(time.Now(), "SIGTERM")
		looptest.Settle(t, g)
		assert.Equal(t, []string{"stop a", "stop b"}, l.take())
		assert.Equal(t, "SIGTERM", g.Record(time.Now()).Reason)
		_, err = g.Add("c", l.child("c"), ghCfg())
		require.ErrorIs(t, err, ErrGroupStopped)
	})
}

func TestGroupBadInput(t *testing.T) {
	noop := func(context.Context, *Attempt) error { return nil }
	g, err := NewGroup("app", GroupConfig{})
	require.NoError(t, err)
	_, err = g.Add("a", noop, Config{})
	require.NoError(t, err)
	other, err := NewGroup("other", GroupConfig{})
	require.NoError(t, err)
	sub, err := NewGroup("sub", GroupConfig{})
	require.NoError(t, err)
	require.NoError(t, g.AddGroup(sub))

	tests := []struct {
		name string
		err  error
	}{
		{"empty group id", func() error { _, err := NewGroup("", GroupConfig{}); return err }()},
		{"negative period", func() error { _, err := NewGroup("x", GroupConfig{Period: -1}); return err }()},
		{"negative intensity", func() error { _, err := NewGroup("x", GroupConfig{Intensity: -2}); return err }()},
		{"bad strategy", func() error { _, err := NewGroup("x", GroupConfig{Strategy: 9}); return err }()},
		{"permanent significant group", func() error { _, err := NewGroup("x", GroupConfig{Significant: true}); return err }()},
		{"empty member id", func() error { _, err := g.Add("", noop, Config{}); return err }()},
		{"duplicate member id", func() error { _, err := g.Add("a", noop, Config{}); return err }()},
		{"nil func", func() error { _, err := g.Add("b", nil, Config{}); return err }()},
		{"negative duration", func() error { _, err := g.Add("b", noop, Config{StopTimeout: -1}); return err }()},
		{"permanent significant member", func() error { _, err := g.Add("b", noop, Config{Significant: true}); return err }()},
		{"exits set", func() error { _, err := g.Add("b", noop, Config{Exits: NewExitQueue()}); return err }()},
		{"group added to itself", g.AddGroup(g)},
		{"group added below itself", sub.AddGroup(g)},
		{"group added to two parents", other.AddGroup(sub)},
		{"nil nested group", g.AddGroup(nil)},
		{"nested group started directly", sub.Start(context.Background(), time.Now())},
		//lint:ignore SA1012 the nil context is the bad input
		{"nil context", g.Start(nil, time.Now())}, //nolint:staticcheck // the nil context is the bad input
		{"member slot started directly", g.Slot("a").Start(context.Background(), time.Now())},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			assert.ErrorIs(t, tt.err, ErrInvalidConfig)
		})
	}
	assert.Equal(t, 0, other.Len(), "a refused AddGroup changes nothing")
	assert.Equal(t, 2, g.Len())
}

// TestGroupZeroAndNil calls every method of a zero and a nil Group: none
// panics, each returns an error or does nothing.
func TestGroupZeroAndNil(t *testing.T) {
	for name, g := range map[string]*Group{"zero": {}, "nil": nil} {
		t.Run(name, func(t *testing.T) {
			now := time.Now()
			_, err := g.Add("a", func(context.Context, *Attempt) error { return nil }, Config{})
			assert.ErrorIs(t, err, ErrInvalidConfig)
			assert.ErrorIs(t, g.AddGroup(&Group{}), ErrInvalidConfig)
			assert.ErrorIs(t, g.Remove("a", now), ErrInvalidConfig)
			assert.ErrorIs(t, g.Start(context.Background(), now), ErrInvalidConfig)
			assert.ErrorIs(t, g.Run(context.Background()), ErrInvalidConfig)
			g.Advance(now)
			g.Shutdown(now)
			_, ok := g.NextDeadline()
			assert.False(t, ok)
			assert.Nil(t, g.Wake())
			assert.True(t, g.Finished())
			assert.NoError(t, g.Err())
			assert.Equal(t, GroupRecord{}, g.Record(now))
			assert.Nil(t, g.Slot("a"))
			assert.Nil(t, g.Group("a"))
			assert.Zero(t, g.Len())
			assert.Empty(t, g.ID())
			assert.Empty(t, g.Path())
			assert.Equal(t, GroupIdle, g.State())
		})
	}
}

// TestGroupNestedPathsBuiltBottomUp: a tree nested bottom-up (the leaf
// into the middle group before the middle group into the root) gives every
// group and slot below the root its full path, and their events reach the
// root's listener.
func TestGroupNestedPathsBuiltBottomUp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		var ev ghEvents
		leaf := ghSub(t, l, "leaf", GroupConfig{}, "w")
		mid := ghSub(t, l, "mid", GroupConfig{}, "v")
		require.NoError(t, mid.AddGroup(leaf))
		root := ghGroup(t, l, "app", GroupConfig{OnEvent: ev.on}, "u")
		require.NoError(t, root.AddGroup(mid))
		assert.Equal(t, "/app/mid/leaf", leaf.Path())
		require.NoError(t, root.Start(t.Context(), time.Now()))
		looptest.Settle(t, root)
		assert.Equal(t, []string{"start u", "start v", "start w"}, l.take(), "the leaf's start reaches the root's listener")
		assert.Equal(t, "/app/mid/leaf/w", leaf.Slot("w").Record(time.Now()).Path)
		assert.Equal(t, "/app/mid/v", mid.Slot("v").Record(time.Now()).Path)
		var paths []string
		for _, e := range ev.of(EventStarted) {
			paths = append(paths, e.Path)
		}
		assert.Equal(t, []string{"/app/u", "/app/mid/v", "/app/mid/leaf/w"}, paths)
		root.Shutdown(time.Now())
		looptest.Settle(t, root)
	})
}

// TestGroupLenAfterRemove: Len counts the members still in the
// group, not those removed.
func TestGroupLenAfterRemove(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a", "b", "c")
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		require.NoError(t, g.Remove("b", time.Now()))
		assert.Equal(t, 3, g.Len(), "b counts while it stops")
		looptest.Settle(t, g)
		assert.Equal(t, 2, g.Len(), "b is gone")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}
