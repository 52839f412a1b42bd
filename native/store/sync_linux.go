package store

import (
	"os"
	"syscall"
)

// fdatasync flushes f's data and the metadata needed to read it (its size),
// not its timestamps: the cheapest honest fsync on Linux.
func fdatasync(f *os.File) error { return syscall.Fdatasync(int(f.Fd())) }

// SyncData is the fsync the store uses, for tools that measure the disk.
func SyncData(f *os.File) error { return fdatasync(f) }

// punchHole frees the disk blocks under f's bytes [off, off+n), which then
// read as zeros, and keeps f's size and layout (fallocate(2) with
// FALLOC_FL_PUNCH_HOLE|FALLOC_FL_KEEP_SIZE). Filesystems without it
// (EOPNOTSUPP) keep the bytes; the caller only loses the disk space.
func punchHole(f *os.File, off, n int64) error {
	const keepSize, punch = 0x01, 0x02 // linux/falloc.h
	return syscall.Fallocate(int(f.Fd()), keepSize|punch, off, n)
}
