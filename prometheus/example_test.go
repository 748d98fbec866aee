package prometheus_test

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/childslot/supervisor"
	supervisorprom "github.com/childslot/supervisor/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// The collector goes in a registry like any other, served by promhttp. A
// member that fails once shows its restart and its exit by kind, and
// its state once restarted.
func ExampleNewCollector() {
	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{SnapshotInterval: time.Millisecond})
	if err != nil {
		fmt.Println(err)
		return
	}
	flaky := func(ctx context.Context, a *supervisor.Attempt) error {
		if a.Number() == 1 {
			return errors.New("connection reset")
		}
		<-ctx.Done()
		return nil
	}
	if _, err := app.Add("queue", flaky, supervisor.Config{Backoff: supervisor.Backoff{NoDelay: true}}); err != nil {
		fmt.Println(err)
		return
	}

	reg := prometheus.NewRegistry()
	reg.MustRegister(supervisorprom.NewCollector(app, supervisorprom.Config{}))
	metrics := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})

	if err := app.Start(context.Background(), time.Now()); err != nil {
		fmt.Println(err)
		return
	}
	advanceUntil(app, func(r *supervisor.GroupRecord) bool { return r.Members[0].Slot.Attempt == 2 })

	rec := httptest.NewRecorder()
	metrics.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
	sc := bufio.NewScanner(rec.Body)
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(line, "supervisor_member_") && !strings.HasSuffix(line, " 0") {
			fmt.Println(line)
		}
	}

	app.Shutdown(time.Now())
	advanceUntil(app, func(r *supervisor.GroupRecord) bool { return r.State == supervisor.GroupStopped })
	// Output:
	// supervisor_member_exits_total{kind="failed",path="/app/queue"} 1
	// supervisor_member_ready{path="/app/queue"} 1
	// supervisor_member_restarts_total{path="/app/queue"} 1
	// supervisor_member_state{path="/app/queue",state="running"} 1
}

// advanceUntil is a loop of the caller's own around Advance: it waits on
// Wake and the next deadline until the published snapshot satisfies done.
func advanceUntil(g *supervisor.Group, done func(*supervisor.GroupRecord) bool) {
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for r := g.Snapshot(); r == nil || !done(r); r = g.Snapshot() {
		if at, ok := g.NextDeadline(); ok {
			timer.Reset(time.Until(at))
		} else {
			timer.Stop()
		}
		select {
		case <-g.Wake():
		case <-timer.C:
		}
		g.Advance(time.Now())
	}
}
