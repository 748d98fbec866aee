package admin

import (
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// TestAuthorizers: bearer tokens and basic auth name the token's or the
// user's owner for a good credential, and refuse a bad or missing one
// with ErrUnauthenticated and a challenge.
func TestAuthorizers(t *testing.T) {
	bearer, err := BearerTokens(map[string]string{"s3cret-token-one": "deploy-bot", "another-token": "carol"})
	require.NoError(t, err)
	basic, err := BasicAuth(map[string]string{"alice": "correct horse", "bob": "battery staple"})
	require.NoError(t, err)
	tests := []struct {
		name string
		auth Authorizer
		set  func(r *http.Request)
		who  string
	}{
		{"bearer good", bearer, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token-one") }, "deploy-bot"},
		{"bearer good, scheme in lower case", bearer, func(r *http.Request) { r.Header.Set("Authorization", "bearer another-token") }, "carol"},
		{"bearer bad", bearer, func(r *http.Request) { r.Header.Set("Authorization", "Bearer s3cret-token-on") }, ""},
		{"bearer empty", bearer, func(r *http.Request) { r.Header.Set("Authorization", "Bearer ") }, ""},
		{"bearer as basic", bearer, func(r *http.Request) { r.SetBasicAuth("deploy-bot", "s3cret-token-one") }, ""},
		{"bearer missing", bearer, func(*http.Request) {}, ""},
		{"basic good", basic, func(r *http.Request) { r.SetBasicAuth("alice", "correct horse") }, "alice"},
		{"basic other user", basic, func(r *http.Request) { r.SetBasicAuth("bob", "battery staple") }, "bob"},
		{"basic wrong password", basic, func(r *http.Request) { r.SetBasicAuth("alice", "battery staple") }, ""},
		{"basic unknown user", basic, func(r *http.Request) { r.SetBasicAuth("mallory", "correct horse") }, ""},
		{"basic missing", basic, func(*http.Request) {}, ""},
		{"basic as bearer", basic, func(r *http.Request) { r.Header.Set("Authorization", "Bearer correct horse") }, ""},
	}
	for _, tt := range tests {
		r := httptest.NewRequest("POST", "http://127.0.0.1/commands", nil)
		tt.set(r)
		who, err := tt.auth(r)
		assert.Equal(t, tt.who, who, tt.name)
		if tt.who != "" {
			assert.NoError(t, err, tt.name)
			continue
		}
		require.ErrorIs(t, err, ErrUnauthenticated, tt.name)
		var ae *AuthError
		require.ErrorAs(t, err, &ae, tt.name)
		assert.NotEmpty(t, ae.Challenge, tt.name)
	}

	for _, bad := range []map[string]string{nil, {"": "x"}, {"tok": " "}} {
		_, err := BearerTokens(bad)
		assert.ErrorIs(t, err, ErrInvalidOptions, "%v", bad)
	}
	for _, bad := range []map[string]string{nil, {"": "x"}, {"a:b": "x"}, {"alice": ""}} {
		_, err := BasicAuth(bad)
		assert.ErrorIs(t, err, ErrInvalidOptions, "%v", bad)
	}
}

// TestAuthorizersTimingSafe: every check compares the presented
// credential with every known one, in hashes of one length, whether it
// matches the first, the last, none, or differs in length: no early exit
// and no length shortcut for a timing attack to measure.
func TestAuthorizersTimingSafe(t *testing.T) {
	calls := 0
	lengths := map[int]bool{}
	orig := constantTimeEqual
	constantTimeEqual = func(x, y []byte) int {
		calls++
		lengths[len(x)], lengths[len(y)] = true, true
		return orig(x, y)
	}
	defer func() { constantTimeEqual = orig }()

	tokens := map[string]string{"t-one": "a", "t-two": "b", "t-three": "c", "t-four": "d"}
	bearer, err := BearerTokens(tokens)
	require.NoError(t, err)
	users := map[string]string{"u1": "p1", "u2": "p2", "u3": "p3"}
	basic, err := BasicAuth(users)
	require.NoError(t, err)
	for _, tok := range []string{"t-one", "t-four", "t-fou", "x", "a-much-longer-token-than-any-known-one"} {
		calls = 0
		r := httptest.NewRequest("GET", "/", nil)
		r.Header.Set("Authorization", "Bearer "+tok)
		_, _ = bearer(r)
		assert.Equal(t, len(tokens), calls, tok)
	}
	for _, up := range [][2]string{{"u1", "p1"}, {"u3", "p3"}, {"u1", "p3"}, {"nobody", "p1"}, {"u", ""}} {
		calls = 0
		r := httptest.NewRequest("GET", "/", nil)
		r.SetBasicAuth(up[0], up[1])
		_, _ = basic(r)
		assert.Equal(t, 2*len(users), calls, up)
	}
	assert.Equal(t, map[int]bool{32: true}, lengths, "every comparison is of two SHA-256 hashes")
}

// TestCommandsWithBasicAuth: the handler answers a command without
// credentials with 401 and the challenge (a browser then asks its user),
// a wrong one likewise, and carries out a good one as the user; /login
// challenges, then sends a signed-in browser back to the page.
func TestCommandsWithBasicAuth(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		runLoop(t, g)
		basic, err := BasicAuth(map[string]string{"alice": "pw"})
		require.NoError(t, err)
		h := New(g, Options{Authorize: basic})
		cmd := `{"op":"pause","path":"/app/api","reason":"deploy"}`
		for _, hdr := range [][]string{nil, {"Authorization", "Basic YWxpY2U6d3Jvbmc="}} { // alice:wrong
			w := do(h, "POST", "/commands", cmd, hdr...)
			assert.Equal(t, http.StatusUnauthorized, w.Code)
			assert.Contains(t, w.Header().Get("WWW-Authenticate"), `Basic realm="supervisor admin"`)
			assert.Contains(t, decode[errorBody](t, w).Error, "missing or wrong credentials")
		}
		w := do(h, "GET", "/login", "")
		assert.Equal(t, http.StatusUnauthorized, w.Code)
		assert.NotEmpty(t, w.Header().Get("WWW-Authenticate"))
		w = do(h, "GET", "/login", "", "Authorization", "Basic YWxpY2U6cHc=") // alice:pw
		assert.Equal(t, http.StatusSeeOther, w.Code)
		assert.Equal(t, "/", w.Header().Get("Location"))

		w = do(h, "POST", "/commands", cmd, "Authorization", "Basic YWxpY2U6cHc=")
		require.Equal(t, http.StatusOK, w.Code, w.Body.String())
		rec := decode[sv.CommandRecord](t, w)
		assert.Equal(t, "alice", rec.Requester)
		assert.Equal(t, sv.CommandPause, rec.Op)

		// Without an authorizer /login says commands are off.
		assert.Equal(t, http.StatusForbidden, do(New(g, Options{}), "GET", "/login", "").Code)
	})
}

