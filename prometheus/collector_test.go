package prometheus_test

import (
	"context"
	"reflect"
	"strconv"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/childslot/supervisor"
	supervisorprom "github.com/childslot/supervisor/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/prometheus/common/expfmt"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// TestCollectorLint checks every name, type and help string against the
// client's promlint, per member and by group, on the story's tree after
// the story, which shows every metric.
func TestCollectorLint(t *testing.T) {
	for _, cfg := range []supervisorprom.Config{{}, {ByGroup: true}} {
		synctest.Test(t, func(t *testing.T) {
			s := newScript(t)
			app := storyTree(t, s)
			c := supervisorprom.NewCollector(app, cfg)
			require.NoError(t, app.Start(t.Context(), time.Now()))
			looptest.Settle(t, app)
			playStory(t, s, app)
			problems, err := testutil.CollectAndLint(c)
			require.NoError(t, err)
			assert.Empty(t, problems)
			assert.Equal(t, 16, countDescs(c), "every family described")
			assert.Len(t, familyNames(t, c), 16, "and every one collected")
			s.free()
			app.Shutdown(time.Now())
			looptest.Wait(t, app, time.Second)
		})
	}
}

func countDescs(c prometheus.Collector) int {
	ch := make(chan *prometheus.Desc)
	go func() {
		c.Describe(ch)
		close(ch)
	}()
	n := 0
	for range ch {
		n++
	}
	return n
}

func familyNames(t *testing.T, c prometheus.Collector) []string {
	t.Helper()
	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(c))
	mfs, err := reg.Gather()
	require.NoError(t, err)
	var names []string
	for _, mf := range mfs {
		names = append(names, mf.GetName())
	}
	return names
}

// TestCollectorEmpty: a nil group, and a group before its first Advance,
// register (every descriptor valid) and report nothing.
func TestCollectorEmpty(t *testing.T) {
	g, err := supervisor.NewGroup("app", supervisor.GroupConfig{})
	require.NoError(t, err)
	tests := []struct {
		name string
		g    *supervisor.Group
	}{
		{"nil group", nil},
		{"before the first Advance", g},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			c := supervisorprom.NewCollector(tt.g, supervisorprom.Config{})
			require.NoError(t, prometheus.NewPedanticRegistry().Register(c))
			assert.Zero(t, testutil.CollectAndCount(c))
		})
	}
}

// TestCollectorConfig: the namespace and constant labels reach every
// metric, and unconventional ones fail the registration.
func TestCollectorConfig(t *testing.T) {
	tests := []struct {
		name    string
		cfg     supervisorprom.Config
		metric  string // a metric name it gives
		wantErr string // what the registration error says, if it fails
	}{
		{name: "default", metric: "supervisor_member_ready"},
		{name: "namespace", cfg: supervisorprom.Config{Namespace: "acme_jobs"}, metric: "acme_jobs_member_ready"},
		{name: "const labels", cfg: supervisorprom.Config{ConstLabels: prometheus.Labels{"tree": "ingest"}}, metric: "supervisor_member_ready"},
		{name: "by group", cfg: supervisorprom.Config{ByGroup: true}, metric: "supervisor_group_member_ready"},
		{name: "dash in namespace", cfg: supervisorprom.Config{Namespace: "acme-jobs"}, wantErr: `Namespace "acme-jobs"`},
		{name: "digit first", cfg: supervisorprom.Config{Namespace: "1st"}, wantErr: `Namespace "1st"`},
		{name: "dot in label", cfg: supervisorprom.Config{ConstLabels: prometheus.Labels{"k8s.pod": "a"}}, wantErr: `constant label "k8s.pod"`},
		{name: "reserved label", cfg: supervisorprom.Config{ConstLabels: prometheus.Labels{"__name": "a"}}, wantErr: `"__name" is not a valid label name`},
		{name: "label clash", cfg: supervisorprom.Config{ConstLabels: prometheus.Labels{"path": "a"}}, wantErr: "duplicate label names"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				s := newScript(t)
				g, err := supervisor.NewGroup("app", supervisor.GroupConfig{})
				require.NoError(t, err)
				_, err = g.Add("db", s.child("db", false), memberCfg())
				require.NoError(t, err)
				require.NoError(t, g.Start(t.Context(), time.Now()))
				looptest.Settle(t, g)
				defer func() {
					g.Shutdown(time.Now())
					looptest.Settle(t, g)
				}()
				c := supervisorprom.NewCollector(g, tt.cfg)
				err = prometheus.NewPedanticRegistry().Register(c)
				if tt.wantErr != "" {
					require.Error(t, err)
					assert.Contains(t, err.Error(), tt.wantErr)
					return
				}
				require.NoError(t, err)
				assert.Equal(t, 1, testutil.CollectAndCount(c, tt.metric))
				for k, v := range tt.cfg.ConstLabels {
					for name := range values(t, c) {
						assert.Contains(t, name, k+`="`+v+`"`)
					}
				}
			})
		})
	}
}

