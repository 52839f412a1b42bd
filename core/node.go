package core

import (
	"cmp"
	"errors"
	"fmt"
	"math"
	"slices"
)

// Role is a replica's part in the group (seed: 主 / 从 / 候选者).
type Role uint8

const (
	// RoleFollower (从) answers the leader and votes.
	RoleFollower Role = iota
	// RolePreCandidate asks whether it could win before raising its term
	// (PreVote, thesis §9.6). The UI draws it as a candidate.
	RolePreCandidate
	// RoleCandidate (候选者) has raised its term and asks for votes (§5.2).
	RoleCandidate
	// RoleLeader (主) takes client writes and replicates them (§5.3).
	RoleLeader
)

func (r Role) String() string {
	switch r {
	case RoleFollower:
		return "follower"
	case RolePreCandidate:
		return "pre-candidate"
	case RoleCandidate:
		return "candidate"
	case RoleLeader:
		return "leader"
	}
	return fmt.Sprintf("Role(%d)", uint8(r))
}

// Errors a caller handles.
var (
	// ErrNotLeader: only the leader takes proposals; Status().Lead says who is.
	ErrNotLeader = errors.New("not the leader")
	// ErrTransferring: the leader is handing over and takes no proposals.
	ErrTransferring = errors.New("leadership transfer in progress")
	// ErrUnknownNode: the id is not a member of the group.
	ErrUnknownNode = errors.New("unknown broker id")
	// ErrEntryTooLarge: the proposed data is over Config.MaxEntryBytes.
	ErrEntryTooLarge = errors.New("entry too large")
)

// Node is one replica. It is not safe for concurrent use: one goroutine (or
// the simulator) owns it.
type Node struct {
	id    NodeID
	peers []NodeID // sorted, self included
	cfg   Config

	// Persistent state (Figure 2).
	term uint64
	vote NodeID
	log  raftLog

	role Role
	// lead is the leader of the current term, if known.
	lead NodeID
	// votes records answers to our (pre-)vote requests this campaign.
	votes map[NodeID]bool

	// prs is the leader's view of every follower, one slot per member in
	// peers order (our own slot is unused); nil unless leading.
	prs []progress
	// transferee is the target of a leadership transfer in progress, or None.
	transferee NodeID

	electionElapsed  int
	heartbeatElapsed int
	// electionTimeout is the randomized timeout drawn in
	// [ElectionTicksMin, ElectionTicksMax] at each reset (§5.2).
	electionTimeout int
	rand            rng

	// flush is set when the leader may have pushes to send; Ready sends them
	// in batches.
	flush bool
	// inbound is a snapshot being received from the leader (snapshot.go).
	inbound *inbound
	// scratch is reused by maybeCommit.
	scratch []uint64

	// Outbox, drained by Ready.
	eager  []Message
	msgs   []Message
	events []Event
	// spare holds the outbox arrays handed out by the previous Ready; the
	// next Ready reuses them (see Ready's contract).
	spareEager, spareMsgs []Message
	spareEvents           []Event
	prevHard              HardState
}

// NewNode creates a replica from cfg, restoring what cfg.Storage persisted.
// A restored node starts as a follower that knows no leader.
func NewNode(cfg Config) (*Node, error) {
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	n := &Node{
		id:    cfg.ID,
		peers: slices.Sorted(slices.Values(cfg.Peers)),
		cfg:   cfg,
		rand:  newRNG(cfg.Seed, cfg.ID),
	}
	s, cache := cfg.Storage, cfg.LogCacheBytes
	if s == nil {
		s, cache = noStorage{}, math.MaxInt
	}
	hs, err := s.InitialState()
	if err != nil {
		return nil, fmt.Errorf("broker %d: reading hard state: %w", uint64(cfg.ID), err)
	}
	if n.log, err = newLog(s, cache); err != nil {
		return nil, fmt.Errorf("broker %d: %w", uint64(cfg.ID), err)
	}
	n.log.unsafe = cfg.Rules.Any() || cfg.Damaged
	if hs.Commit > n.log.lastIndex() {
		return nil, fmt.Errorf("broker %d: stored commit index %d is past the stored log's end %d", uint64(cfg.ID), hs.Commit, n.log.lastIndex())
	}
	hs.Commit = max(hs.Commit, n.log.snap.Index) // a snapshot is committed
	if cfg.Applied > hs.Commit {
		return nil, fmt.Errorf("broker %d: Applied %d is past the stored commit index %d", uint64(cfg.ID), cfg.Applied, hs.Commit)
	}
	if cfg.Applied < n.log.snap.Index {
		return nil, fmt.Errorf("broker %d: Applied %d is below the stored snapshot's index %d: load the snapshot into the state machine first", uint64(cfg.ID), cfg.Applied, n.log.snap.Index)
	}
	n.term, n.vote = hs.Term, hs.Vote
	n.log.committed, n.log.applied, n.log.handed = hs.Commit, cfg.Applied, cfg.Applied
	n.prevHard = hs
	n.becomeFollower(n.term, None)
	return n, nil
}

