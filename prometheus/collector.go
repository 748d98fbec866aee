package prometheus

import (
	"fmt"
	"time"

	"github.com/childslot/supervisor"
	prom "github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/common/model"
)

// DefaultNamespace is the prefix of every metric name when
// Config.Namespace is empty.
const DefaultNamespace = "supervisor"

// Config configures a [Collector]. The zero Config is the default: the
// namespace "supervisor", no constant labels, and series per member.
type Config struct {
	// Namespace is the first part of every metric name, joined to the
	// rest by an underscore. Empty means DefaultNamespace.
	Namespace string
	// ConstLabels are added to every metric, for telling apart the trees
	// of one process when each has its collector in the same registry
	// (their descriptors would clash otherwise): {"tree": "ingest"}, say.
	ConstLabels prom.Labels
	// ByGroup reports the member slots' metrics summed by group (the
	// group_member_* families, labelled by the group's path) instead of
	// one series per member (member_*): for trees of thousands of members,
	// where per-member series cost more than they tell. False means per
	// member.
	ByGroup bool
}

// Collector is a [prom.Collector] that reports a supervision tree's
// latest snapshot. Its methods are safe to call from any goroutine, as a
// registry does, concurrently and while the tree's loop runs: it only
// reads [supervisor.Group.Snapshot] and [supervisor.Group.Health].
// The zero Collector is unusable; use [NewCollector].
type Collector struct {
	g       *supervisor.Group
	byGroup bool

	// member slots: per member (member_*) or summed by group
	// (group_member_*), by Config.ByGroup.
	memberState     *prom.Desc
	memberReady     *prom.Desc
	memberRestarts  *prom.Desc
	memberExits     *prom.Desc
	memberAbandoned *prom.Desc
	memberStale     *prom.Desc

	groupState      *prom.Desc
	groupRestarts   *prom.Desc
	groupMembers    *prom.Desc
	intensityUsed   *prom.Desc
	intensityLimit  *prom.Desc
	intensityPeriod *prom.Desc

	lastAdvance    *prom.Desc
	backlogExits   *prom.Desc
	backlogOverdue *prom.Desc
	backlogStarts  *prom.Desc
}

