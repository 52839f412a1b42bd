package store

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/commitlog"
)

// small segments so that tests roll over.
var smallOpts = Options{SegmentSize: 512}

func ents(first, n, term uint64, size int) []core.Entry {
	out := make([]core.Entry, n)
	for i := range out {
		idx := first + uint64(i)
		out[i] = core.Entry{Index: idx, Term: term, Data: bytes.Repeat([]byte{byte('a' + idx%26)}, size)}
	}
	return out
}

func mustOpen(t *testing.T, dir string) *Store {
	t.Helper()
	s, _, err := Open(dir, smallOpts)
	require.NoError(t, err)
	t.Cleanup(func() { s.Close() })
	return s
}

// tearTail writes b right after the last entry of the store in dir (closed),
// in the zeros the store wrote ahead of it (PreallocateBytes): a write a
// crash cut short. It returns the segment file and the offset of b.
func tearTail(t *testing.T, dir string, b []byte) (seg string, off int64) {
	t.Helper()
	s, _, err := Open(dir, smallOpts)
	require.NoError(t, err)
	segs := s.Segments()
	require.NoError(t, s.Close())
	last := segs[len(segs)-1]
	seg = filepath.Join(dir, last.Name)
	f, err := os.OpenFile(seg, os.O_WRONLY, 0)
	require.NoError(t, err)
	defer f.Close()
	_, err = f.WriteAt(b, last.Used)
	require.NoError(t, err)
	return seg, last.Used
}

func TestAppendReopenRollsOverSegments(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 20, 1, 60))
	require.NoError(t, err)
	s.SetHardState(core.HardState{Term: 2, Vote: 3, Commit: 15})
	require.NoError(t, s.Sync())
	assert.Greater(t, len(s.Segments()), 2, "60-byte bodies in 512-byte segments roll over")
	require.NoError(t, s.Close())

	r, rep, err := Open(dir, smallOpts)
	require.NoError(t, err)
	defer r.Close()
	assert.True(t, rep.Empty(), "clean files: %v", rep)
	assert.Equal(t, uint64(20), r.LastIndex())
	hs, _ := r.InitialState()
	assert.Equal(t, core.HardState{Term: 2, Vote: 3, Commit: 15}, hs)
	got, err := r.Entries(1, 21)
	require.NoError(t, err)
	assert.Equal(t, ents(1, 20, 1, 60), got)
	for i := uint64(1); i <= 20; i++ {
		pos, size, ok := r.Position(i)
		require.True(t, ok)
		assert.Equal(t, int32(commitlog.EncodedSize(60)), size)
		assert.Equal(t, pos/512, (pos+int64(size)-1)/512, "entry %d does not span segments", i)
	}
}

func TestAppendBelowLastTruncatesUncommittedSuffix(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 12, 1, 60))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	segsBefore := len(s.Segments())

	// A new leader of term 2 overwrites from index 4.
	tr, err := s.Append(ents(4, 2, 2, 10))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	assert.Len(t, tr, 9, "entries 4..12 were truncated")
	assert.Equal(t, uint64(5), s.LastIndex())
	assert.Less(t, len(s.Segments()), segsBefore, "segments past the cut are removed")
	require.NoError(t, s.Close())

	r := mustOpen(t, dir)
	got, err := r.Entries(1, r.LastIndex()+1)
	require.NoError(t, err)
	assert.Equal(t, append(ents(1, 3, 1, 60), ents(4, 2, 2, 10)...), got)
	assert.Equal(t, uint64(2), r.LastTerm())
}

func TestTruncateToEmptyLog(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	_, err := s.Append(ents(1, 3, 1, 10))
	require.NoError(t, err)
	_, err = s.Append(ents(1, 1, 2, 5))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	got, err := s.Entries(1, 2)
	require.NoError(t, err)
	assert.Equal(t, ents(1, 1, 2, 5), got)
}

func TestTornTailIsTruncatedAndReported(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 3, 1, 20))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	require.NoError(t, s.Close())

	// Half an entry header after the last entry: a write cut by a crash.
	tearTail(t, dir, []byte{0, 0, 0, 1, 0, 0, 0, 90, 0, 0})

	r, rep, err := Open(dir, smallOpts)
	require.NoError(t, err)
	defer r.Close()
	assert.True(t, rep.Truncated(), "report: %v", rep)
	assert.Equal(t, uint64(3), r.LastIndex())
	_, err = r.Append(ents(4, 1, 1, 20))
	require.NoError(t, err, "the log continues after the cut")
}

