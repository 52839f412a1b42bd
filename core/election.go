package core

import "fmt"

// This file is leader election: the seed's "random sleep, the first to wake
// becomes candidate, asks for votes, a majority makes the leader" — Raft §5.2
// with the election restriction of §5.4.1, PreVote (thesis §9.6) and
// CheckQuorum (thesis §6.2). DLedger: DLedgerLeaderElector.

// tickElection runs on followers and candidates: when the randomized timeout
// passes without word from a leader, campaign.
func (n *Node) tickElection() {
	n.electionElapsed++
	if n.electionElapsed >= n.electionTimeout {
		n.event(Event{Kind: EventElectionTimeout, Why: "no-leader-heard", Args: NewArgs("ticks", n.electionElapsed), Detail: fmt.Sprintf("no leader heard for %d ticks", n.electionElapsed)})
		n.campaign()
	}
}

// TicksUntilDue returns how many calls to Tick it takes until one may do
// more than advance the replica's timers (campaign, send heartbeats, run a
// CheckQuorum round): the calls before it only count, and a runner may make
// them at once with SkipTicks. The simulator ticks a replica only when it is
// due, and catches the others up before anything else reaches them.
func (n *Node) TicksUntilDue() int {
	if n.role == RoleLeader {
		return max(1, min(n.cfg.ElectionTicksMin-n.electionElapsed, n.cfg.HeartbeatTicks-n.heartbeatElapsed))
	}
	return max(1, n.electionTimeout-n.electionElapsed)
}

// SkipTicks stands for k calls to Tick that only advance the timers: k must
// be below TicksUntilDue.
func (n *Node) SkipTicks(k int) {
	if k <= 0 {
		return
	}
	if due := n.TicksUntilDue(); k >= due {
		panic(fmt.Sprintf("broker %d: skipping %d ticks, but tick %d is due", uint64(n.id), k, due))
	}
	n.electionElapsed += k
	if n.role == RoleLeader {
		n.heartbeatElapsed += k
	}
}

// tickLeader sends heartbeats and, with CheckQuorum, steps down when a
// majority has gone quiet for an election timeout.
func (n *Node) tickLeader() {
	n.heartbeatElapsed++
	n.electionElapsed++
	if n.electionElapsed >= n.cfg.ElectionTicksMin {
		n.electionElapsed = 0
		if n.transferee != None {
			n.event(Event{Kind: EventTransferAborted, Peer: n.transferee, Why: "transfer-timed-out", Detail: "target did not take over within an election timeout"})
			n.transferee = None
		}
		if !n.cfg.DisableCheckQuorum && !n.quorumActive() {
			n.event(Event{Kind: EventSteppedDown, Why: "check-quorum", Detail: "CheckQuorum: a majority has not answered for an election timeout"})
			n.becomeFollower(n.term, None)
			return
		}
	}
	if n.heartbeatElapsed >= n.cfg.HeartbeatTicks {
		n.heartbeatElapsed = 0
		n.bcastHeartbeat()
	}
}

// quorumActive reports whether a majority (self included) answered since the
// last check, and starts a new round.
func (n *Node) quorumActive() bool {
	active := 1
	for i := range n.prs {
		if pr := &n.prs[i]; n.peers[i] != n.id {
			if pr.recentActive {
				active++
			}
			pr.recentActive = false
		}
	}
	return active >= n.quorum()
}

// campaign starts an election; with PreVote on it first runs a pre-vote.
func (n *Node) campaign() {
	if !n.cfg.DisablePreVote {
		n.becomePreCandidate()
		n.requestVotes(MsgPreVote, n.term+1, false)
		return
	}
	n.elect(false)
}

// elect raises the term and asks for votes. force asks voters to ignore
// their lease: the last step of a leadership transfer.
func (n *Node) elect(force bool) {
	n.becomeCandidate()
	n.requestVotes(MsgVote, n.term, force)
}

// becomePreCandidate asks around without changing term, so a broker cut off
// from the group cannot inflate terms while it is away.
func (n *Node) becomePreCandidate() {
	n.reset(n.term)
	n.role = RolePreCandidate
	n.votes = map[NodeID]bool{}
	n.event(Event{Kind: EventBecamePreCandidate, Why: "would-campaign", Args: NewArgs("term", n.term+1), Detail: fmt.Sprintf("would campaign for term %d", n.term+1)})
}

// becomeCandidate: increment term, vote for self (§5.2; seed: 候选者, term 1).
func (n *Node) becomeCandidate() {
	n.reset(n.term + 1)
	n.role = RoleCandidate
	n.vote = n.id
	n.votes = map[NodeID]bool{}
	n.event(Event{Kind: EventBecameCandidate})
}

