package supervisor

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestNotifyWatchdogUsecOutOfRange: WATCHDOG_USEC and WATCHDOG_PID are read
// as systemd's sd_watchdog_enabled reads them. A value whose period
// overflows a Duration used to give a negative period (Run spun at 100 %
// CPU, never pinging) or one of a few hundred nanoseconds (tens of
// thousands of datagrams a second); it now turns the watchdog off.
func TestNotifyWatchdogUsecOutOfRange(t *testing.T) {
	maxUsec := strconv.FormatInt(maxWatchdogUsec, 10)
	tests := []struct {
		usec, pid string
		want      time.Duration
	}{
		{"2000000", "", time.Second},
		{"2000000", strconv.Itoa(os.Getpid()), time.Second},
		{"1", "", 500 * time.Nanosecond},
		{maxUsec, "", time.Duration(maxWatchdogUsec) * time.Microsecond / 2}, // the largest that fits
		{"9223372036854775807", "", 0},                                       // 2^63-1 µs: was a negative period
		{"18446744073709552", "", 0},                                         // wrapped to 384 ns
		{"9223372036854776", "", 0},                                          // one past the largest
		{"18446744073709551615", "", 0},                                      // USEC_INFINITY
		{"18446744073709551616", "", 0},                                      // not a uint64
		{"0", "", 0},
		{"-2000000", "", 0},
		{"2s", "", 0},
		{"", "", 0},
		{"2000000", "1", 0},    // another process's watchdog
		{"2000000", "self", 0}, // not a pid
		{"2000000", " 1 ", 0},  // not a pid either
		{"2000000", "-1", 0},   // nor this
		{"2000000", "0x10", 0}, // decimal only
		{"0x1e8480", "", 0},    // decimal only
		{"2000000 ", "", 0},    // trailing garbage
		{"+2000000", "", 0},    // a sign systemd never writes
		{"2000000", "00", 0},   // pid 0 is nobody
		{"4000", "", 2 * time.Millisecond},
	}
	for _, tt := range tests {
		t.Run(tt.usec+"/"+tt.pid, func(t *testing.T) {
			ghNotifySocket(t, 0)
			t.Setenv("WATCHDOG_USEC", tt.usec)
			t.Setenv("WATCHDOG_PID", tt.pid)
			n := openNotifier()
			require.NotNil(t, n)
			defer n.close()
			assert.Equal(t, tt.want, n.watchdog)
			_, ok := n.deadline()
			assert.Equal(t, tt.want > 0, ok, "the loop waits for a ping only when the watchdog runs")
		})
	}
}

// TestNotifySocketAppearsAfterStart: a NOTIFY_SOCKET that cannot be reached
// when Run starts is dialled again every pulse; the failure is reported
// once (notify_failed), and once the socket appears, systemd gets the
// state as it is then, and notify_restored says how much was lost. It used
// to turn notifications off for the process's life, silently.
func TestNotifySocketAppearsAfterStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "notify.sock")
		t.Setenv("NOTIFY_SOCKET", path)
		t.Setenv("WATCHDOG_USEC", "")
		t.Setenv("WATCHDOG_PID", "")
		l := newGHLog(t)
		var ev ghEvents
		g := ghGroup(t, l, "app", GroupConfig{OnEvent: ev.on}, "a")
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Run(ctx) }()
		synctest.Wait()
		for range 5 {
			time.Sleep(time.Second) // a pulse: a dial, refused
			synctest.Wait()
		}
		failed := ev.of(EventNotifyFailed)
		require.Len(t, failed, 1, "reported once, not every pulse")
		assert.Equal(t, "app", failed[0].ChildID)
		assert.Contains(t, failed[0].Reason, path)
		assert.Contains(t, failed[0].Reason, "no such file")
		assert.Empty(t, ev.of(EventNotifyRestored))

		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		time.Sleep(time.Second)
		synctest.Wait()
		got := ghReadNotify(t, conn)
		assert.Equal(t, []string{"STATUS=/app running: 1 up; 0 group restarts", "READY=1"}, got,
			"the state as it is now, in one datagram")
		restored := ev.of(EventNotifyRestored)
		require.Len(t, restored, 1)
		// The first Advance's STATUS and READY, then one retry a pulse for
		// five pulses, the last of them while the socket was not yet there.
		assert.Contains(t, restored[0].Reason, "6 datagrams dropped over 6s")

		time.Sleep(3 * time.Second)
		synctest.Wait()
		assert.Empty(t, ghReadNotify(t, conn), "nothing new, nothing sent again")
		cancel()
		require.NoError(t, <-errc)
		assert.Contains(t, ghKeys(ghReadNotify(t, conn)), "STOPPING=1")
		assert.Len(t, ev.of(EventNotifyFailed), 1)
	})
}