func TestFlippedByteBeforeTailRefusesToStart(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 5, 1, 20))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	pos, _, _ := s.Position(2)
	require.NoError(t, s.Close())

	seg := filepath.Join(dir, commitlog.SegmentName(0))
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	b[pos+commitlog.HeaderSize+3] ^= 0xFF // a body byte of entry 2
	require.NoError(t, os.WriteFile(seg, b, 0o644))

	_, _, err = Open(dir, smallOpts)
	require.Error(t, err)
	assert.True(t, errors.Is(err, commitlog.ErrCorrupt))
	assert.Contains(t, err.Error(), seg)
	assert.Contains(t, err.Error(), fmt.Sprintf("offset %d", pos))
}

func TestIndexIsRebuiltFromData(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 5, 1, 20))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	require.NoError(t, s.Close())
	require.NoError(t, os.Truncate(filepath.Join(dir, IndexFile), commitlog.IndexOffset(3)))

	r, rep, err := Open(dir, smallOpts)
	require.NoError(t, err)
	defer r.Close()
	assert.False(t, rep.Empty())
	assert.Equal(t, uint64(5), r.LastIndex())
}

func TestTermFileIsReplacedAtomically(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	s.SetHardState(core.HardState{Term: 7, Vote: 2})
	require.NoError(t, s.Sync())
	_, err := os.Stat(filepath.Join(dir, TermFile+".tmp"))
	assert.True(t, os.IsNotExist(err), "no temp file is left behind")
	before := s.Fsyncs()
	s.SetHardState(core.HardState{Term: 7, Vote: 2, Commit: 0})
	require.NoError(t, s.Sync())
	assert.Equal(t, before, s.Fsyncs(), "an unchanged term and vote cost no fsync")

	require.NoError(t, os.WriteFile(filepath.Join(dir, TermFile), []byte("garbage"), 0o644))
	_, _, err = Open(dir, smallOpts)
	assert.ErrorIs(t, err, ErrCorrupt)
}

func TestGroupCommitOneFsyncPerBatch(t *testing.T) {
	s := mustOpen(t, t.TempDir())
	_, err := s.Append(ents(1, 1, 1, 8)) // creates the first segment
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	before := s.Fsyncs()
	_, err = s.Append(ents(2, 5, 1, 8))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	assert.Equal(t, before+1, s.Fsyncs(), "five entries in one segment share one fsync")
}

func TestTermFileBehindTheLogIsRaised(t *testing.T) {
	// Entries of term 3 reached the disk, the term file did not: a crash
	// inside Sync. No vote in term 3 was announced, so term 3 with no vote
	// is the honest state.
	dir := t.TempDir()
	s := mustOpen(t, dir)
	s.SetHardState(core.HardState{Term: 2, Vote: 1})
	require.NoError(t, s.Sync())
	_, err := s.Append(ents(1, 2, 3, 4))
	require.NoError(t, err)
	require.NoError(t, s.Close()) // Close syncs data; the term file still says 2
	r := mustOpen(t, dir)
	hs, _ := r.InitialState()
	assert.Equal(t, core.HardState{Term: 3}, hs)
}

func TestSealedSegmentThenTruncateIntoIt(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 12, 1, 100)) // 148-byte entries: 3 per 512-byte segment
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	// Truncate at the first entry of the third segment, then at an entry
	// inside the second one.
	pos, _, _ := s.Position(7)
	require.Equal(t, int64(0), pos%512)
	_, err = s.Append(ents(7, 1, 2, 10))
	require.NoError(t, err)
	_, err = s.Append(ents(5, 2, 3, 10))
	require.NoError(t, err)
	require.NoError(t, s.Close())
	r := mustOpen(t, dir)
	got, err := r.Entries(1, r.LastIndex()+1)
	require.NoError(t, err)
	assert.Equal(t, append(ents(1, 4, 1, 100), ents(5, 2, 3, 10)...), got)
}