// ID returns this replica's id.
func (n *Node) ID() NodeID { return n.id }

// Tick advances logical time by one tick.
func (n *Node) Tick() {
	defer n.assertInvariants()
	if n.role == RoleLeader {
		n.tickLeader()
	} else {
		n.tickElection()
	}
}

// Propose appends data as a new uncommitted entry (the first phase of the
// seed's two-phase replication) and returns its index and term. The entry is
// committed once a majority has persisted it; Ready.Committed then hands it
// out. Only the leader accepts proposals.
func (n *Node) Propose(data []byte) (index, term uint64, err error) {
	if n.role != RoleLeader {
		return 0, 0, ErrNotLeader
	}
	if n.transferee != None {
		return 0, 0, ErrTransferring
	}
	if len(data) > n.cfg.MaxEntryBytes {
		// Refused before it enters the log: an entry the followers'
		// CommitLogs cannot hold would stop replication for good.
		return 0, 0, fmt.Errorf("%w: %d bytes, limit %d", ErrEntryTooLarge, len(data), n.cfg.MaxEntryBytes)
	}
	e := n.appendEntry(EntryNormal, data)
	return e.Index, e.Term, nil
}

// Step hands the replica one message from a peer. A message that cannot be
// valid (unknown sender, wrong recipient, malformed fields) is dropped with an
// EventDropped saying why.
func (n *Node) Step(m Message) {
	defer n.assertInvariants()
	if why := n.checkMessage(m); why != "" {
		n.event(Event{Kind: EventDropped, Peer: m.From, Why: "malformed", Args: NewArgs("msg", m.Type.String()), Detail: fmt.Sprintf("%s: %s", m.Type, why)})
		return
	}
	if !n.stepTerm(m) {
		return
	}
	switch m.Type {
	case MsgPreVote, MsgVote:
		n.handleVote(m)
	case MsgPreVoteResp, MsgVoteResp:
		n.handleVoteResp(m)
	case MsgPush:
		n.handlePush(m)
	case MsgPushResp:
		n.handlePushResp(m)
	case MsgHeartbeat:
		n.handleHeartbeat(m)
	case MsgHeartbeatResp:
		n.handleHeartbeatResp(m)
	case MsgTimeoutNow:
		n.handleTimeoutNow(m)
	case MsgSnapshot:
		n.handleSnapshot(m)
	case MsgSnapshotResp:
		n.handleSnapshotResp(m)
	}
}

