package fakeslack

import (
	"io"
	"net"
	"os"
	"syscall"
	"time"
	"unsafe"
)

func newRxConn(c net.Conn) *rxConn {
	rc := &rxConn{Conn: c}
	if sc, ok := c.(syscall.Conn); ok {
		if raw, err := sc.SyscallConn(); err == nil {
			rc.rx = &linuxRx{raw: raw, oob: make([]byte, syscall.CmsgSpace(int(unsafe.Sizeof(syscall.Timespec{}))))}
		}
	}
	return rc
}

// linuxRx reads with recvmsg and SO_TIMESTAMPNS. Reads of one connection
// never overlap (one reader goroutine), so oob is not shared.
type linuxRx struct {
	raw syscall.RawConn
	oob []byte
}

func (r *linuxRx) enable() bool {
	var serr error
	if err := r.raw.Control(func(fd uintptr) {
		serr = syscall.SetsockoptInt(int(fd), syscall.SOL_SOCKET, syscall.SO_TIMESTAMPNS, 1)
	}); err != nil {
		return false
	}
	return serr == nil
}

func (r *linuxRx) read(p []byte) (int, time.Time, error) {
	var n, oobn int
	var rerr error
	err := r.raw.Read(func(fd uintptr) bool {
		n, oobn, _, _, rerr = syscall.Recvmsg(int(fd), p, r.oob, 0)
		return rerr != syscall.EAGAIN
	})
	if err != nil { // the connection's deadline or close
		return 0, time.Time{}, err
	}
	if rerr != nil {
		return 0, time.Time{}, os.NewSyscallError("recvmsg", rerr)
	}
	if n == 0 && len(p) > 0 {
		return 0, time.Time{}, io.EOF
	}
	var at time.Time
	if msgs, perr := syscall.ParseSocketControlMessage(r.oob[:oobn]); perr == nil {
		for _, m := range msgs {
			if m.Header.Level == syscall.SOL_SOCKET && m.Header.Type == syscall.SCM_TIMESTAMPNS && len(m.Data) >= int(unsafe.Sizeof(syscall.Timespec{})) {
				ts := (*syscall.Timespec)(unsafe.Pointer(&m.Data[0]))
				at = time.Unix(ts.Unix())
			}
		}
	}
	return n, at, nil
}
