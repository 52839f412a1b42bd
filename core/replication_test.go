package core

import (
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seed's two phases: the leader appends a produced message as
// uncommitted, pushes it, and marks it committed once a majority (leader
// included) has persisted it; followers learn the commit index later.
// Reference: §5.3.
func TestEntryCommitsAfterMajorityPersisted(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	n := nw.nodes[lead]
	f1, f2 := other(lead, nw.ids), other2(lead, other(lead, nw.ids), nw.ids)
	base := n.log.committed

	idx, term, err := n.Propose([]byte("order-1"))
	require.NoError(t, err)
	assert.Equal(t, n.term, term)
	assert.Equal(t, base, n.log.committed, "phase one: uncommitted right after Propose")

	// The leader's Ready pushes the entry to both followers before its own
	// fsync (thesis §10.2.1) and hands the entry out for persisting.
	rd := n.Ready()
	require.Len(t, rd.Eager, 2)
	assert.Equal(t, MsgPush, rd.Eager[0].Type)
	require.Len(t, rd.Entries, 1)
	nw.disks[lead].persist(rd)
	n.Advance(rd)
	assert.Equal(t, base, n.log.committed, "the leader's own copy is not a majority")

	// Follower 1 receives, persists, then acks: now 2 of 3 have it.
	nw.nodes[f1].Step(rd.Eager[0])
	frd := nw.nodes[f1].Ready()
	require.Len(t, frd.Entries, 1, "the follower hands the entry out for persisting")
	assert.Empty(t, frd.Eager, "the ack must wait for the follower's persist")
	require.Len(t, frd.Messages, 1)
	ack := frd.Messages[0]
	assert.Equal(t, MsgPushResp, ack.Type)
	assert.Equal(t, idx, ack.Index)
	nw.disks[f1].persist(frd)
	nw.nodes[f1].Advance(frd)
	assert.Less(t, nw.nodes[f1].log.committed, idx, "the follower does not know yet")

	n.Step(ack)
	assert.Equal(t, idx, n.log.committed, "phase two: committed on a majority")
	assert.Less(t, nw.nodes[f2].log.committed, idx, "follower 2 never got it, and that is fine")
	rd = n.Ready()
	require.NotEmpty(t, rd.Committed)
	assert.Equal(t, "order-1", string(rd.Committed[len(rd.Committed)-1].Data), "committed entries are handed out to apply")
	n.Advance(rd)

	// Followers learn the commit index from the next heartbeat.
	nw.tick(n.cfg.HeartbeatTicks)
	assert.Equal(t, idx, nw.nodes[f1].log.committed)
}

// A follower acknowledges a push only after persisting it. With
// Rules.AckBeforePersist the ack leaves before the fsync (Ready.Eager).
func TestFollowerAcksOnlyAfterPersist(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		n := newTestNode(t, 2, func(c *Config) { c.Rules.AckBeforePersist = unsafe })
		n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, Entries: []Entry{{Index: 1, Term: 1, Data: []byte("m")}}})
		rd := n.Ready()
		require.Len(t, rd.Entries, 1)
		ackEarly := len(rd.Eager) == 1 && rd.Eager[0].Type == MsgPushResp
		ackLate := len(rd.Messages) == 1 && rd.Messages[0].Type == MsgPushResp
		assert.Equal(t, unsafe, ackEarly, "ack before persist only with the rule off")
		assert.Equal(t, !unsafe, ackLate)
	}
}

