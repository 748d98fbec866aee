package admin

import (
	"bytes"
	"crypto/rand"
	_ "embed" // the page's template
	"fmt"
	"html/template"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"time"

	sv "github.com/childslot/supervisor"
)

//go:embed page.html
var pageHTML string

var pageTmpl = template.Must(template.New("page").Parse(pageHTML))

// What one page shows at most, whatever the tree's size: a person reads
// a summary, a page of rows and the latest events, not 10,000 rows.
const (
	pageRows      = 50 // rows of the table on one page
	attentionRows = 10 // members needing attention in the summary
	eventRows     = 10 // recent events
)

// pageView is what the page template renders: a summary of the snapshot,
// one page of its rows (the tree flattened in start order, filtered), and
// the latest events.
type pageView struct {
	Nonce    string
	Title    string
	Waiting  bool // no snapshot yet
	Live     liveness
	LiveText string
	Ready    readiness
	// Attention lists the first members that keep the tree from being
	// ready; AttentionMore counts the others.
	Attention     []notReady
	AttentionMore int
	Background    int // members left out of readiness
	Counts        []countView
	Members       int // member slots in the tree
	Query         pageQuery
	States        []string
	Rows          []rowView
	Matched       int // rows the filter matched
	From, To      int // the rows shown, from 1
	Prev, Next    string
	Events        []eventView
	Commands      bool
	Observed      string
}

// pageQuery is what the page's address asks: a search, a state, a page,
// and the groups folded.
type pageQuery struct {
	Q         string // a part of a path, any case
	State     string // a class, "attention" (not ready), or empty
	Page      int    // from 1
	Collapsed []string
}

// filtered reports whether the query narrows the rows.
func (q pageQuery) filtered() bool { return q.Q != "" || q.State != "" }

// values returns the query as an address's query string, at page p.
func (q pageQuery) values(p int) url.Values {
	v := url.Values{}
	if q.Q != "" {
		v.Set("q", q.Q)
	}
	if q.State != "" {
		v.Set("state", q.State)
	}
	if len(q.Collapsed) > 0 {
		v.Set("collapsed", strings.Join(q.Collapsed, ","))
	}
	if p > 1 {
		v.Set("page", strconv.Itoa(p))
	}
	return v
}

// parseQuery reads the page's query from r, bounded in size.
func parseQuery(r *http.Request) pageQuery {
	v := r.URL.Query()
	q := pageQuery{Q: strings.TrimSpace(clip(v.Get("q"), 200)), State: v.Get("state"), Page: 1}
	if !isState(q.State) {
		q.State = ""
	}
	if p, err := strconv.Atoi(v.Get("page")); err == nil && p > 1 {
		q.Page = p
	}
	for _, c := range strings.Split(clip(v.Get("collapsed"), 4096), ",") {
		if c != "" && len(q.Collapsed) < 100 {
			q.Collapsed = append(q.Collapsed, c)
		}
	}
	return q
}

// states are the states a person filters by, in the summary's order.
var states = []string{classHealthy, classRestarting, classPaused, classQuarantined, classFailed, classDone}

// isState reports whether s is a state the page filters by.
func isState(s string) bool {
	return s == "attention" || slices.Contains(states, s)
}

// clip returns s cut to at most n bytes.
func clip(s string, n int) string {
	if len(s) > n {
		return s[:n]
	}
	return s
}

// rowView is one group or member slot of the page's table.
type rowView struct {
	Depth       int // capped at maxDepth for the indentation classes
	Group       bool
	Collapsed   bool   // a group folded: its members hidden
	Size        int    // a group's member slots, at every depth
	ID, Path    string // Path names the row; ID is its last part, or the whole path in a filtered list
	Detail      string // a group's strategy, a slot's generation
	Background  bool
	V           verdict
	Attempt     string
	Uptime      string
	Restarts    uint64
	Exits       string // counts by kind
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
	Tenths      int    // how much is spent, in tenths, for the bar
	Level       string // "", "low" (half spent) or "high" (the last restart left, or none)
}

// countView counts the member slots of one class, for the summary.
type countView struct {
	Class string
	N     int
	Href  string
}

// maxDepth bounds the page's indentation classes; deeper rows indent no
// further.
const maxDepth = 6

