package broker

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/commitlog"
)

// A broker with a CommitLog reads consumers' messages back from it by
// their queue records, as RocketMQ does, and keeps no copy: it answers
// exactly what a broker that keeps copies answers, with the same digest. A
// message whose bytes were damaged since they were written is an error for
// that read, naming the queue offset and the CommitLog position; the
// broker goes on.
func TestBrokerReadsMessagesFromTheCommitLog(t *testing.T) {
	store := commitlog.NewMemStore(commitlog.Options{SegmentSize: 4096})
	onLog := New(Options{CommitLog: store, RecentRecords: 100})
	onFiles := New(Options{CommitLog: store, Queues: memQueues{}, RecentRecords: 100})
	inMemory := New(Options{RecentRecords: 100})
	var ents []core.Entry
	for i := uint64(1); i <= 60; i++ {
		m := msg([]string{"orders", "payments"}[i%2], "p", i, fmt.Sprintf("body %d", i))
		m.Tags, m.Keys = "tag", fmt.Sprintf("k%d", i)
		ents = append(ents, normal(t, i, 1, m))
	}
	require.NoError(t, store.Append(ents))
	store.Sync()
	for _, e := range ents {
		pos, size, ok := store.Position(e.Index)
		require.True(t, ok)
		for _, b := range []*Broker{onLog, onFiles, inMemory} {
			_, err := b.Apply(e, pos, size)
			require.NoError(t, err)
		}
	}
	for _, topic := range []string{"orders", "payments"} {
		a, err := onLog.ConsumeUpTo(topic, 3, 10, 0)
		require.NoError(t, err)
		b, err := inMemory.ConsumeUpTo(topic, 3, 10, 0)
		require.NoError(t, err)
		assert.Equal(t, b, a, topic)
		c, err := onFiles.ConsumeUpTo(topic, 3, 10, 0)
		require.NoError(t, err)
		assert.Equal(t, b, c, topic)
	}
	assert.Equal(t, inMemory.Digest(), onLog.Digest())
	assert.Equal(t, inMemory.Digest(), onFiles.Digest())
	assert.Equal(t, inMemory.Topics(), onLog.Topics())
	assert.Equal(t, inMemory.Topics(), onFiles.Topics())
	assert.Empty(t, onLog.topics["orders"].chunks[0].data, "no copy of the messages")
	assert.Empty(t, onFiles.topics["orders"].chunks, "no records in memory either")

	// Damage the body of the message at orders offset 5.
	rec, err := onLog.Queue("orders").Record(5)
	require.NoError(t, err)
	require.NoError(t, store.FlipByte(rec.Pos+int64(rec.Size)-2)) // on the disk
	store.Crash()                                                 // and what is read is the disk
	got, err := onLog.Consume("orders", 3, 10)
	require.Error(t, err)
	assert.Contains(t, err.Error(), fmt.Sprintf("queue orders offset 5 (entry 12 at CommitLog position %d)", rec.Pos))
	assert.Len(t, got, 2, "the messages before it are still answered")
	after, err := onLog.Consume("orders", 6, 10)
	require.NoError(t, err)
	assert.Len(t, after, 10)
	recent := onLog.Topics()[0].Recent
	require.Len(t, recent, 30)
	assert.Equal(t, -1, recent[5].BodyLen, "the view shows the record it could not read")
	assert.Equal(t, rec.Pos, recent[5].Pos)
}

// After retention deleted the CommitLog before a position, a queue whose
// records are in files starts at its first message still in the log
// (RocketMQ's ConsumeQueue.correctMinOffset): MinOffset says where a
// consumer can begin, a read below it is ErrOffsetTooSmall naming it, and
// a queue that keeps its own messages (the simulator's) keeps them all.
func TestCorrectMinOffsetsFollowsTheLogStart(t *testing.T) {
	store := commitlog.NewMemStore(commitlog.Options{SegmentSize: 4096})
	onFiles := New(Options{CommitLog: store, Queues: memQueues{}})
	inMemory := New(Options{})
	var ents []core.Entry
	for i := uint64(1); i <= 30; i++ {
		ents = append(ents, normal(t, i, 1, msg([]string{"orders", "payments"}[i%2], "p", i, fmt.Sprintf("body %d", i))))
	}
	require.NoError(t, store.Append(ents))
	store.Sync()
	for _, e := range ents {
		pos, size, ok := store.Position(e.Index)
		require.True(t, ok)
		for _, b := range []*Broker{onFiles, inMemory} {
			_, err := b.Apply(e, pos, size)
			require.NoError(t, err)
		}
	}
	// The log now starts at entry 11: orders holds entries 2,4,…,30
	// (offsets 0..14), so entry 12 is orders offset 5; payments holds
	// 1,3,…,29, so entry 11 is payments offset 5.
	start, _, ok := store.Position(11)
	require.True(t, ok)
	moved, err := onFiles.CorrectMinOffsets(start)
	require.NoError(t, err)
	assert.Equal(t, map[string]uint64{"orders": 5, "payments": 5}, moved)
	assert.Equal(t, uint64(5), onFiles.Queue("orders").MinOffset())
	assert.Equal(t, uint64(15), onFiles.Queue("orders").Len())
	_, err = onFiles.Consume("orders", 4, 10)
	assert.ErrorIs(t, err, ErrOffsetTooSmall)
	assert.Contains(t, err.Error(), "below the first offset kept, 5")
	got, err := onFiles.Consume("orders", 5, 100)
	require.NoError(t, err)
	require.Len(t, got, 10)
	assert.Equal(t, uint64(12), got[0].Index)

	again, err := onFiles.CorrectMinOffsets(start)
	require.NoError(t, err)
	assert.Empty(t, again, "nothing moves twice")
	end, _, _ := store.Position(30)
	moved, err = onFiles.CorrectMinOffsets(end + 1)
	require.NoError(t, err)
	assert.Equal(t, map[string]uint64{"orders": 15, "payments": 15}, moved, "a log past every message leaves the queues empty at their length")

	moved, err = inMemory.CorrectMinOffsets(start)
	require.NoError(t, err)
	assert.Empty(t, moved)
	assert.Zero(t, inMemory.Queue("orders").MinOffset(), "a queue that keeps its messages loses none")
}
