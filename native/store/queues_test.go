package store

import (
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
)

func unit(i int) broker.QueueRecord {
	return broker.QueueRecord{Pos: int64(i) * 100, Size: int32(50 + i), TagHash: int64(i % 3)}
}

// loadAll opens topic at n units and reads them back.
func loadAll(t *testing.T, q *Queues, topic string, n uint64) ([]broker.QueueRecord, error) {
	t.Helper()
	if err := q.Load(topic, 0, n); err != nil {
		return nil, err
	}
	got := make([]broker.QueueRecord, n)
	return got, q.ReadRecords(topic, 0, got)
}

// ConsumeQueue files hold 20-byte units in RocketMQ's layout, QueueFileUnits
// to a file named by its first unit's byte offset; Sync makes them and
// their folders durable; Load reads a prefix back and cuts what follows it
// (units written after the checkpoint), at any place, file boundaries
// included, and appending goes on from there.
func TestQueueFilesRoundTripAndCut(t *testing.T) {
	dir := t.TempDir()
	var synced []string
	s, _, err := Open(dir, Options{QueueFileUnits: 4, SyncFile: func(f *os.File) error {
		synced = append(synced, f.Name())
		return nil
	}})
	require.NoError(t, err)
	q := s.Queues()
	for i := range 10 {
		q.AppendRecord("orders", uint64(i), unit(i))
		if i == 5 {
			require.NoError(t, q.Flush())
		}
	}
	assert.PanicsWithValue(t, "store: queue orders: append at offset 3, the next is 10", func() { q.AppendRecord("orders", 3, unit(3)) })
	got := make([]broker.QueueRecord, 10)
	require.NoError(t, q.ReadRecords("orders", 0, got), "written and buffered units alike")
	for i, r := range got {
		assert.Equal(t, unit(i), r)
	}
	assert.Error(t, q.ReadRecords("orders", 5, got), "past the end")
	synced = nil
	require.NoError(t, q.Sync())
	qdir := filepath.Join(dir, QueueDir, "orders", "0")
	for _, name := range []string{"00000000000000000000", "00000000000000000080", "00000000000000000160"} {
		assert.Contains(t, synced, filepath.Join(qdir, name), "file fsynced")
	}
	assert.Contains(t, synced, qdir, "the folder holding new files fsynced")
	b, err := os.ReadFile(filepath.Join(qdir, "00000000000000000080"))
	require.NoError(t, err)
	assert.Equal(t, slices.Concat(unit(4).Append(nil), unit(5).Append(nil), unit(6).Append(nil), unit(7).Append(nil)), b,
		"units 4..7 in the second file, in RocketMQ's 20-byte layout")
	require.NoError(t, s.Close())

	for _, n := range []uint64{10, 7, 4, 0} {
		s, _, err := Open(dir, Options{QueueFileUnits: 4, NoSync: true})
		require.NoError(t, err)
		q := s.Queues()
		got, err := loadAll(t, q, "orders", n)
		require.NoError(t, err, "n=%d", n)
		got2 := make([]broker.QueueRecord, 1)
		if n > 0 {
			require.NoError(t, q.ReadRecords("orders", n-1, got2))
			assert.Equal(t, unit(int(n-1)), got2[0])
		}
		require.Len(t, got, int(n))
		for i, r := range got {
			assert.Equal(t, unit(i), r)
		}
		// Append again after the cut: the files hold exactly 0..n+1.
		q.AppendRecord("orders", n, unit(int(n)))
		require.NoError(t, q.Sync())
		require.NoError(t, s.Close())
		s, _, err = Open(dir, Options{QueueFileUnits: 4, NoSync: true})
		require.NoError(t, err)
		got, err = loadAll(t, s.Queues(), "orders", n+1)
		require.NoError(t, err)
		assert.Len(t, got, int(n+1))
		_, err = loadAll(t, s.Queues(), "orders", n+2)
		assert.ErrorIs(t, err, ErrCorrupt, "n=%d: only n+1 units are left", n)
		require.NoError(t, s.Close())
	}
}

// Load refuses files that cannot be a queue's prefix, naming the folder or
// file; Prune removes topics the checkpoint does not know; Reset removes
// every queue file.
func TestQueueFilesRefuseGapsAndPrune(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{QueueFileUnits: 4, NoSync: true})
	require.NoError(t, err)
	q := s.Queues()
	for i := range 12 {
		q.AppendRecord("orders", uint64(i), unit(i))
		q.AppendRecord("late", uint64(i), unit(i))
	}
	require.NoError(t, q.Sync())
	require.NoError(t, s.Close())

	qdir := filepath.Join(dir, QueueDir, "orders", "0")
	require.NoError(t, os.Remove(filepath.Join(qdir, QueueFileName(4))))
	s, _, err = Open(dir, Options{QueueFileUnits: 4, NoSync: true})
	require.NoError(t, err)
	_, err = loadAll(t, s.Queues(), "orders", 2)
	assert.ErrorIs(t, err, ErrCorrupt)
	assert.ErrorContains(t, err, "file 00000000000000000160 follows a file that ends at unit 4")
	require.NoError(t, s.Close())

	require.NoError(t, os.Truncate(filepath.Join(qdir, QueueFileName(0)), 20*2+7))
	require.NoError(t, os.Remove(filepath.Join(qdir, QueueFileName(8))))
	s, _, err = Open(dir, Options{QueueFileUnits: 4, NoSync: true})
	require.NoError(t, err)
	q = s.Queues()
	got, err := loadAll(t, q, "orders", 2)
	require.NoError(t, err, "a torn unit after the loaded prefix is cut")
	assert.Len(t, got, 2)
	fi, err := os.Stat(filepath.Join(qdir, QueueFileName(0)))
	require.NoError(t, err)
	assert.EqualValues(t, 40, fi.Size())
	require.NoError(t, q.Prune())
	assert.NoDirExists(t, filepath.Join(dir, QueueDir, "late"), "a topic the checkpoint does not know")
	assert.DirExists(t, qdir)
	require.NoError(t, q.Reset())
	assert.NoDirExists(t, filepath.Join(dir, QueueDir))
	require.NoError(t, s.Close())
}

