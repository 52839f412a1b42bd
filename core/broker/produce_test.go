package broker

import (
	"errors"
	"fmt"
	"strings"
	"testing"

	"dledgerlab/core"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The leader answers a produce only after its entry commits, with the
// entry's index and term and the message's queue offset.
func TestProduceIsAnsweredOnlyAfterCommit(t *testing.T) {
	r := newRunner(t)
	m := msg("orders", "p1", 1, "hello")

	body, dup, err := r.b.Prepare(m)
	require.NoError(t, err)
	require.Nil(t, dup)
	// core.Propose(body) returned index 1, term 3.
	ticket := r.b.Await(1, 3, "p1", 1)
	assert.Equal(t, []Ticket{ticket}, r.b.Pending(), "waiting for the quorum")

	a := r.apply(core.Entry{Index: 1, Term: 3, Type: core.EntryNormal, Data: body})
	require.Len(t, a[0].Resolved, 1)
	res := a[0].Resolved[0]
	assert.Equal(t, ticket, res.Ticket)
	require.NoError(t, res.Err)
	assert.Equal(t, Result{Index: 1, Term: 3, Topic: "orders", QueueOffset: 0}, res.Result)
	assert.Empty(t, r.b.Pending())
}

// The story of a retry: Broker1 appends p1#1 at index 2, the quorum is slow
// and WAIT_QUORUM_ACK_TIMEOUT fires, so the producer hears "outcome
// unknown" and sends p1#1 again, which lands at index 3. Both entries
// commit. The CommitLog holds two copies; the ConsumeQueue holds one, and
// the second send is answered with the first's queue offset.
func TestRetriedSendIsStoredOnce(t *testing.T) {
	r := newRunner(t)
	r.apply(normal(t, 1, 1, msg("orders", "p0", 1, "someone else")))
	m := msg("orders", "p1", 1, "pay 10 yuan")

	body, _, err := r.b.Prepare(m)
	require.NoError(t, err)
	first := r.b.Await(2, 1, "p1", 1)
	assert.True(t, r.b.Expire(first), "WAIT_QUORUM_ACK_TIMEOUT: the runner answers ErrOutcomeUnknown")
	assert.False(t, r.b.Expire(first), "expiring twice does nothing")

	// The retry: index 2 is not applied yet, so Prepare cannot know.
	body2, dup, err := r.b.Prepare(m)
	require.NoError(t, err)
	require.Nil(t, dup)
	assert.Equal(t, body, body2)
	retry := r.b.Await(3, 1, "p1", 1)

	a := r.apply(
		core.Entry{Index: 2, Term: 1, Type: core.EntryNormal, Data: body},
		core.Entry{Index: 3, Term: 1, Type: core.EntryNormal, Data: body2},
	)
	assert.Equal(t, OutcomeAppended, a[0].Outcome)
	assert.Empty(t, a[0].Resolved, "the first ticket expired; nobody waits")
	assert.Equal(t, OutcomeDuplicate, a[1].Outcome)
	require.Len(t, a[1].Resolved, 1)
	assert.Equal(t, retry, a[1].Resolved[0].Ticket)
	assert.Equal(t, Result{Index: 2, Term: 1, Topic: "orders", QueueOffset: 1, Duplicate: true}, a[1].Resolved[0].Result,
		"the retry is answered with the original entry and queue offset")

	assert.Equal(t, []string{"someone else", "pay 10 yuan"}, consumeAll(t, r.b, "orders"))

	// A third attempt, after both applied, is answered without proposing.
	body3, dup, err := r.b.Prepare(m)
	require.NoError(t, err)
	assert.Nil(t, body3)
	require.NotNil(t, dup)
	assert.Equal(t, Result{Index: 2, Term: 1, Topic: "orders", QueueOffset: 1, Duplicate: true}, *dup)
}

// Brain split (脑裂): old leader Broker1 (term 1) appends p1#5 at index 3 but
// is cut off from the majority before it commits. Broker2 is elected in term
// 2 and commits its no-op and another message at indexes 3 and 4. When
// Broker1 rejoins, its entry 3@t1 is truncated and 3@t2 is applied: the
// ticket learns for certain that its message was not stored.
func TestTruncatedProposalResolvesNotCommitted(t *testing.T) {
	old := newRunner(t)
	old.apply(noop(1, 1), normal(t, 2, 1, msg("orders", "p0", 1, "before the split")))
	_, _, err := old.b.Prepare(msg("orders", "p1", 5, "lost in the minority"))
	require.NoError(t, err)
	ticket := old.b.Await(3, 1, "p1", 5)

	a := old.apply(noop(3, 2), normal(t, 4, 2, msg("orders", "p2", 1, "new leader")))
	require.Len(t, a[0].Resolved, 1)
	res := a[0].Resolved[0]
	assert.Equal(t, ticket, res.Ticket)
	require.ErrorIs(t, res.Err, ErrNotCommitted)
	assert.Contains(t, res.Err.Error(), "entry 3 proposed in term 1, committed in term 2")
	assert.Equal(t, []string{"before the split", "new leader"}, consumeAll(t, old.b, "orders"),
		"a truncated entry never reaches a queue")

	// Retrying is safe: p1#5 was never applied.
	body, dup, err := old.b.Prepare(msg("orders", "p1", 5, "lost in the minority"))
	require.NoError(t, err)
	assert.Nil(t, dup)
	assert.NotEmpty(t, body)
}

// A ticket can also lose its index to another message, not just a no-op.
func TestTicketOverwrittenByAnotherMessage(t *testing.T) {
	r := newRunner(t)
	r.b.Await(1, 1, "p1", 1)
	a := r.apply(normal(t, 1, 2, msg("T", "p9", 1, "x")))
	require.Len(t, a[0].Resolved, 1)
	assert.ErrorIs(t, a[0].Resolved[0].Err, ErrNotCommitted)
}

// Stepping down: every pending ticket is answered. The entries may still be
// committed by the next leader, so the runner says "outcome unknown".
func TestFailAllOnStepDown(t *testing.T) {
	r := newRunner(t)
	t2 := r.b.Await(2, 1, "p", 2)
	t1 := r.b.Await(1, 1, "p", 1)
	t3 := r.b.Await(2, 1, "q", 1) // same index: a runner bug, but answered too

	got := r.b.FailAll(ErrOutcomeUnknown)
	require.Len(t, got, 3)
	assert.Equal(t, []Ticket{t2, t1, t3}, []Ticket{got[0].Ticket, got[1].Ticket, got[2].Ticket}, "in issue order")
	for _, res := range got {
		assert.ErrorIs(t, res.Err, ErrOutcomeUnknown)
		assert.Contains(t, res.Err.Error(), fmt.Sprintf("entry %d@t1", res.Ticket.Index))
	}
	assert.Empty(t, r.b.Pending())
	assert.Empty(t, r.b.FailAll(ErrOutcomeUnknown))

	// Later commits resolve nothing.
	a := r.apply(normal(t, 1, 1, msg("T", "p", 1, "x")))
	assert.Empty(t, a[0].Resolved)
}

func TestNotLeaderError(t *testing.T) {
	err := error(&NotLeaderError{Leader: 2})
	assert.ErrorIs(t, err, ErrNotLeader)
	assert.Equal(t, "not leader (leader is broker 2)", err.Error())
	var nl *NotLeaderError
	require.True(t, errors.As(fmt.Errorf("produce: %w", err), &nl))
	assert.Equal(t, core.NodeID(2), nl.Leader)
	assert.Equal(t, "not leader (no leader known)", (&NotLeaderError{}).Error())
}

// TestPrepareMeasuresTheEncodedMessage: the limit is on the entry the
// message becomes, so the largest body depends on the names around it, and
// the error says both numbers.
func TestPrepareMeasuresTheEncodedMessage(t *testing.T) {
	b := New(Options{})
	msg := Message{Topic: "orders", Tags: "TagA", Producer: "p1", Seq: 1}
	limit := DefaultMaxMessageBytes - EncodedLen(msg) // the largest body
	for _, n := range []int{limit - 1, limit} {
		msg.Body = make([]byte, n)
		body, _, err := b.Prepare(msg)
		require.NoError(t, err, "body of %d bytes", n)
		assert.Len(t, body, EncodedLen(msg))
		assert.LessOrEqual(t, len(body), core.DefaultMaxEntryBytes)
	}
	msg.Body = make([]byte, limit+1)
	_, _, err := b.Prepare(msg)
	require.ErrorIs(t, err, ErrTooLarge)
	assert.Contains(t, err.Error(), fmt.Sprintf("over the limit of %d bytes", DefaultMaxMessageBytes))
	assert.Contains(t, err.Error(), fmt.Sprintf("the body can be at most %d bytes", limit))
}

func TestPrepareRejects(t *testing.T) {
	b := New(Options{MaxMessageBytes: 30}) // a topic "T" message: 19 bytes + body
	tests := []struct {
		name string
		msg  Message
		want error
	}{
		{"bad topic", Message{Topic: "a b"}, ErrBadTopic},
		{"topic too long", Message{Topic: strings.Repeat("x", 128)}, ErrBadTopic},
		{"encoded message over the broker's limit", Message{Topic: "T", Body: make([]byte, 12)}, ErrTooLarge},
		{"tags too long", Message{Topic: "T", Tags: strings.Repeat("x", 256)}, ErrTooLarge},
		{"sequence without producer", Message{Topic: "T", Seq: 1}, ErrBadMessage},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, dup, err := b.Prepare(tt.msg)
			assert.ErrorIs(t, err, tt.want)
			assert.Nil(t, body)
			assert.Nil(t, dup)
		})
	}
	body, _, err := b.Prepare(Message{Topic: "T", Body: make([]byte, 10)})
	assert.NoError(t, err)
	assert.NotEmpty(t, body)
}

