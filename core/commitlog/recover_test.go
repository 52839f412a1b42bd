package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

// files is a CommitLog as a restart finds it: segment bytes and index bytes.
type files struct {
	opts  Options
	segs  [][]byte
	index []byte
}

// testEntries returns n entries with bodies of varying size, terms rising
// every 4 entries, every fifth a no-op.
func testEntries(n int, maxBody int) []core.Entry {
	out := make([]core.Entry, n)
	for i := range out {
		idx := uint64(i + 1)
		e := core.Entry{Index: idx, Term: 1 + idx/4, Type: core.EntryNormal}
		if idx%5 == 0 {
			e.Type = core.EntryNoOp
		} else {
			e.Data = bytes.Repeat([]byte{byte('a' + i%26)}, 1+(i*37)%maxBody)
		}
		out[i] = e
	}
	return out
}

// newLog writes entries into a synced MemStore.
func newLog(t testing.TB, opts Options, entries []core.Entry) *MemStore {
	m := NewMemStore(opts)
	require.NoError(t, m.Append(entries))
	m.Sync()
	return m
}

// filesOf copies the durable image of m.
func filesOf(m *MemStore) files {
	f := files{opts: m.opts, index: bytes.Clone(m.durable.index)}
	for _, s := range m.durable.segs() {
		f.segs = append(f.segs, bytes.Clone(s.buf))
	}
	return f
}

func (f files) last() []byte { return f.segs[len(f.segs)-1] }

func (f *files) setLast(b []byte) { f.segs[len(f.segs)-1] = b }

func (f files) recover() (Recovered, *Report, error) {
	segs := make([]Segment, len(f.segs))
	for i, b := range f.segs {
		segs[i] = Segment{Start: int64(i) * f.opts.WithDefaults().SegmentSize, Data: bytes.NewReader(b), Size: int64(len(b))}
	}
	return Recover(segs, bytes.NewReader(f.index), int64(len(f.index)), f.opts)
}

// repaired applies what Recover asked for to the index.
func (f files) repairedIndex(r Recovered) []byte {
	return append(bytes.Clone(f.index[:r.IndexKeep]), r.IndexAppend...)
}

