package store

// This file is the snapshot file and what retention and InstallSnapshot do
// to the CommitLog (Raft §7).
//
//	snapshot   "DLSN", version 1, then big-endian: entry index (8), its term
//	           (8), the CommitLog position after it (8), the chain CRC the
//	           next entry continues from (4), the data's length (4), the
//	           data (broker.State at that entry), CRC-32C of all before (4)
//
// The file is replaced atomically (temp file, fsync, rename, fsync of the
// folder), so a crash leaves the old snapshot or the new one.
//
// Compact (retention) writes the snapshot, then deletes the segment files
// wholly before the snapshot's entry, as RocketMQ deletes whole CommitLog
// files and never part of one (DefaultMessageStore.CleanCommitLogService).
// InstallSnapshot (a follower taking the leader's snapshot) writes the
// snapshot, then deletes every segment, then writes the snapshot's entry's
// index record, which says where the log continues. A crash between two of
// these steps is repaired by the next Open (matchSnapshot): the log after
// the snapshot is kept only if the index record of the snapshot's entry
// agrees with the snapshot (same term, same end); otherwise every segment
// is from before an install and is deleted. The index record is written
// last by an install and fsynced before the snapshot by a compaction, so
// it agrees only with a log that really continues the snapshot.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"os"
	"path/filepath"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
)

// SnapshotFile is the snapshot's file name in the data folder.
const SnapshotFile = "snapshot"

const (
	snapshotMagic   = "DLSN"
	snapshotVersion = 1
	snapshotHead    = 4 + 1 + 8 + 8 + 8 + 4 + 4
)

// encodeSnapshot returns the snapshot file's bytes.
func encodeSnapshot(b commitlog.Base, data []byte) []byte {
	out := make([]byte, 0, snapshotHead+len(data)+4)
	out = append(out, snapshotMagic...)
	out = append(out, snapshotVersion)
	out = binary.BigEndian.AppendUint64(out, b.Index)
	out = binary.BigEndian.AppendUint64(out, b.Term)
	out = binary.BigEndian.AppendUint64(out, uint64(b.End))
	out = binary.BigEndian.AppendUint32(out, b.Chain)
	out = binary.BigEndian.AppendUint32(out, uint32(len(data)))
	out = append(out, data...)
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// decodeSnapshot parses a snapshot file's bytes; what does not check out
// is described in the error.
func decodeSnapshot(raw []byte) (commitlog.Base, []byte, error) {
	if len(raw) < snapshotHead+4 {
		return commitlog.Base{}, nil, fmt.Errorf("%d bytes, shorter than a snapshot's header", len(raw))
	}
	if string(raw[:4]) != snapshotMagic || raw[4] != snapshotVersion {
		return commitlog.Base{}, nil, fmt.Errorf("starts with %q, version %d; want %q, version %d", raw[:4], raw[4], snapshotMagic, snapshotVersion)
	}
	body := raw[:len(raw)-4]
	if got, want := binary.BigEndian.Uint32(raw[len(raw)-4:]), crc32.Checksum(body, castagnoli); got != want {
		return commitlog.Base{}, nil, fmt.Errorf("checksum %08x, the bytes give %08x", got, want)
	}
	b := commitlog.Base{
		Index: binary.BigEndian.Uint64(raw[5:]),
		Term:  binary.BigEndian.Uint64(raw[13:]),
		End:   int64(binary.BigEndian.Uint64(raw[21:])),
		Chain: binary.BigEndian.Uint32(raw[29:]),
	}
	n := binary.BigEndian.Uint32(raw[33:])
	if uint64(n) != uint64(len(body)-snapshotHead) || b.Index == 0 || b.End < 0 {
		return commitlog.Base{}, nil, fmt.Errorf("entry %d, end %d, %d data bytes of %d present", b.Index, b.End, n, len(body)-snapshotHead)
	}
	return b, body[snapshotHead:], nil
}

// readSnapshot loads the snapshot file, if any. A damaged one is an error
// naming the file: the broker does not start, since the entries it stands
// for are gone from this folder.
func (s *Store) readSnapshot() error {
	path := filepath.Join(s.dir, SnapshotFile)
	raw, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return err
	}
	b, data, err := decodeSnapshot(raw)
	if err != nil {
		s.log.Error("the snapshot file is damaged: the broker does not start", "file", path, "err", err,
			"check", "move the data folder away and start the broker empty: it catches up from the leader")
		return fmt.Errorf("%w: snapshot file %s: %v", ErrCorrupt, path, err)
	}
	s.base, s.snap = b, core.Snapshot{Index: b.Index, Term: b.Term, Data: data}
	return nil
}

