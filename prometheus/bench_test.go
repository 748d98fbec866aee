package prometheus_test

import (
	"context"
	"fmt"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/childslot/supervisor"
	supervisorprom "github.com/childslot/supervisor/prometheus"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
)

// benchTree starts a tree of n member slots that run until cancelled, and
// shuts it down when b ends.
func benchTree(b *testing.B, n int) *supervisor.Group {
	b.Helper()
	g, err := supervisor.NewGroup("app", supervisor.GroupConfig{})
	if err != nil {
		b.Fatal(err)
	}
	idle := func(ctx context.Context, _ *supervisor.Attempt) error {
		<-ctx.Done()
		return nil
	}
	for i := range n {
		if _, err := g.Add(fmt.Sprintf("m%04d", i), idle, supervisor.Config{}); err != nil {
			b.Fatal(err)
		}
	}
	if err := g.Start(context.Background(), time.Now()); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		g.Shutdown(time.Now())
		advanceUntil(g, func(r *supervisor.GroupRecord) bool { return r.State == supervisor.GroupStopped })
	})
	return g
}

// BenchmarkGather is a scrape of a 1,000-member tree through a registry,
// as promhttp makes it: 3 series per member that has not exited yet.
func BenchmarkGather(b *testing.B) {
	g := benchTree(b, 1000)
	reg := prometheus.NewRegistry()
	reg.MustRegister(supervisorprom.NewCollector(g, supervisorprom.Config{}))
	b.ReportAllocs()
	for b.Loop() {
		if _, err := reg.Gather(); err != nil {
			b.Fatal(err)
		}
	}
}

// BenchmarkCollect is the collector's own part of it: building the const
// metrics, sent to a channel that a goroutine drains, as a registry does.
func BenchmarkCollect(b *testing.B) {
	g := benchTree(b, 1000)
	c := supervisorprom.NewCollector(g, supervisorprom.Config{})
	ch := make(chan prometheus.Metric, 1024)
	done := make(chan int)
	go func() {
		n := 0
		for range ch {
			n++
		}
		done <- n
	}()
	b.ReportAllocs()
	for b.Loop() {
		c.Collect(ch)
	}
	close(ch)
	<-done
}

// BenchmarkCollectFloor is the floor of BenchmarkCollect: the same walk of
// the snapshot, reading the same fields, with no metric built or sent.
func BenchmarkCollectFloor(b *testing.B) {
	g := benchTree(b, 1000)
	var sink uint64
	b.ReportAllocs()
	for b.Loop() {
		r := g.Snapshot()
		sink += r.Restarts + uint64(r.State)
		for i := range r.Members {
			m := &r.Members[i]
			s := m.Slot
			sink += uint64(s.Status) + uint64(s.Operation) + s.Restarts + uint64(s.Abandoned) + s.StaleReports
			sink += m.Exits.Total() + uint64(len(s.Path))
		}
	}
	_ = sink
}

// BenchmarkScrape10k is a whole scrape through promhttp of a tree of
// 10,000 running members that have not exited yet, per member and by
// group; it reports the series and the bytes of the text exposition. (Each
// exit kind that a member has seen adds one series per member.)
func BenchmarkScrape10k(b *testing.B) {
	g := benchTree(b, 10000)
	advanceUntil(g, func(r *supervisor.GroupRecord) bool { return r.State == supervisor.GroupRunning })
	for _, cfg := range []struct {
		name string
		cfg  supervisorprom.Config
	}{{"per_member", supervisorprom.Config{}}, {"by_group", supervisorprom.Config{ByGroup: true}}} {
		b.Run(cfg.name, func(b *testing.B) {
			reg := prometheus.NewRegistry()
			reg.MustRegister(supervisorprom.NewCollector(g, cfg.cfg))
			h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
			var size, series int
			for b.Loop() {
				rec := httptest.NewRecorder()
				h.ServeHTTP(rec, httptest.NewRequest("GET", "/metrics", nil))
				body := rec.Body.String()
				size = len(body)
				series = 0
				for line := range strings.Lines(body) {
					if !strings.HasPrefix(line, "#") {
						series++
					}
				}
			}
			b.ReportMetric(float64(series), "series")
			b.ReportMetric(float64(size), "bytes/scrape")
		})
	}
}