// Only entries from the leader's current term are committed by counting
// replicas; older entries commit with them (Figure 8). Reference: §5.4.2.
// With Rules.CommitOldTerms the Figure 8 scenario truncates a committed
// entry.
func TestLeaderOnlyCommitsLogFromCurrentTerm(t *testing.T) {
	for _, unsafe := range []bool{false, true} {
		t.Run(fmt.Sprintf("CommitOldTerms=%v", unsafe), func(t *testing.T) {
			// Figure 8 (c): S1 leads in term 4 with 2@t2 on S1, S2; S5 holds
			// 2@t3 from its short reign in term 3.
			logs := map[NodeID][]Entry{
				1: {{Index: 1, Term: 1}, {Index: 2, Term: 2}},
				2: {{Index: 1, Term: 1}, {Index: 2, Term: 2}},
				3: {{Index: 1, Term: 1}},
				4: {{Index: 1, Term: 1}},
				5: {{Index: 1, Term: 1}, {Index: 2, Term: 3}},
			}
			nw := newNetwork(t, 5, func(c *Config) {
				c.DisablePreVote, c.DisableCheckQuorum = true, true
				c.Rules.CommitOldTerms = unsafe
				c.MaxPushEntries = 1
			})
			for id, l := range logs {
				nw.disks[id].ents = l
				nw.disks[id].hs = HardState{Term: 3, Commit: 1}
				nw.restart(id)
			}
			// S1 campaigns in term 4 with S2, S3; S5 is away.
			nw.isolate(5)
			nw.filter = func(m Message) bool { // S1's no-op (term 4) never lands
				return m.Type == MsgPush && len(m.Entries) > 0 && m.Entries[0].Term == 4 &&
					nw.nodes[m.To].log.lastIndex() >= 2
			}
			nw.campaign(1)
			require.Equal(t, NodeID(1), nw.leader())
			nw.tick(20)
			require.Equal(t, []uint64{1, 2}, nw.logTerms(3), "2@t2 now sits on a majority (S1, S2, S3)")
			if !unsafe {
				assert.Equal(t, uint64(1), nw.nodes[1].log.committed, "2@t2 is on a majority but is not from term 4: not committed")
			} else {
				assert.Equal(t, uint64(2), nw.nodes[1].log.committed, "the unsafe rule counts 2@t2 as committed")
			}
			// S1 crashes; S5 (last entry 2@t3) wins and overwrites index 2.
			nw.crash(1)
			nw.recover()
			nw.filter = nil
			nw.campaign(5)
			require.Equal(t, NodeID(5), nw.leader())
			nw.tick(20)
			lost := nw.nodes[2].log.lostCommitted + nw.nodes[3].log.lostCommitted
			if unsafe {
				assert.Positive(t, lost, "Figure 8 (d): a committed entry was overwritten")
				var sawCommittedLoss bool
				for _, e := range nw.eventsOf(EventTruncated) {
					sawCommittedLoss = sawCommittedLoss || strings.Contains(e.Detail, "COMMITTED")
				}
				assert.True(t, sawCommittedLoss)
			} else {
				assert.Zero(t, lost)
				assert.Equal(t, []uint64{1, 3, 5}, nw.logTerms(2), "the uncommitted 2@t2 was safely replaced")
			}
		})
	}
}

// A new leader appends a no-op of its term, so earlier entries commit
// without waiting for a client. Reference: §5.4.2, §8.
func TestNewLeaderAppendsNoOp(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	e := nw.nodes[lead].Entries(1, 2)
	require.Len(t, e, 1)
	assert.Equal(t, EntryNoOp, e[0].Type)
	assert.Equal(t, nw.nodes[lead].term, e[0].Term)
	nw.tick(10)
	for _, id := range nw.ids {
		assert.Equal(t, uint64(1), nw.nodes[id].log.committed, "broker %d", id)
	}
}

// Followers learn the commit index from heartbeats, capped at what they
// hold. Reference: §5.3 "the leader keeps track of the highest index it
// knows to be committed, and includes that index in future AppendEntries
// RPCs (including heartbeats)".
func TestFollowerLearnsCommitFromHeartbeat(t *testing.T) {
	n := newTestNode(t, 2)
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 1, Entries: []Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}}})
	readyMessages(n)
	assert.Zero(t, n.log.committed)
	n.Step(Message{Type: MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 2})
	assert.Equal(t, uint64(2), n.log.committed)
	msgs := readyMessages(n)
	require.Len(t, msgs, 1)
	assert.Equal(t, MsgHeartbeatResp, msgs[0].Type)
}

