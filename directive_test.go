package supervisor

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"testing"
	"testing/synctest"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"github.com/childslot/supervisor/internal/looptest"
)

// dtChild returns err on its first attempt and parks after.
func dtChild(err error) ChildFunc {
	return func(ctx context.Context, a *Attempt) error {
		if a.Number() == 1 {
			return err
		}
		<-ctx.Done()
		return nil
	}
}

// dtErrIs is an error that says it is ErrDoNotRestart through its Is
// method alone.
type dtErrIs struct{}

func (dtErrIs) Error() string        { return "custom" }
func (dtErrIs) Is(target error) bool { return target == ErrDoNotRestart }

func TestDirectiveDoNotRestart(t *testing.T) {
	for _, restart := range []RestartType{Permanent, Transient, Temporary} {
		for _, strategy := range []Strategy{OneForOne, OneForAll, RestForOne} {
			t.Run(restart.String()+"/"+strategy.String(), func(t *testing.T) {
				synctest.Test(t, func(t *testing.T) {
					var exits []Exit
					g, err := NewGroup("app", GroupConfig{Strategy: strategy, OnEvent: func(e Event) {
						if e.Kind == EventExited {
							exits = append(exits, *e.Exit)
						}
					}})
					require.NoError(t, err)
					_, err = g.Add("sib", gdPark, Config{})
					require.NoError(t, err)
					_, err = g.Add("cfg", dtChild(fmt.Errorf("config invalid: %w", ErrDoNotRestart)),
						Config{Restart: restart, Backoff: Backoff{NoDelay: true}})
					require.NoError(t, err)
					require.NoError(t, g.Start(t.Context(), time.Now()))
					looptest.Wait(t, g, time.Minute)
					require.Len(t, exits, 1)
					assert.Equal(t, Failed, exits[0].Kind)
					assert.Equal(t, DirectiveDoNotRestart, exits[0].Directive)
					assert.Equal(t, "config invalid: supervisor: do not restart", exits[0].Reason)
					rec := g.Record(time.Now())
					assert.Equal(t, GroupRunning, rec.State)
					assert.Zero(t, rec.Restarts, "no restart")
					assert.Equal(t, uint64(1), rec.Members[0].Slot.Attempt, "the sibling is untouched")
					if restart == Temporary {
						assert.Len(t, rec.Members, 1, "a temporary member leaves")
					} else {
						assert.Equal(t, uint64(1), rec.Members[1].Slot.Attempt, "not restarted")
					}
					g.Shutdown(time.Now())
					looptest.Settle(t, g)
				})
			})
		}
	}
}

func TestDirectiveDoNotRestartCountsAsSignificantEnd(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("app", GroupConfig{AutoShutdown: AnySignificant})
		require.NoError(t, err)
		_, err = g.Add("sib", gdPark, Config{})
		require.NoError(t, err)
		_, err = g.Add("job", dtChild(dtErrIs{}), Config{Restart: Transient, Significant: true})
		require.NoError(t, err)
		require.NoError(t, g.Start(t.Context(), time.Now()))
		looptest.Settle(t, g)
		require.True(t, g.Finished())
		assert.NoError(t, g.Err(), "an automatic shutdown is a normal end")
		assert.Contains(t, g.Record(time.Now()).Reason, "significant member \"job\" ended")
	})
}

func TestDirectiveFailGroup(t *testing.T) {
	for _, restart := range []RestartType{Permanent, Transient, Temporary} {
		t.Run(restart.String(), func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				root, err := NewGroup("app", GroupConfig{})
				require.NoError(t, err)
				_, err = root.Add("db", gdPark, Config{})
				require.NoError(t, err)
				jobs, err := NewGroup("jobs", GroupConfig{Intensity: NoIntensity})
				require.NoError(t, err)
				_, err = jobs.Add("ok", gdPark, Config{})
				require.NoError(t, err)
				var attempts int
				_, err = jobs.Add("bad", func(ctx context.Context, a *Attempt) error {
					attempts++
					if attempts == 1 {
						return fmt.Errorf("corrupt state: %w", ErrFailGroup)
					}
					<-ctx.Done()
					return nil
				}, Config{Restart: restart})
				require.NoError(t, err)
				require.NoError(t, root.AddGroup(jobs))
				require.NoError(t, root.Start(t.Context(), time.Now()))
				looptest.Settle(t, root)

				rec := root.Record(time.Now())
				assert.Equal(t, uint64(1), rec.Restarts, "the parent restarted the failed nested group, counted once")
				sub := rec.Members[1].Group
				assert.Equal(t, GroupRunning, sub.State, "restarted afresh")
				assert.Equal(t, uint64(1), rec.Members[0].Slot.Attempt, "one_for_one: db untouched")
				if restart == Temporary {
					assert.Equal(t, 1, attempts, "a temporary member ended for good and left")
					assert.Len(t, sub.Members, 1)
				} else {
					assert.Equal(t, 2, attempts, "started again with its group")
					bad := sub.Members[1].Slot
					assert.Equal(t, DirectiveFailGroup, bad.LastExit.Directive)
					data, err := json.Marshal(bad.LastExit)
					require.NoError(t, err)
					assert.Contains(t, string(data), `"directive":"fail_group"`)
				}
				root.Shutdown(time.Now())
				looptest.Settle(t, root)
			})
		})
	}
}

func TestDirectiveFailGroupEndsRoot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		g, err := NewGroup("app", GroupConfig{})
		require.NoError(t, err)
		_, err = g.Add("bad", dtChild(ErrFailGroup), Config{})
		require.NoError(t, err)
		done := make(chan error, 1)
		go func() { done <- g.Run(context.Background()) }()
		err = <-done
		require.ErrorIs(t, err, ErrGroupFailed)
		assert.Contains(t, err.Error(), `member "bad" returned ErrFailGroup`)
	})
}

func TestDirectiveLoneSlot(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		for _, err := range []error{ErrDoNotRestart, ErrFailGroup, errors.Join(errors.New("x"), ErrFailGroup)} {
			s := coreNew(t, dtChild(err), Config{})
			require.NoError(t, s.Start(t.Context(), time.Now()))
			e := coreCollect(t, s)
			assert.NotEqual(t, DirectiveNone, e.Directive)
			s.Advance(time.Now().Add(time.Hour))
			assert.True(t, s.Finished(), "%v: a lone slot is not restarted", err)
		}
	})
}
