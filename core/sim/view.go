package sim

import (
	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/internal/simnet"
)

// ClusterView is one frame of what the page draws (ARCHITECTURE.md rule 2).
// The simulator builds it from its cluster; a native node builds it from its
// live replica and streams it over GET /v1/watch. Field names are the JSON
// contract with web/: add fields, never rename them.
type ClusterView struct {
	// Mode is "sim" for the simulator, "live" for real brokers.
	Mode string `json:"mode"`
	// TimeMs is virtual time (sim) or milliseconds since the cluster started (live).
	TimeMs int64      `json:"time_ms"`
	Seed   uint64     `json:"seed,omitempty"`
	Nodes  []NodeView `json:"nodes"`
	// Messages are in flight now (sim only), with the drops of the last frame.
	Messages []MessageView `json:"messages"`
	// Cuts lists blocked links (from → to); Groups describes a partition.
	Cuts   []Link  `json:"cuts"`
	Groups [][]int `json:"groups,omitempty"`
	// Events are the most recent things that happened, oldest first.
	Events     []EventView   `json:"events"`
	Violations []Violation   `json:"violations"`
	Clients    ClientsView   `json:"clients"`
	Settings   SettingsView  `json:"settings"`
	Timeline   *TimelineView `json:"timeline,omitempty"`
}

// NodeView is one broker.
type NodeView struct {
	ID int `json:"id"`
	// State is "up", "crashed", "paused" or "refused" (recovery found damage
	// before the tail and the broker will not start). Live mode adds
	// "running", "killed", "restarting".
	State string `json:"state"`
	// Role is "leader", "follower", "candidate" or "pre-candidate".
	Role      string `json:"role"`
	Term      uint64 `json:"term"`
	Vote      int    `json:"vote"`
	Lead      int    `json:"lead"`
	Commit    uint64 `json:"commit"`
	Applied   uint64 `json:"applied"`
	Stabled   uint64 `json:"stabled"`
	LastIndex uint64 `json:"last_index"`
	LastTerm  uint64 `json:"last_term"`
	// ElectionElapsed/ElectionTimeout drive the timer ring (ticks).
	ElectionElapsed int `json:"election_elapsed"`
	ElectionTimeout int `json:"election_timeout"`
	// Votes are answers to this broker's campaign: "2": true.
	Votes      map[string]bool `json:"votes,omitempty"`
	Progress   []ProgressView  `json:"progress,omitempty"`
	Transferee int             `json:"transferee,omitempty"`
	// Busy: a write to disk (fsync) is in progress.
	Busy bool `json:"busy,omitempty"`
	// Log holds the last entries (LogFirst is the first index shown).
	LogFirst uint64 `json:"log_first"`
	// SnapshotIndex is the last entry the broker's snapshot stands for
	// (Raft §7): the entries up to it are compacted away (0: none).
	SnapshotIndex uint64 `json:"snapshot_index,omitempty"`
	// SnapshotsInstalled counts the snapshots the broker installed from a
	// leader since it last started: it was too far behind for entries.
	SnapshotsInstalled int         `json:"snapshots_installed,omitempty"`
	Log                []EntryView `json:"log"`
	// Truncated are entries this broker dropped recently (drawn struck out).
	Truncated []EntryView        `json:"truncated,omitempty"`
	Segments  []SegmentView      `json:"segments"`
	Topics    []broker.TopicView `json:"topics"`
	// Offsets are the consumer groups' offsets this broker holds, by group
	// and topic (what a consumer that asks this broker resumes from).
	Offsets []GroupOffset `json:"offsets,omitempty"`
	// Live mode only.
	Address string  `json:"address,omitempty"`
	Pid     int     `json:"pid,omitempty"`
	MsgRate float64 `json:"msg_rate,omitempty"`
	DataDir string  `json:"data_dir,omitempty"`
}

// ProgressView is the leader's view of one follower (next/match).
type ProgressView struct {
	Peer     int    `json:"peer"`
	Match    uint64 `json:"match"`
	Next     uint64 `json:"next"`
	State    string `json:"state"`
	Inflight int    `json:"inflight"`
	Active   bool   `json:"active"`
}

// EntryView is one CommitLog entry.
type EntryView struct {
	Index     uint64 `json:"index"`
	Term      uint64 `json:"term"`
	Type      string `json:"type"`
	Committed bool   `json:"committed"`
	// Durable: persisted (fsynced) on this broker.
	Durable bool `json:"durable"`
	// Pos and Size locate the entry in the CommitLog (-1 if unknown).
	Pos  int64 `json:"pos"`
	Size int32 `json:"size"`
	// Summary is a short label: "orders: hello" or "no-op".
	Summary string `json:"summary"`
}

// SegmentView is one CommitLog segment file.
type SegmentView struct {
	Name  string `json:"name"`
	Start int64  `json:"start"`
	Size  int64  `json:"size"`
	Cap   int64  `json:"cap"`
}

