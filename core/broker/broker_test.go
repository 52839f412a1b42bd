package broker

import (
	"testing"

	"dledgerlab/core"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Broker1 (the leader) has appended three messages, but only the first two
// reached a quorum (已提交). The runner applies only committed entries, so a
// consumer sees two messages; the third appears once it commits.
func TestOnlyCommittedMessagesAreConsumable(t *testing.T) {
	r := newRunner(t)
	log := []core.Entry{
		normal(t, 1, 1, msg("orders", "p1", 1, "first")),
		normal(t, 2, 1, msg("orders", "p1", 2, "second")),
		normal(t, 3, 1, msg("orders", "p1", 3, "third (uncommitted)")),
	}
	commit := uint64(2)

	r.apply(log[:commit]...)
	assert.Equal(t, []string{"first", "second"}, consumeAll(t, r.b, "orders"))
	assert.Equal(t, commit, r.b.AppliedIndex())

	_, err := r.b.Consume("payments", 0, 10)
	assert.ErrorIs(t, err, ErrUnknownTopic, "a topic nothing committed to does not exist yet")

	r.apply(log[2])
	assert.Equal(t, []string{"first", "second", "third (uncommitted)"}, consumeAll(t, r.b, "orders"))
}

// Queue offsets are handed out by dispatching the committed log in order,
// so they are dense per topic and the same on every replica: a consumer at
// offset 2 of "orders" can move to a new leader and keep its offset.
func TestQueueOffsetsAreStableAcrossLeaderChange(t *testing.T) {
	log := []core.Entry{
		noop(1, 1), // Broker1 becomes leader in term 1
		normal(t, 2, 1, msg("orders", "p1", 1, "o1")),
		normal(t, 3, 1, msg("payments", "p2", 1, "pay1")),
		normal(t, 4, 1, msg("orders", "p1", 2, "o2")),
		noop(5, 2), // Broker1 crashes; Broker2 is elected in term 2
		normal(t, 6, 2, msg("orders", "p1", 3, "o3")),
		normal(t, 7, 2, msg("payments", "p2", 2, "pay2")),
	}
	broker1, broker2 := newRunner(t), newRunner(t)
	broker1.apply(log[:4]...) // Broker1 applied up to its crash
	broker2.apply(log...)
	broker1.apply(log[4:]...) // restarted, it catches up from the new leader

	for _, r := range []*runner{broker1, broker2} {
		got, err := r.b.Consume("orders", 0, 10)
		require.NoError(t, err)
		require.Len(t, got, 3)
		for i, s := range got {
			assert.Equal(t, uint64(i), s.QueueOffset, "dense offsets")
		}
		assert.Equal(t, []uint64{2, 4, 6}, []uint64{got[0].Index, got[1].Index, got[2].Index})
		assert.Equal(t, uint64(2), got[2].Term)
	}
	assert.Equal(t, broker1.b.Digest(), broker2.b.Digest())
	for _, topic := range []string{"orders", "payments"} {
		q1, err := broker1.b.QueueBytes(topic)
		require.NoError(t, err)
		q2, err := broker2.b.QueueBytes(topic)
		require.NoError(t, err)
		assert.Equal(t, q1, q2, "topic %s", topic)
	}
}

// A no-op advances the applied index and touches no queue.
func TestNoOpTouchesNoQueue(t *testing.T) {
	r := newRunner(t)
	a := r.apply(noop(1, 1))
	assert.Equal(t, OutcomeNoOp, a[0].Outcome)
	assert.Equal(t, uint64(1), r.b.AppliedIndex())
	assert.Empty(t, r.b.Topics())
}

// The queue record points at the entry in the CommitLog, and the tag hash
// is RocketMQ's.
func TestQueueRecordPointsIntoCommitLog(t *testing.T) {
	b := New(Options{})
	e := normal(t, 1, 1, Message{Topic: "T", Tags: "TagA", Body: []byte("x")})
	_, err := b.Apply(e, 4096, 77)
	require.NoError(t, err)

	raw, err := b.QueueBytes("T")
	require.NoError(t, err)
	assert.Equal(t, unhex(t, "0000000000001000 0000004d 000000000027a807"), raw)
	rec, err := b.Queue("T").Record(0)
	require.NoError(t, err)
	assert.Equal(t, QueueRecord{Pos: 4096, Size: 77, TagHash: 2598919}, rec)
}

// Apply is called for entry applied+1 and nothing else; the error names
// both indexes. CommitLog positions only move forward.
func TestApplyRejectsGapsRepeatsAndOverlaps(t *testing.T) {
	tests := []struct {
		name string
		pos  int64
		size int32
		e    core.Entry
		want string
	}{
		{"gap", 200, 10, noop(4, 1), "apply entry 4 after entry 2 (want 3)"},
		{"repeat", 200, 10, noop(2, 1), "apply entry 2 after entry 2 (want 3)"},
		{"overlapping position", 105, 10, noop(3, 1), "position 105"},
		{"negative size", 200, -1, noop(3, 1), "size -1"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			b := New(Options{})
			_, err := b.Apply(noop(1, 1), 0, 100)
			require.NoError(t, err)
			_, err = b.Apply(noop(2, 1), 100, 10) // ends at 110
			require.NoError(t, err)
			before := b.Digest()

			_, err = b.Apply(tt.e, tt.pos, tt.size)
			require.ErrorIs(t, err, ErrApplyOrder)
			assert.Contains(t, err.Error(), tt.want)
			assert.Equal(t, before, b.Digest(), "a rejected Apply changes nothing")
		})
	}
}