// checkMessage returns why m must be dropped, or "".
func (n *Node) checkMessage(m Message) string {
	switch {
	case !m.Type.Valid():
		return "unknown message type"
	case m.To != n.id:
		return fmt.Sprintf("addressed to broker %d", uint64(m.To))
	case m.From == n.id || !n.isPeer(m.From):
		return fmt.Sprintf("sender %d is not a peer", uint64(m.From))
	case m.Term == 0:
		return "term 0"
	}
	if m.Type == MsgPush {
		prev := m.LogTerm
		for i, e := range m.Entries {
			if e.Index != m.LogIndex+uint64(i)+1 {
				return fmt.Sprintf("entry %d of the push has index %d, want %d", i, e.Index, m.LogIndex+uint64(i)+1)
			}
			if e.Term < prev || e.Term > m.Term {
				return fmt.Sprintf("entry %d has term %d outside [%d, %d]", e.Index, e.Term, prev, m.Term)
			}
			if len(e.Data) > n.cfg.MaxEntryBytes {
				return fmt.Sprintf("entry %d has %d bytes, over the %d-byte limit", e.Index, len(e.Data), n.cfg.MaxEntryBytes)
			}
			prev = e.Term
		}
		if m.LogTerm > m.Term {
			return fmt.Sprintf("previous entry's term %d is above the push's term %d", m.LogTerm, m.Term)
		}
	}
	if m.Type == MsgSnapshot {
		switch {
		case m.LogIndex == 0 || m.LogTerm == 0 || m.LogTerm > m.Term:
			return fmt.Sprintf("snapshot of entry %d@t%d in term %d", m.LogIndex, m.LogTerm, m.Term)
		case len(m.Chunk) > n.cfg.MaxEntryBytes:
			return fmt.Sprintf("snapshot chunk of %d bytes, over the %d-byte limit", len(m.Chunk), n.cfg.MaxEntryBytes)
		case m.Index > math.MaxUint64-uint64(len(m.Chunk)):
			return fmt.Sprintf("snapshot chunk at offset %d overflows", m.Index)
		}
	}
	if len(m.Chunk) > 0 && m.Type != MsgSnapshot || m.Done && m.Type != MsgSnapshot {
		return fmt.Sprintf("%s carries snapshot data", m.Type)
	}
	return ""
}

// stepTerm applies the rule every server follows (Figure 2, "Rules for
// Servers"): a higher term makes us a follower of that term; a lower term is
// answered so its sender learns it is stale. It reports whether m should be
// handled further.
func (n *Node) stepTerm(m Message) bool {
	switch {
	case m.Term > n.term:
		if m.Type == MsgVote || m.Type == MsgPreVote {
			// CheckQuorum's lease: while we hear from a leader, ignore
			// campaigns (thesis §4.2.3), unless a transfer asked for it.
			if n.inLease() && !m.Force {
				n.event(Event{Kind: EventVoteIgnored, Peer: m.From, Why: "in-lease", Args: NewArgs("msg", m.Type.String(), "term", m.Term, "leader", uint64(n.lead)), Detail: fmt.Sprintf("%s for term %d while broker %d leads", m.Type, m.Term, uint64(n.lead))})
				return false
			}
		}
		switch {
		case m.Type == MsgPreVote:
			// A pre-vote changes nobody's term.
		case m.Type == MsgPreVoteResp && !m.Reject:
			// A granted pre-vote carries the term we would campaign in.
		default:
			lead := None
			if m.Type == MsgPush || m.Type == MsgHeartbeat || m.Type == MsgTimeoutNow || m.Type == MsgSnapshot {
				lead = m.From
			}
			if n.role == RoleLeader {
				n.event(Event{Kind: EventSteppedDown, Peer: m.From, Why: "higher-term", Args: NewArgs("seen", m.Term, "ours", n.term), Detail: fmt.Sprintf("saw term %d > %d", m.Term, n.term)})
			}
			n.becomeFollower(m.Term, lead)
		}
	case m.Term < n.term:
		switch m.Type {
		case MsgPush, MsgHeartbeat, MsgSnapshot:
			// Tell a stale leader our term so it steps down (Figure 2:
			// "reply false if term < currentTerm").
			n.send(Message{Type: MsgPushResp, To: m.From, Reject: true, LogIndex: m.LogIndex})
		case MsgPreVote:
			n.send(Message{Type: MsgPreVoteResp, To: m.From, Reject: true})
		}
		n.event(Event{Kind: EventDropped, Peer: m.From, Why: "stale-term", Args: NewArgs("msg", m.Type.String(), "seen", m.Term, "ours", n.term), Detail: fmt.Sprintf("%s from stale term %d < %d", m.Type, m.Term, n.term)})
		return false
	}
	return true
}

