// Package prometheus provides a collector that exports the state of a
// supervision tree ([supervisor.Group]) as Prometheus metrics, for
// github.com/prometheus/client_golang.
//
// It lives in its own module so that the supervisor module keeps no
// dependency. Import it under a name of your own, since client_golang's
// package is also called prometheus:
//
//	import supervisorprom "github.com/childslot/supervisor/prometheus"
//
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(supervisorprom.NewCollector(app, supervisorprom.Config{}))
//	http.Handle("/metrics", promhttp.HandlerFor(reg, promhttp.HandlerOpts{}))
//
// # Metrics
//
// Each scrape reads the tree's latest [supervisor.Group.Snapshot] once and
// walks it. Member metrics are labelled by the member slot's path
// ("/app/jobs/compact"), group metrics by the group's ("/app/jobs"); every
// group of the tree, nested ones included, has its own. With the default
// namespace:
//
//	supervisor_member_state{path,state}          gauge    1 for the current state only: running, ready, restarting, paused, quarantined, stopped
//	supervisor_member_ready{path}                gauge    1 while the member serves (runs, has signalled, not stale, not NotReady)
//	supervisor_member_restarts_total{path}       counter  restarts after an exit, by policy or group strategy
//	supervisor_member_exits_total{path,kind}     counter  exits by kind, a kind once it has happened
//	supervisor_member_abandoned_running{path}    gauge    abandoned attempts not seen to return yet
//	supervisor_member_stale_reports_total{path}  counter  abandoned attempts that returned after all
//	supervisor_group_state{path,state}           gauge    1 for the current state, 0 for the other six
//	supervisor_group_restarts_total{path}        counter  restarts the group performed
//	supervisor_group_members{path}               gauge    members, a nested group counted once
//	supervisor_group_intensity_used{path}        gauge    restarts counted in the intensity's period
//	supervisor_group_intensity_limit{path}       gauge    restarts the intensity allows in its period
//	supervisor_group_intensity_period_seconds{path}  gauge  the intensity's period
//	supervisor_loop_last_advance_timestamp_seconds{path}  gauge  Unix time of the tree's latest Advance
//	supervisor_loop_backlog_exits{path}          gauge    exits queued for the next Advance
//	supervisor_loop_overdue_seconds{path}        gauge    how long its earliest unserved deadline was due
//	supervisor_loop_backlog_starts{path}         gauge    members the start walks have yet to reach
//
// The intensity gauges are absent for a group whose intensity is off, and
// the loop's have the root's path. The abandoned pair appears once an
// attempt of the member was abandoned: each attempt ever abandoned
// (supervisor_member_exits_total{kind="abandoned"}) is either still
// running (supervisor_member_abandoned_running) or has returned
// (supervisor_member_stale_reports_total).
//
// A paused member is state="paused" and not ready: alert on readiness
// unless paused, so that deliberate maintenance does not page.
//
// With [Config].ByGroup the six member families give way to their sums
// over each group's own member slots, labelled by the group's path
// (supervisor_group_member_state{path,state} counts the members in each
// state, and so on): a few series per group instead of several per member,
// for trees of thousands of members.
//
// # Freshness
//
// The values are those of the latest snapshot, which the tree's loop
// publishes after a change, at most every GroupConfig.SnapshotInterval:
// a scrape never waits for the loop nor disturbs it. A loop that stops
// advancing leaves the snapshot as it was; the timestamp of the latest
// Advance shows it, so alert on
//
//	time() - supervisor_loop_last_advance_timestamp_seconds > 60
//
// Before the tree's first Advance there is no snapshot and a scrape
// reports nothing.
package prometheus