// page serves the status page, or with ?fragment=app only its changing
// part, which the page's script fetches to refresh itself (a whole page
// parsed there would bring a style whose nonce is not the page's).
func (h *handler) page(w http.ResponseWriter, r *http.Request) {
	nonce := rand.Text()
	v := h.view(time.Now(), nonce, parseQuery(r))
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
	hd.Set("Content-Security-Policy", "default-src 'none'; script-src 'nonce-"+nonce+"'; style-src 'nonce-"+nonce+
		"'; connect-src 'self'; img-src data:; base-uri 'none'; form-action 'self'; frame-ancestors 'none'")
	hd.Set("Referrer-Policy", "no-referrer")
	code := http.StatusOK
	if v.Waiting {
		code = http.StatusServiceUnavailable
	}
	writeBody(w, r, code, "text/html; charset=utf-8", buf.Bytes(), nil)
}

// view digests the tree's snapshot at now into the page's view of query
// q.
func (h *handler) view(now time.Time, nonce string, q pageQuery) pageView {
	snap := h.snapshot()
	v := pageView{Nonce: nonce, Commands: h.opts.Authorize != nil, Title: "admin", Query: q, States: states}
	v.Live = h.live(now, snap)
	v.LiveText = liveText(v.Live)
	if snap == nil {
		v.Waiting = true
		return v
	}
	v.Title = snap.Path
	v.Ready = ready(snap, v.Live, now)
	v.Attention = v.Ready.NotReady[:min(len(v.Ready.NotReady), attentionRows)]
	v.AttentionMore = len(v.Ready.NotReady) - len(v.Attention)
	v.Observed = snap.ObservedAt.UTC().Format("2006-01-02 15:04:05 UTC")

	collapsed := map[string]bool{}
	for _, c := range q.Collapsed {
		collapsed[c] = true
	}
	all := flatten(nil, snap, 0, false, false, now)
	counts := map[string]int{}
	for i := range all {
		e := &all[i]
		if e.slot != nil {
			v.Members++
			counts[e.v.Class]++
			if e.background {
				v.Background++
			}
		}
	}
	for _, c := range states {
		if counts[c] > 0 {
			v.Counts = append(v.Counts, countView{Class: c, N: counts[c], Href: "?" + pageQuery{State: c}.values(1).Encode()})
		}
	}
	shown := h.match(all, q, collapsed)
	v.Matched = len(shown)
	q.Page = min(q.Page, max(1, (len(shown)+pageRows-1)/pageRows)) // past the end: the last page
	lo := (q.Page - 1) * pageRows
	hi := min(lo+pageRows, len(shown))
	v.From, v.To = lo+1, hi
	if lo > 0 {
		v.Prev = "?" + q.values(q.Page-1).Encode()
	}
	if hi < len(shown) {
		v.Next = "?" + q.values(q.Page+1).Encode()
	}
	for _, e := range shown[lo:hi] {
		v.Rows = append(v.Rows, h.row(e, q.filtered(), collapsed[e.path], now))
	}
	evs, _, _ := h.recentEvents(0)
	for i := len(evs) - 1; i >= 0 && len(v.Events) < eventRows; i-- {
		v.Events = append(v.Events, evs[i])
	}
	return v
}

// match returns the entries of all that query q shows: those matching its
// search and state, or with no filter the tree less what collapsed folds.
func (h *handler) match(all []entry, q pageQuery, collapsed map[string]bool) []*entry {
	var out []*entry
	needle := strings.ToLower(q.Q)
	fold := ""
	for i := range all {
		e := &all[i]
		if !q.filtered() {
			if fold != "" && strings.HasPrefix(e.path, fold) {
				continue
			}
			fold = ""
			if e.group != nil && collapsed[e.path] {
				fold = e.path + "/"
			}
			out = append(out, e)
			continue
		}
		if needle != "" && !strings.Contains(strings.ToLower(e.path), needle) {
			continue
		}
		switch q.State {
		case "":
		case "attention":
			if e.v.Ready || e.background {
				continue
			}
		default:
			if e.v.Class != q.State {
				continue
			}
		}
		out = append(out, e)
	}
	return out
}

// entry is one row of the whole tree, before the page picks its rows.
type entry struct {
	depth      int
	path       string
	group      *sv.GroupRecord  // a group's row
	slot       *sv.MemberRecord // a member slot's row
	parent     *sv.GroupRecord
	leaving    bool
	background bool // below a background member, or one itself
	size       int  // a group's member slots, at every depth
	v          verdict
}

