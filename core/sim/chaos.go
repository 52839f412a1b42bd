package sim

import (
	"fmt"
	"strings"

	"dledgerlab/core"
	"dledgerlab/core/internal/simnet"
	"dledgerlab/core/internal/xrand"
)

// ChaosOptions sets up one seeded chaos run: a fault phase in which faults
// are drawn at random, then a healed phase in which the cluster must elect
// and commit again (liveness). Every fault has a weight in Faults.
type ChaosOptions struct {
	Seed  uint64
	Nodes int
	// FaultMs and HealMs are the lengths of the two phases (virtual ms).
	// The healed phase runs longer than HealMs when the run's settings
	// need more time to converge (see RunChaos).
	FaultMs int64
	HealMs  int64
	// Rules switches safety rules off (the rule-switch tests).
	Rules core.Rules
	// RecordHistory keeps the client history for the linearizability check.
	RecordHistory bool
	Faults        FaultWeights
	// FsyncMs and MaxPushEntries override the seeded draws (0: draw).
	FsyncMs        int
	MaxPushEntries int
	MaxInflight    int
	Loss           float64
	// DisablePreVote makes elections livelier (more terms, more overwrites).
	DisablePreVote bool
	// FaultGapMs is the longest gap between two faults (default 1500 ms).
	FaultGapMs int
	// LogCacheBytes sets the replicas' log cache (core.Config); 0: one run
	// in four (by seed) keeps only 64 bytes of persisted entries in memory,
	// so pushes, conflict hints and applying read the CommitLog back under
	// every fault, and the rest run with core's default.
	LogCacheBytes int
	// SnapshotEvery sets Config.SnapshotEvery; 0: one run in four (by
	// seed) compacts every 16 to 63 applied entries, so snapshots, their
	// transfer and retention meet every fault, and the rest never compact.
	SnapshotEvery int

	// afterHeal, in tests, breaks the healed cluster on purpose (it runs
	// once every link is healed and every broker restarted), to show that
	// a cluster that cannot converge is reported.
	afterHeal func(s *Sim)
}

// FaultWeights are the relative odds of each fault at each fault step
// (TigerBeetle's VOPR keeps them in one struct the same way).
type FaultWeights struct {
	Crash, Restart, Pause, Resume, Partition, OneWay, Isolate, Heal, Link, Transfer, DiskFlip, Campaign int
	// PowerLoss crashes several brokers at once (a rack losing power).
	PowerLoss int
	// Trap arms one of the Traps, chosen at random.
	Trap int
}

// DefaultFaults is the mix the chaos sweep uses.
func DefaultFaults() FaultWeights {
	return FaultWeights{Crash: 10, Restart: 14, Pause: 4, Resume: 5, Partition: 8, OneWay: 3, Isolate: 5, Heal: 10, Link: 5, Transfer: 3, DiskFlip: 1, Campaign: 2, PowerLoss: 2}
}

// ChaosResult is what one run found.
type ChaosResult struct {
	Seed       uint64
	Violations []Violation
	// Liveness is empty when the healed cluster elected, committed and
	// caught up; otherwise it says what did not happen.
	Liveness string
	// QuietMs is how long the healed cluster ran after the producers
	// stopped, before the liveness check (see convergence.windowMs).
	QuietMs int64
	SimMs   int64
	Acked   int
	// Snapshots counts snapshots installed from a leader (Raft §7).
	Snapshots int
	History   []ClientOp
}

// Failed reports whether the run found a problem.
func (r ChaosResult) Failed() bool { return len(r.Violations) > 0 || r.Liveness != "" }

