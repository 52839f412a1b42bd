package chaos

import (
	"fmt"
	"runtime"
	"sync"
	"time"

	"github.com/anishathalye/porcupine"

	"dledgerlab/core"
	"dledgerlab/core/sim"
)

// Options sets up a sweep of seeded chaos runs.
type Options struct {
	Seeds int
	First uint64
	Nodes int
	Rules core.Rules
	// FaultMs and HealMs are each run's phases (0: the simulator's defaults,
	// 40 s of faults and at least 20 s healed; a run whose settings need
	// longer to converge gets longer).
	FaultMs, HealMs int64
	// Workers is how many runs go at once (0: one per CPU).
	Workers int
	// Linearizability checks every run's client history with porcupine.
	Linearizability bool
	// CheckTimeout bounds one porcupine check; running out is a failure.
	CheckTimeout time.Duration
}

// Failure is one run that found a problem.
type Failure struct {
	Seed   uint64
	What   string // violation, liveness or linearizability
	Detail string
	Replay string
}

// Summary is the sweep's outcome; its JSON is the last line of
// `dledgerlab chaos`.
type Summary struct {
	Runs                    int     `json:"runs"`
	Violations              int     `json:"violations"`
	LivenessFailures        int     `json:"liveness_failures"`
	LinearizabilityFailures int     `json:"linearizability_failures"`
	Acked                   int     `json:"acked"`
	SnapshotsInstalled      int     `json:"snapshots_installed"`
	SimSeconds              float64 `json:"sim_seconds"`
	WallSeconds             float64 `json:"wall_seconds"`
}

// Sweep runs o.Seeds runs from seed o.First on, spread over the CPUs, and
// calls report for each failure (from one goroutine at a time, in no
// particular order).
func Sweep(o Options, report func(Failure)) Summary {
	if o.CheckTimeout <= 0 {
		o.CheckTimeout = 20 * time.Second
	}
	start := time.Now()
	var sum Summary
	type run struct {
		fails []Failure
		res   sim.ChaosResult
	}
	sweepSeeds(o.Seeds, o.First, o.Workers, func(seed uint64) run {
		fails, res := runOne(o, seed)
		return run{fails, res}
	}, func(r run) {
		sum.Runs++
		sum.SimSeconds += float64(r.res.SimMs) / 1000
		sum.Acked += r.res.Acked
		sum.SnapshotsInstalled += r.res.Snapshots
		for _, f := range r.fails {
			switch f.What {
			case "violation":
				sum.Violations++
			case "liveness":
				sum.LivenessFailures++
			case "linearizability":
				sum.LinearizabilityFailures++
			}
			if report != nil {
				report(f)
			}
		}
	})
	sum.WallSeconds = time.Since(start).Seconds()
	return sum
}

// sweepSeeds runs run for seeds first, first+1, … (n of them) on workers
// goroutines (0: one per CPU) and hands each result to collect, one at a
// time.
func sweepSeeds[R any](n int, first uint64, workers int, run func(seed uint64) R, collect func(R)) {
	if workers <= 0 {
		workers = runtime.GOMAXPROCS(0)
	}
	seeds := make(chan uint64)
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for seed := range seeds {
				r := run(seed)
				mu.Lock()
				collect(r)
				mu.Unlock()
			}
		}()
	}
	for i := range n {
		seeds <- first + uint64(i)
	}
	close(seeds)
	wg.Wait()
}

func runOne(o Options, seed uint64) ([]Failure, sim.ChaosResult) {
	co := sim.ChaosOptions{Seed: seed, Nodes: o.Nodes, FaultMs: o.FaultMs, HealMs: o.HealMs, Rules: o.Rules, RecordHistory: o.Linearizability}
	res := sim.RunChaos(co)
	replay := co.ReplayCommand()
	var out []Failure
	for _, v := range res.Violations {
		out = append(out, Failure{Seed: seed, What: "violation", Detail: fmt.Sprintf("at %d ms: %s (during %s)", v.TimeMs, v.Text, v.Event), Replay: replay})
		break // the first one explains the run; later ones follow from it
	}
	if res.Liveness != "" {
		out = append(out, Failure{Seed: seed, What: "liveness", Detail: res.Liveness, Replay: replay})
	}
	if o.Linearizability {
		switch r := CheckHistory(res.History, o.CheckTimeout); r {
		case porcupine.Ok:
		case porcupine.Illegal:
			out = append(out, Failure{Seed: seed, What: "linearizability", Detail: "the client history is not linearizable", Replay: replay})
		default:
			out = append(out, Failure{Seed: seed, What: "linearizability", Detail: fmt.Sprintf("the checker gave up after %v (%s counts as a failure)", o.CheckTimeout, r), Replay: replay})
		}
	}
	return out, res
}