// A follower whose log diverges rejects a push with a hint (the term at the
// conflict and its first index there), so the leader backs up one term per
// round trip, not one entry; the follower then truncates its uncommitted
// suffix. Reference: §5.3 (closing paragraph).
func TestLogRepairUsesConflictHint(t *testing.T) {
	// S1 and S3 hold 50 entries of term 3 after index 1; S2 holds 50
	// uncommitted entries of term 2 at the same indexes.
	s1 := []Entry{{Index: 1, Term: 1}}
	s2 := []Entry{{Index: 1, Term: 1}}
	for i := uint64(2); i <= 51; i++ {
		s1 = append(s1, Entry{Index: i, Term: 3})
		s2 = append(s2, Entry{Index: i, Term: 2})
	}
	nw := newNetwork(t, 3, func(c *Config) { c.DisablePreVote = true })
	nw.disks[1].ents, nw.disks[1].hs = s1, HardState{Term: 3, Commit: 1}
	nw.disks[2].ents, nw.disks[2].hs = s2, HardState{Term: 2, Commit: 1}
	nw.disks[3].ents, nw.disks[3].hs = slices.Clone(s1), HardState{Term: 3, Commit: 1}
	for _, id := range nw.ids {
		nw.restart(id)
	}
	nw.campaign(1)
	require.Equal(t, NodeID(1), nw.leader())
	nw.tick(10)
	assert.Equal(t, nw.logTerms(1), nw.logTerms(2), "S2's log was repaired")
	assert.LessOrEqual(t, len(nw.eventsOf(EventPushRejected)), 3, "a round trip per conflicting term, not one per entry (50)")
	trunc := nw.eventsOf(EventTruncated)
	require.Len(t, trunc, 1)
	assert.Equal(t, NodeID(2), trunc[0].Node)
	assert.Equal(t, uint64(2), trunc[0].Index)
}

// Committed entries are never truncated: a push that would do so panics
// with the state that broke (it can only come from a broken leader).
func TestCommittedEntryIsNeverTruncated(t *testing.T) {
	n := newTestNode(t, 2, func(c *Config) {
		c.Storage = &memStorage{hs: HardState{Term: 1, Commit: 2}, ents: []Entry{{Index: 1, Term: 1}, {Index: 2, Term: 1}}}
	})
	assert.PanicsWithValue(t, "truncating committed entry 2 (committed=2, last=2)", func() {
		n.log.maybeAppend(1, 1, []Entry{{Index: 2, Term: 2}})
	})
	assert.Panics(t, func() {
		n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 2, LogIndex: 1, LogTerm: 1, Entries: []Entry{{Index: 2, Term: 2}}})
	})
}

// The leader pipelines: several pushes in flight to one follower, each a
// batch of entries.
func TestLeaderPipelinesAndBatchesPushes(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.MaxPushEntries = 4; c.MaxInflight = 3 })
	lead := nw.electLeader()
	nw.tick(10)
	n := nw.nodes[lead]
	for i := range 20 {
		_, _, err := n.Propose(fmt.Appendf(nil, "m%d", i))
		require.NoError(t, err)
	}
	rd := n.Ready()
	perFollower := map[NodeID][]int{}
	for _, m := range rd.Eager {
		if m.Type == MsgPush {
			perFollower[m.To] = append(perFollower[m.To], len(m.Entries))
		}
	}
	for id, batches := range perFollower {
		assert.Equal(t, []int{4, 4, 4}, batches, "follower %d: 3 pushes in flight of 4 entries each", id)
	}
	n.Advance(rd)
	nw.queue = append(nw.queue, rd.Eager...)
	nw.deliver()
	assert.Equal(t, n.log.lastIndex(), n.log.committed, "the rest follows as acks free the window")
	nw.tick(5)
	for _, id := range nw.ids {
		assert.Equal(t, nw.logTerms(lead), nw.logTerms(id))
	}
}

