package sim

import (
	"fmt"

	"dledgerlab/core"
)

// Figure8 plays Figure 8 of the Raft paper on five brokers, with the
// seeded timings of seed, and returns what the checkers found:
//
//	(a) leader L1 appends X while cut off with one follower: X is on 2 of 5;
//	(b) the other three elect L2, which is cut off the moment it wins, so
//	    its no-op — a newer term at X's index — reaches only its own disk;
//	(c) L2 crashes; L1 is elected again and pushes X to a third broker.
//	    Counting replicas, X is on a majority. A leader that commits it
//	    now (Rules.CommitOldTerms) is crashed at that very moment;
//	(d) L2 comes back, its newer last term wins the vote, and it overwrites
//	    X everywhere — a committed entry lost.
//
// With §5.4.2's rule on, (c) commits nothing until L1's own no-op is on a
// majority, which makes L2's log too old to win in (d): nothing is lost.
func Figure8(seed uint64, rules core.Rules) ([]Violation, error) {
	s, err := New(Config{Nodes: 5, Seed: seed, Rules: rules, MaxPushEntries: 1, MaxInflight: 1, CheckpointMs: -1})
	if err != nil {
		return nil, err
	}
	waitLeader := func(what string, ok func(int) bool) (int, error) {
		for end := s.Now() + 5000; s.Now() < end; s.Advance(5) {
			if l, _ := s.Leader(); l != 0 && ok(l) {
				return l, nil
			}
		}
		return 0, fmt.Errorf("figure 8, seed %d: %s did not happen", seed, what)
	}
	any := func(int) bool { return true }
	l1, err := waitLeader("the first election", any)
	if err != nil {
		return nil, err
	}
	s.Advance(200)
	a := l1%5 + 1
	var rest []int
	for id := 1; id <= 5; id++ {
		if id != l1 && id != a {
			rest = append(rest, id)
		}
	}
	// (a)
	if err := s.Do(Action{Kind: KindPartition, Groups: [][]int{{l1, a}, rest}}); err != nil {
		return nil, err
	}
	if err := s.Do(Action{Kind: KindProduce, Topic: "figure8", Body: "X", Node: l1, ID: "old"}); err != nil {
		return nil, err
	}
	s.Advance(100)
	// (b)
	if err := s.Do(Action{Kind: KindTrap, Rule: TrapIsolateLeaderOnElection}); err != nil {
		return nil, err
	}
	l2, err := waitLeader("an election among the other three", func(l int) bool { return l != l1 && l != a })
	if err != nil {
		return nil, err
	}
	s.Advance(50)
	// (c)
	for _, act := range []Action{
		{Kind: KindCrash, Node: l2},
		{Kind: KindCrash, Node: a}, // L1 alone holds X now
		{Kind: KindHeal},
		{Kind: KindTrap, Rule: TrapCrashLeaderOnOldCommit},
	} {
		if err := s.Do(act); err != nil {
			return nil, err
		}
	}
	_ = s.Do(Action{Kind: KindCampaign, Node: l1})
	// Wait for L1 to win, and for the trap (or, with the rule on, for
	// its no-op to commit X the safe way).
	for end := s.Now() + 3000; s.Now() < end && s.NodeState(l1) == stateUp; s.Advance(1) {
		if st := s.Status(l1); st.Role == core.RoleLeader && st.Commit >= st.LastIndex {
			break
		}
	}
	// (d) L2 and A come back; A's last entry is X (old term) and it votes
	// for L2's newer one.
	for _, id := range []int{l2, a} {
		if err := s.Do(Action{Kind: KindRestart, Node: id}); err != nil {
			return nil, err
		}
	}
	_ = s.Do(Action{Kind: KindCampaign, Node: l2})
	s.Advance(1500)
	return s.Violations(), nil
}
