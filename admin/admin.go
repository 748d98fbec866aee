package admin

import (
	"encoding/json"
	"net/http"
	"strings"
	"time"

	"github.com/childslot/supervisor"
)

// Defaults of the zero Options fields.
const (
	// DefaultStall is three times a root group's default Pulse (New takes
	// three times the tree's own Pulse when that is longer): a loop that
	// misses three pulses in a row is stuck.
	DefaultStall = 3 * time.Second
	// DefaultMaxBody bounds a command's body: a command is a few hundred
	// bytes.
	DefaultMaxBody = 64 << 10
	// DefaultCommandTimeout bounds how long a command's request waits for
	// the loop to apply it.
	DefaultCommandTimeout = 10 * time.Second
	// DefaultMaxHeavy bounds the large answers in flight (the tree, a
	// member, the page, the events): a few people and a scraper.
	DefaultMaxHeavy = 8
	// DefaultReadTimeout bounds how long a request's body may take to
	// arrive: a command is a few hundred bytes.
	DefaultReadTimeout = 5 * time.Second
	// DefaultWriteTimeout bounds how long an answer may take to leave: the
	// compressed tree of 10,000 members is about a megabyte.
	DefaultWriteTimeout = 10 * time.Second
)

// Options configures the handler [New] returns. Zero fields mean the
// documented defaults.
type Options struct {
	// Authorize, when set, allows commands: it returns who is asking,
	// from the request, or an error to refuse it (403, with the error's
	// text). It is called once per command request, on the request's
	// goroutine. Nil refuses every command with 403 and leaves the command
	// buttons off the page.
	Authorize func(r *http.Request) (requester string, err error)
	// Stacks serves the panic stacks in the records' last exits. They name
	// files and goroutines, so the zero value leaves them out.
	Stacks bool
	// Stall is how long the loop may go without an Advance before /livez
	// fails. Zero means DefaultStall; keep it a few times the root's
	// GroupConfig.Pulse.
	Stall time.Duration
	// MaxBody bounds a command's body in bytes. Zero means DefaultMaxBody.
	MaxBody int64
	// CommandTimeout bounds how long a command's request waits for the
	// loop to apply it. Zero means DefaultCommandTimeout.
	CommandTimeout time.Duration
	// Hosts names the hosts the handler answers to besides IP literals,
	// localhost and the names below it (the default, which a DNS
	// rebinding cannot reach): a request with another Host gets 403, but
	// for /livez and /readyz, which a platform's probes ask under any
	// name. "*" allows every Host (behind a proxy that checks it).
	Hosts []string
	// MaxHeavy bounds the large answers in flight (/tree, /tree/{path},
	// /events and the page): past it they get 503 with Retry-After. Zero
	// means DefaultMaxHeavy.
	MaxHeavy int
	// ReadTimeout bounds how long, from its start, a request may take to
	// send its body; WriteTimeout how long an answer may take to leave
	// (a command's answer: CommandTimeout more). The handler sets them on
	// the connection itself (http.ResponseController), whatever the
	// server's own timeouts. Zero means DefaultReadTimeout and
	// DefaultWriteTimeout.
	ReadTimeout, WriteTimeout time.Duration
}

// handler serves one tree. Its fields are set once by New.
type handler struct {
	g     *supervisor.Group
	opts  Options
	mux   *http.ServeMux
	heavy chan struct{} // a token per heavy answer in flight
	cache treeCache
}

// New returns the admin handler of the tree g belongs to, with the routes
// of the package doc. The handler is safe for concurrent use; it reads
// only g's Snapshot, Health and RecentEvents and calls only g's SubmitWait, so
// the loop that runs the tree is never touched. A nil g gives a handler that
// reports, on every route, a tree that has not started (503).
func New(g *supervisor.Group, opts Options) http.Handler {
	if opts.Stall <= 0 {
		opts.Stall = max(DefaultStall, 3*g.Health(time.Now()).Pulse)
	}
	if opts.MaxBody <= 0 {
		opts.MaxBody = DefaultMaxBody
	}
	if opts.CommandTimeout <= 0 {
		opts.CommandTimeout = DefaultCommandTimeout
	}
	if opts.MaxHeavy <= 0 {
		opts.MaxHeavy = DefaultMaxHeavy
	}
	if opts.ReadTimeout <= 0 {
		opts.ReadTimeout = DefaultReadTimeout
	}
	if opts.WriteTimeout <= 0 {
		opts.WriteTimeout = DefaultWriteTimeout
	}
	h := &handler{g: g, opts: opts, mux: http.NewServeMux(), heavy: make(chan struct{}, opts.MaxHeavy)}
	h.routes()
	return h
}

