package commitlog

import (
	"encoding/hex"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

func unhex(t testing.TB, s string) []byte {
	b, err := hex.DecodeString(s)
	require.NoError(t, err)
	return b
}

// The expected bytes were computed independently of this package (a
// bit-by-bit CRC32C in a scratch script) from the layout in doc.go.
func TestEncodeGoldenBytes(t *testing.T) {
	want1 := unhex(t, ""+
		"00000001"+ // magic normal
		"00000032"+ // size 50
		"0000000000000001"+ // index 1
		"0000000000000002"+ // term 2
		"0000000000000000"+ // pos 0
		"00000000"+ // channel
		"3364ade7"+ // chain CRC over 0
		"f59dd9c2"+ // CRC32C("hi")
		"00000002"+ // body length
		"6869") // "hi"
	want2 := unhex(t, ""+
		"00000002"+ // magic no-op
		"00000030"+ // size 48
		"0000000000000002"+ // index 2
		"0000000000000003"+ // term 3
		"0000000000000032"+ // pos 50
		"00000000"+ // channel
		"bb334a7b"+ // chain CRC over 0x3364ade7
		"00000000"+ // CRC32C of nothing
		"00000000") // body length 0

	b, h1, err := AppendEntry(nil, core.Entry{Index: 1, Term: 2, Type: core.EntryNormal, Data: []byte("hi")}, 0, 0)
	require.NoError(t, err)
	assert.Equal(t, want1, b)
	assert.Equal(t, uint32(0x3364ade7), h1.ChainCRC)

	b, h2, err := AppendEntry(b, core.Entry{Index: 2, Term: 3, Type: core.EntryNoOp}, h1.End(), h1.ChainCRC)
	require.NoError(t, err)
	assert.Equal(t, want2, b[len(want1):])
	assert.Equal(t, uint32(0xbb334a7b), h2.NextChain(h1.ChainCRC))
}

func TestRoundTrip(t *testing.T) {
	cases := []struct {
		name string
		e    core.Entry
		pos  int64
	}{
		{"empty no-op", core.Entry{Index: 1, Term: 1, Type: core.EntryNoOp}, 0},
		{"small normal", core.Entry{Index: 7, Term: 3, Type: core.EntryNormal, Data: []byte("message")}, 4096},
		{"large index and term", core.Entry{Index: 1 << 62, Term: 1<<63 + 5, Type: core.EntryNormal, Data: make([]byte, 1000)}, 1 << 40},
		{"max body", core.Entry{Index: 2, Term: 2, Type: core.EntryNormal, Data: make([]byte, DefaultMaxBodySize)}, 0},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			b, h, err := AppendEntry([]byte("prefix"), tc.e, tc.pos, 0xdeadbeef)
			require.NoError(t, err)
			b = b[len("prefix"):]
			assert.Equal(t, EncodedSize(len(tc.e.Data)), len(b))
			assert.Equal(t, int(h.Size), len(b))

			gotH, err := DecodeHeader(b)
			require.NoError(t, err)
			assert.Equal(t, h, gotH)

			e, gotH, err := DecodeEntry(b, tc.pos)
			require.NoError(t, err)
			assert.Equal(t, h, gotH)
			assert.Equal(t, tc.e.Index, e.Index)
			assert.Equal(t, tc.e.Term, e.Term)
			assert.Equal(t, tc.e.Type, e.Type)
			assert.Equal(t, len(tc.e.Data), len(e.Data))
			assert.Equal(t, h.ChainCRC, h.NextChain(0xdeadbeef))
		})
	}
}

