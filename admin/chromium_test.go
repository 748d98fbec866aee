package admin

import (
	"bytes"
	"context"
	"errors"
	"net/http"
	"net/http/httptest"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// demoTree runs, on the real clock, a tree with a member in each state the
// page colours: /app/db ready, /app/api running, /app/cache quarantined by
// its restart limit, /app/worker failing and waiting out its backoff, and
// /app/jobs with /app/jobs/mailer paused by an operator and
// /app/jobs/indexer running. It returns once the snapshot shows all that,
// and stops the tree at the test's end.
func demoTree(t *testing.T) *sv.Group {
	t.Helper()
	k := newKids()
	g, err := sv.NewGroup("app", sv.GroupConfig{SnapshotInterval: 10 * time.Millisecond})
	require.NoError(t, err)
	add := func(g *sv.Group, id string, fn sv.ChildFunc, cfg sv.Config) {
		_, err := g.Add(id, fn, cfg)
		require.NoError(t, err)
	}
	db := quick()
	db.ReadyTimeout = 5 * time.Second
	add(g, "db", k.child("db", true), db)
	add(g, "api", k.child("api", false), quick())
	cache := quick()
	cache.RestartLimit = 3
	add(g, "cache", func(context.Context, *sv.Attempt) error {
		return errors.New("dial tcp 10.0.3.7:6379: connection refused")
	}, cache)
	worker := sv.Config{Backoff: sv.Backoff{Initial: time.Hour, NoJitter: true}}
	add(g, "worker", func(ctx context.Context, a *sv.Attempt) error {
		if a.Number() == 1 {
			return errors.New("lost the queue lease")
		}
		<-ctx.Done()
		return ctx.Err()
	}, worker)
	jobs, err := sv.NewGroup("jobs", sv.GroupConfig{Strategy: sv.OneForAll})
	require.NoError(t, err)
	add(jobs, "mailer", k.child("mailer", false), quick())
	add(jobs, "indexer", k.child("indexer", false), quick())
	require.NoError(t, g.AddGroup(jobs))

	ctx, cancel := context.WithCancel(context.Background())
	errc := make(chan error, 1)
	go func() { errc <- g.Run(ctx) }()
	t.Cleanup(func() {
		cancel()
		select {
		case err := <-errc:
			assert.NoError(t, err)
		case <-time.After(10 * time.Second):
			t.Error("the demo tree did not stop")
		}
	})
	waitFor(t, g, func(r *sv.GroupRecord) bool { return r.State == sv.GroupRunning })
	done, err := g.Submit(sv.Command{Op: sv.CommandPause, Path: "/app/jobs/mailer", Requester: "alice", Reason: "template fix in review"})
	require.NoError(t, err)
	require.NoError(t, (<-done).Err)
	waitFor(t, g, func(r *sv.GroupRecord) bool {
		cache, _ := findMember(r, "/app/cache")
		worker, _ := findMember(r, "/app/worker")
		mailer, _ := findMember(r, "/app/jobs/mailer")
		return cache.Slot.Operation == sv.OperationQuarantined && worker.Slot.NextRestartAt != nil &&
			mailer.Slot.Operation == sv.OperationPaused
	})
	return g
}

// waitFor looks at g's snapshot at each publication, for at most ten
// seconds on the real clock (a real browser cannot run in a synctest
// bubble), until ok holds. Snapshots are published at least every
// SnapshotInterval while something changes, so a short ticker sees each.
func waitFor(t *testing.T, g *sv.Group, ok func(*sv.GroupRecord) bool) {
	t.Helper()
	deadline := time.NewTimer(10 * time.Second)
	defer deadline.Stop()
	tick := time.NewTicker(10 * time.Millisecond)
	defer tick.Stop()
	for {
		if r := g.Snapshot(); r != nil && ok(r) {
			return
		}
		select {
		case <-tick.C:
			continue
		case <-deadline.C:
		}
		break
	}
	var nr []notReady
	if r := g.Snapshot(); r != nil {
		nr = appendNotReady(nil, r, false, time.Now())
	}
	require.FailNow(t, "the demo tree never got there", "%+v", nr)
}

// chromium returns the path of a Chromium on PATH, or skips the test.
func chromium(t *testing.T) string {
	t.Helper()
	for _, name := range []string{"chromium", "chromium-browser"} {
		if p, err := exec.LookPath(name); err == nil {
			return p
		}
	}
	t.Skip("no chromium on PATH (.ci/install-browser installs Debian's)")
	return ""
}

// runChromium runs headless Chromium with args, bounded in time, and
// returns its stdout and stderr.
func runChromium(t *testing.T, bin string, args ...string) (stdout, stderr string) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 60*time.Second)
	defer cancel()
	base := []string{
		"--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
		"--no-first-run", "--disable-extensions", "--hide-scrollbars", "--force-color-profile=srgb",
		"--user-data-dir=" + t.TempDir(), "--enable-logging=stderr", "--v=0",
	}
	cmd := exec.CommandContext(ctx, bin, append(base, args...)...)
	var out, errb bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.WaitDelay = 5 * time.Second
	err := cmd.Run()
	require.NoError(t, err, "chromium: %s", errb.String())
	return out.String(), errb.String()
}

// TestPageInChromium renders the status page of a live tree in a real
// headless Chromium: the DOM after its scripts ran holds every member with
// its state class and the command buttons, the page's script refreshed it
// under the Content-Security-Policy without a violation, and a screenshot
// is taken (copied to $ADMIN_SCREENSHOT when set, as docs/admin.png was).
func TestPageInChromium(t *testing.T) {
	bin := chromium(t)
	g := demoTree(t)
	srv := httptest.NewServer(New(g, Options{Authorize: func(*http.Request) (string, error) { return "alice", nil }}))
	defer srv.Close()

	dom, logs := runChromium(t, bin, "--virtual-time-budget=5000", "--dump-dom", srv.URL+"/")
	for path, class := range map[string]string{
		"/app": "healthy", "/app/db": "healthy", "/app/api": "healthy", "/app/cache": "quarantined",
		"/app/worker": "restarting", "/app/jobs": "healthy", "/app/jobs/mailer": "paused", "/app/jobs/indexer": "healthy",
	} {
		assert.Contains(t, dom, `data-path="`+path+`" data-state="`+class+`"`, path)
	}
	assert.Contains(t, dom, "dial tcp 10.0.3.7:6379: connection refused", "the last exit")
	assert.Contains(t, dom, "restart limit", "the quarantine reason")
	assert.Contains(t, dom, `<button type="button" data-op="resume" data-path="/app/jobs/mailer">resume</button>`)
	assert.Contains(t, dom, "not ready · 2", "cache and worker keep the tree from being ready")
	assert.Regexp(t, `<body data-refreshed="[1-9]`, dom, "the page's script refreshed it")
	assert.NotContains(t, logs, "Content Security Policy", "no CSP violation")
	assert.NotContains(t, logs, "Uncaught", "no script error")

	shot := filepath.Join(t.TempDir(), "admin.png")
	runChromium(t, bin, "--screenshot="+shot, "--window-size=1280,1000", srv.URL+"/")
	png, err := os.ReadFile(shot)
	require.NoError(t, err)
	assert.True(t, bytes.HasPrefix(png, []byte("\x89PNG\r\n\x1a\n")), "a PNG")
	assert.Greater(t, len(png), 20_000, "more than a blank page")
	if out := os.Getenv("ADMIN_SCREENSHOT"); out != "" {
		require.NoError(t, os.WriteFile(out, png, 0o644))
	}
}
