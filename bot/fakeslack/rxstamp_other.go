//go:build !linux

package fakeslack

import "net"

// newRxConn wraps c; without receive timestamps, arrival is read time.
func newRxConn(c net.Conn) *rxConn { return &rxConn{Conn: c} }
