package supervisor

import (
	"fmt"
	"time"
)

// This file holds a slot's configuration: Config, its defaults and its
// validation.

// Config configures a [ChildSlot]. Zero fields mean the documented
// defaults; negative durations and limits are [ErrInvalidConfig].
type Config struct {
	// Path is the slot's position in the supervision tree, for records;
	// empty means "/" + id.
	Path string
	// Restart says after which exits an automatic restart follows; the zero
	// value is Permanent.
	Restart RestartType
	// RestartLimit is how many automatic restarts RestartWindow allows; one
	// more is refused and the slot is quarantined. Zero means 10.
	RestartLimit int
	// RestartWindow is the sliding window of RestartLimit. Zero means 60s.
	RestartWindow time.Duration
	// Backoff is the delay before each automatic restart. The zero value is
	// 100ms doubling to 30s with ±20% jitter, reset after a run of
	// RestartWindow; set Backoff.NoJitter or Backoff.NoDelay to turn jitter or
	// the delay off.
	Backoff Backoff
	// StopTimeout is the grace between cancelling an attempt and abandoning
	// it (for a process child: killing it). Zero means 5s.
	StopTimeout time.Duration
	// AttemptTimeout is the deadline of one attempt, counted from its start;
	// it ends as TimedOut. Zero means none.
	AttemptTimeout time.Duration
	// HeartbeatTimeout, when set, makes an attempt with no Beat for this long
	// (counted from its start until the first beat) stale; it is cancelled
	// as Unhealthy. Zero means off.
	HeartbeatTimeout time.Duration
	// ReadyTimeout, when set, cancels as Unhealthy an attempt that has not
	// reported Ready this long after its start. Zero means off.
	ReadyTimeout time.Duration
	// Exits, when set, receives the slot each time one of its attempts
	// returns: one loop can wait on many slots through it.
	Exits *ExitQueue
	// OnEvent, when set, is called synchronously on the loop's goroutine,
	// from the slot's methods, for every [Event]; never from the child's
	// goroutine and never under a lock. The slot is then in the middle of
	// one of its methods. A listener may keep the Event, log it, and call
	// any method of other slots (start a sibling, say). On its own slot it
	// may read (ID, Done, Operation, Finished, NextDeadline,
	// Liveness, Record), seeing the slot as it is at that point of the
	// method; every call that would change it (Start, Collect, TryCollect,
	// Advance, Cancel, Abandon, Stop and the operator controls) does nothing
	// and returns [ErrReentrant], false or the zero value. The same holds
	// for a call that comes back to the slot through another slot's
	// listener.
	OnEvent func(Event)
	// Significant marks a member of a [Group] whose end, with no restart to
	// follow, may shut the group down (see [AutoShutdown]). It means nothing
	// for a slot outside a group. A Permanent child never ends for good, so
	// Permanent and Significant together are [ErrInvalidConfig].
	Significant bool
	// Background marks a member of a [Group] that does background work
	// (a batch job, a cleanup, a cache warmer) rather than serve requests:
	// readiness probes (the admin's /readyz) leave it out, so that its
	// failures and backoffs do not take the program out of its load
	// balancer, as Kubernetes would on a failing readiness probe, where a
	// restart cannot help and only serving capacity is lost. Its health
	// still shows (the admin page, liveness, the restart limit). It shows
	// in its group's record; it means nothing for a slot outside a group.
	Background bool
}

// Defaults of the zero Config fields.
const (
	DefaultRestartLimit  = 10
	DefaultRestartWindow = 60 * time.Second
	DefaultStopTimeout   = 5 * time.Second
)

// withDefaults validates c and returns it with its zero fields filled.
func (c Config) withDefaults(id string) (Config, error) {
	durations := []struct {
		name string
		d    time.Duration
	}{
		{"RestartWindow", c.RestartWindow},
		{"StopTimeout", c.StopTimeout},
		{"AttemptTimeout", c.AttemptTimeout},
		{"HeartbeatTimeout", c.HeartbeatTimeout},
		{"ReadyTimeout", c.ReadyTimeout},
	}
	for _, f := range durations {
		if f.d < 0 {
			return c, fmt.Errorf("%w: %s is negative (%v)", ErrInvalidConfig, f.name, f.d)
		}
	}
	if c.RestartLimit < 0 {
		return c, fmt.Errorf("%w: RestartLimit is negative (%d)", ErrInvalidConfig, c.RestartLimit)
	}
	if c.Restart > Temporary {
		return c, fmt.Errorf("%w: Restart is not a RestartType (%d)", ErrInvalidConfig, c.Restart)
	}
	if err := c.Backoff.validate(); err != nil {
		return c, err
	}
	if c.Significant && c.Restart == Permanent {
		return c, fmt.Errorf("%w: Significant with Restart Permanent: a permanent child never ends for good", ErrInvalidConfig)
	}
	if c.Path == "" {
		c.Path = "/" + id
	} else if err := checkPath(c.Path); err != nil {
		return c, fmt.Errorf("Path: %w", err)
	}
	if c.RestartLimit == 0 {
		c.RestartLimit = DefaultRestartLimit
	}
	if c.RestartWindow == 0 {
		c.RestartWindow = DefaultRestartWindow
	}
	if c.StopTimeout == 0 {
		c.StopTimeout = DefaultStopTimeout
	}
	c.Backoff = c.Backoff.withDefaults(c.RestartWindow)
	return c, nil
}
