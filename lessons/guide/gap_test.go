package guide

import (
	"testing"

	"dledgerlab/core/sim"
)

// framesDriver hands out views one by one, as real brokers' frames arrive
// every 250 ms; Wait moves to the next frame.
type framesDriver struct {
	views []sim.ClusterView
	at    int
}

func (d *framesDriver) View() (sim.ClusterView, error) { return d.views[d.at], nil }
func (d *framesDriver) Do(sim.Action) error            { return nil }
func (d *framesDriver) Wait(int64) error {
	if d.at < len(d.views)-1 {
		d.at++
	}
	return nil
}

func leaderView(t int64, lead int, term uint64, events ...sim.EventView) sim.ClusterView {
	v := sim.ClusterView{TimeMs: t, Events: events}
	for id := 1; id <= 3; id++ {
		role := "follower"
		if id == lead {
			role = "leader"
		}
		v.Nodes = append(v.Nodes, sim.NodeView{ID: id, State: "running", Role: role, Term: term})
	}
	return v
}

// TestNoLeaderSeenBetweenFrames: a leaderless moment that falls between two
// frames still counts, from the frames' events; a handover in which the new
// leader was elected before the old one stepped down does not.
func TestNoLeaderSeenBetweenFrames(t *testing.T) {
	l := &Lesson{Cluster: sim.Config{Nodes: 3}}
	check := Line{Text: "no leader within 1s"}

	gap := &framesDriver{views: []sim.ClusterView{
		leaderView(0, 3, 5),
		leaderView(250, 3, 7,
			sim.EventView{TimeMs: 100, Node: 3, Kind: "stepped-down"},
			sim.EventView{TimeMs: 220, Node: 3, Kind: "became-leader"}),
	}}
	r := NewRunner(l, gap)
	r.PollMs = 250
	if err := r.Expect(check); err != nil {
		t.Fatalf("a gap between frames was missed: %v", err)
	}

	overlap := &framesDriver{views: []sim.ClusterView{
		leaderView(50, 3, 5),
		leaderView(250, 2, 6,
			sim.EventView{TimeMs: 20, Node: 3, Kind: "stepped-down"}, // before the first frame: not in the window
			sim.EventView{TimeMs: 90, Node: 2, Kind: "became-leader"},
			sim.EventView{TimeMs: 100, Node: 3, Kind: "stepped-down"}),
	}}
	r = NewRunner(l, overlap)
	r.PollMs = 250
	if err := r.Expect(check); err == nil {
		t.Fatal("a handover without a leaderless moment passed as one")
	}
}

// doneDriver records the actions done and the waits between frames.
type doneDriver struct {
	framesDriver
	done  []sim.Action
	waits int
}

func (d *doneDriver) Do(a sim.Action) error { d.done = append(d.done, a); return nil }
func (d *doneDriver) Wait(ms int64) error   { d.waits++; return d.framesDriver.Wait(ms) }

// TestRoleActionWaitsForTheRole: right after an election a broker that lost
// its candidacy is still a candidate; "crash follower" waits for a follower
// (as real brokers' frames show it a moment later) instead of failing, and
// fails, saying why, only when none appears within roleWaitMs.
func TestRoleActionWaitsForTheRole(t *testing.T) {
	l := &Lesson{Cluster: sim.Config{Nodes: 3}}
	settling := leaderView(0, 1, 4)
	settling.Nodes[1].Role, settling.Nodes[2].Role = "candidate", "candidate"
	settled := leaderView(250, 1, 4)
	settled.Nodes[2].Role = "candidate"

	d := &doneDriver{framesDriver: framesDriver{views: []sim.ClusterView{settling, settled}}}
	r := NewRunner(l, d)
	if err := r.DoLine(Line{Text: "crash follower as F"}); err != nil {
		t.Fatalf("crash follower: %v", err)
	}
	if len(d.done) != 1 || d.done[0].Node != 2 || d.waits != 1 {
		t.Fatalf("want broker 2 crashed after one wait, got %+v after %d waits", d.done, d.waits)
	}
	if r.Names["F"] != 2 {
		t.Fatalf("F = %d, want 2", r.Names["F"])
	}

	never := &doneDriver{framesDriver: framesDriver{views: []sim.ClusterView{settling}}}
	err := NewRunner(l, never).DoLine(Line{Text: "crash follower"})
	if err == nil || err.Error() != "no running follower" {
		t.Fatalf("want the error %q, got %v", "no running follower", err)
	}
	if len(never.done) != 0 || int64(never.waits)*100 != roleWaitMs {
		t.Fatalf("want nothing done after %d ms of waits, got %+v after %d waits", roleWaitMs, never.done, never.waits)
	}
}