func (n *Node) requestVotes(t MessageType, term uint64, force bool) {
	if n.recordVote(n.id, true) {
		return // a group of one
	}
	for _, id := range n.peers {
		if id != n.id {
			n.send(Message{Type: t, To: id, Term: term, LogIndex: n.log.lastIndex(), LogTerm: n.log.lastTerm(), Force: force})
		}
	}
}

// recordVote counts an answer and acts on a majority either way. It reports
// whether the campaign ended.
func (n *Node) recordVote(from NodeID, granted bool) bool {
	if _, dup := n.votes[from]; !dup {
		n.votes[from] = granted
	}
	yes, no := 0, 0
	for _, g := range n.votes {
		if g {
			yes++
		} else {
			no++
		}
	}
	switch {
	case yes >= n.quorum():
		if n.role == RolePreCandidate {
			n.elect(false)
		} else {
			n.becomeLeader()
		}
		return true
	case no >= n.quorum():
		n.becomeFollower(n.term, None)
		return true
	}
	return false
}

// handleVote answers a (pre-)vote request (Figure 2, RequestVote receiver).
func (n *Node) handleVote(m Message) {
	resp := MsgVoteResp
	if m.Type == MsgPreVote {
		resp = MsgPreVoteResp
	}
	// At most one vote per term (§5.2). A pre-vote for a future term binds
	// nothing, so it may be granted when we know no leader for it.
	canVote := n.vote == m.From ||
		(n.vote == None && n.lead == None) ||
		(m.Type == MsgPreVote && m.Term > n.term)
	upToDate := n.log.isUpToDate(m.LogIndex, m.LogTerm)
	switch {
	case !canVote:
		n.event(Event{Kind: EventVoteRefused, Peer: m.From, Why: "already-voted", Args: NewArgs("msg", m.Type.String(), "voted", uint64(n.vote), "term", n.term), Detail: fmt.Sprintf("%s: already voted for %d in term %d", m.Type, uint64(n.vote), n.term)})
		n.send(Message{Type: resp, To: m.From, Reject: true})
	case !upToDate && !n.cfg.Rules.SkipUpToDateCheck:
		n.event(Event{Kind: EventVoteRefused, Peer: m.From, Why: "log-behind",
			Args: NewArgs("msg", m.Type.String(), "last", m.LogIndex, "lastTerm", m.LogTerm, "ours", n.log.lastIndex(), "oursTerm", n.log.lastTerm()),
			Detail: fmt.Sprintf("%s: candidate's log (last %d@t%d) is behind ours (last %d@t%d), §5.4.1",
				m.Type, m.LogIndex, m.LogTerm, n.log.lastIndex(), n.log.lastTerm())})
		n.send(Message{Type: resp, To: m.From, Reject: true})
	default:
		n.event(Event{Kind: EventVoteGranted, Peer: m.From, Why: "granted", Args: NewArgs("msg", m.Type.String(), "term", m.Term), Detail: fmt.Sprintf("%s for term %d", m.Type, m.Term)})
		// Answer in the candidate's term so it counts the answer.
		n.send(Message{Type: resp, To: m.From, Term: m.Term})
		if m.Type == MsgVote {
			n.vote = m.From
			n.electionElapsed = 0
		}
	}
}

// handleVoteResp counts an answer to our campaign.
func (n *Node) handleVoteResp(m Message) {
	want := RoleCandidate
	if m.Type == MsgPreVoteResp {
		want = RolePreCandidate
	}
	if n.role != want {
		return // a late answer to a campaign that is over
	}
	n.recordVote(m.From, !m.Reject)
}

// becomeLeader: the seed's "新的领导者". The new leader appends a no-op so
// entries of earlier terms commit promptly (§5.4.2, §8), and starts pushing.
func (n *Node) becomeLeader() {
	granted := 0
	for _, g := range n.votes {
		if g {
			granted++
		}
	}
	n.reset(n.term)
	n.role = RoleLeader
	n.lead = n.id
	n.prs = make([]progress, len(n.peers)) // our own slot stays unused
	for i := range n.prs {
		n.prs[i] = progress{next: n.log.lastIndex() + 1, recentActive: true}
	}
	n.event(Event{Kind: EventBecameLeader, Why: "won-votes", Args: NewArgs("won", granted, "of", len(n.peers), "majority", n.quorum()), Detail: fmt.Sprintf("won %d of %d votes; a majority is %d (N/2+1)", granted, len(n.peers), n.quorum())})
	n.appendEntry(EntryNoOp, nil)
	n.bcastHeartbeat()
}

// Campaign starts an election now, as if this broker's timer had fired
// first and the others' were about to (the lessons' "Broker 2 wakes
// first"; etcd's MsgHup): it raises its term and asks for votes at once,
// past the voters' lease, like the last step of a leadership transfer. A
// leader ignores it.
func (n *Node) Campaign() {
	defer n.assertInvariants()
	if n.role == RoleLeader {
		return
	}
	n.elect(true)
}