func TestEncodeErrors(t *testing.T) {
	cases := []struct {
		name  string
		codec Codec
		e     core.Entry
		pos   int64
		want  error
	}{
		{"unknown type", Codec{}, core.Entry{Index: 1, Type: core.EntryType(9)}, 0, ErrInvalid},
		{"negative position", Codec{}, core.Entry{Index: 1}, -1, ErrInvalid},
		{"body over default", Codec{}, core.Entry{Index: 1, Data: make([]byte, DefaultMaxBodySize+1)}, 0, ErrTooLarge},
		{"body over configured", Codec{MaxBodySize: 10}, core.Entry{Index: 1, Data: make([]byte, 11)}, 0, ErrTooLarge},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			dst := []byte("keep")
			out, _, err := tc.codec.AppendEntry(dst, tc.e, tc.pos, 0)
			assert.ErrorIs(t, err, tc.want)
			assert.Equal(t, []byte("keep"), out)
		})
	}
	var tl *TooLargeError
	_, _, err := Codec{MaxBodySize: 10}.AppendEntry(nil, core.Entry{Index: 4, Data: make([]byte, 11)}, 0, 0)
	require.ErrorAs(t, err, &tl)
	assert.Equal(t, TooLargeError{Index: 4, What: "body", Size: 11, Max: 10}, *tl)
}

func TestDecodeErrors(t *testing.T) {
	good, _, err := AppendEntry(nil, core.Entry{Index: 1, Term: 1, Data: []byte("hello")}, 100, 0)
	require.NoError(t, err)
	mut := func(f func(b []byte)) []byte {
		b := append([]byte(nil), good...)
		f(b)
		return b
	}
	cases := []struct {
		name   string
		b      []byte
		pos    int64
		reason Reason
		offset int64
		sent   error
	}{
		{"empty", nil, 100, ReasonTornHeader, 100, ErrShortBuffer},
		{"torn header", good[:47], 100, ReasonTornHeader, 147, ErrShortBuffer},
		{"torn body", good[:50], 100, ReasonTornBody, 150, ErrShortBuffer},
		{"unknown magic", mut(func(b []byte) { b[3] = 9 }), 100, ReasonBadMagic, 100, ErrCorrupt},
		{"blank marker", mut(func(b []byte) { copy(b, []byte{0xff, 0xff, 0xff, 0xff}) }), 100, ReasonBadMagic, 100, ErrCorrupt},
		{"size disagrees", mut(func(b []byte) { b[7]++ }), 100, ReasonBadSize, 104, ErrCorrupt},
		{"negative body length", mut(func(b []byte) { b[44] = 0x80 }), 100, ReasonBadSize, 144, ErrCorrupt},
		{"lying body length", mut(func(b []byte) { b[44] = 0x7f }), 100, ReasonTooLarge, 144, ErrCorrupt},
		{"wrong position", good, 101, ReasonBadPosition, 125, ErrCorrupt},
		{"body CRC", mut(func(b []byte) { b[len(b)-1] ^= 1 }), 100, ReasonBodyCRC, 140, ErrCorrupt},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			_, _, err := DecodeEntry(tc.b, tc.pos)
			var de *DecodeError
			require.ErrorAs(t, err, &de)
			assert.Equal(t, tc.reason, de.Reason)
			assert.Equal(t, tc.offset, de.Offset)
			assert.ErrorIs(t, err, tc.sent)
			assert.Contains(t, err.Error(), string(tc.reason))
		})
	}
}

func TestDecodeConfigEntry(t *testing.T) {
	b, h, err := AppendEntry(nil, core.Entry{Index: 1, Term: 1, Data: []byte("x")}, 0, 0)
	require.NoError(t, err)
	b[3] = byte(MagicConfig)
	hdr, err := DecodeHeader(b)
	require.NoError(t, err, "config magic is valid in the format")
	assert.Equal(t, MagicConfig, hdr.Magic)
	_, _, err = DecodeEntry(b, 0)
	assert.True(t, errors.Is(err, ErrCorrupt), "core has no config entry type: %v", err)
	_ = h
}

func TestMagicMapping(t *testing.T) {
	for _, tc := range []struct {
		t core.EntryType
		m Magic
	}{{core.EntryNormal, MagicNormal}, {core.EntryNoOp, MagicNoOp}} {
		m, ok := MagicOf(tc.t)
		assert.True(t, ok)
		assert.Equal(t, tc.m, m)
		back, ok := m.EntryType()
		assert.True(t, ok)
		assert.Equal(t, tc.t, back)
	}
	_, ok := MagicConfig.EntryType()
	assert.False(t, ok)
	assert.Equal(t, "blank", MagicBlank.String())
}
