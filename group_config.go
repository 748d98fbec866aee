package supervisor

import (
	"fmt"
	"time"
)

// This file holds a group's configuration: GroupConfig, its defaults and
// its validation, and the settings' enums (Strategy, AutoShutdown).

// NoIntensity turns a group's restart intensity off, as
// GroupConfig.Intensity: no number of restarts fails the group. Members keep their
// own restart limits.
const NoIntensity = -1

// NoSnapshots turns a tree's published snapshots off, as a root's
// GroupConfig.SnapshotInterval: Snapshot returns nil, and the loop never
// builds one. Record, on the loop's goroutine, still works. The admin
// handler and the Prometheus collector read snapshots: they report nothing
// without.
const NoSnapshots time.Duration = -1

// Defaults of the zero GroupConfig fields.
const (
	// DefaultIntensity is twice a member's default RestartLimit, within the
	// same window: one crash-looping member is quarantined by its own limit
	// before it alone can spend the group's budget, and the group fails
	// when failures are spread over its members.
	DefaultIntensity = 2 * DefaultRestartLimit
	DefaultPeriod    = DefaultRestartWindow
)

// GroupConfig configures a [Group]. Zero fields mean the documented
// defaults.
type GroupConfig struct {
	// Strategy says which members restart when one fails; the zero value is
	// OneForOne.
	Strategy Strategy
	// Restart says how a parent group treats this group when it ends: a
	// failed group ended abnormally, one that shut down on its own (see
	// AutoShutdown) normally. The zero value is Permanent. It means nothing
	// for a root group.
	Restart RestartType
	// Significant marks a nested group whose end, with no restart to
	// follow, may shut its parent down (see AutoShutdown). Permanent and
	// Significant together are ErrInvalidConfig.
	Significant bool
	// Intensity is how many restarts the group performs within Period: the
	// restart of one member, or of several for one failure, counts once,
	// and the one that would exceed Intensity fails the group instead.
	// Zero means DefaultIntensity; NoIntensity turns it off.
	Intensity int
	// Period is the sliding window of Intensity. Zero means DefaultPeriod.
	Period time.Duration
	// AutoShutdown says whether significant members' ends shut the group
	// down; the zero value is AutoShutdownNever.
	AutoShutdown AutoShutdown
	// ShutdownOrder says how the group stops the members of a shutdown or
	// of a restart's scope: InOrder (the zero value, one at a time in
	// reverse start order) or Concurrent (all at once, for a pool).
	ShutdownOrder ShutdownOrder
	// ShutdownTimeout bounds the group's whole shutdown, however ordered:
	// at it, every member that still runs is abandoned (a process: killed)
	// and recorded so. Zero leaves the bound to the members' own
	// StopTimeouts (in order: their sum). Under Kubernetes, keep it a few
	// seconds under terminationGracePeriodSeconds; under systemd, under
	// TimeoutStopSec.
	ShutdownTimeout time.Duration
	// MaxChildren bounds the group's members (nested groups count as one,
	// members stopping count until gone): one more is refused with
	// ErrMaxChildren and changes nothing. Zero means no bound.
	MaxChildren int
	// SnapshotInterval, for a root group, is the shortest time between two
	// publications of the tree's Snapshot. Zero means 100ms; NoSnapshots
	// turns them off, for a large tree nothing reads from other goroutines
	// (a snapshot of a million members is about 400 MB to build).
	SnapshotInterval time.Duration
	// Pulse, for a root group, is the longest the tree's loop goes without
	// an Advance when nothing is due (NextDeadline offers it), so that
	// LastAdvance and the systemd watchdog see a live loop. Zero means 1s.
	Pulse time.Duration
	// OnEvent, when set, receives the group's events and those of every
	// member below it (slots and nested groups), with their paths,
	// synchronously on the loop's goroutine and never under a lock. It may
	// read records and call methods of other slots and groups; it must not
	// call methods of the slot or group the event is about.
	OnEvent func(Event)
	// EventLog, for a root group, is how many of the tree's latest events
	// it keeps for [Group.RecentEvents], from any goroutine. Zero means
	// DefaultEventLog; NoEventLog turns the log off.
	EventLog int
	// Background marks a nested group whose members do background work
	// (batch jobs, cleanups) rather than serve: readiness probes, the
	// admin's /readyz, leave it out (see Config.Background). It shows in
	// the parent's record.
	Background bool
}