// flatten appends the entries of group g at depth (leaving: its parent
// removes it; bg: it is background work), and of everything below it,
// to out and returns them.
func flatten(out []entry, g *sv.GroupRecord, depth int, leaving, bg bool, now time.Time) []entry {
	at := len(out)
	out = append(out, entry{depth: depth, path: g.Path, group: g, leaving: leaving, background: bg, v: groupVerdict(g, leaving)})
	for i := range g.Members {
		mm := &g.Members[i]
		switch {
		case mm.Group != nil:
			out = flatten(out, mm.Group, depth+1, mm.Leaving, bg || mm.Background, now)
		case mm.Slot != nil:
			out = append(out, entry{depth: depth + 1, path: joinPath(g.Path, mm.ID), slot: mm, parent: g,
				background: bg || mm.Background, v: slotVerdict(mm, g.State, now)})
		}
	}
	for _, e := range out[at+1:] {
		if e.slot != nil {
			out[at].size++
		}
	}
	return out
}

// row is the table's row of entry e; a filtered list names rows by their
// whole path.
func (h *handler) row(e *entry, filtered, collapsed bool, now time.Time) rowView {
	if e.group != nil {
		return groupRow(e, filtered, collapsed, h.opts.Authorize != nil, now)
	}
	return slotRow(e, filtered, h.opts.Authorize != nil, now)
}

// groupRow is the row of the group of entry e.
func groupRow(e *entry, filtered, collapsed, cmds bool, now time.Time) rowView {
	g := e.group
	row := rowView{
		Depth: min(e.depth, maxDepth), Group: true, Collapsed: collapsed, Size: e.size, ID: g.GroupID, Path: g.Path,
		Detail: "group · " + g.Strategy.String(), Background: e.background, V: e.v, Attempt: "–", Uptime: "–",
		Restarts: g.Restarts, Budget: budgetView{Off: true}, LastCommand: commandText(g.LastCommand, now),
	}
	if filtered {
		row.ID, row.Depth = g.Path, 0
	}
	if g.Intensity != nil {
		row.Budget = budget(g.Intensity.Used, g.Intensity.Limit)
	}
	if g.Err != "" {
		row.LastExit, row.ExitKind, row.ExitReason, row.ExitClass = g.Err, "failed", g.Err, classFailed
	} else if g.Reason != "" {
		row.LastExit, row.ExitReason = g.Reason, g.Reason
	}
	if cmds && e.depth > 0 && !e.leaving && g.State == sv.GroupRunning {
		row.Ops = []string{"restart"}
	}
	return row
}

// slotRow is the row of the member slot of entry e.
func slotRow(e *entry, filtered, cmds bool, now time.Time) rowView {
	m := e.slot
	r := m.Slot
	row := rowView{
		Depth: min(e.depth, maxDepth), ID: m.ID, Path: e.path,
		Detail: fmt.Sprintf("generation %d", r.Generation), Background: e.background, V: e.v,
		Attempt: strconv.FormatUint(r.Attempt, 10), Uptime: "–", Restarts: r.Restarts,
		Budget:     budget(r.RestartLimit.Used, r.RestartLimit.Limit),
		Quarantine: r.QuarantineReason, LastCommand: commandText(m.LastCommand, now),
	}
	if filtered {
		row.ID, row.Depth = e.path, 0
	}
	if !r.StartedAt.IsZero() {
		row.Uptime = roughAgo(now.Sub(r.StartedAt))
	}
	if m.Exits != nil {
		row.Exits = exitCounts(m.Exits)
	}
	if m.Significant {
		row.Detail += " · significant"
	}
	if ex := r.LastExit; ex != nil {
		row.LastExit, row.ExitKind, row.ExitClass = exitText(ex), ex.Kind.String(), ex.Kind.String()
		row.ExitReason = ex.Reason
		if ex.Code != 0 {
			row.ExitKind += fmt.Sprintf(" (code %d)", ex.Code)
		}
		row.ExitAgo = roughAgo(now.Sub(ex.ExitedAt)) + " ago"
	}
	if cmds && !m.Leaving && r.Operation != sv.OperationRemoved {
		row.Ops = slotOps(r.Operation)
	}
	return row
}
