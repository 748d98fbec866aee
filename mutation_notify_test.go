package supervisor

import (
	"context"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestMutationNotifyNoWatchdog: with NOTIFY_SOCKET set and no
// WATCHDOG_USEC, Run sends no WATCHDOG=1, and an Advance with nothing to
// say sends nothing (no empty datagram).
func TestMutationNotifyNoWatchdog(t *testing.T) {
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
