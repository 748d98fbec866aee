//go:build unix && !linux

package supervisor

// maxSignal is the highest signal number this package accepts as a stop
// signal; one the system does not have makes the stop signal fail, and
// SIGKILL follows after the grace.
const maxSignal = 64

// awaitExit reports false: without Linux's waitid WNOWAIT, the group is
// killed just after the process is reaped.
func awaitExit(int) bool { return false }
