package supervisor

import "slices"

// This file holds FuzzGroup's seeds and the helpers that spell them.

// fgStep builds a step.
func fgStep(op, arg byte) []byte { return []byte{op, arg} }

// fgInput joins a header, slot specs and steps into one input.
func fgInput(parts ...[]byte) []byte { return slices.Concat(parts...) }

// fgG builds a group config byte (see fgGroupConfig): intensity 0 is off,
// 1, 2, 3 mean 1, 2, 4; period 0 is 10s, 1 is 60s.
func fgG(strategy Strategy, intensity, period byte, auto AutoShutdown, restart RestartType) byte {
	return byte(strategy) + 3*intensity + 12*period + 24*byte(auto) + 72*byte(restart)
}

// fgS builds a slot config byte (see fgSlotConfig): limit 0..2 means 1..3;
// window 0 is 10s, 1 is 60s; delay 1 is a fixed 1s backoff; stop 1 is a 2s
// StopTimeout.
func fgS(restart RestartType, significant bool, limit, window, delay, stop byte) byte {
	sig := byte(0)
	if significant {
		sig = 1
	}
	return byte(restart) + 3*sig + 6*limit + 18*window + 36*delay + 72*stop
}

// fgN builds the slot count byte: n slots, the nested groups joining
// their parent after pos1 and pos2 of its slots.
func fgN(n, pos1, pos2 byte) byte { return n - 1 + 6*pos1 + 24*pos2 }

// Steps' slot arguments index the slots in tree order; 0x80 sends the
// control as a command.
const fgByCmd = 0x80

var (
	fgPerm  = fgS(Permanent, false, 2, 1, 0, 0) // limit 3 in 60s, no backoff, 1s to stop
	fgTrans = fgS(Transient, false, 2, 1, 0, 0)
	fgTemp  = fgS(Temporary, false, 2, 1, 0, 0)
)