func TestRecover(t *testing.T) {
	opts := Options{SegmentSize: 1024, MaxBodySize: 200}
	entries := testEntries(41, 120)
	base := newLog(t, opts, entries)
	require.Greater(t, len(base.Segments()), 3, "the log must roll over several segments")
	n := uint64(len(entries))
	lastPos, lastSize, _ := base.Position(n)
	lastOff := lastPos % opts.SegmentSize
	// Entry n-2 lies in the last segment too, with two entries after it.
	midPos, _, _ := base.Position(n - 2)
	require.Equal(t, lastPos-lastPos%1024, midPos-midPos%1024)
	midOff := midPos % opts.SegmentSize
	canonical := filesOf(base).index

	cases := []struct {
		name      string
		damage    func(f *files)
		opts      *Options
		wantLast  uint64
		wantItems []Reason // in order; data items first, index last
		wantErr   Reason   // a *CorruptError with this reason
		errOffset int64
		errSeg    int // index of the segment named in the error
	}{
		{name: "clean", damage: func(f *files) {}, wantLast: n},
		{name: "torn header", damage: func(f *files) { f.setLast(f.last()[:lastOff+20]) },
			wantLast: n - 1, wantItems: []Reason{ReasonTornHeader, ReasonIndexAhead}},
		{name: "torn body", damage: func(f *files) { f.setLast(f.last()[:lastOff+int64(lastSize)-1]) },
			wantLast: n - 1, wantItems: []Reason{ReasonTornBody, ReasonIndexAhead}},
		{name: "bad body CRC at the tail", damage: func(f *files) { f.last()[lastOff+int64(lastSize)-1] ^= 0x10 },
			wantLast: n - 1, wantItems: []Reason{ReasonBodyCRC, ReasonIndexAhead}},
		{name: "bad term at the tail breaks the chain", damage: func(f *files) { f.last()[lastOff+offTerm+7]++ },
			wantLast: n - 1, wantItems: []Reason{ReasonChainCRC, ReasonIndexAhead}},
		{name: "zero-filled tail entry", damage: func(f *files) { clear(f.last()[lastOff:]) },
			wantLast: n - 1, wantItems: []Reason{ReasonZeroTail, ReasonIndexAhead}},
		{name: "zeros after the last entry", damage: func(f *files) { f.setLast(append(f.last(), make([]byte, 100)...)) },
			wantLast: n, wantItems: []Reason{ReasonZeroTail}},
		{name: "zeros after the last entry of a preallocated file", damage: func(f *files) {
			f.setLast(append(f.last(), make([]byte, 1024-len(f.last()))...))
		}, opts: &Options{SegmentSize: 1024, MaxBodySize: 200, Preallocated: true}, wantLast: n},
		{name: "garbage after the last entry", damage: func(f *files) { f.setLast(append(f.last(), 1, 2, 3)) },
			wantLast: n, wantItems: []Reason{ReasonTornHeader}},
		{name: "bad CRC mid-log", damage: func(f *files) { f.last()[midOff+HeaderSize] ^= 1 },
			wantErr: ReasonBodyCRC, errOffset: midOff, errSeg: -1},
		{name: "bad magic mid-log", damage: func(f *files) { f.last()[midOff] = 0x42 },
			wantErr: ReasonBadMagic, errOffset: midOff, errSeg: -1},
		{name: "bad bytes in an earlier segment", damage: func(f *files) { f.segs[1][HeaderSize+1] ^= 1 },
			wantErr: ReasonBodyCRC, errOffset: 0, errSeg: 1},
		{name: "earlier segment cut short", damage: func(f *files) { f.segs[0] = f.segs[0][:500] },
			wantErr: ReasonTornHeader, errSeg: 0, errOffset: 466},
		{name: "index records behind the data", damage: func(f *files) { f.index = f.index[:IndexOffset(n-2)] },
			wantLast: n, wantItems: []Reason{ReasonIndexBehind}},
		{name: "index empty", damage: func(f *files) { f.index = nil },
			wantLast: n, wantItems: []Reason{ReasonIndexBehind}},
		{name: "index header damaged", damage: func(f *files) { f.index[0] = 0 },
			wantLast: n, wantItems: []Reason{ReasonIndexHeader}},
		{name: "index record disagrees", damage: func(f *files) { f.index[IndexOffset(7)+5] ^= 1 },
			wantLast: n, wantItems: []Reason{ReasonIndexMismatch}},
		{name: "index records ahead of the data", damage: func(f *files) {
			f.index = append(f.index, AppendIndexRecord(nil, IndexRecord{Magic: MagicNormal, Pos: 1 << 20, Size: 60, Index: n + 1, Term: 99})...)
		}, wantLast: n, wantItems: []Reason{ReasonIndexAhead}},
		{name: "index torn record", damage: func(f *files) { f.index = append(f.index, 1, 2, 3) },
			wantLast: n, wantItems: []Reason{ReasonIndexTorn}},
		{name: "segment start gap", damage: func(f *files) { f.segs = append(f.segs[:1], f.segs[2:]...) },
			wantErr: ReasonBadPosition, errSeg: 1, errOffset: 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filesOf(base)
			if tc.opts != nil {
				f.opts = *tc.opts
			}
			tc.damage(&f)
			got, rep, err := f.recover()
			if tc.wantErr != "" {
				var ce *CorruptError
				require.ErrorAs(t, err, &ce, "report: %v", rep)
				assert.ErrorIs(t, err, ErrCorrupt)
				assert.Equal(t, tc.wantErr, ce.Reason, ce.Error())
				seg := tc.errSeg
				if seg < 0 {
					seg = len(f.segs) - 1
				}
				assert.Equal(t, SegmentName(int64(seg)*1024), ce.Segment)
				if tc.errOffset >= 0 {
					assert.Equal(t, tc.errOffset, ce.Offset)
				}
				return
			}
			require.NoError(t, err)
			var reasons []Reason
			for _, it := range rep.Items {
				reasons = append(reasons, it.Reason)
			}
			assert.Equal(t, tc.wantItems, reasons, rep.String())
			assert.Equal(t, tc.wantLast, got.LastIndex)
			assert.Equal(t, entries[tc.wantLast-1].Term, got.LastTerm)
			endPos, endSize, _ := base.Position(tc.wantLast)
			assert.Equal(t, endPos+int64(endSize), got.End)
			assert.Equal(t, canonical[:IndexOffset(tc.wantLast+1)], f.repairedIndex(got), "repaired index is canonical")
		})
	}
}

