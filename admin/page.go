package admin

import (
	"bytes"
	"crypto/rand"
	_ "embed" // the page's template
	"fmt"
	"html/template"
	"net/http"
	"time"

	sv "github.com/childslot/supervisor"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// pageView is what the page template renders: the snapshot digested into
// rows, one per group and member, the tree flattened in start order.
type pageView struct {
	Nonce    string
	Title    string
	Waiting  bool // no snapshot yet
	Live     liveness
	LiveText string
	Ready    readiness
	Rows     []rowView
	Counts   []countView
	Commands bool
	Observed string
}

// rowView is one group or member slot of the page's table.
type rowView struct {
	Depth       int // capped at maxDepth for the indentation classes
	Group       bool
	ID, Path    string
	Detail      string // a group's strategy, a slot's generation
	V           verdict
	Attempt     string
	Restarts    uint64
	Budget      budgetView
	LastExit    string // in full, for its title
	ExitKind    string // how it ended, in bold
	ExitReason  string
	ExitClass   string
	ExitAgo     string
	Quarantine  string
	LastCommand string
	Ops         []string
}

// budgetView is a restart budget: a slot's RestartLimit or a group's
// intensity.
type budgetView struct {
	Off         bool
	Used, Limit int
	Low, High   int // the meter's thresholds
}

// countView counts the rows of one class, for the page's summary.
type countView struct {
	Class string
	N     int
}

// maxDepth bounds the page's indentation classes; deeper rows indent no
// further.
const maxDepth = 6

// page serves the status page, or with ?fragment=app only its changing
// part, which the page's script fetches to refresh itself (a whole page
// parsed there would bring a style whose nonce is not the page's).
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	nonce := rand.Text()
	v := h.view(time.Now(), nonce)
	name := "page"
	if r.URL.Query().Get("fragment") == "app" {
		name = "app"
	}
	var buf bytes.Buffer
	if err := pageTmpl.ExecuteTemplate(&buf, name, v); err != nil {
		writeError(w, http.StatusInternalServerError, "rendering the page: "+err.Error())
		return
	}
	hd := w.Header()
	hd.Set("Content-Type", "text/html; charset=utf-8")
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'none'; frame-ancestors 'none'")
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	hd.Set("Referrer-Policy", "no-referrer")
	code := http.StatusOK
	if v.Waiting {
		code = http.StatusServiceUnavailable
	}
	w.WriteHeader(code)
	_, _ = w.Write(buf.Bytes()) // an error here is the client's going away
}

// view digests the tree's snapshot at now into the page's view.
func (h *handler) view(now time.Time, nonce string) pageView {
	snap := h.snapshot()
	v := pageView{Nonce: nonce, Commands: h.opts.Authorize != nil, Title: "admin"}
	v.Live = h.live(now, snap)
	v.LiveText = liveText(v.Live)
	if snap == nil {
		v.Waiting = true
		return v
	}
	v.Title = snap.Path
	v.Ready = ready(snap, v.Live, now)
	v.Observed = snap.ObservedAt.UTC().Format("2006-01-02 15:04:05 UTC")
	v.Rows = appendRows(nil, snap, 0, false, v.Commands, now)
	counts := map[string]int{}
	for _, r := range v.Rows {
		if !r.Group {
			counts[r.V.Class]++
		}
	}
	for _, c := range []string{classHealthy, classRestarting, classPaused, classQuarantined, classFailed, classDone} {
		if counts[c] > 0 {
			v.Counts = append(v.Counts, countView{Class: c, N: counts[c]})
		}
	}
	return v
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

// appendRows appends the rows of group g at depth, and of everything below
// it, to rows and returns them.
func appendRows(rows []rowView, g *sv.GroupRecord, depth int, leaving, cmds bool, now time.Time) []rowView {
	row := rowView{
		Depth: min(depth, maxDepth), Group: true, ID: g.GroupID, Path: g.Path,
		Detail: "group · " + g.Strategy.String(), V: groupVerdict(g, leaving), Attempt: "–",
		Restarts: g.Restarts, Budget: budgetView{Off: true}, LastCommand: commandText(g.LastCommand, now),
	}
	if g.Intensity != nil {
		row.Budget = budget(g.Intensity.Used, g.Intensity.Limit)
	}
	if g.Err != "" {
		row.LastExit, row.ExitKind, row.ExitReason, row.ExitClass = g.Err, "failed", g.Err, classFailed
	} else if g.Reason != "" {
		row.LastExit, row.ExitReason = g.Reason, g.Reason
	}
	if cmds && depth > 0 && !leaving && g.State == sv.GroupRunning {
		row.Ops = []string{"restart"}
	}
	rows = append(rows, row)
	for i := range g.Members {
		m := &g.Members[i]
		switch {
		case m.Group != nil:
			rows = appendRows(rows, m.Group, depth+1, m.Leaving, cmds, now)
		case m.Slot != nil:
			rows = append(rows, slotRow(m, g, depth+1, cmds, now))
		}
	}
	return rows
}

// slotRow is the row of member slot m of group g.
func slotRow(m *sv.MemberRecord, g *sv.GroupRecord, depth int, cmds bool, now time.Time) rowView {
	r := m.Slot
	row := rowView{
		Depth: min(depth, maxDepth), ID: m.ID, Path: joinPath(g.Path, m.ID),
		Detail: fmt.Sprintf("generation %d", r.Generation), V: slotVerdict(m, g.State, now),
		Attempt: fmt.Sprint(r.Attempt), Restarts: r.Restarts,
		Budget:     budget(r.RestartLimit.Used, r.RestartLimit.Limit),
		Quarantine: r.QuarantineReason, LastCommand: commandText(m.LastCommand, now),
	}
	if m.Significant {
		row.Detail += " · significant"
	}
	if e := r.LastExit; e != nil {
		row.LastExit, row.ExitKind, row.ExitClass = exitText(e), e.Kind.String(), e.Kind.String()
		row.ExitReason = e.Reason
		if e.Code != 0 {
			row.ExitKind += fmt.Sprintf(" (code %d)", e.Code)
		}
		row.ExitAgo = ago(now.Sub(e.ExitedAt)) + " ago"
	}
	if cmds && !m.Leaving && r.Operation != sv.OperationRemoved {
		row.Ops = slotOps(r.Operation)
	}
	return row
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
	// Past High the meter turns red: the last restart left, or none.
	return budgetView{Used: used, Limit: limit, Low: limit / 2, High: limit - max(1, limit/5)}
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
