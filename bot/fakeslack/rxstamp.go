package fakeslack

import (
	"net"
	"sync/atomic"
	"time"
)

// The fake runs in the app's own process in tests and in the bench, so
// its reader goroutine is scheduled by the same Go runtime as the app's
// goroutines: under load, an ack that reached the fake's socket can wait
// there until the reader runs again, and time.Now() after the read would
// blame the app for the fake's own turn. Where the kernel can say when the
// bytes arrived (SO_TIMESTAMPNS on Linux; on loopback that is the moment
// the app's write reached the kernel), an ack's arrival is that time
// instead: the time of the last segment of the read that completed the
// ack's frame, so never earlier than the ack itself. Reads are kept small
// (a frame or two each), so that time is close to the ack's own.
// Elsewhere, and for a read the kernel stamped no time on (Linux turns
// the stamps on machine-wide in deferred work once the first socket asks,
// so a process's first reads may have none), the arrival is when the
// reader read the frame: later than the truth, never earlier.

// socketReadBuffer is the websocket read buffer of Socket Mode
// connections: about one ack frame.
const socketReadBuffer = 256

// rxListener hands out connections that can report kernel receive times.
type rxListener struct{ net.Listener }

func (l rxListener) Accept() (net.Conn, error) {
	c, err := l.Listener.Accept()
	if err != nil {
		return nil, err
	}
	return newRxConn(c), nil
}

// rxConn is an accepted connection. Once stamp is called its reads ask the
// kernel for the receive time of what they return.
type rxConn struct {
	net.Conn
	stamping atomic.Bool
	// last is the kernel receive time of the latest read, in Unix
	// nanoseconds; 0 if the kernel gave none.
	last atomic.Int64
	rx   rxReader // nil where the platform has no receive timestamps.
}

func (c *rxConn) Read(p []byte) (int, error) {
	if c.rx == nil || !c.stamping.Load() {
		return c.Conn.Read(p)
	}
	n, at, err := c.rx.read(p)
	if n > 0 {
		var ns int64
		if !at.IsZero() {
			ns = at.UnixNano()
		}
		c.last.Store(ns)
	}
	return n, err
}

// stamp turns on kernel receive times for the reads to come, reporting
// whether the platform has them.
func (c *rxConn) stamp() bool {
	if c.rx == nil || !c.rx.enable() {
		return false
	}
	c.stamping.Store(true)
	return true
}

// arrival is when the data of the latest read arrived, or now when that
// is unknown. It is never later than now.
func (c *rxConn) arrival() time.Time {
	now := time.Now()
	if ns := c.last.Load(); ns != 0 {
		if at := time.Unix(0, ns); at.Before(now) {
			return at
		}
	}
	return now
}

// rxReader reads with the kernel's receive time.
type rxReader interface {
	enable() bool
	read(p []byte) (int, time.Time, error)
}
