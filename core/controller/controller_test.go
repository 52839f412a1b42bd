package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

// solo is a controller group of one, so that its log commits at once.
func solo(t *testing.T, o Options) *Controller {
	t.Helper()
	c, err := New(core.DefaultConfig(1, []core.NodeID{1}, 7), o)
	require.NoError(t, err)
	for range 100 {
		tickAndRun(c)
		if c.ready() {
			return c
		}
	}
	t.Fatal("no leader")
	return nil
}

func tickAndRun(c *Controller) {
	c.Tick()
	run(c)
}

func run(c *Controller) {
	for c.HasReady() {
		c.Advance(c.Ready())
	}
}

func heartbeat(c *Controller, b BrokerID, epoch uint64, max int64) []Reply {
	c.Handle(Request{Kind: ReqHeartbeat, Controller: 1, Group: "g", Broker: b, Epoch: epoch, MaxOffset: max})
	run(c)
	return c.TakeReplies()
}

func TestControllerElectsWhenTheMasterStopsHeartbeating(t *testing.T) {
	c := solo(t, Options{BrokerTimeoutTicks: 20})
	for b := BrokerID(1); b <= 3; b++ {
		heartbeat(c, b, 0, 0)
	}
	// The group's first master, after a whole timeout of leading.
	for range 25 {
		tickAndRun(c)
		heartbeat(c, 1, 0, 0)
		heartbeat(c, 2, 0, 0)
	}
	g, ok := c.Group("g")
	require.True(t, ok)
	require.Equal(t, []BrokerID{1, 2, 3}, g.Replicas)
	require.NotEqual(t, NoMaster, g.Master)
	first := g.Master
	// Its set grows to all three, by the master's request.
	c.Handle(Request{Kind: ReqAlterSyncStateSet, Group: "g", Broker: first, MasterEpoch: g.MasterEpoch, SyncStateSetEpoch: g.SyncStateSetEpoch, SyncStateSet: []BrokerID{1, 2, 3}})
	run(c)
	replies := c.TakeReplies()
	require.Len(t, replies, 1)
	require.True(t, replies[0].Accepted, replies[0].Why)

	// The master goes quiet; the others keep heartbeating.
	for range 25 {
		tickAndRun(c)
		for b := BrokerID(1); b <= 3; b++ {
			if b != first {
				heartbeat(c, b, 1, 5)
			}
		}
	}
	g, _ = c.Group("g")
	assert.NotEqual(t, first, g.Master)
	assert.NotEqual(t, NoMaster, g.Master)
	assert.Equal(t, uint64(2), g.MasterEpoch)
	assert.Equal(t, []BrokerID{g.Master}, g.SyncStateSet)
}

func TestFollowerControllerPointsToTheLeader(t *testing.T) {
	c, err := New(core.DefaultConfig(2, []core.NodeID{1, 2, 3}, 7), Options{BrokerTimeoutTicks: 20})
	require.NoError(t, err)
	c.Handle(Request{Kind: ReqHeartbeat, Controller: 2, Group: "g", Broker: 1})
	r := c.TakeReplies()
	require.Len(t, r, 1)
	assert.True(t, r[0].NotLeader)
}