func TestRecoverReportNamesPlace(t *testing.T) {
	opts := Options{SegmentSize: 1024}
	m := newLog(t, opts, testEntries(31, 100))
	f := filesOf(m)
	pos, size, _ := m.Position(31)
	f.setLast(f.last()[:pos%1024+int64(size)-3])
	_, rep, err := f.recover()
	require.NoError(t, err)
	require.NotEmpty(t, rep.Items)
	it := rep.Items[0]
	assert.Equal(t, SegmentName(pos-pos%1024), it.Segment)
	assert.Equal(t, pos%1024, it.Offset)
	assert.Equal(t, int64(size)-3, it.Bytes)
	assert.True(t, rep.Truncated())
	assert.Contains(t, rep.String(), "torn body")
}

// In a preallocated segment the bytes cut are the torn ones, not the zeros
// the store wrote after them.
func TestRecoverPreallocatedReportsTornBytesOnly(t *testing.T) {
	opts := Options{SegmentSize: 1024, Preallocated: true}
	m := newLog(t, opts, testEntries(3, 100))
	f := filesOf(m)
	f.opts = opts
	pos, size, _ := m.Position(3)
	end := pos%1024 + int64(size)
	torn := []byte{0, 0, 0, 1, 0, 0, 1, 0, 7}
	f.setLast(append(append(f.last()[:end:end], torn...), make([]byte, 1024-end-int64(len(torn)))...))
	got, rep, err := f.recover()
	require.NoError(t, err)
	require.Len(t, rep.Items, 1, rep.String())
	assert.Equal(t, end, rep.Items[0].Offset)
	assert.Equal(t, int64(len(torn)), rep.Items[0].Bytes, rep.String())
	assert.Equal(t, uint64(3), got.LastIndex)
}

func TestRecoverEmpty(t *testing.T) {
	got, rep, err := Recover(nil, nil, 0, Options{})
	require.NoError(t, err)
	assert.True(t, rep.Empty())
	assert.Equal(t, Recovered{IndexAppend: AppendIndexRecord(nil, IndexHeader())}, got)
}

func TestRecoverSegmentRollOver(t *testing.T) {
	opts := Options{SegmentSize: 256}
	// 100-byte entries: two fit a 256-byte segment (2×100+8 <= 256), the
	// third rolls over.
	var entries []core.Entry
	for i := 1; i <= 6; i++ {
		entries = append(entries, core.Entry{Index: uint64(i), Term: 1, Data: make([]byte, 52)})
	}
	m := newLog(t, opts, entries)
	require.Len(t, m.Segments(), 3)
	for i, s := range m.Segments() {
		assert.Equal(t, int64(i)*256, s.Start)
		assert.Equal(t, SegmentName(int64(i)*256), s.Name)
	}
	assert.Equal(t, int64(256), m.Segments()[0].Used, "a rolled segment is sealed to its capacity")
	pos, _, _ := m.Position(3)
	assert.Equal(t, int64(256), pos, "entry 3 starts the second segment")

	f := filesOf(m)
	assert.Equal(t, uint32(MagicBlank), binary.BigEndian.Uint32(f.segs[0][200:]))
	assert.Equal(t, uint32(56), binary.BigEndian.Uint32(f.segs[0][204:]))
	got, rep, err := f.recover()
	require.NoError(t, err)
	assert.True(t, rep.Empty(), rep.String())
	assert.Equal(t, uint64(6), got.LastIndex)
	assert.Equal(t, int64(512+200), got.End)

	t.Run("sealed last segment", func(t *testing.T) {
		f := filesOf(m)
		f.segs = f.segs[:2]
		f.index = f.index[:IndexOffset(5)]
		got, rep, err := f.recover()
		require.NoError(t, err)
		assert.True(t, rep.Empty(), rep.String())
		assert.Equal(t, uint64(4), got.LastIndex)
		assert.Equal(t, int64(512), got.End, "the next entry goes to a new segment")
	})
	t.Run("bad marker length at the tail", func(t *testing.T) {
		f := filesOf(m)
		f.segs = f.segs[:2]
		f.index = f.index[:IndexOffset(5)]
		f.segs[1][207] = 1
		got, rep, err := f.recover()
		require.NoError(t, err)
		require.Len(t, rep.Items, 1)
		assert.Equal(t, ReasonBadBlank, rep.Items[0].Reason)
		assert.Equal(t, int64(456), got.End)
	})
	t.Run("marker missing in an earlier segment", func(t *testing.T) {
		f := filesOf(m)
		f.segs[0] = f.segs[0][:200]
		_, _, err := f.recover()
		var ce *CorruptError
		require.ErrorAs(t, err, &ce)
		assert.Equal(t, ReasonNoBlank, ce.Reason)
	})
	t.Run("segment larger than the capacity", func(t *testing.T) {
		f := filesOf(m)
		f.opts.SegmentSize = 128
		_, _, err := f.recover()
		assert.ErrorIs(t, err, ErrCorrupt)
	})
}

