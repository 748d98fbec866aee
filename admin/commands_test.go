package admin

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// digest is what a refused request must not change: each slot's operation,
// attempt and generation, and each member's last command, by path.
func digest(g *sv.GroupRecord) map[string]string {
	out := map[string]string{g.Path: fmt.Sprintf("%v %v", g.State, g.LastCommand)}
	for _, m := range g.Members {
		if m.Group != nil {
			for k, v := range digest(m.Group) {
				out[k] = v
			}
			continue
		}
		r := m.Slot
		out[r.Path] = fmt.Sprintf("%v a%d g%d %v", r.Operation, r.Attempt, r.Generation, m.LastCommand)
	}
	return out
}

// TestCommandsRefused sends bad command requests to a running tree: each
// gets its status code and a JSON error saying why, and changes nothing.
func TestCommandsRefused(t *testing.T) {
	good := `{"op":"pause","path":"/app/api","reason":"deploy"}`
	tests := []struct {
		name      string
		authorize func(*http.Request) (string, error)
		method    string
		body      string
		hdr       []string
		code      int
		want      string // in the error
	}{
		{name: "no authorizer", code: 403, body: good, want: "commands are off: the program installed no authorizer"},
		{name: "authorizer refuses", authorize: func(*http.Request) (string, error) { return "", errors.New("no token") },
			body: good, code: 403, want: "not authorized: no token"},
		{name: "authorizer names nobody", authorize: func(*http.Request) (string, error) { return " ", nil },
			body: good, code: 403, want: "the authorizer named nobody"},
		{name: "cross-origin browser request", body: good, hdr: []string{"Sec-Fetch-Site", "cross-site"},
			code: 403, want: "cross-origin request refused"},
		{name: "wrong method", method: "GET", code: 405, want: "method GET not allowed on /commands; use POST"},
		{name: "PUT", method: "PUT", body: good, code: 405, want: "use POST"},
		{name: "not JSON", body: good, hdr: []string{"Content-Type", "text/plain"}, code: 415, want: "application/json"},
		{name: "huge body", body: `{"op":"pause","path":"/app/api","reason":"` + strings.Repeat("x", DefaultMaxBody) + `"}`,
			code: 413, want: fmt.Sprintf("the body is over %d bytes", DefaultMaxBody)},
		{name: "empty body", body: " ", code: 400, want: "the body must be one JSON object: the body is empty"},
		{name: "bad JSON", body: `{"op":"pause",`, code: 400, want: "bad command"},
		{name: "malformed JSON", body: `{"op" "pause"}`, code: 400, want: "malformed JSON"},
		{name: "an array", body: `[{"op":"pause"}]`, code: 400, want: "the body must be one JSON object"},
		{name: "unknown field", body: `{"op":"pause","path":"/app/api","reason":"r","force":"yes"}`,
			code: 400, want: `unknown field "force"`},
		{name: "requester in the body", body: `{"op":"pause","path":"/app/api","reason":"r","requester":"mallory"}`,
			code: 400, want: "who asks comes from the authorizer"},
		{name: "key in another case", body: `{"OP":"pause","path":"/app/api","reason":"r"}`, code: 400, want: `unknown field "OP"`},
		{name: "duplicate field", body: `{"op":"restart","path":"/app/api","reason":"r","op":"pause"}`,
			code: 400, want: `field "op" given twice`},
		{name: "number", body: `{"op":"pause","path":"/app/api","reason":42}`, code: 400, want: `field "reason" must be a string`},
		{name: "null", body: `{"op":"pause","path":null,"reason":"r"}`, code: 400, want: `field "path" must be a string`},
		{name: "nested object", body: `{"op":{"name":"pause"},"path":"/app/api","reason":"r"}`, code: 400, want: `field "op" must be a string`},
		{name: "trailing data", body: good + ` {}`, code: 400, want: "data after the JSON object"},
		{name: "trailing garbage", body: good + `x`, code: 400, want: "data after the JSON object"},
		{name: "unknown op", body: `{"op":"explode","path":"/app/api","reason":"r"}`, code: 400, want: `unknown op "explode"`},
		{name: "no op", body: `{"path":"/app/api","reason":"r"}`, code: 400, want: "invalid command: op"},
		{name: "no path", body: `{"op":"pause","reason":"r"}`, code: 400, want: "no path"},
		{name: "no reason", body: `{"op":"pause","path":"/app/api"}`, code: 400, want: "no reason: say why"},
		{name: "blank reason", body: `{"op":"pause","path":"/app/api","reason":" \t"}`, code: 400, want: "no reason: say why"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				k := newKids()
				g := newTree(t, k)
				start(t, g)
				auth := tt.authorize
				if auth == nil && tt.name != "no authorizer" {
					auth = alice
				}
				h := New(g, Options{Authorize: auth})
				before := digest(g.Snapshot())
				method := tt.method
				if method == "" {
					method = "POST"
				}
				w := do(h, method, "/commands", tt.body, tt.hdr...)
				assert.Equal(t, tt.code, w.Code, w.Body.String())
				assert.Contains(t, decode[errorBody](t, w).Error, tt.want)
				if tt.code == 405 {
					assert.Equal(t, "POST", w.Header().Get("Allow"))
				}
				fresh(t, g)
				assert.Equal(t, before, digest(g.Snapshot()), "a refused request changes nothing")
			})
		})
	}
}

