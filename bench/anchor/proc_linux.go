package main

import "syscall"

// childAttr makes a node die with the driver that started it (the kernel
// sends SIGKILL when the driver's thread exits), so a driver that crashes
// or is killed leaves no orphan.
func childAttr() *syscall.SysProcAttr {
	return &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
}
