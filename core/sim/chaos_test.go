package sim

import (
	"os"
	"strconv"
	"testing"

	"dledgerlab/core"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
// power losses at the worst moment for persist-before-ack.
func TestRuleSwitchesAreCaught(t *testing.T) {
	powerLoss := DefaultFaults()
	powerLoss.PowerLoss, powerLoss.Trap = 15, 20
	cases := []struct {
		name    string
		opts    ChaosOptions
		seeds   int
		faultMs int64
	}{
		{"up_to_date_check off", ChaosOptions{Rules: core.Rules{SkipUpToDateCheck: true}}, 20, 10_000},
		{"persist_before_ack off", ChaosOptions{Rules: core.Rules{AckBeforePersist: true}, FsyncMs: 60, Faults: powerLoss}, 20, 20_000},
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
			o.Seed, o.Nodes, o.FaultMs, o.HealMs = seed, 5, tc.faultMs, 4_000
			r := RunChaos(o)
			assert.False(t, r.Failed(), "%s profile with rules on, seed %d: %v %s", tc.name, seed, r.Violations, r.Liveness)
		}
	}
}

// Figure 8 (§5.4.2): with the current-term commit rule off, a sweep of the
// seeded Figure 8 run loses a committed entry within a few seeds; with the
// rule on it never does.
func TestFigure8NeedsCurrentTermCommitRule(t *testing.T) {
	found := 0
	for seed := uint64(1); seed <= 10; seed++ {
		v, err := Figure8(seed, core.Rules{CommitOldTerms: true})
		require.NoError(t, err)
		if len(v) > 0 {
			found++
			assert.Equal(t, RuleLeaderCompleteness, v[0].Rule)
		}
		safe, err := Figure8(seed, core.Rules{})
		require.NoError(t, err)
		assert.Empty(t, safe, "seed %d with the rule on", seed)
	}
	assert.Positive(t, found, "no seed of 10 showed Figure 8's loss with the rule off")
}
