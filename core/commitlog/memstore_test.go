package commitlog

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

func ent(index, term uint64, data string) core.Entry {
	return core.Entry{Index: index, Term: term, Type: core.EntryNormal, Data: []byte(data)}
}

func terms(t *testing.T, m *MemStore) []uint64 {
	es, err := m.Entries(1, m.LastIndex()+1)
	require.NoError(t, err)
	var out []uint64
	for _, e := range es {
		out = append(out, e.Term)
	}
	return out
}

func TestMemStoreImplementsStorage(t *testing.T) {
	var _ core.Storage = NewMemStore(Options{})
}

func TestMemStoreAppendAndRead(t *testing.T) {
	m := NewMemStore(Options{SegmentSize: 4096})
	hs, err := m.InitialState()
	require.NoError(t, err)
	assert.True(t, hs.IsZero())
	assert.Equal(t, uint64(0), m.LastIndex())

	want := testEntries(100, 90)
	require.NoError(t, m.Append(want[:60]))
	require.NoError(t, m.Append(want[60:]))
	assert.Equal(t, uint64(100), m.LastIndex())
	assert.Equal(t, want[99].Term, m.LastTerm())

	got, err := m.Entries(1, 101)
	require.NoError(t, err)
	require.Len(t, got, 100)
	for i := range want {
		assert.Equal(t, want[i].Index, got[i].Index)
		assert.Equal(t, want[i].Term, got[i].Term)
		assert.Equal(t, want[i].Type, got[i].Type)
		assert.Equal(t, string(want[i].Data), string(got[i].Data))
	}

	var prevEnd int64
	for i := uint64(1); i <= 100; i++ {
		pos, size, ok := m.Position(i)
		require.True(t, ok)
		assert.Equal(t, int32(EncodedSize(len(want[i-1].Data))), size)
		if pos != prevEnd {
			assert.Equal(t, int64(0), pos%4096, "entry %d skips ahead only to a segment start", i)
		}
		assert.LessOrEqual(t, pos%4096+int64(size)+BlankSize, int64(4096), "entries never span segments")
		prevEnd = pos + int64(size)
	}
	assert.Equal(t, prevEnd, m.End())
	_, _, ok := m.Position(101)
	assert.False(t, ok)
	_, _, ok = m.Position(0)
	assert.False(t, ok)

	segs := m.Segments()
	require.Greater(t, len(segs), 1)
	for i, s := range segs {
		assert.Equal(t, SegmentName(s.Start), s.Name)
		assert.Equal(t, int64(4096), s.Capacity)
		if i < len(segs)-1 {
			assert.Equal(t, int64(4096), s.Used)
		}
	}

	t.Run("entries are copies", func(t *testing.T) {
		es, err := m.Entries(2, 3)
		require.NoError(t, err)
		es[0].Data[0] ^= 0xFF
		again, err := m.Entries(2, 3)
		require.NoError(t, err)
		assert.Equal(t, want[1].Data, again[0].Data)
	})
}

func TestMemStoreEntriesBounds(t *testing.T) {
	m := NewMemStore(Options{SegmentSize: 4096})
	require.NoError(t, m.Append([]core.Entry{ent(1, 1, "a"), ent(2, 1, "b")}))
	for _, tc := range []struct {
		name   string
		lo, hi uint64
		n      int
		err    bool
	}{
		{"all", 1, 3, 2, false},
		{"empty at end", 3, 3, 0, false},
		{"zero lo", 0, 2, 0, true},
		{"past end", 1, 4, 0, true},
		{"reversed", 2, 1, 0, true},
	} {
		t.Run(tc.name, func(t *testing.T) {
			es, err := m.Entries(tc.lo, tc.hi)
			if tc.err {
				assert.ErrorIs(t, err, ErrInvalid)
				return
			}
			require.NoError(t, err)
			assert.Len(t, es, tc.n)
		})
	}
}