// TestCollectorTwoTrees: two trees' collectors clash in one registry
// unless constant labels tell them apart.
func TestCollectorTwoTrees(t *testing.T) {
	a, err := supervisor.NewGroup("a", supervisor.GroupConfig{})
	require.NoError(t, err)
	b, err := supervisor.NewGroup("b", supervisor.GroupConfig{})
	require.NoError(t, err)

	reg := prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(supervisorprom.NewCollector(a, supervisorprom.Config{})))
	require.Error(t, reg.Register(supervisorprom.NewCollector(b, supervisorprom.Config{})))

	reg = prometheus.NewPedanticRegistry()
	require.NoError(t, reg.Register(supervisorprom.NewCollector(a, supervisorprom.Config{ConstLabels: prometheus.Labels{"tree": "a"}})))
	require.NoError(t, reg.Register(supervisorprom.NewCollector(b, supervisorprom.Config{ConstLabels: prometheus.Labels{"tree": "b"}})))
}

// TestCollectorFailedGroup: a root whose intensity is spent shows failed,
// its budget used up and nothing up.
func TestCollectorFailedGroup(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		app, err := supervisor.NewGroup("app", supervisor.GroupConfig{Intensity: 1, Period: time.Minute})
		require.NoError(t, err)
		for _, id := range []string{"db", "api"} {
			_, err := app.Add(id, s.child(id, false), memberCfg())
			require.NoError(t, err)
		}
		c := supervisorprom.NewCollector(app, supervisorprom.Config{})
		require.NoError(t, app.Start(t.Context(), time.Now()))
		looptest.Settle(t, app)
		s.end("api", errFail)
		looptest.Settle(t, app)
		s.end("api", errFail) // the second restart in the minute: refused
		looptest.Wait(t, app, time.Second)
		require.ErrorIs(t, app.Err(), supervisor.ErrGroupFailed)
		compare(t, c, `
# HELP supervisor_group_intensity_limit Restarts the group's restart intensity allows within its period; one more fails the group. Absent when the intensity is off.
# TYPE supervisor_group_intensity_limit gauge
supervisor_group_intensity_limit{path="/app"} 1
# HELP supervisor_group_intensity_used Restarts counted against the group's restart intensity within its period: as of the latest snapshot, and 0 once a whole period has passed since the last of them. Absent when the intensity is off.
# TYPE supervisor_group_intensity_used gauge
supervisor_group_intensity_used{path="/app"} 1
# HELP supervisor_group_restarts_total Restarts the group performed over its life; the restart of several members for one failure counts once.
# TYPE supervisor_group_restarts_total counter
supervisor_group_restarts_total{path="/app"} 1
# HELP supervisor_group_state The group's state: 1 for the current one, 0 for the others (idle, starting, running, restarting, shutting_down, stopped, failed).
# TYPE supervisor_group_state gauge
supervisor_group_state{path="/app",state="failed"} 1
supervisor_group_state{path="/app",state="idle"} 0
supervisor_group_state{path="/app",state="restarting"} 0
supervisor_group_state{path="/app",state="running"} 0
supervisor_group_state{path="/app",state="shutting_down"} 0
supervisor_group_state{path="/app",state="starting"} 0
supervisor_group_state{path="/app",state="stopped"} 0
# HELP supervisor_member_ready x
# TYPE supervisor_member_ready gauge
supervisor_member_ready{path="/app/api"} 0
supervisor_member_ready{path="/app/db"} 0
# HELP supervisor_member_state x
# TYPE supervisor_member_state gauge
supervisor_member_state{path="/app/api",state="stopped"} 1
supervisor_member_state{path="/app/db",state="stopped"} 1
`, "supervisor_group_intensity_limit", "supervisor_group_intensity_used", "supervisor_group_restarts_total",
			"supervisor_group_state", "supervisor_member_ready", "supervisor_member_state")
	})
}

