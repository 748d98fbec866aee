//go:build !unix

package supervisor

import (
	"errors"
	"net"
)

// sendNoWait reports errors.ErrUnsupported: systemd runs on unix systems
// only, and no other system here has unix datagram sockets to dial.
func sendNoWait(*net.UnixConn, []byte) (full bool, err error) {
	return false, errors.ErrUnsupported
}