// The deduplication rule: a sequence at or below the producer's highest
// applied one is a duplicate. Recent ones are answered with their original
// result; older ones are dropped with ErrStaleSequence.
func TestDedupRule(t *testing.T) {
	r := newRunner(t)
	r.b = New(Options{DedupWindow: 2})
	r.apply(
		normal(t, 1, 1, msg("T", "p", 1, "1")),
		normal(t, 2, 1, msg("T", "p", 5, "5")), // sequences need not be dense
		normal(t, 3, 1, msg("T", "p", 7, "7")),
	)
	tests := []struct {
		name   string
		seq    uint64
		offset uint64
		err    error
		fresh  bool
	}{
		{"the last send", 7, 2, nil, false},
		{"the one before", 5, 1, nil, false},
		{"older than the window", 1, 0, ErrStaleSequence, false},
		{"a sequence never used but below the highest", 6, 0, ErrStaleSequence, false},
		{"a higher sequence is new", 8, 0, nil, true},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			body, dup, err := r.b.Prepare(msg("T", "p", tt.seq, fmt.Sprint(tt.seq))) // a retry resends the same message
			switch {
			case tt.err != nil:
				assert.ErrorIs(t, err, tt.err)
			case tt.fresh:
				require.NoError(t, err)
				assert.Nil(t, dup)
				assert.NotEmpty(t, body)
			default:
				require.NoError(t, err)
				require.NotNil(t, dup)
				assert.True(t, dup.Duplicate)
				assert.Equal(t, tt.offset, dup.QueueOffset)
			}
		})
	}

	// The dispatcher applies the same rule to committed entries.
	a := r.apply(normal(t, 4, 1, msg("T", "p", 1, "stale retry")))
	assert.Equal(t, OutcomeDuplicate, a[0].Outcome)
	assert.ErrorIs(t, a[0].Err, ErrStaleSequence)
	assert.Equal(t, []string{"1", "5", "7"}, consumeAll(t, r.b, "T"))

	// Anonymous producers are never deduplicated.
	r.apply(normal(t, 5, 1, msg("T", "", 0, "x")), normal(t, 6, 1, msg("T", "", 0, "x")))
	assert.Equal(t, []string{"1", "5", "7", "x", "x"}, consumeAll(t, r.b, "T"))
}