// matchSnapshot makes the segment files fit the snapshot before recovery
// (see the top of this file): segments wholly before the snapshot's end
// are deleted (retention was interrupted), and if the index record of the
// snapshot's entry does not agree with it, every segment is (an install
// was interrupted).
func (s *Store) matchSnapshot() error {
	var b [commitlog.IndexRecordSize]byte
	rec := commitlog.IndexRecord{}
	if n, _ := s.index.ReadAt(b[:], commitlog.IndexOffset(s.base.Index)); n == len(b) {
		rec, _ = commitlog.DecodeIndexRecord(b[:])
	}
	continues := rec.Index == s.base.Index && rec.Term == s.base.Term && rec.Pos+int64(rec.Size) == s.base.End
	first := s.firstStart()
	keep := s.segs[:0]
	removed := 0
	for _, sg := range s.segs {
		if continues && sg.start >= first {
			keep = append(keep, sg)
			continue
		}
		sg.f.Close()
		if err := os.Remove(sg.f.Name()); err != nil {
			return err
		}
		removed++
	}
	s.segs = keep
	if !continues {
		s.log.Warn("the CommitLog does not continue the snapshot (an install of the leader's snapshot was interrupted): the log starts after the snapshot",
			"snapshot_index", s.base.Index, "segments_removed", removed)
		if err := s.writeBaseRecord(); err != nil {
			return err
		}
	} else if removed > 0 {
		s.log.Info("recovery deleted segments before the snapshot (retention was interrupted)", "snapshot_index", s.base.Index, "segments_removed", removed)
	}
	if removed > 0 {
		return s.syncDir()
	}
	return nil
}

// firstStart returns where the first segment starts: the one holding
// base.End.
func (s *Store) firstStart() int64 {
	return s.base.End - s.base.End%s.opts.SegmentSize
}

// firstSegment creates the log's first segment after the snapshot: the
// one holding base.End, whose bytes before it are zeros (a sparse start)
// and never read, so every entry keeps the CommitLog position it has on
// the leader.
func (s *Store) firstSegment() (*segment, error) {
	start := s.firstStart()
	sg, err := s.createSegment(start)
	if err != nil {
		return nil, err
	}
	if head := s.base.End - start; head > 0 {
		if err := sg.f.Truncate(head); err != nil {
			return nil, err
		}
		sg.size, sg.zeroed = head, head
		s.dirty[sg] = true
	}
	return sg, nil
}

// writeBaseRecord cuts the index after the snapshot's entry and writes
// that entry's record as the snapshot gives it (its end, size 0), fsynced.
func (s *Store) writeBaseRecord() error {
	off := commitlog.IndexOffset(s.base.Index)
	if err := s.index.Truncate(off); err != nil {
		return err
	}
	r := commitlog.IndexRecord{Magic: commitlog.MagicNormal, Pos: s.base.End, Index: s.base.Index, Term: s.base.Term}
	if _, err := s.index.WriteAt(commitlog.AppendIndexRecord(nil, r), off); err != nil {
		return fmt.Errorf("write %s: %w", s.index.Name(), err)
	}
	if err := s.syncFile(s.index); err != nil {
		return fmt.Errorf("fsync %s: %w", s.index.Name(), err)
	}
	return nil
}

// retained returns ErrOffsetTooSmall (wrapped) for a CommitLog position
// that retention deleted, or that a follower never had because it
// installed the leader's snapshot after it.
func (s *Store) retained(pos int64) error {
	if !s.base.IsZero() && pos >= 0 && pos < s.base.End {
		return fmt.Errorf("CommitLog position %d: %w: the log starts at position %d, after the snapshot at entry %d",
			pos, broker.ErrOffsetTooSmall, s.base.End, s.base.Index)
	}
	return nil
}

// Bytes returns the bytes the CommitLog's segment files hold.
func (s *Store) Bytes() int64 {
	var n int64
	for _, sg := range s.segs {
		n += sg.size
	}
	return n
}

// Reclaimable returns how many segment files a compaction at entry i would
// delete: those wholly before the segment holding i's end.
func (s *Store) Reclaimable(i uint64) int {
	if i <= s.base.Index || i > s.LastIndex() || len(s.segs) == 0 {
		return 0
	}
	r, err := s.recs.get(i)
	if err != nil {
		return 0
	}
	k, ok := s.segIndex(r.Pos + int64(r.Size))
	if !ok {
		return len(s.segs) - 1 // the end is the last segment's end
	}
	return k
}

