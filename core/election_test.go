package core

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The seed's story: three brokers sleep for random times; the first to wake
// becomes a candidate with term 1, asks for votes, wins 2 of 3 and leads.
// Reference: Raft §5.2.
func TestLeaderElectionFirstToWakeWinsTerm1(t *testing.T) {
	nw := newNetwork(t, 3)
	first := nw.ids[0]
	for _, id := range nw.ids {
		if nw.nodes[id].electionTimeout < nw.nodes[first].electionTimeout {
			first = id
		}
	}
	lead := nw.electLeader()
	assert.Equal(t, first, lead, "the broker with the shortest random timeout wins")
	for _, id := range nw.ids {
		st := nw.nodes[id].Status()
		assert.Equal(t, uint64(1), st.Term, "broker %d", id)
		assert.Equal(t, lead, st.Lead, "broker %d follows the leader", id)
	}
	assert.Len(t, nw.eventsOf(EventBecameLeader), 1)
}

// Reference: §5.2 "each candidate restarts its randomized election timeout";
// timeouts are drawn from [ElectionTicksMin, ElectionTicksMax] and differ.
func TestElectionTimeoutIsRandomizedWithinRange(t *testing.T) {
	seen := map[int]bool{}
	for seed := range uint64(50) {
		c := DefaultConfig(1, []NodeID{1, 2, 3}, seed)
		n, err := NewNode(c)
		require.NoError(t, err)
		for range 20 {
			n.reset(n.term)
			assert.GreaterOrEqual(t, n.electionTimeout, c.ElectionTicksMin)
			assert.LessOrEqual(t, n.electionTimeout, c.ElectionTicksMax)
			seen[n.electionTimeout] = true
		}
	}
	assert.Greater(t, len(seen), 10, "timeouts should spread over the range")
}

// A majority (N/2+1) is needed: a candidate that reaches only a minority
// never leads. Reference: §5.2.
func TestCandidateNeedsMajority(t *testing.T) {
	for _, size := range []int{1, 3, 4, 5} {
		nw := newNetwork(t, size)
		assert.Equal(t, size/2+1, nw.nodes[1].quorum())
		if size == 1 {
			assert.Equal(t, NodeID(1), nw.electLeader(), "a group of one leads itself")
			continue
		}
		// Broker 1 can reach only size/2-1 others: a minority with itself.
		var minority, rest []NodeID
		minority = nw.ids[:size/2]
		rest = nw.ids[size/2:]
		nw.partition(minority, rest)
		for _, id := range rest {
			nw.crash(id)
		}
		nw.tick(300)
		assert.Equal(t, None, nw.leader(), "size %d: a minority must not elect", size)
	}
}

// Reference: §5.2 "each server will vote for at most one candidate in a
// given term, on a first-come-first-served basis".
func TestVoterGrantsAtMostOneVotePerTerm(t *testing.T) {
	n := newTestNode(t, 1, func(c *Config) { c.DisablePreVote = true })
	n.Step(Message{Type: MsgVote, From: 2, To: 1, Term: 1})
	n.Step(Message{Type: MsgVote, From: 3, To: 1, Term: 1})
	msgs := readyMessages(n)
	require.Len(t, msgs, 2)
	assert.False(t, msgs[0].Reject, "first candidate gets the vote")
	assert.True(t, msgs[1].Reject, "second candidate in the same term is refused")
	assert.Equal(t, NodeID(2), n.vote)
	// Asking again is answered the same way (a retransmitted request).
	n.Step(Message{Type: MsgVote, From: 2, To: 1, Term: 1})
	assert.False(t, readyMessages(n)[0].Reject)
}

