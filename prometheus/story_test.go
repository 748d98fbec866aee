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
	want = withHelp(t, c, want)
	require.NoError(t, testutil.CollectAndCompare(c, strings.NewReader(want), names...))
}

// withHelp replaces each "# HELP name x" line of want by the help text c
// describes for name, so that tests need not repeat help texts.
func withHelp(t *testing.T, c prometheus.Collector, want string) string {
	t.Helper()
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	help := map[string]string{}
	for d := range ch {
		// A Desc's String is Desc{fqName: "name", help: "text", ...}.
		s := d.String()
		name, rest, _ := strings.Cut(strings.TrimPrefix(s, `Desc{fqName: "`), `", help: "`)
		text, _, _ := strings.Cut(rest, `", `)
		help[name] = text
	}
	var b strings.Builder
	for line := range strings.Lines(want) {
		if f := strings.Fields(line); len(f) == 4 && f[0] == "#" && f[1] == "HELP" && f[3] == "x" {
			h, ok := help[f[2]]
			require.True(t, ok, "no metric %s", f[2])
			line = "# HELP " + f[2] + " " + h + "\n"
		}
		b.WriteString(line)
	}
	return b.String()
}

// values returns each sample c collects by its name and labels, as the
// text format writes them: `supervisor_member_ready{path="/app/db"}`.
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

// playStory plays the story on app, started: api fails twice and is
// restarted each time; cron panics (restart, its budget of one spent),
// then fails and is quarantined; y fails, and jobs restarts x with it,
// abandoning x's attempt, which ignores cancellation, after its stop
// timeout.
func playStory(t *testing.T, s *script, app *supervisor.Group) {
	t.Helper()
	for _, step := range []struct {
		id  string
		err error
	}{{"api", errFail}, {"api", errFail}, {"cron", errPanic}, {"cron", errFail}, {"y", errFail}} {
		s.end(step.id, step.err)
		looptest.Settle(t, app)
	}
	looptest.Wait(t, app, 5*time.Second)
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
		// A second on, so that the snapshot has every member's Ready: the
		// loop publishes at most once a SnapshotInterval.
		looptest.Wait(t, app, time.Second)
		golden(t, c, "started.prom")

		playStory(t, s, app)
		golden(t, c, "story.prom")
		checkAbandoned(t, c, storyPaths...)

		s.free() // x's abandoned attempt returns at last: a stale report
		looptest.Wait(t, app, time.Second)
		compare(t, c, `
# HELP supervisor_member_abandoned_running x
# TYPE supervisor_member_abandoned_running gauge
supervisor_member_abandoned_running{path="/app/jobs/x"} 0
# HELP supervisor_member_stale_reports_total x
# TYPE supervisor_member_stale_reports_total counter
supervisor_member_stale_reports_total{path="/app/jobs/x"} 1
`, "supervisor_member_abandoned_running", "supervisor_member_stale_reports_total")
		checkAbandoned(t, c, storyPaths...)

		// An operator's Restart of db: a cancelled exit, no restart counted.
		_, err := app.Slot("db").Restart(time.Now())
		require.NoError(t, err)
		looptest.Wait(t, app, time.Second)
		v := values(t, c)
		assert.Equal(t, 1.0, v[`supervisor_member_exits_total{kind="cancelled",path="/app/db"}`])
		assert.Equal(t, 0.0, v[`supervisor_member_restarts_total{path="/app/db"}`])
		assert.Equal(t, 1.0, v[`supervisor_member_state{path="/app/db",state="ready"}`])
		assert.Equal(t, 1.0, v[`supervisor_member_ready{path="/app/db"}`])
		assert.Equal(t, 3.0, v[`supervisor_group_restarts_total{path="/app"}`], "an operator restart is no group restart")
		assert.Equal(t, 3.0, v[`supervisor_group_intensity_used{path="/app"}`])

		// An operator's Resume of cron: out of quarantine and up, no
		// restart counted.
		require.NoError(t, app.Slot("cron").Resume(time.Now()))
		looptest.Wait(t, app, time.Second)
		v = values(t, c)
		assert.NotContains(t, v, `supervisor_member_state{path="/app/cron",state="quarantined"}`)
		assert.Equal(t, 1.0, v[`supervisor_member_state{path="/app/cron",state="ready"}`])
		assert.Equal(t, 1.0, v[`supervisor_member_ready{path="/app/cron"}`])
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
# HELP supervisor_loop_last_advance_timestamp_seconds x
# TYPE supervisor_loop_last_advance_timestamp_seconds gauge
supervisor_loop_last_advance_timestamp_seconds{path="/app"} 946684929
`, "supervisor_group_intensity_used", "supervisor_loop_last_advance_timestamp_seconds")

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
# HELP supervisor_member_state x
# TYPE supervisor_member_state gauge
supervisor_member_state{path="/app/api",state="stopped"} 1
supervisor_member_state{path="/app/cron",state="stopped"} 1
supervisor_member_state{path="/app/db",state="stopped"} 1
supervisor_member_state{path="/app/jobs/x",state="stopped"} 1
supervisor_member_state{path="/app/jobs/y",state="stopped"} 1
`, "supervisor_group_state", "supervisor_member_state")
		checkAbandoned(t, c, storyPaths...)
	})
}