// Compact records snapshot snap (the broker's state at entry snap.Index,
// which must be in the log and durable) and deletes the segment files
// wholly before that entry's end (retention). It returns the names of the
// files deleted. See the top of this file for the order of the writes.
func (s *Store) Compact(snap core.Snapshot) ([]string, error) {
	if s.syncErr != nil {
		return nil, s.syncErr
	}
	if snap.Index <= s.base.Index || snap.Index > s.LastIndex() {
		return nil, fmt.Errorf("%w: compact at entry %d: the log holds %d..%d", commitlog.ErrInvalid, snap.Index, s.base.Index+1, s.LastIndex())
	}
	r, err := s.recs.get(snap.Index)
	if err != nil {
		return nil, err
	}
	if r.Term != snap.Term {
		return nil, fmt.Errorf("%w: compact at entry %d of term %d: the log has term %d there", commitlog.ErrInvalid, snap.Index, snap.Term, r.Term)
	}
	sg := s.segmentAt(r.Pos)
	var hb [commitlog.HeaderSize]byte
	if _, err := sg.f.ReadAt(hb[:], r.Pos-sg.start); err != nil {
		return nil, fmt.Errorf("read header of entry %d in %s: %w", snap.Index, sg.f.Name(), err)
	}
	h, err := commitlog.DecodeHeader(hb[:])
	if err != nil || h.Index != snap.Index {
		return nil, fmt.Errorf("%w: header of entry %d in %s: %v", ErrCorrupt, snap.Index, sg.f.Name(), err)
	}
	// The index record of the snapshot's entry must be durable before the
	// snapshot: on Open it says the log continues the snapshot.
	if err := s.syncFile(s.index); err != nil {
		return nil, fmt.Errorf("fsync %s: %w", s.index.Name(), err)
	}
	base := commitlog.Base{Index: snap.Index, Term: snap.Term, End: h.End(), Chain: h.ChainCRC}
	if err := s.replaceFile(SnapshotFile, encodeSnapshot(base, snap.Data)); err != nil {
		return nil, fmt.Errorf("write %s: %w", filepath.Join(s.dir, SnapshotFile), err)
	}
	s.base, s.snap = base, snap
	s.recs.startAfter(base.Index)
	first := s.firstStart()
	var removed []string
	for len(s.segs) > 0 && s.segs[0].start < first {
		old := s.segs[0]
		old.f.Close()
		delete(s.dirty, old)
		if err := os.Remove(old.f.Name()); err != nil {
			return removed, err
		}
		removed = append(removed, filepath.Base(old.f.Name()))
		s.segs = s.segs[1:]
	}
	if len(removed) > 0 {
		if err := s.syncDir(); err != nil {
			return removed, err
		}
	}
	s.freeIndexBelowBase()
	return removed, nil
}

// freeIndexBelowBase frees the disk blocks of the index records before the
// snapshot's entry: they are never read again (Open checks the index from
// the base on, and a rebuild writes zeros there), so the index file stops
// growing on disk with the whole history while record i stays at
// commitlog.IndexOffset(i). Where the filesystem cannot punch holes the
// records stay, which costs disk space only.
func (s *Store) freeIndexBelowBase() {
	n := commitlog.IndexOffset(s.base.Index) - commitlog.IndexRecordSize
	if n <= 0 {
		return
	}
	if err := punchHole(s.index, commitlog.IndexRecordSize, n); err != nil {
		s.log.Debug("the index records before the snapshot keep their disk space", "file", s.index.Name(), "err", err)
	}
}

// InstallSnapshot replaces the whole log by the leader's snapshot snap
// (Raft §7): no entry is kept, and the next entry, snap.Index+1, is
// written at CommitLog position end, where the leader has it (the end the
// snapshot's broker state gives). Everything is durable when it returns.
func (s *Store) InstallSnapshot(snap core.Snapshot, end int64) error {
	if s.syncErr != nil {
		return s.syncErr
	}
	if snap.Index == 0 || end < 0 {
		return fmt.Errorf("%w: install %v ending at %d", commitlog.ErrInvalid, snap, end)
	}
	base := commitlog.Base{Index: snap.Index, Term: snap.Term, End: end}
	if err := s.replaceFile(SnapshotFile, encodeSnapshot(base, snap.Data)); err != nil {
		return fmt.Errorf("write %s: %w", filepath.Join(s.dir, SnapshotFile), err)
	}
	for _, sg := range s.segs {
		sg.f.Close()
		delete(s.dirty, sg)
		if err := os.Remove(sg.f.Name()); err != nil {
			return err
		}
	}
	s.segs = nil
	if err := s.syncDir(); err != nil {
		return err
	}
	s.base, s.snap = base, snap
	if err := s.writeBaseRecord(); err != nil {
		return err
	}
	// The trusted entry is gone with the log.
	if err := os.Remove(filepath.Join(s.dir, TrustedFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	s.recs.base, s.recs.n, s.recs.tail = snap.Index, snap.Index, s.recs.tail[:0]
	s.lastTerm, s.lastChain = snap.Term, 0
	if s.hs.Commit < snap.Index {
		s.hs.Commit = snap.Index
	}
	return nil
}
