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

// A program mounts the handler on its admin port, beside its own
// listener: http.ListenAndServe("127.0.0.1:9090", admin.New(app, opts)).
// Commands need an authorizer; this one trusts a header that an
// authenticating proxy in front of the port sets.
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
