package supervisor_test

import (
	"bytes"
	"context"
	"runtime/pprof"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor"
	"github.com/childslot/supervisor/internal/looptest"
)

// TestProfileLabels: a member's goroutine, the goroutines it starts and
// its context carry its path and its group's path, and the goroutine
// profile names them; a slot on its own carries its path.
func TestProfileLabels(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		type seen struct{ path, group, inner, innerGroup string }
		got := make(chan seen, 1)
		release := make(chan struct{})
		child := func(ctx context.Context, _ *supervisor.Attempt) error {
			var s seen
			s.path, _ = pprof.Label(ctx, supervisor.ProfileLabelPath)
			s.group, _ = pprof.Label(ctx, supervisor.ProfileLabelGroup)
			// pprof.Do within the child adds a label to the member's.
			pprof.Do(ctx, pprof.Labels("step", "flush"), func(ctx context.Context) {
				s.inner, _ = pprof.Label(ctx, supervisor.ProfileLabelPath)
				s.innerGroup, _ = pprof.Label(ctx, "step")
			})
			started := make(chan struct{})
			go func() { // a goroutine of the child's inherits the labels
				close(started)
				<-release
			}()
			<-started
			got <- s
			<-ctx.Done()
			return nil
		}
		app, err := supervisor.NewGroup("app", supervisor.GroupConfig{})
		require.NoError(t, err)
		jobs, err := supervisor.NewGroup("jobs", supervisor.GroupConfig{})
		require.NoError(t, err)
		_, err = jobs.Add("compact", child, supervisor.Config{})
		require.NoError(t, err)
		require.NoError(t, app.AddGroup(jobs))
		require.NoError(t, app.Start(t.Context(), time.Now()))
		looptest.Settle(t, app)
		assert.Equal(t, seen{"/app/jobs/compact", "/app/jobs", "/app/jobs/compact", "flush"}, <-got)

		var dump bytes.Buffer
		require.NoError(t, pprof.Lookup("goroutine").WriteTo(&dump, 1))
		// Both the member's goroutine and the one it started.
		assert.Equal(t, 2, bytes.Count(dump.Bytes(),
			[]byte(`labels: {"supervisor_group":"/app/jobs", "supervisor_path":"/app/jobs/compact"}`)), dump.String())

		close(release)
		app.Shutdown(time.Now())
		looptest.Wait(t, app, time.Second)
	})
}

// TestProfileLabelsSlot: a slot outside any group carries its path only.
func TestProfileLabelsSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		got := make(chan [2]string, 1)
		slot, err := supervisor.NewChildSlot("ingest", func(ctx context.Context, _ *supervisor.Attempt) error {
			p, _ := pprof.Label(ctx, supervisor.ProfileLabelPath)
			g, ok := pprof.Label(ctx, supervisor.ProfileLabelGroup)
			if ok {
				g = "group " + g
			}
			got <- [2]string{p, g}
			return nil
		}, supervisor.Config{})
		require.NoError(t, err)
		require.NoError(t, slot.Start(t.Context(), time.Now()))
		assert.Equal(t, [2]string{"/ingest", ""}, <-got)
		synctest.Wait()
		slot.Advance(time.Now())
	})
}
