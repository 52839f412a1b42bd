// Package sim is the seeded simulator of a DLedger broker group: virtual
// time, a network that loses, delays, duplicates and reorders messages,
// partitions, crashes and restarts that lose exactly what was not fsynced,
// disk faults, producers and consumers, and checkers that run after every
// event (TigerBeetle's VOPR is the model). It is the playground's engine and
// the project's strongest test.
//
// A run is a function of (Config, Seed, actions): Do records each action
// with the virtual time it happened at, so Seek can rewind to any moment —
// it restores the nearest checkpoint and replays from there — and Share
// packs a run into a short string.
//
// The package is pure, like core: no clock, goroutine, file or socket.
package sim

import (
	"errors"
	"fmt"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
	"dledgerlab/core/internal/xrand"
)

// Config sets up a simulated cluster. The zero value of a field means its
// default (DefaultConfig); JSON names are part of share links.
type Config struct {
	// Nodes is the number of brokers, 1..9.
	Nodes int    `json:"nodes"`
	Seed  uint64 `json:"seed"`
	// TickMs is how much virtual time one core tick is.
	TickMs           int `json:"tick_ms,omitempty"`
	HeartbeatTicks   int `json:"heartbeat_ticks,omitempty"`
	ElectionTicksMin int `json:"election_ticks_min,omitempty"`
	ElectionTicksMax int `json:"election_ticks_max,omitempty"`
	// MaxPushEntries and MaxInflight shape replication (batch size and
	// pipelining depth); 0 means the core's defaults.
	MaxPushEntries int `json:"max_push_entries,omitempty"`
	MaxInflight    int `json:"max_inflight,omitempty"`
	// LatencyMs + a uniform draw in [0, JitterMs] is a message's delay.
	LatencyMs int     `json:"latency_ms,omitempty"`
	JitterMs  int     `json:"jitter_ms,omitempty"`
	Loss      float64 `json:"loss,omitempty"`
	Dup       float64 `json:"dup,omitempty"`
	// Reorder is the chance a message may overtake earlier ones on its link.
	Reorder float64 `json:"reorder,omitempty"`
	// FsyncMs is how long persisting a Ready takes; a crash meanwhile loses it.
	FsyncMs int `json:"fsync_ms,omitempty"`
	// ClientLatencyMs is the one-way delay between clients and brokers.
	ClientLatencyMs int `json:"client_latency_ms,omitempty"`
	// ProduceTimeoutMs is how long a producer waits for an answer
	// (DLedger's WAIT_QUORUM_ACK_TIMEOUT) before the outcome is unknown.
	ProduceTimeoutMs int `json:"produce_timeout_ms,omitempty"`
	// PollMs is how often consumers read.
	PollMs int `json:"poll_ms,omitempty"`
	// SegmentSize is the CommitLog segment size (tiny, so segments roll).
	SegmentSize int64 `json:"segment_size,omitempty"`
	// LogCacheBytes is how much persisted entry data each replica keeps in
	// memory (0: core's default, which holds a playground's whole run);
	// the rest it reads back from its CommitLog.
	LogCacheBytes int `json:"log_cache_bytes,omitempty"`
	// SnapshotEvery makes each broker compact its log (Raft §7) once this
	// many entries were applied since its last snapshot: its broker's state
	// becomes the snapshot, the segments before it are deleted (retention),
	// and a follower that needs them receives the snapshot instead. 0:
	// never.
	SnapshotEvery int `json:"snapshot_every,omitempty"`
	// Offsets is how consumer groups' offsets are kept: "local" (the
	// default, RocketMQ's DLedger mode: each broker keeps what it was told,
	// followers copy the leader's table every OffsetSyncMs) or "replicated"
	// (each commit is a log entry). See broker.OffsetMode.
	Offsets string `json:"offsets,omitempty"`
	// OffsetCommitMs is how often a consumer commits its group's offset
	// (RocketMQ's persistConsumerOffsetInterval, 5 s).
	OffsetCommitMs int `json:"offset_commit_ms,omitempty"`
	// OffsetSyncMs is how often followers copy the leader's offsets in the
	// local mode (a RocketMQ slave's SlaveSynchronize timer).
	OffsetSyncMs int `json:"offset_sync_ms,omitempty"`

	DisableCheckQuorum bool       `json:"disable_check_quorum,omitempty"`
	DisablePreVote     bool       `json:"disable_pre_vote,omitempty"`
	Rules              core.Rules `json:"rules,omitzero"`

	// CheckpointMs is the interval between checkpoints for Seek; -1 turns
	// checkpoints off (the chaos sweep).
	CheckpointMs int64 `json:"checkpoint_ms,omitempty"`
	// ViewLogEntries is how many of each log's last entries View shows.
	ViewLogEntries int `json:"view_log_entries,omitempty"`
	// RecordHistory keeps every client operation for the linearizability check.
	RecordHistory bool `json:"record_history,omitempty"`
}

