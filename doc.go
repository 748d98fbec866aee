// Package supervisor provides Erlang-style supervision of goroutines and OS
// processes for programs that keep their own control loop.
package supervisor
