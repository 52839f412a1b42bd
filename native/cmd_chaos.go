package main

import (
	"encoding/json"
	"fmt"
	"os"
	"runtime/debug"
	"time"

	"dledgerlab/core/sim"
	"dledgerlab/native/chaos"
)

func init() {
	register(command{name: "chaos", summary: "run a seeded simulator sweep with random faults; last line is JSON", run: runChaos})
}

func runChaos(args []string) error {
	fs := newFlags("chaos", "[--seeds N] [--first S] [--nodes 5] [--rule-off R,…] [-v]", `
Runs N seeded chaos runs on the simulator, spread over every CPU. Each run
has a fault phase (crashes, restarts, pauses, partitions, lossy and slow
links, leadership transfers, a disk fault) and then a healed phase in which
the brokers must elect a leader and commit again. The healed phase ends with
the producers stopped for as long as the run's drawn settings and backlog
need to converge (at least half of --heal-ms); a broker still behind then is
a liveness failure. After every event the checkers test Raft's Figure 3
properties and the broker's promises; each run's client history is checked
for linearizability with porcupine.

Each failure prints the one command that replays it. The last line is one
JSON object: runs, violations, liveness_failures, linearizability_failures,
sim_seconds, wall_seconds.`)
	seeds := fs.Int("seeds", 100, "number of runs")
	first := fs.Uint64("first", 1, "first seed")
	nodes := fs.Int("nodes", 5, "brokers per run (1..9)")
	faultMs := fs.Int64("fault-ms", 40_000, "virtual milliseconds of faults per run")
	healMs := fs.Int64("heal-ms", 20_000, "virtual milliseconds healed per run, at least (slow settings get longer to converge)")
	workers := fs.Int("workers", 0, "runs at once (0: one per CPU)")
	rulesOff := fs.String("rule-off", "", "safety rules to switch off: "+sim.RuleUpToDateCheck+", "+sim.RuleCurrentTermCommit+", "+sim.RulePersistBeforeAck)
	noLin := fs.Bool("no-linearizability", false, "skip the porcupine check")
	verbose := fs.Bool("v", false, "print every failure in full")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *seeds < 1:
		return usagef("--seeds %d: want at least 1", *seeds)
	case *nodes < 1 || *nodes > 9:
		return usagef("--nodes %d: a cluster has 1 to 9 brokers", *nodes)
	case *faultMs < 0 || *healMs < 1000:
		return usagef("--fault-ms must be >= 0 and --heal-ms >= 1000")
	}
	rules, err := chaos.ParseRulesOff(*rulesOff)
	if err != nil {
		return usagef("--rule-off: %v", err)
	}
	if os.Getenv("GOGC") == "" {
		// A sweep is CPU-bound with small, short-lived heaps (a few MB per
		// run): collecting at 5× the live heap instead of 2× halves its
		// wall time (docs/BENCHMARKS.md). An explicit GOGC still wins.
		debug.SetGCPercent(400)
	}
	shown := 0
	sum := chaos.Sweep(chaos.Options{
		Seeds: *seeds, First: *first, Nodes: *nodes, Rules: rules, FaultMs: *faultMs, HealMs: *healMs,
		Workers: *workers, Linearizability: !*noLin, CheckTimeout: 30 * time.Second,
	}, func(f chaos.Failure) {
		if shown < 20 || *verbose {
			fmt.Printf("FAIL seed %d (%s): %s\n  replay: %s\n", f.Seed, f.What, f.Detail, f.Replay)
		}
		shown++
	})
	if shown > 20 && !*verbose {
		fmt.Printf("… %d more failures (-v shows all)\n", shown-20)
	}
	line, _ := json.Marshal(sum)
	fmt.Println(string(line))
	if sum.Violations+sum.LivenessFailures+sum.LinearizabilityFailures > 0 {
		os.Exit(1)
	}
	return nil
}
