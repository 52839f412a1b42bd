package sim

import (
	"os"
	"strconv"
	"testing"

	"dledgerlab/core"

	"github.com/stretchr/testify/assert"
)

// chaosSeeds is how many seeds the sweep in go test runs (CHAOS_SEEDS
// overrides; `dledgerlab chaos` runs the big sweep).
func chaosSeeds(def int) int {
	if v, err := strconv.Atoi(os.Getenv("CHAOS_SEEDS")); err == nil && v > 0 {
		return v
	}
	return def
}

// A sweep of seeded chaos runs finds no violation and no liveness failure.
// A failing seed prints the command that replays it.
func TestChaosSweep(t *testing.T) {
	for _, nodes := range []int{3, 5} {
		for seed := uint64(1); seed <= uint64(chaosSeeds(40)); seed++ {
			o := ChaosOptions{Seed: seed, Nodes: nodes}
			r := RunChaos(o)
			if r.Failed() {
				t.Errorf("seed %d, %d brokers: %v %s\n  replay: %s", seed, nodes, r.Violations, r.Liveness, o.ReplayCommand())
			}
		}
	}
}

// Switching off a safety rule lets the checkers catch a violation within a
// bounded number of seeds: this is why the rules exist. Each rule gets the
// fault profile that exposes it: stale voters for §5.4.1, slow disks and
// power losses for persist-before-ack, and the Figure 8 adversary (crash a
// leader the moment it counts an old-term entry committed) for §5.4.2.
func TestRuleSwitchesAreCaught(t *testing.T) {
	powerLoss := DefaultFaults()
	powerLoss.PowerLoss = 15
	figure8 := DefaultFaults()
	figure8.Trap = 30
	cases := []struct {
		name    string
		opts    ChaosOptions
		seeds   int
		faultMs int64
	}{
		{"up_to_date_check off", ChaosOptions{Rules: core.Rules{SkipUpToDateCheck: true}}, 20, 10_000},
		{"persist_before_ack off", ChaosOptions{Rules: core.Rules{AckBeforePersist: true}, FsyncMs: 60, Faults: powerLoss}, 30, 20_000},
		{"current_term_commit off", ChaosOptions{Rules: core.Rules{CommitOldTerms: true}, MaxPushEntries: 1, MaxInflight: 1, FaultGapMs: 300, Faults: figure8}, 30, 10_000},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			for seed := uint64(1); seed <= uint64(tc.seeds); seed++ {
				o := tc.opts
				o.Seed, o.Nodes, o.FaultMs, o.HealMs = seed, 5, tc.faultMs, 2_000
				if r := RunChaos(o); len(r.Violations) > 0 {
					t.Logf("seed %d: %s (replay: %s)", seed, r.Violations[0].Text, o.ReplayCommand())
					return
				}
			}
			assert.Fail(t, "no violation found", "%s: %d seeds", tc.name, tc.seeds)
		})
	}
	// The same profiles with every rule on find nothing.
	for _, tc := range cases {
		o := tc.opts
		o.Rules = core.Rules{}
		for seed := uint64(1); seed <= 10; seed++ {
			o.Seed, o.Nodes, o.FaultMs, o.HealMs = seed, 5, 10_000, 4_000
			r := RunChaos(o)
			assert.False(t, r.Failed(), "%s profile with rules on, seed %d: %v %s", tc.name, seed, r.Violations, r.Liveness)
		}
	}
}
