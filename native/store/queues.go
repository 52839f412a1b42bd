package store

// This file is the broker's state beside the CommitLog: ConsumeQueue files
// in RocketMQ's layout and the checkpoint that says how much of them, and
// of the broker's other state, is consistent with the CommitLog.
//
//	consumequeue/<topic>/0/00000000000000000000   20-byte units (broker.QueueRecord),
//	consumequeue/<topic>/0/00000000000006000000   QueueFileUnits each, named by
//	                                              their first unit's byte offset
//	checkpoint                                    broker.State, replaced atomically
//
// RocketMQ keeps one ConsumeQueue per topic and queue id under
// store/consumequeue/{topic}/{queueId}/, in files of 300,000 units named by
// their start offset in bytes (store/ConsumeQueue.java,
// MessageStoreConfig.mappedFileSizeConsumeQueue in apache/rocketmq); a
// broker here has one queue per topic, queue id 0. RocketMQ flushes its
// queues about once a second and records in StoreCheckpoint how far they
// are flushed, and recovery dispatches the CommitLog again from there.
// Here WriteCheckpoint does the same in this order:
//
//  1. the queue units written since the last checkpoint are fsynced (and
//     the folders of files created since), then
//  2. the broker's State at its applied index is written to a temp file,
//     fsynced and renamed over the checkpoint (and the folder fsynced).
//
// The CommitLog entries up to that applied index were durable before they
// were applied (the runner persists a Ready before applying it), so at any
// crash the checkpoint on disk describes a prefix of the CommitLog and of
// every queue file. Opening the queues cuts each file back to the length
// the checkpoint gives (units past it were written after it and are
// dispatched again), and the runner replays the entries after the
// checkpoint's applied index. A missing or damaged checkpoint, or queue
// files that disagree with it, lose nothing either: the queues are derived
// data, rebuilt from the CommitLog by replaying it all.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"
	"slices"
	"sort"
	"strconv"

	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
)

// File and folder names of the broker's state.
const (
	QueueDir       = "consumequeue"
	CheckpointFile = "checkpoint"
	// TrustedFile holds the header of the last entry a checkpoint made
	// durable, index record included: recovery starts after it.
	TrustedFile = "trusted"
	// queueID is the queue id folder under a topic: one queue per topic.
	queueID = "0"
)

// QueueFileUnits is how many 20-byte units one ConsumeQueue file holds
// (RocketMQ's default: 300,000 units, a 6,000,000-byte file).
const QueueFileUnits = 300_000

// Queues are the ConsumeQueue files of a store. The runner goroutine owns
// them, as it owns the Store.
type Queues struct {
	s      *Store
	dir    string
	units  uint64 // per file
	topics map[string]*queueFiles
	// dirtyDirs are folders in which files were created since the last
	// Sync, which fsyncs them so the files stay.
	dirtyDirs map[string]bool
}

// queueFiles is one topic's queue.
//
// Invariant: n units are in the files, buf holds the units appended after
// them, and last is the open file holding unit n-1 (or nil when n is a
// multiple of the file size, including 0).
type queueFiles struct {
	dir string
	// base is the first unit kept (0 unless the queue starts after a
	// snapshot, or after retention moved it: Trim): units before it are
	// not read.
	base uint64
	// trimmed is set when base moved up (Trim) and the files below it
	// are still to be removed.
	trimmed bool
	n       uint64
	buf     []byte
	last    *os.File
	dirty   []*os.File
	// readers are files opened for reading, by file number.
	readers map[uint64]*os.File
}

// QueueFileName returns the name of the queue file whose first unit is
// unit (RocketMQ names it by the unit's byte offset, 20 digits).
func QueueFileName(unit uint64) string {
	return fmt.Sprintf("%020d", unit*broker.QueueRecordSize)
}

// Queues returns the store's ConsumeQueue files, as they are on disk; call
// Load for each topic of the checkpoint, then Prune, before appending.
func (s *Store) Queues() *Queues {
	if s.queues == nil {
		s.queues = &Queues{s: s, dir: filepath.Join(s.dir, QueueDir), units: s.queueUnits, topics: map[string]*queueFiles{}, dirtyDirs: map[string]bool{}}
		if s.queues.units == 0 {
			s.queues.units = QueueFileUnits
		}
	}
	return s.queues
}

