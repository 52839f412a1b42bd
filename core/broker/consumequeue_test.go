package broker

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A ConsumeQueue record is RocketMQ's 20 bytes: CommitLog position (int64),
// size (int32), tag hash code (int64), big-endian.
func TestQueueRecordGolden(t *testing.T) {
	tests := []struct {
		name string
		rec  QueueRecord
		want string
	}{
		{"tags TagA", QueueRecord{Pos: 0x1234, Size: 0x56, TagHash: TagsCode("TagA")},
			"0000000000001234 00000056 000000000027a807"},
		{"no tags", QueueRecord{Pos: 1 << 40, Size: 4 << 20},
			"0000010000000000 00400000 0000000000000000"},
		{"negative tag hash is sign-extended", QueueRecord{Pos: 0, Size: 1, TagHash: TagsCode("polygenelubricants")},
			"0000000000000000 00000001 ffffffff80000000"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got := tt.rec.Append(nil)
			require.Len(t, got, QueueRecordSize)
			assert.Equal(t, unhex(t, tt.want), got)

			back, err := ParseQueueRecord(got)
			require.NoError(t, err)
			assert.Equal(t, tt.rec, back)
		})
	}
}

func TestParseQueueRecordWrongSize(t *testing.T) {
	_, err := ParseQueueRecord(make([]byte, 19))
	assert.ErrorIs(t, err, ErrCorrupt)
}

// TagsCode must equal Java's String.hashCode, or a real RocketMQ consumer's
// tag filter would not match these records.
func TestTagsCodeIsJavaHashCode(t *testing.T) {
	tests := []struct {
		tags string
		want int64
	}{
		{"", 0},
		{"TagA", 2598919},
		{"hello", 99162322},
		{"polygenelubricants", -2147483648}, // hashCode == Integer.MIN_VALUE
		{"TagA || TagB", 1359775119},        // the whole string, not per tag
		{"😀", 1772899},                      // a surrogate pair: 0xD83D*31 + 0xDE00
	}
	assert.Equal(t, javaHash("TagA || TagB"), TagsCode("TagA || TagB"))
	for _, tt := range tests {
		t.Run(tt.tags, func(t *testing.T) {
			assert.Equal(t, tt.want, TagsCode(tt.tags))
		})
	}
}

// javaHash is String.hashCode written out for ASCII, as a second opinion.
func javaHash(s string) int64 {
	var h int32
	for i := 0; i < len(s); i++ {
		h = 31*h + int32(s[i])
	}
	return int64(h)
}

func TestConsumeQueueRecordsAndReads(t *testing.T) {
	q := &ConsumeQueue{topic: "T"}
	for i, tags := range []string{"a", "b", "c"} {
		m := Message{Topic: "T", Tags: tags, Body: []byte{byte(i)}}
		data, err := EncodeMessage(m)
		require.NoError(t, err)
		off := q.append(uint64(10+i), 2, int64(100*i), 60, m, data)
		assert.Equal(t, uint64(i), off, "queue offsets are dense")
	}
	require.Equal(t, uint64(3), q.Len())
	raw, err := q.Bytes()
	require.NoError(t, err)
	assert.Len(t, raw, 3*QueueRecordSize)

	rec, err := q.Record(1)
	require.NoError(t, err)
	assert.Equal(t, QueueRecord{Pos: 100, Size: 60, TagHash: TagsCode("b")}, rec)
	_, err = q.Record(3)
	assert.Error(t, err)

	got, err := q.read(1, 10, 0)
	require.NoError(t, err)
	require.Len(t, got, 2)
	assert.Equal(t, uint64(1), got[0].QueueOffset)
	assert.Equal(t, uint64(11), got[0].Index)
	got[0].Message.Body[0] = 99
	again, err := q.read(1, 1, 0)
	require.NoError(t, err)
	assert.Equal(t, byte(1), again[0].Message.Body[0], "reads hand out copies of bodies")

	end, err := q.read(3, 10, 0)
	require.NoError(t, err)
	assert.Empty(t, end, "reading at the end returns nothing")
	assert.Len(t, mustRead(t, q, 0, 2, 0), 2, "max limits the batch")
	// Each record says 60 CommitLog bytes.
	assert.Len(t, mustRead(t, q, 0, 10, 120), 2, "max bytes limits the batch")
	assert.Len(t, mustRead(t, q, 0, 10, 119), 1)
	assert.Len(t, mustRead(t, q, 0, 10, 1), 1, "the first message is read whatever its size")
}

func TestConsumeQueueCloneAcrossChunks(t *testing.T) {
	q := &ConsumeQueue{topic: "T"}
	add := func(q *ConsumeQueue, i int, body string) {
		m := Message{Topic: "T", Body: []byte(body)}
		data, err := EncodeMessage(m)
		require.NoError(t, err)
		q.append(uint64(i+1), 1, int64(i*100), 100, m, data)
	}
	for i := range queueChunkLen + 10 {
		add(q, i, fmt.Sprintf("m%d", i))
	}
	c := q.clone()
	for i := queueChunkLen + 10; i < 2*queueChunkLen+5; i++ {
		add(q, i, fmt.Sprintf("orig%d", i))
		add(c, i, fmt.Sprintf("clone%d", i))
	}
	require.Equal(t, q.Len(), c.Len())
	for _, off := range []uint64{0, queueChunkLen - 1, queueChunkLen, queueChunkLen + 9} {
		assert.Equal(t, mustRead(t, q, off, 1, 0), mustRead(t, c, off, 1, 0), "offset %d is shared history", off)
	}
	for _, off := range []uint64{queueChunkLen + 10, 2*queueChunkLen - 1, 2 * queueChunkLen, 2*queueChunkLen + 4} {
		assert.Equal(t, fmt.Sprintf("orig%d", off), string(mustRead(t, q, off, 1, 0)[0].Message.Body))
		assert.Equal(t, fmt.Sprintf("clone%d", off), string(mustRead(t, c, off, 1, 0)[0].Message.Body))
		assert.Equal(t, off, mustRead(t, q, off, 1, 0)[0].QueueOffset)
	}
	raw, err := q.Bytes()
	require.NoError(t, err)
	assert.Equal(t, len(raw), int(q.Len())*QueueRecordSize)
}

func mustRead(t *testing.T, q *ConsumeQueue, off uint64, max, maxBytes int) []Stored {
	t.Helper()
	out, err := q.read(off, max, maxBytes)
	require.NoError(t, err)
	return out
}
