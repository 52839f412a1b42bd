package main

import (
	"encoding/json"
	"flag"
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
	fs := newFlags("chaos", "[--mode dledger|controller] [--seeds N] [--first S] [--nodes 5] [--rule-off R,…] [--unclean] [--all-ack=false] [-v]", `
Runs N seeded chaos runs on the simulator, spread over every CPU. Each run
has a fault phase (crashes, restarts, pauses, partitions, lossy and slow
links, leadership transfers, a disk fault) and then a healed phase in which
the brokers must elect a leader and commit again. The healed phase ends with
the producers stopped for as long as the run's drawn settings and backlog
need to converge (at least half of --heal-ms); a broker still behind then is
a liveness failure. After every event the checkers test Raft's Figure 3
properties and the broker's promises; each run's client history is checked
for linearizability with porcupine.

With --mode controller the runs are of RocketMQ's Controller mode instead
(docs/CONTROLLER.md): three controllers (a Raft group) and a broker group of
three under the same faults. The checkers test the controllers' Raft, one
master per epoch, that no acknowledged or consumed write is lost and that no
consumer reads past the confirm offset; after healing the group must have a
master that acknowledges writes and every broker level with it. --unclean
switches enableElectUncleanMaster on and --all-ack=false switches
allAckInSyncStateSet off: both can lose acknowledged writes, which the sweep
then reports.

Each failure prints the one command that replays it. The last line is one
JSON object: runs, violations, liveness_failures, linearizability_failures,
sim_seconds, wall_seconds (in controller mode: mode, runs, violations,
liveness_failures, acked, elections, truncations, sim_seconds, wall_seconds).`)
	mode := fs.String("mode", "dledger", "dledger (a DLedger CommitLog group) or controller (RocketMQ 5's Controller mode)")
	unclean := fs.Bool("unclean", false, "controller mode: enableElectUncleanMaster (elect outside the SyncStateSet)")
	allAck := fs.Bool("all-ack", true, "controller mode: allAckInSyncStateSet (false: the master acknowledges alone)")
	seeds := fs.Int("seeds", 100, "number of runs")
	first := fs.Uint64("first", 1, "first seed")
	nodes := fs.Int("nodes", 5, "brokers per run (1..9)")
	faultMs := fs.Int64("fault-ms", sim.DefaultFaultMs, "virtual milliseconds of faults per run")
	healMs := fs.Int64("heal-ms", sim.DefaultHealMs, "virtual milliseconds healed per run: at least this in dledger mode (slow settings get longer to converge), exactly this in controller mode")
	workers := fs.Int("workers", 0, "runs at once (0: one per CPU)")
	rulesOff := fs.String("rule-off", "", "safety rules to switch off: "+sim.RuleUpToDateCheck+", "+sim.RuleCurrentTermCommit+", "+sim.RulePersistBeforeAck)
	noLin := fs.Bool("no-linearizability", false, "skip the porcupine check")
	verbose := fs.Bool("v", false, "print every failure in full")
	if err := parse(fs, args); err != nil {
		return err
	}
	set := map[string]bool{}
	fs.Visit(func(f *flag.Flag) { set[f.Name] = true })
	switch *mode {
	case "dledger":
		for _, name := range []string{"unclean", "all-ack"} {
			if set[name] {
				return usagef("--%s applies to --mode controller only", name)
			}
		}
	case "controller":
		for _, name := range []string{"nodes", "rule-off", "no-linearizability"} {
			if set[name] {
				return usagef("--%s applies to --mode dledger only", name)
			}
		}
	default:
		return usagef("--mode %q: want dledger or controller", *mode)
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
	report := func(f chaos.Failure) {
		if shown < 20 || *verbose {
			fmt.Printf("FAIL seed %d (%s): %s\n  replay: %s\n", f.Seed, f.What, f.Detail, f.Replay)
		}
		shown++
	}
	var sum any
	failed := false
	if *mode == "controller" {
		s := chaos.SweepController(chaos.ControllerOptions{
			Seeds: *seeds, First: *first, FaultMs: *faultMs, HealMs: *healMs, Unclean: *unclean, AnyAck: !*allAck, Workers: *workers,
		}, report)
		sum, failed = s, s.Violations+s.LivenessFailures > 0
	} else {
		s := chaos.Sweep(chaos.Options{
			Seeds: *seeds, First: *first, Nodes: *nodes, Rules: rules, FaultMs: *faultMs, HealMs: *healMs,
			Workers: *workers, Linearizability: !*noLin, CheckTimeout: 30 * time.Second,
		}, report)
		sum, failed = s, s.Violations+s.LivenessFailures+s.LinearizabilityFailures > 0
	}
	if shown > 20 && !*verbose {
		fmt.Printf("… %d more failures (-v shows all)\n", shown-20)
	}
	line, _ := json.Marshal(sum)
	fmt.Println(string(line))
	if failed {
		os.Exit(1)
	}
	return nil
}
