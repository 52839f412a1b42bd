package core

import "fmt"

// This file is log compaction and InstallSnapshot (Raft §7, Figure 13).
//
// A broker's log grows with every message; RocketMQ deletes old CommitLog
// files after a retention time (DefaultMessageStore.CleanCommitLogService),
// and DLedger can snapshot its state machine and delete the entries a
// snapshot covers (DLedger's SnapshotManager). Here the caller takes a
// snapshot of its state machine at an applied index — for a broker, its
// state without the messages (queue offsets, the deduplication table, the
// applied index) — and calls Compact: the entries up to that index are no
// longer needed by this replica, and the caller may delete them from its
// storage.
//
// A follower that needs entries the leader no longer has (it was away, or
// is new) receives the snapshot instead, in chunks (Figure 13: offset,
// data, done), installs it, and takes pushes from the entry after it. The
// transfer resumes where it stopped after a lost chunk: the follower
// answers every chunk with the offset it expects next. A follower that
// restarts during a transfer starts it again; nothing changes on its disk
// until the last chunk is in (the caller persists the whole snapshot, in
// Ready.Snapshot, before Advance).

// Snapshot is a state machine's state at Index, standing for the log's
// entries 1..Index (Figure 13's "last included index" and "term").
type Snapshot struct {
	Index uint64
	Term  uint64
	// Data is the caller's state machine (for a broker: broker.State). The
	// replica never looks inside.
	Data []byte
}

// IsZero reports whether s is no snapshot at all.
func (s Snapshot) IsZero() bool { return s.Index == 0 }

func (s Snapshot) String() string {
	return fmt.Sprintf("snapshot %d@t%d (%d bytes)", s.Index, s.Term, len(s.Data))
}

// DefaultSnapshotChunkBytes is how much snapshot data one MsgSnapshot
// carries when Config.MaxSnapshotChunkBytes is 0.
const DefaultSnapshotChunkBytes = 64 << 10

// Compact records that the caller's state machine at index (at most the
// applied index) is data, and drops the entries up to index from the
// replica's memory: they are never read again, and the caller may delete
// them from its Storage once it has persisted the returned snapshot (its
// Storage's Snapshot must return it from then on, also after a restart).
// Compacting at or below the current snapshot changes nothing.
func (n *Node) Compact(index uint64, data []byte) (Snapshot, error) {
	defer n.assertInvariants()
	if index > n.log.applied {
		return Snapshot{}, fmt.Errorf("compact at entry %d: only entries up to %d are applied", index, n.log.applied)
	}
	if index <= n.log.snap.Index {
		return n.log.snap, nil
	}
	term, _ := n.log.term(index)
	n.log.compact(Snapshot{Index: index, Term: term, Data: data})
	n.event(Event{Kind: EventCompacted, Index: index, Why: "compacted", Args: NewArgs("index", index, "bytes", len(data)), Detail: fmt.Sprintf("entries 1..%d compacted into a snapshot of %d bytes", index, len(data))})
	return n.log.snap, nil
}

// LastSnapshot returns the replica's newest snapshot (zero if none).
func (n *Node) LastSnapshot() Snapshot { return n.log.snap }

// needsSnapshot reports whether follower pr can only catch up from the
// snapshot: the entry before its next one is compacted away.
func (n *Node) needsSnapshot(pr *progress) bool {
	return pr.next <= n.log.snap.Index
}

// sendSnapshot sends follower id the next chunk of the snapshot, from the
// offset it last asked for.
func (n *Node) sendSnapshot(id NodeID) {
	pr := n.pr(id)
	s := n.log.snap
	if pr.state != StateSnapshot || pr.pendingSnapshot != s.Index {
		pr.becomeSnapshot(s.Index)
		n.event(Event{Kind: EventSnapshotSent, Peer: id, Index: s.Index, Why: "snapshot-sent",
			Args:   NewArgs("peer", uint64(id), "next", pr.next, "index", s.Index, "term", s.Term, "bytes", len(s.Data)),
			Detail: fmt.Sprintf("broker %d needs entry %d, compacted away: sending %s", uint64(id), pr.next, s)})
	}
	if pr.probeSent {
		return // one chunk in flight; its answer (or a heartbeat's) sends the next
	}
	off := min(pr.snapshotOffset, uint64(len(s.Data)))
	end := min(off+uint64(n.cfg.MaxSnapshotChunkBytes), uint64(len(s.Data)))
	n.send(Message{Type: MsgSnapshot, To: id, LogIndex: s.Index, LogTerm: s.Term, Index: off,
		Chunk: s.Data[off:end:end], Done: end == uint64(len(s.Data)), Commit: n.log.committed})
	pr.probeSent = true
}

