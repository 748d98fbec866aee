package supervisor

import (
	"context"
	"runtime/pprof"
	"testing"
)

// BenchmarkAttemptLabels is what the profiler labels add to an attempt's
// start: its context made from the slot's labelled parent (as a group
// restart sets it: the same context again), and the goroutine taking the
// labels; BenchmarkAttemptLabelsFloor is the context alone.
// The difference is the labels' cost per attempt, to compare with
// BenchmarkGroupStorm's ns/exit.
func BenchmarkAttemptLabels(b *testing.B) {
	s := benchLabelSlot(b)
	defer pprof.SetGoroutineLabels(context.Background())
	b.ReportAllocs()
	parent := s.parent
	for b.Loop() {
		s.parent = s.labelled(parent)
		ctx, cancel := context.WithCancelCause(s.parent)
		pprof.SetGoroutineLabels(ctx)
		cancel(nil)
	}
}

// BenchmarkAttemptLabelsFloor is BenchmarkAttemptLabels without labels.
func BenchmarkAttemptLabelsFloor(b *testing.B) {
	s := benchLabelSlot(b)
	parent := s.parent.(*labelledContext).Context
	b.ReportAllocs()
	for b.Loop() {
		_, cancel := context.WithCancelCause(parent)
		cancel(nil)
	}
}

// benchLabelSlot returns a member slot of /app/jobs with a cancellable
// parent, as a group's members have.
func benchLabelSlot(b *testing.B) *ChildSlot {
	b.Helper()
	app, err := NewGroup("app", GroupConfig{})
	if err != nil {
		b.Fatal(err)
	}
	jobs, err := NewGroup("jobs", GroupConfig{})
	if err != nil {
		b.Fatal(err)
	}
	s, err := jobs.Add("compact", func(context.Context, *Attempt) error { return nil }, Config{})
	if err != nil {
		b.Fatal(err)
	}
	if err := app.AddGroup(jobs); err != nil {
		b.Fatal(err)
	}
	parent, cancel := context.WithCancel(context.Background())
	b.Cleanup(cancel)
	s.parent = s.labelled(parent)
	return s
}