// DefaultConfig is three brokers with the core's default timings on a 10 ms
// tick: heartbeats every 50 ms, election timeouts of 150–300 ms, 10–20 ms
// links, 5 ms fsyncs, 1 KiB CommitLog segments.
func DefaultConfig() Config {
	c := Config{Nodes: 3, Seed: 1}
	c.fill()
	return c
}

func (c *Config) fill() {
	d := core.DefaultConfig(1, []core.NodeID{1}, 0)
	def := func(v *int, x int) {
		if *v == 0 {
			*v = x
		}
	}
	def(&c.TickMs, 10)
	def(&c.HeartbeatTicks, d.HeartbeatTicks)
	def(&c.ElectionTicksMin, d.ElectionTicksMin)
	def(&c.ElectionTicksMax, d.ElectionTicksMax)
	def(&c.LatencyMs, 10)
	def(&c.JitterMs, 10)
	def(&c.FsyncMs, 5)
	def(&c.ClientLatencyMs, 5)
	def(&c.ProduceTimeoutMs, 2500)
	def(&c.PollMs, 100)
	def(&c.OffsetCommitMs, 5000)
	def(&c.OffsetSyncMs, 5000)
	def(&c.ViewLogEntries, 40)
	if c.SegmentSize == 0 {
		c.SegmentSize = 1024
	}
	if c.CheckpointMs == 0 {
		c.CheckpointMs = 1000
	}
}

// ErrConfig is wrapped by every error about an impossible setting.
var ErrConfig = errors.New("invalid simulator setting")

func (c Config) validate() error {
	bad := func(format string, args ...any) error {
		return fmt.Errorf("%w: %s", ErrConfig, fmt.Sprintf(format, args...))
	}
	switch {
	case c.Nodes < 1 || c.Nodes > 9:
		return bad("nodes = %d; a playground cluster has 1 to 9 brokers", c.Nodes)
	case c.TickMs < 1 || c.TickMs > 1000:
		return bad("tick_ms = %d, want 1..1000", c.TickMs)
	case c.LatencyMs < 0 || c.JitterMs < 0 || c.LatencyMs > 60000 || c.JitterMs > 60000:
		return bad("latency_ms and jitter_ms must be within 0..60000")
	case c.Loss < 0 || c.Loss > 1 || c.Dup < 0 || c.Dup > 1 || c.Reorder < 0 || c.Reorder > 1:
		return bad("loss, dup and reorder are probabilities between 0 and 1")
	case c.FsyncMs < 0 || c.ClientLatencyMs < 0 || c.PollMs < 1 || c.ProduceTimeoutMs < 1:
		return bad("fsync_ms, client_latency_ms must be >= 0; poll_ms, produce_timeout_ms >= 1")
	case c.CheckpointMs < -1:
		return bad("checkpoint_ms = %d, want > 0 or -1 (off)", c.CheckpointMs)
	case c.OffsetCommitMs < 1 || c.OffsetSyncMs < 1:
		return bad("offset_commit_ms and offset_sync_ms must be >= 1")
	}
	if _, err := broker.ParseOffsetMode(c.Offsets); err != nil {
		return bad("offsets: %v", err)
	}
	if err := (commitlog.Options{SegmentSize: c.SegmentSize}).Validate(); err != nil {
		return bad("segment_size: %v", err)
	}
	cc := c.coreConfig(1)
	if _, err := core.NewNode(cc); err != nil {
		return bad("%v", err)
	}
	return nil
}

