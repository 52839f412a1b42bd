package ctlbroker

// A broker's disk (core/controller.Disk) in its data folder:
//
//	commitlog   the CommitLog: one record per message, uint32 length,
//	            uint32 CRC-32C of the message, the message
//	meta.json   the epoch file, the newest accepted group state, the
//	            pending alterSyncStateSet, and log_end: how many
//	            CommitLog records it describes
//
// persist writes what the Broker changed and fsyncs it before the runner
// sends or acknowledges anything (ARCHITECTURE.md rule 4): first a
// truncation, then new records, then meta.json (written to a temporary
// file, fsynced, renamed over the old one, the folder fsynced). A crash
// between the steps leaves records meta.json does not count: they were
// never acknowledged, and opening cuts them; or, after a truncation, a
// meta.json that describes a longer log, whose epoch file opening clips to
// the records there are.

import (
	"bytes"
	"encoding/binary"
	"encoding/json"
	"errors"
	"fmt"
	"hash/crc32"
	"io"
	"log/slog"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"dledgerlab/core/controller"
)

const (
	logFile   = "commitlog"
	metaFile  = "meta.json"
	recHeader = 8
)

var crcTable = crc32.MakeTable(crc32.Castagnoli)

// meta is meta.json.
type meta struct {
	LogEnd  int64                    `json:"log_end"`
	Epochs  controller.EpochFile     `json:"epochs"`
	State   controller.Group         `json:"state"`
	Pending *controller.AlterRequest `json:"pending,omitempty"`
}

// fileDisk keeps one controller.Disk in a folder. Owned by the runner.
type fileDisk struct {
	dir string
	log *os.File
	// pos[i] is where record i starts; size is the file's length.
	// Invariant: len(pos) records are on disk, fsynced.
	pos  []int64
	size int64
	// meta is meta.json's content as last written.
	meta []byte
	// fsyncs counts the CommitLog's fsyncs of new records (group commit
	// makes it smaller than the records written); read by the status.
	fsyncs atomic.Uint64
	// delay is an extra sleep after each such fsync (--fsync-delay): a
	// slow disk, under which the inputs that arrive meanwhile share the
	// next fsync.
	delay time.Duration
}

// openDisk opens (or creates) the folder and returns the disk it holds.
func openDisk(dir string, log *slog.Logger) (*fileDisk, *controller.Disk, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_CREATE|os.O_RDWR, 0o644)
	if err != nil {
		return nil, nil, err
	}
	fd := &fileDisk{dir: dir, log: f}
	d := &controller.Disk{}
	if err := fd.scan(d, log); err != nil {
		f.Close()
		return nil, nil, err
	}
	var m meta
	b, err := os.ReadFile(filepath.Join(dir, metaFile))
	switch {
	case errors.Is(err, os.ErrNotExist):
	case err != nil:
		f.Close()
		return nil, nil, err
	default:
		if err := json.Unmarshal(b, &m); err != nil {
			f.Close()
			return nil, nil, fmt.Errorf("%s: %w", filepath.Join(dir, metaFile), err)
		}
		fd.meta = b
	}
	n := int64(len(d.Log))
	switch {
	case n > m.LogEnd:
		// Written but never counted in meta.json, so never acknowledged.
		log.Warn("cutting CommitLog records written after the last meta.json", "records", n, "log_end", m.LogEnd)
		if err := fd.truncate(m.LogEnd); err != nil {
			f.Close()
			return nil, nil, err
		}
		d.Log = d.Log[:m.LogEnd]
	case n < m.LogEnd:
		// A truncation reached the disk, the meta.json after it did not.
		log.Warn("CommitLog shorter than meta.json says: clipping the epoch file", "records", n, "log_end", m.LogEnd)
		m.Epochs = m.Epochs.Clip(n)
	}
	d.Epochs, d.State, d.Pending = m.Epochs, m.State, m.Pending
	return fd, d, nil
}