// validate returns why c holds an unusable value, naming the field, or nil.
func (c GroupConfig) validate() error {
	switch {
	case c.Strategy > RestForOne:
		return fmt.Errorf("%w: Strategy is not a Strategy (%d)", ErrInvalidConfig, c.Strategy)
	case c.Restart > Temporary:
		return fmt.Errorf("%w: Restart is not a RestartType (%d)", ErrInvalidConfig, c.Restart)
	case c.AutoShutdown > AllSignificant:
		return fmt.Errorf("%w: AutoShutdown is not an AutoShutdown (%d)", ErrInvalidConfig, c.AutoShutdown)
	case c.Intensity < NoIntensity:
		return fmt.Errorf("%w: Intensity is negative (%d); NoIntensity turns it off", ErrInvalidConfig, c.Intensity)
	case c.Period < 0:
		return fmt.Errorf("%w: Period is negative (%v)", ErrInvalidConfig, c.Period)
	case c.SnapshotInterval < NoSnapshots:
		return fmt.Errorf("%w: SnapshotInterval is negative (%v); NoSnapshots turns them off", ErrInvalidConfig, c.SnapshotInterval)
	case c.Pulse < 0:
		return fmt.Errorf("%w: Pulse is negative (%v)", ErrInvalidConfig, c.Pulse)
	case c.ShutdownOrder > Concurrent:
		return fmt.Errorf("%w: ShutdownOrder is not a ShutdownOrder (%d)", ErrInvalidConfig, c.ShutdownOrder)
	case c.ShutdownTimeout < 0:
		return fmt.Errorf("%w: ShutdownTimeout is negative (%v)", ErrInvalidConfig, c.ShutdownTimeout)
	case c.MaxChildren < 0:
		return fmt.Errorf("%w: MaxChildren is negative (%d)", ErrInvalidConfig, c.MaxChildren)
	case c.Significant && c.Restart == Permanent:
		return fmt.Errorf("%w: Significant with Restart Permanent: a permanent group never ends for good", ErrInvalidConfig)
	}
	return nil
}

// withDefaults validates c and returns it with its zero fields filled.
func (c GroupConfig) withDefaults() (GroupConfig, error) {
	if err := c.validate(); err != nil {
		return c, err
	}
	if c.Intensity == 0 {
		c.Intensity = DefaultIntensity
	}
	if c.Period == 0 {
		c.Period = DefaultPeriod
	}
	if c.SnapshotInterval == 0 {
		c.SnapshotInterval = 100 * time.Millisecond
	}
	if c.Pulse == 0 {
		c.Pulse = time.Second
	}
	return c, nil
}

// Strategy says which members a group restarts when one fails.
type Strategy uint8

// The strategies, named after Erlang/OTP's. The zero value is OneForOne.
const (
	// OneForOne restarts only the member that failed, after its own backoff.
	OneForOne Strategy = iota
	// OneForAll stops every other running member in reverse start order, one
	// at a time, then starts all of them again in start order.
	OneForAll
	// RestForOne does what OneForAll does for the failed member and the
	// members started after it; those started before it keep running.
	RestForOne
)

var strategyNames = []string{"one_for_one", "one_for_all", "rest_for_one"}

// AutoShutdown says whether the end of significant members (see
// Config.Significant) shuts their group down.
type AutoShutdown uint8

// The automatic shutdown settings, as in Erlang/OTP. The zero value is
// AutoShutdownNever.
const (
	// AutoShutdownNever: significant members mean nothing.
	AutoShutdownNever AutoShutdown = iota
	// AnySignificant: the first significant member that ends with no
	// restart to follow shuts the group down.
	AnySignificant
	// AllSignificant: the group shuts down once every significant member
	// has ended with no restart to follow.
	AllSignificant
)

var autoShutdownNames = []string{"never", "any_significant", "all_significant"}