// ReplayCommand is the one command that reproduces the run.
func (o ChaosOptions) ReplayCommand() string {
	cmd := fmt.Sprintf("dledgerlab chaos --seeds 1 --first %d --nodes %d", o.Seed, o.Nodes)
	var off []string
	if o.Rules.SkipUpToDateCheck {
		off = append(off, RuleUpToDateCheck)
	}
	if o.Rules.CommitOldTerms {
		off = append(off, RuleCurrentTermCommit)
	}
	if o.Rules.AckBeforePersist {
		off = append(off, RulePersistBeforeAck)
	}
	if len(off) > 0 {
		cmd += " --rule-off " + strings.Join(off, ",")
	}
	return cmd + PhaseFlags(o.FaultMs, o.HealMs) + " -v"
}

// DefaultFaultMs and DefaultHealMs are a chaos run's phases when its
// options leave them 0 (and `dledgerlab chaos`'s flag defaults), in both
// this simulator and Controller mode's (core/ctlsim).
const (
	DefaultFaultMs = 40_000
	DefaultHealMs  = 20_000
)

// PhaseFlags is the part of a replay command that sets a run's phases:
// nothing for the defaults.
func PhaseFlags(faultMs, healMs int64) string {
	var s string
	if faultMs != 0 && faultMs != DefaultFaultMs {
		s += fmt.Sprintf(" --fault-ms %d", faultMs)
	}
	if healMs != 0 && healMs != DefaultHealMs {
		s += fmt.Sprintf(" --heal-ms %d", healMs)
	}
	return s
}

