package admin_test

import (
	"context"
	"fmt"
	"net/http"
	"net/http/httptest"
	"strings"
	"time"

	"github.com/childslot/supervisor"
	"github.com/childslot/supervisor/admin"
)

// serve asks h for method target and prints the status code and the body.
func serve(h http.Handler, method, target, body string) {
	r := httptest.NewRequest(method, "http://127.0.0.1:9090"+target, strings.NewReader(body))
	r.Header.Set("Content-Type", "application/json")
	w := httptest.NewRecorder()
	h.ServeHTTP(w, r)
	fmt.Println(method, target, w.Code, strings.TrimSpace(w.Body.String()))
}

// A program serves the handler on its admin port, beside its own
// listener, with the ready-made server: go admin.ListenAndServe(ctx,
// "127.0.0.1:9090", admin.New(app, opts)). Commands need an authorizer
// (see ExampleBasicAuth); without one they are refused.
func ExampleNew() {
	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{})
	if err != nil {
		panic(err)
	}
	_, err = app.Add("api", func(ctx context.Context, _ *supervisor.Attempt) error {
		<-ctx.Done()
		return ctx.Err()
	}, supervisor.Config{})
	if err != nil {
		panic(err)
	}
	h := admin.New(app, admin.Options{})
	serve(h, "GET", "/readyz", "")
	serve(h, "POST", "/commands", `{"op":"restart","path":"/app/api","reason":"stuck"}`)

	// The program's own loop: Start advances once and publishes the first
	// snapshot; the handler may be called from any goroutine.
	if err := app.Start(context.Background(), time.Now()); err != nil {
		panic(err)
	}
	serve(h, "GET", "/readyz", "")

	app.Shutdown(time.Now())
	for app.Advance(time.Now()); !app.Finished(); app.Advance(time.Now()) {
		<-app.Wake() // api returns once cancelled
	}
	// Output:
	// GET /readyz 503 {
	//   "ready": false,
	//   "error": "no snapshot yet: the tree's loop has not advanced (not started?)"
	// }
	// POST /commands 403 {
	//   "error": "commands are off: the program installed no authorizer"
	// }
	// GET /readyz 200 {
	//   "ready": true,
	//   "state": "running"
	// }
}

// BasicAuth takes commands from the users it is given, named by their
// user name; the page's buttons then work in a browser, which asks for the
// credentials at the page's "sign in".
func ExampleBasicAuth() {
	auth, err := admin.BasicAuth(map[string]string{"alice": "correct horse battery staple"})
	if err != nil {
		panic(err)
	}
	for _, pass := range []string{"correct horse battery staple", "guess"} {
		r := httptest.NewRequest("POST", "http://127.0.0.1:9090/commands", nil)
		r.SetBasicAuth("alice", pass)
		who, err := auth(r)
		fmt.Printf("%q %v\n", who, err)
	}
	// Output:
	// "alice" <nil>
	// "" admin: missing or wrong credentials: wrong user name or password
}