// After a failed fsync the store never calls fsync again — not on the next
// Sync, not on Close — and refuses writes: a retried fsync can report
// success for pages the kernel already dropped.
func TestFailedFsyncIsNeverRetried(t *testing.T) {
	calls, failAt := 0, 0
	eio := errors.New("input/output error")
	opts := smallOpts
	opts.SyncFile = func(f *os.File) error {
		calls++
		if failAt > 0 && calls >= failAt {
			return eio
		}
		return nil
	}
	s, _, err := Open(t.TempDir(), opts)
	require.NoError(t, err)
	_, err = s.Append(ents(1, 3, 1, 10))
	require.NoError(t, err)
	require.NoError(t, s.Sync())

	failAt = calls + 1
	_, err = s.Append(ents(4, 3, 1, 10))
	require.NoError(t, err, "the write itself succeeds")
	err = s.Sync()
	require.ErrorIs(t, err, ErrSyncFailed)
	require.ErrorIs(t, err, eio)
	assert.Contains(t, err.Error(), "fsync of ")
	after := calls

	assert.ErrorIs(t, s.Sync(), ErrSyncFailed, "Sync answers the failure again")
	_, err = s.Append(ents(7, 1, 1, 10))
	assert.ErrorIs(t, err, ErrSyncFailed, "writes are refused")
	assert.ErrorIs(t, s.Close(), ErrSyncFailed, "Close reports it too")
	assert.Equal(t, after, calls, "no fsync was called after the failure")
}

// ReadEntry reads an entry back by its CommitLog position and
// size (what a consumer's queue record holds); bytes damaged since, or a
// position outside the segments, are errors, not a crash.
func TestReadEntryByPosition(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	want := ents(1, 12, 1, 60)
	_, err := s.Append(want)
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	for _, e := range want {
		pos, size, ok := s.Position(e.Index)
		require.True(t, ok)
		got, err := s.ReadEntry(pos, size)
		require.NoError(t, err, "entry %d", e.Index)
		assert.Equal(t, e, got)
	}
	first, _, _ := s.Position(1)
	var sizes []int32
	for _, e := range want {
		pos, size, _ := s.Position(e.Index)
		if pos/smallOpts.SegmentSize != 0 {
			break
		}
		sizes = append(sizes, size)
	}
	require.Greater(t, len(sizes), 2)
	run, err := s.ReadEntries(first, sizes)
	require.NoError(t, err)
	assert.Equal(t, want[:len(sizes)], run, "one read for the run")
	_, err = s.ReadEntries(first, append(sizes, 1<<20))
	assert.ErrorIs(t, err, commitlog.ErrInvalid, "past the segment's end")
	_, err = s.ReadEntry(1<<40, 100)
	assert.ErrorIs(t, err, commitlog.ErrInvalid)
	_, err = s.ReadEntry(-1, 100)
	assert.ErrorIs(t, err, commitlog.ErrInvalid)

	pos, size, _ := s.Position(3)
	seg := filepath.Join(dir, commitlog.SegmentName(0))
	f, err := os.OpenFile(seg, os.O_RDWR, 0)
	require.NoError(t, err)
	_, err = f.WriteAt([]byte{0xFF}, pos+int64(size)-1)
	require.NoError(t, err)
	f.Close()
	_, err = s.ReadEntry(pos, size)
	assert.ErrorContains(t, err, fmt.Sprintf("entry at %d in %s", pos, seg))
}

// The store keeps only the newest index records in memory and reads the
// others from the index file: entries, terms and positions read the same
// either way, before and after a reopen and after a truncation below the
// records held in memory.
func TestIndexRecordsReadFromTheFile(t *testing.T) {
	defer func(n uint64) { tailRecords = n }(tailRecords)
	tailRecords = 3
	dir := t.TempDir()
	s := mustOpen(t, dir)
	want := ents(1, 40, 1, 60)
	for i := 0; i < len(want); i += 7 {
		_, err := s.Append(want[i:min(i+7, len(want))])
		require.NoError(t, err)
	}
	require.NoError(t, s.Sync())
	check := func(s *Store, want []core.Entry) {
		t.Helper()
		require.Equal(t, uint64(len(want)), s.LastIndex())
		assert.LessOrEqual(t, len(s.recs.tail), 6, "at most twice tailRecords in memory")
		got, err := s.Entries(1, s.LastIndex()+1)
		require.NoError(t, err)
		assert.Equal(t, want, got)
		for _, e := range want {
			term, ok := s.Term(e.Index)
			assert.True(t, ok)
			assert.Equal(t, e.Term, term)
			pos, size, ok := s.Position(e.Index)
			require.True(t, ok)
			got, err := s.ReadEntry(pos, size)
			require.NoError(t, err)
			assert.Equal(t, e, got)
		}
	}
	check(s, want)
	require.NoError(t, s.Close())
	s = mustOpen(t, dir)
	check(s, want)
	// A conflicting append at entry 9 cuts 9..40, far below memory.
	repl := ents(9, 4, 2, 30)
	tr, err := s.Append(repl)
	require.NoError(t, err)
	assert.Len(t, tr, 32, "the truncated records, read from the file")
	assert.Equal(t, uint64(9), tr[0].Index)
	check(s, append(slices.Clone(want[:8]), repl...))
	require.NoError(t, s.Close())
}