// RunChaos runs one seeded chaos run. It is deterministic: the same options
// give the same result, natively and in WebAssembly.
//
// The healed phase is HealMs/2 with the producers running, then a quiet
// window without them: at least the other HealMs/2, longer when the run's
// settings and backlog need it to converge (convergence.windowMs).
func RunChaos(o ChaosOptions) ChaosResult {
	if o.Nodes == 0 {
		o.Nodes = 5
	}
	if o.FaultMs == 0 {
		o.FaultMs = DefaultFaultMs
	}
	if o.HealMs == 0 {
		o.HealMs = DefaultHealMs
	}
	if o.Faults == (FaultWeights{}) {
		o.Faults = DefaultFaults()
	}
	r := xrand.New(o.Seed*0x9E3779B97F4A7C15 + 1)
	cfg := Config{
		Nodes: o.Nodes, Seed: o.Seed, Rules: o.Rules, RecordHistory: o.RecordHistory, CheckpointMs: -1,
		LatencyMs: 1 + r.Intn(30), JitterMs: r.Intn(30), Loss: float64(r.Intn(15)) / 100, Dup: float64(r.Intn(5)) / 100,
		Reorder: float64(r.Intn(10)) / 100,
		FsyncMs: 1 + r.Intn(20), SegmentSize: 4096,
		MaxPushEntries: []int{1, 2, 4, 64}[r.Intn(4)], MaxInflight: 1 + r.Intn(8),
	}
	if o.FsyncMs > 0 {
		cfg.FsyncMs = o.FsyncMs
	}
	if o.MaxPushEntries > 0 {
		cfg.MaxPushEntries = o.MaxPushEntries
	}
	if o.MaxInflight > 0 {
		cfg.MaxInflight = o.MaxInflight
	}
	if o.Loss > 0 {
		cfg.Loss = o.Loss
	}
	cfg.DisablePreVote = o.DisablePreVote
	switch {
	case o.LogCacheBytes > 0:
		cfg.LogCacheBytes = o.LogCacheBytes
	case o.Seed%4 == 0:
		cfg.LogCacheBytes = 64
	}
	switch {
	case o.SnapshotEvery > 0:
		cfg.SnapshotEvery = o.SnapshotEvery
	case o.Seed%4 == 1:
		cfg.SnapshotEvery = 16 + int(o.Seed/4%48)
	}
	// Consumer groups commit often, and every other run keeps their
	// offsets in the log (the group checker runs in both modes).
	cfg.OffsetCommitMs, cfg.OffsetSyncMs = 700, 2000
	if o.Seed%2 == 1 {
		cfg.Offsets = "replicated"
	}
	s, err := New(cfg)
	if err != nil {
		panic(fmt.Sprintf("chaos config: %v", err))
	}
	must := func(a Action) { _ = s.Do(a) } // actions that do not fit the state are skipped
	topics := []string{"orders", "payments"}
	for i, t := range topics {
		must(Action{Kind: KindProducer, ID: fmt.Sprintf("p%d", i+1), Topic: t, Rate: float64(5 + r.Intn(25))})
	}
	must(Action{Kind: KindConsumer, ID: "c-leader", Topic: "orders"})
	must(Action{Kind: KindConsumer, ID: "c-any", Topic: "payments", Node: 1 + r.Intn(o.Nodes)})

	gap := o.FaultGapMs
	if gap <= 0 {
		gap = 1500
	}
	flipped := false
	for s.Now() < o.FaultMs {
		s.Advance(int64(10 + r.Intn(gap)))
		a, ok := s.randomFault(&r, o.Faults, &flipped)
		if ok {
			must(a)
			if a.Kind == KindDiskFlip {
				// The damage is found when the broker restarts.
				must(Action{Kind: KindCrash, Node: a.Node})
				must(Action{Kind: KindRestart, Node: a.Node})
			}
		}
	}

	// Healed phase: every link works, every broker that can run runs.
	must(Action{Kind: KindTrap, Rule: TrapNone})
	must(Action{Kind: KindHeal})
	must(Action{Kind: KindNet, LatencyMs: cfg.LatencyMs, JitterMs: cfg.JitterMs})
	for id := 1; id <= o.Nodes; id++ {
		switch s.NodeState(id) {
		case statePaused:
			must(Action{Kind: KindResume, Node: id})
		case stateCrashed:
			must(Action{Kind: KindRestart, Node: id})
		}
	}
	if o.afterHeal != nil {
		o.afterHeal(s)
	}
	acked := s.ackedCounts()
	s.Advance(o.HealMs / 2)
	for i := range topics {
		must(Action{Kind: KindProducer, ID: fmt.Sprintf("p%d", i+1), Rate: 0, Topic: topics[i]})
	}
	quiet := max(o.HealMs/2, s.convergence().windowMs())
	s.Advance(quiet)

	res := ChaosResult{Seed: o.Seed, QuietMs: quiet, SimMs: s.Now(), Violations: s.Violations(), History: s.History(), Snapshots: s.st.snapshotsInstalled}
	res.Violations = append(res.Violations, s.CheckFinal()...)
	after := s.ackedCounts()
	for i := range after {
		res.Acked += after[i]
	}
	var why []string
	lead, _ := s.Leader()
	if lead == 0 {
		why = append(why, "no leader after healing")
	}
	for i := range after {
		if after[i] <= acked[i] {
			why = append(why, fmt.Sprintf("producer p%d got no acknowledgement after healing", i+1))
		}
	}
	if lead != 0 {
		want := s.Status(lead).Commit
		for id := 1; id <= o.Nodes; id++ {
			if s.NodeState(id) == stateUp && s.Status(id).Applied != want {
				why = append(why, fmt.Sprintf("broker %d applied %d of %d committed entries", id, s.Status(id).Applied, want))
			}
		}
	}
	if len(why) > 0 {
		res.Liveness = fmt.Sprintf("%s (after %d ms without producers)", strings.Join(why, "; "), quiet)
	}
	return res
}

// maxQuietMs bounds the quiet window so that a run whose cluster never
// converges still ends. Ten virtual minutes is far beyond what a correct
// run of the sweep needs (the longest window in seeds 4000..4999 is 19 s,
// on three brokers and on five), and a stuck cluster with no producers
// simulates them in a fraction of a second.
const maxQuietMs = 600_000

// convergence is what the quiet window is derived from: the run's settings
// and how far apart its running brokers are when the producers stop.
type convergence struct {
	// cfg is the run's configuration, defaults filled in.
	cfg Config
	// backlog is how many entries the furthest-behind running broker may
	// still have to receive.
	backlog uint64
	// divergedTerms is the most distinct terms in one running broker's
	// uncommitted tail: entries a new leader may have to overwrite.
	divergedTerms int
}

