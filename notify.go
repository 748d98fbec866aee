package supervisor

import (
	"fmt"
	"net"
	"os"
	"strconv"
	"strings"
	"time"
)

// notifier speaks systemd's notify protocol (sd_notify(3)) for Run: one
// datagram per message to the unix socket named by NOTIFY_SOCKET. It is
// nil, and every method a no-op, when NOTIFY_SOCKET is unset.
type notifier struct {
	conn     *net.UnixConn
	watchdog time.Duration // half of WATCHDOG_USEC; zero: no watchdog
	nextPing time.Time
	ready    bool
	stopping bool
	status   string
	snap     *GroupRecord // the snapshot status was last taken from
}

// openNotifier returns a notifier for the socket in NOTIFY_SOCKET, or nil
// when it is unset or cannot be reached (the service then runs as if
// systemd did not listen, which is what sd_notify does too).
func openNotifier() *notifier {
	path := os.Getenv("NOTIFY_SOCKET")
	if path == "" {
		return nil
	}
	// Go maps a leading '@' to Linux's abstract namespace, as systemd means.
	conn, err := net.DialUnix("unixgram", nil, &net.UnixAddr{Name: path, Net: "unixgram"})
	if err != nil {
		return nil
	}
	n := &notifier{conn: conn}
	usec, err := strconv.ParseInt(os.Getenv("WATCHDOG_USEC"), 10, 64)
	pid := os.Getenv("WATCHDOG_PID")
	if err == nil && usec > 0 && (pid == "" || pid == strconv.Itoa(os.Getpid())) {
		n.watchdog = time.Duration(usec) * time.Microsecond / 2
	}
	return n
}

func (n *notifier) close() {
	if n != nil {
		_ = n.conn.Close()
	}
}

// send writes one message; a failed write is dropped, as sd_notify's are.
func (n *notifier) send(msg string) { _, _ = n.conn.Write([]byte(msg)) }

// after tells systemd what changed in g's tree by the Advance at now:
// READY=1 once the tree has started in order, STATUS= when the published
// snapshot changed, STOPPING=1 when the root's shutdown began, and
// WATCHDOG=1 every half WATCHDOG_USEC, as long as the loop keeps coming
// here.
func (n *notifier) after(g *Group, now time.Time) {
	if n == nil {
		return
	}
	var msg []string
	if snap := g.Snapshot(); snap != nil && snap != n.snap {
		n.snap = snap
		if s := statusLine(snap); s != n.status {
			n.status = s
			msg = append(msg, "STATUS="+s)
		}
	}
	if !n.ready && g.up && g.state == GroupRunning {
		n.ready = true
		msg = append(msg, "READY=1")
	}
	if !n.stopping && (g.state == GroupShuttingDown || g.state.over()) {
		n.stopping = true
		msg = append(msg, "STOPPING=1")
	}
	if n.watchdog > 0 && !now.Before(n.nextPing) && !g.state.over() {
		n.nextPing = now.Add(n.watchdog)
		msg = append(msg, "WATCHDOG=1")
	}
	if len(msg) > 0 {
		n.send(strings.Join(msg, "\n"))
	}
}

// deadline returns when the watchdog is next due, if it runs.
func (n *notifier) deadline() (time.Time, bool) {
	if n == nil || n.watchdog == 0 {
		return time.Time{}, false
	}
	return n.nextPing, true
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
