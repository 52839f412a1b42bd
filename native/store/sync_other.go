//go:build !linux

package store

import (
	"errors"
	"os"
)

func fdatasync(f *os.File) error { return f.Sync() }

// SyncData is the fsync the store uses, for tools that measure the disk.
func SyncData(f *os.File) error { return fdatasync(f) }

// punchHole is not available here: the bytes stay (see sync_linux.go).
func punchHole(*os.File, int64, int64) error { return errors.ErrUnsupported }