func TestMemStoreAppendErrors(t *testing.T) {
	opts := Options{SegmentSize: 256, MaxBodySize: 300}
	cases := []struct {
		name    string
		entries []core.Entry
		want    error
	}{
		{"gap after the end", []core.Entry{ent(5, 2, "x")}, ErrInvalid},
		{"index zero", []core.Entry{ent(0, 2, "x")}, ErrInvalid},
		{"not consecutive", []core.Entry{ent(4, 2, "x"), ent(6, 2, "y")}, ErrInvalid},
		{"term below the previous entry", []core.Entry{ent(4, 1, "x")}, ErrInvalid},
		{"falling term inside the batch", []core.Entry{ent(4, 3, "x"), ent(5, 2, "y")}, ErrInvalid},
		{"unknown type", []core.Entry{{Index: 4, Term: 2, Type: 7}}, ErrInvalid},
		{"body over the limit", []core.Entry{{Index: 4, Term: 2, Data: make([]byte, 301)}}, ErrTooLarge},
		{"entry larger than a segment", []core.Entry{{Index: 4, Term: 2, Data: make([]byte, 201)}}, ErrTooLarge},
		{"bad entry after a truncating one", []core.Entry{ent(2, 3, "x"), ent(4, 3, "y")}, ErrInvalid},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := NewMemStore(opts)
			require.NoError(t, m.Append([]core.Entry{ent(1, 1, "a"), ent(2, 2, "b"), ent(3, 2, "c")}))
			before := m.Clone()
			assert.ErrorIs(t, m.Append(tc.entries), tc.want)
			assert.Equal(t, before, m, "a failed append writes nothing")
		})
	}
	t.Run("largest entry fits", func(t *testing.T) {
		m := NewMemStore(opts)
		require.NoError(t, m.Append([]core.Entry{{Index: 1, Term: 1, Data: make([]byte, 200)}}))
		require.NoError(t, m.Append([]core.Entry{{Index: 2, Term: 1, Data: make([]byte, 200)}}))
		assert.Len(t, m.Segments(), 2)
	})
}

// A follower's log: 1..5 from term 1, then a leader of term 2 sends a
// conflicting entry 3. Raft §5.3: delete the existing entry and all that
// follow it.
func TestMemStoreTruncatesConflictingSuffix(t *testing.T) {
	m := NewMemStore(Options{SegmentSize: 128})
	var es []core.Entry
	for i := uint64(1); i <= 5; i++ {
		es = append(es, ent(i, 1, "old-entry-body"))
	}
	require.NoError(t, m.Append(es))
	require.NoError(t, m.Append([]core.Entry{ent(3, 2, "new")}))
	assert.Equal(t, uint64(3), m.LastIndex())
	assert.Equal(t, []uint64{1, 1, 2}, terms(t, m))
	require.NoError(t, m.Append([]core.Entry{ent(4, 2, "next")}))
	assert.Equal(t, []uint64{1, 1, 2, 2}, terms(t, m))

	t.Run("truncate to the first entry of a segment", func(t *testing.T) {
		c := m.Clone()
		// One 62-byte old entry per 128-byte segment: entry 3 starts one.
		pos, _, _ := c.Position(3)
		require.Equal(t, int64(256), pos, "entry 3 starts a segment")
		require.NoError(t, c.Append([]core.Entry{ent(3, 3, "x")}))
		assert.Len(t, c.Segments(), 3)
		p, _, _ := c.Position(3)
		assert.Equal(t, pos, p)
		assert.Equal(t, []uint64{1, 1, 3}, terms(t, c))
		c.Sync()
		n, rep, err := c.Reopen()
		require.NoError(t, err)
		assert.True(t, rep.Empty(), rep.String())
		assert.Equal(t, []uint64{1, 1, 3}, terms(t, n))
	})
	t.Run("truncate everything", func(t *testing.T) {
		c := m.Clone()
		require.NoError(t, c.Append([]core.Entry{ent(1, 5, "x")}))
		assert.Equal(t, []uint64{5}, terms(t, c))
		assert.Len(t, c.Segments(), 1)
	})
	t.Run("the recovered log is the truncated one", func(t *testing.T) {
		c := m.Clone()
		c.Sync()
		n, rep, err := c.Reopen()
		require.NoError(t, err)
		assert.True(t, rep.Empty(), rep.String())
		assert.Equal(t, []uint64{1, 1, 2, 2}, terms(t, n))
	})
}

