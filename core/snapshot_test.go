package core

import (
	"bytes"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// snapshotNetwork is a 3-broker group whose snapshots travel in chunks of
// 7 bytes, with broker away (isolated) while the leader writes n entries
// and compacts its log at the last of them. It returns the leader and the
// snapshot.
func snapshotNetwork(t *testing.T, n int) (nw *network, lead, away NodeID, snap Snapshot) {
	nw = newNetwork(t, 3, func(c *Config) { c.MaxSnapshotChunkBytes = 7 })
	lead = nw.electLeader()
	away = 1
	if away == lead {
		away = 2
	}
	nw.isolate(away)
	for i := range n {
		_, err := nw.propose(lead, fmt.Sprintf("m%02d", i))
		require.NoError(t, err)
	}
	l := nw.nodes[lead]
	applied := l.Status().Applied
	require.Equal(t, l.Status().Commit, applied)
	snap, err := l.Compact(applied, []byte(fmt.Sprintf("state machine at %d: 0123456789abcdef", applied)))
	require.NoError(t, err)
	nw.disks[lead].compact(snap)
	return nw, lead, away, snap
}

// §7: a follower that needs entries the leader has compacted receives the
// leader's snapshot in chunks (Figure 13), installs it, and takes the
// entries after it by pushes: every log agrees from the snapshot on, and
// the follower's state machine is loaded from the snapshot's data.
func TestSnapshotBringsBackAFollowerTheLeaderCompactedPast(t *testing.T) {
	nw, lead, away, snap := snapshotNetwork(t, 30)
	assert.Empty(t, nw.nodes[lead].Entries(1, snap.Index+1), "entries up to the snapshot are gone")
	_, err := nw.propose(lead, "after the snapshot")
	require.NoError(t, err)

	nw.recover()
	nw.tickUntil(100, "the follower catches up", func() bool {
		return nw.nodes[away].Status().Commit == nw.nodes[lead].Status().Commit
	})
	require.Len(t, nw.installed[away], 1, "one snapshot installed")
	assert.Equal(t, snap, nw.installed[away][0])
	assert.Greater(t, nw.sent[MsgSnapshot], 2, "the snapshot travelled in chunks")
	assert.NotEmpty(t, nw.eventsOf(EventSnapshotSent))
	assert.NotEmpty(t, nw.eventsOf(EventSnapshotInstalled))
	f := nw.nodes[away]
	assert.Equal(t, snap.Index, f.LastSnapshot().Index)
	assert.Equal(t, nw.logTerms(lead), nw.logTerms(away), "the logs agree after the snapshot")
	got := f.Entries(1, 1000)
	require.NotEmpty(t, got)
	assert.Equal(t, snap.Index+1, got[0].Index)
	assert.Equal(t, "after the snapshot", string(got[len(got)-1].Data))
	assert.Equal(t, snap.Index, nw.disks[away].snap.Index, "the snapshot is on the follower's disk")

	// A restart from that disk resumes from the snapshot; its state
	// machine must be loaded from it.
	nw.crash(away)
	_, err = NewNode(Config{ID: away, Peers: nw.ids, Storage: nw.disks[away], HeartbeatTicks: 5, ElectionTicksMin: 15, ElectionTicksMax: 30, MaxInflight: 8, MaxPushEntries: 64, MaxPushBytes: 1 << 20, Applied: 0})
	assert.ErrorContains(t, err, "below the stored snapshot's index")
	nw.restart(away)
	assert.Equal(t, snap.Index, nw.nodes[away].Status().Applied)
	_, err = nw.propose(lead, "after the restart")
	require.NoError(t, err)
	nw.tick(10)
	assert.Equal(t, nw.logTerms(lead), nw.logTerms(away))
}

// §7: a chunk that is lost does not restart the transfer: the follower
// answers with the offset it needs, and the leader goes on from there.
func TestSnapshotTransferResumesAfterALostChunk(t *testing.T) {
	nw, lead, away, snap := snapshotNetwork(t, 30)
	dropped := 0
	var sentBytes int
	nw.filter = func(m Message) bool {
		if m.Type == MsgSnapshot {
			sentBytes += len(m.Chunk)
			if m.Index == 14 && dropped == 0 {
				dropped++
				return true
			}
		}
		return false
	}
	nw.recover()
	nw.tickUntil(200, "the follower installs the snapshot", func() bool { return len(nw.installed[away]) == 1 })
	assert.Equal(t, 1, dropped)
	assert.Equal(t, snap.Data, nw.installed[away][0].Data, "the data arrived whole and in order")
	assert.Less(t, sentBytes, 2*len(snap.Data), "resumed from the lost chunk, not from the start")
	_ = lead
}

// Figure 13, "Reply immediately if ... (stale)": a snapshot whose last
// entry is at or below the follower's commit index changes nothing; the
// follower answers where it is.
func TestStaleSnapshotIsIgnored(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	for i := range 5 {
		_, err := nw.propose(lead, fmt.Sprintf("m%d", i))
		require.NoError(t, err)
	}
	f := nw.nodes[NodeID(1+int(lead)%3)]
	before := f.Status()
	logBefore := nw.logTerms(f.ID())
	f.Step(Message{Type: MsgSnapshot, From: lead, To: f.ID(), Term: before.Term, LogIndex: 2, LogTerm: 1, Chunk: []byte("old"), Done: true})
	rd := f.Ready()
	assert.True(t, rd.Snapshot.IsZero(), "nothing to install")
	require.Len(t, rd.Messages, 1)
	assert.Equal(t, MsgPushResp, rd.Messages[0].Type)
	assert.Equal(t, before.Commit, rd.Messages[0].Index)
	f.Advance(rd)
	assert.Equal(t, logBefore, nw.logTerms(f.ID()))
}

// followerWithLog returns broker 2 of {1,2,3}, following broker 1 in term
// 3, holding entries with the given terms (unpersisted ones persisted).
func followerWithLog(t *testing.T, terms ...uint64) (*Node, *memStorage) {
	disk := &memStorage{}
	n, err := NewNode(func() Config { c := DefaultConfig(2, []NodeID{1, 2, 3}, 1); c.Storage = disk; return c }())
	require.NoError(t, err)
	var ents []Entry
	for i, term := range terms {
		ents = append(ents, Entry{Index: uint64(i + 1), Term: term, Data: []byte{byte(i)}})
	}
	n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 3, Entries: ents, Commit: 1})
	rd := n.Ready()
	disk.persist(rd)
	n.Advance(rd)
	return n, disk
}

