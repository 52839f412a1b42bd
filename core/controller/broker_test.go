package controller

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func testBroker(t *testing.T, id BrokerID, disk *Disk, opts ...func(*BrokerOptions)) *Broker {
	t.Helper()
	o := BrokerOptions{Group: "g", ID: id, Controllers: []int{1}, HeartbeatTicks: 100, HAMaxTicksSlaveNotCatchup: 10,
		AllAckInSyncStateSet: true, MinInSyncReplicas: 1, PushTicks: 5, MaxPushEntries: 16, RetryTicks: 50}
	for _, f := range opts {
		f(&o)
	}
	b, err := NewBroker(o, disk)
	require.NoError(t, err)
	return b
}

func grp(master BrokerID, epoch uint64, set []BrokerID, setEpoch uint64) Group {
	return Group{Name: "g", Replicas: []BrokerID{1, 2, 3}, Master: master, MasterEpoch: epoch, SyncStateSet: set, SyncStateSetEpoch: setEpoch}
}

// tell hands b a heartbeat reply carrying g.
func tell(b *Broker, g Group) {
	b.HandleReply(Reply{Kind: ReqHeartbeat, Controller: 1, To: b.ID(), Group: g})
}

// ack is slave id's report that it holds the master's CommitLog up to end.
func ack(b *Broker, id BrokerID, epoch uint64, end int64) {
	b.HandleHA(HAMessage{Kind: HAAck, From: id, To: b.ID(), Epoch: epoch, MaxOffset: end})
}

func produce(t *testing.T, b *Broker, n int) {
	t.Helper()
	for i := range n {
		require.NoError(t, b.Produce(uint64(i+1), fmt.Appendf(nil, "m%d", i)))
	}
}

func alters(out Output) []Request {
	var rs []Request
	for _, r := range out.Requests {
		if r.Kind == ReqAlterSyncStateSet {
			rs = append(rs, r)
		}
	}
	return rs
}

func TestMinInSyncReplicasRefusesWrites(t *testing.T) {
	b := testBroker(t, 1, &Disk{}, func(o *BrokerOptions) { o.MinInSyncReplicas = 2 })
	tell(b, grp(1, 1, []BrokerID{1}, 1))
	require.Equal(t, RoleMaster, b.Role())
	err := b.Produce(1, []byte("m"))
	assert.ErrorIs(t, err, ErrInSyncReplicasNotEnough)
	assert.Zero(t, b.MaxOffset(), "a refused write is not stored")

	tell(b, grp(1, 1, []BrokerID{1, 2}, 2))
	assert.NoError(t, b.Produce(2, []byte("m")))
}

func TestOnlyTheMasterTakesWrites(t *testing.T) {
	b := testBroker(t, 2, &Disk{})
	assert.ErrorIs(t, b.Produce(1, []byte("m")), ErrNotMaster, "a broker that heard no controller")
	tell(b, grp(1, 1, []BrokerID{1}, 1))
	assert.Equal(t, RoleSlave, b.Role())
	assert.ErrorIs(t, b.Produce(1, []byte("m")), ErrNotMaster)
}

func TestAllAckWaitsForEverySetMember(t *testing.T) {
	b := testBroker(t, 1, &Disk{})
	tell(b, grp(1, 1, []BrokerID{1, 2, 3}, 2))
	b.TakeOutput()
	produce(t, b, 2)
	assert.Empty(t, b.TakeOutput().Acks)
	ack(b, 2, 1, 2)
	assert.Empty(t, b.TakeOutput().Acks, "broker 3 is in the set and lacks them")
	assert.Zero(t, b.ConfirmOffset())
	ack(b, 3, 1, 1)
	acks := b.TakeOutput().Acks
	require.Len(t, acks, 1)
	assert.Equal(t, int64(0), acks[0].Offset)
	assert.Equal(t, int64(1), b.ConfirmOffset(), "the minimum over the set")
	rd, err := b.Read(0, 10)
	require.NoError(t, err)
	assert.Len(t, rd, 1, "consumers read below the confirm offset only")
}

func TestAnyAckAcknowledgesOnTheMasterAlone(t *testing.T) {
	b := testBroker(t, 1, &Disk{}, func(o *BrokerOptions) { o.AllAckInSyncStateSet = false })
	tell(b, grp(1, 1, []BrokerID{1, 2, 3}, 2))
	b.TakeOutput()
	produce(t, b, 1)
	assert.Len(t, b.TakeOutput().Acks, 1)
	assert.Zero(t, b.ConfirmOffset(), "the confirm offset still waits for the set")
}

func TestLaggingSlaveLeavesSyncStateSet(t *testing.T) {
	b := testBroker(t, 1, &Disk{})
	tell(b, grp(1, 1, []BrokerID{1, 2, 3}, 2))
	var sent []Request
	for range 12 {
		produce(t, b, 1)
		b.Tick()
		ack(b, 2, 1, b.MaxOffset()) // broker 2 keeps up; broker 3 says nothing
		sent = append(sent, alters(b.TakeOutput())...)
	}
	require.Len(t, sent, 1, "one request, after haMaxTimeSlaveNotCatchup")
	assert.Equal(t, []BrokerID{1, 2}, sent[0].SyncStateSet)
	assert.Equal(t, uint64(2), sent[0].SyncStateSetEpoch, "built on the set epoch it holds")
	require.NotNil(t, b.Pending(), "pending until the controllers answer")

	// The controllers accept: broker 3 is out, writes need broker 2 only.
	b.HandleReply(Reply{Kind: ReqAlterSyncStateSet, Controller: 1, To: 1, Accepted: true, Group: grp(1, 1, []BrokerID{1, 2}, 3)})
	assert.Nil(t, b.Pending())
	assert.Equal(t, []BrokerID{1, 2}, b.State().SyncStateSet)
	assert.Equal(t, b.MaxOffset(), b.ConfirmOffset())

	// Broker 3 catches up and rejoins.
	ack(b, 3, 1, b.MaxOffset())
	b.Tick()
	sent = alters(b.TakeOutput())
	require.Len(t, sent, 1)
	assert.Equal(t, []BrokerID{1, 2, 3}, sent[0].SyncStateSet)
	assert.Equal(t, uint64(3), sent[0].SyncStateSetEpoch)
}

