package logdriver

import (
	"io"
	"syscall"
)

// pipeSize is the capacity growPipe asks for: the child writes ahead
// while the pipeline works, and both sides make fewer, larger calls.
const pipeSize = 1 << 20

// growPipe enlarges the child's pipe (Linux F_SETPIPE_SZ), when r is one.
// Failing is harmless: the pipe keeps its 64 KiB.
func growPipe(r io.Reader) {
	sc, ok := r.(syscall.Conn)
	if !ok {
		return
	}
	raw, err := sc.SyscallConn()
	if err != nil {
		return
	}
	raw.Control(func(fd uintptr) {
		syscall.Syscall(syscall.SYS_FCNTL, fd, syscall.F_SETPIPE_SZ, pipeSize)
	})
}
