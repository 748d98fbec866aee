package supervisor_test

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/childslot/supervisor"
)

// A RestForOne group restarts the member that failed and those started
// after it, in order, while those before it keep running; cancelling Run's
// context shuts the tree down in reverse order, one member at a time.
func ExampleGroup_Run() {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{
		Strategy: supervisor.RestForOne,
		OnEvent: func(e supervisor.Event) {
			switch e.Kind {
			case supervisor.EventStarted:
				fmt.Printf("start %s (attempt %d)\n", e.Path, e.Attempt)
			case supervisor.EventGroupRestart:
				fmt.Printf("%s failed: restart %v\n", e.Member, e.Scope)
			case supervisor.EventShutdownStarted, supervisor.EventShutdownFinished:
				fmt.Println(e.Kind, e.Path)
			}
		},
	})
	if err != nil {
		fmt.Println(err)
		return
	}
	serve := func(ctx context.Context, a *supervisor.Attempt) error {
		a.Ready()
		<-ctx.Done()
		return nil
	}
	flaky := func(ctx context.Context, a *supervisor.Attempt) error {
		if a.Number() == 1 {
			return errors.New("connection reset") // before Ready: api still waits
		}
		a.Ready()
		<-ctx.Done()
		return nil
	}
	last := func(ctx context.Context, a *supervisor.Attempt) error {
		a.Ready()
		cancel() // the last member is up: end the story
		<-ctx.Done()
		return nil
	}
	cfg := supervisor.Config{ReadyTimeout: time.Second, Backoff: supervisor.Backoff{NoDelay: true}}
	for _, m := range []struct {
		id string
		fn supervisor.ChildFunc
	}{{"db", serve}, {"queue", flaky}, {"api", last}} {
		if _, err := app.Add(m.id, m.fn, cfg); err != nil {
			fmt.Println(err)
			return
		}
	}
	if err := app.Run(ctx); err != nil {
		fmt.Println("tree failed:", err)
		return
	}
	for _, m := range app.Record(time.Now()).Members {
		fmt.Println(m.ID, m.Shutdown, "after", m.Slot.Attempt, "attempt(s)")
	}
	// Output:
	// start /app/db (attempt 1)
	// start /app/queue (attempt 1)
	// queue failed: restart [queue api]
	// start /app/queue (attempt 2)
	// start /app/api (attempt 1)
	// shutdown_started /app
	// shutdown_finished /app
	// db stopped after 1 attempt(s)
	// queue stopped after 2 attempt(s)
	// api stopped after 1 attempt(s)
}

// A nested group is a member like any other: when it fails, its parent
// applies its own strategy to it, and the root failing ends Run with an
// error wrapping ErrGroupFailed, for the process to exit non-zero.
func ExampleGroup_AddGroup() {
	app, err := supervisor.NewGroup("app", supervisor.GroupConfig{Intensity: 1, Period: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	jobs, err := supervisor.NewGroup("jobs", supervisor.GroupConfig{Intensity: 1, Period: time.Minute})
	if err != nil {
		fmt.Println(err)
		return
	}
	crash := func(context.Context, *supervisor.Attempt) error { return errors.New("disk full") }
	if _, err := jobs.Add("compact", crash, supervisor.Config{Backoff: supervisor.Backoff{NoDelay: true}}); err != nil {
		fmt.Println(err)
		return
	}
	if err := app.AddGroup(jobs); err != nil {
		fmt.Println(err)
		return
	}
	err = app.Run(context.Background())
	fmt.Println(errors.Is(err, supervisor.ErrGroupFailed))
	fmt.Println(err)
	// Output:
	// true
	// supervisor: group failed: /app: member "jobs" failed (supervisor: group failed: /app/jobs: member "compact" failed (disk full) after 1 restarts within 1m0s) after 1 restarts within 1m0s
}