// TestCollectorRemovedMember: a removed member's series go with it.
func TestCollectorRemovedMember(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		s := newScript(t)
		app, err := supervisor.NewGroup("app", supervisor.GroupConfig{})
		require.NoError(t, err)
		for _, id := range []string{"db", "api"} {
			_, err := app.Add(id, s.child(id, false), memberCfg())
			require.NoError(t, err)
		}
		c := supervisorprom.NewCollector(app, supervisorprom.Config{})
		require.NoError(t, app.Start(t.Context(), time.Now()))
		looptest.Settle(t, app)
		assert.Equal(t, 2, testutil.CollectAndCount(c, "supervisor_member_state"))
		require.NoError(t, app.Remove("api", time.Now()))
		looptest.Wait(t, app, time.Second)
		compare(t, c, `
# HELP supervisor_group_members Members of the group: its slots, and its nested groups counted once each.
# TYPE supervisor_group_members gauge
supervisor_group_members{path="/app"} 1
# HELP supervisor_member_state x
# TYPE supervisor_member_state gauge
supervisor_member_state{path="/app/db",state="ready"} 1
`, "supervisor_group_members", "supervisor_member_state")
		assert.Equal(t, 1, testutil.CollectAndCount(c, "supervisor_member_restarts_total"), "api's gone")
		app.Shutdown(time.Now())
		looptest.Wait(t, app, time.Second)
	})
}

// TestCollectorEnumsComplete fails when the core gains a group state, an
// exit kind, a status or an operation that the collector does not map.
func TestCollectorEnumsComplete(t *testing.T) {
	_, err := (supervisor.GroupFailed + 1).MarshalText()
	require.Error(t, err, "a GroupState after GroupFailed: add it to groupStates")
	_, err = (supervisor.Abandoned + 1).MarshalText()
	require.Error(t, err, "an ExitKind after Abandoned: add it to collectMembers")
	_, err = (supervisor.StatusCancelling + 1).MarshalText()
	require.Error(t, err, "a Status after StatusCancelling: map it in stateOf")
	_, err = (supervisor.OperationRemoved + 1).MarshalText()
	require.Error(t, err, "an Operation after OperationRemoved: map it in stateOf")
	assert.Equal(t, 7, reflect.TypeFor[supervisor.ExitCounts]().NumField(), "ExitCounts changed: update memberSum.add")

	synctest.Test(t, func(t *testing.T) {
		g, err := supervisor.NewGroup("app", supervisor.GroupConfig{})
		require.NoError(t, err)
		_, err = g.Add("db", newScript(t).child("db", false), memberCfg())
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		c := supervisorprom.NewCollector(g, supervisorprom.Config{})
		assert.Equal(t, int(supervisor.GroupFailed)+1, testutil.CollectAndCount(c, "supervisor_group_state"))
		assert.Zero(t, testutil.CollectAndCount(c, "supervisor_member_exits_total"), "no kind has happened")
		byGroup := supervisorprom.NewCollector(g, supervisorprom.Config{ByGroup: true})
		assert.Equal(t, 6, testutil.CollectAndCount(byGroup, "supervisor_group_member_state"), "every state of the group")
		g.Shutdown(time.Now())
		looptest.Settle(t, g)
	})
}

// TestCollectorScrapeWhileRunning scrapes from 8 goroutines while Run
// restarts a member over and over: no race (under -race), every scrape
// whole and consistent, and the counters never go backwards.
func TestCollectorScrapeWhileRunning(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		flaky := func(ctx context.Context, a *supervisor.Attempt) error {
			select {
			case <-ctx.Done():
				return nil
			case <-time.After(10 * time.Millisecond):
				return errFail
			}
		}
		app, err := supervisor.NewGroup("app", supervisor.GroupConfig{
			Intensity: supervisor.NoIntensity, SnapshotInterval: time.Millisecond,
		})
		require.NoError(t, err)
		cfg := memberCfg()
		cfg.RestartLimit = 1 << 20
		_, err = app.Add("flaky", flaky, cfg)
		require.NoError(t, err)
		_, err = app.Add("db", newScript(t).child("db", false), memberCfg())
		require.NoError(t, err)
		c := supervisorprom.NewCollector(app, supervisorprom.Config{})
		reg := prometheus.NewPedanticRegistry()
		require.NoError(t, reg.Register(c))

		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- app.Run(ctx) }()
		var wg sync.WaitGroup
		for range 8 {
			wg.Go(func() {
				last := -1.0
				for range 50 {
					mfs, err := reg.Gather()
					if err != nil {
						t.Errorf("gather: %v", err)
						return
					}
					// 16 but the intensity's three (it is off), the
					// abandoned pair (none), and exits until the first.
					if n := len(mfs); n != 0 && n != 10 && n != 11 {
						t.Errorf("a scrape of %d families", n)
					}
					for _, mf := range mfs {
						if mf.GetName() != "supervisor_member_restarts_total" {
							continue
						}
						for _, m := range mf.GetMetric() {
							if strings.HasSuffix(m.GetLabel()[0].GetValue(), "/flaky") {
								v := m.GetCounter().GetValue()
								if v < last {
									t.Errorf("restarts went back from %v to %v", last, v)
								}
								last = v
							}
						}
					}
					time.Sleep(3 * time.Millisecond)
				}
			})
		}
		wg.Wait()
		restarts := values(t, c)[`supervisor_member_restarts_total{path="/app/flaky"}`]
		assert.Greater(t, restarts, 10.0, "the story moved while scraped")
		cancel()
		require.NoError(t, <-errc)
	})
}

