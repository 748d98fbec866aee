package admin

import (
	"context"
	"net/http"
	"net/http/httptest"
	"testing"
	"testing/synctest"

	sv "github.com/childslot/supervisor"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestTree(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		k := newKids()
		g := newTree(t, k)
		h := New(g, Options{})
		for _, p := range []string{"/tree", "/tree/app", "/tree/app/db"} {
			w := do(h, "GET", p, "")
			assert.Equal(t, http.StatusServiceUnavailable, w.Code, p)
			assert.Equal(t, noSnapshot, decode[errorBody](t, w).Error, p)
		}
		start(t, g)

		w := do(h, "GET", "/tree", "")
		require.Equal(t, http.StatusOK, w.Code)
		assert.Equal(t, "no-store", w.Header().Get("Cache-Control"))
		root := decode[sv.GroupRecord](t, w)
		assert.Equal(t, "/app", root.Path)
		require.Len(t, root.Members, 3)
		assert.Equal(t, []string{"db", "api", "jobs"}, []string{root.Members[0].ID, root.Members[1].ID, root.Members[2].ID})
		assert.Equal(t, sv.StatusReady, root.Members[0].Slot.Status)
		assert.Equal(t, root, decode[sv.GroupRecord](t, do(h, "GET", "/tree/", "")), "an empty member path is the tree")

		tests := []struct {
			target string
			code   int
			id     string
		}{
			{"/tree/app", 200, "app"},
			{"/tree/app/db", 200, "db"},
			{"/tree/app/jobs", 200, "jobs"},
			{"/tree/app/jobs/mailer", 200, "mailer"},
			{"/tree/app/nope", 404, ""},
			{"/tree/app/db/deeper", 404, ""},
			{"/tree/apps", 404, ""},
			{"/tree/other/db", 404, ""},
			{"/tree/app/jobs/mailer/x", 404, ""},
		}
		for _, tt := range tests {
			w := do(h, "GET", tt.target, "")
			assert.Equal(t, tt.code, w.Code, tt.target)
			if tt.code != 200 {
				assert.Contains(t, decode[errorBody](t, w).Error, "no member ", tt.target)
				continue
			}
			m := decode[sv.MemberRecord](t, w)
			assert.Equal(t, tt.id, m.ID, tt.target)
		}
		m := decode[sv.MemberRecord](t, do(h, "GET", "/tree/app/jobs/mailer", ""))
		require.NotNil(t, m.Slot)
		assert.Equal(t, "/app/jobs/mailer", m.Slot.Path)
		require.NotNil(t, m.Exits)
		m = decode[sv.MemberRecord](t, do(h, "GET", "/tree/app/jobs", ""))
		require.NotNil(t, m.Group)
		assert.Equal(t, "/app/jobs", m.Group.Path)
	})
}

// TestTreeStacks: panic stacks are left out of /tree unless the program
// opts in.
func TestTreeStacks(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := sv.NewGroup("app", rootCfg())
		require.NoError(t, err)
		cfg := quick()
		cfg.RestartLimit = 1
		panicked := false
		_, err = g.Add("p", func(ctx context.Context, _ *sv.Attempt) error {
			if !panicked {
				panicked = true
				panic("kaboom")
			}
			<-ctx.Done()
			return ctx.Err()
		}, cfg)
		require.NoError(t, err)
		start(t, g)
		exit := func(h http.Handler, target string) *sv.Exit {
			w := do(h, "GET", target, "")
			require.Equal(t, http.StatusOK, w.Code)
			if target == "/tree" {
				return decode[sv.GroupRecord](t, w).Members[0].Slot.LastExit
			}
			return decode[sv.MemberRecord](t, w).Slot.LastExit
		}
		for _, target := range []string{"/tree", "/tree/app/p"} {
			e := exit(New(g, Options{}), target)
			require.NotNil(t, e, target)
			assert.Equal(t, sv.Panicked, e.Kind)
			assert.Equal(t, "panic: kaboom", e.Reason)
			assert.Empty(t, e.Stack, target)
			assert.Contains(t, exit(New(g, Options{Stacks: true}), target).Stack, "goroutine", target)
		}
		assert.NotEmpty(t, g.Snapshot().Members[0].Slot.LastExit.Stack, "the shared snapshot is not changed")
	})
}

// TestRoutes: unknown paths are 404 and wrong methods 405, both in JSON.
func TestRoutes(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g := newTree(t, newKids())
		start(t, g)
		h := New(g, Options{Authorize: alice})
		tests := []struct {
			method, target string
			code           int
			allow          string
		}{
			{"GET", "/nope", 404, ""},
			{"GET", "/livez/extra", 404, ""},
			{"POST", "/command", 404, ""},
			{"POST", "/livez", 405, "GET, HEAD"},
			{"DELETE", "/readyz", 405, "GET, HEAD"},
			{"POST", "/tree", 405, "GET, HEAD"},
			{"PUT", "/tree/app/db", 405, "GET, HEAD"},
			{"POST", "/", 405, "GET, HEAD"},
			{"GET", "/commands", 405, "POST"},
			{"HEAD", "/livez", 200, ""},
			{"HEAD", "/tree", 200, ""},
		}
		for _, tt := range tests {
			w := do(h, tt.method, tt.target, "")
			assert.Equal(t, tt.code, w.Code, "%s %s", tt.method, tt.target)
			assert.Equal(t, tt.allow, w.Header().Get("Allow"), "%s %s", tt.method, tt.target)
			if tt.code != 200 {
				assert.NotEmpty(t, decode[errorBody](t, w).Error)
			}
		}
	})
}

func TestNewNilGroup(t *testing.T) {
	h := New(nil, Options{})
	for _, path := range []string{"/livez", "/readyz", "/tree", "/"} {
		rec := httptest.NewRecorder()
		h.ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "http://localhost"+path, nil))
		assert.Equal(t, http.StatusServiceUnavailable, rec.Code, path)
	}
}