// A committed body that does not decode (a runner proposing raw bytes, a
// bug) is skipped the same way on every replica, so they stay equal.
func TestCorruptCommittedBodyIsSkipped(t *testing.T) {
	r1, r2 := newRunner(t), newRunner(t)
	bad := core.Entry{Index: 1, Term: 1, Type: core.EntryNormal, Data: []byte{9, 9, 9}}
	for _, r := range []*runner{r1, r2} {
		a := r.apply(bad, normal(t, 2, 1, msg("T", "", 0, "ok")))
		assert.Equal(t, OutcomeCorrupt, a[0].Outcome)
		assert.ErrorIs(t, a[0].Err, ErrCorrupt)
		assert.Contains(t, a[0].Err.Error(), "entry 1@t1")
		assert.Equal(t, OutcomeAppended, a[1].Outcome)
		assert.Equal(t, uint64(0), a[1].Result.QueueOffset)
	}
	assert.Equal(t, r1.b.Digest(), r2.b.Digest())
}

func TestConsume(t *testing.T) {
	r := newRunner(t)
	for i := uint64(1); i <= 40; i++ {
		r.apply(normal(t, i, 1, msg("T", "p", i, "m")))
	}
	tests := []struct {
		name   string
		topic  string
		offset uint64
		max    int
		want   int
		err    error
	}{
		{"a batch", "T", 0, 10, 10, nil},
		{"the tail", "T", 35, 10, 5, nil},
		{"at the end: nothing yet", "T", 40, 10, 0, nil},
		{"past the end", "T", 99, 10, 0, nil},
		{"max <= 0 is the default batch", "T", 0, 0, DefaultConsumeMax, nil},
		{"unknown topic", "U", 0, 10, 0, ErrUnknownTopic},
		{"bad topic name", "a/b", 0, 10, 0, ErrBadTopic},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			got, err := r.b.Consume(tt.topic, tt.offset, tt.max)
			if tt.err != nil {
				assert.ErrorIs(t, err, tt.err)
				return
			}
			require.NoError(t, err)
			require.Len(t, got, tt.want)
			for i, s := range got {
				assert.Equal(t, tt.offset+uint64(i), s.QueueOffset)
			}
		})
	}
}

// ConsumerOffsetManager: each group has its own offset per topic, kept by
// this broker only (not part of the replicated state).
func TestConsumerGroupOffsets(t *testing.T) {
	r := newRunner(t)
	r.apply(normal(t, 1, 1, msg("T", "", 0, "m")))
	digest := r.b.Digest()

	assert.Zero(t, r.b.Offset("g1", "T"), "a new group starts at 0")
	r.b.CommitOffset("g1", "T", 1)
	r.b.CommitOffset("g2", "T", 0)
	r.b.CommitOffset("g1", "other", 5)
	assert.Equal(t, uint64(1), r.b.Offset("g1", "T"))
	assert.Equal(t, uint64(0), r.b.Offset("g2", "T"))
	assert.Equal(t, uint64(5), r.b.Offset("g1", "other"))
	assert.Equal(t, digest, r.b.Digest(), "consumer offsets are local, not replicated")
}

func TestTopicsView(t *testing.T) {
	r := newRunner(t)
	r.b = New(Options{RecentRecords: 2})
	r.apply(
		normal(t, 1, 1, Message{Topic: "b", Tags: "x", Body: []byte("1")}),
		normal(t, 2, 1, Message{Topic: "a", Keys: "k", Body: []byte("22")}),
		normal(t, 3, 1, Message{Topic: "b", Producer: "p", Seq: 4, Body: []byte("333")}),
		normal(t, 4, 2, Message{Topic: "b", Body: []byte("4444")}),
	)
	v := r.b.Topics()
	require.Len(t, v, 2)
	assert.Equal(t, "a", v[0].Name, "sorted by name")
	assert.Equal(t, uint64(1), v[0].Len)
	assert.Equal(t, "b", v[1].Name)
	assert.Equal(t, uint64(3), v[1].Len)
	require.Len(t, v[1].Recent, 2, "only the last RecentRecords")
	assert.Equal(t, RecordView{QueueOffset: 1, Index: 3, Term: 1, Pos: 2*entryHeader + 21 + 22, Size: entryHeader + 23,
		Producer: "p", Seq: 4, BodyLen: 3}, v[1].Recent[0])
	assert.Equal(t, uint64(4), v[1].Recent[1].Index)
}

// The simulator checkpoints a broker and rewinds to it: the copy must not
// change when the original goes on.
func TestCloneIsIndependent(t *testing.T) {
	r := newRunner(t)
	r.apply(normal(t, 1, 1, msg("T", "p", 1, "a")))
	r.b.CommitOffset("g", "T", 1)
	r.b.Await(2, 1, "p", 2)
	snap := r.b.Clone()
	digest := snap.Digest()

	r.apply(normal(t, 2, 1, msg("T", "p", 2, "b")), normal(t, 3, 1, msg("U", "q", 1, "c")))
	r.b.CommitOffset("g", "T", 2)

	assert.Equal(t, digest, snap.Digest())
	assert.Equal(t, []string{"a"}, consumeAll(t, snap, "T"))
	assert.Equal(t, uint64(1), snap.Offset("g", "T"))
	assert.Len(t, snap.Pending(), 1, "the snapshot still awaits entry 2")
	_, err := snap.Consume("U", 0, 1)
	assert.ErrorIs(t, err, ErrUnknownTopic)

	// Replaying the same entries on the snapshot gives the same state again.
	rr := &runner{t: t, b: snap, pos: entryHeader + int64(len(normal(t, 1, 1, msg("T", "p", 1, "a")).Data))}
	rr.apply(normal(t, 2, 1, msg("T", "p", 2, "b")), normal(t, 3, 1, msg("U", "q", 1, "c")))
	assert.Equal(t, r.b.Digest(), snap.Digest())
}