// Load opens topic's queue at units base..n-1, as the checkpoint gives
// them, and cuts the files after them: units past n were written after
// that checkpoint. The files start with the one holding unit base (base >
// 0 after a snapshot: the units before it were never received, or were
// removed with the CommitLog segments they point into, as RocketMQ's
// ConsumeQueue files are after retention); files wholly before it are
// removed. Fewer than n units, or a file missing in the middle, is an
// error naming the folder or file (wrapping ErrCorrupt).
func (q *Queues) Load(topic string, base, n uint64) error {
	t := q.topic(topic)
	files, err := q.files(t.dir)
	if err != nil {
		return err
	}
	first := base - base%q.units
	if files, err = q.removeBefore(t, files, first); err != nil {
		return err
	}
	if len(files) == 0 && n == base {
		return q.StartAt(topic, base)
	}
	have := first
	for i, f := range files {
		if f.first != first+uint64(i)*q.units {
			return fmt.Errorf("%w: %s: file %s follows a file that ends at unit %d", ErrCorrupt, t.dir, f.name, first+uint64(i)*q.units)
		}
		have = f.first + f.units
		if f.units < q.units && i < len(files)-1 {
			return fmt.Errorf("%w: %s: file %s holds %d units, want %d before the next file", ErrCorrupt, t.dir, f.name, f.units, q.units)
		}
	}
	if have < n {
		return fmt.Errorf("%w: %s holds %d units, the checkpoint says %d", ErrCorrupt, t.dir, have, n)
	}
	t.base = base
	return q.cut(t, files, n)
}

