package admin

import (
	"context"
	"fmt"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

func TestLivez(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		h := New(g, Options{})

		w := do(h, "GET", "/livez", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		l := decode[liveness](t, w)
		assert.False(t, l.Live)
		assert.Contains(t, l.Error, "has not advanced yet")
		assert.Nil(t, l.LastAdvance)

		start(t, g)
		w = do(h, "GET", "/livez", "")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		l = decode[liveness](t, w)
		assert.True(t, l.Live)
		assert.Empty(t, l.Error)
		require.NotNil(t, l.LastAdvance)
		assert.True(t, g.Health(time.Now()).LastAdvance.Equal(*l.LastAdvance))
		assert.Equal(t, DefaultStall.Milliseconds(), l.StallMS)

		time.Sleep(DefaultStall) // nobody advances the loop
		assert.Equal(t, http.StatusOK, do(h, "GET", "/livez", "").Code, "at the threshold, still live")
		time.Sleep(time.Millisecond)
		w = do(h, "GET", "/livez", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		l = decode[liveness](t, w)
		assert.Contains(t, l.Error, "stalled")
		assert.Equal(t, (DefaultStall + time.Millisecond).Milliseconds(), l.AgeMS)

		g.Advance(time.Now())
		assert.Equal(t, http.StatusOK, do(h, "GET", "/livez", "").Code, "live again once it advances")

		stop(t, g)
		w = do(h, "GET", "/livez", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Contains(t, decode[liveness](t, w).Error, "the tree has ended (stopped)")
	})
}

// TestLivezRunStuckInUserCode runs the ready-made loop: idle, it pulses and
// stays live; stuck in an OnEvent listener, /livez fails within Stall; freed,
// it is live again.
func TestLivezRunStuckInUserCode(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		unblock := make(chan struct{})
		cfg := rootCfg()
		cfg.OnEvent = func(e sv.Event) {
			if e.Kind == sv.EventExited && e.ChildID == "api" {
				<-unblock
			}
		}
		g, err := sv.NewGroup("app", cfg)
		require.NoError(t, err)
		_, err = g.Add("api", k.child("api", false), quick())
		require.NoError(t, err)
		h := New(g, Options{Stall: 2 * time.Second})
		runLoop(t, g)

		time.Sleep(time.Minute)
		synctest.Wait()
		assert.Equal(t, http.StatusOK, do(h, "GET", "/livez", "").Code, "an idle loop pulses")

		k.end("api", errBoom)
		synctest.Wait()
		time.Sleep(2 * time.Second)
		assert.Equal(t, http.StatusOK, do(h, "GET", "/livez", "").Code)
		time.Sleep(time.Second)
		w := do(h, "GET", "/livez", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, "the loop is stuck in user code")
		assert.Equal(t, int64(2000), decode[liveness](t, w).StallMS)

		close(unblock)
		synctest.Wait()
		assert.Equal(t, http.StatusOK, do(h, "GET", "/livez", "").Code)
	})
}

func TestReadyzBeforeStart(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTree(t, newKids())
		w := do(New(g, Options{}), "GET", "/readyz", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		rd := decode[readiness](t, w)
		assert.False(t, rd.Ready)
		assert.Equal(t, noSnapshot, rd.Error)
	})
}