// The vote survives a restart: a broker that crashes after voting cannot
// vote for someone else in the same term. Reference: Figure 2 (votedFor is
// persistent state).
func TestVotePersistsAcrossRestart(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.DisablePreVote = true })
	n1 := nw.nodes[1]
	n1.Step(Message{Type: MsgVote, From: 2, To: 1, Term: 1})
	nw.process()
	nw.queue = nil
	nw.crash(1)
	nw.restart(1)
	n1 = nw.nodes[1]
	assert.Equal(t, NodeID(2), n1.vote)
	n1.Step(Message{Type: MsgVote, From: 3, To: 1, Term: 1})
	assert.True(t, readyMessages(n1)[0].Reject)
}

// Reference: §5.4.1 election restriction — a voter denies its vote if its
// own log is more up to date than the candidate's. Switching the rule off
// (Rules.SkipUpToDateCheck) grants it.
func TestVoterRejectsCandidateWithStaleLog(t *testing.T) {
	cases := []struct {
		name            string
		lastIdx, lastTm uint64
		wantReject      bool
	}{
		{"shorter log, same last term", 1, 2, true},
		{"older last term, longer log", 5, 1, true},
		{"same log", 2, 2, false},
		{"newer last term, shorter log", 1, 3, false},
		{"longer log, same last term", 3, 2, false},
	}
	for _, tc := range cases {
		for _, skip := range []bool{false, true} {
			n := newTestNode(t, 1, func(c *Config) {
				c.DisablePreVote = true
				c.Rules.SkipUpToDateCheck = skip
				c.Storage = &memStorage{hs: HardState{Term: 2}, ents: []Entry{{Index: 1, Term: 1}, {Index: 2, Term: 2}}}
			})
			n.Step(Message{Type: MsgVote, From: 2, To: 1, Term: 3, LogIndex: tc.lastIdx, LogTerm: tc.lastTm})
			msgs := readyMessages(n)
			require.Len(t, msgs, 1)
			assert.Equal(t, tc.wantReject && !skip, msgs[0].Reject, "%s (skip=%v)", tc.name, skip)
		}
	}
}

// Reference: §5.1 "if a server discovers its term is out of date, it
// immediately reverts to follower state".
func TestHigherTermMakesLeaderStepDown(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	n := nw.nodes[lead]
	n.Step(Message{Type: MsgHeartbeatResp, From: other(lead, nw.ids), To: lead, Term: n.term + 5})
	assert.Equal(t, RoleFollower, n.role)
	assert.Equal(t, uint64(6), n.term)
	assert.NotEmpty(t, nw.events)
}

// A stale leader that pushes to a broker of a newer term is told the newer
// term and steps down. Reference: Figure 2, AppendEntries receiver rule 1.
func TestStaleLeaderLearnsNewTermFromRejection(t *testing.T) {
	nw := newNetwork(t, 3)
	old := nw.electLeader()
	nw.isolate(old)
	nw.nodes[old].cfg.DisableCheckQuorum = true // keep it leading while cut off
	nw.tickUntil(500, "the others elect", func() bool {
		l := nw.leader()
		return l != None && l != old
	})
	nw.recover()
	nw.tickUntil(100, "the old leader follows", func() bool { return nw.nodes[old].role == RoleFollower })
	assert.Equal(t, nw.nodes[nw.leader()].term, nw.nodes[old].term)
}

// Leaders send heartbeats (心跳) every HeartbeatTicks; followers that hear
// them never time out. Reference: §5.2.
func TestHeartbeatsKeepFollowersFromCampaigning(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	term := nw.nodes[lead].term
	before := nw.sent[MsgHeartbeat]
	nw.tick(1000)
	assert.Equal(t, lead, nw.leader())
	assert.Equal(t, term, nw.nodes[lead].term, "no new election while heartbeats flow")
	hb := nw.sent[MsgHeartbeat] - before
	assert.InDelta(t, 2*1000/nw.nodes[lead].cfg.HeartbeatTicks, hb, 4, "one heartbeat per follower per interval")

	// Without heartbeats the followers time out and elect someone new.
	nw.drop[MsgHeartbeat] = true
	nw.tickUntil(200, "a new term", func() bool {
		for _, id := range nw.ids {
			if nw.nodes[id].term > term {
				return true
			}
		}
		return false
	})
}

