package core

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Reference: §8 — a new leader's state is current only once it has
// committed (here: applied) an entry of its own term; before, it may lack
// entries earlier leaders committed. Followers never serve such reads.
func TestLeadsWithCurrentStateWaitsForAnEntryOfTheTerm(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	nw.tickUntil(100, "the first leader applies its term's entry", func() bool {
		return nw.nodes[lead].LeadsWithCurrentState(nw.nodes[lead].Status().Applied)
	})
	_, _, err := nw.nodes[lead].Propose([]byte("offset commit"))
	require.NoError(t, err)
	nw.tick(5)
	old := nw.nodes[lead].Status().Applied
	for _, id := range nw.ids {
		if id != lead {
			assert.False(t, nw.nodes[id].LeadsWithCurrentState(nw.nodes[id].Status().Applied), "follower %d", id)
		}
	}

	nw.crash(lead)
	next := nw.electLeader()
	require.NotEqual(t, lead, next)
	n := nw.nodes[next]
	assert.False(t, n.LeadsWithCurrentState(old), "state applied only up to the old term's entries is not current")
	nw.tickUntil(100, "the new leader applies an entry of its term", func() bool {
		return n.LeadsWithCurrentState(n.Status().Applied)
	})
	assert.Greater(t, n.Status().Applied, old)
}