// installSnapshot sends s to n in one chunk from broker 1 and returns the
// Ready that follows.
func installSnapshot(n *Node, s Snapshot) Ready {
	n.Step(Message{Type: MsgSnapshot, From: 1, To: n.ID(), Term: 3, LogIndex: s.Index, LogTerm: s.Term, Chunk: s.Data, Done: true})
	return n.Ready()
}

// Figure 13 step 6: if the follower holds the snapshot's last entry (same
// index and term), it keeps the entries that follow it; steps 7–8: if not
// (a conflicting log), it discards its entire log and loads the snapshot.
func TestSnapshotWithAConflictingLog(t *testing.T) {
	t.Run("log holds the snapshot's last entry", func(t *testing.T) {
		n, disk := followerWithLog(t, 1, 1, 2, 2, 3)
		rd := installSnapshot(n, Snapshot{Index: 3, Term: 2, Data: []byte("s")})
		assert.True(t, rd.Snapshot.IsZero(), "nothing to load: the log already holds it")
		require.NotEmpty(t, rd.Messages)
		assert.Equal(t, uint64(3), rd.Messages[len(rd.Messages)-1].Index)
		disk.persist(rd)
		n.Advance(rd)
		st := n.Status()
		assert.Equal(t, uint64(5), st.LastIndex, "the entries after it are kept")
		assert.Equal(t, uint64(3), st.Commit)
	})
	t.Run("log conflicts with the snapshot", func(t *testing.T) {
		n, disk := followerWithLog(t, 1, 1, 1, 1, 1)
		s := Snapshot{Index: 4, Term: 2, Data: []byte("state")}
		rd := installSnapshot(n, s)
		assert.Equal(t, s, rd.Snapshot, "the caller loads the snapshot")
		assert.Empty(t, rd.Committed, "nothing before it is applied")
		disk.persist(rd)
		n.Advance(rd)
		st := n.Status()
		assert.Equal(t, uint64(4), st.LastIndex, "the whole log is gone, entry 5 included")
		assert.Equal(t, uint64(4), st.Commit)
		assert.Equal(t, uint64(4), st.Applied)
		assert.Empty(t, n.Entries(1, 10))
		// The next push builds on the snapshot's last entry.
		n.Step(Message{Type: MsgPush, From: 1, To: 2, Term: 3, LogIndex: 4, LogTerm: 2, Entries: []Entry{{Index: 5, Term: 3}}, Commit: 5})
		rd = n.Ready()
		require.NotEmpty(t, rd.Messages)
		assert.False(t, rd.Messages[0].Reject)
		assert.Equal(t, uint64(5), rd.Messages[0].Index)
		disk.persist(rd)
		n.Advance(rd)
	})
	t.Run("log shorter than the snapshot", func(t *testing.T) {
		n, disk := followerWithLog(t, 1)
		rd := installSnapshot(n, Snapshot{Index: 9, Term: 3, Data: []byte("far")})
		assert.Equal(t, uint64(9), rd.Snapshot.Index)
		disk.persist(rd)
		n.Advance(rd)
		assert.Equal(t, uint64(9), n.Status().LastIndex)
		assert.Equal(t, uint64(9), disk.LastIndex())
	})
}

