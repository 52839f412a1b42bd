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

// Early lets a leader whose Ready is being persisted push what was
// proposed meanwhile (thesis §10.2.1) and apply what a majority already
// made durable: the push of the second proposal leaves before the first
// Ready's fsync ends, the commit of an entry of an earlier Ready is
// handed out at once, and neither comes again in the next Ready.
func TestEarlyPushesAndAppliesWhileTheLeaderPersists(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	n := nw.nodes[lead]
	f1 := other(lead, nw.ids)
	idx1, _, err := n.Propose([]byte("one"))
	require.NoError(t, err)
	rd1 := n.Ready()
	nw.disks[lead].persist(rd1)
	n.Advance(rd1)
	var push1 Message
	for _, m := range rd1.Eager {
		if m.To == f1 {
			push1 = m
		}
	}
	require.Equal(t, MsgPush, push1.Type)

	idx2, _, err := n.Propose([]byte("two"))
	require.NoError(t, err)
	rd2 := n.Ready() // in flight from here on
	require.Len(t, rd2.Entries, 1)
	require.Equal(t, idx2, rd2.Entries[0].Index)
	assert.False(t, n.HasEarly(), "nothing new since rd2")

	// While rd2 is persisted: a third proposal, and f1's ack of entry 1.
	idx3, _, err := n.Propose([]byte("three"))
	require.NoError(t, err)
	require.True(t, n.HasEarly(), "the new proposal can be pushed now")
	e := n.Early()
	var pushed []uint64
	for _, m := range e.Eager {
		if m.To == f1 && m.Type == MsgPush {
			for _, ent := range m.Entries {
				pushed = append(pushed, ent.Index)
			}
		}
	}
	assert.Contains(t, pushed, idx3, "the third entry leaves before the leader persisted it")
	assert.Empty(t, e.Committed)

	nw.nodes[f1].Step(push1)
	frd := nw.nodes[f1].Ready()
	nw.disks[f1].persist(frd)
	nw.nodes[f1].Advance(frd)
	for _, m := range frd.Messages {
		n.Step(m)
	}
	require.Equal(t, idx1, n.log.committed)
	require.True(t, n.HasEarly())
	e = n.Early()
	require.Len(t, e.Committed, 1, "entry 1 is committed and durable here: applied before rd2's fsync")
	assert.Equal(t, idx1, e.Committed[0].Index)
	assert.Equal(t, idx1, n.log.applied)
	assert.False(t, n.HasEarly())

	nw.disks[lead].persist(rd2)
	n.Advance(rd2)
	rd3 := n.Ready()
	require.Len(t, rd3.Entries, 1)
	assert.Equal(t, idx3, rd3.Entries[0].Index)
	for _, ent := range rd3.Committed {
		assert.NotEqual(t, idx1, ent.Index, "Early handed entry 1 out already")
	}
	for _, m := range rd3.Eager {
		for _, ent := range m.Entries {
			assert.NotEqual(t, idx3, ent.Index, "entry 3 was pushed by Early")
		}
	}
}

// Early never hands out a committed entry this replica has not persisted:
// a follower told of entries and of their commit in one push applies
// them only after its fsync, even when a heartbeat repeats the commit
// while the Ready is in flight; a pending snapshot holds every commit
// back until the Ready that loads it is done.
func TestEarlyAppliesOnlyWhatIsDurableHere(t *testing.T) {
	n := newTestNode(t, 2)
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, Commit: 2,
		Entries: []Entry{{Index: 1, Term: 1, Data: []byte("a")}, {Index: 2, Term: 1, Data: []byte("b")}}})
	rd := n.Ready()
	require.Len(t, rd.Committed, 2)
	n.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 2})
	assert.False(t, n.HasEarly(), "entries 1 and 2 wait for rd's fsync")
	assert.Empty(t, n.Early().Committed)
	n.Advance(rd)
	assert.Equal(t, uint64(2), n.log.applied)

	// Entry 3 persisted in one Ready; its commit arrives while entry 4's
	// Ready is in flight.
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, LogIndex: 2, LogTerm: 1, Commit: 2,
		Entries: []Entry{{Index: 3, Term: 1, Data: []byte("c")}}})
	rd = n.Ready()
	n.Advance(rd)
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, LogIndex: 3, LogTerm: 1, Commit: 2,
		Entries: []Entry{{Index: 4, Term: 1, Data: []byte("d")}}})
	rd = n.Ready()
	n.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 4})
	require.True(t, n.HasEarly())
	e := n.Early()
	require.Len(t, e.Committed, 1, "entry 3 is durable; entry 4 is in flight")
	assert.Equal(t, uint64(3), e.Committed[0].Index)
	assert.Empty(t, e.Eager, "a follower has nothing to send early")
	n.Advance(rd)
	rd = n.Ready()
	require.Len(t, rd.Committed, 1)
	assert.Equal(t, uint64(4), rd.Committed[0].Index)
	n.Advance(rd)
	assert.Equal(t, uint64(4), n.log.applied)

	// A snapshot to load: nothing is applied before it.
	n.log.pendingSnapshot = Snapshot{Index: 4, Term: 1}
	assert.Zero(t, n.earlyCommitEnd())
}