// inLease reports whether we heard from a leader within the minimum election
// timeout (only with CheckQuorum on).
func (n *Node) inLease() bool {
	return !n.cfg.DisableCheckQuorum && n.lead != None && n.electionElapsed < n.cfg.ElectionTicksMin
}

// becomeFollower makes us a follower (从) of term, with lead if known.
func (n *Node) becomeFollower(term uint64, lead NodeID) {
	was := n.role
	if n.transferee != None && term > n.term {
		n.event(Event{Kind: EventTransferFinished, Peer: n.transferee, Why: "stepped-down-for", Args: NewArgs("term", term), Detail: fmt.Sprintf("stepped down for term %d", term)})
	}
	n.reset(term)
	n.role = RoleFollower
	n.lead = lead
	if was != RoleFollower || lead != None {
		n.event(Event{Kind: EventBecameFollower, Peer: lead})
	}
}

// reset prepares a new role. Moving to a new term forgets the vote.
func (n *Node) reset(term uint64) {
	if term != n.term {
		n.term = term
		n.vote = None
	}
	n.lead = None
	n.votes = nil
	n.prs = nil
	n.transferee = None
	n.flush = false
	n.electionElapsed = 0
	n.heartbeatElapsed = 0
	n.electionTimeout = n.cfg.ElectionTicksMin + n.rand.intn(n.cfg.ElectionTicksMax-n.cfg.ElectionTicksMin+1)
}

// pr returns the leader's progress of follower id, or nil when we do not
// lead or id is not a follower.
func (n *Node) pr(id NodeID) *progress {
	if n.prs == nil || id == n.id {
		return nil
	}
	// Brokers are usually numbered 1..N: try that position first.
	if i := int(id) - 1; i >= 0 && i < len(n.peers) && n.peers[i] == id {
		return &n.prs[i]
	}
	i, ok := slices.BinarySearch(n.peers, id)
	if !ok {
		return nil
	}
	return &n.prs[i]
}

func (n *Node) isPeer(id NodeID) bool {
	_, ok := slices.BinarySearch(n.peers, id)
	return ok
}

// quorum is the size of a majority: N/2+1 (seed: 机器数/2+1).
func (n *Node) quorum() int { return len(n.peers)/2 + 1 }

// send queues m. Messages from a leader may leave before the leader's own
// persist (thesis §10.2.1); every other message promises durable state and
// leaves only after the caller persisted this Ready.
func (n *Node) send(m Message) {
	m.From = n.id
	if m.Term == 0 {
		m.Term = n.term
	}
	switch {
	case n.role == RoleLeader && !m.Type.IsResponse():
		n.eager = append(n.eager, m)
	case m.Type == MsgPushResp && !m.Reject && n.cfg.Rules.AckBeforePersist:
		n.eager = append(n.eager, m) // the unsafe shortcut a lesson shows
	default:
		n.msgs = append(n.msgs, m)
	}
}

func (n *Node) event(e Event) {
	e.Node = n.id
	if e.Term == 0 {
		e.Term = n.term
	}
	n.events = append(n.events, e)
}

// Ready is everything the replica wants done, in order: send Eager, persist
// HardState and Entries, then send Messages, apply Committed, call Advance.
// Its Eager, Messages and Events slices stay valid until the next call to
// Ready, which refills their arrays: copy what you keep longer (both
// runners send and log the values at once). Entries and Committed share the
// log's immutable entries.
type Ready struct {
	// HardState to persist, if HardStateChanged.
	HardState        HardState
	HardStateChanged bool
	// MustSync is true when the writes must be fsynced before Messages
	// leave: new entries, or a new term or vote (etcd's MustSync). A change
	// of the commit index alone may be written lazily.
	MustSync bool
	// Entries to persist. If Entries[0].Index is at or below the last
	// persisted index, the store first discards its log from there: a
	// follower truncating an uncommitted suffix.
	Entries []Entry
	// Eager may be sent before persisting: a leader's pushes and heartbeats.
	Eager []Message
	// Messages must be sent only after HardState and Entries are persisted:
	// votes and acknowledgements promise durable state.
	Messages []Message
	// Snapshot, if not zero, was installed from the leader: persist it
	// (the log before and after it is gone: the store discards its
	// entries) and load its Data into the state machine, before the
	// Entries that follow it and before Committed are applied.
	Snapshot Snapshot
	// Committed entries, in index order, to apply to the broker.
	Committed []Entry
	// Events is what happened since the last Ready, for the UI and lessons.
	Events []Event
}

