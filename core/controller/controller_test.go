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

// The window the pending request on disk closes, played by hand: the
// master asks to add broker 2, the controller leader has the request in its
// log but has not applied it, the master restarts and hears the old set
// from that leader. Then the request applies, broker 2 is in the set, and
// with brokers 1 and 3 gone it is elected. Had the master forgotten its
// request, it would have acknowledged a write broker 2 never got.
func TestRestartedMasterCountsItsPendingSetChange(t *testing.T) {
	for _, forget := range []bool{false, true} {
		c := solo(t, Options{BrokerTimeoutTicks: 20})
		for range 25 {
			for b := BrokerID(1); b <= 3; b++ {
				heartbeat(c, b, 0, 0)
			}
			tickAndRun(c)
		}
		g, _ := c.Group("g")
		require.Equal(t, BrokerID(1), g.Master)
		c.Handle(Request{Kind: ReqAlterSyncStateSet, Group: "g", Broker: 1, MasterEpoch: g.MasterEpoch, SyncStateSetEpoch: g.SyncStateSetEpoch, SyncStateSet: []BrokerID{1, 3}})
		run(c)
		c.TakeReplies()

		disk := &Disk{}
		b := testBroker(t, 1, disk)
		deliver := func(rs []Reply) {
			for _, r := range rs {
				if r.To == 1 {
					b.HandleReply(r)
				}
			}
		}
		deliver(heartbeat(c, 1, 0, 0))
		require.Equal(t, RoleMaster, b.Role())
		require.Equal(t, []BrokerID{1, 3}, b.State().SyncStateSet)
		ack(b, 2, g.MasterEpoch, 0) // broker 2 holds everything: it may join
		b.Tick()
		reqs := alters(b.TakeOutput())
		require.Len(t, reqs, 1)
		c.Handle(reqs[0]) // in the leader's log, not applied yet

		if forget {
			disk.Pending = nil
		}
		b = testBroker(t, 1, disk) // restart
		c.Handle(Request{Kind: ReqHeartbeat, Group: "g", Broker: 1, Epoch: 1})
		deliver(c.TakeReplies()) // the set as applied: still {1, 3}
		require.Equal(t, RoleMaster, b.Role())
		require.NoError(t, b.Produce(7, []byte("w")))
		ack(b, 3, g.MasterEpoch, 1)
		acked := len(b.TakeOutput().Acks) == 1

		run(c) // the request applies: broker 2 is in the set
		g, _ = c.Group("g")
		require.Equal(t, []BrokerID{1, 2, 3}, g.SyncStateSet)
		for range 25 { // brokers 1 and 3 are gone
			heartbeat(c, 2, 0, 0)
			tickAndRun(c)
		}
		g, _ = c.Group("g")
		require.Equal(t, BrokerID(2), g.Master, "elected from the set")
		if forget {
			assert.True(t, acked, "without the pending request the restarted master acknowledges on broker 3 alone: broker 2, now master, never got the write")
		} else {
			assert.False(t, acked, "with it, the write waits for broker 2")
		}
	}
}
