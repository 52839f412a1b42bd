package core

import (
	"errors"
	"fmt"
)

// Config sets up one replica. Durations are in ticks: the caller decides how
// long a tick is (the simulator and native nodes use 10 ms by default).
type Config struct {
	// ID is this broker's id; it must be one of Peers.
	ID NodeID
	// Peers lists every member of the group, this broker included
	// (Broker1..N in the seed text).
	Peers []NodeID
	// Storage holds what an earlier run persisted, and the entries the
	// caller persists from each Ready. nil means a new node whose caller
	// keeps no Storage: its whole log then stays in memory.
	Storage Storage
	// Applied is the last index the caller's state machine already holds
	// (a broker whose state survived the restart): applying resumes after
	// it. 0 replays every committed entry. It may not pass the stored
	// commit index.
	Applied uint64
	// LogCacheBytes bounds the data of persisted entries the replica keeps
	// in memory, newest first (the rest is read from Storage when needed);
	// 0 means DefaultLogCacheBytes.
	LogCacheBytes int
	// Seed feeds the only random source: the election timeouts.
	Seed uint64

	// HeartbeatTicks is how often a leader sends heartbeats (心跳).
	HeartbeatTicks int
	// ElectionTicksMin and ElectionTicksMax bound the randomized election
	// timeout (§5.2: "chosen randomly from a fixed interval"). A follower that
	// hears nothing from a leader for that long becomes a candidate.
	ElectionTicksMin int
	ElectionTicksMax int

	// MaxInflight caps the pushes in flight to one follower (pipelining).
	MaxInflight int
	// MaxPushEntries and MaxPushBytes cap one push (batching).
	MaxPushEntries int
	MaxPushBytes   int
	// MaxEntryBytes is the largest entry data the replica takes: Propose
	// refuses a bigger one and a follower drops a push that carries one.
	// 0 means DefaultMaxEntryBytes. Every layer that stores entries uses
	// the same number (commitlog.DefaultMaxBodySize, the broker's
	// DefaultMaxMessageBytes), so an entry the leader accepts fits every
	// follower's CommitLog.
	MaxEntryBytes int
	// MaxCommittedBytesPerReady bounds the entry data one Ready hands out
	// to apply (at least one entry goes out whatever its size); 0 means no
	// bound. A restarted broker that replays a long log then applies it a
	// batch per Ready, and its caller can tick, vote and answer in between
	// (etcd-io/raft's MaxCommittedSizePerReady).
	MaxCommittedBytesPerReady int
	// MaxSnapshotChunkBytes bounds the snapshot data one MsgSnapshot
	// carries; 0 means DefaultSnapshotChunkBytes.
	MaxSnapshotChunkBytes int

	// DisableCheckQuorum turns CheckQuorum off. With it on (the default) a
	// leader that has not heard from a majority within ElectionTicksMin steps
	// down, and followers ignore vote requests while they hear from a leader.
	DisableCheckQuorum bool
	// DisablePreVote turns PreVote off (thesis §9.6). With it on (the
	// default) a node that was cut off asks first whether it could win before
	// raising its term, so it cannot depose a healthy leader on return.
	DisablePreVote bool

	// Rules can switch off individual safety rules for teaching. The zero
	// value keeps every rule.
	Rules Rules
	// Damaged tells a replica that rules were off in this group earlier, so
	// it may meet their damage (a committed entry a leader overwrites) even
	// with every rule on now: it reports it as an event instead of
	// panicking. A harness sets it; real brokers never do.
	Damaged bool
}

// Rules are safety rules a learner may switch off to see why they exist. The
// zero value keeps them all; each field names what switching it off allows.
// The JSON names are the ones share links and lesson files carry.
type Rules struct {
	// SkipUpToDateCheck grants votes to candidates whose log is behind the
	// voter's (switches off §5.4.1's election restriction).
	SkipUpToDateCheck bool `json:"skip_up_to_date_check,omitempty"`
	// CommitOldTerms lets a leader commit entries of earlier terms by
	// counting replicas (switches off §5.4.2; Figure 8 then happens).
	CommitOldTerms bool `json:"commit_old_terms,omitempty"`
	// AckBeforePersist lets a follower acknowledge a push before the entries
	// are persisted (a crash can then lose an entry the leader counted).
	AckBeforePersist bool `json:"ack_before_persist,omitempty"`
}

// Any reports whether any rule is switched off.
func (r Rules) Any() bool { return r != Rules{} }