// IsEmpty reports whether there is nothing to do.
func (rd *Ready) IsEmpty() bool {
	return !rd.HardStateChanged && rd.Snapshot.IsZero() && len(rd.Entries) == 0 && len(rd.Eager) == 0 &&
		len(rd.Messages) == 0 && len(rd.Committed) == 0 && len(rd.Events) == 0
}

// DurableCommitted returns how many of Committed were persisted by earlier
// Readys: those below Entries (all of them when there are no Entries). A
// caller that persists off its runner may apply them before this Ready's
// fsync, and the rest only after it (see doc.go).
func (rd *Ready) DurableCommitted() int {
	if len(rd.Entries) == 0 {
		return len(rd.Committed)
	}
	k, _ := slices.BinarySearchFunc(rd.Committed, rd.Entries[0].Index, func(e Entry, i uint64) int { return cmp.Compare(e.Index, i) })
	return k
}

// HasReady reports whether Ready would have anything to do.
func (n *Node) HasReady() bool {
	return n.flush || !n.log.pendingSnapshot.IsZero() || len(n.eager) > 0 || len(n.msgs) > 0 || len(n.events) > 0 ||
		n.hardState() != n.prevHard || n.log.stabled < n.log.lastIndex() || n.log.handed < n.log.committed
}

// Ready returns what the replica wants done. The leader batches its pending
// entries into pushes here. Call Advance after processing it.
func (n *Node) Ready() Ready {
	if n.role == RoleLeader && n.flush {
		n.flush = false
		for _, id := range n.peers {
			if id != n.id {
				n.sendPushes(id)
			}
		}
	}
	rd := Ready{
		Snapshot:  n.log.pendingSnapshot,
		Entries:   n.log.unstable(),
		Eager:     n.eager,
		Messages:  n.msgs,
		Committed: n.log.toApply(n.log.committed, n.cfg.MaxCommittedBytesPerReady),
		Events:    n.events,
	}
	if hs := n.hardState(); hs != n.prevHard {
		rd.HardState, rd.HardStateChanged = hs, true
		rd.MustSync = hs.Term != n.prevHard.Term || hs.Vote != n.prevHard.Vote
	}
	rd.MustSync = rd.MustSync || len(rd.Entries) > 0 || !rd.Snapshot.IsZero()
	// Double-buffer the outbox: this Ready's arrays are refilled only after
	// the next Ready, so a caller that follows the contract never sees them
	// change, and a steady group allocates no new outbox per Ready. The
	// spares held the Ready before this one, which the caller is done with:
	// they are cleared, since their pushes' entries would otherwise keep
	// old log arrays and their data in memory for as long as the slots are
	// not overwritten.
	clear(n.spareEager)
	clear(n.spareMsgs)
	clear(n.spareEvents)
	n.eager, n.spareEager = n.spareEager[:0], rd.Eager
	n.msgs, n.spareMsgs = n.spareMsgs[:0], rd.Messages
	n.events, n.spareEvents = n.spareEvents[:0], rd.Events
	return rd
}

// Advance tells the replica that rd was processed: its entries and hard state
// are durable and its committed entries applied. Tick, Step and Propose may
// come between Ready and Advance, while the caller persists rd (see doc.go);
// Ready may not.
func (n *Node) Advance(rd Ready) {
	defer n.assertInvariants()
	if rd.HardStateChanged {
		n.prevHard = rd.HardState
	}
	if !rd.Snapshot.IsZero() && rd.Snapshot.Index == n.log.pendingSnapshot.Index {
		n.log.pendingSnapshot = Snapshot{}
	}
	if k := len(rd.Entries); k > 0 {
		// Inputs stepped while rd was being persisted may have replaced
		// its last entries (a new leader's log, §5.3): only the prefix
		// still in the log is stable, and the entries that replaced the
		// rest come in the next Ready. Terms decide: by the Log Matching
		// Property an entry of the same index and term is the same entry.
		i := k - 1
		for i >= 0 && !n.log.matchTerm(rd.Entries[i].Index, rd.Entries[i].Term) {
			i--
		}
		if i >= 0 {
			n.log.stableTo(rd.Entries[i].Index)
			if n.role == RoleLeader {
				n.maybeCommit() // the leader's own persist counts toward the majority
			}
		}
	}
	if k := len(rd.Committed); k > 0 {
		// (Only with a safety rule off can a step meanwhile have cut
		// committed entries, and applied with them.)
		n.log.applied = min(max(n.log.applied, rd.Committed[k-1].Index), n.log.committed)
	}
}

