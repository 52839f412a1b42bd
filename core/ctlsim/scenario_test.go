package ctlsim

import (
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/controller"
	"dledgerlab/core/sim"
)

// newCluster starts a cluster with a producer and a consumer and waits
// until it has a master whose SyncStateSet holds all three brokers.
func newCluster(t *testing.T, f func(*Config)) *Sim {
	t.Helper()
	cfg := Config{Seed: 11, HAMaxMsSlaveNotCatchup: 1000}
	if f != nil {
		f(&cfg)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	s.StartProducer("p1", 20)
	s.StartConsumer("c1")
	until(t, s, 20_000, "a master with all three in its set", func() bool {
		m, _ := s.Master()
		return m != 0 && len(s.Broker(m).State().SyncStateSet) == 3
	})
	return s
}

// until advances s in 50 ms steps until cond holds, at most ms.
func until(t *testing.T, s *Sim, ms int64, what string, cond func() bool) {
	t.Helper()
	for end := s.Now() + ms; s.Now() < end; {
		s.Advance(50)
		if cond() {
			return
		}
	}
	t.Fatalf("after %d ms: no %s", ms, what)
}

func noViolations(t *testing.T, s *Sim) {
	t.Helper()
	for _, v := range s.Violations() {
		t.Errorf("at %d ms: %s (during %s)", v.TimeMs, v.Text, v.Event)
	}
}

func TestMasterCrashElectsFromSyncStateSet(t *testing.T) {
	s := newCluster(t, nil)
	old, epoch := s.Master()
	set := s.Broker(old).State().SyncStateSet
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindCrash, Node: BrokerNode(old)}))
	acked := s.Acked()
	until(t, s, 10_000, "new master", func() bool { m, e := s.Master(); return m != 0 && m != old && e > epoch })
	m, _ := s.Master()
	assert.Contains(t, set, controller.BrokerID(m), "elected from the SyncStateSet")
	until(t, s, 5_000, "acknowledgement from the new master", func() bool { return s.Acked() > acked+10 })
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindRestart, Node: BrokerNode(old)}))
	until(t, s, 10_000, "the old master back as a slave", func() bool {
		b := s.Broker(old)
		return b.Role() == controller.RoleSlave && len(s.Broker(m).State().SyncStateSet) == 3
	})
	noViolations(t, s)
}

func TestLaggingSlaveLeavesAndRejoinsTheSet(t *testing.T) {
	s := newCluster(t, nil)
	m, _ := s.Master()
	slave := m%Brokers + 1
	// Broker links only: the slave still hears the controllers.
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindPartition, Groups: [][]int{{BrokerNode(slave)}, {BrokerNode(m)}}}))
	until(t, s, 5_000, "the slave out of the set", func() bool {
		return !slices.Contains(s.Broker(m).State().SyncStateSet, controller.BrokerID(slave))
	})
	acked := s.Acked()
	until(t, s, 2_000, "writes acknowledged without it", func() bool { return s.Acked() > acked+5 })
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindHeal}))
	until(t, s, 5_000, "the slave back in the set", func() bool {
		return slices.Contains(s.Broker(m).State().SyncStateSet, controller.BrokerID(slave))
	})
	noViolations(t, s)
}

func TestMinInSyncReplicasRefusesWritesWhenTheSetShrinks(t *testing.T) {
	s := newCluster(t, func(c *Config) { c.MinInSyncReplicas = 2 })
	m, _ := s.Master()
	for id := 1; id <= Brokers; id++ {
		if id != m {
			require.NoError(t, s.Do(sim.Action{Kind: sim.KindCrash, Node: BrokerNode(id)}))
		}
	}
	until(t, s, 5_000, "refusals", func() bool { return s.Refused(controller.ErrInSyncReplicasNotEnough) > 5 })
	assert.Equal(t, []controller.BrokerID{controller.BrokerID(m)}, s.Broker(m).State().SyncStateSet)
	acked := s.Acked()
	s.Advance(1000)
	assert.Equal(t, acked, s.Acked(), "nothing acknowledged with one in-sync replica")
	noViolations(t, s)
}