// TestNotifyLastTryAtTheEnd: the tree's end does not wait for the retry's
// pulse: a state that could not be sent gets a last try when Run ends, so
// that a socket that came back just before still hears STOPPING=1.
func TestNotifyLastTryAtTheEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		path := filepath.Join(t.TempDir(), "notify.sock")
		t.Setenv("NOTIFY_SOCKET", path)
		t.Setenv("WATCHDOG_USEC", "")
		t.Setenv("WATCHDOG_PID", "")
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a")
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		start := time.Now()
		go func() { errc <- g.Run(ctx) }()
		time.Sleep(1500 * time.Millisecond) // two failed sends; the next is due at 2s
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })
		cancel()
		require.NoError(t, <-errc)
		assert.Equal(t, 1500*time.Millisecond, time.Since(start), "Run did not wait for the retry")
		got := ghKeys(ghReadNotify(t, conn))
		assert.Equal(t, []string{"STATUS", "READY=1", "STOPPING=1"}, got)
	})
}

// TestNotifySocketReplaced: when the receiver of NOTIFY_SOCKET goes away
// and a new one is bound at the same path (systemd re-executed), the
// notifier dials it again; it used to write to the dead peer for the
// process's life.
func TestNotifySocketReplaced(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		old := ghNotifySocket(t, 0)
		path := os.Getenv("NOTIFY_SOCKET")
		l := newGHLog(t)
		var ev ghEvents
		g := ghGroup(t, l, "app", GroupConfig{OnEvent: ev.on}, "a")
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Run(ctx) }()
		synctest.Wait()
		assert.Equal(t, []string{"STATUS", "READY=1"}, ghKeys(ghReadNotify(t, old)))

		require.NoError(t, old.Close())
		require.NoError(t, os.Remove(path))
		conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
		require.NoError(t, err)
		t.Cleanup(func() { _ = conn.Close() })

		l.end("a", errGH) // a restart: the status changes
		synctest.Wait()
		time.Sleep(2 * time.Second)
		synctest.Wait()
		got := ghReadNotify(t, conn)
		require.NotEmpty(t, got, "the new socket hears from the service")
		assert.True(t, strings.HasPrefix(got[len(got)-1], "STATUS=/app running: 1 up"), "%q", got)
		require.Len(t, ev.of(EventNotifyFailed), 1)
		assert.Contains(t, ev.of(EventNotifyFailed)[0].Reason, "connection refused")
		assert.Len(t, ev.of(EventNotifyRestored), 1)
		cancel()
		require.NoError(t, <-errc)
	})
}

// TestNotifyReadyCarriesCurrentStatus: READY=1 goes out with a STATUS= of
// the tree as it is then. It used to go with the published snapshot's
// status, which may be SnapshotInterval old: systemd showed the service
// ready with STATUS=... starting.
func TestNotifyReadyCarriesCurrentStatus(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := ghNotifySocket(t, 0)
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{SnapshotInterval: time.Minute})
		ready := make(chan struct{})
		cfg := ghCfg()
		cfg.ReadyTimeout = time.Hour
		_, err := g.Add("db", func(ctx context.Context, a *Attempt) error {
			select {
			case <-ready:
				a.Ready()
			case <-ctx.Done():
				return ctx.Err()
			}
			<-ctx.Done()
			return ctx.Err()
		}, cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Run(ctx) }()
		synctest.Wait()
		got := ghReadNotify(t, conn)
		require.Len(t, got, 1)
		assert.True(t, strings.HasPrefix(got[0], "STATUS=/app starting: "), "%q", got)

		time.Sleep(time.Second) // well within SnapshotInterval
		close(ready)
		synctest.Wait()
		got = ghReadNotify(t, conn)
		assert.Equal(t, []string{"STATUS=/app running: 1 up; 0 group restarts", "READY=1"}, got)

		cancel()
		require.NoError(t, <-errc)
		got = ghReadNotify(t, conn)
		require.NotEmpty(t, got)
		assert.Contains(t, got, "STOPPING=1")
		assert.True(t, strings.HasPrefix(got[len(got)-1], "STATUS=/app stopped: "), "%q", got)
	})
}

