package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/broker"
)

// A simulated broker keeps ConsumeQueue files and a checkpoint of its state
// beside its CommitLog (brokerdisk.go), and a restart starts from the
// checkpoint, applying only the entries after it. A crash between the
// checkpoint's two fsyncs (the queue files durable, the checkpoint not yet
// replaced) leaves queue files that hold more than the checkpoint: the
// restart cuts them back to it. Either way the restarted broker ends with
// the same state as the others, and every checker holds.
func TestBrokerRestartsFromItsCheckpoint(t *testing.T) {
	for _, between := range []bool{false, true} {
		name := "after the checkpoint"
		if between {
			name = "between the queue files' fsync and the checkpoint's"
		}
		t.Run(name, func(t *testing.T) {
			s := newSim(t, func(c *Config) { c.FsyncMs = 5 })
			runUntil(t, s, 2000, "a leader", func() bool { l, _ := s.Leader(); return l != 0 })
			lead, _ := s.Leader()
			away := 1 + lead%3 // a follower
			do(t, s, Action{Kind: KindProducer, Topic: "orders", Rate: 50})
			s.Advance(2500)
			n := s.st.nodes[away-1]
			for i := 0; i < 12000 && !(n.ckpt != nil && n.ckpt.queuesDurable == between && n.disk.state != nil); i++ {
				s.Advance(1)
			}
			require.NotNil(t, n.ckpt, "a checkpoint in flight")
			require.Equal(t, between, n.ckpt.queuesDurable)
			disk := n.disk
			require.NotNil(t, disk.state)
			atCheckpoint, err := broker.RestoreFromQueues(broker.Options{}, disk.state, disk.queues)
			require.NoError(t, err)
			if between {
				assert.Greater(t, disk.queues["orders"].Len(), atCheckpoint.Queue("orders").Len(), "the queue files hold more than the checkpoint")
			}

			do(t, s, Action{Kind: KindCrash, Node: away})
			do(t, s, Action{Kind: KindRestart, Node: away})
			require.NotNil(t, n.br)
			// The restart kept the checkpoint and queue files (a restart
			// that cannot use them drops them and applies the whole log).
			assert.Equal(t, disk.state, n.disk.state, "the broker started from its checkpoint")
			assert.Equal(t, disk.applied, n.disk.applied)

			do(t, s, Action{Kind: KindProducer, Topic: "orders", Rate: 0})
			s.Advance(3000)
			noViolations(t, s)
			assert.Empty(t, s.CheckFinal())
			want := s.st.nodes[lead-1].br
			for _, o := range s.st.nodes {
				require.Equal(t, want.AppliedIndex(), o.br.AppliedIndex(), "broker %d", o.id)
				assert.Equal(t, want.Digest(), o.br.Digest(), "broker %d has the leader's state", o.id)
			}
		})
	}
}