var fgSeeds = [][]byte{
	// one_for_one: failures and a panic restart only their member.
	fgInput([]byte{0, fgG(OneForOne, 0, 0, 0, 0), 0, 0, fgN(3, 0, 0)},
		[]byte{fgPerm, 0, fgPerm, 0, fgTrans, 0},
		fgStep(fgFail, 1), fgStep(fgPanic, 2), fgStep(fgReturnNil, 0), fgStep(fgSleep, 2)),
	// one_for_all: a stubborn member holds the restart until it is
	// abandoned, and returns late when released.
	fgInput([]byte{0, fgG(OneForAll, 0, 0, 0, 0), 0, 0, fgN(3, 0, 0)},
		[]byte{fgPerm, 0, fgPerm, 0, fgS(Permanent, false, 2, 1, 0, 1), 0},
		fgStep(fgIgnore, 2), fgStep(fgFail, 0), fgStep(fgSleep, 2), fgStep(fgSleep, 2),
		fgStep(fgRelease, 0), fgStep(fgFail, 1)),
	// rest_for_one with a nested one_for_all group in the middle, a fixed
	// backoff, and a temporary member that leaves in the restart.
	fgInput([]byte{1, fgG(RestForOne, 3, 1, 0, 0), fgG(OneForAll, 3, 1, 0, 0), 0, fgN(4, 1, 0)},
		[]byte{fgS(Permanent, false, 2, 1, 1, 0), 0, fgPerm, 1, fgTemp, 1, fgPerm, 0},
		fgStep(fgFail, 0), fgStep(fgSleep, 0), fgStep(fgSleep, 2), fgStep(fgFail, 1), fgStep(fgFail, 3)),
	// Three levels: the innermost group's intensity (1) fails it, the
	// middle one restarts it, the root's intensity (1) fails the root.
	fgInput([]byte{2 + 3, fgG(OneForOne, 1, 1, 0, 0), fgG(OneForAll, 1, 1, 0, 0), fgG(OneForOne, 1, 1, 0, 0), fgN(4, 1, 1)},
		[]byte{fgPerm, 0, fgPerm, 1, fgPerm, 2, fgPerm, 2},
		fgStep(fgFail, 2), fgStep(fgFail, 2), fgStep(fgFail, 3), fgStep(fgFail, 2), fgStep(fgFail, 3),
		fgStep(fgFail, 2), fgStep(fgFail, 0)),
	// A member's own limit (1) quarantines it; resumed, it runs again.
	fgInput([]byte{0, fgG(OneForAll, 3, 1, 0, 0), 0, 0, fgN(2, 0, 0)},
		[]byte{fgPerm, 0, fgS(Permanent, false, 0, 0, 0, 0), 0},
		fgStep(fgFail, 1), fgStep(fgFail, 1), fgStep(fgResume, 1), fgStep(fgFail, 1), fgStep(fgSleep, 6)),
	// any_significant: a significant transient member's normal end shuts
	// the root down.
	fgInput([]byte{0, fgG(OneForOne, 0, 0, AnySignificant, 0), 0, 0, fgN(3, 0, 0)},
		[]byte{fgPerm, 0, fgS(Transient, true, 2, 1, 0, 0), 0, fgS(Temporary, true, 2, 1, 0, 0), 0},
		fgStep(fgFail, 1), fgStep(fgReturnNil, 1)),
	// all_significant in a transient nested group: it ends when both
	// significant members have, and the root is not restarted for it.
	fgInput([]byte{1, fgG(OneForAll, 2, 1, 0, 0), fgG(OneForOne, 2, 1, AllSignificant, Transient), 0, fgN(3, 1, 0)},
		[]byte{fgPerm, 0, fgS(Transient, true, 2, 1, 0, 0), 1, fgS(Temporary, true, 2, 1, 0, 0), 1},
		fgStep(fgReturnNil, 1), fgStep(fgReturnNil, 2), fgStep(fgFail, 0)),
	// Operator controls by command (Submit + Advance) and directly: pause,
	// a refused second pause, resume, quarantine, restart, and a group
	// restart and shutdown by path.
	fgInput([]byte{1, fgG(OneForAll, 0, 0, 0, 0), fgG(RestForOne, 0, 0, 0, 0), 0, fgN(3, 1, 0)},
		[]byte{fgPerm, 0, fgPerm, 1, fgPerm, 1},
		fgStep(fgPause, 1|fgByCmd), fgStep(fgPause, 1|fgByCmd), fgStep(fgFail, 0), fgStep(fgResume, 1|fgByCmd),
		fgStep(fgQuarantine, 2|fgByCmd), fgStep(fgRestart, 0|fgByCmd), fgStep(fgRestart, 1), fgStep(fgResume, 2),
		fgStep(fgGroupCmd, 1+16), fgStep(fgGroupCmd, 1), fgStep(fgGroupCmd, 0)),
	// Add and Remove: by Group.Remove, ChildSlot.Remove, Submit, of a
	// stubborn slot and of a nested group; members added after Start.
	fgInput([]byte{1, fgG(RestForOne, 0, 0, 0, 0), fgG(OneForOne, 0, 0, 0, 0), 0, fgN(3, 1, 0)},
		[]byte{fgPerm, 0, fgPerm, 1, fgS(Permanent, false, 2, 1, 0, 1), 0},
		fgStep(fgAdd, 0), fgStep(fgAdd, 1), fgStep(fgIgnore, 3), fgStep(fgRemove, 3),
		fgStep(fgRemove, 0|64), fgStep(fgSleep, 3), fgStep(fgRemove, 0|fgByCmd), fgStep(fgFail, 0),
		fgStep(fgRemove, 3), fgStep(fgAdd, 2), fgStep(fgFail, 0)),
	// A nested group shut down by its parent's failure while a stubborn
	// member of it holds the shutdown; a shutdown of the nested group
	// directly first.
	fgInput([]byte{1, fgG(OneForAll, 1, 0, 0, 0), fgG(OneForOne, 0, 0, 0, Permanent), 0, fgN(3, 0, 0)},
		[]byte{fgPerm, 1, fgS(Permanent, false, 2, 1, 1, 1), 1, fgPerm, 0},
		fgStep(fgShutdown, 1), fgStep(fgIgnore, 1), fgStep(fgFail, 2), fgStep(fgFail, 2),
		fgStep(fgSleep, 1), fgStep(fgRelease, 0), fgStep(fgSleep, 3)),
	// Found by the fuzzer: a quarantined member of a nested group that its
	// parent restarted could not be resumed.
	[]byte("21009000002X07217&2"),
	// Found by the fuzzer: a member added while its group's restart waited
	// out a backoff, quarantined before the walk reached it and resumed
	// after, starts at once (the model had left it down).
	fgInput([]byte{0, fgG(OneForAll, 0, 0, 0, 0), 0, 0, fgN(1, 0, 0)},
		[]byte{fgS(Permanent, false, 2, 1, 1, 0), 0},
		fgStep(fgFail, 0), fgStep(fgAdd, 0), fgStep(fgQuarantine, 1), fgStep(fgSleep, 3),
		fgStep(fgResume, 1), fgStep(fgFail, 1), fgStep(fgSleep, 2)),
	// Found by the fuzzer: a nested group shut down by command, held by a
	// stubborn member, finishes while the root's shutdown is held by
	// another; its parent restarts it, then shuts it down again in the
	// same step. The second walk's stops come after the first's.
	fgInput([]byte{2 + 3, fgG(OneForOne, 0, 0, 0, 0), fgG(OneForOne, 0, 0, 0, Permanent), fgG(OneForOne, 0, 0, 0, Permanent), fgN(6, 0, 0)},
		[]byte{fgPerm, 0, fgS(Permanent, false, 2, 1, 0, 1), 0, fgPerm, 2, fgPerm, 2, fgPerm, 2, fgPerm, 2},
		fgStep(fgIgnore, 5), fgStep(fgGroupCmd, 2), fgStep(fgAdd, 0), fgStep(fgReturnNil, 3),
		fgStep(fgIgnore, 1), fgStep(fgGroupCmd, 2)),
	// Directives: a permanent member returning ErrDoNotRestart stays down,
	// a temporary one leaves; ErrFailGroup fails the nested group at once
	// (no intensity: it has none), the root restarts it; then fails the
	// root.
	fgInput([]byte{1, fgG(OneForAll, 2, 1, 0, 0), fgG(OneForOne, 0, 0, 0, Permanent), 0, fgN(4, 2, 0)},
		[]byte{fgPerm, 0, fgTemp, 0, fgPerm, 1, fgPerm, 1},
		fgStep(fgReturnErr, 0|fgByCmd), fgStep(fgReturnErr, 1|fgByCmd), fgStep(fgFail, 1|fgByCmd),
		fgStep(fgFail, 0|fgByCmd)),
	// ShutdownOrder Concurrent in the root and its nested group: a
	// one_for_all restart cancels every member at once and waits for two
	// stubborn ones, each abandoned at its own StopTimeout (1s, 2s).
	fgInput([]byte{1 + 6 + 12, fgG(OneForAll, 0, 0, 0, 0), fgG(OneForOne, 0, 0, 0, Permanent), 0, fgN(4, 1, 0)},
		[]byte{fgPerm, 0, fgPerm, 1, fgS(Permanent, false, 2, 1, 0, 1), 1, fgPerm, 0},
		fgStep(fgIgnore, 2), fgStep(fgIgnore, 3), fgStep(fgFail, 0), fgStep(fgSleep, 2), fgStep(fgSleep, 2),
		fgStep(fgFail, 1), fgStep(fgIgnore, 0), fgStep(fgShutdown, 1)),
	// MaxChildren 2: the third slot and Add past it are refused with
	// ErrMaxChildren; a member leaving counts until it is gone.
	fgInput([]byte{48, fgG(OneForOne, 0, 0, 0, 0), 0, 0, fgN(3, 0, 0)},
		[]byte{fgPerm, 0, fgPerm, 0, fgPerm, 0},
		fgStep(fgAdd, 0), fgStep(fgIgnore, 1), fgStep(fgRemove, 1), fgStep(fgAdd, 0), fgStep(fgSleep, 2),
		fgStep(fgAdd, 0)),
	// ShutdownTimeout 1.5s: the root's in-order shutdown waits 1s for a
	// stubborn member, then shuts the nested group down (its own bound
	// starts then), whose stubborn member holds it; at 1.5s the root
	// abandons all that still runs, the nested group's included, and the
	// first member, never cancelled until then.
	fgInput([]byte{1, fgG(OneForOne, 0, 0, 0, 0), fgG(OneForOne, 0, 0, 0, Permanent), 0, fgN(4, 1, 0) + 2*96},
		[]byte{fgPerm, 0, fgS(Permanent, false, 2, 1, 0, 1), 1, fgPerm, 1, fgPerm, 0},
		fgStep(fgIgnore, 3), fgStep(fgIgnore, 1), fgStep(fgIgnore, 0), fgStep(fgShutdown, 0), fgStep(fgSleep, 1),
		fgStep(fgSleep, 1), fgStep(fgSleep, 1), fgStep(fgRelease, 0), fgStep(fgRelease, 0)),
	// StartChild (fgAdd with the high bit), MaxChildren 3: a dynamic member
	// returning ErrDoNotRestart leaves; one started while a one_for_all
	// restart waits for a stubborn member is answered when the walk starts
	// it; one past the bound is refused with ErrMaxChildren.
	fgInput([]byte{2 * 48, fgG(OneForAll, 0, 0, 0, 0), 0, 0, fgN(1, 0, 0)},
		[]byte{fgS(Permanent, false, 2, 1, 0, 1), 0},
		fgStep(fgAdd, fgByCmd), fgStep(fgReturnErr, 1|fgByCmd), fgStep(fgAdd, fgByCmd), fgStep(fgIgnore, 1),
		fgStep(fgFail, 0), fgStep(fgAdd, fgByCmd), fgStep(fgAdd, fgByCmd), fgStep(fgSleep, 3), fgStep(fgFail, 2)),
	// StopChild (fgGroupCmd from fgStopChild up): of a stubborn member,
	// answered abandoned at its StopTimeout; of a paused one, answered at
	// once (already stopped); of a nested group, stopped.
	fgInput([]byte{1, fgG(OneForOne, 0, 0, 0, 0), fgG(OneForOne, 0, 0, 0, Permanent), 0, fgN(3, 1, 0)},
		[]byte{fgPerm, 0, fgPerm, 1, fgS(Permanent, false, 2, 1, 0, 1), 0},
		fgStep(fgIgnore, 2), fgStep(fgGroupCmd, fgStopChild+2), fgStep(fgPause, 0), fgStep(fgGroupCmd, fgStopChild),
		fgStep(fgGroupCmd, fgStopChild+2), fgStep(fgSleep, 3)),
}