// NewCollector returns a collector of the tree that g belongs to: its
// root and every group and member slot below it, whichever group of the
// tree g is. A nil g gives a collector that reports nothing.
//
// Registering the collector validates cfg: a namespace or a constant
// label name outside Prometheus's conventional characters
// ([a-zA-Z_:][a-zA-Z0-9_:]* for metric names, no colon in label names), or
// a constant label that a metric already has (path, kind, state), makes
// the registration fail with an error that says why.
func NewCollector(g *supervisor.Group, cfg Config) *Collector {
	ns := cfg.Namespace
	if ns == "" {
		ns = DefaultNamespace
	}
	err := validate(ns, cfg.ConstLabels)
	desc := func(name, help string, labels ...string) *prom.Desc {
		if err != nil {
			return prom.NewInvalidDesc(err)
		}
		return prom.NewDesc(prom.BuildFQName(ns, "", name), help, labels, cfg.ConstLabels)
	}
	c := &Collector{
		g:       g,
		byGroup: cfg.ByGroup,
		groupState: desc("group_state",
			"The group's state: 1 for the current one, 0 for the others (idle, starting, running, restarting, shutting_down, stopped, failed).",
			"path", "state"),
		groupRestarts: desc("group_restarts_total",
			"Restarts the group performed over its life; the restart of several members for one failure counts once.",
			"path"),
		groupMembers: desc("group_members",
			"Members of the group: its slots, and its nested groups counted once each.",
			"path"),
		intensityUsed: desc("group_intensity_used",
			"Restarts counted against the group's restart intensity within its period: as of the latest snapshot, and 0 once a whole period has passed since the last of them. Absent when the intensity is off.",
			"path"),
		intensityLimit: desc("group_intensity_limit",
			"Restarts the group's restart intensity allows within its period; one more fails the group. Absent when the intensity is off.",
			"path"),
		intensityPeriod: desc("group_intensity_period_seconds",
			"The period of the group's restart intensity: more than its limit of restarts within it fails the group. Absent when the intensity is off.",
			"path"),
		lastAdvance: desc("loop_last_advance_timestamp_seconds",
			"Unix time of the latest Advance of the tree's loop; a loop that stops advancing leaves every other value as it was and shows here.",
			"path"),
		backlogExits: desc("loop_backlog_exits",
			"Member exits queued for the tree's next Advance to collect (each collects a bounded batch): above 0 only while the loop is behind, as in a storm of failures.",
			"path"),
		backlogOverdue: desc("loop_overdue_seconds",
			"How long the earliest deadline the tree's latest Advance left unserved (a restart after its backoff, a stop or liveness deadline) had been due: how far behind the loop is; 0 when it keeps up.",
			"path"),
		backlogStarts: desc("loop_backlog_starts",
			"Members that the tree's start walks have yet to reach (a walk starts a bounded batch per Advance).",
			"path"),
	}
	if cfg.ByGroup {
		c.memberState = desc("group_member_state",
			"Member slots of the group (its own, not its nested groups') in each state: running, ready, restarting, paused, quarantined, stopped.",
			"path", "state")
		c.memberReady = desc("group_member_ready",
			"Member slots of the group that serve: an attempt runs, has signalled, is not stale and does not report NotReady.",
			"path")
		c.memberRestarts = desc("group_member_restarts_total",
			"Restarts of the group's member slots after an exit, by their restart policy or the group's strategy; a removed member's restarts leave the sum.",
			"path")
		c.memberExits = desc("group_member_exits_total",
			"Exits of the attempts of the group's member slots by kind (succeeded, failed, panicked, cancelled, timed_out, unhealthy or abandoned); a kind appears once it has happened.",
			"path", "kind")
		c.memberAbandoned = desc("group_member_abandoned_running",
			"Abandoned attempts of the group's member slots whose goroutine has not been seen to return yet; present once an attempt of the group was abandoned.",
			"path")
		c.memberStale = desc("group_member_stale_reports_total",
			"Abandoned attempts of the group's member slots that returned after all; present once an attempt of the group was abandoned.",
			"path")
		return c
	}
	c.memberState = desc("member_state",
		"The member slot's state, one series whose value is 1: running, ready, restarting (starting, stopping or in backoff), paused, quarantined or stopped.",
		"path", "state")
	c.memberReady = desc("member_ready",
		"Whether the member slot serves: an attempt runs, has signalled, is not stale and does not report NotReady: 1 or 0.",
		"path")
	c.memberRestarts = desc("member_restarts_total",
		"Restarts of the member slot after an exit, by its restart policy or by its group's strategy; an operator's Restart or Resume of the slot is not counted.",
		"path")
	c.memberExits = desc("member_exits_total",
		"Exits of the member slot's attempts by kind (succeeded, failed, panicked, cancelled, timed_out, unhealthy or abandoned); a kind appears once it has happened.",
		"path", "kind")
	c.memberAbandoned = desc("member_abandoned_running",
		"Abandoned attempts of the member slot (which ignored cancellation past their stop timeout) whose goroutine has not been seen to return yet; present once an attempt was abandoned.",
		"path")
	c.memberStale = desc("member_stale_reports_total",
		"Abandoned attempts of the member slot that returned after all, each recorded as a stale report; present once an attempt was abandoned.",
		"path")
	return c
}

// validate returns why the namespace ns or the constant labels do not
// make conventional names, or nil. The client accepts any UTF-8 name
// nowadays; names that need quoting in PromQL are refused here.
func validate(ns string, labels prom.Labels) error {
	if !model.LegacyValidation.IsValidMetricName(ns + "_") {
		return fmt.Errorf("supervisor/prometheus: Namespace %q does not make conventional metric names", ns)
	}
	for name := range labels {
		if !model.LegacyValidation.IsValidLabelName(name) {
			return fmt.Errorf("supervisor/prometheus: constant label %q is not a conventional label name", name)
		}
	}
	return nil
}

