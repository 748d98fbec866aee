package supervisor

import (
	"context"
	"fmt"
	"sync/atomic"
	"time"
)

// Dynamic children: members added and removed from any goroutine while the
// tree runs, as Elixir's DynamicSupervisor and OTP's simple_one_for_one
// do. StartChild and StopChild hand a request to the tree's loop and wait,
// within the caller's ctx, for its answer; the loop takes the requests at
// its next Advance, at most a batch of them each time.

// childRequest is a StartChild or StopChild on its way to the loop.
type childRequest struct {
	g     *Group
	id    string
	fn    ChildFunc // nil: a stop
	cfg   Config
	state atomic.Int32 // reqPending, reqTaken or reqWithdrawn
	done  chan childAnswer
	m     *member // the member concerned, once taken
}

const (
	reqPending int32 = iota
	reqTaken
	reqWithdrawn
)

// childAnswer is the loop's answer to a childRequest.
type childAnswer struct {
	outcome ShutdownOutcome
	err     error
}

// StartChild adds a member slot named id that supervises fn to g and
// starts it, from any goroutine, under Run or a hand-written loop. It
// returns once the loop has started the member (for one whose readiness is
// watched, Config.ReadyTimeout: once it is ready), or with why not: the
// errors of [Group.Add] (ErrInvalidConfig, a duplicate id), [ErrMaxChildren],
// [ErrGroupStopped] when the tree has ended or g shuts down before the
// member started (the member is then removed, so that the id is free),
// [ErrStartFailed] (wrapping the exit) when its first attempt ended before
// it started or was ready (the member is then removed), or ctx's error. A
// request the loop has not taken when ctx ends is withdrawn and changes
// nothing; one it has taken goes on (look for the member in a Snapshot).
//
// A member started with StartChild leaves g when it ends for good (a
// transient one that ends normally, a temporary one, one that returns
// ErrDoNotRestart), freeing its id and its place under MaxChildren. A call
// never refuses for a busy loop: it waits. It must not be made on the
// loop's own goroutine (from a listener, say), which would wait for
// itself: use Add there.
func (g *Group) StartChild(ctx context.Context, id string, fn ChildFunc, cfg Config) error {
	if fn == nil {
		return fmt.Errorf("%w: member %q: nil ChildFunc", ErrInvalidConfig, id)
	}
	_, err := g.request(ctx, &childRequest{g: g, id: id, fn: fn, cfg: cfg})
	return err
}

// StopChild stops the member named id of g (a nested group by its ordered
// shutdown) and removes it, from any goroutine, and returns how it ended
// once it is gone: a member waiting out its backoff is removed at once
// (OutcomeAlreadyStopped) and its planned restart dropped. It returns
// [ErrUnknownMember] when g has no such member, [ErrGroupStopped] when the
// tree has ended, or ctx's error (see StartChild for what a withdrawn
// request means). Like StartChild, it must not be called on the loop's
// goroutine.
func (g *Group) StopChild(ctx context.Context, id string) (ShutdownOutcome, error) {
	return g.request(ctx, &childRequest{g: g, id: id})
}

// request hands r to the loop of g's tree and waits for its answer.
func (g *Group) request(ctx context.Context, r *childRequest) (ShutdownOutcome, error) {
	switch {
	case !g.valid():
		return 0, errZeroGroup
	case ctx == nil:
		return 0, fmt.Errorf("%w: nil context", ErrInvalidConfig)
	}
	r.done = make(chan childAnswer, 1)
	t := g.t
	q := &t.cmds
	q.mu.Lock()
	if q.closed {
		q.mu.Unlock()
		return 0, fmt.Errorf("tree %q: %w", t.rootPath, ErrGroupStopped)
	}
	q.children = append(q.children, r)
	q.mu.Unlock()
	t.q.wake()
	select {
	case a := <-r.done:
		return a.outcome, a.err
	case <-ctx.Done():
		if r.state.CompareAndSwap(reqPending, reqWithdrawn) {
			return 0, ctx.Err()
		}
		select { // taken: an answer that is ready wins
		case a := <-r.done:
			return a.outcome, a.err
		default:
			return 0, ctx.Err()
		}
	}
}

// answer gives r its answer, once.
func (r *childRequest) answer(o ShutdownOutcome, err error) {
	r.done <- childAnswer{outcome: o, err: err}
	r.m = nil
}