// convergence measures the cluster as it is now. A broker's committed
// prefix is in every later leader's log (Leader Completeness, §5.4), so
// only what lies above its commit index may have to be sent to it: the
// backlog runs from the lowest commit index among the running brokers to
// the highest last index, plus one message per producer that may still be
// retrying and the no-op of a leader elected meanwhile.
func (s *Sim) convergence() convergence {
	c := convergence{cfg: s.cfg}
	var lowCommit, highLast uint64
	running := 0
	for _, n := range s.st.nodes {
		if n.state != stateUp {
			continue
		}
		st := n.node.Status()
		if running == 0 || st.Commit < lowCommit {
			lowCommit = st.Commit
		}
		highLast = max(highLast, st.LastIndex)
		running++
		terms, last := 0, uint64(0)
		for _, e := range n.node.Entries(st.Commit+1, st.LastIndex+1) {
			if e.Term != last {
				terms, last = terms+1, e.Term
			}
		}
		c.divergedTerms = max(c.divergedTerms, terms)
	}
	if running > 0 {
		c.backlog = highLast - lowCommit
	}
	c.backlog += uint64(len(s.st.clients.producers)) + 1
	return c
}

// windowMs is how long the healed cluster may need, with no producers, to
// elect a leader, send the furthest-behind broker everything it lacks, and
// let it apply the last committed entry. It adds worst cases on the healed
// network, which loses nothing, keeps each link in order and delays a
// message by at most LatencyMs+JitterMs (T is TickMs, F is FsyncMs):
//
//	hop      = LatencyMs + JitterMs                  slowest one-way delay
//	round    = 2·hop + 2·F + T                       a push and its ack: the follower
//	                                                 fsyncs before acking, perhaps after
//	                                                 finishing an fsync under way (group
//	                                                 commit); T for the tick grid
//	election = 2·(ElectionTicksMax·T + 3·round)      a timer running out, pre-vote, vote
//	                                                 and the leader's no-op committing;
//	                                                 twice, for one split vote
//	repair   = (divergedTerms + 2)·round             a diverged follower rejects one push
//	                                                 per term of its uncommitted tail
//	                                                 (the reject's hint skips a whole
//	                                                 term), plus the first probe and the
//	                                                 push that lands
//	catch-up = ⌈backlog / (MaxPushEntries·MaxInflight)⌉·round
//	                                                 a round moves one full pipeline of
//	                                                 full pushes (the sweep's entries are
//	                                                 far below MaxPushBytes)
//	notice   = HeartbeatTicks·T + hop + F            the final commit index comes with
//	                                                 the next heartbeat and is applied
//	                                                 after one more Ready
//
// With the defaults and a small backlog this is a second or two; one
// entry per push, one push in flight and a few hundred entries behind make
// it tens of seconds. It never exceeds maxQuietMs.
func (c convergence) windowMs() int64 {
	cc := c.cfg.coreConfig(1) // the replicas' timings and push limits
	t, f := int64(c.cfg.TickMs), int64(c.cfg.FsyncMs)
	hop := int64(c.cfg.LatencyMs + c.cfg.JitterMs)
	round := 2*hop + 2*f + t
	election := 2 * (int64(cc.ElectionTicksMax)*t + 3*round)
	repair := int64(c.divergedTerms+2) * round
	perRound := uint64(cc.MaxPushEntries * cc.MaxInflight)
	rounds := (c.backlog + perRound - 1) / perRound
	if rounds > maxQuietMs {
		return maxQuietMs // round ≥ 1 ms: the product would pass the bound anyway
	}
	notice := int64(cc.HeartbeatTicks)*t + hop + f
	return min(maxQuietMs, election+repair+int64(rounds)*round+notice)
}