func TestMemStoreSyncAndCrash(t *testing.T) {
	newStore := func(t *testing.T) *MemStore {
		m := NewMemStore(Options{SegmentSize: 256})
		require.NoError(t, m.Append([]core.Entry{ent(1, 1, "a"), ent(2, 1, "b"), ent(3, 1, "c")}))
		m.SetHardState(core.HardState{Term: 1, Vote: 1, Commit: 2})
		m.Sync()
		return m
	}
	cases := []struct {
		name   string
		write  func(t *testing.T, m *MemStore)
		sync   bool
		terms  []uint64
		hsTerm uint64
	}{
		{"unsynced appends are lost", func(t *testing.T, m *MemStore) {
			require.NoError(t, m.Append([]core.Entry{ent(4, 1, "d"), ent(5, 1, "e")}))
		}, false, []uint64{1, 1, 1}, 1},
		{"synced appends survive", func(t *testing.T, m *MemStore) {
			require.NoError(t, m.Append([]core.Entry{ent(4, 1, "d"), ent(5, 1, "e")}))
		}, true, []uint64{1, 1, 1, 1, 1}, 1},
		{"unsynced hard state is lost", func(t *testing.T, m *MemStore) {
			m.SetHardState(core.HardState{Term: 7, Vote: 2})
		}, false, []uint64{1, 1, 1}, 1},
		{"synced hard state survives", func(t *testing.T, m *MemStore) {
			m.SetHardState(core.HardState{Term: 7, Vote: 2})
		}, true, []uint64{1, 1, 1}, 7},
		{"unsynced truncation is undone", func(t *testing.T, m *MemStore) {
			require.NoError(t, m.Append([]core.Entry{ent(2, 3, "conflicting")}))
		}, false, []uint64{1, 1, 1}, 1},
		{"unsynced truncation and re-append are undone", func(t *testing.T, m *MemStore) {
			require.NoError(t, m.Append([]core.Entry{ent(2, 3, "x"), ent(3, 3, "y"), ent(4, 3, "z")}))
		}, false, []uint64{1, 1, 1}, 1},
		{"synced truncation survives", func(t *testing.T, m *MemStore) {
			require.NoError(t, m.Append([]core.Entry{ent(2, 3, "conflicting")}))
		}, true, []uint64{1, 3}, 1},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			m := newStore(t)
			assert.False(t, m.Unsynced())
			tc.write(t, m)
			assert.True(t, m.Unsynced())
			if tc.sync {
				m.Sync()
				assert.False(t, m.Unsynced())
			}
			m.Crash()
			assert.Equal(t, tc.terms, terms(t, m))
			hs, _ := m.InitialState()
			assert.Equal(t, tc.hsTerm, hs.Term)
			assert.Equal(t, m.LastIndex(), m.DurableLastIndex())

			n, rep, err := m.Reopen()
			require.NoError(t, err)
			assert.True(t, rep.Empty(), rep.String())
			assert.Equal(t, tc.terms, terms(t, n))
			nhs, _ := n.InitialState()
			assert.Equal(t, hs, nhs)

			// The store keeps working after a crash.
			require.NoError(t, n.Append([]core.Entry{ent(n.LastIndex()+1, 9, "after")}))
			require.NoError(t, m.Append([]core.Entry{ent(m.LastIndex()+1, 9, "after")}))
			assert.Equal(t, terms(t, n), terms(t, m))
		})
	}
}

func TestMemStoreReopenDetectsFlippedBytes(t *testing.T) {
	m := NewMemStore(Options{SegmentSize: 512})
	require.NoError(t, m.Append(testEntries(31, 60)))
	m.Sync()
	require.NoError(t, m.Append([]core.Entry{ent(32, 99, "unsynced")}))

	t.Run("last byte: tail truncated and reported", func(t *testing.T) {
		c := m.Clone()
		require.NoError(t, c.FlipByte(c.DurableEnd()-1))
		n, rep, err := c.Reopen()
		require.NoError(t, err)
		assert.Equal(t, uint64(30), n.LastIndex())
		require.NotEmpty(t, rep.Items)
		assert.Equal(t, ReasonBodyCRC, rep.Items[0].Reason)
		assert.True(t, rep.Truncated())
		assert.Equal(t, uint64(32), c.LastIndex(), "the running store keeps its page cache")
		es, err := c.Entries(31, 32)
		require.NoError(t, err, "the live image still reads the good byte")
		assert.Len(t, es, 1)
	})
	t.Run("mid-log byte: corruption error", func(t *testing.T) {
		c := m.Clone()
		pos, _, _ := c.Position(3)
		require.NoError(t, c.FlipByte(pos+HeaderSize))
		n, rep, err := c.Reopen()
		assert.Nil(t, n)
		var ce *CorruptError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, SegmentName(0), ce.Segment)
		assert.Equal(t, pos, ce.Offset)
		assert.NotNil(t, rep)
	})
	t.Run("index byte: index rebuilt", func(t *testing.T) {
		c := m.Clone()
		require.NoError(t, c.FlipIndexByte(IndexOffset(10)+6))
		n, rep, err := c.Reopen()
		require.NoError(t, err)
		assert.Equal(t, uint64(31), n.LastIndex())
		require.Len(t, rep.Items, 1)
		assert.Equal(t, ReasonIndexMismatch, rep.Items[0].Reason)
		assert.Equal(t, m.durable.index, n.live.index)
	})
	t.Run("outside durable data", func(t *testing.T) {
		c := m.Clone()
		assert.ErrorIs(t, c.FlipByte(c.DurableEnd()), ErrInvalid)
		assert.ErrorIs(t, c.FlipByte(-1), ErrInvalid)
		assert.ErrorIs(t, c.FlipIndexByte(1<<20), ErrInvalid)
	})
}