// A candidate that hears from the leader of its term steps back to
// follower. Reference: §5.2.
func TestCandidateStepsDownForLeaderOfSameTerm(t *testing.T) {
	n := newTestNode(t, 1, func(c *Config) { c.DisablePreVote = true })
	n.campaignNow()
	require.Equal(t, RoleCandidate, n.role)
	n.Step(Message{Type: MsgHeartbeat, From: 2, To: 1, Term: n.term})
	assert.Equal(t, RoleFollower, n.role)
	assert.Equal(t, NodeID(2), n.lead)
}

// Split votes: with equal timeouts every broker campaigns at once and nobody
// wins; random timeouts break the tie. Reference: §5.2 "split votes".
func TestSplitVoteResolvedByRandomTimeouts(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) {
		c.DisablePreVote = true
		c.ElectionTicksMax = c.ElectionTicksMin // no randomness
	})
	nw.tick(nw.nodes[1].cfg.ElectionTicksMin * 5)
	assert.Equal(t, None, nw.leader(), "identical timeouts split the vote again and again")
	assert.Greater(t, nw.nodes[1].term, uint64(3))

	nw = newNetwork(t, 3, func(c *Config) { c.DisablePreVote = true })
	nw.electLeader()
}

func TestPreVoteDoesNotRaiseTerm(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	term := nw.nodes[lead].term
	f := other(lead, nw.ids)
	nw.isolate(f)
	nw.tick(1000)
	assert.Equal(t, term, nw.nodes[f].term, "an isolated broker with PreVote keeps its term")
	assert.Equal(t, RolePreCandidate, nw.nodes[f].role)
}

// A broker cut off and returning must not depose a healthy leader when
// PreVote is on; without PreVote its inflated term does. Reference: thesis
// §9.6.
func TestPreVotePreventsDisruptionByReturningNode(t *testing.T) {
	for _, preVote := range []bool{true, false} {
		nw := newNetwork(t, 3, func(c *Config) { c.DisablePreVote = !preVote })
		lead := nw.electLeader()
		term := nw.nodes[lead].term
		f := other(lead, nw.ids)
		nw.isolate(f)
		nw.tick(500)
		nw.recover()
		nw.tick(200)
		if preVote {
			assert.Equal(t, lead, nw.leader(), "with PreVote the leader stays")
			assert.Equal(t, term, nw.nodes[lead].term)
		} else {
			assert.Greater(t, nw.nodes[nw.electLeader()].term, term+1, "without PreVote the returning broker's term deposes the leader")
		}
	}
}

// With CheckQuorum a leader that cannot hear a majority steps down and
// stops accepting writes; without it, it leads on alone. Reference: thesis
// §6.2 (the seed's 脑裂 question).
func TestCheckQuorumStepsDownIsolatedLeader(t *testing.T) {
	for _, cq := range []bool{true, false} {
		nw := newNetwork(t, 5, func(c *Config) { c.DisableCheckQuorum = !cq })
		lead := nw.electLeader()
		nw.isolate(lead)
		nw.tick(2 * nw.nodes[lead].cfg.ElectionTicksMax)
		if cq {
			assert.NotEqual(t, RoleLeader, nw.nodes[lead].role)
			_, _, err := nw.nodes[lead].Propose([]byte("x"))
			assert.ErrorIs(t, err, ErrNotLeader)
			assert.NotEmpty(t, nw.eventsOf(EventSteppedDown))
		} else {
			assert.Equal(t, RoleLeader, nw.nodes[lead].role, "without CheckQuorum the cut-off leader keeps leading")
		}
	}
}

