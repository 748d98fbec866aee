package supervisor

import (
	"fmt"
	"math"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// notifier speaks systemd's notify protocol (sd_notify(3)) for Run: one
// datagram per message to the unix socket named by NOTIFY_SOCKET. It is
// nil, and every method a no-op, when NOTIFY_SOCKET is unset.
//
// It keeps what systemd should know (ready, stopping, the status line) apart
// from what systemd was last told, so that a datagram that cannot go is not
// queued: the notifier tries again a pulse later with the state as it is
// then. A send never blocks the loop: a receiver that stops reading costs
// dropped datagrams, never a stalled loop.
type notifier struct {
	path     string
	conn     *net.UnixConn // nil until dialled, and after a send failed other than for a full receiver
	watchdog time.Duration // half of WATCHDOG_USEC; zero: no watchdog
	nextPing time.Time
	snap     *GroupRecord // the snapshot status was last taken from

	// What systemd should know, and what it was last told.
	ready, stopping         bool
	status                  string
	sentReady, sentStopping bool
	sentStatus              string

	retryAt time.Time // a failed send: no state is sent again before it
	// An outage: since the first datagram that could not go, and how many
	// have not since; failing once the notify_failed event is out.
	failing    bool
	failSince  time.Time
	outDropped uint64
}

// maxWatchdogUsec is the largest WATCHDOG_USEC whose period fits a
// time.Duration.
const maxWatchdogUsec = math.MaxInt64 / int64(time.Microsecond)

// openNotifier returns a notifier for the socket in NOTIFY_SOCKET, or nil
// when it is unset. The socket is dialled at the first message, and again a
// pulse after each failure: one that does not exist yet, or that systemd
// made anew, is found when it appears.
func openNotifier() *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	return &notifier{path: path, watchdog: watchdogPeriod(os.Getenv("WATCHDOG_USEC"), os.Getenv("WATCHDOG_PID"), os.Getpid())}
}

// watchdogPeriod reads WATCHDOG_USEC and WATCHDOG_PID as systemd's
// sd_watchdog_enabled does: usec is a decimal count of microseconds, zero
// or a value out of range (here, one whose period overflows a Duration)
// turns the watchdog off, and so does a WATCHDOG_PID, when set, that is
// not pid. It returns the ping period, half of WATCHDOG_USEC, or zero.
func watchdogPeriod(usec, wpid string, pid int) time.Duration {
	u, err := strconv.ParseUint(usec, 10, 64)
	if err != nil || u == 0 || u > uint64(maxWatchdogUsec) {
		return 0
	}
	if wpid != "" {
		if p, err := strconv.Atoi(wpid); err != nil || p != pid {
			return 0
		}
	}
	return time.Duration(u) * time.Microsecond / 2
}

func (n *notifier) close() {
	if n != nil && n.conn != nil {
		_ = n.conn.Close()
	}
}

// send writes one datagram without waiting: a receiver whose queue is full
// gets an error (EAGAIN), not a blocked loop. The socket is dialled first
// if it is not yet; a send that failed for another reason (the receiver
// closed, or systemd replaced the socket) drops the connection, so that the
// next send dials the path again.
func (n *notifier) send(msg string) error {
	if n.conn == nil {
		// Go maps a leading '@' to Linux's abstract namespace, as systemd means.
		conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: n.path, Net: "unixgram"})
		if err != nil {
			return err
		}
		n.conn = conn
	}
	full, err := sendNoWait(n.conn, []byte(msg))
	if err != nil && !full {
		_ = n.conn.Close()
		n.conn = nil
	}
	return err
}