// DefaultMaxEntryBytes is the one limit on an entry's data, 4 MiB: a
// broker's whole encoded message (topic, tags, keys, producer, sequence and
// body), as RocketMQ's CommitLog measures the encoded message against
// maxMessageSize (MESSAGE_SIZE_EXCEEDED, store/CommitLog.java), and the
// largest body a DLedger CommitLog entry holds. core/commitlog and
// core/broker take their defaults from it.
const DefaultMaxEntryBytes = 4 << 20

// DefaultLogCacheBytes is how much persisted entry data a replica keeps in
// memory by default: enough for followers that keep up and for the
// playground's whole runs, a small part of a long-running broker's log.
const DefaultLogCacheBytes = 16 << 20

// DefaultConfig returns a Config with the project's default timings: with a
// 10 ms tick, heartbeats every 50 ms and election timeouts of 150–300 ms, as
// in the Raft paper's evaluation.
func DefaultConfig(id NodeID, peers []NodeID, seed uint64) Config {
	return Config{
		ID:               id,
		Peers:            peers,
		Seed:             seed,
		HeartbeatTicks:   5,
		ElectionTicksMin: 15,
		ElectionTicksMax: 30,
		MaxInflight:      8,
		MaxPushEntries:   64,
		MaxPushBytes:     1 << 20,
	}
}

// ErrConfig is wrapped by every configuration error.
var ErrConfig = errors.New("invalid config")

func (c *Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	if c.ID == None {
		return bad("ID must be at least 1")
	}
	if len(c.Peers) == 0 {
		return bad("Peers is empty")
	}
	seen := map[NodeID]bool{}
	for _, p := range c.Peers {
		if p == None {
			return bad("Peers contains id 0; ids start at 1")
		}
		if seen[p] {
			return bad("Peers lists broker %d twice", uint64(p))
		}
		seen[p] = true
	}
	if !seen[c.ID] {
		ids := make([]int, len(c.Peers))
		for i, p := range c.Peers {
			ids[i] = int(p)
		}
		return bad("ID %d is not in Peers %v", uint64(c.ID), ids)
	}
	if c.HeartbeatTicks <= 0 {
		return bad("HeartbeatTicks = %d, want > 0", c.HeartbeatTicks)
	}
	if c.ElectionTicksMin <= c.HeartbeatTicks {
		return bad("ElectionTicksMin = %d must exceed HeartbeatTicks = %d", c.ElectionTicksMin, c.HeartbeatTicks)
	}
	if c.ElectionTicksMax < c.ElectionTicksMin {
		return bad("ElectionTicksMax = %d is below ElectionTicksMin = %d", c.ElectionTicksMax, c.ElectionTicksMin)
	}
	if c.MaxInflight <= 0 {
		return bad("MaxInflight = %d, want > 0", c.MaxInflight)
	}
	if c.MaxPushEntries <= 0 || c.MaxPushBytes <= 0 {
		return bad("MaxPushEntries and MaxPushBytes must be > 0")
	}
	if c.MaxEntryBytes < 0 {
		return bad("MaxEntryBytes = %d, want >= 0 (0: DefaultMaxEntryBytes)", c.MaxEntryBytes)
	}
	if c.MaxEntryBytes == 0 {
		c.MaxEntryBytes = DefaultMaxEntryBytes
	}
	if c.MaxSnapshotChunkBytes < 0 {
		return bad("MaxSnapshotChunkBytes = %d, want >= 0 (0: DefaultSnapshotChunkBytes)", c.MaxSnapshotChunkBytes)
	}
	if c.MaxSnapshotChunkBytes == 0 {
		c.MaxSnapshotChunkBytes = DefaultSnapshotChunkBytes
	}
	if c.LogCacheBytes < 0 {
		return bad("LogCacheBytes = %d, want >= 0 (0: DefaultLogCacheBytes)", c.LogCacheBytes)
	}
	if c.LogCacheBytes == 0 {
		c.LogCacheBytes = DefaultLogCacheBytes
	}
	if c.MaxCommittedBytesPerReady < 0 {
		return bad("MaxCommittedBytesPerReady = %d, want >= 0 (0: no bound)", c.MaxCommittedBytesPerReady)
	}
	return nil
}

// SetSwitches changes CheckQuorum, PreVote and the safety rules of a running
// replica (the playground's toggles). Once any rule has been off, the log
// stays in unsafe mode: damage already done can surface later.
func (n *Node) SetSwitches(disableCheckQuorum, disablePreVote bool, rules Rules) {
	n.cfg.DisableCheckQuorum = disableCheckQuorum
	n.cfg.DisablePreVote = disablePreVote
	n.cfg.Rules = rules
	n.log.unsafe = n.log.unsafe || rules.Any()
}
