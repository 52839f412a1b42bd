package sim

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// Lesson 10's story: with persist-before-ack switched off, followers ack
// before their fsync; a power loss then takes the acknowledged message with
// it. With the rule on, the same run loses nothing.
func TestAckBeforePersistLosesAcknowledgedMessage(t *testing.T) {
	for _, persistFirst := range []bool{true, false} {
		s := newSim(t, func(c *Config) { c.FsyncMs = 100; c.Seed = 3 })
		if !persistFirst {
			do(t, s, Action{Kind: KindRule, Rule: RulePersistBeforeAck, On: false})
		}
		runUntil(t, s, 3000, "a leader", func() bool { l, _ := s.Leader(); return l != 0 })
		lead, _ := s.Leader()
		s.Advance(500)
		do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: "precious", Node: lead})
		// Wait until the producer hears "stored", then cut the power of
		// everyone before the followers' slow disks finish.
		for s.View().Clients.Producers[0].Acked == 0 {
			require.Less(t, s.Now(), int64(10_000))
			s.Advance(1)
		}
		for id := 1; id <= 3; id++ {
			do(t, s, Action{Kind: KindCrash, Node: id})
		}
		for id := 1; id <= 3; id++ {
			if id != lead {
				do(t, s, Action{Kind: KindRestart, Node: id})
			}
		}
		runUntil(t, s, 3000, "the followers elect", func() bool { l, _ := s.Leader(); return l != 0 })
		do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: "overwrite", ID: "p2"})
		s.Advance(1000)
		do(t, s, Action{Kind: KindRestart, Node: lead})
		s.Advance(2000)
		v := append(s.Violations(), s.CheckFinal()...)
		if persistFirst {
			assert.Empty(t, v, "with the rule on nothing acknowledged is lost")
		} else {
			require.NotEmpty(t, v, "with the rule off the acknowledged message is lost")
			t.Log(v[0].Text)
		}
	}
}