// appendRaw encodes e after the last entry of f's last segment, bypassing
// MemStore's checks, to build logs a correct writer never produces.
func appendRaw(t *testing.T, f *files, r Recovered, e core.Entry, chain uint32) {
	b, _, err := AppendEntry(f.last(), e, r.End, chain)
	require.NoError(t, err)
	f.setLast(b)
}

func TestRecoverSequenceChecks(t *testing.T) {
	opts := Options{SegmentSize: 4096}
	m := newLog(t, opts, testEntries(5, 50))
	f0 := filesOf(m)
	r0, _, err := f0.recover()
	require.NoError(t, err)

	cases := []struct {
		name  string
		e     core.Entry
		chain uint32
		want  Reason
	}{
		{"index gap", core.Entry{Index: 7, Term: 9}, r0.LastChain, ReasonIndexGap},
		{"repeated index", core.Entry{Index: 5, Term: 9}, r0.LastChain, ReasonIndexGap},
		{"term decreases", core.Entry{Index: 6, Term: 1}, r0.LastChain, ReasonTermDecrease},
		{"chain from elsewhere", core.Entry{Index: 6, Term: 9}, 12345, ReasonChainCRC},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			f := filesOf(m)
			appendRaw(t, &f, r0, tc.e, tc.chain)
			got, rep, err := f.recover()
			require.NoError(t, err, "a bad last entry is a tail")
			require.Len(t, rep.Items, 1)
			assert.Equal(t, tc.want, rep.Items[0].Reason)
			assert.Equal(t, uint64(5), got.LastIndex)

			// The same entry followed by a valid one is corruption.
			f = filesOf(m)
			appendRaw(t, &f, r0, tc.e, tc.chain)
			next := r0
			next.End = r0.End + int64(EncodedSize(0))
			appendRaw(t, &f, next, core.Entry{Index: 7, Term: 9}, 0)
			_, _, err = f.recover()
			var ce *CorruptError
			require.ErrorAs(t, err, &ce)
			assert.Equal(t, tc.want, ce.Reason)
			assert.Contains(t, ce.Error(), "valid entry follows")
		})
	}
}

func TestRecoverConfigEntry(t *testing.T) {
	m := newLog(t, Options{SegmentSize: 4096}, testEntries(3, 50))
	f := filesOf(m)
	r, _, err := f.recover()
	require.NoError(t, err)
	b, h, err := AppendEntry(nil, core.Entry{Index: 4, Term: 9, Data: []byte("cfg")}, r.End, r.LastChain)
	require.NoError(t, err)
	b[3] = byte(MagicConfig) // re-seal the chain for the new magic
	h.Magic = MagicConfig
	binary.BigEndian.PutUint32(b[offChain:], h.NextChain(r.LastChain))
	f.setLast(append(f.last(), b...))
	got, rep, err := f.recover()
	require.NoError(t, err)
	assert.Equal(t, uint64(4), got.LastIndex, "config entries are valid in the format")
	assert.Equal(t, []ReportItem{{Segment: IndexFile, Offset: IndexOffset(4), Reason: ReasonIndexBehind,
		Detail: "index ends at entry 3, data goes on; 1 records rebuilt"}}, rep.Items)
}

type failingReader struct{}

func (failingReader) ReadAt([]byte, int64) (int, error) { return 0, errors.New("disk on fire") }

