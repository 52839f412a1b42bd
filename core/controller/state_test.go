package controller

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// group builds a state with brokers 1..3 registered, broker 1 elected at
// epoch 1 and the given set at set epoch 2.
func group(t *testing.T, set ...BrokerID) *State {
	t.Helper()
	var s State
	for b := BrokerID(1); b <= 3; b++ {
		require.True(t, s.Apply(Op{Kind: OpRegister, Group: "g", Broker: b}).OK)
	}
	r := s.Apply(Op{Kind: OpElectMaster, Group: "g", Alive: []Candidate{{ID: 1}}})
	require.True(t, r.OK, r.Why)
	require.Equal(t, BrokerID(1), r.Group.Master)
	r = s.Apply(Op{Kind: OpAlterSyncStateSet, Group: "g", Broker: 1, MasterEpoch: 1, SyncStateSetEpoch: 1, SyncStateSet: set})
	require.True(t, r.OK, r.Why)
	return &s
}

func TestElectMasterFromSyncStateSet(t *testing.T) {
	cases := []struct {
		name    string
		set     []BrokerID
		alive   []Candidate
		unclean bool
		want    BrokerID
	}{
		{"the set's live member, though another has more", []BrokerID{1, 2}, []Candidate{{ID: 2, Epoch: 1, MaxOffset: 5}, {ID: 3, Epoch: 1, MaxOffset: 9}}, false, 2},
		{"the set member with the highest (epoch, offset)", []BrokerID{1, 2, 3}, []Candidate{{ID: 2, Epoch: 1, MaxOffset: 5}, {ID: 3, Epoch: 1, MaxOffset: 9}}, false, 3},
		{"a higher epoch beats a longer log", []BrokerID{1, 2, 3}, []Candidate{{ID: 2, Epoch: 2, MaxOffset: 1}, {ID: 3, Epoch: 1, MaxOffset: 9}}, false, 2},
		{"nobody from the set alive: no master", []BrokerID{1, 2}, []Candidate{{ID: 3, Epoch: 1, MaxOffset: 9}}, false, NoMaster},
		{"unclean: a live replica outside the set", []BrokerID{1, 2}, []Candidate{{ID: 3, Epoch: 1, MaxOffset: 9}}, true, 3},
		{"unclean still prefers the set", []BrokerID{1, 2}, []Candidate{{ID: 2}, {ID: 3, Epoch: 1, MaxOffset: 9}}, true, 2},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := group(t, tc.set...)
			r := s.Apply(Op{Kind: OpElectMaster, Group: "g", MasterEpoch: 1, Alive: tc.alive, Unclean: tc.unclean})
			require.True(t, r.OK, r.Why)
			assert.Equal(t, tc.want, r.Group.Master)
			assert.Equal(t, uint64(2), r.Group.MasterEpoch, "every election raises the epoch")
			if tc.want != NoMaster {
				assert.Equal(t, []BrokerID{tc.want}, r.Group.SyncStateSet, "a new master's set is itself")
				assert.Equal(t, uint64(3), r.Group.SyncStateSetEpoch)
			}
		})
	}
}

func TestElectionProposedAtAnOldEpochIsRefused(t *testing.T) {
	s := group(t, 1, 2)
	require.True(t, s.Apply(Op{Kind: OpElectMaster, Group: "g", MasterEpoch: 1, Alive: []Candidate{{ID: 2}}}).OK)
	// A second election proposed against epoch 1 (two leaders' scans, or
	// a duplicate) must not elect again.
	r := s.Apply(Op{Kind: OpElectMaster, Group: "g", MasterEpoch: 1, Alive: []Candidate{{ID: 1}}})
	assert.False(t, r.OK)
	assert.Equal(t, BrokerID(2), r.Group.Master)
	assert.Equal(t, uint64(2), r.Group.MasterEpoch)
}

func TestStaleAlterSyncStateSetRejected(t *testing.T) {
	cases := []struct {
		name string
		op   Op
		ok   bool
	}{
		{"current epochs", Op{Broker: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []BrokerID{1, 2, 3}}, true},
		{"old set epoch", Op{Broker: 1, MasterEpoch: 1, SyncStateSetEpoch: 1, SyncStateSet: []BrokerID{1, 3}}, false},
		{"old master epoch", Op{Broker: 1, MasterEpoch: 0, SyncStateSetEpoch: 2, SyncStateSet: []BrokerID{1, 3}}, false},
		{"not the master", Op{Broker: 2, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []BrokerID{2}}, false},
		{"set without the master", Op{Broker: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []BrokerID{2, 3}}, false},
		{"unregistered member", Op{Broker: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []BrokerID{1, 7}}, false},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			s := group(t, 1, 2)
			tc.op.Kind, tc.op.Group = OpAlterSyncStateSet, "g"
			r := s.Apply(tc.op)
			assert.Equal(t, tc.ok, r.OK, r.Why)
			if !tc.ok {
				assert.Equal(t, []BrokerID{1, 2}, r.Group.SyncStateSet, "a refused change changes nothing")
				assert.Equal(t, uint64(2), r.Group.SyncStateSetEpoch)
			}
		})
	}
}

// A deposed master's request, built on its epoch, is refused after the
// election even though it names the set epoch it saw.
func TestDeposedMasterCannotAlterTheSet(t *testing.T) {
	s := group(t, 1, 2)
	require.True(t, s.Apply(Op{Kind: OpElectMaster, Group: "g", MasterEpoch: 1, Alive: []Candidate{{ID: 2}}}).OK)
	r := s.Apply(Op{Kind: OpAlterSyncStateSet, Group: "g", Broker: 1, MasterEpoch: 1, SyncStateSetEpoch: 2, SyncStateSet: []BrokerID{1}})
	assert.False(t, r.OK)
	assert.Equal(t, []BrokerID{2}, r.Group.SyncStateSet)
}

func TestOpRoundTrips(t *testing.T) {
	o := Op{Kind: OpElectMaster, Group: "g", MasterEpoch: 4, Alive: []Candidate{{ID: 2, Epoch: 3, MaxOffset: 10}}, Unclean: true}
	got, err := DecodeOp(o.Encode())
	require.NoError(t, err)
	assert.Equal(t, o, got)
	_, err = DecodeOp([]byte("{"))
	assert.Error(t, err)
}

func TestConsistentPoint(t *testing.T) {
	cases := []struct {
		name      string
		ours      EpochFile
		end       int64
		master    EpochFile
		masterEnd int64
		want      int64
	}{
		{"same history, we are behind", EpochFile{{1, 0}, {2, 5}}, 7, EpochFile{{1, 0}, {2, 5}}, 9, 7},
		{"old master wrote past the new epoch's start", EpochFile{{1, 0}}, 12, EpochFile{{1, 0}, {2, 8}}, 15, 8},
		{"our last epoch the master never saw", EpochFile{{1, 0}, {2, 8}}, 12, EpochFile{{1, 0}, {3, 10}}, 15, 8},
		{"same epoch, other start: look further back", EpochFile{{1, 0}, {3, 4}}, 6, EpochFile{{1, 0}, {3, 5}}, 9, 4},
		{"nothing in common", EpochFile{{2, 0}}, 6, EpochFile{{1, 0}, {3, 2}}, 9, 0},
		{"empty", nil, 0, EpochFile{{1, 0}}, 3, 0},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, tc.ours.ConsistentPoint(tc.end, tc.master, tc.masterEnd), tc.name)
	}
}
