package prometheus_test

import (
	"bytes"
	"flag"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor"
	supervisorprom "github.com/childslot/supervisor/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	dto "github.com/prometheus/client_model/go"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

var update = flag.Bool("update", false, "rewrite the golden expositions in testdata/")

// storyTree builds the tree of the story: /app (one_for_one, intensity 10
// a minute) with members db, api, cron (restart limit 1) and the nested
// group /app/jobs (one_for_all, intensity off) with x, which ignores
// cancellation for a while (stop timeout 1s), and y.
func storyTree(t *testing.T, s *script) *supervisor.Group {
	t.Helper()
	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{Intensity: 10, Period: time.Minute})
	require.NoError(t, err)
	for _, id := range []string{"db", "api"} {
		_, err := app.Add(id, s.child(id, false), memberCfg())
		require.NoError(t, err)
	}
	cron := memberCfg()
	cron.RestartLimit = 1
	_, err = app.Add("cron", s.child("cron", false), cron)
	require.NoError(t, err)
	jobs, err := supervisor.NewGroup("jobs", supervisor.GroupConfig{
		Strategy: supervisor.OneForAll, Intensity: supervisor.NoIntensity,
	})
	require.NoError(t, err)
	x := memberCfg()
	x.StopTimeout = time.Second
	_, err = jobs.Add("x", s.child("x", true), x)
	require.NoError(t, err)
	_, err = jobs.Add("y", s.child("y", false), memberCfg())
	require.NoError(t, err)
	require.NoError(t, app.AddGroup(jobs))
	return app
}

// exposition returns every metric c collects in the text format. (The
// client's CollectAndFormat keeps only the names it is given, so with none
// it gives nothing.)
func exposition(t *testing.T, c prometheus.Collector) []byte {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var b bytes.Buffer
	enc := expfmt.NewEncoder(&b, expfmt.NewFormat(expfmt.TypeTextPlain))
	for _, mf := range mfs {
		require.NoError(t, enc.Encode(mf))
	}
	return b.Bytes()
}

// golden compares everything c collects with testdata/name, or rewrites
// it under -update.
func golden(t *testing.T, c prometheus.Collector, name string) {
	t.Helper()
	path := filepath.Join("testdata", name)
	if *update {
		require.NoError(t, os.WriteFile(path, exposition(t, c), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	require.NoError(t, testutil.CollectAndCompare(c, bytes.NewReader(want)))
}

// compare checks the families named in want, a text exposition, against
// what c collects.
func compare(t *testing.T, c prometheus.Collector, want string, names ...string) {
	t.Helper()
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))
}

// values returns each sample c collects by its name and labels, as the
// text format writes them: `supervisor_member_up{path="/app/db"}`.
func values(t *testing.T, c prometheus.Collector) map[string]float64 {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var labels []string
			for _, l := range m.GetLabel() {
				labels = append(labels, l.GetName()+`="`+l.GetValue()+`"`)
			}
			out[mf.GetName()+"{"+strings.Join(labels, ",")+"}"] = sampleValue(mf.GetType(), m)
		}
	}
	return out
}

func sampleValue(typ dto.MetricType, m *dto.Metric) float64 {
	if typ == dto.MetricType_COUNTER {
		return m.GetCounter().GetValue()
	}
	return m.GetGauge().GetValue()
}

// checkAbandoned checks, for every member slot, that each attempt ever
// abandoned is either still running or has returned late.
func checkAbandoned(t *testing.T, c prometheus.Collector, paths ...string) {
	t.Helper()
	v := values(t, c)
	for _, p := range paths {
		l := `{path="` + p + `"}`
		assert.Equal(t, v[`supervisor_member_exits_total{kind="abandoned",path="`+p+`"}`],
			v["supervisor_member_abandoned_running"+l]+v["supervisor_member_stale_reports_total"+l], p)
	}
}

var storyPaths = []string{"/app/db", "/app/api", "/app/cron", "/app/jobs/x", "/app/jobs/y"}