func TestRecoverReadErrors(t *testing.T) {
	_, _, err := Recover([]Segment{{Start: 0, Data: failingReader{}, Size: 10}}, nil, 0, Options{})
	assert.ErrorContains(t, err, "disk on fire")
	assert.NotErrorIs(t, err, ErrCorrupt)
	_, _, err = Recover(nil, failingReader{}, 64, Options{})
	assert.ErrorContains(t, err, "disk on fire")
	_, _, err = Recover([]Segment{{Start: 0, Data: bytes.NewReader(nil), Size: 10}}, nil, 0, Options{})
	assert.Error(t, err, "a reader shorter than its size")
	_, _, err = Recover(nil, nil, 0, Options{SegmentSize: 3})
	assert.ErrorIs(t, err, ErrInvalid)
}

func ExampleRecover() {
	m := NewMemStore(Options{SegmentSize: 4096})
	_ = m.Append([]core.Entry{{Index: 1, Term: 1, Data: []byte("hello")}, {Index: 2, Term: 1, Data: []byte("world")}})
	m.Sync()
	_ = m.FlipByte(m.DurableEnd() - 1) // the last byte of entry 2 goes bad
	m.Crash()
	n, rep, err := m.Reopen()
	fmt.Println(n.LastIndex(), err)
	fmt.Println(rep)
	// Output:
	// 1 <nil>
	// 00000000000000000000@53: body CRC mismatch, 53 bytes (header says 0x31aa814e, body has 0x9cd7d21f); index@64: index records past the data, 32 bytes (records for entries 2..2, data ends at entry 1)
}

// headerOf returns the header of entry index as the files hold it.
func (f files) headerOf(t *testing.T, index uint64) Header {
	t.Helper()
	r, err := DecodeIndexRecord(f.index[IndexOffset(index):])
	require.NoError(t, err)
	seg := f.segs[r.Pos/f.opts.SegmentSize]
	h, err := DecodeHeader(seg[r.Pos%f.opts.SegmentSize:])
	require.NoError(t, err)
	return h
}

func (f files) recoverAfter(h Header) (Recovered, *Report, error) {
	segs := make([]Segment, len(f.segs))
	for i, b := range f.segs {
		segs[i] = Segment{Start: int64(i) * f.opts.SegmentSize, Data: bytes.NewReader(b), Size: int64(len(b))}
	}
	return RecoverAfter(segs, bytes.NewReader(f.index), int64(len(f.index)), f.opts, h)
}

// RecoverAfter trusts the log up to an entry it was given and scans only
// what follows: on clean files and on a torn tail it finds what Recover
// finds; damage before the trusted entry goes unseen (the entries there
// are checked when read); a trusted header that does not match the files
// makes it scan everything, as Recover does.
func TestRecoverAfterATrustedEntry(t *testing.T) {
	opts := Options{SegmentSize: 4096, MaxBodySize: 200}
	f := filesOf(newLog(t, opts, testEntries(120, 150)))
	require.Greater(t, len(f.segs), 3)
	for _, k := range []uint64{1, 40, 77, 119, 120} {
		h := f.headerOf(t, k)
		want, wrep, err := f.recover()
		require.NoError(t, err)
		got, grep, err := f.recoverAfter(h)
		require.NoError(t, err)
		assert.Equal(t, want, got, "trusting entry %d", k)
		assert.Equal(t, wrep, grep)
	}

	torn := f
	torn.segs = append([][]byte(nil), f.segs...)
	torn.setLast(append(bytes.Clone(f.last()), 0xDE, 0xAD, 0xBE, 0xEF, 1, 2, 3))
	h := torn.headerOf(t, 50)
	want, wrep, err := torn.recover()
	require.NoError(t, err)
	got, grep, err := torn.recoverAfter(h)
	require.NoError(t, err)
	assert.Equal(t, want, got)
	assert.Equal(t, wrep, grep, "the torn tail is cut and reported alike")
	assert.False(t, grep.Empty())

	damaged := f
	damaged.segs = append([][]byte(nil), f.segs...)
	damaged.segs[0] = bytes.Clone(f.segs[0])
	damaged.segs[0][100] ^= 0xFF
	_, _, err = damaged.recover()
	require.ErrorIs(t, err, ErrCorrupt, "a full scan refuses")
	got, _, err = damaged.recoverAfter(damaged.headerOf(t, 100))
	require.NoError(t, err, "entries before the trusted one are not scanned")
	assert.Equal(t, uint64(120), got.LastIndex)

	wrong := f.headerOf(t, 60)
	wrong.Term++
	_, _, err = damaged.recoverAfter(wrong)
	assert.ErrorIs(t, err, ErrCorrupt, "a header the files do not hold: the whole log is scanned")
}