// Describe sends the descriptors of every metric the collector may
// report, so that a registry checks them when it registers the collector.
func (c *Collector) Describe(ch chan<- *prom.Desc) {
	for _, d := range []*prom.Desc{
		c.memberState, c.memberReady, c.memberRestarts, c.memberExits, c.memberAbandoned, c.memberStale,
		c.groupState, c.groupRestarts, c.groupMembers, c.intensityUsed, c.intensityLimit, c.intensityPeriod,
		c.lastAdvance, c.backlogExits, c.backlogOverdue, c.backlogStarts,
	} {
		ch <- d
	}
}

// Collect sends the metrics of the tree's latest snapshot, read once per
// call, and nothing before the tree's first Advance.
func (c *Collector) Collect(ch chan<- prom.Metric) {
	r := c.g.Snapshot()
	if r == nil {
		return
	}
	h := c.g.Health(time.Now())
	last := h.LastAdvance
	if h.Advanced {
		ch <- gauge(c.lastAdvance, float64(last.UnixNano())/1e9, r.Path)
		b := h.Backlog
		ch <- gauge(c.backlogExits, float64(b.Exits), r.Path)
		ch <- gauge(c.backlogOverdue, b.Overdue.Seconds(), r.Path)
		ch <- gauge(c.backlogStarts, float64(b.Starts), r.Path)
	}
	c.collectGroup(ch, r, last)
}

// groupStates lists every GroupState, for the enum gauge; a test fails
// when the core gains one that is not here.
var groupStates = []supervisor.GroupState{
	supervisor.GroupIdle, supervisor.GroupStarting, supervisor.GroupRunning, supervisor.GroupRestarting,
	supervisor.GroupShuttingDown, supervisor.GroupStopped, supervisor.GroupFailed,
}

// collectGroup sends the metrics of the group r and of everything below
// it; last is the tree's latest Advance.
func (c *Collector) collectGroup(ch chan<- prom.Metric, r *supervisor.GroupRecord, last time.Time) {
	for _, s := range groupStates {
		ch <- gauge(c.groupState, boolValue(r.State == s), r.Path, s.String())
	}
	ch <- counter(c.groupRestarts, r.Restarts, r.Path)
	ch <- gauge(c.groupMembers, float64(len(r.Members)), r.Path)
	if lim := r.Intensity; lim != nil {
		ch <- gauge(c.intensityUsed, float64(intensityUsed(lim, last)), r.Path)
		ch <- gauge(c.intensityLimit, float64(lim.Limit), r.Path)
		ch <- gauge(c.intensityPeriod, lim.Window.Seconds(), r.Path)
	}
	var sum memberSum
	for i := range r.Members {
		m := &r.Members[i]
		switch {
		case m.Group != nil:
			c.collectGroup(ch, m.Group, last)
		case m.Slot != nil && c.byGroup:
			sum.add(m, r.State)
		case m.Slot != nil:
			var one memberSum
			one.add(m, r.State)
			c.collectMembers(ch, &one, m.Slot.Path, false)
		}
	}
	if c.byGroup {
		c.collectMembers(ch, &sum, r.Path, true)
	}
}

// intensityUsed returns the restarts of lim that still count at last, the
// tree's latest Advance. The snapshot counted them when it was taken, and
// the loop publishes none when restarts merely leave the period, so a
// burst would otherwise show for as long as the tree stays quiet. Every
// counted restart is at or before lim.UpdatedAt; once a whole period has
// passed since, by the loop's clock (LastAdvance and the record's times
// derive from the same monotonic readings), none counts. Within the
// period the snapshot's count stands: an upper bound.
func intensityUsed(lim *supervisor.RestartLimit, last time.Time) int {
	if lim.Used > 0 && !lim.UpdatedAt.IsZero() && !last.Before(lim.UpdatedAt.Add(lim.Window)) {
		return 0
	}
	return lim.Used
}

func gauge(d *prom.Desc, v float64, labels ...string) prom.Metric {
	return prom.MustNewConstMetric(d, prom.GaugeValue, v, labels...)
}

func counter(d *prom.Desc, n uint64, labels ...string) prom.Metric {
	return prom.MustNewConstMetric(d, prom.CounterValue, float64(n), labels...)
}

func boolValue(b bool) float64 {
	if b {
		return 1
	}
	return 0
}
