package main

import (
	"context"
	"errors"
	"runtime"
	"sync/atomic"
	"time"

	"github.com/childslot/supervisor"
)

// The -storm run: every child parks (blocks on a channel, as a server
// waits for work) until all n are parked; the library's memory per child
// is measured then; then every child fails at once. The run ends once each
// one has been restarted after its backoff and has parked again, and the
// summary gives the time and CPU that took and how late the restarts'
// deadlines were served.

var errStorm = errors.New("storm: the upstream every child uses went away")

// storm is the state the parked children, the storm's driver goroutine
// and the loop's OnEvent share.
type storm struct {
	n      int
	gate   atomic.Pointer[chan struct{}] // what a parked child waits on; closed by the storm
	parked atomic.Int64                  // children parked right now
	failed atomic.Int64                  // children the storm failed
	on     atomic.Bool                   // from the storm until it has drained

	// Written by the driver; read after Run returns.
	parkedMem runtime.MemStats // every child parked
	drainWall time.Duration    // from the storm until every child parked again
	drainCPU  time.Duration    // the process's CPU time over the same span
	drained   bool
	peak      supervisor.Backlog // the largest exits queued and overdue the loop reported during the storm (it starts nothing new)

	late *lateness // the restarts' lateness during the storm
}

func newStorm(n int) *storm {
	s := &storm{n: n, late: newLateness(n)}
	gate := make(chan struct{})
	s.gate.Store(&gate)
	return s
}

// child parks until the storm or its cancellation.
func (s *storm) child(ctx context.Context, _ *supervisor.Attempt) error {
	gate := *s.gate.Load()
	s.parked.Add(1)
	defer s.parked.Add(-1)
	select {
	case <-ctx.Done():
		return ctx.Err()
	case <-gate:
		s.failed.Add(1)
		return errStorm
	}
}

// config is the fleet's slot config without an AttemptTimeout: a parked
// child is a server waiting for work, not a job that overran.
func (s *storm) config() supervisor.Config {
	c := config()
	c.AttemptTimeout = 0
	return c
}

// record passes the storm's events to its lateness tracker. It runs on
// the loop's goroutine.
func (s *storm) record(e supervisor.Event) {
	if s.on.Load() {
		s.late.record(e)
	}
}

// drive waits until every child has parked, measures memory, lets the storm
// loose, waits until every child has parked again, sampling g's Backlog on
// the way, and cancels the run.
// It returns early when ctx ends.
func (s *storm) drive(ctx context.Context, cancel context.CancelCauseFunc, g *supervisor.Group) {
	tick := time.NewTicker(5 * time.Millisecond)
	defer tick.Stop()
	wait := func(cond func() bool) bool {
		for !cond() {
			select {
			case <-ctx.Done():
				return false
			case <-tick.C:
			}
		}
		return true
	}
	n := int64(s.n)
	if !wait(func() bool { return s.parked.Load() == n }) {
		return
	}
	runtime.GC()
	runtime.ReadMemStats(&s.parkedMem)

	cpu, _ := cpuTime()
	s.on.Store(true)
	began := time.Now()
	old := s.gate.Load()
	fresh := make(chan struct{})
	s.gate.Store(&fresh) // restarted children park on the new gate
	close(*old)
	drainedNow := func() bool {
		b := g.Health(time.Now()).Backlog
		s.peak.Exits = max(s.peak.Exits, b.Exits)
		s.peak.Overdue = max(s.peak.Overdue, b.Overdue)
		return s.failed.Load() == n && s.parked.Load() == n
	}
	if !wait(drainedNow) {
		return
	}
	s.drainWall = time.Since(began)
	cpuEnd, _ := cpuTime()
	s.drainCPU = cpuEnd - cpu
	s.on.Store(false)
	s.drained = true
	cancel(errDuration)
}