// takeChildren carries out at most a batch of the requests submitted since
// the last Advance; what is left waits for the next (NextDeadline asks for
// it at once).
func (t *tree) takeChildren(now time.Time) {
	q := &t.cmds
	q.mu.Lock()
	n := min(len(q.children), advanceBatch)
	t.reqBuf = append(t.reqBuf[:0], q.children[:n]...)
	rest := copy(q.children, q.children[n:])
	clear(q.children[rest:])
	q.children = q.children[:rest]
	t.startsLeft = t.startsLeft || rest > 0
	q.mu.Unlock()
	for i, r := range t.reqBuf {
		t.reqBuf[i] = nil
		if !r.state.CompareAndSwap(reqPending, reqTaken) {
			continue // withdrawn
		}
		t.changed = true
		if err := t.takeChild(r, now); err != nil {
			r.answer(0, err)
			continue
		}
		t.reqs = append(t.reqs, r)
	}
}

// takeChild carries out r, and returns why it cannot, or nil when its
// answer waits for the member (answerChildren gives it).
func (t *tree) takeChild(r *childRequest, now time.Time) error {
	g := r.g
	if g.t != t || g != t.root && g.parent == nil {
		return fmt.Errorf("group %q: %w: not in the tree any more", g.path, ErrGroupStopped)
	}
	if r.fn == nil {
		m, ok := g.byID[r.id]
		if !ok || m.gone {
			return fmt.Errorf("group %q: member %q: %w", g.path, r.id, ErrUnknownMember)
		}
		r.m = m
		return g.remove(r.id, now)
	}
	s, err := g.add(r.id, r.fn, r.cfg)
	if err != nil {
		return err
	}
	r.m = g.byID[s.id]
	r.m.dynamic = true
	return nil
}

// answerChildren answers the requests whose member has started (or was
// ready), failed to, or is gone.
func (t *tree) answerChildren(now time.Time) {
	kept := t.reqs[:0]
	for _, r := range t.reqs {
		if !t.answered(r, now) {
			kept = append(kept, r)
		}
	}
	clear(t.reqs[len(kept):])
	t.reqs = kept
}

// answered answers r if its member is done with, and reports whether it
// did.
func (t *tree) answered(r *childRequest, now time.Time) bool {
	m, g := r.m, r.g
	if r.fn == nil { // a stop: done once the member is gone, or its group ended
		if !m.gone && !g.state.over() {
			return false
		}
		o := m.outcome
		if o == 0 {
			o = OutcomeAlreadyStopped
		}
		r.answer(o, nil)
		return true
	}
	s := m.slot
	switch {
	case s.exits > 0: // its first attempt ended before it started (or was ready)
		e := s.coldView().lastExit
		r.answer(0, fmt.Errorf("group %q: member %q: %w: %v", g.path, r.id, ErrStartFailed, e))
		if !m.gone { // one that ended for good left already
			_ = g.remove(r.id, now) // cannot fail: it is a member
		}
	case m.gone:
		r.answer(0, fmt.Errorf("group %q: member %q left before it started: %w", g.path, r.id, ErrGroupStopped))
	case s.active != nil && (s.readyTimeout == 0 || s.wasReady(s.active)):
		r.answer(0, nil)
	case g.state == GroupShuttingDown || g.state.over():
		r.refuse(now) // started, never ready (see refuseStarts)
	default:
		return false
	}
	return true
}

// refuseStarts answers the StartChild calls that wait for a member of g to
// start, as g begins to shut down: ErrGroupStopped, and the member leaves,
// as one whose start failed does. A caller so answered finds nothing of it
// left, where a restart of g by its parent, in the same Advance even,
// would otherwise start it after all.
func (t *tree) refuseStarts(g *Group, now time.Time) {
	kept := t.reqs[:0]
	for _, r := range t.reqs {
		if r.g != g || r.fn == nil || r.m.gone || r.m.slot.attempts > 0 {
			kept = append(kept, r)
			continue
		}
		r.refuse(now)
	}
	clear(t.reqs[len(kept):])
	t.reqs = kept
}

// refuse answers the start r asked for ErrGroupStopped, its group shutting
// down, and removes its member: a refused start leaves nothing behind.
func (r *childRequest) refuse(now time.Time) {
	g := r.g
	r.answer(0, fmt.Errorf("group %q: %w", g.path, ErrGroupStopped))
	_ = g.remove(r.id, now) // cannot fail: it is a member
}