// fillUnixgram fills the receive queue of the unix datagram socket at path
// from sockets of its own, until a fresh socket cannot send one datagram:
// the receiver's queue, not a sender's buffer, is full. The fillers stay
// open until the test ends.
func fillUnixgram(t *testing.T, path string) {
	addr := &net.UnixAddr{Name: path, Net: "unixgram"}
	for range 1000 {
		c, err := net.DialUnix("unixgram", nil, addr)
		require.NoError(t, err)
		t.Cleanup(func() { _ = c.Close() })
		raw, err := c.SyscallConn()
		require.NoError(t, err)
		sent := 0
		for {
			var werr error
			require.NoError(t, raw.Write(func(fd uintptr) bool {
				_, werr = syscall.Write(int(fd), []byte("FILL"))
				return true
			}))
			if errors.Is(werr, syscall.EAGAIN) {
				break
			}
			require.NoError(t, werr)
			sent++
		}
		if sent == 0 {
			return
		}
	}
	t.Fatal("the receiver's queue never filled")
}

// TestNotifyReceiverNeverReads: a NOTIFY_SOCKET whose receiver stops
// reading costs dropped datagrams, never the loop: it keeps advancing
// (SinceAdvance stays within a few pulses), serves its context's end, and
// once the receiver reads again systemd gets the current state. The write
// used to block the loop inside the datagram send, for good. Real time: the
// old blocking send parked the loop in the network poller, which synctest
// does not count as durably blocked.
func TestNotifyReceiverNeverReads(t *testing.T) {
	const pulse = 20 * time.Millisecond
	conn := ghNotifySocket(t, 2*pulse) // a ping every pulse
	fillUnixgram(t, os.Getenv("NOTIFY_SOCKET"))
	var ev ghEvents
	g, err := NewGroup("app", GroupConfig{Pulse: pulse, OnEvent: ev.on})
	require.NoError(t, err)
	_, err = g.Add("a", func(ctx context.Context, _ *Attempt) error {
		<-ctx.Done()
		return ctx.Err()
	}, ghCfg())
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(t.Context())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	t.Cleanup(func() {
		// On a failure, free a loop stuck in the send before goleak looks.
		cancel()
		_ = conn.Close()
		if err := <-errc; err != nil {
			t.Errorf("Run: %v", err)
		}
	})

	// Watch the loop for a while: it must keep advancing all along.
	const bound = 12 * pulse // generous for a shared, loaded machine
	start := time.Now()
	var worst time.Duration
	for time.Since(start) < 30*pulse {
		time.Sleep(pulse / 4)
		h := g.Health(time.Now())
		since, ok := h.SinceAdvance, h.Advanced
		if !ok {
			since = time.Since(start)
		}
		worst = max(worst, since)
		require.Less(t, since, bound, "the loop stalled (advanced: %v)", ok)
	}
	t.Logf("longest since an Advance: %v (pulse %v)", worst, pulse)
	failed := ev.of(EventNotifyFailed)
	require.Len(t, failed, 1, "one report for the whole outage")
	assert.Contains(t, failed[0].Reason, "resource temporarily unavailable")
	assert.Empty(t, ev.of(EventNotifyRestored))

	// The receiver reads again: the state the loop could not send arrives,
	// as it is now.
	var got []string
	for deadline := time.Now().Add(5 * time.Second); !slices.Contains(got, "READY=1"); {
		require.True(t, time.Now().Before(deadline), "READY=1 never arrived: %q", got)
		for _, m := range ghReadNotify(t, conn) {
			if m != "FILL" {
				got = append(got, m)
			}
		}
		time.Sleep(pulse / 2)
	}
	assert.Contains(t, got, "STATUS=/app running: 1 up; 0 group restarts")
	require.Eventually(t, func() bool { return len(ev.of(EventNotifyRestored)) == 1 }, 5*time.Second, pulse)
	assert.Contains(t, ev.of(EventNotifyRestored)[0].Reason, "datagrams dropped")

	cancel() // SIGTERM, served
	select {
	case err := <-errc:
		require.NoError(t, err)
		errc <- err // for the cleanup
	case <-time.After(5 * time.Second):
		t.Fatal("Run did not return after its context ended")
	}
}

