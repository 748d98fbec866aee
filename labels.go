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

// profileLabels is a slot's labels, made once per path, and the parent
// of its attempts' contexts, made once per parent context.
type profileLabels struct {
	path, group string
	labels      context.Context // carries the labels and nothing else
	// parent is the slot's parent context that ctx was made from;
	// comparable says whether its dynamic type is, so that comparing it
	// with the slot's parent cannot panic.
	parent     context.Context
	comparable bool
	ctx        context.Context // labelled{parent, labels}
}

// attemptParent returns the parent of the next attempt's context: the
// slot's parent context with its profiler labels. It runs on the loop's
// goroutine, which owns the slot's path and group. It allocates only when
// the slot's path or parent context changed, not for each attempt.
func (s *ChildSlot) attemptParent() context.Context {
	group := ""
	if s.grp != nil {
		group = s.grp.path
	}
	l := &s.labels
	if l.labels == nil || l.path != s.cfg.Path || l.group != group {
		set := pprof.Labels(ProfileLabelPath, s.cfg.Path)
		if group != "" {
			set = pprof.Labels(ProfileLabelPath, s.cfg.Path, ProfileLabelGroup, group)
		}
		*l = profileLabels{path: s.cfg.Path, group: group, labels: pprof.WithLabels(context.Background(), set)}
	}
	// Interfaces of different dynamic types compare unequal; of the same
	// type, they compare without panicking when the type is comparable.
	if l.ctx == nil || !l.comparable || l.parent != s.parent {
		l.parent, l.comparable = s.parent, s.parent != nil && reflect.TypeOf(s.parent).Comparable()
		l.ctx = labelled{Context: s.parent, labels: l.labels}
	}
	return l.ctx
}

// labelled is a context with the values, deadline and cancellation of
// Context, and the profiler labels of labels, which carries nothing else.
// Made once per parent, it costs no allocation per attempt, where
// pprof.WithLabels on each attempt's context would cost four.
type labelled struct {
	context.Context
	labels context.Context
}

// Value returns the labels for pprof's key, and Context's value for any
// other.
func (c labelled) Value(key any) any {
	if v := c.labels.Value(key); v != nil {
		return v
	}
	return c.Context.Value(key)
}

// runLabelled is attempt a's goroutine: it takes the profiler labels of
// ctx, which descends from attemptParent, and runs the attempt.
func runLabelled(a *Attempt, ctx context.Context) {
	pprof.SetGoroutineLabels(ctx)
	a.run(ctx)
}