// after tells systemd what changed in g's tree by the Advance at now:
// READY=1 once the tree has started in order, STATUS= when the published
// snapshot changed, STOPPING=1 when the root's shutdown began, and
// WATCHDOG=1 every half WATCHDOG_USEC, as long as the loop keeps coming
// here. The status that goes with READY=1 or STOPPING=1 is taken from the
// tree as it is at now, not from a snapshot up to SnapshotInterval old.
//
// What could not be sent is sent a pulse later (or at the tree's end), as
// it stands then; a missed ping waits for the next one. The first failure
// of an outage emits notify_failed to g's OnEvent, the first success after
// it notify_restored with how many datagrams were dropped.
func (n *notifier) after(g *Group, now time.Time) {
	if n == nil {
		return
	}
	n.observe(g, now)
	ping := n.watchdog > 0 && !now.Before(n.nextPing) && !g.state.over()
	if ping {
		n.nextPing = now.Add(n.watchdog) // a ping that fails is not retried: the next is due then
	}
	// The tree's end is Run's last call: the state gets a last try then.
	if !ping && (!n.pending() || now.Before(n.retryAt) && !g.state.over()) {
		return
	}
	if err := n.send(n.message(ping)); err != nil {
		n.retryAt = now.Add(g.t.root.cfg.Pulse)
		n.outDropped++
		if !n.failing {
			n.failing, n.failSince = true, now
			g.emit(Event{Kind: EventNotifyFailed, Time: now,
				Reason: fmt.Sprintf("sd_notify to %s: %v; trying again every pulse", n.path, err)})
		}
		return
	}
	n.sentReady, n.sentStopping, n.sentStatus = n.ready, n.stopping, n.status
	n.retryAt = time.Time{}
	if n.failing {
		g.emit(Event{Kind: EventNotifyRestored, Time: now,
			Reason: fmt.Sprintf("sd_notify to %s: delivered again; %d datagrams dropped over %v",
				n.path, n.outDropped, roundDuration(now.Sub(n.failSince)))})
		n.failing, n.outDropped = false, 0
	}
}

// observe updates what systemd should know from g at now.
func (n *notifier) observe(g *Group, now time.Time) {
	fresh := false
	if !n.ready && g.up && g.state == GroupRunning {
		n.ready, fresh = true, true
	}
	if !n.stopping && (g.state == GroupShuttingDown || g.state.over()) {
		n.stopping, fresh = true, true
	}
	snap := g.Snapshot()
	switch {
	case snap == nil: // before the first Advance, or NoSnapshots: no status
	case fresh:
		// The published snapshot may predate the change: READY=1 must not
		// go out with STATUS=... starting.
		r := g.Record(now)
		n.snap, n.status = snap, statusLine(&r)
	case snap != n.snap:
		n.snap, n.status = snap, statusLine(snap)
	}
}

// pending reports whether systemd has not been told all it should know.
func (n *notifier) pending() bool {
	return n.ready != n.sentReady || n.stopping != n.sentStopping || n.status != n.sentStatus
}

// message joins what systemd has not been told, and a ping if one is due.
func (n *notifier) message(ping bool) string {
	var msg []string
	if n.status != n.sentStatus {
		msg = append(msg, "STATUS="+n.status)
	}
	if n.ready && !n.sentReady {
		msg = append(msg, "READY=1")
	}
	if n.stopping && !n.sentStopping {
		msg = append(msg, "STOPPING=1")
	}
	if ping {
		msg = append(msg, "WATCHDOG=1")
	}
	return strings.Join(msg, "\n")
}

// deadline returns when the notifier next needs the loop: the next ping,
// if the watchdog runs, or the retry of a state that could not be sent.
func (n *notifier) deadline() (time.Time, bool) {
	var d deadline
	if n == nil {
		return d.at, d.ok
	}
	if n.watchdog > 0 {
		d.offer(n.nextPing)
	}
	if n.pending() && !n.retryAt.IsZero() {
		d.offer(n.retryAt)
	}
	return d.at, d.ok
}

// statusLine sums up a tree's record in one line for systemctl status.
func statusLine(r *GroupRecord) string {
	var c memberCounts
	c.add(r)
	line := fmt.Sprintf("%s %v: %d up", r.Path, r.State, c.up)
	for _, part := range []struct {
		n    int
		what string
	}{{c.restarting, "restarting"}, {c.paused, "paused"}, {c.quarantined, "quarantined"}, {c.stopped, "stopped"}} {
		if part.n > 0 {
			line += fmt.Sprintf(", %d %s", part.n, part.what)
		}
	}
	return line + fmt.Sprintf("; %d group restarts", c.groupRestarts)
}

// memberCounts counts a tree's member slots by what they do.
type memberCounts struct {
	up, restarting, paused, quarantined, stopped int
	groupRestarts                                uint64
}

func (c *memberCounts) add(r *GroupRecord) {
	c.groupRestarts += r.Restarts
	for _, m := range r.Members {
		if m.Group != nil {
			c.add(m.Group)
			continue
		}
		s := m.Slot
		switch {
		case s.Operation == OperationQuarantined:
			c.quarantined++
		case s.Operation == OperationPaused:
			c.paused++
		case s.Status != StatusStopped && s.Status != StatusCancelling:
			c.up++
		case s.NextRestartAt != nil || s.PendingRestart != nil:
			c.restarting++
		default:
			c.stopped++
		}
	}
}