// TestCommands drives a running tree through POST /commands.
func TestCommands(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		var asked *http.Request
		h := New(g, Options{Authorize: func(r *http.Request) (string, error) {
			asked = r
			return "alice@ops", nil
		}})
		runLoop(t, g)
		post := func(op, path, reason string) (*httptest.ResponseRecorder, sv.CommandRecord) {
			t.Helper()
			w := do(h, "POST", "/commands", fmt.Sprintf(`{"op":%q,"path":%q,"reason":%q}`, op, path, reason),
				"Content-Type", "application/json; charset=utf-8", "Sec-Fetch-Site", "same-origin")
			return w, decode[sv.CommandRecord](t, w)
		}

		w, rec := post("pause", "/app/api", "deploy 7")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		require.NotNil(t, asked)
		assert.Equal(t, "/commands", asked.URL.Path, "Authorize sees the request")
		assert.Equal(t, sv.Command{Op: sv.CommandPause, Path: "/app/api", Requester: "alice@ops", Reason: "deploy 7"}, rec.Command)
		assert.Equal(t, uint64(1), rec.Seq)
		assert.Empty(t, rec.Error)
		time.Sleep(time.Second)
		m, ok := findMember(g.Snapshot(), "/app/api")
		require.True(t, ok)
		assert.Equal(t, sv.OperationPaused, m.Slot.Operation)
		require.NotNil(t, m.LastCommand)
		assert.Equal(t, "alice@ops", m.LastCommand.Requester, "the requester is the authorizer's")

		w, rec = post("pause", "/app/api", "again")
		assert.Equal(t, http.StatusConflict, w.Code, "pausing a paused slot is refused")
		assert.Contains(t, rec.Error, "command refused")
		assert.Equal(t, uint64(2), rec.Seq)

		w, rec = post("pause", "/app/nope", "typo")
		assert.Equal(t, http.StatusNotFound, w.Code)
		assert.Contains(t, rec.Error, "no such member")

		w, _ = post("pause", "/app/jobs", "pause applies to slots")
		assert.Equal(t, http.StatusConflict, w.Code)

		w, _ = post("resume", "/app/api", "deployed")
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		w, _ = post("restart", "/app/jobs", "rotate")
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		w, _ = post("quarantine", "/app/jobs/mailer", "bad template")
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		w, _ = post("remove", "/app/jobs/mailer", "retired")
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		time.Sleep(time.Second)
		_, ok = findMember(g.Snapshot(), "/app/jobs/mailer")
		assert.False(t, ok, "removed")

		w, _ = post("shutdown", "/app", "maintenance")
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		synctest.Wait()
		assert.True(t, g.Finished())
		w = do(h, "POST", "/commands", `{"op":"pause","path":"/app/db","reason":"late"}`)
		assert.Equal(t, http.StatusServiceUnavailable, w.Code, "a stopped tree takes no command")
		assert.Contains(t, decode[errorBody](t, w).Error, "group stopped")
	})
}

// TestCommandQueueFullAndTimeout posts to a tree whose loop does not
// advance: a queued command that the loop does not take within
// CommandTimeout is 504, and the loop applies it later; a full queue makes
// a command wait for room, then 503 with Retry-After if none comes within
// CommandTimeout, and goes through if the loop takes the queue in time.
func TestCommandQueueFullAndTimeout(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTree(t, newKids())
		start(t, g)
		h := New(g, Options{Authorize: alice, CommandTimeout: 5 * time.Second})
		body := `{"op":"restart","path":"/app/api","reason":"flaky"}`

		answer := make(chan *httptest.ResponseRecorder, 1)
		go func() { answer <- do(h, "POST", "/commands", body) }()
		synctest.Wait()
		require.Empty(t, answer, "waits for the loop")
		time.Sleep(5 * time.Second)
		w := <-answer
		assert.Equal(t, http.StatusGatewayTimeout, w.Code)
		assert.Contains(t, decode[errorBody](t, w).Error, "has not applied the command within 5s")
		before := g.Snapshot().Members[1].Slot.Generation
		fresh(t, g)
		assert.Equal(t, before+1, g.Snapshot().Members[1].Slot.Generation, "the loop applies it later")

		for range sv.CommandQueueSize {
			_, err := g.Submit(sv.Command{Op: sv.CommandRestart, Path: "/app/api", Requester: "bot", Reason: "fill"})
			require.NoError(t, err)
		}
		go func() { answer <- do(h, "POST", "/commands", body) }()
		synctest.Wait()
		require.Empty(t, answer, "waits for room")
		time.Sleep(5 * time.Second)
		w = <-answer
		assert.Equal(t, http.StatusServiceUnavailable, w.Code)
		assert.Equal(t, "1", w.Header().Get("Retry-After"))
		assert.Contains(t, decode[errorBody](t, w).Error, "command queue full")

		go func() { answer <- do(h, "POST", "/commands", body) }()
		synctest.Wait()
		require.Empty(t, answer, "waits for room")
		g.Advance(time.Now()) // the loop takes the queue: room for it
		synctest.Wait()
		g.Advance(time.Now()) // and applies it
		w = <-answer
		assert.Equal(t, http.StatusOK, w.Code, w.Body.String())
		looptest.Settle(t, g)
	})
}

// TestCommandClientGone: a client that goes away gets nothing written; the
// command stands.
func TestCommandClientGone(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTree(t, newKids())
		start(t, g)
		h := New(g, Options{Authorize: alice})
		ctx, cancel := context.WithCancel(context.Background())
		r := httptest.NewRequestWithContext(ctx, "POST", "http://127.0.0.1/commands",
			strings.NewReader(`{"op":"pause","path":"/app/api","reason":"r"}`))
		r.Header.Set("Content-Type", "application/json")
		w := httptest.NewRecorder()
		done := make(chan struct{})
		go func() { h.ServeHTTP(w, r); close(done) }()
		synctest.Wait()
		cancel()
		<-done
		assert.False(t, w.Flushed)
		assert.Empty(t, w.Body.String())
		fresh(t, g)
		assert.Equal(t, sv.OperationPaused, g.Snapshot().Members[1].Slot.Operation)
	})
}
