package commitlog

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func TestSegmentName(t *testing.T) {
	cases := []struct {
		start int64
		name  string
	}{
		{0, "00000000000000000000"},
		{4096, "00000000000000004096"},
		{64 << 20, "00000000000067108864"},
		{1<<63 - 1, "09223372036854775807"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.name, SegmentName(tc.start))
			got, err := ParseSegmentName(tc.name)
			require.NoError(t, err)
			assert.Equal(t, tc.start, got)
		})
	}
}

func TestParseSegmentNameErrors(t *testing.T) {
	for _, name := range []string{"", "0", "0000000000000000409", "000000000000000040960", "0000000000000000409x", "99999999999999999999", "-0000000000000000001"} {
		t.Run(name, func(t *testing.T) {
			_, err := ParseSegmentName(name)
			assert.ErrorIs(t, err, ErrInvalid)
		})
	}
}

func TestOptions(t *testing.T) {
	o := Options{}.WithDefaults()
	assert.Equal(t, int64(DefaultSegmentSize), o.SegmentSize)
	assert.Equal(t, DefaultMaxBodySize, o.MaxBodySize)
	assert.NoError(t, Options{SegmentSize: 4096}.Validate())
	assert.ErrorIs(t, Options{SegmentSize: 10}.Validate(), ErrInvalid)
	assert.ErrorIs(t, Options{SegmentSize: 2 << 30}.Validate(), ErrInvalid)
	assert.ErrorIs(t, Options{MaxBodySize: -1}.Validate(), ErrInvalid)

	small := Options{SegmentSize: 100}
	assert.True(t, small.Fits(0, 92))
	assert.False(t, small.Fits(0, 93), "8 bytes must stay free for the marker")
	assert.Equal(t, int64(92), small.MaxEntrySize())
	assert.Equal(t, int64(200), small.SegmentStart(250))
}

func TestAppendBlank(t *testing.T) {
	b := AppendBlank([]byte{1, 2}, 12)
	assert.Equal(t, []byte{1, 2, 0xff, 0xff, 0xff, 0xff, 0, 0, 0, 12, 0, 0, 0, 0}, b)
	assert.Panics(t, func() { AppendBlank(nil, 7) })
}

func TestIndexRecordLayout(t *testing.T) {
	r := IndexRecord{Magic: MagicNormal, Pos: 0x0102, Size: 0x30, Index: 5, Term: 6}
	b := AppendIndexRecord(nil, r)
	want := unhex(t, "00000001"+"0000000000000102"+"00000030"+"0000000000000005"+"0000000000000006")
	assert.Equal(t, want, b)
	got, err := DecodeIndexRecord(b)
	require.NoError(t, err)
	assert.Equal(t, r, got)
	_, err = DecodeIndexRecord(b[:31])
	assert.ErrorIs(t, err, ErrShortBuffer)
	assert.Equal(t, int64(160), IndexOffset(5))
	assert.Equal(t, unhex(t, "444c4958"+"0000000000000000"+"00000020"+"0000000000000000"+"0000000000000000"), AppendIndexRecord(nil, IndexHeader()))
}
