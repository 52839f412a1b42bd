package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A caller may keep stepping while a Ready is being persisted (doc.go):
// what the steps produce waits for the next Ready, after the first is
// durable. Here a follower persisting entries 1..2 of term 1 hears from a
// new leader of term 2 whose log replaces entry 2 (§5.3): the ack for the
// new entries leaves only with the next Ready, whose entries are the
// replacements, and Advance of the first marks only entry 1 stable.
func TestStepWhileAReadyIsPersisted(t *testing.T) {
	n := newTestNode(t, 2)
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, Entries: []Entry{{Index: 1, Term: 1, Data: []byte("a")}, {Index: 2, Term: 1, Data: []byte("b")}}})
	rd1 := n.Ready()
	require.Len(t, rd1.Entries, 2)
	require.Len(t, rd1.Messages, 1, "the ack of 1..2 waits for their fsync")

	// While rd1 is persisted: a leader of term 2 replaces entry 2.
	n.Step(Message{Type: MsgPush, From: 3, To: 2, Term: 2, LogIndex: 1, LogTerm: 1,
		Entries: []Entry{{Index: 2, Term: 2, Data: []byte("B")}, {Index: 3, Term: 2, Data: []byte("C")}}, Commit: 1})
	n.Tick()
	n.Advance(rd1)
	assert.Equal(t, uint64(1), n.log.stabled, "entry 2 of term 1 was replaced: only entry 1 is stable")

	rd2 := n.Ready()
	require.Len(t, rd2.Entries, 2, "the replacements are written next")
	assert.Equal(t, Entry{Index: 2, Term: 2, Data: []byte("B")}, rd2.Entries[0])
	assert.True(t, rd2.HardStateChanged, "term 2 is persisted with them")
	assert.Equal(t, uint64(2), rd2.HardState.Term)
	for _, m := range rd2.Eager {
		assert.NotEqual(t, MsgPushResp, m.Type, "no ack before the fsync")
	}
	var ack *Message
	for i, m := range rd2.Messages {
		if m.Type == MsgPushResp && m.To == 3 {
			ack = &rd2.Messages[i]
		}
	}
	require.NotNil(t, ack, "the ack to the new leader leaves after rd2 is durable")
	assert.Equal(t, uint64(3), ack.Index)
	require.Len(t, rd2.Committed, 1)
	assert.Equal(t, uint64(1), rd2.Committed[0].Index, "entry 1 is committed, and it is below rd2's entries: durable already")
	n.Advance(rd2)
	assert.Equal(t, uint64(3), n.log.stabled)
	assert.Equal(t, uint64(1), n.log.applied)
}

// A leader that keeps taking proposals and acks while its Ready is being
// persisted batches the new proposals into the next Ready, and commits
// only what a majority persisted: the followers' acks for the first
// Ready's entries count while the leader's own copy is still in flight,
// because two of three brokers have them.
func TestLeaderStepsWhileItPersists(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	n := nw.nodes[lead]
	f1 := other(lead, nw.ids)
	idx, _, err := n.Propose([]byte("one"))
	require.NoError(t, err)
	rd1 := n.Ready()
	require.Len(t, rd1.Entries, 1)

	// In flight: a second proposal, and one follower persists and acks
	// the first entry.
	idx2, _, err := n.Propose([]byte("two"))
	require.NoError(t, err)
	var push Message
	for _, m := range rd1.Eager {
		if m.To == f1 {
			push = m
		}
	}
	nw.nodes[f1].Step(push)
	frd := nw.nodes[f1].Ready()
	nw.disks[f1].persist(frd)
	nw.nodes[f1].Advance(frd)
	for _, m := range frd.Messages {
		n.Step(m)
	}
	assert.Less(t, n.log.committed, idx, "one follower and a leader whose copy is not durable yet are not a majority")

	nw.disks[lead].persist(rd1)
	n.Advance(rd1)
	assert.Equal(t, idx, n.log.committed, "the leader's own persist completes the majority")
	rd2 := n.Ready()
	require.Len(t, rd2.Entries, 1, "the proposal taken in flight is written next")
	assert.Equal(t, idx2, rd2.Entries[0].Index)
	require.NotEmpty(t, rd2.Committed)
	assert.Equal(t, idx, rd2.Committed[len(rd2.Committed)-1].Index)
	assert.Less(t, rd2.Committed[len(rd2.Committed)-1].Index, rd2.Entries[0].Index, "what is committed is below the entries in flight: it can be applied before their fsync")
}

// DurableCommitted counts the committed entries an earlier Ready
// persisted: a follower told in one push of entries and of their commit
// must persist them before applying them; once they are durable, a
// Ready without entries applies at once.
func TestDurableCommittedAreThoseBelowTheEntries(t *testing.T) {
	n := newTestNode(t, 2)
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, Commit: 2,
		Entries: []Entry{{Index: 1, Term: 1, Data: []byte("a")}, {Index: 2, Term: 1, Data: []byte("b")}}})
	rd := n.Ready()
	require.Len(t, rd.Entries, 2)
	require.Len(t, rd.Committed, 2)
	assert.Zero(t, rd.DurableCommitted(), "entries 1 and 2 are in this Ready: applied after its fsync")
	n.Advance(rd)
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, LogIndex: 2, LogTerm: 1, Commit: 3,
		Entries: []Entry{{Index: 3, Term: 1, Data: []byte("c")}}})
	rd = n.Ready()
	require.Len(t, rd.Committed, 1)
	assert.Zero(t, rd.DurableCommitted(), "entry 3 too")
	n.Advance(rd)
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, LogIndex: 3, LogTerm: 1, Commit: 3,
		Entries: []Entry{{Index: 4, Term: 1, Data: []byte("d")}}})
	rd = n.Ready()
	require.Len(t, rd.Entries, 1)
	require.Empty(t, rd.Committed)
	n.Advance(rd)
	n.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 4})
	rd = n.Ready()
	require.Empty(t, rd.Entries)
	require.Len(t, rd.Committed, 1)
	assert.Equal(t, 1, rd.DurableCommitted(), "entry 4 was persisted by an earlier Ready: applied at once")
}