// §7: a follower that crashes while the snapshot is on its way keeps
// nothing of it (the transfer is in memory until the last chunk) and
// receives it again from the beginning after its restart.
func TestCrashDuringSnapshotInstall(t *testing.T) {
	nw, _, away, snap := snapshotNetwork(t, 30)
	chunks := 0
	nw.filter = func(m Message) bool {
		if m.Type == MsgSnapshot && m.To == away {
			chunks++
			if chunks == 3 {
				nw.crash(away) // it has taken two chunks
				return true
			}
		}
		return false
	}
	nw.recover()
	nw.tickUntil(50, "the follower crashed mid-transfer", func() bool { return nw.down[away] })
	assert.Empty(t, nw.installed[away])
	assert.True(t, nw.disks[away].snap.IsZero(), "nothing of the snapshot on its disk")
	nw.filter = nil
	nw.restart(away)
	nw.tickUntil(200, "the follower installs the snapshot after its restart", func() bool { return len(nw.installed[away]) == 1 })
	assert.Equal(t, snap, nw.installed[away][0])
}

// §7: the leader compacts its log while a follower is still being probed
// (its log diverged): the next probe finds the entries gone and the
// leader sends the snapshot instead.
func TestLeaderCompactsWhileAFollowerIsProbing(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.MaxSnapshotChunkBytes = 16 })
	lead := nw.electLeader()
	away := NodeID(1 + int(lead)%3)
	nw.isolate(away)
	for i := range 20 {
		_, err := nw.propose(lead, fmt.Sprintf("m%02d", i))
		require.NoError(t, err)
	}
	// Back on the network, only heartbeats get through: the leader sees no
	// progress across heartbeats and goes back to probing the follower
	// from its match index, one push at a time; meanwhile it compacts.
	nw.filter = func(m Message) bool { return m.Type == MsgPush || m.Type == MsgPushResp }
	nw.recover()
	l := nw.nodes[lead]
	nw.tickUntil(100, "the leader probes the follower", func() bool { return l.Status().Progress[away].State == StateProbe })
	nw.filter = nil
	applied := l.Status().Applied
	snap, err := l.Compact(applied, bytes.Repeat([]byte("S"), 50))
	require.NoError(t, err)
	nw.disks[lead].compact(snap)
	nw.recover()
	nw.tickUntil(200, "the follower catches up by the snapshot", func() bool {
		return nw.nodes[away].Status().Commit == l.Status().Commit
	})
	require.Len(t, nw.installed[away], 1)
	assert.Equal(t, snap.Index, nw.installed[away][0].Index)
	assert.Equal(t, nw.logTerms(lead), nw.logTerms(away))
}

// Compact refuses what is not applied, and compacting again at or below
// the snapshot changes nothing.
func TestCompactOnlyWhatIsApplied(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	for i := range 5 {
		_, err := nw.propose(lead, fmt.Sprintf("m%d", i))
		require.NoError(t, err)
	}
	l := nw.nodes[lead]
	applied := l.Status().Applied
	_, err := l.Compact(applied+1, nil)
	assert.ErrorContains(t, err, "only entries up to")
	s, err := l.Compact(applied-2, []byte("a"))
	require.NoError(t, err)
	again, err := l.Compact(applied-3, []byte("b"))
	require.NoError(t, err)
	assert.Equal(t, s, again)
	assert.Equal(t, s, l.LastSnapshot())
}