// Early is the work a replica may do while a Ready is being persisted, as
// soon as it exists: the leader's pushes and heartbeats (thesis §10.2.1:
// the leader replicates in parallel with its own write), and committed
// entries this replica has already persisted. The caller sends Eager and
// applies Committed at once; nothing else is needed (no Advance).
type Early struct {
	Eager     []Message
	Committed []Entry
}

// HasEarly reports whether Early would return anything.
func (n *Node) HasEarly() bool {
	return (n.role == RoleLeader && n.flush) || len(n.eager) > 0 || n.earlyCommitEnd() > n.log.handed
}

// earlyCommitEnd is the last committed entry Early may hand out: one this
// replica persisted (an entry of the Ready in flight is not, and neither
// are the entries after it), and none while a snapshot waits to be
// loaded (it is applied first).
func (n *Node) earlyCommitEnd() uint64 {
	if !n.log.pendingSnapshot.IsZero() {
		return 0
	}
	return min(n.log.committed, n.log.stabled)
}

// Early returns the leader's pending pushes and heartbeats and the
// committed entries already persisted here, for a caller that persists a
// Ready off its runner: between Ready and Advance (see doc.go), it need
// not wait for the fsync to send them or to answer those commits. The
// Ready in flight keeps its own slices; Early's stay valid until the next
// Ready. Committed entries come in index order after the ones every
// earlier Ready handed out: while the Ready in flight still holds
// committed entries that wait for its fsync, Early hands out none (they
// are above the persisted ones, see earlyCommitEnd).
func (n *Node) Early() Early {
	defer n.assertInvariants()
	if n.role == RoleLeader && n.flush {
		n.flush = false
		for _, id := range n.peers {
			if id != n.id {
				n.sendPushes(id)
			}
		}
	}
	// The pushes leave now: the caller keeps their array (the outbox's
	// double buffer belongs to Ready; later messages start a new array).
	var e Early
	if len(n.eager) > 0 {
		e.Eager, n.eager = n.eager, nil
	}
	e.Committed = n.log.toApply(n.earlyCommitEnd(), n.cfg.MaxCommittedBytesPerReady)
	if k := len(e.Committed); k > 0 {
		n.log.applied = e.Committed[k-1].Index
	}
	return e
}

func (n *Node) hardState() HardState {
	return HardState{Term: n.term, Vote: n.vote, Commit: n.log.committed}
}

// Status is a snapshot of a replica for the UI, tools and tests.
type Status struct {
	ID      NodeID
	Role    Role
	Term    uint64
	Vote    NodeID
	Lead    NodeID
	Commit  uint64
	Applied uint64
	// Stabled is the last index persisted on this broker.
	Stabled   uint64
	LastIndex uint64
	LastTerm  uint64
	// ElectionElapsed and ElectionTimeout drive the UI's timer ring.
	ElectionElapsed int
	ElectionTimeout int
	// Transferee is the target of a leadership transfer in progress.
	Transferee NodeID
	// Votes are the answers to our campaign (true = granted).
	Votes map[NodeID]bool
	// Progress is the leader's view of each follower (leader only).
	Progress map[NodeID]Progress
}

// Progress is the leader's view of one follower.
type Progress struct {
	Match        uint64
	Next         uint64
	State        ProgressState
	Inflight     int
	RecentActive bool
}