// Lost pushes do not stall replication: a heartbeat answer from a lagging
// follower frees the window and the leader resends.
func TestReplicationRecoversFromLostPushes(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.MaxInflight = 2 })
	lead := nw.electLeader()
	nw.tick(10)
	nw.drop[MsgPush] = true
	for i := range 10 {
		_, err := nw.propose(lead, fmt.Sprint(i))
		require.NoError(t, err)
	}
	nw.recover()
	nw.tick(30)
	for _, id := range nw.ids {
		assert.Equal(t, nw.nodes[lead].log.lastIndex(), nw.nodes[id].log.committed, "broker %d", id)
	}
}

// Only the leader takes proposals.
func TestFollowerRefusesProposal(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	_, _, err := nw.nodes[other(lead, nw.ids)].Propose([]byte("x"))
	assert.ErrorIs(t, err, ErrNotLeader)
	assert.Equal(t, lead, nw.nodes[other(lead, nw.ids)].Status().Lead, "the follower says who leads")
}

// One limit, defined once: the leader refuses data over MaxEntryBytes before
// it enters the log, and a follower drops a push carrying such an entry
// (from a leader configured otherwise, or a hostile peer) instead of
// handing it to a CommitLog that cannot hold it.
func TestEntryOverTheLimitNeverEntersALog(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.MaxEntryBytes = 100 })
	lead := nw.electLeader()
	last := nw.nodes[lead].log.lastIndex()
	_, _, err := nw.nodes[lead].Propose(make([]byte, 101))
	require.ErrorIs(t, err, ErrEntryTooLarge)
	assert.Contains(t, err.Error(), "101 bytes, limit 100")
	assert.Equal(t, last, nw.nodes[lead].log.lastIndex(), "nothing was appended")
	_, err = nw.propose(lead, string(make([]byte, 100)))
	require.NoError(t, err, "exactly the limit is accepted")

	f := other(lead, nw.ids)
	st := nw.nodes[f].Status()
	nw.nodes[f].Ready() // drop earlier events
	nw.nodes[f].Step(Message{Type: MsgPush, From: lead, To: f, Term: st.Term, LogIndex: st.LastIndex, LogTerm: st.LastTerm,
		Entries: []Entry{{Index: st.LastIndex + 1, Term: st.Term, Data: make([]byte, 101)}}})
	rd := nw.nodes[f].Ready()
	require.NotEmpty(t, rd.Events)
	assert.Equal(t, EventDropped, rd.Events[len(rd.Events)-1].Kind)
	assert.Contains(t, rd.Events[len(rd.Events)-1].Detail, "101 bytes, over the 100-byte limit")
	assert.Empty(t, rd.Entries, "the follower appends nothing")
	assert.Equal(t, st.LastIndex, nw.nodes[f].Status().LastIndex)
}

// A single broker commits on its own disk.
func TestSingleBrokerCommitsAfterPersist(t *testing.T) {
	nw := newNetwork(t, 1)
	nw.electLeader()
	idx, err := nw.propose(1, "solo")
	require.NoError(t, err)
	assert.Equal(t, idx, nw.nodes[1].log.committed)
}

// A restarted broker recovers term, vote, log and commit index from its disk.
func TestRestartRecoversDurableState(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	for i := range 5 {
		_, err := nw.propose(lead, fmt.Sprint(i))
		require.NoError(t, err)
	}
	nw.tick(10)
	f := other(lead, nw.ids)
	before := nw.nodes[f].Status()
	nw.crash(f)
	nw.restart(f)
	after := nw.nodes[f].Status()
	assert.Equal(t, before.Term, after.Term)
	assert.Equal(t, before.LastIndex, after.LastIndex)
	assert.Equal(t, before.Commit, after.Commit)
	assert.Equal(t, RoleFollower, after.Role)
	nw.tick(20)
	assert.Equal(t, lead, nw.nodes[f].Status().Lead)
}