// handleSnapshotResp: the follower took a chunk and asks for the data from
// m.Index on.
func (n *Node) handleSnapshotResp(m Message) {
	pr := n.progressOf(m.From)
	if pr == nil {
		return
	}
	pr.recentActive = true
	if pr.state != StateSnapshot || m.LogIndex != pr.pendingSnapshot {
		return // about a snapshot we no longer send
	}
	pr.snapshotOffset = m.Index
	pr.probeSent = false
	n.flush = true
}

// inbound is a follower's snapshot being received: what arrived so far.
// It is volatile: a restart starts the transfer again.
type inbound struct {
	index, term uint64
	data        []byte
}

// handleSnapshot is a follower's InstallSnapshot receiver (Figure 13).
func (n *Node) handleSnapshot(m Message) {
	n.followLeader(m.From)
	if m.LogIndex <= n.log.committed {
		// A stale snapshot: everything it holds is committed here already
		// (§7: "discard any existing or partial snapshot with a smaller
		// index"). Tell the leader where we are.
		n.inbound = nil
		n.send(Message{Type: MsgPushResp, To: m.From, Index: n.log.committed})
		return
	}
	in := n.inbound
	if m.Index == 0 && (in == nil || in.index != m.LogIndex || in.term != m.LogTerm || len(in.data) > 0) {
		// Figure 13 step 2: a first chunk starts a new snapshot file.
		in = &inbound{index: m.LogIndex, term: m.LogTerm}
		n.inbound = in
	}
	if in == nil || in.index != m.LogIndex || in.term != m.LogTerm || m.Index != uint64(len(in.data)) {
		// Not the chunk we expect (lost, repeated, or of another
		// snapshot): ask for what we need from our offset.
		want := uint64(0)
		if in != nil && in.index == m.LogIndex && in.term == m.LogTerm {
			want = uint64(len(in.data))
		}
		n.send(Message{Type: MsgSnapshotResp, To: m.From, LogIndex: m.LogIndex, Index: want})
		return
	}
	in.data = append(in.data, m.Chunk...) // step 3: write data at offset
	if !m.Done {
		n.send(Message{Type: MsgSnapshotResp, To: m.From, LogIndex: m.LogIndex, Index: uint64(len(in.data))})
		return // step 4: wait for more chunks
	}
	n.inbound = nil
	s := Snapshot{Index: in.index, Term: in.term, Data: in.data}
	if n.log.matchTerm(s.Index, s.Term) {
		// Step 6: our log has the snapshot's last entry, so it holds
		// everything the snapshot stands for: keep the log, and learn that
		// it is committed up to there (the entries are applied as usual).
		n.log.commitTo(s.Index)
		n.event(Event{Kind: EventCommitted, Index: s.Index, Why: "snapshot-kept-log", Detail: "the snapshot's last entry is in our log: kept the log"})
		n.send(Message{Type: MsgPushResp, To: m.From, Index: s.Index})
		return
	}
	// Steps 5, 7, 8: keep the snapshot, discard the entire log, reset the
	// state machine (the caller, from Ready.Snapshot).
	n.log.restore(s)
	n.event(Event{Kind: EventSnapshotInstalled, Peer: m.From, Index: s.Index, Why: "snapshot-installed",
		Args:   NewArgs("index", s.Index, "term", s.Term, "bytes", len(s.Data), "from", uint64(m.From)),
		Detail: fmt.Sprintf("installed %s from broker %d; the log before it is gone", s, uint64(m.From))})
	// Sent after the caller persisted the snapshot (Ready.Messages).
	n.send(Message{Type: MsgPushResp, To: m.From, Index: s.Index})
}