// StartAt makes topic's queue empty and start at unit base, its first
// offset (a broker that installed a snapshot: its queues start at the
// snapshot's lengths). The file holding unit base is created with zeros
// before it, so every unit keeps its place in RocketMQ's file layout.
func (q *Queues) StartAt(topic string, base uint64) error {
	t := q.topic(topic)
	t.closeReaders()
	if t.last != nil {
		t.last.Close()
	}
	for _, f := range t.dirty {
		f.Close()
	}
	t.last, t.dirty, t.buf, t.n, t.base = nil, nil, nil, base, base
	if err := os.RemoveAll(t.dir); err != nil {
		return err
	}
	if err := os.MkdirAll(t.dir, 0o755); err != nil {
		return err
	}
	q.dirtyDirs[t.dir], q.dirtyDirs[filepath.Dir(t.dir)], q.dirtyDirs[q.dir] = true, true, true
	if base%q.units == 0 {
		return nil
	}
	f, err := os.OpenFile(filepath.Join(t.dir, QueueFileName(base-base%q.units)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if err := f.Truncate(int64(base%q.units) * broker.QueueRecordSize); err != nil {
		f.Close()
		return err
	}
	t.last, t.dirty = f, []*os.File{f}
	return nil
}

// removeBefore removes t's files (files, in unit order) wholly before
// unit first, and returns the rest.
func (q *Queues) removeBefore(t *queueFiles, files []queueFileInfo, first uint64) ([]queueFileInfo, error) {
	for len(files) > 0 && files[0].first < first {
		if f := t.readers[files[0].first/q.units]; f != nil {
			f.Close()
			delete(t.readers, files[0].first/q.units)
		}
		if err := os.Remove(filepath.Join(t.dir, files[0].name)); err != nil {
			return files, err
		}
		q.dirtyDirs[t.dir] = true
		files = files[1:]
	}
	return files, nil
}

// Trim records that topic's queue now starts at unit base, its first
// offset after retention (broker.CorrectMinOffsets): the units below are
// no longer read. The files wholly below base are removed by the next
// WriteCheckpoint, once the checkpoint that records the new first offset
// is durable (as RocketMQ's ConsumeQueue.deleteExpiredFile removes the
// files whose units all point before the CommitLog's new start): until
// then a crash reopens the older checkpoint, whose Load expects them.
func (q *Queues) Trim(topic string, base uint64) {
	t := q.topics[topic]
	if t == nil || base <= t.base {
		return
	}
	t.base, t.trimmed = base, true
}

// removeTrimmed removes the files of trimmed queues wholly below their
// first unit (see Trim); the folders are fsynced by the next Sync.
func (q *Queues) removeTrimmed() error {
	for _, t := range q.topics {
		if !t.trimmed {
			continue
		}
		files, err := q.files(t.dir)
		if err != nil {
			return err
		}
		if _, err := q.removeBefore(t, files, t.base-t.base%q.units); err != nil {
			return err
		}
		t.trimmed = false
	}
	return nil
}

// cut makes t's files hold exactly n units and opens the last for
// appending.
func (q *Queues) cut(t *queueFiles, files []queueFileInfo, n uint64) error {
	t.closeReaders()
	for _, f := range files {
		path := filepath.Join(t.dir, f.name)
		switch {
		case f.first >= n:
			if err := os.Remove(path); err != nil {
				return err
			}
			q.dirtyDirs[t.dir] = true
		case f.first+f.units > n || f.size%broker.QueueRecordSize != 0:
			if err := os.Truncate(path, int64(n-f.first)*broker.QueueRecordSize); err != nil {
				return err
			}
		}
	}
	t.n, t.buf = n, nil
	if n%q.units != 0 {
		path := filepath.Join(t.dir, QueueFileName(n-n%q.units))
		f, err := os.OpenFile(path, os.O_RDWR, 0)
		if err != nil {
			return err
		}
		t.last = f
		t.dirty = append(t.dirty, f) // the cut is made durable by the next Sync
	}
	return nil
}

// Prune removes the queue folders of topics that were not loaded: topics
// first stored after the checkpoint, which the replay creates again.
func (q *Queues) Prune() error {
	ents, err := os.ReadDir(q.dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	for _, e := range ents {
		if _, ok := q.topics[e.Name()]; !ok {
			if err := os.RemoveAll(filepath.Join(q.dir, e.Name())); err != nil {
				return err
			}
			q.dirtyDirs[q.dir] = true
		}
	}
	return nil
}

// Reset removes every queue file: the queues are rebuilt from the
// CommitLog.
func (q *Queues) Reset() error {
	q.Close()
	q.topics = map[string]*queueFiles{}
	if err := os.RemoveAll(q.dir); err != nil {
		return err
	}
	return q.s.syncDir()
}

// AppendRecord adds rec at queue offset off of topic, which must be the
// next one (broker.QueueStore); it is written by the next Flush or Sync.
// Any other offset is a bug in the caller, and panics.
func (q *Queues) AppendRecord(topic string, off uint64, rec broker.QueueRecord) {
	t := q.topic(topic)
	if next := t.n + uint64(len(t.buf))/broker.QueueRecordSize; off != next {
		panic(fmt.Sprintf("store: queue %s: append at offset %d, the next is %d", topic, off, next))
	}
	t.buf = rec.Append(t.buf)
}

// ReadRecords reads topic's units off.. into dst (broker.QueueStore):
// from the files, and the units not yet written from memory.
func (q *Queues) ReadRecords(topic string, off uint64, dst []broker.QueueRecord) error {
	t := q.topics[topic]
	if t == nil || off < t.base || off+uint64(len(dst)) > q.Len(topic) {
		return fmt.Errorf("queue %s: units %d..%d, it holds %d", topic, off, off+uint64(len(dst)), q.Len(topic))
	}
	var raw []byte
	for k := 0; k < len(dst); {
		u := off + uint64(k)
		var b []byte
		if u >= t.n { // not yet written
			i := (u - t.n) * broker.QueueRecordSize
			b = t.buf[i : i+broker.QueueRecordSize]
		} else {
			fileStart := u - u%q.units
			n := min(uint64(len(dst)-k), fileStart+q.units-u, t.n-u)
			f, err := t.reader(fileStart, q.units)
			if err != nil {
				return err
			}
			if need := int(n) * broker.QueueRecordSize; cap(raw) < need {
				raw = make([]byte, need)
			}
			raw = raw[:n*broker.QueueRecordSize]
			if _, err := f.ReadAt(raw, int64(u-fileStart)*broker.QueueRecordSize); err != nil {
				return fmt.Errorf("read %s at %d: %w", f.Name(), (u-fileStart)*broker.QueueRecordSize, err)
			}
			b = raw
		}
		for ; len(b) > 0; b = b[broker.QueueRecordSize:] {
			rec, err := broker.ParseQueueRecord(b[:broker.QueueRecordSize])
			if err != nil {
				return err
			}
			dst[k] = rec
			k++
		}
	}
	return nil
}

// reader returns an open file for reading the queue file starting at unit
// first.
func (t *queueFiles) reader(first, units uint64) (*os.File, error) {
	k := first / units
	if f := t.readers[k]; f != nil {
		return f, nil
	}
	f, err := os.Open(filepath.Join(t.dir, QueueFileName(first)))
	if err != nil {
		return nil, err
	}
	if t.readers == nil {
		t.readers = map[uint64]*os.File{}
	}
	t.readers[k] = f
	return f, nil
}

// Len returns topic's number of units, written or not.
func (q *Queues) Len(topic string) uint64 {
	t := q.topics[topic]
	if t == nil {
		return 0
	}
	return t.n + uint64(len(t.buf))/broker.QueueRecordSize
}

// Flush writes the appended units to their files (no fsync).
func (q *Queues) Flush() error {
	for _, t := range q.topics {
		data := t.buf
		for len(data) > 0 {
			if t.last == nil {
				if err := os.MkdirAll(t.dir, 0o755); err != nil {
					return err
				}
				f, err := os.OpenFile(filepath.Join(t.dir, QueueFileName(t.n)), os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
				if err != nil {
					return err
				}
				t.last = f
				q.dirtyDirs[t.dir], q.dirtyDirs[filepath.Dir(t.dir)], q.dirtyDirs[q.dir] = true, true, true
			}
			room := (q.units - t.n%q.units) * broker.QueueRecordSize
			chunk := data[:min(uint64(len(data)), room)]
			if _, err := t.last.WriteAt(chunk, int64(t.n%q.units)*broker.QueueRecordSize); err != nil {
				// What was not written stays in buf for the next try.
				t.buf = append(t.buf[:0], data...)
				return fmt.Errorf("write %s: %w", t.last.Name(), err)
			}
			if !slices.Contains(t.dirty, t.last) {
				t.dirty = append(t.dirty, t.last)
			}
			t.n += uint64(len(chunk)) / broker.QueueRecordSize
			data = data[len(chunk):]
			if t.n%q.units == 0 {
				t.last = nil // full: closed by the Sync that makes it durable
			}
		}
		t.buf = t.buf[:0]
	}
	return nil
}

// Sync flushes, then fsyncs every queue file written and every folder a
// file was created in since the last Sync.
func (q *Queues) Sync() error {
	if err := q.Flush(); err != nil {
		return err
	}
	for _, t := range q.topics {
		for _, f := range t.dirty {
			if err := q.s.syncFile(f); err != nil {
				return fmt.Errorf("fsync %s: %w", f.Name(), err)
			}
			if f != t.last {
				f.Close()
			}
		}
		t.dirty = t.dirty[:0]
	}
	dirs := make([]string, 0, len(q.dirtyDirs))
	for d := range q.dirtyDirs {
		dirs = append(dirs, d)
	}
	sort.Sort(sort.Reverse(sort.StringSlice(dirs))) // a folder before its parent
	for _, d := range dirs {
		if err := q.s.syncDirAt(d); err != nil {
			return err
		}
		delete(q.dirtyDirs, d)
	}
	if len(dirs) > 0 {
		return q.s.syncDir()
	}
	return nil
}

// Close closes the open queue files (without a Sync).
func (q *Queues) Close() {
	for _, t := range q.topics {
		for _, f := range t.dirty {
			f.Close()
		}
		if t.last != nil {
			t.last.Close()
		}
		t.dirty, t.last = nil, nil
		t.closeReaders()
	}
}

func (t *queueFiles) closeReaders() {
	for _, f := range t.readers {
		f.Close()
	}
	t.readers = nil
}

func (q *Queues) topic(topic string) *queueFiles {
	t := q.topics[topic]
	if t == nil {
		t = &queueFiles{dir: filepath.Join(q.dir, topic, queueID)}
		q.topics[topic] = t
	}
	return t
}

// queueFileInfo is one queue file found on disk.
type queueFileInfo struct {
	name         string
	first, units uint64
	size         int64
}

// files lists the queue files in dir in unit order; names that are not
// queue file names are ignored.
func (q *Queues) files(dir string) ([]queueFileInfo, error) {
	ents, err := os.ReadDir(dir)
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	if err != nil {
		return nil, err
	}
	var out []queueFileInfo
	for _, e := range ents {
		off, err := strconv.ParseUint(e.Name(), 10, 64)
		if err != nil || len(e.Name()) != 20 || !e.Type().IsRegular() || off%broker.QueueRecordSize != 0 {
			continue
		}
		info, err := e.Info()
		if err != nil {
			return nil, err
		}
		out = append(out, queueFileInfo{name: e.Name(), first: off / broker.QueueRecordSize,
			units: uint64(info.Size()) / broker.QueueRecordSize, size: info.Size()})
	}
	slices.SortFunc(out, func(a, b queueFileInfo) int { return int(sign(int64(a.first) - int64(b.first))) })
	return out, nil
}

// WriteCheckpoint makes the queue units durable, then replaces the
// checkpoint with state (a broker.State at entry applied) atomically: see
// the order above. It also makes the index records up to applied durable
// and records that entry's header in the trusted file, so the next
// recovery scans only the entries after it (commitlog.RecoverAfter).
func (s *Store) WriteCheckpoint(state []byte, applied uint64) error {
	if s.syncErr != nil {
		return s.syncErr
	}
	if err := s.Queues().Sync(); err != nil {
		return err
	}
	if applied > 0 && s.base.IsZero() {
		// (After a snapshot, recovery scans the retained log whole.)
		if err := s.writeTrusted(applied); err != nil {
			return err
		}
	}
	if err := s.replaceFile(CheckpointFile, state); err != nil {
		return err
	}
	return s.Queues().removeTrimmed()
}

// writeTrusted fsyncs the index, then records the header of entry i (which
// is durable: it was applied) in the trusted file, replaced atomically.
func (s *Store) writeTrusted(i uint64) error {
	if err := s.syncFile(s.index); err != nil {
		return fmt.Errorf("fsync %s: %w", s.index.Name(), err)
	}
	r, err := s.recs.get(i)
	if err != nil {
		return err
	}
	sg := s.segmentAt(r.Pos)
	b := make([]byte, commitlog.HeaderSize, commitlog.HeaderSize+4)
	if _, err := sg.f.ReadAt(b, r.Pos-sg.start); err != nil {
		return fmt.Errorf("read header of entry %d in %s: %w", i, sg.f.Name(), err)
	}
	return s.replaceFile(TrustedFile, binary.BigEndian.AppendUint32(b, crc32.Checksum(b, castagnoli)))
}

// readTrusted returns the header the trusted file holds, or a zero header
// if there is none or it does not check out (recovery then scans the whole
// log).
func readTrusted(path string) commitlog.Header {
	b, err := os.ReadFile(path)
	if err != nil || len(b) != commitlog.HeaderSize+4 || binary.BigEndian.Uint32(b[commitlog.HeaderSize:]) != crc32.Checksum(b[:commitlog.HeaderSize], castagnoli) {
		return commitlog.Header{}
	}
	h, err := commitlog.DecodeHeader(b[:commitlog.HeaderSize])
	if err != nil {
		return commitlog.Header{}
	}
	return h
}

// ReadCheckpoint returns the checkpoint's bytes, or nil if there is none
// (a new broker, or one that never checkpointed). Whether they decode is
// broker.Restore's to say.
func (s *Store) ReadCheckpoint() ([]byte, error) {
	b, err := os.ReadFile(filepath.Join(s.dir, CheckpointFile))
	if errors.Is(err, os.ErrNotExist) {
		return nil, nil
	}
	return b, err
}
