package commitlog

import (
	"bytes"
	"encoding/binary"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

// FuzzDecode feeds arbitrary bytes to the decoders. They must return a value
// or a *DecodeError, never panic; what decodes must encode back to the same
// bytes.
func FuzzDecode(f *testing.F) {
	good, h, _ := AppendEntry(nil, core.Entry{Index: 3, Term: 2, Data: []byte("hello")}, 77, 9)
	noop, _, _ := AppendEntry(nil, core.Entry{Index: 4, Term: 2, Type: core.EntryNoOp}, 77+int64(h.Size), h.ChainCRC)
	lying := bytes.Clone(good)
	binary.BigEndian.PutUint32(lying[offBodyLen:], 0x7fffffff)
	binary.BigEndian.PutUint32(lying[offSize:], 0x7fffffff)
	f.Add(good, int64(77))
	f.Add(noop, 77+int64(h.Size))
	f.Add(good[:30], int64(77))
	f.Add(good[:50], int64(77))
	f.Add(lying, int64(77))
	f.Add(AppendBlank(nil, 16), int64(0))
	f.Add([]byte{}, int64(-1))
	f.Add(AppendIndexRecord(nil, IndexHeader()), int64(0))
	f.Fuzz(func(t *testing.T, b []byte, pos int64) {
		codec := Codec{MaxBodySize: 1 << 16}
		hdr, herr := codec.DecodeHeader(b)
		e, h, err := codec.DecodeEntry(b, pos)
		if _, ierr := DecodeIndexRecord(b); ierr != nil && len(b) >= IndexRecordSize {
			t.Fatalf("index record of %d bytes: %v", len(b), ierr)
		}
		for _, err := range []error{herr, err} {
			if err == nil {
				continue
			}
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			require.True(t, errors.Is(err, ErrCorrupt) || errors.Is(err, ErrShortBuffer), err)
			require.NotEmpty(t, de.Error())
		}
		if herr != nil {
			require.Error(t, err, "an entry whose header fails cannot decode")
			return
		}
		require.LessOrEqual(t, int(hdr.BodyLen), 1<<16)
		if err != nil {
			return
		}
		require.Equal(t, hdr, h)
		require.Equal(t, pos, h.Pos)
		// Re-encode: the same bytes, given the header's own chain input.
		// The chain CRC depends on the unknown previous entry, so compare
		// it separately: NextChain must be consistent with chainOf.
		if h.Channel != 0 {
			return // AppendEntry always writes channel 0
		}
		out, h2, err := codec.AppendEntry(nil, e, pos, 0)
		require.NoError(t, err)
		require.Equal(t, int(h.Size), len(out))
		want := bytes.Clone(b[:h.Size])
		binary.BigEndian.PutUint32(want[offChain:], h2.ChainCRC)
		require.Equal(t, want, out)
		require.Equal(t, h2.ChainCRC, h.NextChain(0))
	})
}

// FuzzRecover builds a valid log, damages its durable image as the input
// says, and recovers it. Recovery must not panic and must either refuse with
// *CorruptError or return a prefix of the original log that recovers clean
// the second time. With raw set, the input bytes themselves are the segment
// and index files.
func FuzzRecover(f *testing.F) {
	f.Add(uint8(20), uint16(256), []byte{}, false)
	f.Add(uint8(20), uint16(256), []byte{0, 0, 0, 5}, false)        // cut the last segment
	f.Add(uint8(40), uint16(300), []byte{1, 1, 0, 9, 0x40}, false)  // flip a byte near the end
	f.Add(uint8(40), uint16(300), []byte{1, 0, 0, 90, 0x01}, false) // flip a byte mid-log
	f.Add(uint8(30), uint16(128), []byte{2, 0, 0, 40}, false)       // zero the tail
	f.Add(uint8(30), uint16(128), []byte{3, 0, 0, 64}, false)       // cut the index
	f.Add(uint8(30), uint16(128), []byte{4, 0, 0, 3, 7}, false)     // grow the index
	f.Add(uint8(10), uint16(512), []byte{5, 0, 0, 1}, false)        // drop the last segment
	f.Add(uint8(0), uint16(64), []byte("\x00\x00\x00\x01\x00\x00\x00\x30"), true)
	raw, _, _ := AppendEntry(nil, core.Entry{Index: 1, Term: 1, Data: []byte("x")}, 0, 0)
	f.Add(uint8(1), uint16(64), raw, true)
	f.Fuzz(func(t *testing.T, n uint8, segSize uint16, ops []byte, raw bool) {
		opts := Options{SegmentSize: MinSegmentSize + int64(segSize)%2048, MaxBodySize: 100}
		if raw {
			fuzzRaw(t, opts, n, ops)
			return
		}
		// Bodies are at most 60 bytes (108-byte entries): segments of 128
		// bytes and more hold any of them.
		opts.SegmentSize = 128 + int64(segSize)%2048
		entries := testEntries(int(n), 60)
		m := NewMemStore(opts)
		require.NoError(t, m.Append(entries))
		m.Sync()
		fl := filesOf(m)
		for len(ops) >= 4 && len(fl.segs) > 0 {
			op, arg := ops[0]%6, int64(binary.BigEndian.Uint16(ops[2:]))
			var seg int
			if ops[1]%2 == 1 || op == 2 {
				seg = len(fl.segs) - 1
			} else {
				seg = int(ops[1]/2) % len(fl.segs)
			}
			b := fl.segs[seg]
			switch op {
			case 0: // cut arg bytes off the last segment
				fl.setLast(fl.last()[:max(0, int64(len(fl.last()))-arg)])
			case 1: // xor a byte arg from the end of a segment
				if len(b) > 0 && len(ops) >= 5 && ops[4] != 0 {
					b[max(0, int64(len(b))-1-arg%int64(len(b)))] ^= ops[4]
				}
			case 2: // zero the last arg bytes of the last segment
				clear(b[max(0, int64(len(b))-arg):])
			case 3: // cut the index
				fl.index = fl.index[:max(0, int64(len(fl.index))-arg)]
			case 4: // append junk to the index
				fl.index = append(fl.index, make([]byte, arg%100)...)
			case 5: // drop the last segment
				fl.segs = fl.segs[:len(fl.segs)-1]
			}
			ops = ops[min(len(ops), 5):]
		}
		got, rep, err := fl.recover()
		if err != nil {
			var ce *CorruptError
			require.ErrorAs(t, err, &ce)
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		require.LessOrEqual(t, got.LastIndex, uint64(len(entries)))
		if got.LastIndex > 0 {
			pos, size, _ := m.Position(got.LastIndex)
			sealed := opts.SegmentStart(pos) + opts.SegmentSize // the end after a marker
			require.Contains(t, []int64{pos + int64(size), sealed}, got.End, rep.String())
			require.Equal(t, entries[got.LastIndex-1].Term, got.LastTerm)
		}
		require.Equal(t, filesOf(m).index[:IndexOffset(got.LastIndex+1)], fl.repairedIndex(got), rep.String())
		// Apply the repair and recover again: clean, same state.
		fixed := files{opts: opts, index: fl.repairedIndex(got)}
		for i, b := range fl.segs {
			keep := min(int64(len(b)), got.End-int64(i)*opts.SegmentSize)
			if keep <= 0 {
				break
			}
			fixed.segs = append(fixed.segs, b[:keep])
		}
		again, rep2, err := fixed.recover()
		require.NoError(t, err)
		require.True(t, rep2.Empty(), rep2.String())
		require.Equal(t, got.End, again.End)
		require.Equal(t, got.LastIndex, again.LastIndex)
		require.Equal(t, got.LastChain, again.LastChain)
	})
}

// fuzzRaw recovers arbitrary bytes: the first n bytes (at most) are the
// index, the rest is cut into segments.
func fuzzRaw(t *testing.T, opts Options, n uint8, b []byte) {
	k := min(int(n), len(b))
	fl := files{opts: opts, index: b[:k]}
	for rest := b[k:]; len(rest) > 0; {
		c := min(int64(len(rest)), opts.SegmentSize)
		fl.segs = append(fl.segs, rest[:c])
		rest = rest[c:]
	}
	got, rep, err := fl.recover()
	if err != nil {
		require.ErrorIs(t, err, ErrCorrupt)
		return
	}
	assert.GreaterOrEqual(t, got.End, int64(0))
	assert.Equal(t, IndexOffset(got.LastIndex+1), int64(len(fl.repairedIndex(got))), rep.String())
}