// Bad input: unknown senders, stale terms and malformed pushes are dropped
// with an event, never a panic.
func TestStepDropsBadMessages(t *testing.T) {
	cases := []struct {
		name string
		m    Message
		want string
	}{
		{"unknown sender", Message{Type: MsgHeartbeat, From: 9, To: 1, Term: 1}, "not a peer"},
		{"wrong recipient", Message{Type: MsgHeartbeat, From: 2, To: 3, Term: 1}, "addressed to broker 3"},
		{"unknown type", Message{Type: 99, From: 2, To: 1, Term: 1}, "unknown message type"},
		{"term 0", Message{Type: MsgVote, From: 2, To: 1}, "term 0"},
		{"gap in entries", Message{Type: MsgPush, From: 2, To: 1, Term: 1, Entries: []Entry{{Index: 2, Term: 1}}}, "want 1"},
		{"entry from the future", Message{Type: MsgPush, From: 2, To: 1, Term: 1, Entries: []Entry{{Index: 1, Term: 5}}}, "outside"},
		{"stale term", Message{Type: MsgVote, From: 2, To: 1, Term: 1}, "stale term"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			n := newTestNode(t, 1, func(c *Config) {
				c.Storage = &memStorage{hs: HardState{Term: 2}}
				if tc.name != "stale term" {
					c.Storage = nil
				}
			})
			require.NotPanics(t, func() { n.Step(tc.m) })
			rd := n.Ready()
			require.NotEmpty(t, rd.Events)
			last := rd.Events[len(rd.Events)-1]
			assert.Equal(t, EventDropped, last.Kind)
			assert.Contains(t, last.Detail, tc.want)
		})
	}
}

// Config errors say what is wrong.
func TestConfigValidation(t *testing.T) {
	cases := []struct {
		name string
		mod  func(*Config)
		want string
	}{
		{"id not a peer", func(c *Config) { c.ID = 9 }, "ID 9 is not in Peers"},
		{"duplicate peer", func(c *Config) { c.Peers = []NodeID{1, 1} }, "twice"},
		{"zero heartbeat", func(c *Config) { c.HeartbeatTicks = 0 }, "HeartbeatTicks"},
		{"election below heartbeat", func(c *Config) { c.ElectionTicksMin = 2 }, "must exceed"},
		{"max below min", func(c *Config) { c.ElectionTicksMax = 1 }, "below"},
	}
	for _, tc := range cases {
		c := DefaultConfig(1, []NodeID{1, 2, 3}, 1)
		tc.mod(&c)
		_, err := NewNode(c)
		assert.ErrorIs(t, err, ErrConfig, tc.name)
		assert.ErrorContains(t, err, tc.want, tc.name)
	}
}

// A restarted replica with a long committed log hands it out to apply a
// bounded batch per Ready (Config.MaxCommittedBytesPerReady), in order and
// each entry once, and ticks between the batches: its election timer runs
// while it catches up, so a broker replaying its log can still vote and
// campaign. An entry larger than the bound still goes out, alone.
func TestCommittedEntriesAreAppliedInBoundedBatches(t *testing.T) {
	st := &memStorage{hs: HardState{Term: 1, Commit: 100}}
	for i := uint64(1); i <= 100; i++ {
		size := 100
		if i == 50 {
			size = 2500 // over the bound by itself
		}
		st.ents = append(st.ents, Entry{Index: i, Term: 1, Data: make([]byte, size)})
	}
	n := newTestNode(t, 2, func(c *Config) { c.Storage = st; c.MaxCommittedBytesPerReady = 1000 })
	var applied []uint64
	var batches []int
	for n.HasReady() {
		rd := n.Ready()
		size := 0
		for _, e := range rd.Committed {
			applied = append(applied, e.Index)
			size += len(e.Data)
		}
		if len(rd.Committed) > 1 {
			assert.LessOrEqual(t, size, 1000)
		}
		batches = append(batches, len(rd.Committed))
		n.Advance(rd)
		n.Tick() // time goes on between batches
	}
	require.Len(t, applied, 100)
	for i, idx := range applied {
		require.Equal(t, uint64(i+1), idx)
	}
	assert.Equal(t, []int{10, 10, 10, 10, 9, 1, 10, 10, 10, 10, 10}, batches)
	assert.Equal(t, 11, n.Status().ElectionElapsed, "the election timer ran during the replay")

	// Without a bound, one Ready hands out everything.
	m := newTestNode(t, 2, func(c *Config) { c.Storage = st })
	assert.Len(t, m.Ready().Committed, 100)
}

