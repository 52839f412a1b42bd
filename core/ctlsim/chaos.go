package ctlsim

import (
	"bytes"
	"fmt"
	"strings"

	"dledgerlab/core/internal/simnet"
	"dledgerlab/core/internal/xrand"
	"dledgerlab/core/sim"
)

// ChaosOptions sets up one seeded chaos run in Controller mode: a fault
// phase with faults drawn at random, then a healed phase in which the
// cluster must elect a master, acknowledge writes and bring every broker
// level with the master (liveness).
type ChaosOptions struct {
	Seed uint64
	// FaultMs and HealMs are the two phases' lengths (defaults 40 s and
	// 20 s).
	FaultMs, HealMs int64
	// Unclean switches enableElectUncleanMaster on; AnyAck switches
	// allAckInSyncStateSet off. Either can lose acknowledged writes.
	Unclean, AnyAck bool
	// Faults weighs core/sim's faults; the zero value means DefaultFaults.
	// Transfer, DiskFlip, Campaign and Trap are not part of this model.
	Faults sim.FaultWeights
	// FaultGapMs is the longest gap between two faults (default 1500).
	FaultGapMs int
}

// DefaultFaults is core/sim's mix without the faults this model leaves
// out.
func DefaultFaults() sim.FaultWeights {
	w := sim.DefaultFaults()
	w.Transfer, w.DiskFlip, w.Campaign, w.Trap = 0, 0, 0, 0
	return w
}

// ChaosResult is what one run found.
type ChaosResult struct {
	Seed       uint64
	Violations []sim.Violation
	// Liveness is empty when the healed cluster had a master that
	// acknowledged writes and every broker level with it.
	Liveness string
	SimMs    int64
	Acked    int
	// Elections counts master epochs; Truncations the CommitLogs cut back
	// on rejoining.
	Elections, Truncations int
	Digest                 uint64
}

// Failed reports whether the run found a problem.
func (r ChaosResult) Failed() bool { return len(r.Violations) > 0 || r.Liveness != "" }

// ReplayCommand is the one command that reproduces the run.
func (o ChaosOptions) ReplayCommand() string {
	cmd := fmt.Sprintf("dledgerlab chaos --mode controller --seeds 1 --first %d", o.Seed)
	if o.Unclean {
		cmd += " --unclean"
	}
	if o.AnyAck {
		cmd += " --all-ack=false"
	}
	return cmd + sim.PhaseFlags(o.FaultMs, o.HealMs) + " -v"
}

