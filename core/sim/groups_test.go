package sim

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// consumerView returns consumer id's view.
func consumerView(t testing.TB, s *Sim, id string) ConsumerView {
	t.Helper()
	for _, c := range s.View().Clients.Consumers {
		if c.ID == id {
			return c
		}
	}
	t.Fatalf("no consumer %s in the view", id)
	return ConsumerView{}
}

// failoverAfterCommit: a group reads 20 messages and commits its offset;
// the leader crashes before the followers' next offset sync; the consumer
// asks the new leader where the group is. It returns the consumer's view
// once it has read everything again (or not).
func failoverAfterCommit(t *testing.T, mode string) (ConsumerView, *Sim) {
	s := newSim(t, func(c *Config) {
		c.Offsets = mode
		c.OffsetCommitMs = 1000
		c.OffsetSyncMs = 10000 // a RocketMQ slave's SlaveSynchronize period
	})
	runUntil(t, s, 2000, "a leader", func() bool { l, _ := s.Leader(); return l != 0 })
	for i := 1; i <= 20; i++ {
		do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: fmt.Sprintf("m%d", i)})
	}
	do(t, s, Action{Kind: KindConsumer, ID: "c1", Group: "billing", Topic: "orders"})
	lead, _ := s.Leader()
	runUntil(t, s, 5000, "the group commits offset 20 on the leader", func() bool {
		return s.st.nodes[lead-1].br.Offset("billing", "orders") == 20
	})
	if mode == "replicated" {
		runUntil(t, s, 2000, "the commit is applied on every broker", func() bool {
			for _, n := range s.st.nodes {
				if n.br.Offset("billing", "orders") != 20 {
					return false
				}
			}
			return true
		})
	} else {
		for _, n := range s.st.nodes {
			if n.id != lead {
				require.Less(t, n.br.Offset("billing", "orders"), uint64(20), "broker %d synced already", n.id)
			}
		}
	}
	assert.Equal(t, 20, consumerView(t, s, "c1").Delivered)
	do(t, s, Action{Kind: KindCrash, Node: lead})
	runUntil(t, s, 3000, "a new leader", func() bool { l, _ := s.Leader(); return l != 0 && l != lead })
	s.Advance(2000)
	noViolations(t, s)
	return consumerView(t, s, "c1"), s
}

// Issue 19: in RocketMQ's DLedger mode offsets are not in the log, so the
// new leader resumes the group from an older offset and delivers messages
// again; with offsets in the log it resumes where the group committed.
// Neither skips a message (RuleGroupNoSkip never fires).
func TestRedeliveryAfterFailoverDependsOnOffsetMode(t *testing.T) {
	local, _ := failoverAfterCommit(t, "local")
	assert.Equal(t, 20, local.Delivered)
	assert.Equal(t, 20, local.Redelivered, "the new leader had offset 0 for the group: everything again")
	assert.NotEmpty(t, local.Redone)
	assert.Equal(t, uint64(20), local.Offset)

	replicated, s := failoverAfterCommit(t, "replicated")
	assert.Equal(t, 20, replicated.Delivered)
	assert.Zero(t, replicated.Redelivered)
	assert.Empty(t, replicated.Redone)
	assert.Equal(t, uint64(20), replicated.Offset)

	// The commit cost one entry: the log holds 20 messages, the no-ops and
	// one offset commit.
	commits := 0
	for _, e := range s.st.nodes[0].node.Entries(1, 1000) {
		if len(e.Data) > 0 && e.Data[0] == 2 {
			commits++
		}
	}
	assert.Equal(t, 1, commits)
}

// A consumer that resumes past what its group was delivered is a skip: the
// checker catches it (here by hand-setting the broker's offset ahead, what
// a buggy commit of the read position before processing would do).
func TestGroupSkipIsAViolation(t *testing.T) {
	s := newSim(t, nil)
	runUntil(t, s, 2000, "a leader", func() bool { l, _ := s.Leader(); return l != 0 })
	for i := 1; i <= 5; i++ {
		do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: fmt.Sprintf("m%d", i)})
	}
	s.Advance(500)
	lead, _ := s.Leader()
	follower := lead%3 + 1
	s.st.nodes[follower-1].br.CommitOffset("billing", "orders", 4)
	do(t, s, Action{Kind: KindConsumer, ID: "c1", Group: "billing", Topic: "orders", Node: follower})
	s.Advance(300)
	require.NotEmpty(t, s.Violations())
	assert.Equal(t, RuleGroupNoSkip, s.Violations()[0].Rule)
	assert.Contains(t, s.Violations()[0].Text, "resumed orders at offset 4")
}

// Two consumers of one group on one topic: the second is refused, saying
// why (one queue per topic, one reader per group).
func TestOneReaderPerGroupAndTopic(t *testing.T) {
	s := newSim(t, nil)
	do(t, s, Action{Kind: KindConsumer, ID: "c1", Group: "billing", Topic: "orders"})
	err := s.Do(Action{Kind: KindConsumer, ID: "c2", Group: "billing", Topic: "orders"})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "consumer c1 of group billing already reads orders")
	do(t, s, Action{Kind: KindConsumer, ID: "c3", Group: "audit", Topic: "orders"})
	err = s.Do(Action{Kind: KindConsumer, ID: "c4", Group: "bad group", Topic: "orders"})
	assert.ErrorContains(t, err, "group")
	_, err = New(Config{Nodes: 3, Offsets: "raft"})
	assert.ErrorContains(t, err, `offset mode "raft"`)
}