func (c Config) coreConfig(id int) core.Config {
	peers := make([]core.NodeID, c.Nodes)
	for i := range peers {
		peers[i] = core.NodeID(i + 1)
	}
	cc := core.DefaultConfig(core.NodeID(id), peers, c.Seed)
	cc.HeartbeatTicks = c.HeartbeatTicks
	cc.ElectionTicksMin = c.ElectionTicksMin
	cc.ElectionTicksMax = c.ElectionTicksMax
	if c.MaxPushEntries > 0 {
		cc.MaxPushEntries = c.MaxPushEntries
	}
	if c.MaxInflight > 0 {
		cc.MaxInflight = c.MaxInflight
	}
	cc.DisableCheckQuorum = c.DisableCheckQuorum
	cc.DisablePreVote = c.DisablePreVote
	cc.Rules = c.Rules
	cc.LogCacheBytes = c.LogCacheBytes
	// Small chunks, so that a snapshot's transfer is seen as messages.
	cc.MaxSnapshotChunkBytes = 256
	return cc
}

// Sim is a simulated broker group with its recorded history.
type Sim struct {
	cfg Config
	st  *state
	// actions is the recorded history, sorted by AtMs; st.applied of them
	// have taken effect.
	actions     []Action
	checkpoints []checkpoint
}

type checkpoint struct {
	at int64
	st *state
}

// maxCheckpoints bounds memory: beyond it every other checkpoint is dropped.
const maxCheckpoints = 512

// New starts a cluster at virtual time 0. Brokers start with empty disks and
// random election timers: the first to time out campaigns (the seed's story).
func New(cfg Config) (*Sim, error) {
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg}
	st := &state{cfg: &s.cfg, rng: xrand.New(cfg.Seed ^ 0xD1ED6E5), net: newNetwork(cfg), queue: eventQueue{popped: -1}}
	for id := 1; id <= cfg.Nodes; id++ {
		st.nodes = append(st.nodes, st.newNode(id))
	}
	st.schedule(event{at: int64(cfg.TickMs), kind: evTick})
	s.st = st
	if cfg.CheckpointMs > 0 {
		s.checkpoints = []checkpoint{{at: 0, st: st.clone()}}
	}
	return s, nil
}

// Config returns the configuration with defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

// Now returns the current virtual time in milliseconds.
func (s *Sim) Now() int64 { return s.st.now }

// Do validates a, records it at the current time and applies it. An invalid
// action changes nothing. Doing something after a SeekTo into the past forks
// history: the recorded actions after now are dropped.
func (s *Sim) Do(a Action) error {
	if err := a.validate(s.cfg.Nodes); err != nil {
		return err
	}
	if err := s.st.precheck(a); err != nil {
		return err
	}
	if s.st.applied < len(s.actions) {
		s.actions = s.actions[:s.st.applied]
		s.checkpoints = slices.DeleteFunc(s.checkpoints, func(c checkpoint) bool { return c.at > s.st.now })
	}
	a.AtMs = s.st.now
	s.actions = append(s.actions, a)
	s.st.apply(a)
	// Settle: what the action set off at this very moment happens now, as
	// it does when the run is replayed.
	s.runTo(s.st.now)
	return nil
}

// Advance runs virtual time forward by ms, replaying recorded actions that
// fall in that span (after a SeekTo into the past).
func (s *Sim) Advance(ms int64) {
	if ms < 0 {
		return
	}
	s.runTo(s.st.now + ms)
}