// Status returns a snapshot of the replica.
func (n *Node) Status() Status {
	s := Status{
		ID: n.id, Role: n.role, Term: n.term, Vote: n.vote, Lead: n.lead,
		Commit: n.log.committed, Applied: n.log.applied, Stabled: n.log.stabled,
		LastIndex: n.log.lastIndex(), LastTerm: n.log.lastTerm(),
		ElectionElapsed: n.electionElapsed, ElectionTimeout: n.electionTimeout,
		Transferee: n.transferee,
	}
	if n.votes != nil {
		s.Votes = make(map[NodeID]bool, len(n.votes))
		for id, v := range n.votes {
			s.Votes[id] = v
		}
	}
	if n.role == RoleLeader {
		s.Progress = make(map[NodeID]Progress, len(n.prs)-1)
		for i, pr := range n.prs {
			if id := n.peers[i]; id != n.id {
				s.Progress[id] = Progress{Match: pr.match, Next: pr.next, State: pr.state, Inflight: len(pr.inflight), RecentActive: pr.recentActive}
			}
		}
	}
	return s
}

// Entries returns the log entries lo <= Index < hi, clamped to the log.
// The slice is shared: callers must not modify it.
func (n *Node) Entries(lo, hi uint64) []Entry {
	lo = max(lo, n.log.snap.Index+1) // the rest is compacted away
	hi = min(hi, n.log.lastIndex()+1)
	if lo >= hi {
		return nil
	}
	return n.log.slice(lo, hi)
}

// EntryTerm returns the term of log entry i (false past the log's end),
// from memory or Storage: cheaper than Entries when only terms matter.
func (n *Node) EntryTerm(i uint64) (uint64, bool) { return n.log.term(i) }

// Peers returns the group's members, sorted.
func (n *Node) Peers() []NodeID { return slices.Clone(n.peers) }

// Clone returns an independent copy of the replica (the simulator keeps
// copies as checkpoints for rewinding) that reads persisted entries from s,
// a copy of the original's Storage as it is now (nil: the original's).
func (n *Node) Clone(s Storage) *Node {
	c := *n
	if s != nil && n.cfg.Storage != nil {
		c.cfg.Storage, c.log.storage = s, s
	}
	c.peers = slices.Clone(n.peers)
	c.cfg.Peers = slices.Clone(n.cfg.Peers)
	// The log only ever appends, or is cut with its capacity clipped
	// (truncateFrom), or moves to a new array (evict), so entries a copy can
	// see are never written again: the copy shares them, clipped so that
	// its next append copies while the original appends past what the copy
	// sees.
	c.log.mem = slices.Clip(n.log.mem)
	if n.votes != nil {
		c.votes = make(map[NodeID]bool, len(n.votes))
		for k, v := range n.votes {
			c.votes[k] = v
		}
	}
	c.prs = slices.Clone(n.prs)
	for i := range c.prs {
		c.prs[i].inflight = slices.Clone(c.prs[i].inflight)
	}
	c.scratch = nil
	if n.inbound != nil {
		in := *n.inbound
		in.data = slices.Clip(in.data) // only ever appended to
		c.inbound = &in
	}
	c.eager = slices.Clone(n.eager)
	c.msgs = slices.Clone(n.msgs)
	c.events = slices.Clone(n.events)
	c.spareEager, c.spareMsgs, c.spareEvents = nil, nil, nil // never share a refillable array
	return &c
}

// Role returns the replica's role (cheaper than Status).
// LeadsWithCurrentState reports whether this replica leads and its state
// machine, applied up to applied, has applied an entry of the current term.
// Only then has it applied everything earlier leaders committed: its term's
// first entry follows all of it (Raft §8; etcd's ReadIndex waits for the
// same). A new leader answers reads of replicated state, such as consumer
// offsets kept in the log, only from then on.
func (n *Node) LeadsWithCurrentState(applied uint64) bool {
	if n.role != RoleLeader {
		return false
	}
	t, ok := n.log.term(applied)
	return ok && t == n.term
}

func (n *Node) Role() Role { return n.role }

// Term returns the current term.
func (n *Node) Term() uint64 { return n.term }

// Lead returns the leader of the current term, if known.
func (n *Node) Lead() NodeID { return n.lead }