// With CheckQuorum, followers ignore campaigns while they hear from a leader
// (a lease), so a broker with a long log cannot depose a working leader.
func TestFollowersInLeaseIgnoreVotes(t *testing.T) {
	nw := newNetwork(t, 3, func(c *Config) { c.DisablePreVote = true })
	lead := nw.electLeader()
	f := other(lead, nw.ids)
	n := nw.nodes[f]
	n.Step(Message{Type: MsgVote, From: other2(lead, f, nw.ids), To: f, Term: n.term + 1, LogIndex: 100, LogTerm: 100})
	assert.Equal(t, lead, n.lead)
	assert.NotEmpty(t, nw.nodes[f].events)
	rd := n.Ready()
	assert.Empty(t, rd.Messages, "no answer to a campaign during the lease")
	assert.Equal(t, EventVoteIgnored, rd.Events[len(rd.Events)-1].Kind)
	n.Advance(rd)
}

// --- helpers -------------------------------------------------------------

func newTestNode(t *testing.T, id NodeID, opts ...func(*Config)) *Node {
	c := DefaultConfig(id, []NodeID{1, 2, 3}, 7)
	for _, o := range opts {
		o(&c)
	}
	n, err := NewNode(c)
	require.NoError(t, err)
	return n
}

// readyMessages processes one Ready (persisting nothing) and returns every
// message it sends, eager first.
func readyMessages(n *Node) []Message {
	rd := n.Ready()
	n.Advance(rd)
	return append(rd.Eager, rd.Messages...)
}

func (n *Node) campaignNow() {
	n.electionElapsed = n.electionTimeout - 1
	n.Tick()
}

func other(not NodeID, ids []NodeID) NodeID {
	for _, id := range ids {
		if id != not {
			return id
		}
	}
	return None
}

func other2(a, b NodeID, ids []NodeID) NodeID {
	for _, id := range ids {
		if id != a && id != b {
			return id
		}
	}
	return None
}

// TicksUntilDue is exact: the ticks before the due one only advance timers,
// so SkipTicks leaves a replica exactly as that many Tick calls do, and a
// skip that would pass the due tick is refused. Checked on every broker at
// every tick of a run with elections, proposals, a crash and a partition,
// CheckQuorum and PreVote on and off.
func TestSkipTicksMatchesTicking(t *testing.T) {
	for _, off := range []bool{false, true} {
		nw := newNetwork(t, 5, func(c *Config) { c.DisableCheckQuorum, c.DisablePreVote = off, off })
		checked := 0
		check := func() {
			for _, id := range nw.ids {
				n := nw.nodes[id]
				if nw.down[id] {
					continue
				}
				due := n.TicksUntilDue()
				require.GreaterOrEqual(t, due, 1)
				ticked, skipped := n.Clone(nil), n.Clone(nil)
				had := ticked.HasReady()
				for range due - 1 {
					ticked.Tick()
				}
				skipped.SkipTicks(due - 1)
				require.Equal(t, ticked.Status(), skipped.Status(), "broker %d, %d ticks before the due one", id, due-1)
				require.Equal(t, had, ticked.HasReady(), "broker %d: a tick before the due one made a Ready", id)
				require.Equal(t, had, skipped.HasReady())
				require.Panics(t, func() { skipped.Clone(nil).SkipTicks(due) }, "skipping onto the due tick")
				checked++
			}
		}
		for range 60 {
			check()
			nw.tick(1)
		}
		l := nw.leader()
		require.NotEqual(t, None, l)
		for i := range 10 {
			_, err := nw.propose(l, fmt.Sprintf("m%d", i))
			require.NoError(t, err)
			check()
			nw.tick(1)
		}
		nw.crash(l)
		for range 80 {
			check()
			nw.tick(1)
		}
		nw.partition(nw.ids[:2], nw.ids[2:])
		for range 80 {
			check()
			nw.tick(1)
		}
		nw.recover()
		for range 60 {
			check()
			nw.tick(1)
		}
		require.Greater(t, checked, 1000)
	}
}