// The bug this guards against was found by a seed: a master asks to add a
// caught-up slave, crashes before the answer, restarts, hears the state as
// it was (the controllers had not applied the change yet), and acknowledges
// writes without the slave — which the controllers then put in the set and
// may elect. The pending request is on disk, and until it is resolved the
// master counts both sets.
func TestPendingAlterSurvivesRestart(t *testing.T) {
	disk := &Disk{}
	b := testBroker(t, 1, disk)
	tell(b, grp(1, 1, []BrokerID{1, 3}, 2))
	ack(b, 2, 1, 0) // broker 2 holds everything (nothing yet): it may join
	b.Tick()
	require.Len(t, alters(b.TakeOutput()), 1)
	require.NotNil(t, disk.Pending)

	b = testBroker(t, 1, disk) // crash and restart on the same disk
	assert.ErrorIs(t, b.Produce(1, []byte("m")), ErrNotMaster, "nothing before a controller answers")
	tell(b, grp(1, 1, []BrokerID{1, 3}, 2))
	require.Equal(t, RoleMaster, b.Role())
	require.NotNil(t, b.Pending(), "the same state does not resolve the request")
	produce(t, b, 1)
	ack(b, 3, 1, 1)
	assert.Empty(t, b.TakeOutput().Acks, "broker 2 may be in the set now: it must hold the write too")
	ack(b, 2, 1, 1)
	assert.Len(t, b.TakeOutput().Acks, 1)

	tell(b, grp(1, 1, []BrokerID{1, 2, 3}, 3))
	assert.Nil(t, b.Pending(), "a newer set epoch resolves it")
}

func TestOldMasterTruncatesOnRejoin(t *testing.T) {
	// Broker 1 mastered epoch 1 and wrote 5 entries; broker 2 got 3 of
	// them, was elected for epoch 2 and wrote one more.
	disk := &Disk{Log: [][]byte{[]byte("a"), []byte("b"), []byte("c"), []byte("d"), []byte("e")}, Epochs: EpochFile{{1, 0}},
		State: grp(1, 1, []BrokerID{1, 2}, 2)}
	b := testBroker(t, 1, disk)
	tell(b, grp(2, 2, []BrokerID{2}, 3))
	require.Equal(t, RoleSlave, b.Role())
	master := EpochFile{{1, 0}, {2, 3}}
	b.HandleHA(HAMessage{Kind: HAPush, From: 2, To: 1, Epoch: 2, Epochs: master, Offset: 4, MaxOffset: 4})
	out := b.TakeOutput()
	assert.Contains(t, out.Events, Event{Kind: EvTruncated, Epoch: 2, From: 5, To: 3})
	require.Len(t, out.HA, 1)
	assert.Equal(t, int64(3), out.HA[0].MaxOffset, "the ack says where it agrees")
	b.HandleHA(HAMessage{Kind: HAPush, From: 2, To: 1, Epoch: 2, Epochs: master, Offset: 3, Data: [][]byte{[]byte("x")}, MaxOffset: 4, Confirm: 4})
	assert.Equal(t, int64(4), b.MaxOffset())
	got, _ := b.Entry(3)
	assert.Equal(t, "x", string(got))
	assert.Equal(t, master, b.Epochs())
}

func TestDeposedMasterStopsOnASlavesRefusal(t *testing.T) {
	old := testBroker(t, 1, &Disk{})
	tell(old, grp(1, 1, []BrokerID{1, 2}, 2))
	produce(t, old, 1)
	old.TakeOutput()

	slave := testBroker(t, 2, &Disk{})
	tell(slave, grp(3, 2, []BrokerID{3}, 3)) // broker 2 heard of epoch 2
	slave.TakeOutput()
	slave.HandleHA(HAMessage{Kind: HAPush, From: 1, To: 2, Epoch: 1, Epochs: EpochFile{{1, 0}}, Offset: 0, Data: [][]byte{[]byte("m")}, MaxOffset: 1})
	out := slave.TakeOutput()
	require.Len(t, out.HA, 1)
	require.True(t, out.HA[0].Reject)
	assert.Zero(t, slave.MaxOffset(), "nothing from the old epoch")

	old.HandleHA(out.HA[0])
	assert.Equal(t, RoleNone, old.Role())
	acks := old.TakeOutput().Acks
	require.Len(t, acks, 1)
	assert.ErrorIs(t, acks[0].Err, ErrDeposed)
	assert.ErrorIs(t, old.Produce(9, []byte("late")), ErrNotMaster)
}

func TestStaleControllerStateIsIgnored(t *testing.T) {
	b := testBroker(t, 2, &Disk{})
	tell(b, grp(3, 4, []BrokerID{3}, 6))
	tell(b, grp(2, 3, []BrokerID{2}, 5)) // an older controller leader's view
	assert.Equal(t, RoleSlave, b.Role())
	assert.Equal(t, uint64(4), b.State().MasterEpoch)
}
