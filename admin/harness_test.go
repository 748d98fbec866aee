package admin

import (
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// kids drives the children of a test tree from the test: each runs until
// cancelled or told to end, and runs on its attempt what it is sent.
type kids struct {
	mu sync.Mutex
	ch map[string]chan kidMsg
}

// kidMsg is what a child is told: call f on its attempt, or end with err.
type kidMsg struct {
	f   func(*sv.Attempt)
	end bool
	err error
}

func newKids() *kids { return &kids{ch: map[string]chan kidMsg{}} }

func (k *kids) of(id string) chan kidMsg {
	k.mu.Lock()
	defer k.mu.Unlock()
	c, ok := k.ch[id]
	if !ok {
		c = make(chan kidMsg, 4)
		k.ch[id] = c
	}
	return c
}

// child returns the ChildFunc of id, reporting Ready at once when ready.
func (k *kids) child(id string, ready bool) sv.ChildFunc {
	c := k.of(id)
	return func(ctx context.Context, a *sv.Attempt) error {
		if ready {
			a.Ready()
		}
		for {
			select {
			case <-ctx.Done():
				return ctx.Err()
			case m := <-c:
				if m.end {
					return m.err
				}
				m.f(a)
			}
		}
	}
}

// end makes the running child id return err.
func (k *kids) end(id string, err error) { k.of(id) <- kidMsg{end: true, err: err} }

// call makes the running child id call f on its attempt.
func (k *kids) call(id string, f func(*sv.Attempt)) { k.of(id) <- kidMsg{f: f} }

var errBoom = errors.New("boom")

// testInterval is the test trees' SnapshotInterval: fresh waits it out.
const testInterval = time.Millisecond

// rootCfg is a test tree's root config: snapshots at once, in effect.
func rootCfg() sv.GroupConfig { return sv.GroupConfig{SnapshotInterval: testInterval} }

// quick is a member config that restarts at once.
func quick() sv.Config { return sv.Config{Backoff: sv.Backoff{NoDelay: true}} }

// newTree builds /app with slots db (watches readiness, reports Ready) and
// api, and a nested group /app/jobs with slot mailer. It does not start it.
func newTree(t *testing.T, k *kids) *sv.Group {
	t.Helper()
	g, err := sv.NewGroup("app", rootCfg())
	require.NoError(t, err)
	db := quick()
	db.ReadyTimeout = 10 * time.Second
	_, err = g.Add("db", k.child("db", true), db)
	require.NoError(t, err)
	_, err = g.Add("api", k.child("api", false), quick())
	require.NoError(t, err)
	jobs, err := sv.NewGroup("jobs", sv.GroupConfig{})
	require.NoError(t, err)
	_, err = jobs.Add("mailer", k.child("mailer", false), quick())
	require.NoError(t, err)
	require.NoError(t, g.AddGroup(jobs))
	return g
}

// start starts g and settles it with a fresh snapshot, and shuts it down
// at the test's end.
func start(t *testing.T, g *sv.Group) {
	t.Helper()
	require.NoError(t, g.Start(context.Background(), time.Now()))
	t.Cleanup(func() { stop(t, g) })
	fresh(t, g)
}

// stop shuts g down and lets it finish.
func stop(t *testing.T, g *sv.Group) {
	t.Helper()
	g.Shutdown(time.Now())
	for range 100 {
		looptest.Settle(t, g)
		if g.Finished() {
			return
		}
		time.Sleep(time.Second)
	}
	require.FailNow(t, "the tree never finished")
}

// fresh settles g and waits out the snapshot interval, so that its
// Snapshot shows everything settled.
func fresh(t *testing.T, g *sv.Group) {
	t.Helper()
	looptest.Settle(t, g)
	time.Sleep(testInterval)
	looptest.Settle(t, g)
}

// runLoop runs g.Run in the background until the test ends.
func runLoop(t *testing.T, g *sv.Group) {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-errc)
	})
	synctest.Wait()
}

// do serves one request to h and returns the answer. hdr holds header
// name, value pairs; a body gets Content-Type application/json unless hdr
// sets one.
func do(h http.Handler, method, target, body string, hdr ...string) *httptest.ResponseRecorder {
	var rd io.Reader
	if body != "" {
		rd = strings.NewReader(body)
	}
	r := httptest.NewRequest(method, target, rd)
	if strings.HasPrefix(target, "/") {
		r.Host = "127.0.0.1:9090" // httptest's example.com is not a loopback name
	}
	if body != "" {
		r.Header.Set("Content-Type", "application/json")
	}
	for i := 0; i+1 < len(hdr); i += 2 {
		r.Header.Set(hdr[i], hdr[i+1])
	}
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	return w
}

// decode decodes the answer's JSON body into a T, requiring JSON.
func decode[T any](t *testing.T, w *httptest.ResponseRecorder) T {
	t.Helper()
	require.Equal(t, "application/json; charset=utf-8", w.Header().Get("Content-Type"), w.Body.String())
	var v T
	require.NoError(t, json.Unmarshal(w.Body.Bytes(), &v), w.Body.String())
	return v
}

// alice authorizes every request as alice.
func alice(*http.Request) (string, error) { return "alice", nil }
