package proc

import "syscall"

// sysProcAttr makes a broker die with the process that started it, so a
// crashed test or benchmark leaves no orphan.
func sysProcAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