// The store writes zeros ahead of the log's end, so appends overwrite
// blocks the segment already has (Store.preallocate); recovery takes the
// zeros for free space, and the log goes on where it ended.
func TestAppendWritesZerosAhead(t *testing.T) {
	dir := t.TempDir()
	opts := Options{SegmentSize: 4 * PreallocateBytes}
	s, _, err := Open(dir, opts)
	require.NoError(t, err)
	_, err = s.Append(ents(1, 3, 1, 100))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	used := s.Segments()[0].Used
	seg := filepath.Join(dir, commitlog.SegmentName(0))
	st, err := os.Stat(seg)
	require.NoError(t, err)
	assert.Equal(t, used+PreallocateBytes, st.Size(), "zeros follow the last entry")
	b, err := os.ReadFile(seg)
	require.NoError(t, err)
	assert.Equal(t, make([]byte, PreallocateBytes), b[used:])

	// Appends within the zeroed space leave the file's length alone;
	// one that passes it writes the next zeros.
	_, err = s.Append(ents(4, 10, 1, 100))
	require.NoError(t, err)
	st, _ = os.Stat(seg)
	assert.Equal(t, used+PreallocateBytes, st.Size())
	big := ents(14, 1, 1, PreallocateBytes)
	_, err = s.Append(big)
	require.NoError(t, err)
	end := s.Segments()[0].Used
	st, _ = os.Stat(seg)
	assert.Equal(t, end+PreallocateBytes, st.Size())
	require.NoError(t, s.Close())

	r, rep, err := Open(dir, opts)
	require.NoError(t, err)
	defer r.Close()
	assert.Empty(t, rep.Items, "the zeros are not a torn tail: %v", rep)
	assert.Equal(t, uint64(14), r.LastIndex())
	st, _ = os.Stat(seg)
	assert.Equal(t, end+PreallocateBytes, st.Size(), "a restart keeps the zeros written ahead")
	_, err = r.Append(ents(15, 1, 1, 100))
	require.NoError(t, err)
	st, _ = os.Stat(seg)
	assert.Equal(t, end+PreallocateBytes, st.Size(), "and the next append lands in them")
	got, err := r.Entries(14, 16)
	require.NoError(t, err)
	assert.Equal(t, append(big, ents(15, 1, 1, 100)...), got)
}

// A full segment, its end-of-segment marker included, is fsynced before
// the next segment's file is created: otherwise a crash could leave a
// durable next segment after a segment whose marker never reached the
// disk, which recovery refuses (ReasonNoBlank).
func TestSealedSegmentIsDurableBeforeTheNext(t *testing.T) {
	dir := t.TempDir()
	var order []string
	opts := smallOpts
	opts.SyncFile = func(f *os.File) error {
		_, err := os.Stat(filepath.Join(dir, commitlog.SegmentName(512)))
		order = append(order, fmt.Sprintf("%s next-exists=%v", filepath.Base(f.Name()), err == nil))
		return f.Sync()
	}
	s, _, err := Open(dir, opts)
	require.NoError(t, err)
	defer s.Close()
	_, err = s.Append(ents(1, 8, 1, 60)) // more than one 512-byte segment
	require.NoError(t, err)
	require.Len(t, s.Segments(), 2)
	assert.Contains(t, order, commitlog.SegmentName(0)+" next-exists=false", "fsyncs: %q", order)
}

// ZeroAhead writes zeros only when the data passed the zeroed bytes, and
// never past its limit.
func TestZeroAhead(t *testing.T) {
	f, err := os.Create(filepath.Join(t.TempDir(), "f"))
	require.NoError(t, err)
	defer f.Close()
	size := func() int64 { st, err := f.Stat(); require.NoError(t, err); return st.Size() }

	z, err := ZeroAhead(f, 100, 0, 1<<30)
	require.NoError(t, err)
	assert.Equal(t, int64(100+PreallocateBytes), z)
	assert.Equal(t, z, size())
	z2, err := ZeroAhead(f, 5000, z, 1<<30)
	require.NoError(t, err)
	assert.Equal(t, z, z2, "still inside the zeroed bytes: nothing written")
	z3, err := ZeroAhead(f, z+10, z, z+20)
	require.NoError(t, err)
	assert.Equal(t, z+20, z3, "no further than the limit")
	assert.Equal(t, z+20, size())
}
