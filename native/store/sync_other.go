//go:build !linux

package store

import "os"

func fdatasync(f *os.File) error { return f.Sync() }

// SyncData is the fsync the store uses, for tools that measure the disk.
func SyncData(f *os.File) error { return fdatasync(f) }
