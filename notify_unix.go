//go:build unix

package supervisor

import (
	"errors"
	"net"
	"syscall"
)

// sendNoWait writes b to conn as one datagram if it can go at once. The
// runtime keeps the socket non-blocking, and the write is made directly
// rather than through conn.Write, which would park the caller until the
// receiver reads. full reports that the receiver (or conn's send buffer)
// had no room: the datagram was dropped and the connection is still good.
func sendNoWait(conn *net.UnixConn, b []byte) (full bool, err error) {
	raw, err := conn.SyscallConn()
	if err != nil {
		return false, err
	}
	var werr error
	if err := raw.Write(func(fd uintptr) bool {
		_, werr = syscall.Write(int(fd), b)
		return true // done, whatever came of it: never wait for room
	}); err != nil {
		return false, err
	}
	return errors.Is(werr, syscall.EAGAIN), werr
}