// TestCollectorBacklog: in a storm larger than one Advance serves, the
// loop's backlog gauges say how far behind it is, and drop to zero once it
// has caught up.
func TestCollectorBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1100 // one Advance collects 1,024 exits
		g, err := supervisor.NewGroup("fleet", supervisor.GroupConfig{Intensity: supervisor.NoIntensity})
		require.NoError(t, err)
		fail := make(chan struct{})
		child := func(ctx context.Context, a *supervisor.Attempt) error {
			if a.Number() == 1 {
				select {
				case <-fail:
					return context.DeadlineExceeded
				case <-ctx.Done():
				}
				return nil
			}
			<-ctx.Done()
			return nil
		}
		cfg := supervisor.Config{Backoff: supervisor.Backoff{Initial: time.Second, Max: time.Second, Multiplier: 2, NoJitter: true}}
		for i := range n {
			_, err := g.Add("m"+strconv.Itoa(i), child, cfg)
			require.NoError(t, err)
		}
		c := supervisorprom.NewCollector(g, supervisorprom.Config{})
		t0 := time.Now()
		require.NoError(t, g.Start(t.Context(), t0))
		g.Advance(t0)
		want := func(exits, starts int, overdue string) string {
			return "# HELP supervisor_loop_backlog_exits x\n# TYPE supervisor_loop_backlog_exits gauge\n" +
				"supervisor_loop_backlog_exits{path=\"/fleet\"} " + strconv.Itoa(exits) + "\n" +
				"# HELP supervisor_loop_backlog_starts x\n# TYPE supervisor_loop_backlog_starts gauge\n" +
				"supervisor_loop_backlog_starts{path=\"/fleet\"} " + strconv.Itoa(starts) + "\n" +
				"# HELP supervisor_loop_overdue_seconds x\n# TYPE supervisor_loop_overdue_seconds gauge\n" +
				"supervisor_loop_overdue_seconds{path=\"/fleet\"} " + overdue + "\n"
		}
		names := []string{"supervisor_loop_backlog_exits", "supervisor_loop_backlog_starts", "supervisor_loop_overdue_seconds"}
		check := func(exits, starts int, overdue, why string) {
			t.Helper()
			got, err := testutil.CollectAndFormat(c, expfmt.TypeTextPlain, names...)
			require.NoError(t, err)
			assert.Equal(t, helpless(want(exits, starts, overdue)), helpless(string(got)), why)
		}
		check(0, 0, "0", "started, caught up")
		close(fail)
		synctest.Wait()
		g.Advance(t0)
		check(n-1024, 0, "0", "a batch of exits collected, the rest queued")
		g.Advance(t0)
		g.Advance(t0.Add(4 * time.Second))
		check(0, 0, "3", "a batch of restarts served 4s in, the rest due since 1s")
		g.Advance(t0.Add(4 * time.Second))
		check(0, 0, "0", "caught up")
		g.Shutdown(time.Now())
		looptest.Wait(t, g, time.Second)
	})
}

// helpless drops the HELP lines of an exposition, which the test does not
// repeat.
func helpless(s string) string {
	var b strings.Builder
	for line := range strings.Lines(s) {
		if !strings.HasPrefix(line, "# HELP") {
			b.WriteString(line)
		}
	}
	return b.String()
}
