package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Snapshots in the simulator (Raft §7): with SnapshotEvery the brokers
// compact their logs and delete the segments before each snapshot. A
// broker that was down while the others compacted past its log receives
// the leader's snapshot, in chunks, installs it and catches up; its log
// view starts after the snapshot, its queues start at the snapshot's
// offsets (a consumer there moves on from there), every checker holds, and
// every acknowledged message not expired by retention is still there.
func TestSimBrokerCatchesUpBySnapshot(t *testing.T) {
	s := newSim(t, func(c *Config) { c.SnapshotEvery = 10 })
	runUntil(t, s, 2000, "a leader", func() bool { l, _ := s.Leader(); return l != 0 })
	lead, _ := s.Leader()
	away := 1
	if away == lead {
		away = 2
	}
	do(t, s, Action{Kind: KindCrash, Node: away})
	do(t, s, Action{Kind: KindProducer, Topic: "orders", Rate: 40})
	runUntil(t, s, 20000, "the others compact past the crashed broker's log", func() bool {
		return s.View().Nodes[lead-1].SnapshotIndex > s.Status(away).LastIndex+10
	})
	do(t, s, Action{Kind: KindConsumer, Topic: "orders", Node: away})
	do(t, s, Action{Kind: KindRestart, Node: away})
	installed := false
	runUntil(t, s, 20000, "the restarted broker installs a snapshot and catches up", func() bool {
		v := s.View()
		for _, e := range v.Events {
			if e.Node == away && e.Kind == "snapshot-installed" {
				installed = true
			}
		}
		l, _ := s.Leader()
		return installed && l != 0 && s.Status(away).Commit >= s.Status(l).Commit-5
	})
	v := s.View()
	n := v.Nodes[away-1]
	assert.Positive(t, n.SnapshotIndex)
	assert.Greater(t, n.LogFirst, n.SnapshotIndex, "the log view starts after the snapshot")
	require.NotEmpty(t, n.Topics)
	assert.Positive(t, n.Topics[0].MinOffset, "its queue starts at the snapshot's offset")
	do(t, s, Action{Kind: KindProducer, Topic: "orders", Rate: 0})
	s.Advance(3000)
	noViolations(t, s)
	assert.Empty(t, s.CheckFinal())
	var consumed uint64
	for _, c := range s.View().Clients.Consumers {
		if c.Node == away {
			consumed = c.Offset
		}
	}
	assert.GreaterOrEqual(t, consumed, n.Topics[0].MinOffset, "the consumer moved on from the first offset kept")
}