// Trim moves a queue's first unit up after retention; its files wholly
// below are removed only once the next checkpoint is durable (an older
// checkpoint's Load still needs them), the units from the new first one
// on read as before, and a restart at the new first unit loads them.
func TestTrimRemovesFilesAfterTheCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{QueueFileUnits: 4, NoSync: true})
	require.NoError(t, err)
	q := s.Queues()
	for i := range 10 {
		q.AppendRecord("orders", uint64(i), unit(i))
	}
	require.NoError(t, q.Sync())
	got := make([]broker.QueueRecord, 1)
	require.NoError(t, q.ReadRecords("orders", 1, got), "a reader open on the first file")
	qdir := filepath.Join(dir, QueueDir, "orders", "0")

	q.Trim("orders", 9)
	q.Trim("orders", 6) // never back down
	assert.FileExists(t, filepath.Join(qdir, QueueFileName(0)), "kept until the checkpoint")
	assert.Error(t, q.ReadRecords("orders", 8, got), "below the first unit")
	require.NoError(t, q.ReadRecords("orders", 9, got))
	assert.Equal(t, unit(9), got[0])

	require.NoError(t, s.WriteCheckpoint([]byte("state with orders from unit 9"), 0))
	assert.NoFileExists(t, filepath.Join(qdir, QueueFileName(0)))
	assert.NoFileExists(t, filepath.Join(qdir, QueueFileName(4)))
	assert.FileExists(t, filepath.Join(qdir, QueueFileName(8)), "the file holding unit 9 stays whole")
	q.AppendRecord("orders", 10, unit(10))
	require.NoError(t, q.Sync())
	require.NoError(t, s.Close())

	s, _, err = Open(dir, Options{QueueFileUnits: 4, NoSync: true})
	require.NoError(t, err)
	q = s.Queues()
	require.NoError(t, q.Load("orders", 9, 11))
	got = make([]broker.QueueRecord, 2)
	require.NoError(t, q.ReadRecords("orders", 9, got))
	assert.Equal(t, []broker.QueueRecord{unit(9), unit(10)}, got)
	assert.ErrorIs(t, q.Load("orders", 4, 11), ErrCorrupt, "an older checkpoint's first unit is gone")
	require.NoError(t, s.Close())
}

// The checkpoint is replaced atomically and read back as written.
func TestCheckpointIsReplacedAtomically(t *testing.T) {
	dir := t.TempDir()
	s, _, err := Open(dir, Options{NoSync: true})
	require.NoError(t, err)
	got, err := s.ReadCheckpoint()
	require.NoError(t, err)
	assert.Nil(t, got, "no checkpoint yet")
	require.NoError(t, s.WriteCheckpoint([]byte("state one"), 0))
	require.NoError(t, s.WriteCheckpoint([]byte("state two"), 0))
	got, err = s.ReadCheckpoint()
	require.NoError(t, err)
	assert.Equal(t, "state two", string(got))
	assert.NoFileExists(t, filepath.Join(dir, CheckpointFile+".tmp"))

	require.NoError(t, s.Close())
}

// After a checkpoint at entry k the recovery scan starts after entry k
// (the trusted file): a torn tail after it is still cut, damage before it
// is not scanned (it is found when that entry is read), and without the
// trusted file the whole log is scanned and the damage refuses the start.
func TestRecoveryStartsAfterTheCheckpoint(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 30, 1, 40))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	require.NoError(t, s.WriteCheckpoint([]byte("state"), 20))
	pos, size, _ := s.Position(5)
	segs := s.Segments()
	require.NoError(t, s.Close())

	first := segs[pos/segs[0].Capacity]
	seg := filepath.Join(dir, first.Name)
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[pos-first.Start+commitlog.HeaderSize+3] ^= 0xFF // damage in entry 5, before the checkpoint
	require.NoError(t, os.WriteFile(seg, b, 0o644))
	tearTail(t, dir, []byte("torn")) // and a torn tail after entry 30

	s, rep, err := Open(dir, smallOpts)
	require.NoError(t, err, "entries up to 20 are trusted")
	assert.True(t, rep.Truncated(), "the torn tail is cut: %v", rep)
	assert.Equal(t, uint64(30), s.LastIndex())
	_, err = s.ReadEntry(pos, size)
	assert.ErrorIs(t, err, commitlog.ErrCorrupt, "the damaged entry fails when it is read")
	require.NoError(t, s.Close())

	require.NoError(t, os.Remove(filepath.Join(dir, TrustedFile)))
	_, _, err = Open(dir, smallOpts)
	assert.ErrorIs(t, err, commitlog.ErrCorrupt, "a full scan finds the damage")
}