// ghNotifySocket listens on a real unix datagram socket and points
// NOTIFY_SOCKET at it.
func ghNotifySocket(t *testing.T, watchdog time.Duration) *net.UnixConn {
	path := filepath.Join(t.TempDir(), "notify.sock")
	conn, err := net.ListenUnixgram("unixgram", &net.UnixAddr{Name: path, Net: "unixgram"})
	require.NoError(t, err)
	t.Cleanup(func() { _ = conn.Close() })
	t.Setenv("NOTIFY_SOCKET", path)
	if watchdog > 0 {
		t.Setenv("WATCHDOG_USEC", fmt.Sprint(watchdog.Microseconds()))
	} else {
		t.Setenv("WATCHDOG_USEC", "")
	}
	t.Setenv("WATCHDOG_PID", "")
	return conn
}

// ghReadNotify returns the messages queued on conn, one line each, without
// waiting: a datagram sent to a unix socket is queued before the send
// returns, so what the loop sent is there.
func ghReadNotify(t *testing.T, conn *net.UnixConn) []string {
	raw, err := conn.SyscallConn()
	require.NoError(t, err)
	var out []string
	buf := make([]byte, 4096)
	for {
		var n int
		var rerr error
		require.NoError(t, raw.Read(func(fd uintptr) bool {
			n, _, rerr = syscall.Recvfrom(int(fd), buf, syscall.MSG_DONTWAIT)
			return true
		}))
		if errors.Is(rerr, syscall.EAGAIN) {
			return out
		}
		require.NoError(t, rerr)
		out = append(out, strings.Split(string(buf[:n]), "\n")...)
	}
}

// ghKinds keeps the messages' keys: "READY=1" stays, "STATUS=..." becomes
// "STATUS".
func ghKeys(msgs []string) []string {
	out := make([]string, len(msgs))
	for i, m := range msgs {
		k, v, _ := strings.Cut(m, "=")
		if k == "STATUS" {
			out[i] = k
		} else {
			out[i] = k + "=" + v
		}
	}
	return out
}

func TestRunNotify(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := ghNotifySocket(t, 2*time.Second)
		l := newGHLog(t)
		unblock := make(chan struct{})
		blockOnExit := func(e Event) {
			if e.Kind == EventExited && e.ChildID == "b" {
				<-unblock // a listener stuck in user code stalls the loop
			}
		}
		g := ghGroup(t, l, "app", GroupConfig{OnEvent: blockOnExit}, "a", "b")
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Run(ctx) }()
		synctest.Wait()
		first := ghReadNotify(t, conn)
		assert.Equal(t, []string{"STATUS", "READY=1", "WATCHDOG=1"}, ghKeys(first))
		assert.Equal(t, "STATUS=/app running: 2 up; 0 group restarts", first[0])

		time.Sleep(3500 * time.Millisecond)
		synctest.Wait()
		assert.Equal(t, []string{"WATCHDOG=1", "WATCHDOG=1", "WATCHDOG=1"}, ghKeys(ghReadNotify(t, conn)),
			"a ping every half WATCHDOG_USEC")

		l.end("b", errGH)
		synctest.Wait()
		time.Sleep(10 * time.Second)
		synctest.Wait()
		assert.Empty(t, ghReadNotify(t, conn), "no ping while the loop is stuck")

		close(unblock)
		synctest.Wait()
		got := ghKeys(ghReadNotify(t, conn))
		require.NotEmpty(t, got)
		assert.Contains(t, got, "WATCHDOG=1", "the ping resumes with the loop")

		cancel()
		require.NoError(t, <-errc)
		assert.Contains(t, ghKeys(ghReadNotify(t, conn)), "STOPPING=1")
	})
}

