package core

// ProgressState is how a leader is sending to one follower (etcd-io/raft's
// tracker.StateType; DLedger's EntryDispatcher has the same two modes,
// COMPARE and APPEND).
type ProgressState uint8

const (
	// StateProbe: the leader does not know where the follower's log matches
	// and sends one push at a time until an answer tells it.
	StateProbe ProgressState = iota
	// StateReplicate: the follower's log is known to match up to Match; the
	// leader pipelines up to MaxInflight pushes.
	StateReplicate
	// StateSnapshot: the follower needs entries the leader compacted away
	// and is being sent the snapshot, a chunk at a time (Raft §7).
	StateSnapshot
)

func (s ProgressState) String() string {
	switch s {
	case StateReplicate:
		return "replicate"
	case StateSnapshot:
		return "snapshot"
	}
	return "probe"
}

// progress is the leader's view of one follower (Figure 2 nextIndex[] and
// matchIndex[]).
type progress struct {
	// match is the highest index known to be on the follower's disk.
	// Invariant: match < next.
	match uint64
	// next is the index of the next entry to send.
	next  uint64
	state ProgressState
	// probeSent pauses a probing follower until it answers.
	probeSent bool
	// inflight holds the last index of each push not yet acknowledged, oldest
	// first; its length is at most Config.MaxInflight.
	inflight []uint64
	// heartbeatMatch is match as of the previous heartbeat answer: if it
	// did not move for a whole interval, pushes in flight were lost.
	heartbeatMatch uint64
	// stalls counts heartbeat answers in a row with pushes in flight and no
	// progress.
	stalls int
	// recentActive records that the follower answered since the last
	// CheckQuorum round.
	recentActive bool
	// pendingSnapshot is the index of the snapshot being sent (in
	// StateSnapshot), snapshotOffset the offset of its data the follower
	// asked for last.
	pendingSnapshot, snapshotOffset uint64
}

// becomeSnapshot starts sending the snapshot at index from its beginning.
func (p *progress) becomeSnapshot(index uint64) {
	p.stalls = 0
	p.state = StateSnapshot
	p.probeSent = false
	p.inflight = p.inflight[:0]
	p.pendingSnapshot, p.snapshotOffset = index, 0
}

func (p *progress) becomeProbe() {
	p.pendingSnapshot, p.snapshotOffset = 0, 0
	p.stalls = 0
	p.state = StateProbe
	p.probeSent = false
	p.inflight = p.inflight[:0]
	p.next = p.match + 1
}

func (p *progress) becomeReplicate() {
	p.pendingSnapshot, p.snapshotOffset = 0, 0
	p.state = StateReplicate
	p.probeSent = false
	p.next = p.match + 1
}

// paused reports whether the leader must wait before sending more.
func (p *progress) paused(maxInflight int) bool {
	if p.state != StateReplicate {
		return p.probeSent
	}
	return len(p.inflight) >= maxInflight
}

// sent records a push whose last entry is last.
func (p *progress) sent(last uint64) {
	if p.state == StateProbe {
		p.probeSent = true
		return
	}
	p.inflight = append(p.inflight, last)
	p.next = last + 1
}

// acked records that the follower holds everything up to index; it reports
// whether match moved.
func (p *progress) acked(index uint64) bool {
	n := 0
	for n < len(p.inflight) && p.inflight[n] <= index {
		n++
	}
	p.inflight = p.inflight[:copy(p.inflight, p.inflight[n:])]
	if index <= p.match {
		return false
	}
	p.match = index
	if p.next <= index {
		p.next = index + 1
	}
	p.probeSent = false
	return true
}
