//go:build unix

package cluster

import (
	"fmt"
	"syscall"
)

// signalStop freezes (SIGSTOP) or continues (SIGCONT) a broker process.
func signalStop(pid int, stop bool) error {
	sig := syscall.SIGCONT
	if stop {
		sig = syscall.SIGSTOP
	}
	if pid <= 0 {
		return fmt.Errorf("no process")
	}
	if err := syscall.Kill(pid, sig); err != nil {
		return fmt.Errorf("signal %v to pid %d: %w", sig, pid, err)
	}
	return nil
}
