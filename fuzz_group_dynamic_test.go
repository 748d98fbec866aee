package supervisor

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing/synctest"

	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/groupmodel"
)

// This file holds FuzzGroup's dynamic children: StartChild and StopChild,
// called from a goroutine as any caller off the loop would.

// fgStart is a StartChild call in flight: its goroutine waits for the
// loop's answer.
type fgStart struct {
	path string
	done chan struct{}
	err  error
}

// startChild is addSlot by Group.StartChild, called from a goroutine as
// any caller off the loop would: the loop takes it at the next Advance
// (settle), and answers once the member has started. Refusals come at
// once; the answer of a member that waits for a walk comes when the walk
// starts it (see checkStarts).
func (h *fgHarness) startChild(gpath string, c byte) {
	if h.nslots >= fgMaxSlots || h.groups[gpath] == nil {
		return
	}
	id := fmt.Sprintf("m%d", h.nslots)
	h.nslots++
	path := gpath + "/" + id
	cfg, mcfg := fgSlotConfig(c)
	h.note("StartChild " + path)
	full := h.model.Full(gpath)
	st := &fgStart{path: path, done: make(chan struct{})}
	g := h.groups[gpath]
	go func() {
		defer close(st.done)
		st.err = g.StartChild(h.t.Context(), id, h.child(path), cfg)
	}()
	synctest.Wait()
	h.settle()
	ok := h.model.StartChild(gpath, id, mcfg, h.mnow())
	if !ok {
		select {
		case <-st.done:
		default:
			require.FailNow(h.t, "a refused StartChild was not answered at the next Advance", "%s; steps %v", path, h.steps)
		}
		require.Equal(h.t, full, errors.Is(st.err, ErrMaxChildren), "StartChild %s past MaxChildren: %v; steps %v", path, st.err, h.steps)
		require.Error(h.t, st.err, "StartChild %s: the model refuses; steps %v", path, h.steps)
		if !full {
			require.ErrorIs(h.t, st.err, ErrGroupStopped, "StartChild %s; steps %v", path, h.steps)
		}
		return
	}
	h.slots[path] = g.Slot(id)
	h.cfgs[path] = cfg
	require.NotNil(h.t, h.slots[path], "StartChild %s: the model accepts; steps %v", path, h.steps)
	h.startsInFlight = append(h.startsInFlight, st)
}

// checkStarts checks the StartChild calls in flight: one whose member has
// started is answered nil; one whose group shuts down or ended before it
// started is answered ErrGroupStopped; any other still waits.
func (h *fgHarness) checkStarts(what string) {
	kept := h.startsInFlight[:0]
	for _, st := range h.startsInFlight {
		started := h.model.Started(st.path)
		select {
		case <-st.done:
			if started {
				require.NoError(h.t, st.err, "StartChild %s, after %s; steps %v", st.path, what, h.steps)
			} else {
				require.ErrorIs(h.t, st.err, ErrGroupStopped, "StartChild %s, after %s; steps %v", st.path, what, h.steps)
			}
		default:
			gs := h.model.GroupState(fgParent(st.path))
			require.False(h.t, started || gs == groupmodel.ShuttingDown || gs == groupmodel.Stopped || gs == groupmodel.GroupFailed,
				"StartChild %s not answered after %s (started %v, its group %v); steps %v", st.path, what, started, gs, h.steps)
			kept = append(kept, st)
		}
	}
	h.startsInFlight = kept
}

// fgStop is a StopChild call in flight.
type fgStop struct {
	path    string
	done    chan struct{}
	outcome ShutdownOutcome
	err     error
}

// stopChild stops and removes the slot or nested group arg picks by
// Group.StopChild, from a goroutine: the loop takes it at the next
// Advance, and answers once the member is gone (see checkStops).
func (h *fgHarness) stopChild(arg byte) {
	slots, groups := h.model.Paths()
	targets := append(slices.Clone(slots), groups[1:]...)
	if len(targets) == 0 {
		return
	}
	path := targets[int(arg)%len(targets)]
	parent, id := fgParent(path), path[strings.LastIndex(path, "/")+1:]
	h.note("StopChild " + path)
	st := &fgStop{path: path, done: make(chan struct{})}
	g := h.groups[parent]
	go func() {
		defer close(st.done)
		st.outcome, st.err = g.StopChild(h.t.Context(), id)
	}()
	synctest.Wait()
	ended := h.model.Finished()
	h.settle()
	if ended {
		<-st.done // answered at once, without the loop
		require.ErrorIs(h.t, st.err, ErrGroupStopped, "StopChild %s in an ended tree; steps %v", path, h.steps)
		return
	}
	require.Equal(h.t, groupmodel.OK, h.model.RemoveMember(path, h.mnow()), "StopChild %s; steps %v", path, h.steps)
	h.stopsInFlight = append(h.stopsInFlight, st)
}

// checkStops checks the StopChild calls in flight: one is answered, with
// the member's outcome, exactly when the model says the member has left
// its group or its group has ended.
func (h *fgHarness) checkStops(what string) {
	kept := h.stopsInFlight[:0]
	for _, st := range h.stopsInFlight {
		left, outcome := h.model.Left(st.path)
		select {
		case <-st.done:
			require.True(h.t, left, "StopChild %s answered (%v, %v) before the member left, after %s; steps %v",
				st.path, st.outcome, st.err, what, h.steps)
			require.NoError(h.t, st.err, "StopChild %s, after %s; steps %v", st.path, what, h.steps)
			require.Equal(h.t, outcome.String(), st.outcome.String(), "StopChild %s's outcome, after %s; steps %v", st.path, what, h.steps)
		default:
			require.False(h.t, left, "StopChild %s not answered after %s; steps %v", st.path, what, h.steps)
			kept = append(kept, st)
		}
	}
	h.stopsInFlight = kept
}
