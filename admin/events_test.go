package admin

import (
	"context"
	"net/http"
	"slices"
	"strconv"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestEvents: /events serves the tree's log, oldest first with
// consecutive sequence numbers up to its total, bounded by EventLog (the
// rest counted as dropped), only those after ?since=; panic stacks only
// when allowed.
func TestEvents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		cfg := rootCfg()
		cfg.EventLog = 6
		g, err := sv.NewGroup("app", cfg)
		require.NoError(t, err)
		panics := 0
		_, err = g.Add("p", func(ctx context.Context, _ *sv.Attempt) error {
			if panics < 3 {
				panics++
				panic("kaboom " + strconv.Itoa(panics))
			}
			<-ctx.Done()
			return ctx.Err()
		}, quick())
		require.NoError(t, err)
		h := New(g, Options{})
		assert.Equal(t, http.StatusServiceUnavailable, do(h, "GET", "/events", "").Code)
		start(t, g)

		body := decode[eventsBody](t, do(h, "GET", "/events", ""))
		want, total := g.RecentEvents()
		require.Len(t, body.Events, 6, "bounded by EventLog")
		assert.Equal(t, total, body.Total)
		assert.Greater(t, body.Total, uint64(6))
		assert.Equal(t, body.Total-6, body.Dropped)
		for i, e := range body.Events {
			assert.Equal(t, body.Total-5+uint64(i), e.Seq, "consecutive, oldest first, up to the total")
			assert.Equal(t, want[i].Kind, e.Kind)
			assert.Equal(t, want[i].Path, e.Path)
			assert.Equal(t, want[i].String(), e.Text)
		}
		last := body.Events[len(body.Events)-1]
		assert.Equal(t, sv.EventStarted, last.Kind, "the latest: attempt 4 started")
		assert.Equal(t, uint64(4), last.Attempt)

		var exit *sv.Exit
		for _, e := range body.Events {
			if e.Exit != nil {
				exit = e.Exit
			}
		}
		require.NotNil(t, exit)
		assert.Equal(t, "panic: kaboom 3", exit.Reason)
		assert.Empty(t, exit.Stack, "no stacks unless allowed")
		withStacks := decode[eventsBody](t, do(New(g, Options{Stacks: true}), "GET", "/events", ""))
		var stack string
		for _, e := range withStacks.Events {
			if e.Exit != nil {
				stack = e.Exit.Stack
			}
		}
		assert.Contains(t, stack, "goroutine")
		evs, _ := g.RecentEvents()
		for _, e := range evs {
			if e.Exit != nil {
				assert.NotEmpty(t, e.Exit.Stack, "the log itself keeps its stacks")
			}
		}

		since := decode[eventsBody](t, do(h, "GET", "/events?since="+strconv.FormatUint(body.Total-2, 10), ""))
		require.Len(t, since.Events, 2)
		assert.Equal(t, body.Events[4:], since.Events)
		assert.Equal(t, http.StatusBadRequest, do(h, "GET", "/events?since=x", "").Code)
	})
}

// TestReadyzBackground: a background member (a slot, or a nested group)
// failing or waiting out its backoff leaves the tree ready, and shows as
// background in the record; the same member not marked takes it out.
func TestReadyzBackground(t *testing.T) {
	for _, background := range []bool{true, false} {
		t.Run("background="+strconv.FormatBool(background), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := newKids()
				g := newTree(t, k)
				cron := sv.Config{Backoff: sv.Backoff{Initial: time.Hour, NoJitter: true}, Background: background}
				_, err := g.Add("cron", func(context.Context, *sv.Attempt) error { return errBoom }, cron)
				require.NoError(t, err)
				batch, err := sv.NewGroup("batch", sv.GroupConfig{Background: background, Intensity: 1, Period: time.Hour})
				require.NoError(t, err)
				_, err = batch.Add("loader", func(context.Context, *sv.Attempt) error { return errBoom }, quick())
				require.NoError(t, err)
				require.NoError(t, g.AddGroup(batch))
				start(t, g)
				h := New(g, Options{})
				runLoopFor(t, g)

				snap := g.Snapshot()
				cronRec, _ := findMember(snap, "/app/cron")
				require.NotNil(t, cronRec.Slot.NextRestartAt, "cron waits out its backoff")
				assert.Equal(t, background, cronRec.Background)
				batchRec, _ := findMember(snap, "/app/batch")
				assert.Equal(t, background, batchRec.Background)

				w := do(h, "GET", "/readyz", "")
				rd := decode[readiness](t, w)
				if background {
					assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
					assert.True(t, rd.Ready)
					assert.Contains(t, do(h, "GET", "/tree", "").Body.String(), `"background":true`)
					return
				}
				assert.Equal(t, http.StatusServiceUnavailable, w.Code)
				var paths []string
				for _, n := range rd.NotReady {
					paths = append(paths, n.Path)
				}
				assert.Contains(t, paths, "/app/cron")
				assert.True(t, slices.ContainsFunc(paths, func(p string) bool { return strings.HasPrefix(p, "/app/batch") }), paths)
				assert.NotContains(t, do(h, "GET", "/tree", "").Body.String(), `"background"`)
			})
		})
	}
}

// runLoopFor advances g's loop a while on the bubble's clock, so that
// failing members fail and restart as they would.
func runLoopFor(t *testing.T, g *sv.Group) {
	t.Helper()
	for range 20 {
		fresh(t, g)
	}
}