func TestMemStoreClone(t *testing.T) {
	m := NewMemStore(Options{SegmentSize: 256})
	require.NoError(t, m.Append(testEntries(10, 40)))
	m.Sync()
	require.NoError(t, m.Append([]core.Entry{ent(11, 9, "unsynced")}))
	snapshot := m.Clone()
	assert.Equal(t, m, snapshot)

	c := m.Clone()
	require.NoError(t, c.Append([]core.Entry{ent(5, 20, "other history")}))
	c.SetHardState(core.HardState{Term: 20})
	c.Sync()
	require.NoError(t, c.FlipByte(0))
	assert.Equal(t, snapshot, m, "changes to a clone leave the original alone")

	require.NoError(t, m.Append([]core.Entry{ent(3, 30, "original's history")}))
	m.Sync()
	assert.Equal(t, []uint64{1, 1, 1, 2, 20}, terms(t, c))

	// Clone and original both growing past the bytes they share: each
	// keeps its own tail.
	m = NewMemStore(Options{SegmentSize: 4096})
	require.NoError(t, m.Append(testEntries(3, 20)))
	c = m.Clone()
	require.NoError(t, m.Append([]core.Entry{ent(4, 5, "original")}))
	require.NoError(t, c.Append([]core.Entry{ent(4, 6, "clone")}))
	m.Sync()
	c.Sync()
	for _, tc := range []struct {
		s    *MemStore
		want string
	}{{m, "original"}, {c, "clone"}} {
		got, err := tc.s.Entries(4, 5)
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(got[0].Data))
		r, _, err := tc.s.Reopen()
		require.NoError(t, err, "the durable bytes still check")
		got, err = r.Entries(4, 5)
		require.NoError(t, err)
		assert.Equal(t, tc.want, string(got[0].Data))
	}
}

func TestMemStoreSyncedBytesAreNotOverwritten(t *testing.T) {
	// The durable image shares arrays with the live one; a truncation
	// followed by appends must not write into the durable bytes.
	m := NewMemStore(Options{SegmentSize: 4096})
	require.NoError(t, m.Append([]core.Entry{ent(1, 1, "aaaa"), ent(2, 1, "bbbb"), ent(3, 1, "cccc")}))
	m.Sync()
	require.NoError(t, m.Append([]core.Entry{ent(2, 2, "XXXX"), ent(3, 2, "YYYY"), ent(4, 2, "ZZZZ")}))
	n, rep, err := m.Reopen()
	require.NoError(t, err)
	assert.True(t, rep.Empty(), rep.String())
	es, err := n.Entries(1, 4)
	require.NoError(t, err)
	assert.Equal(t, "bbbb", string(es[1].Data))
	assert.Equal(t, "cccc", string(es[2].Data))
}

func TestNewMemStorePanicsOnBadOptions(t *testing.T) {
	assert.Panics(t, func() { NewMemStore(Options{SegmentSize: 8}) })
	assert.Equal(t, int64(DefaultSegmentSize), NewMemStore(Options{}).Options().SegmentSize)
}

// summaries lists entries as text (no-ops' nil and empty data alike).
func summaries(es []core.Entry) []string {
	var out []string
	for _, e := range es {
		out = append(out, fmt.Sprintf("%d@%d %s %q", e.Index, e.Term, e.Type, e.Data))
	}
	return out
}