// A producer that reuses a sequence for another message is told so
// (SEQUENCE_REUSED) instead of being answered "stored (duplicate)" for a
// message that was not stored — at Prepare, and by the dispatcher when the
// two sends were both in flight.
func TestSequenceReusedForAnotherMessageIsRefused(t *testing.T) {
	r := newRunner(t)
	r.apply(normal(t, 1, 1, msg("orders", "p1", 1, "first")))

	_, dup, err := r.b.Prepare(msg("orders", "p1", 1, "first"))
	require.NoError(t, err)
	require.NotNil(t, dup, "the same message again is a retry")
	assert.True(t, dup.Duplicate)

	for name, m := range map[string]Message{
		"another body":  msg("orders", "p1", 1, "second"),
		"another topic": msg("invoices", "p1", 1, "first"),
		"other tags":    {Topic: "orders", Tags: "TagB", Producer: "p1", Seq: 1, Body: []byte("first")},
	} {
		t.Run(name, func(t *testing.T) {
			body, dup, err := r.b.Prepare(m)
			require.ErrorIs(t, err, ErrSequenceReused)
			assert.Nil(t, body)
			assert.Nil(t, dup)
			assert.Contains(t, err.Error(), "producer p1 seq 1 is stored at entry 1 (orders@0) with another message")
		})
	}

	// Both sends in flight: the second entry commits after the first.
	tk := r.b.Await(2, 1, "p1", 1)
	a := r.apply(normal(t, 2, 1, msg("orders", "p1", 1, "second")))
	assert.Equal(t, OutcomeDuplicate, a[0].Outcome)
	assert.ErrorIs(t, a[0].Err, ErrSequenceReused)
	require.Len(t, a[0].Resolved, 1)
	assert.Equal(t, tk, a[0].Resolved[0].Ticket)
	assert.ErrorIs(t, a[0].Resolved[0].Err, ErrSequenceReused)
	assert.Equal(t, []string{"first"}, consumeAll(t, r.b, "orders"), "the second message is not stored")
}

