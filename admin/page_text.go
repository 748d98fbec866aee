package admin

import (
	"fmt"
	"strconv"
	"strings"
	"time"

	sv "github.com/childslot/supervisor"
)

// This file holds the short texts the status page shows in its cells:
// exit counts, budgets, the loop's liveness, the latest command, ages.

// exitCounts says a slot's exits by kind, the kinds it had: "3 failed ·
// 1 panicked".
func exitCounts(c *sv.ExitCounts) string {
	var parts []string
	for _, k := range []struct {
		n    uint64
		kind string
	}{{c.Succeeded, "succeeded"}, {c.Failed, "failed"}, {c.Panicked, "panicked"}, {c.Cancelled, "cancelled"},
		{c.TimedOut, "timed out"}, {c.Unhealthy, "unhealthy"}, {c.Abandoned, "abandoned"}} {
		if k.n > 0 {
			parts = append(parts, strconv.FormatUint(k.n, 10)+" "+k.kind)
		}
	}
	return strings.Join(parts, " · ")
}

// slotOps returns the buttons that make sense for a slot in operation op.
func slotOps(op sv.Operation) []string {
	switch op {
	case sv.OperationPaused:
		return []string{"restart", "resume", "quarantine"}
	case sv.OperationQuarantined:
		return []string{"restart", "resume"}
	}
	return []string{"restart", "pause", "quarantine"}
}

// budget is a restart budget of limit with used spent.
func budget(used, limit int) budgetView {
	b := budgetView{Used: used, Limit: limit}
	if limit > 0 {
		b.Tenths = min(10, (10*used+limit-1)/limit)
	}
	switch {
	case used >= limit-max(1, limit/5):
		b.Level = "high"
	case used >= limit/2 && used > 0:
		b.Level = "low"
	}
	return b
}

// liveText says how the loop is, in a few words.
func liveText(l liveness) string {
	if l.LastAdvance == nil {
		return "loop not started"
	}
	ago := ago(time.Duration(l.AgeMS) * time.Millisecond)
	text := "loop not live · last advance " + ago + " ago"
	if l.Live {
		text = "loop live · advanced " + ago + " ago"
	}
	if b := l.Backlog; b != (backlog{}) {
		text += fmt.Sprintf(" · behind: %d exits queued, deadlines %v overdue, %d to start",
			b.Exits, time.Duration(b.OverdueMS)*time.Millisecond, b.Starts)
	}
	return text
}

// commandText says what the latest command was, who asked and when.
func commandText(c *sv.CommandRecord, now time.Time) string {
	if c == nil {
		return ""
	}
	s := fmt.Sprintf("%v by %s %s ago: %s", c.Op, c.Requester, ago(now.Sub(c.AppliedAt)), c.Reason)
	if c.Error != "" {
		s += " (refused: " + c.Error + ")"
	}
	return s
}

// roughAgo rounds d to one unit, for the table, whose rows then change
// once a minute at most after their first: 12s, 3m, 2h, 3d.
func roughAgo(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < time.Minute:
		return strconv.Itoa(int(d/time.Second)) + "s"
	case d < time.Hour:
		return strconv.Itoa(int(d/time.Minute)) + "m"
	case d < 48*time.Hour:
		return strconv.Itoa(int(d/time.Hour)) + "h"
	}
	return strconv.Itoa(int(d/(24*time.Hour))) + "d"
}

// ago rounds d for a person: 0.4s, 12s, 3m04s, 2h05m, 3d4h.
func ago(d time.Duration) string {
	d = max(d, 0)
	switch {
	case d < 10*time.Second:
		return d.Round(100 * time.Millisecond).String()
	case d < time.Minute:
		return d.Round(time.Second).String()
	case d < time.Hour:
		d = d.Round(time.Second)
		return fmt.Sprintf("%dm%02ds", d/time.Minute, d%time.Minute/time.Second)
	case d < 48*time.Hour:
		d = d.Round(time.Minute)
		return fmt.Sprintf("%dh%02dm", d/time.Hour, d%time.Hour/time.Minute)
	}
	d = d.Round(time.Hour)
	return fmt.Sprintf("%dd%dh", d/(24*time.Hour), d%(24*time.Hour)/time.Hour)
}
