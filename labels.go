package supervisor

import (
	"context"
	"reflect"
	"runtime/pprof"
)

// The profiler labels every attempt's goroutine carries (runtime/pprof),
// so that CPU profiles and goroutine profiles name the member each
// goroutine runs for. Goroutines the child starts inherit them, and the
// child's context carries them, so that pprof.Do within the child adds to
// them rather than replacing them.
const (
	// ProfileLabelPath is the label of the slot's path: "/app/jobs/x".
	ProfileLabelPath = "supervisor_path"
	// ProfileLabelGroup is the label of the path of the slot's group,
	// "/app/jobs", on member slots only.
	ProfileLabelGroup = "supervisor_group"
)

// labelled returns ctx with the slot's profiler labels, to be its parent
// context, from which every attempt's context derives. It runs on the
// loop's goroutine, which owns the slot's path and group. It reuses the
// slot's current parent when that is ctx labelled already, and its label
// set when the path is the same, so that a group restarting a member with
// the same context allocates nothing.
func (s *ChildSlot) labelled(ctx context.Context) context.Context {
	group := ""
	if s.m != nil {
		group = s.grp.path
	}
	old, ok := s.parent.(*labelledContext)
	if !ok || old.path != s.cfg.Path || old.group != group {
		set := pprof.Labels(ProfileLabelPath, s.cfg.Path)
		if group != "" {
			set = pprof.Labels(ProfileLabelPath, s.cfg.Path, ProfileLabelGroup, group)
		}
		return &labelledContext{Context: ctx, labels: pprof.WithLabels(context.Background(), set), path: s.cfg.Path, group: group}
	}
	// Interfaces of different dynamic types compare unequal; of the same
	// type, they compare without panicking when the type is comparable.
	if ctx != nil && reflect.TypeOf(ctx).Comparable() && old.Context == ctx {
		return old
	}
	return &labelledContext{Context: ctx, labels: old.labels, path: old.path, group: old.group}
}

// labelledContext is a context with the values, deadline and cancellation
// of Context, and the profiler labels of labels, which carries nothing
// else.
type labelledContext struct {
	context.Context
	labels      context.Context
	path, group string // what labels says
}

// Value returns the labels for pprof's key, and Context's value for any
// other.
func (c *labelledContext) Value(key any) any {
	if v := c.labels.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// runLabelled is attempt a's goroutine: it takes the profiler labels of
// ctx, which descends from the slot's labelled parent, and runs the
// attempt.
func runLabelled(a *Attempt, ctx context.Context) {
	pprof.SetGoroutineLabels(ctx)
	a.run(ctx)
}