// A master cut off from every other node keeps taking writes from its
// producers (client links stay up) but cannot acknowledge them; once it
// hears of the new master it cuts those entries off its CommitLog.
func TestOldMasterTruncatesOnRejoin(t *testing.T) {
	s := newCluster(t, nil)
	old, _ := s.Master()
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindIsolate, Node: BrokerNode(old)}))
	until(t, s, 10_000, "new master", func() bool { m, _ := s.Master(); return m != 0 && m != old })
	s.Advance(500)
	before := s.truncations
	lenOld := s.Broker(old).MaxOffset()
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindHeal}))
	until(t, s, 10_000, "the old master truncated", func() bool { return s.truncations > before })
	until(t, s, 10_000, "the old master level with the new", func() bool {
		m, _ := s.Master()
		return s.Broker(old).Role() == controller.RoleSlave && s.Broker(old).MaxOffset() == s.Broker(m).MaxOffset()
	})
	t.Logf("the old master held %d entries when it rejoined", lenOld)
	noViolations(t, s)
}

// The set shrinks to the master alone, which then acknowledges writes by
// itself; the master dies. Clean, the group waits for it; unclean, a slave
// without those writes is elected and the checker reports the loss.
func TestUncleanElectionLosesWhatOnlyTheSetHeld(t *testing.T) {
	for _, unclean := range []bool{false, true} {
		s := newCluster(t, func(c *Config) { c.Unclean = unclean })
		m, epoch := s.Master()
		var slaves []int
		for id := 1; id <= Brokers; id++ {
			if id != m {
				slaves = append(slaves, BrokerNode(id))
			}
		}
		require.NoError(t, s.Do(sim.Action{Kind: sim.KindPartition, Groups: [][]int{{BrokerNode(m)}, slaves}}))
		until(t, s, 5_000, "the set down to the master", func() bool { return len(s.Broker(m).State().SyncStateSet) == 1 })
		acked := s.Acked()
		until(t, s, 2_000, "writes only the master holds", func() bool { return s.Acked() > acked+5 })
		require.NoError(t, s.Do(sim.Action{Kind: sim.KindCrash, Node: BrokerNode(m)}))
		s.Advance(500) // pushes still on the wire meet the cut links
		require.NoError(t, s.Do(sim.Action{Kind: sim.KindHeal}))
		s.Advance(5_000)
		next, e := s.Master()
		if !unclean {
			assert.Zero(t, next, "nobody from the set is alive: no master")
			require.NoError(t, s.Do(sim.Action{Kind: sim.KindRestart, Node: BrokerNode(m)}))
			until(t, s, 10_000, "the old master back", func() bool { n, _ := s.Master(); return n == m })
			noViolations(t, s)
			continue
		}
		require.NotZero(t, next, "unclean: a slave is elected")
		assert.Greater(t, e, epoch)
		v := s.Violations()
		require.NotEmpty(t, v)
		assert.Equal(t, sim.RuleAckedNeverLost, v[0].Rule)
		t.Log(v[0].Text)
	}
}

// A paused master is deposed; when it resumes, its slaves refuse its
// pushes (or a heartbeat reply tells it), and it stops: with every set
// member acknowledging, nothing it acknowledged is lost.
func TestPausedMasterIsDeposedAndStops(t *testing.T) {
	s := newCluster(t, nil)
	old, epoch := s.Master()
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindPause, Node: BrokerNode(old)}))
	until(t, s, 10_000, "a new master", func() bool { m, e := s.Master(); return m != 0 && m != old && e > epoch })
	require.NoError(t, s.Do(sim.Action{Kind: sim.KindResume, Node: BrokerNode(old)}))
	until(t, s, 5_000, "the old master stepped down", func() bool { return s.Broker(old).Role() != controller.RoleMaster })
	until(t, s, 10_000, "the old master following", func() bool { return s.Broker(old).Role() == controller.RoleSlave })
	noViolations(t, s)
}

func TestActionsOutsideTheModelAreRefused(t *testing.T) {
	s, err := New(Config{Seed: 1})
	require.NoError(t, err)
	for _, a := range []sim.Action{
		{Kind: sim.KindCrash, Node: 7},
		{Kind: sim.KindRestart, Node: 1},
		{Kind: sim.KindResume, Node: 2},
		{Kind: sim.KindPartition, Groups: [][]int{{1}, {12}}},
		{Kind: sim.KindLink, From: 3, To: 3},
		{Kind: sim.KindTransfer, Node: 1},
	} {
		assert.Error(t, s.Do(a), "%+v", a)
	}
	_, err = New(Config{MinInSyncReplicas: 4})
	assert.ErrorIs(t, err, ErrConfig)
}
