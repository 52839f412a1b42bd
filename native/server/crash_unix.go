//go:build unix

package server

import (
	"os"
	"syscall"
)

// crash ends the process the way kill -9 does: no deferred code, no flush.
func crash() { syscall.Kill(os.Getpid(), syscall.SIGKILL) }