// TestCollectorStory drives a real tree through a scripted story and
// checks the exact values of every metric along the way.
func TestCollectorStory(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		app := storyTree(t, s)
		c := supervisorprom.NewCollector(app, supervisorprom.Config{})
		assert.Zero(t, testutil.CollectAndCount(c), "no snapshot before the first Advance: nothing")

		require.NoError(t, app.Start(t.Context(), time.Now()))
		looptest.Settle(t, app)
		golden(t, c, "started.prom")

		// api fails twice and is restarted each time; cron panics (restart,
		// its budget of one spent), then fails and is quarantined; y fails,
		// and jobs restarts x with it, abandoning x's attempt, which ignores
		// cancellation, after its stop timeout.
		for _, step := range []struct {
			id  string
			err error
		}{{"api", errFail}, {"api", errFail}, {"cron", errPanic}, {"cron", errFail}, {"y", errFail}} {
			s.end(step.id, step.err)
			looptest.Settle(t, app)
		}
		looptest.Wait(t, app, 5*time.Second)
		golden(t, c, "story.prom")
		checkAbandoned(t, c, storyPaths...)

		s.free() // x's abandoned attempt returns at last: a stale report
		looptest.Wait(t, app, time.Second)
		compare(t, c, `
# HELP supervisor_member_abandoned_running Abandoned attempts of the member slot (which ignored cancellation past their stop timeout) whose goroutine has not been seen to return yet.
# TYPE supervisor_member_abandoned_running gauge
supervisor_member_abandoned_running{path="/app/api"} 0
supervisor_member_abandoned_running{path="/app/cron"} 0
supervisor_member_abandoned_running{path="/app/db"} 0
supervisor_member_abandoned_running{path="/app/jobs/x"} 0
supervisor_member_abandoned_running{path="/app/jobs/y"} 0
# HELP supervisor_member_stale_reports_total Abandoned attempts of the member slot that returned after all, each recorded as a stale report.
# TYPE supervisor_member_stale_reports_total counter
supervisor_member_stale_reports_total{path="/app/api"} 0
supervisor_member_stale_reports_total{path="/app/cron"} 0
supervisor_member_stale_reports_total{path="/app/db"} 0
supervisor_member_stale_reports_total{path="/app/jobs/x"} 1
supervisor_member_stale_reports_total{path="/app/jobs/y"} 0
`, "supervisor_member_abandoned_running", "supervisor_member_stale_reports_total")
		checkAbandoned(t, c, storyPaths...)

		// An operator's Restart of db: a cancelled exit, no restart counted.
		_, err := app.Slot("db").Restart(time.Now())
		require.NoError(t, err)
		looptest.Wait(t, app, time.Second)
		v := values(t, c)
		assert.Equal(t, 1.0, v[`supervisor_member_exits_total{kind="cancelled",path="/app/db"}`])
		assert.Equal(t, 0.0, v[`supervisor_member_restarts_total{path="/app/db"}`])
		assert.Equal(t, 1.0, v[`supervisor_member_up{path="/app/db"}`])
		assert.Equal(t, 3.0, v[`supervisor_group_restarts_total{path="/app"}`], "an operator restart is no group restart")
		assert.Equal(t, 3.0, v[`supervisor_group_intensity_used{path="/app"}`])

		// An operator's Resume of cron: out of quarantine and up, no
		// restart counted.
		require.NoError(t, app.Slot("cron").Resume(time.Now()))
		looptest.Wait(t, app, time.Second)
		v = values(t, c)
		assert.Equal(t, 0.0, v[`supervisor_member_quarantined{path="/app/cron"}`])
		assert.Equal(t, 1.0, v[`supervisor_member_up{path="/app/cron"}`])
		assert.Equal(t, 1.0, v[`supervisor_member_restarts_total{path="/app/cron"}`])

		// A quiet tree republishes its snapshot once a pulse, so its
		// restarts leave the intensity's period in the metrics too.
		before := app.Snapshot()
		looptest.Wait(t, app, 2*time.Minute)
		require.NotSame(t, before, app.Snapshot(), "republished once a pulse")
		compare(t, c, `
# HELP supervisor_group_intensity_used Restarts counted against the group's restart intensity within its period: as of the latest snapshot, and 0 once a whole period has passed since the last of them. Absent when the intensity is off.
# TYPE supervisor_group_intensity_used gauge
supervisor_group_intensity_used{path="/app"} 0
# HELP supervisor_last_advance_timestamp_seconds Unix time of the latest Advance of the tree's loop; a loop that stops advancing leaves every other value as it was and shows here.
# TYPE supervisor_last_advance_timestamp_seconds gauge
supervisor_last_advance_timestamp_seconds{path="/app"} 946684928
`, "supervisor_group_intensity_used", "supervisor_last_advance_timestamp_seconds")

		app.Shutdown(time.Now())
		looptest.Wait(t, app, time.Second)
		require.True(t, app.Finished())
		compare(t, c, `
# HELP supervisor_group_state The group's state: 1 for the current one, 0 for the others (idle, starting, running, restarting, shutting_down, stopped, failed).
# TYPE supervisor_group_state gauge
supervisor_group_state{path="/app",state="failed"} 0
supervisor_group_state{path="/app",state="idle"} 0
supervisor_group_state{path="/app",state="restarting"} 0
supervisor_group_state{path="/app",state="running"} 0
supervisor_group_state{path="/app",state="shutting_down"} 0
supervisor_group_state{path="/app",state="starting"} 0
supervisor_group_state{path="/app",state="stopped"} 1
supervisor_group_state{path="/app/jobs",state="failed"} 0
supervisor_group_state{path="/app/jobs",state="idle"} 0
supervisor_group_state{path="/app/jobs",state="restarting"} 0
supervisor_group_state{path="/app/jobs",state="running"} 0
supervisor_group_state{path="/app/jobs",state="shutting_down"} 0
supervisor_group_state{path="/app/jobs",state="starting"} 0
supervisor_group_state{path="/app/jobs",state="stopped"} 1
# HELP supervisor_member_up Whether the member slot has an attempt running (status starting, running or ready): 1 or 0.
# TYPE supervisor_member_up gauge
supervisor_member_up{path="/app/api"} 0
supervisor_member_up{path="/app/cron"} 0
supervisor_member_up{path="/app/db"} 0
supervisor_member_up{path="/app/jobs/x"} 0
supervisor_member_up{path="/app/jobs/y"} 0
`, "supervisor_group_state", "supervisor_member_up")
		checkAbandoned(t, c, storyPaths...)
	})
}
