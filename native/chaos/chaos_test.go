package chaos

import (
	"fmt"
	"testing"
	"time"

	"github.com/anishathalye/porcupine"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/sim"
)

// The sweep in make test: seeded chaos runs on 5 brokers, every client
// history checked with porcupine. A failure prints its replay command.
func TestPorcupineCheckedChaosSweep(t *testing.T) {
	sum := Sweep(Options{Seeds: 24, First: 1, Nodes: 5, Linearizability: true, CheckTimeout: 30 * time.Second}, func(f Failure) {
		t.Errorf("seed %d: %s: %s\n  replay: %s", f.Seed, f.What, f.Detail, f.Replay)
	})
	assert.Equal(t, 24, sum.Runs)
	assert.Positive(t, sum.Acked, "the runs produced traffic")
	t.Logf("%+v", sum)
}

// The checker is not vacuous: histories that break the queue's promises are
// rejected.
func TestCheckHistoryRejectsBadHistories(t *testing.T) {
	p := func(seq uint64, call, ret int64, outcome string, off uint64) sim.ClientOp {
		return sim.ClientOp{Client: "p1", Kind: "produce", Topic: "t", Producer: "p1", Seq: seq, CallMs: call, ReturnMs: ret, Outcome: outcome, Offset: off}
	}
	c := func(seq uint64, at int64, off uint64) sim.ClientOp {
		return sim.ClientOp{Client: "c1", Kind: "consume", Topic: "t", Producer: "p1", Seq: seq, CallMs: at, ReturnMs: at, Outcome: "ok", Offset: off}
	}
	cases := []struct {
		name string
		h    []sim.ClientOp
		want porcupine.CheckResult
	}{
		{"in order", []sim.ClientOp{p(1, 0, 10, "ok", 0), p(2, 11, 20, "ok", 1), c(1, 30, 0), c(2, 31, 1)}, porcupine.Ok},
		{"retry after unknown stored once", []sim.ClientOp{p(1, 0, -1, "unknown", 0), p(1, 5, 10, "ok", 0), p(2, 11, 20, "ok", 1)}, porcupine.Ok},
		{"unknown that never landed", []sim.ClientOp{p(1, 0, -1, "unknown", 0), p(2, 11, 20, "ok", 0)}, porcupine.Ok},
		{"later send got an earlier offset", []sim.ClientOp{p(1, 0, 10, "ok", 1), p(2, 11, 20, "ok", 0)}, porcupine.Illegal},
		{"gap in offsets", []sim.ClientOp{p(1, 0, 10, "ok", 0), p(2, 11, 20, "ok", 2)}, porcupine.Illegal},
		{"consumer saw a message before it was sent", []sim.ClientOp{c(1, 0, 0), p(1, 5, 10, "ok", 0)}, porcupine.Illegal},
		{"consumer saw the wrong message", []sim.ClientOp{p(1, 0, 10, "ok", 0), p(2, 11, 20, "ok", 1), c(2, 30, 0)}, porcupine.Illegal},
		{"failed send consumed", []sim.ClientOp{p(1, 0, 10, "fail", 0), c(1, 30, 0)}, porcupine.Illegal},
	}
	for _, tc := range cases {
		assert.Equal(t, tc.want, CheckHistory(tc.h, 5*time.Second), tc.name)
	}
}

func TestSweepReportsRuleSwitchViolations(t *testing.T) {
	var fails []Failure
	sum := Sweep(Options{Seeds: 4, First: 1, Nodes: 5, FaultMs: 10_000, HealMs: 2_000}, nil)
	require.Zero(t, sum.Violations)
	sum = Sweep(Options{Seeds: 10, First: 1, Nodes: 5, FaultMs: 10_000, HealMs: 2_000, Rules: rulesOff("up_to_date_check")}, func(f Failure) { fails = append(fails, f) })
	assert.Positive(t, sum.Violations)
	require.NotEmpty(t, fails)
	assert.Contains(t, fails[0].Replay, "--rule-off up_to_date_check")
}

// Controller mode: clean runs find nothing; unclean elections lose
// acknowledged writes, and each failure carries its replay command.
func TestSweepController(t *testing.T) {
	sum := SweepController(ControllerOptions{Seeds: 16, First: 1}, func(f Failure) {
		t.Errorf("seed %d: %s: %s\n  replay: %s", f.Seed, f.What, f.Detail, f.Replay)
	})
	assert.Equal(t, 16, sum.Runs)
	assert.Positive(t, sum.Acked)
	assert.Positive(t, sum.Elections)
	assert.Equal(t, "controller", sum.Mode)

	var fails []Failure
	sum = SweepController(ControllerOptions{Seeds: 16, First: 1, Unclean: true, Workers: 2}, func(f Failure) { fails = append(fails, f) })
	assert.Positive(t, sum.Violations)
	assert.Zero(t, sum.LivenessFailures)
	require.NotEmpty(t, fails)
	for _, f := range fails {
		assert.Equal(t, fmt.Sprintf("dledgerlab chaos --mode controller --seeds 1 --first %d --unclean -v", f.Seed), f.Replay)
		assert.Regexp(t, "No (acknowledged|consumed) message is lost", f.Detail)
	}
}