// memBytes is the entry data a replica holds in memory. It also checks the
// log's count of the persisted part.
func memBytes(t *testing.T, n *Node) int {
	size, stable := 0, 0
	for _, e := range n.log.mem {
		size += len(e.Data)
		if e.Index <= n.log.stabled {
			stable += len(e.Data)
		}
	}
	require.Equal(t, stable, n.log.cached, "the log's count of cached bytes")
	return size
}

// A replica keeps in memory its unpersisted entries and at most
// LogCacheBytes of persisted ones; the rest is read from Storage. A
// follower that was away catches up from entries the leader reads back
// from its disk, in pushes of the usual size, and every log ends the same.
func TestLogMemoryIsBoundedAndFollowersCatchUpFromStorage(t *testing.T) {
	const cache = 2000
	nw := newNetwork(t, 3, func(c *Config) { c.LogCacheBytes = cache; c.MaxPushEntries = 16 })
	lead := nw.electLeader()
	away := NodeID(1)
	if away == lead {
		away = 2
	}
	nw.isolate(away)
	for i := range 300 {
		_, err := nw.propose(lead, fmt.Sprintf("message %03d of a long log", i))
		require.NoError(t, err)
	}
	l := nw.nodes[lead]
	assert.LessOrEqual(t, memBytes(t, l), cache, "the leader's memory holds the cache, not the log")
	assert.Greater(t, l.log.first, uint64(200), "old entries left memory")
	readsBefore := nw.disks[lead].reads

	nw.recover()
	nw.tickUntil(200, "the follower caught up", func() bool {
		return nw.nodes[away].Status().Commit == l.Status().Commit
	})
	assert.Greater(t, nw.disks[lead].reads, readsBefore, "the leader read old entries back from its disk")
	want := nw.logTerms(lead)
	for _, id := range nw.ids {
		assert.Equal(t, want, nw.logTerms(id), "broker %d", id)
		assert.LessOrEqual(t, memBytes(t, nw.nodes[id]), cache, "broker %d", id)
		got := nw.nodes[id].Entries(1, 400)
		require.Len(t, got, len(want))
		for i, e := range got {
			if e.Type == EntryNormal {
				assert.Regexp(t, `^message \d{3} of a long log$`, string(e.Data), "broker %d entry %d", id, i+1)
			}
		}
	}
}

// A restarted replica resumes applying after Config.Applied: what its
// broker's state already holds is not handed out again; Applied past the
// stored commit index is refused.
func TestRestartResumesApplyingAfterApplied(t *testing.T) {
	st := &memStorage{hs: HardState{Term: 1, Commit: 8}}
	for i := uint64(1); i <= 10; i++ {
		st.ents = append(st.ents, Entry{Index: i, Term: 1, Data: []byte{byte(i)}})
	}
	n := newTestNode(t, 2, func(c *Config) { c.Storage = st; c.Applied = 5 })
	rd := n.Ready()
	require.Len(t, rd.Committed, 3)
	assert.Equal(t, uint64(6), rd.Committed[0].Index)
	assert.Equal(t, uint64(8), rd.Committed[2].Index)

	c := DefaultConfig(2, []NodeID{1, 2, 3}, 1)
	c.Storage, c.Applied = st, 9
	_, err := NewNode(c)
	assert.ErrorContains(t, err, "Applied 9 is past the stored commit index 8")
}

// The outbox arrays a Ready hands out are reused two Readies later; by then
// the slots they held are cleared, so an old push does not keep its
// entries (and the log array they point into) in memory.
func TestReusedOutboxHoldsNoOldEntries(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	for i := range 20 {
		_, err := nw.propose(lead, fmt.Sprintf("m%d", i))
		require.NoError(t, err)
	}
	n := nw.nodes[lead]
	for range 3 {
		nw.tick(1)
	}
	for _, arr := range [][]Message{n.eager, n.msgs} {
		for i, m := range arr[len(arr):cap(arr)] {
			assert.Nil(t, m.Entries, "slot %d past the outbox's length still holds a push", len(arr)+i)
		}
	}
}