func TestRunNotifyUnsetIsNoOp(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		t.Setenv("NOTIFY_SOCKET", "")
		assert.Nil(t, openNotifier())
		var n *notifier
		n.after(nil, time.Now()) // nil: does nothing
		_, ok := n.deadline()
		assert.False(t, ok)
		n.close()
	})
}

func TestRunNotifyWatchdogOtherPID(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ghNotifySocket(t, 2*time.Second)
		t.Setenv("WATCHDOG_PID", "1")
		n := openNotifier()
		require.NotNil(t, n)
		defer n.close()
		_, ok := n.deadline()
		assert.False(t, ok, "the watchdog is another process's")
	})
}

// TestNotifyNoWatchdog: with NOTIFY_SOCKET set and no
// WATCHDOG_USEC, Run sends no WATCHDOG=1, and an Advance with nothing to
// say sends nothing (no empty datagram).
func TestNotifyNoWatchdog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		conn := ghNotifySocket(t, 0)
		l := newGHLog(t)
		g := ghGroup(t, l, "app", GroupConfig{}, "a")
		ctx, cancel := context.WithCancel(t.Context())
		errc := make(chan error, 1)
		go func() { errc <- g.Run(ctx) }()
		synctest.Wait()
		assert.Equal(t, []string{"STATUS", "READY=1"}, ghKeys(ghReadNotify(t, conn)))
		for range 3 {
			time.Sleep(time.Second) // the loop wakes once a pulse
			synctest.Wait()
		}
		assert.Empty(t, ghReadNotify(t, conn), "nothing to say, nothing sent")
		l.end("a", errGH)
		synctest.Wait()
		time.Sleep(time.Second)
		synctest.Wait()
		got := ghReadNotify(t, conn)
		assert.NotContains(t, got, "WATCHDOG=1")
		assert.NotContains(t, got, "")
		cancel()
		require.NoError(t, <-errc)
		got = ghReadNotify(t, conn)
		assert.Contains(t, got, "STOPPING=1")
		assert.NotContains(t, got, "WATCHDOG=1")
	})
}

// TestStatusLineCounts: the systemd STATUS= line counts a tree's
// member slots, nested groups included, each under the first of
// quarantined, paused, up, restarting, stopped that fits, and sums every
// group's restarts.
func TestStatusLineCounts(t *testing.T) {
	at := time.Unix(100, 0)
	slot := func(op Operation, st Status) MemberRecord {
		return MemberRecord{ID: "x", Slot: &Record{Operation: op, Status: st}}
	}
	restarting := slot(OperationActive, StatusStopped)
	restarting.Slot.NextRestartAt = &at
	pending := slot(OperationActive, StatusStopped)
	pending.Slot.PendingRestart = &PendingRestart{}
	// A paused slot still running counts as paused; a cancelled one that
	// has not returned, and is due to restart, as restarting.
	cancelling := slot(OperationActive, StatusCancelling)
	cancelling.Slot.NextRestartAt = &at
	sub := &GroupRecord{Path: "/app/sub", Restarts: 2, Members: []MemberRecord{
		slot(OperationQuarantined, StatusStopped),
		slot(OperationPaused, StatusRunning),
		slot(OperationActive, StatusReady),
	}}
	rec := &GroupRecord{Path: "/app", State: GroupRunning, Restarts: 1, Members: []MemberRecord{
		slot(OperationActive, StatusRunning),
		slot(OperationActive, StatusStarting),
		slot(OperationPaused, StatusStopped),
		restarting,
		pending,
		cancelling,
		slot(OperationActive, StatusStopped),
		slot(OperationActive, StatusStopped),
		slot(OperationActive, StatusStopped), // three: as many stopped as restarting would hide a swap
		{ID: "sub", Group: sub},
	}}
	assert.Equal(t, "/app running: 3 up, 3 restarting, 2 paused, 1 quarantined, 3 stopped; 3 group restarts",
		statusLine(rec))
	assert.Equal(t, "/app running: 0 up; 0 group restarts",
		statusLine(&GroupRecord{Path: "/app", State: GroupRunning}), "only the up count is always there")
}