// TestReadyz walks one tree through the states /readyz judges.
func TestReadyz(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		h := New(g, Options{})
		start(t, g)
		check := func(want ...notReady) {
			t.Helper()
			fresh(t, g)
			w := do(h, "GET", "/readyz", "")
			rd := decode[readiness](t, w)
			if len(want) == 0 {
				assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
				assert.Equal(t, readiness{Ready: true, State: "running"}, rd)
				return
			}
			assert.Equal(t, http.StatusServiceUnavailable, w.Code)
			assert.False(t, rd.Ready)
			require.Len(t, rd.NotReady, len(want), w.Body.String())
			for i, nr := range want {
				assert.Equal(t, nr.Path, rd.NotReady[i].Path)
				assert.Equal(t, nr.State, rd.NotReady[i].State)
				assert.Contains(t, rd.NotReady[i].Reason, nr.Reason)
			}
		}
		cmd := func(op sv.CommandOp, path, reason string) {
			t.Helper()
			done, err := g.Submit(sv.Command{Op: op, Path: path, Requester: "test", Reason: reason})
			require.NoError(t, err)
			looptest.Settle(t, g)
			require.NoError(t, (<-done).Err)
		}

		check()

		cmd(sv.CommandPause, "/app/api", "deploy")
		check() // paused is deliberate: still ready
		cmd(sv.CommandResume, "/app/api", "deployed")
		check()

		cmd(sv.CommandQuarantine, "/app/jobs/mailer", "bad template")
		check(notReady{"/app/jobs/mailer", "quarantined", "quarantined: bad template (by test)"})
		cmd(sv.CommandResume, "/app/jobs/mailer", "fixed")
		check()

		// The tree publishes a snapshot when something changes, and a
		// child's readiness report after its first Ready is not such a
		// change (a core limit, see the report): mailer's restart makes one.
		k.call("db", func(a *sv.Attempt) { a.NotReady() })
		k.end("mailer", nil)
		check(notReady{"/app/db", "not ready", "reports NotReady"})
		k.call("db", func(a *sv.Attempt) { a.Ready() })
		k.end("mailer", nil)
		check()

		cmd(sv.CommandRestart, "/app/jobs", "rotate")
		check()

		before := g.Snapshot().Members[1].Slot.Attempt
		k.end("api", nil) // Permanent: restarts at once
		check()
		assert.Equal(t, before+1, g.Snapshot().Members[1].Slot.Attempt)

		time.Sleep(DefaultStall + time.Millisecond) // nobody advances
		w := do(h, "GET", "/readyz", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, "a stalled loop's snapshot cannot vouch")
		rd := decode[readiness](t, w)
		require.Len(t, rd.NotReady, 1)
		assert.Equal(t, notReady{Path: "/app", State: "loop not live", Reason: rd.NotReady[0].Reason}, rd.NotReady[0])
		assert.Contains(t, rd.NotReady[0].Reason, "stalled")
		check()

		g.Shutdown(time.Now())
		looptest.Settle(t, g)
		check(notReady{"/app", "loop not live", "the tree has ended"}, notReady{"/app", "stopped", "shutdown requested"})
	})
}