// MessageView is a message between brokers.
type MessageView struct {
	ID        uint64 `json:"id"`
	From      int    `json:"from"`
	To        int    `json:"to"`
	Type      string `json:"type"`
	Term      uint64 `json:"term"`
	SentMs    int64  `json:"sent_ms"`
	DeliverMs int64  `json:"deliver_ms"`
	Entries   int    `json:"entries,omitempty"`
	Reject    bool   `json:"reject,omitempty"`
	Dropped   bool   `json:"dropped,omitempty"`
	Summary   string `json:"summary"`
}

// Link is a directed link between two brokers.
type Link = simnet.Link

// EventView is one event, as core.Event plus time.
type EventView struct {
	TimeMs int64  `json:"time_ms"`
	Node   int    `json:"node"`
	Term   uint64 `json:"term"`
	Kind   string `json:"kind"`
	Peer   int    `json:"peer,omitempty"`
	Index  uint64 `json:"index,omitempty"`
	// Why names the detail's sentence with a stable key and Args holds its
	// values, so the page says it in the learner's language; Detail is the
	// English sentence (logs, and the page's fallback).
	Why    string    `json:"why,omitempty"`
	Args   core.Args `json:"args,omitempty"`
	Detail string    `json:"detail,omitempty"`
}

// Violation is a checker's finding, in a sentence a learner can read.
type Violation struct {
	TimeMs  int64  `json:"time_ms"`
	Rule    string `json:"rule"`
	Brokers []int  `json:"brokers"`
	Text    string `json:"text"`
	// Event is what the simulator was doing when the check failed.
	Event string `json:"event"`
}

// ClientsView summarises producers and consumers.
type ClientsView struct {
	Producers []ProducerView `json:"producers"`
	Consumers []ConsumerView `json:"consumers"`
}

// ProducerView is one producer.
type ProducerView struct {
	ID      string `json:"id"`
	Topic   string `json:"topic"`
	Sent    int    `json:"sent"`
	Acked   int    `json:"acked"`
	Unknown int    `json:"unknown"`
	Retries int    `json:"retries"`
	// Node is the broker this producer always sends to (the page's "Send
	// to"), or 0: it follows the leader, starting from its Guess (0: no
	// guess yet, it tries the brokers in turn).
	Node  int `json:"node"`
	Guess int `json:"guess,omitempty"`
	// Target, Seq and Body describe the send in progress (Target 0: none):
	// the broker its current attempt went to, its producer sequence number
	// and its body (clipped). Queued messages wait behind it.
	Target int    `json:"target,omitempty"`
	Seq    uint64 `json:"seq,omitempty"`
	Body   string `json:"body,omitempty"`
	Queued int    `json:"queued,omitempty"`
	// Pending describes the send in progress, if any.
	Pending string `json:"pending,omitempty"`
	// Last is the last answer: "ok 1/t2 @0", "NOT_LEADER (broker 2)", …
	Last string `json:"last,omitempty"`
	// LastWhy names Last's sentence ("ok", "not-leader", "no-leader-known",
	// "timeout", or "code" for any other refusal) and LastArgs holds its
	// values, for the page's own words (as EventView's why and args).
	LastWhy  string    `json:"last_why,omitempty"`
	LastArgs core.Args `json:"last_args,omitempty"`
}

// GroupOffset is one group's committed offset in one topic on a broker.
type GroupOffset struct {
	Group  string `json:"group"`
	Topic  string `json:"topic"`
	Offset uint64 `json:"offset"`
}

// ConsumerView is one consumer.
type ConsumerView struct {
	ID     string   `json:"id"`
	Topic  string   `json:"topic"`
	Node   int      `json:"node"`
	Offset uint64   `json:"offset"`
	Recent []string `json:"recent"`
	// Group is the consumer group; Committed the offset it last committed
	// (or resumed from). Delivered counts messages the group got the first
	// time, Redelivered those it got again (at least once: after a failover
	// to a broker with an older offset), and Redone are the last offsets
	// delivered again.
	Group       string   `json:"group"`
	Committed   uint64   `json:"committed"`
	Delivered   int      `json:"delivered"`
	Redelivered int      `json:"redelivered"`
	Redone      []uint64 `json:"redone,omitempty"`
}

// SettingsView is the knobs the page shows.
type SettingsView struct {
	Nodes             int     `json:"nodes"`
	TickMs            int     `json:"tick_ms"`
	LatencyMs         int     `json:"latency_ms"`
	JitterMs          int     `json:"jitter_ms"`
	Loss              float64 `json:"loss"`
	FsyncMs           int     `json:"fsync_ms"`
	CheckQuorum       bool    `json:"check_quorum"`
	PreVote           bool    `json:"pre_vote"`
	UpToDateCheck     bool    `json:"up_to_date_check"`
	CurrentTermCommit bool    `json:"current_term_commit"`
	PersistBeforeAck  bool    `json:"persist_before_ack"`
	SegmentSize       int64   `json:"segment_size"`
	// Offsets is how consumer offsets are kept: "local" or "replicated"
	// (Config.Offsets).
	Offsets string `json:"offsets"`
}

// TimelineView lets the page draw the rewind slider (sim only).
type TimelineView struct {
	EndMs       int64    `json:"end_ms"`
	Checkpoints []int64  `json:"checkpoints"`
	Actions     []Action `json:"actions"`
}