// routes registers every route, and for each known path a catch-all that
// answers other methods with 405 in JSON rather than the mux's plain text.
func (h *handler) routes() {
	csrf := http.NewCrossOriginProtection()
	csrf.SetDenyHandler(http.HandlerFunc(func(w http.ResponseWriter, _ *http.Request) {
		writeError(w, http.StatusForbidden, "cross-origin request refused: send commands from the admin page's origin or from a non-browser client")
	}))
	routes := []struct {
		method, path string
		fn           http.HandlerFunc
	}{
		{http.MethodGet, "/livez", h.livez},
		{http.MethodGet, "/readyz", h.readyz},
		{http.MethodGet, "/tree", h.heavyRoute(h.tree)},
		{http.MethodGet, "/tree/{path...}", h.heavyRoute(h.member)},
		{http.MethodPost, "/commands", csrf.Handler(http.HandlerFunc(h.command)).ServeHTTP},
		{http.MethodGet, "/events", h.heavyRoute(h.events)},
		{http.MethodGet, "/login", h.login},
		{http.MethodGet, "/{$}", h.heavyRoute(h.page)},
	}
	for _, rt := range routes {
		h.mux.HandleFunc(rt.method+" "+rt.path, rt.fn)
		h.mux.HandleFunc(rt.path, methodNotAllowed(rt.method))
	}
	h.mux.HandleFunc("/", func(w http.ResponseWriter, r *http.Request) {
		writeError(w, http.StatusNotFound, "no route "+r.URL.Path+": see /, /livez, /readyz, /tree, /commands")
	})
}

// methodNotAllowed answers every request with 405, naming the allowed
// method (GET allows HEAD too, as the mux does).
func methodNotAllowed(allowed string) http.HandlerFunc {
	allow := allowed
	if allowed == http.MethodGet {
		allow = "GET, HEAD"
	}
	return func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Allow", allow)
		writeError(w, http.StatusMethodNotAllowed, "method "+r.Method+" not allowed on "+r.URL.Path+"; use "+allowed)
	}
}

// jsonType is the Content-Type of every answer but the page.
const jsonType = "application/json; charset=utf-8"

// errorBody is every error's JSON.
type errorBody struct {
	Error string `json:"error"`
}

// writeError writes msg as an error body with code.
func writeError(w http.ResponseWriter, code int, msg string) {
	writeJSON(w, code, errorBody{Error: msg})
}

// writeJSON writes v, indented, with code. Answers are never cached: they
// say how the tree is now.
func writeJSON(w http.ResponseWriter, code int, v any) {
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		code = http.StatusInternalServerError
		b, _ = json.Marshal(errorBody{Error: "encoding the answer: " + err.Error()})
	}
	hd := w.Header()
	hd.Set("Content-Type", jsonType)
	hd.Set("Cache-Control", "no-store")
	hd.Set("X-Content-Type-Options", "nosniff")
	w.WriteHeader(code)
	_, _ = w.Write(append(b, '\n')) // an error here is the client's going away
}

// noSnapshot is the error of routes asked before the tree's first
// Advance.
const noSnapshot = "no snapshot yet: the tree's loop has not advanced (not started?)"

// snapshot returns the tree's latest record, stacks left out unless the
// program opted in, or nil before the first.
func (h *handler) snapshot() *supervisor.GroupRecord {
	r := h.g.Snapshot()
	if r == nil || h.opts.Stacks {
		return r
	}
	c := r.WithoutStacks()
	return &c
}

// joinPath returns the path of member id of the group at parent.
func joinPath(parent, id string) string {
	return strings.TrimSuffix(parent, "/") + "/" + id
}