// TestBasicAuthFromEnv: the password comes from the environment and only
// its variable's name is shown, or it is made at random and shown.
func TestBasicAuthFromEnv(t *testing.T) {
	try := func(auth Authorizer, user, pass string) (string, error) {
		r := httptest.NewRequest(http.MethodPost, "/commands", nil)
		r.SetBasicAuth(user, pass)
		return auth(r)
	}
	t.Setenv("TEST_ADMIN_PASSWORD", "from the env")
	auth, shown, err := BasicAuthFromEnv("operator", "TEST_ADMIN_PASSWORD")
	require.NoError(t, err)
	assert.Equal(t, "$TEST_ADMIN_PASSWORD", shown, "the secret stays out of logs")
	who, err := try(auth, "operator", "from the env")
	require.NoError(t, err)
	assert.Equal(t, "operator", who)
	_, err = try(auth, "operator", "$TEST_ADMIN_PASSWORD")
	require.ErrorIs(t, err, ErrUnauthenticated)

	t.Setenv("TEST_ADMIN_PASSWORD", "")
	auth, shown, err = BasicAuthFromEnv("operator", "TEST_ADMIN_PASSWORD")
	require.NoError(t, err)
	assert.Len(t, shown, 26, "a random password, shown to be logged")
	who, err = try(auth, "operator", shown)
	require.NoError(t, err)
	assert.Equal(t, "operator", who)
	_, other, err := BasicAuthFromEnv("operator", "TEST_ADMIN_PASSWORD")
	require.NoError(t, err)
	assert.NotEqual(t, shown, other, "made anew each time")
}