// TestReadyzVerdicts checks what /readyz makes of one member's states, each
// in a tree of its own.
func TestReadyzVerdicts(t *testing.T) {
	tests := []struct {
		name string
		cfg  func(*sv.Config)
		gcfg func(*sv.GroupConfig)
		act  func(k *kids)
		want []notReady // nil: ready
	}{
		{
			// The member shows running, not starting: its record cannot
			// tell (a core limit, see the report); its group can.
			name: "waits for readiness in the ordered start",
			cfg:  func(c *sv.Config) { c.ReadyTimeout = time.Minute },
			want: []notReady{{"/app", "starting", "starting"}, {"/app/m", "starting", "has not signalled yet"}},
		},
		{
			name: "in backoff",
			cfg:  func(c *sv.Config) { c.Backoff = sv.Backoff{Initial: 20 * time.Second, NoJitter: true} },
			act:  func(k *kids) { k.end("m", errBoom) },
			want: []notReady{{"/app/m", "restarting in 20s", "after failed: boom"}},
		},
		{
			name: "quarantined by its restart limit",
			cfg:  func(c *sv.Config) { c.RestartLimit = 1 },
			act:  func(k *kids) { k.end("m", errBoom); k.end("m", errBoom) },
			want: []notReady{{"/app/m", "quarantined", "quarantined: "}},
		},
		{
			name: "temporary: leaves the group once ended",
			cfg:  func(c *sv.Config) { c.Restart = sv.Temporary },
			act:  func(k *kids) { k.end("m", errBoom) },
		},
		{
			name: "transient, done its work",
			cfg:  func(c *sv.Config) { c.Restart = sv.Transient },
			act:  func(k *kids) { k.end("m", nil) },
		},
		{
			name: "the group failed",
			gcfg: func(c *sv.GroupConfig) { c.Intensity = 1 },
			act:  func(k *kids) { k.end("m", errBoom); k.end("m", errBoom) },
			want: []notReady{{"/app", "loop not live", "ended (failed)"}, {"/app", "failed", "failed: supervisor: group failed"}},
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := newKids()
				gcfg := rootCfg()
				if tt.gcfg != nil {
					tt.gcfg(&gcfg)
				}
				g, err := sv.NewGroup("app", gcfg)
				require.NoError(t, err)
				cfg := quick()
				if tt.cfg != nil {
					tt.cfg(&cfg)
				}
				_, err = g.Add("m", k.child("m", false), cfg)
				require.NoError(t, err)
				start(t, g)
				if tt.act != nil {
					tt.act(k)
				}
				fresh(t, g)
				w := do(New(g, Options{}), "GET", "/readyz", "")
				rd := decode[readiness](t, w)
				if tt.want == nil {
					assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
					assert.True(t, rd.Ready)
					return
				}
				assert.Equal(t, http.StatusServiceUnavailable, w.Code)
				require.Len(t, rd.NotReady, len(tt.want), w.Body.String())
				for i, nr := range tt.want {
					assert.Equal(t, nr.Path, rd.NotReady[i].Path)
					assert.Equal(t, nr.State, rd.NotReady[i].State)
					assert.Contains(t, rd.NotReady[i].Reason, nr.Reason)
				}
			})
		})
	}
}

// TestLivezBacklog: in a storm larger than one Advance serves, /livez stays
// live and its backlog says how far behind the loop is; the page's loop
// line says so too; caught up, the backlog is zeros again.
func TestLivezBacklog(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		const n = 1100 // one Advance collects 1,024 exits
		g, err := sv.NewGroup("fleet", sv.GroupConfig{Intensity: sv.NoIntensity})
		require.NoError(t, err)
		fail := make(chan struct{})
		child := func(ctx context.Context, a *sv.Attempt) error {
			if a.Number() == 1 {
				select {
				case <-fail:
					return errBoom
				case <-ctx.Done():
				}
			}
			<-ctx.Done()
			return nil
		}
		cfg := sv.Config{Backoff: sv.Backoff{Initial: time.Second, Max: time.Second, Multiplier: 2, NoJitter: true}}
		for i := range n {
			_, err := g.Add(fmt.Sprintf("m%04d", i), child, cfg)
			require.NoError(t, err)
		}
		h := New(g, Options{})
		t0 := time.Now()
		require.NoError(t, g.Start(t.Context(), t0))
		livez := func() liveness {
			t.Helper()
			w := do(h, "GET", "/livez", "")
			require.Equal(t, http.StatusOK, w.Code, w.Body.String())
			return decode[liveness](t, w)
		}
		assert.Equal(t, backlog{Starts: n - 1024}, livez().Backlog, "the start's second batch")
		g.Advance(t0)
		assert.Equal(t, backlog{}, livez().Backlog)

		close(fail)
		synctest.Wait()
		g.Advance(t0)
		l := livez()
		assert.True(t, l.Live, "behind is not dead")
		assert.Equal(t, backlog{Exits: n - 1024}, l.Backlog)
		g.Advance(t0)
		g.Advance(t0.Add(3 * time.Second))
		l = livez()
		assert.Equal(t, backlog{OverdueMS: 2000}, l.Backlog, "a batch of restarts served 3s in, the rest due since 1s")
		assert.Contains(t, liveText(l), "behind: 0 exits queued, deadlines 2s overdue, 0 to start")
		g.Advance(t0.Add(3 * time.Second))
		l = livez()
		assert.Equal(t, backlog{}, l.Backlog, "caught up")
		assert.NotContains(t, liveText(l), "behind")
		stop(t, g)
	})
}
