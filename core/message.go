package core

import "fmt"

// MessageType names every message replicas exchange. The names follow the
// seed text and DLedger: votes (投票 RPC), pushes (DLedger's append/push
// requests, which also carry heartbeats' commit index) and heartbeats (心跳).
type MessageType uint8

const (
	msgUnknown MessageType = iota
	// MsgPreVote asks "would you vote for me at Term?" without anyone
	// changing term (Raft thesis §9.6). Term is the term the sender would use.
	MsgPreVote
	// MsgPreVoteResp answers a MsgPreVote; Reject false means "yes".
	MsgPreVoteResp
	// MsgVote is RequestVote (Raft §5.2): LogIndex/LogTerm are the
	// candidate's last entry, for the up-to-date check (§5.4.1).
	MsgVote
	// MsgVoteResp answers a MsgVote; Reject false means the vote is granted.
	MsgVoteResp
	// MsgPush is AppendEntries (Raft §5.3; DLedger's PushEntryRequest):
	// LogIndex/LogTerm are the entry just before Entries, Commit the
	// leader's commit index.
	MsgPush
	// MsgPushResp acknowledges a push. When accepted, Index is the highest
	// index the follower now holds in agreement with the leader and has
	// persisted. When rejected, LogIndex echoes the push's LogIndex and
	// HintIndex/HintTerm say where the follower's log diverges.
	MsgPushResp
	// MsgHeartbeat tells followers the leader is alive (seed: 心跳) and
	// carries a commit index the follower is known to have (min(commit, match)).
	MsgHeartbeat
	// MsgHeartbeatResp answers a heartbeat: "I am alive" (and my last index).
	MsgHeartbeatResp
	// MsgTimeoutNow tells a follower to campaign at once: the last step of
	// a leadership transfer (Raft thesis §3.10).
	MsgTimeoutNow
	// MsgSnapshot is one chunk of InstallSnapshot (Raft §7, Figure 13):
	// LogIndex/LogTerm are the snapshot's last included entry, Index the
	// chunk's offset in the snapshot's data, Chunk the data, Done set on
	// the last chunk.
	MsgSnapshot
	// MsgSnapshotResp asks for the snapshot LogIndex's data from offset
	// Index on (the chunks so far arrived). An installed snapshot is
	// answered with a MsgPushResp instead: "I hold up to Index".
	MsgSnapshotResp
	msgTypeCount
)

var messageTypeNames = [...]string{
	msgUnknown:       "unknown",
	MsgPreVote:       "pre-vote",
	MsgPreVoteResp:   "pre-vote-resp",
	MsgVote:          "vote",
	MsgVoteResp:      "vote-resp",
	MsgPush:          "push",
	MsgPushResp:      "push-resp",
	MsgHeartbeat:     "heartbeat",
	MsgHeartbeatResp: "heartbeat-resp",
	MsgTimeoutNow:    "timeout-now",
	MsgSnapshot:      "snapshot",
	MsgSnapshotResp:  "snapshot-resp",
}

func (t MessageType) String() string {
	if t < msgTypeCount {
		return messageTypeNames[t]
	}
	return fmt.Sprintf("MessageType(%d)", uint8(t))
}

// Valid reports whether t is a known message type.
func (t MessageType) Valid() bool { return t > msgUnknown && t < msgTypeCount }

// IsResponse reports whether t answers another message.
func (t MessageType) IsResponse() bool {
	switch t {
	case MsgPreVoteResp, MsgVoteResp, MsgPushResp, MsgHeartbeatResp, MsgSnapshotResp:
		return true
	}
	return false
}

// Message is one message between two replicas. It is a plain value: the
// fields a type does not use are zero. Transports encode it as they like
// (native/ has a compact binary framing).
type Message struct {
	Type MessageType
	From NodeID
	To   NodeID
	Term uint64

	// LogIndex/LogTerm: for votes the candidate's last entry; for pushes the
	// entry preceding Entries; for a rejected push response, the LogIndex of
	// the push being rejected.
	LogIndex uint64
	LogTerm  uint64
	Entries  []Entry
	Commit   uint64

	// Index: for an accepted push response, the follower's match index; for a
	// heartbeat response, the follower's last index.
	Index uint64
	// Reject is true for a refused vote or push.
	Reject bool
	// HintIndex/HintTerm: on a rejected push, the term of the follower's
	// entry at the conflict and the first index it holds of that term
	// (HintTerm 0: the follower's log ends before LogIndex; HintIndex is
	// then its last index + 1).
	HintIndex uint64
	HintTerm  uint64
	// Force marks a vote request from a leadership transfer: voters grant it
	// even while they still hear from a leader.
	Force bool
	// Chunk and Done: for MsgSnapshot, the snapshot data from offset Index
	// on, and whether it is the last chunk.
	Chunk []byte
	Done  bool
}

func (m Message) String() string {
	s := fmt.Sprintf("%s %d→%d t%d", m.Type, uint64(m.From), uint64(m.To), m.Term)
	switch m.Type {
	case MsgVote, MsgPreVote:
		s += fmt.Sprintf(" last=%d@t%d", m.LogIndex, m.LogTerm)
	case MsgPush:
		s += fmt.Sprintf(" prev=%d@t%d n=%d commit=%d", m.LogIndex, m.LogTerm, len(m.Entries), m.Commit)
	case MsgPushResp:
		if m.Reject {
			s += fmt.Sprintf(" reject prev=%d hint=%d@t%d", m.LogIndex, m.HintIndex, m.HintTerm)
		} else {
			s += fmt.Sprintf(" match=%d", m.Index)
		}
	case MsgVoteResp, MsgPreVoteResp:
		if m.Reject {
			s += " reject"
		} else {
			s += " granted"
		}
	case MsgHeartbeat:
		s += fmt.Sprintf(" commit=%d", m.Commit)
	case MsgSnapshot:
		s += fmt.Sprintf(" snap=%d@t%d off=%d n=%d", m.LogIndex, m.LogTerm, m.Index, len(m.Chunk))
		if m.Done {
			s += " done"
		}
	case MsgSnapshotResp:
		s += fmt.Sprintf(" snap=%d want=%d", m.LogIndex, m.Index)
	}
	return s
}
