package sim

import (
	"fmt"
	"testing"
)

func TestDbgLive(t *testing.T) {
	powerLoss := DefaultFaults()
	powerLoss.PowerLoss = 15
	debugChaos = func(s *Sim) {
		for id := 1; id <= 5; id++ {
			st := s.Status(id)
			n := s.st.nodes[id-1]
			fmt.Printf("broker %d %s %+v busy=%v inbox=%d\n", id, s.NodeState(id), st, n.busy, len(n.inbox))
		}
		for _, e := range s.st.log[len(s.st.log)-30:] {
			fmt.Println(e)
		}
	}
	r := RunChaos(ChaosOptions{Seed: 9, Nodes: 5, FsyncMs: 60, Faults: powerLoss, FaultMs: 10000, HealMs: 4000})
	fmt.Println(r.Liveness)
}
