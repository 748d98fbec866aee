package admin

import (
	"net/http"
	"regexp"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

var nonceRE = regexp.MustCompile(`script-src 'nonce-([A-Z2-7]+)'; style-src 'nonce-([A-Z2-7]+)'`)

// pageNonce checks the page's security headers and returns its nonce.
func pageNonce(t *testing.T, hd http.Header) string {
	t.Helper()
	assert.Equal(t, "text/html; charset=utf-8", hd.Get("Content-Type"))
	assert.Equal(t, "no-store", hd.Get("Cache-Control"))
	assert.Equal(t, "nosniff", hd.Get("X-Content-Type-Options"))
	assert.Equal(t, "no-referrer", hd.Get("Referrer-Policy"))
	csp := hd.Get("Content-Security-Policy")
	assert.Contains(t, csp, "default-src 'none'")
	assert.Contains(t, csp, "connect-src 'self'")
	assert.Contains(t, csp, "frame-ancestors 'none'")
	m := nonceRE.FindStringSubmatch(csp)
	require.NotNil(t, m, csp)
	require.Equal(t, m[1], m[2])
	return m[1]
}

func TestPage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		h := New(g, Options{})
		w := do(h, "GET", "/", "")
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		pageNonce(t, w.Header())
		has(t, w.Body.String(), "Waiting for the tree's first snapshot")

		start(t, g)
		done, err := g.Submit(sv.Command{Op: sv.CommandQuarantine, Path: "/app/api", Requester: "bob",
			Reason: `<img src=x onerror=alert(1)>`})
		require.NoError(t, err)
		looptest.Settle(t, g)
		require.NoError(t, (<-done).Err)
		fresh(t, g)

		w = do(h, "GET", "/", "")
		require.Equal(t, http.StatusOK, w.Code)
		nonce := pageNonce(t, w.Header())
		body := w.Body.String()
		has(t, body, `<script nonce="`+nonce+`">`)
		has(t, body, `<style nonce="`+nonce+`">`)
		assert.NotEqual(t, nonce, pageNonce(t, do(h, "GET", "/", "").Header()), "a nonce per answer")
		for _, external := range []string{"http://", "https://", "@import", "url("} {
			hasNot(t, body, external)
		}
		assert.NotRegexp(t, `<[a-z]+ [^>]*(src|href)="[^d#tlre?]`, body, "no external assets: only data:, tree, events, livez, readyz, queries")
		hasNot(t, body, "<img src=x", "text is escaped")
		hasNot(t, body, "toLocaleTimeString", "one clock on the page: UTC")
		has(t, body, "toISOString().slice(11, 19) + ' UTC'")
		dark := body[strings.Index(body, "prefers-color-scheme: dark"):]
		assert.Contains(t, dark[:strings.Index(dark, "}\n}")], "--meter-bg: #30363d", "dark meters are dark")
		assert.Contains(t, dark[:strings.Index(dark, "}\n}")], "--link: #79c0ff", "dark links are light")
		has(t, body, "&lt;img src=x onerror=alert(1)&gt;")
		for path, class := range map[string]string{
			"/app": "healthy", "/app/db": "healthy", "/app/api": "quarantined", "/app/jobs": "healthy", "/app/jobs/mailer": "healthy",
		} {
			has(t, body, `data-path="`+path+`" data-state="`+class+`"`, path)
		}
		has(t, body, "not ready · 1")
		hasNot(t, body, `<button type="button" data-op=`, "no command buttons without an authorizer")
		hasNot(t, body, `href="login"`, "no sign-in without an authorizer")
		hasNot(t, body, "Actions")

		body = do(New(g, Options{Authorize: alice}), "GET", "/", "").Body.String()
		has(t, body, `<button type="button" data-op="resume" data-path="/app/api">resume</button>`)
		has(t, body, `<button type="button" data-op="pause" data-path="/app/db">pause</button>`)
		has(t, body, `<button type="button" data-op="restart" data-path="/app/jobs">restart</button>`)
		hasNot(t, body, `data-op="restart" data-path="/app"`, "the root is not restarted from the page")

		w = do(h, "GET", "/?fragment=app", "")
		require.Equal(t, http.StatusOK, w.Code)
		frag := w.Body.String()
		assert.True(t, strings.HasPrefix(frag, `<div id="app">`), frag[:min(len(frag), 40)])
		hasNot(t, frag, "<script")
		hasNot(t, frag, "<style")
		has(t, frag, `data-path="/app/api" data-state="quarantined"`)
	})
}

// TestPageFailedTree: a failed tree shows red and names why.
func TestPageFailedTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		cfg := rootCfg()
		cfg.Intensity = 1
		g, err := sv.NewGroup("app", cfg)
		require.NoError(t, err)
		_, err = g.Add("m", k.child("m", false), quick())
		require.NoError(t, err)
		start(t, g)
		k.end("m", errBoom)
		fresh(t, g)
		k.end("m", errBoom)
		fresh(t, g)
		require.True(t, g.Finished())
		body := do(New(g, Options{}), "GET", "/", "").Body.String()
		has(t, body, `data-path="/app" data-state="failed"`)
		has(t, body, `data-path="/app/m" data-state="done"`)
		has(t, body, "supervisor: group failed")
		has(t, body, "loop not live")
	})
}

func TestAgo(t *testing.T) {
	tests := []struct {
		d    time.Duration
		want string
	}{
		{-time.Second, "0s"},
		{0, "0s"},
		{420 * time.Millisecond, "400ms"},
		{9*time.Second + 960*time.Millisecond, "10s"},
		{12*time.Second + 400*time.Millisecond, "12s"},
		{3*time.Minute + 4*time.Second, "3m04s"},
		{time.Hour + 5*time.Minute + 20*time.Second, "1h05m"},
		{50 * time.Hour, "2d2h"},
	}
	for _, tt := range tests {
		assert.Equal(t, tt.want, ago(tt.d), "%v", tt.d)
	}
	for d, want := range map[time.Duration]string{-time.Second: "0s", 1500 * time.Millisecond: "1s", 59 * time.Second: "59s",
		3*time.Minute + 59*time.Second: "3m", 2*time.Hour + 59*time.Minute: "2h", 50 * time.Hour: "2d"} {
		assert.Equal(t, want, roughAgo(d), "%v", d)
	}
}

// has checks that the page holds s, without printing the whole page.
func has(t *testing.T, page, s string, msg ...any) {
	t.Helper()
	assert.True(t, strings.Contains(page, s), append([]any{"the page lacks %q", s}, msg...)...)
}

// hasNot checks that the page does not hold s.
func hasNot(t *testing.T, page, s string, msg ...any) {
	t.Helper()
	assert.False(t, strings.Contains(page, s), append([]any{"the page holds %q", s}, msg...)...)
}