// runTo processes every event and recorded action up to time t (events at
// a time first, then actions at that time), taking checkpoints on the way.
func (s *Sim) runTo(t int64) {
	st := s.st
	const never = int64(1) << 62
	for {
		ta := never
		if st.applied < len(s.actions) {
			ta = s.actions[st.applied].AtMs
		}
		te := never
		if st.queue.len() > 0 {
			te = st.queue.nextAt()
		}
		next := min(ta, te)
		if next > t {
			break
		}
		s.maybeCheckpoint(next)
		if te <= ta {
			st.step()
		} else {
			st.now = ta
			st.apply(s.actions[st.applied])
		}
	}
	s.maybeCheckpoint(t + 1)
	st.now = t
	st.catchUpAll()
}

// maybeCheckpoint takes a checkpoint when one falls due before time next,
// the time of the next thing to happen: the state then is the state at the
// checkpoint's time.
func (s *Sim) maybeCheckpoint(next int64) {
	every := s.cfg.CheckpointMs
	if every <= 0 {
		return
	}
	due := s.checkpoints[len(s.checkpoints)-1].at + every
	if next <= due {
		return
	}
	at := due + (next-1-due)/every*every // the last due time before next
	s.st.now = at
	s.checkpoints = append(s.checkpoints, checkpoint{at: at, st: s.st.clone()})
	if len(s.checkpoints) > maxCheckpoints {
		kept := s.checkpoints[:1:1]
		for i := 1; i < len(s.checkpoints); i++ {
			if i%2 == 0 || i == len(s.checkpoints)-1 {
				kept = append(kept, s.checkpoints[i])
			}
		}
		s.checkpoints = kept
	}
}

// SeekTo moves to virtual time ms: forward by running, backward by restoring
// the nearest earlier checkpoint and replaying the recorded actions.
func (s *Sim) SeekTo(ms int64) error {
	if ms < 0 {
		return fmt.Errorf("seek to %d ms: time starts at 0", ms)
	}
	if ms >= s.st.now {
		s.runTo(ms)
		return nil
	}
	if s.cfg.CheckpointMs <= 0 {
		return errors.New("seek into the past needs checkpoints (checkpoint_ms > 0)")
	}
	i, _ := slices.BinarySearchFunc(s.checkpoints, ms, func(c checkpoint, t int64) int {
		switch {
		case c.at <= t:
			return -1
		default:
			return 1
		}
	})
	cp := s.checkpoints[i-1]
	s.st = cp.st.clone()
	s.st.cfg = &s.cfg
	s.runTo(ms)
	return nil
}

// EndMs is the time of the last recorded action, or now if later.
func (s *Sim) EndMs() int64 {
	end := s.st.now
	if n := len(s.actions); n > 0 {
		end = max(end, s.actions[n-1].AtMs)
	}
	return end
}

// Actions returns the recorded history.
func (s *Sim) Actions() []Action { return slices.Clone(s.actions) }

// Violations returns what the checkers found so far.
func (s *Sim) Violations() []Violation { return slices.Clone(s.st.check.violations) }

// Leader returns the broker that leads in the highest term among those up,
// or 0, and that term.
func (s *Sim) Leader() (id int, term uint64) {
	for _, n := range s.st.nodes {
		if n.state != stateUp {
			continue
		}
		if n.node.Role() == core.RoleLeader && n.node.Term() >= term {
			id, term = n.id, n.node.Term()
		}
	}
	return id, term
}

// Status returns broker id's replica status (zero if it is down).
func (s *Sim) Status(id int) core.Status {
	if id < 1 || id > len(s.st.nodes) || s.st.nodes[id-1].node == nil {
		return core.Status{}
	}
	return s.st.nodes[id-1].node.Status()
}

// NodeState returns "up", "crashed", "paused" or "refused".
func (s *Sim) NodeState(id int) string {
	if id < 1 || id > len(s.st.nodes) {
		return ""
	}
	return s.st.nodes[id-1].state
}
