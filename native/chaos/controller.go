package chaos

import (
	"fmt"
	"time"

	"dledgerlab/core/ctlsim"
)

// ControllerOptions sets up a sweep of seeded chaos runs in Controller
// mode (core/ctlsim): three controllers and a broker group of three.
type ControllerOptions struct {
	Seeds int
	First uint64
	// FaultMs and HealMs are each run's phases (0: 40 s and 20 s).
	FaultMs, HealMs int64
	// Unclean switches enableElectUncleanMaster on; AnyAck switches
	// allAckInSyncStateSet off.
	Unclean, AnyAck bool
	// Workers is how many runs go at once (0: one per CPU).
	Workers int
}

// ControllerSummary is a Controller-mode sweep's outcome; its JSON is the
// last line of `dledgerlab chaos --mode controller`.
type ControllerSummary struct {
	Mode             string  `json:"mode"`
	Runs             int     `json:"runs"`
	Violations       int     `json:"violations"`
	LivenessFailures int     `json:"liveness_failures"`
	Acked            int     `json:"acked"`
	Elections        int     `json:"elections"`
	Truncations      int     `json:"truncations"`
	SimSeconds       float64 `json:"sim_seconds"`
	WallSeconds      float64 `json:"wall_seconds"`
}

// SweepController runs o.Seeds Controller-mode runs from seed o.First on,
// spread over the CPUs, and calls report for each failure (one at a time,
// in no particular order). A run counts once as a violation, with its first
// violation: the rest follow from it.
func SweepController(o ControllerOptions, report func(Failure)) ControllerSummary {
	start := time.Now()
	sum := ControllerSummary{Mode: "controller"}
	type run struct {
		res    ctlsim.ChaosResult
		replay string
	}
	sweepSeeds(o.Seeds, o.First, o.Workers, func(seed uint64) run {
		co := ctlsim.ChaosOptions{Seed: seed, FaultMs: o.FaultMs, HealMs: o.HealMs, Unclean: o.Unclean, AnyAck: o.AnyAck}
		return run{ctlsim.RunChaos(co), co.ReplayCommand()}
	}, func(r run) {
		sum.Runs++
		sum.SimSeconds += float64(r.res.SimMs) / 1000
		sum.Acked += r.res.Acked
		sum.Elections += r.res.Elections
		sum.Truncations += r.res.Truncations
		var fails []Failure
		if len(r.res.Violations) > 0 {
			v := r.res.Violations[0]
			sum.Violations++
			fails = append(fails, Failure{Seed: r.res.Seed, What: "violation", Detail: fmt.Sprintf("at %d ms: %s (during %s)", v.TimeMs, v.Text, v.Event), Replay: r.replay})
		}
		if r.res.Liveness != "" {
			sum.LivenessFailures++
			fails = append(fails, Failure{Seed: r.res.Seed, What: "liveness", Detail: r.res.Liveness, Replay: r.replay})
		}
		if report != nil {
			for _, f := range fails {
				report(f)
			}
		}
	})
	sum.WallSeconds = time.Since(start).Seconds()
	return sum
}
