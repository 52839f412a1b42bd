package broker

import (
	"testing"

	"dledgerlab/core"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func offsetEntry(t testing.TB, index, term uint64, c OffsetCommit) core.Entry {
	t.Helper()
	data, err := EncodeOffsetCommit(c)
	require.NoError(t, err)
	return core.Entry{Index: index, Term: term, Type: core.EntryNormal, Data: data}
}

func TestOffsetCommitEncoding(t *testing.T) {
	c := OffsetCommit{Group: "billing", Topic: "orders", Offset: 1<<40 + 7}
	data, err := EncodeOffsetCommit(c)
	require.NoError(t, err)
	assert.True(t, IsOffsetCommit(data))
	assert.Len(t, data, 1+1+7+1+6+8)
	got, err := DecodeOffsetCommit(data)
	require.NoError(t, err)
	assert.Equal(t, c, got)

	m, err := EncodeMessage(msg("orders", "p", 1, "x"))
	require.NoError(t, err)
	assert.False(t, IsOffsetCommit(m), "a message is not an offset commit")

	for _, bad := range []OffsetCommit{{Group: "", Topic: "t"}, {Group: "a b", Topic: "t"}, {Group: "g", Topic: ""}, {Group: string(make([]byte, 256)), Topic: "t"}} {
		_, err := EncodeOffsetCommit(bad)
		var fe *FieldError
		assert.ErrorAs(t, err, &fe, "%+v", bad)
	}
	for name, b := range map[string][]byte{
		"empty":           {},
		"version only":    {OffsetCommitFormatV1},
		"group too long":  {OffsetCommitFormatV1, 9, 'g'},
		"short offset":    append([]byte{}, data[:len(data)-1]...),
		"trailing byte":   append(append([]byte{}, data...), 0),
		"bad group chars": {OffsetCommitFormatV1, 1, ' ', 1, 't', 0, 0, 0, 0, 0, 0, 0, 0},
	} {
		_, err := DecodeOffsetCommit(b)
		assert.ErrorIs(t, err, ErrCorrupt, name)
	}
}

// Replicated offsets: an offset commit is an entry; every replica that
// applies it holds the same offset, and no queue changes.
func TestOffsetCommitEntryAppliesOnEveryReplica(t *testing.T) {
	log := []core.Entry{
		normal(t, 1, 1, msg("orders", "p", 1, "a")),
		normal(t, 2, 1, msg("orders", "p", 2, "b")),
		offsetEntry(t, 3, 1, OffsetCommit{Group: "billing", Topic: "orders", Offset: 2}),
		normal(t, 4, 1, msg("orders", "p", 3, "c")),
	}
	var digests []string
	for range 3 {
		r := newRunner(t)
		as := r.apply(log...)
		assert.Equal(t, OutcomeOffsetCommitted, as[2].Outcome)
		assert.NoError(t, as[2].Err)
		assert.Equal(t, uint64(2), r.b.Offset("billing", "orders"))
		assert.Equal(t, uint64(2), as[3].Result.QueueOffset, "the commit took no queue offset")
		assert.Equal(t, []string{"a", "b", "c"}, consumeAll(t, r.b, "orders"))
		digests = append(digests, r.b.Digest())
	}
	assert.Equal(t, digests[0], digests[1])

	// A corrupt offset commit is skipped on every replica alike.
	r := newRunner(t)
	as := r.apply(core.Entry{Index: 1, Term: 1, Type: core.EntryNormal, Data: []byte{OffsetCommitFormatV1, 0}})
	assert.Equal(t, OutcomeCorrupt, as[0].Outcome)
	assert.ErrorIs(t, as[0].Err, ErrCorrupt)
}

// Local offsets (RocketMQ's DLedger mode): a follower has only what the
// last sync copied, so after a failover its offset can be older.
func TestLocalOffsetsLagUntilSynced(t *testing.T) {
	leader, follower := New(Options{}), New(Options{})
	leader.CommitOffset("billing", "orders", 5)
	follower.SyncOffsets(leader.Offsets())
	leader.CommitOffset("billing", "orders", 9)
	assert.Equal(t, uint64(9), leader.Offset("billing", "orders"))
	assert.Equal(t, uint64(5), follower.Offset("billing", "orders"), "the commit after the sync is not on the follower")

	// The sync replaces the leader's entries and keeps the follower's others.
	follower.CommitOffset("audit", "orders", 3)
	follower.SyncOffsets(leader.Offsets())
	assert.Equal(t, uint64(9), follower.Offset("billing", "orders"))
	assert.Equal(t, uint64(3), follower.Offset("audit", "orders"))

	off, ok := follower.LookupOffset("audit", "orders")
	assert.True(t, ok)
	assert.Equal(t, uint64(3), off)
	_, ok = follower.LookupOffset("nobody", "orders")
	assert.False(t, ok, "no offset held for a group never committed")

	// Offsets returns a copy.
	o := leader.Offsets()
	o["billing"]["orders"] = 0
	assert.Equal(t, uint64(9), leader.Offset("billing", "orders"))
}

func TestParseOffsetMode(t *testing.T) {
	for s, want := range map[string]OffsetMode{"": OffsetsLocal, "local": OffsetsLocal, "replicated": OffsetsReplicated} {
		m, err := ParseOffsetMode(s)
		require.NoError(t, err)
		assert.Equal(t, want, m)
	}
	_, err := ParseOffsetMode("raft")
	assert.ErrorContains(t, err, `offset mode "raft"`)
}

func FuzzDecodeOffsetCommit(f *testing.F) {
	data, _ := EncodeOffsetCommit(OffsetCommit{Group: "g", Topic: "t", Offset: 3})
	f.Add(data)
	f.Add([]byte{OffsetCommitFormatV1})
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := DecodeOffsetCommit(b)
		if err != nil {
			require.ErrorIs(t, err, ErrCorrupt)
			return
		}
		again, err := EncodeOffsetCommit(c)
		require.NoError(t, err, "a decoded commit encodes")
		require.Equal(t, b, again, "one encoding per commit")
	})
}