// The deduplication table is bounded: with MaxProducers 2, a third producer
// evicts the one least recently seen in the log — on every replica alike.
func TestDedupTableIsBoundedAndDeterministic(t *testing.T) {
	log := []core.Entry{
		normal(t, 1, 1, msg("T", "a", 1, "a1")),
		normal(t, 2, 1, msg("T", "b", 1, "b1")),
		normal(t, 3, 1, msg("T", "a", 1, "a1 retry")), // a seen again at 3
		normal(t, 4, 1, msg("T", "c", 1, "c1")),       // evicts b (last seen at 2)
		normal(t, 5, 1, msg("T", "a", 1, "a1 again")), // still a duplicate
		normal(t, 6, 1, msg("T", "b", 1, "b1 again")), // b was forgotten: stored twice
	}
	r1, r2 := newRunner(t), newRunner(t)
	r1.b, r2.b = New(Options{MaxProducers: 2}), New(Options{MaxProducers: 2})
	r1.apply(log...)
	r2.apply(log...)
	assert.Equal(t, []string{"a1", "b1", "c1", "b1 again"}, consumeAll(t, r1.b, "T"))
	assert.Len(t, r1.b.producers, 2)
	assert.Equal(t, r1.b.Digest(), r2.b.Digest())
}

// Await is for entries not yet applied: core's Propose returns before its
// entry can commit. Anything else is a runner bug, and panics.
func TestAwaitAfterApplyPanics(t *testing.T) {
	r := newRunner(t)
	r.apply(noop(1, 1))
	assert.PanicsWithValue(t, "broker: await entry 1@t1 but entry 1 is already applied", func() {
		r.b.Await(1, 1, "p", 1)
	})
}

// (index, term) names exactly one entry (Raft's Log Matching Property): a
// ticket whose term matches but whose message differs is a runner bug.
func TestTicketForAnotherMessagePanics(t *testing.T) {
	r := newRunner(t)
	r.b.Await(1, 1, "p", 1)
	assert.Panics(t, func() { r.apply(normal(t, 1, 1, msg("T", "q", 1, "x"))) })
}
