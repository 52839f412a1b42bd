package core

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// DLedger's preferred leader: the leader hands over to an up-to-date
// follower, which campaigns at once and wins. Reference: thesis §3.10.
func TestLeadershipTransferToUpToDateFollower(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	nw.tick(10)
	target := other(lead, nw.ids)
	term := nw.nodes[lead].term
	require.NoError(t, nw.nodes[lead].TransferLeadership(target))
	nw.deliver()
	assert.Equal(t, target, nw.leader())
	assert.Equal(t, term+1, nw.nodes[target].term)
	assert.Len(t, nw.eventsOf(EventTransferStarted), 2, "the leader starts; the target takes over")
	assert.Len(t, nw.eventsOf(EventTransferFinished), 1)
}

// A lagging target is first brought up to date, and the leader takes no
// proposals meanwhile.
func TestLeadershipTransferCatchesTargetUpFirst(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	nw.tick(10)
	target := other(lead, nw.ids)
	nw.filter = func(m Message) bool { return m.To == target && m.Type == MsgPush }
	for i := range 5 {
		_, err := nw.propose(lead, fmt.Sprint(i))
		require.NoError(t, err)
	}
	require.Less(t, nw.nodes[target].log.lastIndex(), nw.nodes[lead].log.lastIndex())
	require.NoError(t, nw.nodes[lead].TransferLeadership(target))
	_, _, err := nw.nodes[lead].Propose([]byte("late"))
	assert.ErrorIs(t, err, ErrTransferring)
	nw.filter = nil
	nw.tickUntil(50, "the target leads", func() bool { return nw.leader() == target })
	assert.Equal(t, nw.logTerms(lead)[:6], nw.logTerms(target)[:6], "the target had every entry before it campaigned")
}

// A transfer to a broker that never answers gives up after an election
// timeout, and the leader takes proposals again.
func TestLeadershipTransferAbortsAfterElectionTimeout(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	target := other(lead, nw.ids)
	nw.crash(target)
	require.NoError(t, nw.nodes[lead].TransferLeadership(target))
	nw.tick(nw.nodes[lead].cfg.ElectionTicksMin + 1)
	assert.Equal(t, lead, nw.leader())
	assert.Len(t, nw.eventsOf(EventTransferAborted), 1)
	_, _, err := nw.nodes[lead].Propose([]byte("again"))
	assert.NoError(t, err)
}

func TestLeadershipTransferErrors(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	assert.ErrorIs(t, nw.nodes[other(lead, nw.ids)].TransferLeadership(lead), ErrNotLeader)
	assert.ErrorIs(t, nw.nodes[lead].TransferLeadership(9), ErrUnknownNode)
	assert.NoError(t, nw.nodes[lead].TransferLeadership(lead), "to itself: nothing to do")
}