// reopened syncs, crashes and reopens m: what a restart finds.
func reopened(t *testing.T, m *MemStore) *MemStore {
	t.Helper()
	m.Sync()
	m.Crash()
	n, rep, err := m.Reopen()
	require.NoError(t, err)
	require.True(t, rep.Empty(), "clean files: %v", rep)
	return n
}

// Compact keeps a snapshot and gives up the entries before it: segments
// holding only such entries are deleted (retention), the log reads from
// the entry after it, and a restart recovers exactly that log (RecoverFrom
// starts at the base).
func TestMemStoreCompactDeletesOldSegments(t *testing.T) {
	opts := Options{SegmentSize: 512, MaxBodySize: 100}
	ents := testEntries(100, 60)
	m := newLog(t, opts, ents)
	segsBefore := len(m.Segments())
	s := core.Snapshot{Index: 60, Term: ents[59].Term, Data: []byte("state at 60")}
	require.NoError(t, m.Compact(s))
	assert.Less(t, len(m.Segments()), segsBefore, "segments before the snapshot's entry are deleted")
	assert.Greater(t, m.Segments()[0].Start, int64(0))
	check := func(m *MemStore) {
		t.Helper()
		got, err := m.Snapshot()
		require.NoError(t, err)
		assert.Equal(t, s, got)
		rest, err := m.Entries(61, 101)
		require.NoError(t, err)
		assert.Equal(t, summaries(ents[60:]), summaries(rest))
		_, err = m.Entries(60, 62)
		assert.ErrorIs(t, err, ErrInvalid, "compacted")
		_, _, ok := m.Position(60)
		assert.False(t, ok)
		term, ok := m.Term(60)
		assert.True(t, ok)
		assert.Equal(t, s.Term, term)
		pos, size, ok := m.Position(61)
		require.True(t, ok)
		e, err := m.ReadEntry(pos, size)
		require.NoError(t, err)
		assert.Equal(t, summaries(ents[60:61]), summaries([]core.Entry{e}))
		_, err = m.ReadEntry(0, 80)
		assert.ErrorIs(t, err, ErrInvalid, "a deleted segment reads as an error")
	}
	check(m)
	m = reopened(t, m)
	check(m)
	// The log goes on after a restart; truncation back to the entry after
	// the base works too.
	require.NoError(t, m.Append([]core.Entry{ent(101, 40, "a"), ent(102, 40, "b")}))
	require.NoError(t, m.Append([]core.Entry{ent(61, 41, "over")}))
	assert.Equal(t, uint64(61), m.LastIndex())
	m = reopened(t, m)
	got, err := m.Entries(61, 62)
	require.NoError(t, err)
	assert.Equal(t, "over", string(got[0].Data))
}

// A follower that installs the leader's snapshot keeps no entry: its log
// starts after the snapshot, at the leader's position (mid-segment), and
// takes the entries after it; a restart recovers that log, and a torn tail
// after it is still cut.
func TestMemStoreInstallSnapshotStartsTheLogAfterIt(t *testing.T) {
	opts := Options{SegmentSize: 512, MaxBodySize: 100}
	m := newLog(t, opts, testEntries(30, 60)) // a log the snapshot replaces
	s := core.Snapshot{Index: 80, Term: 21, Data: []byte("state at 80")}
	const end = 3*512 + 200
	m.InstallSnapshot(s, end)
	assert.Equal(t, uint64(80), m.LastIndex())
	assert.Equal(t, int64(end), m.End())
	next := []core.Entry{ent(81, 21, "x"), ent(82, 22, "y"), ent(83, 22, "z")}
	require.NoError(t, m.Append(next))
	pos, _, ok := m.Position(81)
	require.True(t, ok)
	assert.Equal(t, int64(end), pos, "entry 81 where the leader has it")
	m = reopened(t, m)
	got, err := m.Entries(81, 84)
	require.NoError(t, err)
	assert.Equal(t, next, got)
	snap, _ := m.Snapshot()
	assert.Equal(t, s, snap)
	assert.Equal(t, uint64(80), m.Base().Index)

	// A torn write after entry 83 is cut by the restart.
	m.Sync()
	require.NoError(t, m.Append([]core.Entry{ent(84, 22, "torn")}))
	m.Sync()
	last := m.durable.end() - 3
	require.NoError(t, m.FlipByte(last))
	m.Crash()
	n, rep, err := m.Reopen()
	require.NoError(t, err)
	assert.True(t, rep.Truncated())
	assert.Equal(t, uint64(83), n.LastIndex())
}
