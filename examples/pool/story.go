package main

import (
	"context"
	"io"
	"log/slog"
	"net/http"
	"strings"
	"time"
)

// step is one request of the story, and the pause after it.
type step struct {
	method, path string
	want         int           // the status the story expects
	then         time.Duration // the pause after it
	say          string        // what the step shows
}

// script is the default story, against a pool of -max 4.
var script = []step{
	{"POST", "/tenants/acme", 201, 0, "a tenant: StartChild returns once it is ready"},
	{"POST", "/tenants/globex", 201, 0, ""},
	{"POST", "/tenants/initech", 201, 0, ""},
	{"POST", "/tenants/umbrella?behave=broken", 422, 0, "it fails before it is ready: StartChild returns ErrStartFailed and it is removed"},
	{"POST", "/tenants/hooli?behave=revoked", 201, 0, "its licence will be revoked: it returns an error wrapping ErrDoNotRestart"},
	{"POST", "/tenants/flaky?behave=crashloop", 429, 800 * time.Millisecond, "the pool holds its MaxChildren (4): refused, nothing changes"},
	{"POST", "/tenants/flaky?behave=crashloop", 201, 800 * time.Millisecond, "hooli left without a restart, freeing its place; flaky fails every 50ms until quarantined"},
	{"DELETE", "/tenants/flaky", 200, 0, "a quarantined tenant is still a member until removed"},
	{"POST", "/tenants/acme", 409, 0, "a duplicate id"},
	{"DELETE", "/tenants/globex", 200, 0, "StopChild returns once it has flushed and is gone"},
	{"DELETE", "/tenants/globex", 404, 0, "gone: an unknown member"},
	{"POST", "/tenants/slow?behave=stuck", 201, 300 * time.Millisecond, "it will not stop when cancelled: the pool's ShutdownTimeout abandons it"},
}

// play tells the story to the gateway whose address first gives.
func play(ctx context.Context, logger *slog.Logger, first <-chan string) {
	var addr string
	select {
	case <-ctx.Done():
		return
	case addr = <-first:
	}
	client := &http.Client{Timeout: 2 * requestWait}
	defer client.CloseIdleConnections()
	for _, s := range script {
		if s.say != "" {
			logger.Info("story: " + s.say)
		}
		req, err := http.NewRequestWithContext(ctx, s.method, "http://"+addr+s.path, nil)
		if err != nil {
			return
		}
		resp, err := client.Do(req)
		if err != nil {
			logger.Warn("story: request failed", "method", s.method, "path", s.path, "error", err)
			return
		}
		body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<10)) // a short body is all the log needs
		resp.Body.Close()
		level := slog.LevelInfo
		if resp.StatusCode != s.want {
			level = slog.LevelWarn
		}
		logger.Log(ctx, level, "story: answer", "method", s.method, "path", s.path,
			"status", resp.StatusCode, "want", s.want, "body", strings.TrimSpace(string(body)))
		if !sleep(ctx, s.then) {
			return
		}
	}
}
