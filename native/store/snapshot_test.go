package store

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
)

// TestCompactDeletesSegmentsBeforeTheSnapshotAndReopens: retention deletes
// whole segment files before the snapshot's entry; the log reopens after
// the snapshot with every later entry where it was.
func TestCompactDeletesSegmentsBeforeTheSnapshotAndReopens(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 30, 1, 60))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	before := len(s.Segments())
	require.Greater(t, before, 3)
	pos25, size25, _ := s.Position(25)
	require.Positive(t, s.Reclaimable(25))

	removed, err := s.Compact(core.Snapshot{Index: 25, Term: 1, Data: []byte("state at 25")})
	require.NoError(t, err)
	assert.NotEmpty(t, removed)
	assert.Equal(t, before-len(removed), len(s.Segments()))
	assert.LessOrEqual(t, s.Segments()[0].Start, pos25, "the segment holding entry 25 stays")
	_, _, ok := s.Position(25)
	assert.False(t, ok, "entry 25 is compacted")
	got, err := s.Entries(26, 31)
	require.NoError(t, err)
	assert.Equal(t, ents(26, 5, 1, 60), got)
	_, err = s.ReadEntry(0, size25)
	assert.ErrorIs(t, err, broker.ErrOffsetTooSmall, "a deleted position is too small, not damage")
	require.NoError(t, s.Close())

	r := mustOpen(t, dir)
	snap, _ := r.Snapshot()
	assert.Equal(t, core.Snapshot{Index: 25, Term: 1, Data: []byte("state at 25")}, snap)
	assert.Equal(t, commitlog.Base{Index: 25, Term: 1, End: pos25 + int64(size25), Chain: r.Base().Chain}, r.Base())
	assert.Equal(t, uint64(30), r.LastIndex())
	term, ok := r.Term(25)
	assert.True(t, ok)
	assert.Equal(t, uint64(1), term)
	got, err = r.Entries(26, 31)
	require.NoError(t, err)
	assert.Equal(t, ents(26, 5, 1, 60), got)
	_, err = r.Append(ents(31, 10, 2, 60))
	require.NoError(t, err, "the log goes on after a reopen")
	_, err = r.Append(ents(26, 1, 3, 60))
	require.NoError(t, err, "a truncation back to the entry after the snapshot")
	assert.Equal(t, uint64(26), r.LastIndex())
}

// TestInstallSnapshotStartsTheLogAtTheLeadersPosition: after an install
// the next entry is written where the leader has it, and survives a
// reopen.
func TestInstallSnapshotStartsTheLogAtTheLeadersPosition(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 5, 1, 60)) // a log that disagrees with the leader's
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	const end = 1300 // in the third 512-byte segment
	require.NoError(t, s.InstallSnapshot(core.Snapshot{Index: 40, Term: 3, Data: []byte("leader state")}, end))
	assert.Empty(t, s.Segments())
	assert.Equal(t, uint64(40), s.LastIndex())
	_, err = s.Append(ents(41, 3, 3, 60))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	pos, _, ok := s.Position(41)
	require.True(t, ok)
	assert.Equal(t, int64(end), pos)
	require.NoError(t, s.Close())

	r := mustOpen(t, dir)
	assert.Equal(t, uint64(43), r.LastIndex())
	got, err := r.Entries(41, 44)
	require.NoError(t, err)
	assert.Equal(t, ents(41, 3, 3, 60), got)
	snap, _ := r.Snapshot()
	assert.Equal(t, uint64(40), snap.Index)
}

// TestInterruptedInstallDropsTheOldLog: a crash after the snapshot file
// was written but before the old segments were deleted leaves a log that
// does not continue the snapshot; Open deletes it.
func TestInterruptedInstallDropsTheOldLog(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 30, 1, 60))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	require.NoError(t, s.replaceFile(SnapshotFile, encodeSnapshot(commitlog.Base{Index: 12, Term: 5, End: 700}, []byte("x"))))
	require.NoError(t, s.Close())

	r := mustOpen(t, dir)
	assert.Equal(t, uint64(12), r.LastIndex(), "the old log (term 1 at entry 12, not 5) is gone")
	assert.Empty(t, r.Segments())
	_, err = r.Append(ents(13, 1, 5, 60))
	require.NoError(t, err)
	pos, _, _ := r.Position(13)
	assert.Equal(t, int64(700), pos)
}

// TestDamagedSnapshotFileRefusesToStart names the file.
func TestDamagedSnapshotFileRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 30, 1, 60))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	_, err = s.Compact(core.Snapshot{Index: 20, Term: 1, Data: []byte("state")})
	require.NoError(t, err)
	require.NoError(t, s.Close())
	path := filepath.Join(dir, SnapshotFile)
	raw, err := os.ReadFile(path)
	require.NoError(t, err)
	raw[len(raw)-6] ^= 0xff
	require.NoError(t, os.WriteFile(path, raw, 0o644))

	_, _, err = Open(dir, smallOpts)
	require.Error(t, err)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.Contains(t, err.Error(), path)
}

// TestQueuesStartAtABase: a queue that starts after a snapshot keeps
// RocketMQ's file layout and reloads from its base.
func TestQueuesStartAtABase(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{SegmentSize: 512, QueueFileUnits: 4})
	require.NoError(t, err)
	q := s.Queues()
	require.NoError(t, q.StartAt("t", 6))
	for off := uint64(6); off < 11; off++ {
		q.AppendRecord("t", off, broker.QueueRecord{Pos: int64(off) * 100, Size: 60})
	}
	require.NoError(t, q.Sync())
	assert.FileExists(t, filepath.Join(dir, QueueDir, "t", queueID, QueueFileName(4)))
	assert.NoFileExists(t, filepath.Join(dir, QueueDir, "t", queueID, QueueFileName(0)))
	dst := make([]broker.QueueRecord, 2)
	require.NoError(t, q.ReadRecords("t", 9, dst))
	assert.Equal(t, int64(900), dst[0].Pos)
	assert.Error(t, q.ReadRecords("t", 5, dst), "below the base")
	require.NoError(t, s.Close())

	s, _, err = Open(dir, Options{SegmentSize: 512, QueueFileUnits: 4})
	require.NoError(t, err)
	defer s.Close()
	q = s.Queues()
	require.NoError(t, q.Load("t", 6, 10))
	assert.Equal(t, uint64(10), q.Len("t"))
	require.NoError(t, q.ReadRecords("t", 6, dst))
	assert.Equal(t, int64(600), dst[0].Pos)
}
