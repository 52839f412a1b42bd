package core

import (
	"fmt"
	"slices"
)

// This file is two-phase replication (seed: uncommitted → majority of acks →
// committed; Raft §5.3) with the commit rule of §5.4.2 and log repair.
// DLedger: DLedgerEntryPusher (EntryDispatcher on the leader, EntryHandler on
// followers, QuorumAckChecker for the commit index).

// appendEntry adds an uncommitted entry to the leader's log; Ready pushes it.
func (n *Node) appendEntry(t EntryType, data []byte) Entry {
	e := Entry{Index: n.log.lastIndex() + 1, Term: n.term, Type: t, Data: data}
	n.log.appendLeader(e)
	n.flush = true
	return e
}

// sendPushes sends follower id what it lacks, as far as its window allows:
// several pushes in flight (pipelining), each batching up to MaxPushEntries
// entries or MaxPushBytes bytes.
func (n *Node) sendPushes(id NodeID) {
	pr := n.pr(id)
	if pr.state == StateSnapshot || n.needsSnapshot(pr) {
		n.sendSnapshot(id)
		return
	}
	for !pr.paused(n.cfg.MaxInflight) && pr.next <= n.log.lastIndex() {
		prev := pr.next - 1
		prevTerm, _ := n.log.term(prev)
		ents := n.log.window(pr.next, n.cfg.MaxPushEntries, n.cfg.MaxPushBytes)
		n.send(Message{Type: MsgPush, To: id, LogIndex: prev, LogTerm: prevTerm, Entries: ents, Commit: n.log.committed})
		pr.sent(ents[len(ents)-1].Index)
	}
}

// bcastHeartbeat sends every follower a heartbeat (seed: 心跳). Its commit
// index is capped at what the follower is known to hold, so the follower never
// marks an entry committed that it may not have.
func (n *Node) bcastHeartbeat() {
	for _, id := range n.peers {
		if id != n.id {
			n.send(Message{Type: MsgHeartbeat, To: id, Commit: min(n.log.committed, n.pr(id).match)})
		}
	}
}

// handlePush is a follower's EntryHandler (Figure 2, AppendEntries receiver).
func (n *Node) handlePush(m Message) {
	n.followLeader(m.From)
	if m.LogIndex < n.log.snap.Index {
		// The entries before our snapshot are compacted, so we cannot
		// compare; they are committed, and committed entries are the same
		// on every replica (Leader Completeness): we hold up to commit.
		n.send(Message{Type: MsgPushResp, To: m.From, Index: n.log.committed})
		return
	}
	committedBefore := n.log.committed
	lastNew, truncatedFrom, ok := n.log.maybeAppend(m.LogIndex, m.LogTerm, m.Entries)
	if !ok {
		hintIndex, hintTerm := n.log.conflictHint(m.LogIndex)
		n.event(Event{Kind: EventPushRejected, Peer: m.From, Index: m.LogIndex, Why: "no-entry",
			Args:   NewArgs("index", m.LogIndex, "term", m.LogTerm, "hint", hintIndex, "hintTerm", hintTerm),
			Detail: fmt.Sprintf("no entry %d@t%d here; hint %d@t%d", m.LogIndex, m.LogTerm, hintIndex, hintTerm)})
		n.send(Message{Type: MsgPushResp, To: m.From, Reject: true, LogIndex: m.LogIndex, HintIndex: hintIndex, HintTerm: hintTerm})
		return
	}
	switch {
	case truncatedFrom != 0 && truncatedFrom <= committedBefore:
		// Only possible with a safety rule switched off (raftLog.unsafe).
		n.event(Event{Kind: EventTruncated, Peer: m.From, Index: truncatedFrom, Why: "dropped-committed",
			Args:   NewArgs("from", truncatedFrom, "to", committedBefore),
			Detail: fmt.Sprintf("dropped COMMITTED entries %d..%d: a safety rule is off and State Machine Safety is broken", truncatedFrom, committedBefore)})
	case truncatedFrom != 0:
		n.event(Event{Kind: EventTruncated, Peer: m.From, Index: truncatedFrom, Why: "dropped-uncommitted",
			Args:   NewArgs("from", truncatedFrom, "leader", uint64(m.From)),
			Detail: fmt.Sprintf("dropped uncommitted entries from %d on: they conflict with leader %d", truncatedFrom, uint64(m.From))})
	}
	n.maybeCommitTo(min(m.Commit, lastNew))
	// The acknowledgement leaves after the caller persisted the entries
	// (Ready.Messages): an ack is a promise that they are on disk.
	n.send(Message{Type: MsgPushResp, To: m.From, Index: lastNew})
}