// scan reads every whole, intact record into d.Log and cuts a torn tail
// (a write a crash interrupted: never fsynced, so never acknowledged).
func (fd *fileDisk) scan(d *controller.Disk, log *slog.Logger) error {
	b, err := io.ReadAll(fd.log)
	if err != nil {
		return err
	}
	off := int64(0)
	for int64(len(b))-off >= recHeader {
		n := int64(binary.LittleEndian.Uint32(b[off:]))
		sum := binary.LittleEndian.Uint32(b[off+4:])
		if int64(len(b))-off-recHeader < n || crc32.Checksum(b[off+recHeader:off+recHeader+n], crcTable) != sum {
			break
		}
		d.Log = append(d.Log, bytes.Clone(b[off+recHeader:off+recHeader+n]))
		fd.pos = append(fd.pos, off)
		off += recHeader + n
	}
	fd.size = off
	if off < int64(len(b)) {
		log.Warn("cutting a torn CommitLog tail", "at", off, "bytes", int64(len(b))-off)
		if err := fd.log.Truncate(off); err != nil {
			return err
		}
		return fd.log.Sync()
	}
	return nil
}

// persist makes the disk hold d: the records from cut on are removed
// (cut < 0: none), records beyond the disk's are appended, meta.json is
// rewritten if it changed; all fsynced.
func (fd *fileDisk) persist(d *controller.Disk, cut int64) error {
	if cut >= 0 && cut < int64(len(fd.pos)) {
		if err := fd.truncate(cut); err != nil {
			return err
		}
	}
	if n := int64(len(d.Log)); n < int64(len(fd.pos)) {
		panic(fmt.Sprintf("broker disk %s: the CommitLog shrank from %d to %d records without a truncation event", fd.dir, len(fd.pos), n))
	}
	if int64(len(d.Log)) > int64(len(fd.pos)) {
		var buf []byte
		at := fd.size
		var pos []int64
		for _, e := range d.Log[len(fd.pos):] {
			pos = append(pos, at+int64(len(buf)))
			buf = binary.LittleEndian.AppendUint32(buf, uint32(len(e)))
			buf = binary.LittleEndian.AppendUint32(buf, crc32.Checksum(e, crcTable))
			buf = append(buf, e...)
		}
		if _, err := fd.log.WriteAt(buf, at); err != nil {
			return fmt.Errorf("%s: writing at %d: %w", fd.log.Name(), at, err)
		}
		if err := fd.log.Sync(); err != nil {
			return fmt.Errorf("%s: fsync: %w", fd.log.Name(), err)
		}
		fd.fsyncs.Add(1)
		time.Sleep(fd.delay)
		fd.pos = append(fd.pos, pos...)
		fd.size = at + int64(len(buf))
	}
	b, err := json.Marshal(meta{LogEnd: int64(len(d.Log)), Epochs: d.Epochs, State: d.State, Pending: d.Pending})
	if err != nil {
		return err
	}
	if bytes.Equal(b, fd.meta) {
		return nil
	}
	if err := fd.replaceMeta(b); err != nil {
		return err
	}
	fd.meta = b
	return nil
}

// truncate keeps the first n records.
func (fd *fileDisk) truncate(n int64) error {
	at := fd.size
	if n < int64(len(fd.pos)) {
		at = fd.pos[n]
	}
	if err := fd.log.Truncate(at); err != nil {
		return fmt.Errorf("%s: truncating to %d: %w", fd.log.Name(), at, err)
	}
	if err := fd.log.Sync(); err != nil {
		return fmt.Errorf("%s: fsync: %w", fd.log.Name(), err)
	}
	fd.pos, fd.size = fd.pos[:min(n, int64(len(fd.pos)))], at
	return nil
}

// replaceMeta writes meta.json atomically and durably.
func (fd *fileDisk) replaceMeta(b []byte) error {
	tmp := filepath.Join(fd.dir, metaFile+".tmp")
	f, err := os.Create(tmp)
	if err != nil {
		return err
	}
	if _, err := f.Write(b); err != nil {
		f.Close()
		return err
	}
	if err := f.Sync(); err != nil {
		f.Close()
		return fmt.Errorf("%s: fsync: %w", tmp, err)
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(fd.dir, metaFile)); err != nil {
		return err
	}
	dir, err := os.Open(fd.dir)
	if err != nil {
		return err
	}
	defer dir.Close()
	return dir.Sync()
}

// close closes the CommitLog file.
func (fd *fileDisk) close() error { return fd.log.Close() }
