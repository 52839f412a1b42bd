//go:build !linux

package main

import "syscall"

// childAttr: elsewhere than Linux the driver's own cleanup (on return and
// on SIGINT/SIGTERM) is what stops the nodes.
func childAttr() *syscall.SysProcAttr { return nil }