// RunChaos runs one seeded chaos run; the same options give the same
// result (and Digest), natively and in WebAssembly.
func RunChaos(o ChaosOptions) ChaosResult {
	if o.FaultMs == 0 {
		o.FaultMs = sim.DefaultFaultMs
	}
	if o.HealMs == 0 {
		o.HealMs = sim.DefaultHealMs
	}
	if o.Faults == (sim.FaultWeights{}) {
		o.Faults = DefaultFaults()
	}
	r := xrand.New(o.Seed*0x9E3779B97F4A7C15 + 7)
	hb := 200 + r.Intn(300)
	cfg := Config{
		Seed: o.Seed, AnyAck: o.AnyAck, Unclean: o.Unclean,
		Net: simnet.LinkConf{LatencyMs: 1 + r.Intn(30), JitterMs: r.Intn(30), Loss: float64(r.Intn(15)) / 100,
			Dup: float64(r.Intn(5)) / 100, Reorder: float64(r.Intn(10)) / 100},
		BrokerHeartbeatMs:      hb,
		BrokerTimeoutMs:        hb * (3 + r.Intn(4)),
		HAMaxMsSlaveNotCatchup: []int{1000, 3000, 15_000}[r.Intn(3)],
		MinInSyncReplicas:      []int{1, 1, 2}[r.Intn(3)],
	}
	s, err := New(cfg)
	if err != nil {
		panic(fmt.Sprintf("chaos config: %v", err))
	}
	s.StartProducer("p1", float64(5+r.Intn(25)))
	s.StartConsumer("c1")
	gap := o.FaultGapMs
	if gap <= 0 {
		gap = 1500
	}
	for s.Now() < o.FaultMs {
		s.Advance(int64(10 + r.Intn(gap)))
		if a, ok := s.randomFault(&r, o.Faults); ok {
			_ = s.Do(a)
		}
	}

	// Healed phase: every link works, every node runs.
	_ = s.Do(sim.Action{Kind: sim.KindHeal})
	_ = s.Do(sim.Action{Kind: sim.KindNet, LatencyMs: cfg.Net.LatencyMs, JitterMs: cfg.Net.JitterMs})
	for node := 1; node <= Controllers+Brokers; node++ {
		switch s.NodeState(node) {
		case StatePaused:
			_ = s.Do(sim.Action{Kind: sim.KindResume, Node: node})
		case StateCrashed:
			_ = s.Do(sim.Action{Kind: sim.KindRestart, Node: node})
		}
	}
	before := s.Acked()
	s.Advance(o.HealMs / 2)
	after := s.Acked()
	s.StartProducer("p1", 0)
	s.Advance(o.HealMs / 2)

	res := ChaosResult{Seed: o.Seed, SimMs: s.Now(), Acked: s.Acked(), Elections: len(s.check.masters), Truncations: s.truncations}
	var why []string
	master, _ := s.Master()
	switch {
	case s.LeaderController() == 0:
		why = append(why, "no controller leader after healing")
	case master == 0:
		why = append(why, "no master after healing")
	default:
		s.check.final(s, master)
		if after <= before {
			why = append(why, "no write acknowledged after healing")
		}
		m := s.brks[master-1].disk.Log
		for i, n := range s.brks {
			if i+1 == master {
				continue
			}
			if l := n.disk.Log; len(l) != len(m) || !logsEqual(l, m) {
				why = append(why, fmt.Sprintf("broker %d holds %d entries unlike the master's %d", i+1, len(l), len(m)))
			}
		}
	}
	res.Violations = s.Violations()
	res.Digest = s.Digest()
	if len(why) > 0 {
		res.Liveness = strings.Join(why, "; ")
	}
	return res
}

func logsEqual(a, b [][]byte) bool {
	for i := range a {
		if !bytes.Equal(a[i], b[i]) {
			return false
		}
	}
	return true
}

// randomFault draws the next fault on the six nodes; ok is false when the
// drawn fault does not fit the state.
func (s *Sim) randomFault(r *xrand.Rand, w sim.FaultWeights) (sim.Action, bool) {
	const n = Controllers + Brokers
	k := simnet.PickWeighted(r, []int{w.Crash, w.Restart, w.Pause, w.Resume, w.Partition, w.OneWay, w.Isolate, w.Heal, w.Link, w.PowerLoss})
	node := 1 + r.Intn(n)
	pickState := func(state string) (int, bool) {
		return simnet.PickWhere(r, n, func(id int) bool { return s.NodeState(id) == state })
	}
	switch k {
	case 0:
		return sim.Action{Kind: sim.KindCrash, Node: node}, s.NodeState(node) == StateUp
	case 1:
		id, ok := pickState(StateCrashed)
		return sim.Action{Kind: sim.KindRestart, Node: id}, ok
	case 2:
		return sim.Action{Kind: sim.KindPause, Node: node}, s.NodeState(node) == StateUp
	case 3:
		id, ok := pickState(StatePaused)
		return sim.Action{Kind: sim.KindResume, Node: id}, ok
	case 4, 5:
		return sim.Action{Kind: sim.KindPartition, Groups: simnet.RandomSplit(r, n), OneWay: k == 5}, true
	case 6:
		return sim.Action{Kind: sim.KindIsolate, Node: node}, true
	case 7:
		return sim.Action{Kind: sim.KindHeal}, true
	case 8:
		to := 1 + r.Intn(n)
		if to == node {
			return sim.Action{}, false
		}
		c := simnet.RandomLinkConf(r)
		return sim.Action{Kind: sim.KindLink, From: node, To: to, LatencyMs: c.LatencyMs, JitterMs: c.JitterMs, Loss: c.Loss, Reorder: c.Reorder}, true
	default:
		// Power loss: several nodes at once.
		var last sim.Action
		ok := false
		for id := 1; id <= n; id++ {
			if s.NodeState(id) == StateUp && r.Chance(0.5) {
				if ok {
					_ = s.Do(last)
				}
				last, ok = sim.Action{Kind: sim.KindCrash, Node: id}, true
			}
		}
		return last, ok
	}
}