// handleHeartbeat: the leader is alive; learn its commit index.
func (n *Node) handleHeartbeat(m Message) {
	n.followLeader(m.From)
	n.maybeCommitTo(m.Commit)
	n.send(Message{Type: MsgHeartbeatResp, To: m.From, Index: n.log.lastIndex()})
}

// followLeader records that from leads this term and restarts our election
// timer (a candidate that hears from the term's leader steps down, §5.2).
func (n *Node) followLeader(from NodeID) {
	if n.role != RoleFollower || n.lead != from {
		n.becomeFollower(n.term, from)
	}
	n.electionElapsed = 0
}

func (n *Node) maybeCommitTo(i uint64) {
	if n.log.commitTo(min(i, n.log.lastIndex())) {
		n.event(Event{Kind: EventCommitted, Index: n.log.committed})
	}
}

// handlePushResp is the leader's side of an answer to a push.
func (n *Node) handlePushResp(m Message) {
	pr := n.progressOf(m.From)
	if pr == nil {
		return
	}
	pr.recentActive = true
	if m.Reject {
		n.handleReject(m.From, pr, m)
		return
	}
	// A follower behind its snapshot answers with its commit index, which
	// no leader's log is shorter than — unless a safety rule is off
	// (Rules) and this leader was elected without every committed entry.
	m.Index = min(m.Index, n.log.lastIndex())
	if pr.state == StateSnapshot && m.Index >= pr.pendingSnapshot {
		// The follower installed the snapshot (or had its entries).
		pr.acked(m.Index)
		pr.becomeReplicate()
		n.maybeCommit()
		n.flush = true
		return
	}
	if pr.acked(m.Index) {
		if pr.state == StateProbe {
			pr.becomeReplicate()
		}
		n.maybeCommit()
		if m.From == n.transferee && pr.match == n.log.lastIndex() {
			n.sendTimeoutNow(m.From)
		}
	}
	n.flush = true
}

// handleReject moves next back to where the follower's hint says the logs
// may agree, so repair takes a round trip per conflicting term, not per entry.
func (n *Node) handleReject(id NodeID, pr *progress, m Message) {
	if m.LogIndex <= pr.match || (pr.state == StateProbe && m.LogIndex != pr.next-1) {
		return // stale: answers a push we already moved past
	}
	next := m.HintIndex
	if m.HintTerm != 0 {
		if i := n.log.lastIndexOfTerm(m.HintTerm); i > 0 {
			next = i + 1
		}
	}
	next = max(min(next, m.LogIndex), pr.match+1)
	pr.becomeProbe()
	pr.next = next
	n.event(Event{Kind: EventRepair, Peer: id, Index: next, Why: "repair", Args: NewArgs("peer", uint64(id), "index", m.LogIndex, "next", next), Detail: fmt.Sprintf("broker %d does not hold our entry %d; retrying from %d", uint64(id), m.LogIndex, next)})
	n.flush = true
}

// handleHeartbeatResp: the follower is alive. If it is behind, make sure
// pushes flow: when pushes are in flight but nothing was acknowledged across
// two heartbeat answers, pushes or their acks were lost, so go back to
// probing from the match index (the follower acks what it already holds).
func (n *Node) handleHeartbeatResp(m Message) {
	pr := n.progressOf(m.From)
	if pr == nil {
		return
	}
	pr.recentActive = true
	pr.probeSent = false
	if pr.state == StateReplicate && len(pr.inflight) > 0 && pr.match == pr.heartbeatMatch {
		pr.stalls++
		if pr.stalls >= 2 {
			pr.becomeProbe()
		}
	} else {
		pr.stalls = 0
	}
	pr.heartbeatMatch = pr.match
	if pr.match < n.log.lastIndex() {
		n.flush = true
	}
}

func (n *Node) progressOf(id NodeID) *progress {
	if n.role != RoleLeader {
		return nil
	}
	return n.pr(id)
}

// maybeCommit is DLedger's QuorumAckChecker: the highest index a majority
// (the leader's own persisted log included) holds becomes committed — but
// only if it is from the current term (§5.4.2): counting replicas of an older
// entry is not enough (Figure 8). Earlier entries commit with it.
func (n *Node) maybeCommit() bool {
	matches := append(n.scratch[:0], n.log.stabled)
	for i := range n.prs {
		if n.peers[i] != n.id {
			matches = append(matches, n.prs[i].match)
		}
	}
	slices.Sort(matches)
	n.scratch = matches
	idx := matches[len(matches)-n.quorum()]
	if idx <= n.log.committed {
		return false
	}
	if t, _ := n.log.term(idx); t != n.term && !n.cfg.Rules.CommitOldTerms {
		return false
	}
	n.log.commitTo(idx)
	n.event(Event{Kind: EventCommitted, Index: idx})
	return true
}