// TestCollectorStoryByGroup plays the story with the member metrics summed
// by group: one series per group and state, the sums of the members'
// counters, exit kinds as they happen.
func TestCollectorStoryByGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		app := storyTree(t, s)
		c := supervisorprom.NewCollector(app, supervisorprom.Config{ByGroup: true})
		require.NoError(t, app.Start(t.Context(), time.Now()))
		looptest.Settle(t, app)
		playStory(t, s, app)
		golden(t, c, "story_bygroup.prom")
		assert.Zero(t, testutil.CollectAndCount(c, "supervisor_member_state"), "no per-member series")
		s.free()
		app.Shutdown(time.Now())
		looptest.Wait(t, app, time.Second)
	})
}

// TestCollectorPaused: a paused member is paused, not down: its state
// says so, it does not serve, and resuming it brings it back to ready.
func TestCollectorPaused(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		app := storyTree(t, s)
		c := supervisorprom.NewCollector(app, supervisorprom.Config{})
		byGroup := supervisorprom.NewCollector(app, supervisorprom.Config{ByGroup: true})
		require.NoError(t, app.Start(t.Context(), time.Now()))
		looptest.Settle(t, app)
		require.NoError(t, app.Slot("db").Pause(time.Now()))
		looptest.Wait(t, app, time.Second)
		compare(t, c, `
# HELP supervisor_member_ready x
# TYPE supervisor_member_ready gauge
supervisor_member_ready{path="/app/api"} 1
supervisor_member_ready{path="/app/cron"} 1
supervisor_member_ready{path="/app/db"} 0
supervisor_member_ready{path="/app/jobs/x"} 1
supervisor_member_ready{path="/app/jobs/y"} 1
# HELP supervisor_member_state x
# TYPE supervisor_member_state gauge
supervisor_member_state{path="/app/api",state="ready"} 1
supervisor_member_state{path="/app/cron",state="ready"} 1
supervisor_member_state{path="/app/db",state="paused"} 1
supervisor_member_state{path="/app/jobs/x",state="ready"} 1
supervisor_member_state{path="/app/jobs/y",state="ready"} 1
`, "supervisor_member_ready", "supervisor_member_state")
		compare(t, byGroup, `
# HELP supervisor_group_member_ready x
# TYPE supervisor_group_member_ready gauge
supervisor_group_member_ready{path="/app"} 2
supervisor_group_member_ready{path="/app/jobs"} 2
# HELP supervisor_group_member_state x
# TYPE supervisor_group_member_state gauge
supervisor_group_member_state{path="/app",state="paused"} 1
supervisor_group_member_state{path="/app",state="quarantined"} 0
supervisor_group_member_state{path="/app",state="ready"} 2
supervisor_group_member_state{path="/app",state="restarting"} 0
supervisor_group_member_state{path="/app",state="running"} 0
supervisor_group_member_state{path="/app",state="stopped"} 0
supervisor_group_member_state{path="/app/jobs",state="paused"} 0
supervisor_group_member_state{path="/app/jobs",state="quarantined"} 0
supervisor_group_member_state{path="/app/jobs",state="ready"} 2
supervisor_group_member_state{path="/app/jobs",state="restarting"} 0
supervisor_group_member_state{path="/app/jobs",state="running"} 0
supervisor_group_member_state{path="/app/jobs",state="stopped"} 0
`, "supervisor_group_member_ready", "supervisor_group_member_state")
		require.NoError(t, app.Slot("db").Resume(time.Now()))
		looptest.Wait(t, app, time.Second)
		v := values(t, c)
		assert.Equal(t, 1.0, v[`supervisor_member_state{path="/app/db",state="ready"}`])
		assert.Equal(t, 1.0, v[`supervisor_member_ready{path="/app/db"}`])
		app.Shutdown(time.Now())
		looptest.Wait(t, app, time.Second)
	})
}