func (s *Sim) ackedCounts() []int {
	var out []int
	for _, p := range s.st.clients.producers {
		out = append(out, p.acked)
	}
	return out
}

// randomFault draws the next fault; ok is false when the drawn fault does
// not fit the state (e.g. restart with nobody down).
func (s *Sim) randomFault(r *xrand.Rand, w FaultWeights, flipped *bool) (Action, bool) {
	n := s.cfg.Nodes
	k := simnet.PickWeighted(r, []int{w.Crash, w.Restart, w.Pause, w.Resume, w.Partition, w.OneWay, w.Isolate, w.Heal, w.Link, w.Transfer, w.DiskFlip, w.Campaign, w.PowerLoss, w.Trap})
	node := 1 + r.Intn(n)
	pickState := func(state string) (int, bool) {
		return simnet.PickWhere(r, n, func(id int) bool { return s.NodeState(id) == state })
	}
	switch k {
	case 0:
		return Action{Kind: KindCrash, Node: node}, s.NodeState(node) == stateUp
	case 1:
		id, ok := pickState(stateCrashed)
		return Action{Kind: KindRestart, Node: id}, ok
	case 2:
		return Action{Kind: KindPause, Node: node}, s.NodeState(node) == stateUp
	case 3:
		id, ok := pickState(statePaused)
		return Action{Kind: KindResume, Node: id}, ok
	case 4, 5:
		groups := simnet.RandomSplit(r, n)
		if n == 1 {
			return Action{}, false
		}
		return Action{Kind: KindPartition, Groups: groups, OneWay: k == 5}, true
	case 6:
		return Action{Kind: KindIsolate, Node: node}, true
	case 7:
		return Action{Kind: KindHeal}, true
	case 8:
		to := 1 + r.Intn(n)
		if to == node {
			return Action{}, false
		}
		c := simnet.RandomLinkConf(r)
		return Action{Kind: KindLink, From: node, To: to, LatencyMs: c.LatencyMs, JitterMs: c.JitterMs, Loss: c.Loss, Reorder: c.Reorder}, true
	case 9:
		lead, _ := s.Leader()
		return Action{Kind: KindTransfer, Node: node}, lead != 0
	case 10:
		// One disk fault per run, before the tail of the log, so recovery
		// must refuse to start (the broker then stays down).
		if *flipped || s.NodeState(node) != stateUp {
			return Action{}, false
		}
		st := s.st.nodes[node-1].store
		last := st.DurableLastIndex()
		segs := st.Segments()
		if last < 3 || len(segs) == 0 {
			return Action{}, false
		}
		// An entry of the last segment that is not the last entry.
		var pick []uint64
		for i := last - 1; i >= 1; i-- {
			pos, _, ok := st.Position(i)
			if !ok || pos < segs[len(segs)-1].Start {
				break
			}
			pick = append(pick, i)
		}
		if len(pick) == 0 {
			return Action{}, false
		}
		pos, size, _ := st.Position(pick[r.Intn(len(pick))])
		*flipped = true
		return Action{Kind: KindDiskFlip, Node: node, Offset: st.DurableEnd() - (pos + int64(size)/2)}, true
	case 11:
		return Action{Kind: KindCampaign, Node: node}, s.NodeState(node) == stateUp
	case 13:
		return Action{Kind: KindTrap, Rule: Traps[r.Intn(len(Traps))]}, true
	default:
		// Power loss: crash a random majority at once; Restart faults bring
		// them back one by one.
		var acts []Action
		for id := 1; id <= n; id++ {
			if s.NodeState(id) == stateUp && r.Chance(0.7) {
				acts = append(acts, Action{Kind: KindCrash, Node: id})
			}
		}
		for _, a := range acts[:max(0, len(acts)-1)] {
			_ = s.Do(a)
		}
		if len(acts) == 0 {
			return Action{}, false
		}
		return acts[len(acts)-1], true
	}
}
