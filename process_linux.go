package supervisor

import (
	"syscall"
	"unsafe"
)

// maxSignal is the highest signal number (SIGRTMAX).
const maxSignal = 64

// awaitExit blocks until the process pid has exited, without reaping it
// (waitid with WNOWAIT): while it is a zombie its pid, and so its group's
// id, cannot be reused. It reports false if it could not wait.
func awaitExit(pid int) bool {
	const pPID = 1      // P_PID
	var info [16]uint64 // a siginfo_t: 128 bytes
	for {
		_, _, errno := syscall.Syscall6(syscall.SYS_WAITID, pPID, uintptr(pid),
			uintptr(unsafe.Pointer(&info[0])), syscall.WEXITED|syscall.WNOWAIT, 0, 0)
		switch errno {
		case 0:
			return true
		case syscall.EINTR:
		default:
			return false // cmd.Wait reports what is wrong
		}
	}
}
