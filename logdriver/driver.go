package logdriver

import (
	"context"
	"crypto/tls"
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// A driver delivers messages somewhere. The pipeline calls it from one
// goroutine at a time.
type driver interface {
	// log delivers msgs in order and returns how many it delivered. With
	// an error, msgs[n:] were not delivered: the pipeline retries them
	// after a backoff, unless the error is a *permanentError.
	log(msgs []Message) (n int, err error)
	// close flushes and releases the driver.
	close() error
}

// driverEnv is what every driver is built with besides its own settings.
type driverEnv struct {
	info Info
	tag  string
	// tagGiven is set when the tag option was given, not defaulted.
	tagGiven bool
	attrs    map[string]string
	// opt makes an error about an option, hiding its value when it came
	// from a secret.
	opt func(name, problem string) error
	// stop is cancelled when Close gives up: dials and waits end.
	stop context.Context
}

func newDriver(name string, settings any, env driverEnv) (driver, error) {
	switch s := settings.(type) {
	case jsonFileSettings:
		return newJSONFile(s, env)
	case syslogSettings:
		return newSyslog(s, env)
	case fluentdSettings:
		return newFluentd(s, env)
	case splunkSettings:
		return newSplunk(s, env)
	case gelfSettings:
		return newGELF(s, env)
	}
	return nil, fmt.Errorf("unknown log driver %q", name)
}

// Start-up connection attempts: a log server restarting while the child
// starts is waited for, a wrong address fails within seconds.
const startAttempts = 4

// startWait is the first wait between start-up attempts; it doubles.
var startWait = 250 * time.Millisecond

// dialAtStart dials with retries and backoff. Its error names the option
// and why, never the address (it may be a secret's value).
func dialAtStart(ctx context.Context, option string, env driverEnv, dial func(context.Context) (net.Conn, error)) (net.Conn, error) {
	var err error
	wait := startWait
	for attempt := range startAttempts {
		if attempt > 0 {
			select {
			case <-time.After(wait):
			case <-ctx.Done():
				return nil, ctx.Err()
			}
			wait *= 2
		}
		var c net.Conn
		dctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		c, err = dial(dctx)
		cancel()
		if err == nil {
			return c, nil
		}
	}
	return nil, env.opt(option, fmt.Sprintf("cannot connect after %d attempts: %s", startAttempts, dialReason(err)))
}

// dialReason says why a dial failed without the address: net errors carry
// it (and an address may be a secret's value).
func dialReason(err error) string {
	var dnsErr *net.DNSError
	var errno syscall.Errno
	switch {
	case errors.As(err, &dnsErr):
		if dnsErr.IsNotFound {
			return "host not found"
		}
		return "host lookup failed"
	case errors.Is(err, context.DeadlineExceeded) || os.IsTimeout(err):
		return "timed out"
	case errors.As(err, &errno):
		return errno.Error()
	}
	var addrErr *net.AddrError
	if errors.As(err, &addrErr) {
		return addrErr.Err
	}
	var opErr *net.OpError
	if errors.As(err, &opErr) {
		return opErr.Op + " failed"
	}
	return "connection failed"
}

// connWriter keeps one connection to a stream server (syslog over TCP,
// TLS or a unix socket) and redials when it breaks.
type connWriter struct {
	dial func(context.Context) (net.Conn, error)
	conn net.Conn
	stop context.Context
}

// write writes b whole, dialing first if the connection is gone. After a
// failure the connection is dropped; the caller retries.
func (w *connWriter) write(b []byte) error {
	if w.conn != nil && peerClosed(w.conn) {
		// A write to a connection the server closed still succeeds once,
		// and its bytes are lost: look first.
		w.conn.Close()
		w.conn = nil
	}
	if w.conn == nil {
		ctx, cancel := context.WithTimeout(w.stop, 5*time.Second)
		c, err := w.dial(ctx)
		cancel()
		if err != nil {
			return fmt.Errorf("reconnecting: %s", dialReason(err))
		}
		w.conn = c
	}
	w.conn.SetWriteDeadline(time.Now().Add(30 * time.Second))
	if _, err := w.conn.Write(b); err != nil {
		w.conn.Close()
		w.conn = nil
		return fmt.Errorf("writing: %s", dialReason(err))
	}
	return nil
}

func (w *connWriter) close() error {
	if w.conn == nil {
		return nil
	}
	err := w.conn.Close()
	w.conn = nil
	return err
}

// peerClosed reports whether the other end of a stream connection has
// closed it. Log servers never send, so anything but "would block" on a
// peek means the connection is over.
func peerClosed(c net.Conn) bool {
	if tc, ok := c.(*tls.Conn); ok {
		c = tc.NetConn()
	}
	sc, ok := c.(syscall.Conn)
	if !ok {
		return false
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return false
	}
	if ra := c.RemoteAddr(); ra != nil && (ra.Network() == "udp" || ra.Network() == "unixgram") {
		return false
	}
	closed := false
	raw.Read(func(fd uintptr) bool {
		var b [1]byte
		n, _, err := syscall.Recvfrom(int(fd), b[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		closed = n == 0 && err == nil || err != nil && err != syscall.EAGAIN && err != syscall.EINTR
		return true
	})
	return closed
}
