// Package admin serves a supervision tree on a program's admin port: the
// probes a platform asks (liveness, readiness), the tree's JSON record,
// operator commands, and a status page for people.
//
// # Routes
//
// [New] returns an [http.Handler] with these routes; every answer but the
// page is JSON, and every error is {"error": "..."}:
//
//	GET  /livez        200 while the tree's loop advances; 503 once it has not
//	                   for Options.Stall, before its first Advance, and once
//	                   the tree has ended; its "backlog" says how far behind
//	                   the loop is (exits queued, overdue_ms, starts)
//	GET  /readyz       200 when the tree is ready; else 503 with each member
//	                   that is not, by path, and why (see Readiness)
//	GET  /tree         200 with the tree's GroupRecord (compact JSON, encoded
//	                   once per published snapshot, gzipped when accepted)
//	GET  /tree/{path}  200 with one member's MemberRecord ("/tree/app/db" for
//	                   "/app/db"; the root's path gives the root as a member);
//	                   404 for a path not in the tree
//	GET  /events       200 with the tree's latest events (Group.RecentEvents),
//	                   oldest first, each with its sequence number, and the
//	                   total and dropped counts; ?since=N only those after N
//	POST /commands     a command, {"op":"restart","path":"/app/db","reason":"..."}:
//	                   200 with its CommandRecord once the loop applied it
//	GET  /login        a browser's sign-in: the authorizer's challenge (401)
//	                   until the request carries credentials it takes, then
//	                   303 to the page
//	GET  /             the status page
//
// A known path asked with another method gets 405 and an Allow header; an
// unknown path 404. Before the tree's first snapshot every route but
// /livez and /login answers 503 saying so.
//
// # Limits
//
// The handler bounds what a client costs whatever the server's settings:
// it sets each connection's read deadline (Options.ReadTimeout: a body
// sent a byte at a time is cut off) and write deadline
// (Options.WriteTimeout: a client that does not read is cut off; a
// command's answer gets CommandTimeout more) with
// [http.ResponseController]; at most Options.MaxHeavy answers of /tree,
// /tree/{path}, /events and the page are in flight, the others get 503
// with Retry-After; the tree's encoding is shared by every request for the
// same snapshot. It answers only requests whose Host is an IP literal,
// localhost or a name below it, or one of Options.Hosts (403 otherwise),
// so that a web page that rebinds its own name to the admin's address
// reads and commands nothing; /livez and /readyz answer under any Host, as
// a platform's probes ask them. [NewServer], [Serve] and [ListenAndServe]
// give a server with every timeout and header limit set.
//
// # Readiness
//
// The tree is ready when its loop is live and every group in it is
// running, and each member slot is either serving or deliberately out of
// service:
//
//   - serving: active, its attempt running or ready, its heartbeat not
//     stale and the child not reporting NotReady;
//   - deliberately out: paused by an operator, leaving the group (removed),
//     or ended with no restart to follow after a normal exit (a Transient
//     member that finished its work; a Temporary member leaves its group
//     when it ends).
//
// A member marked Background (supervisor.Config.Background, or
// GroupConfig.Background for a nested group, "background" in the record)
// is left out, and everything below it: it does background work, not
// serving. In Kubernetes a failing readiness probe takes the pod out of
// its Service's endpoints, which helps when the pod cannot serve and only
// hurts when a cron-like job fails or waits out its backoff. Its state
// still shows on the page, tagged.
//
// Anything else is not ready: quarantined (by the restart limit or an
// operator: it awaits a person), starting, stopping, restarting (waiting
// for its backoff or a fenced restart), or ended abnormally with no restart
// to follow. A group that is starting, restarting, shutting down, stopped
// or failed is not ready. Pausing is an operator's deliberate, reversible
// act on one member, so it does not take the whole program out of service;
// an operator who wants that quarantines instead.
//
// A stalled loop (see /livez) makes the tree not ready too: its snapshot
// can no longer vouch for anything.
//
// A record does not say whether a slot watches readiness
// (Config.ReadyTimeout): a running attempt that has not reported Ready
// counts as serving unless it reported NotReady. The group's ordered start
// already waits for the Ready of each member that watches it. The tree
// publishes a new snapshot when something changes in it, and a child's
// readiness report after its first Ready is not such a change: /readyz
// sees a later NotReady (or Ready again) with the tree's next snapshot.
//
// # Commands
//
// Commands are refused with 403 unless the program installs
// Options.Authorize, which names who asks from the request: [BasicAuth]
// (users and passwords; a browser asks its user once, at the page's "sign
// in", and the page's buttons then work), [BearerTokens] (scripts), or the
// program's own (a client certificate, a header set by an authenticating
// proxy). An authorizer's [AuthError] gets 401 with its challenge.
// The requester comes from Authorize only, never from the body. The body
// is at most Options.MaxBody bytes (413 beyond), of Content-Type
// application/json (415 otherwise), and strictly one JSON object whose
// keys are exactly among "op", "path" and "reason", each once, each a
// string, with nothing after it (400 otherwise, and nothing changes).
// Cross-origin browser requests are refused with 403
// ([http.CrossOriginProtection]), so that a page elsewhere cannot drive the
// tree through an operator's browser.
//
// Once the loop applied the command the answer is 200 with its
// [supervisor.CommandRecord]; 409 when the target's state refused it, 404
// for an unknown member, 400 for an invalid command, 503 when the tree has
// stopped or the command queue stayed full for Options.CommandTimeout (a
// full queue makes a command wait for room rather than refuse it at once;
// the 503 has Retry-After and the command was not queued), and 504 when
// the loop has not applied it within Options.CommandTimeout (it may still).
//
// # Concurrency
//
// The handler is safe for concurrent use by any number of requests. It
// reads only [supervisor.Group.Snapshot], [supervisor.Group.Health] and
// [supervisor.Group.RecentEvents] and calls
// only [supervisor.Group.SubmitWait], the Group's methods that are safe from
// any goroutine: everything else belongs to the tree's loop.
//
// # Status page
//
// GET / is one self-contained HTML page (no external assets, a strict
// Content-Security-Policy with a per-response nonce) made to read a tree of
// any size: first a summary (member slots by state in colour, healthy
// green, restarting amber, paused and quarantined purple, failed red, each
// count a link to its rows; the first ten members that keep the tree from
// being ready, with a link to all; the latest events), then 50 rows of the
// tree in start order with each member's state, attempt, uptime, restarts,
// exits by kind, restart budget, last exit, quarantine reason and last
// command. ?q= searches paths (any case), ?state= filters by state (or
// "attention"), ?page= pages, ?collapsed= folds groups (their paths,
// comma-separated); the page's search box, state menu and fold buttons set
// them. It refreshes itself every two seconds from GET /?fragment=app,
// its changing part alone (at 10,000 members about 4 KB gzipped). Command
// buttons appear only when Options.Authorize is set; they ask for a
// reason and post to /commands. The page uses relative addresses, so the
// handler may be mounted below a prefix with [http.StripPrefix], the page
// then being asked with a trailing slash ("/admin/").
package admin
