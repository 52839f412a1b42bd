package lessons

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/sim"
	"dledgerlab/lessons/guide"
)

// playStep plays the session's current step to its end with Run, one
// 16 ms animation frame at a time, and fails on a check that did not hold.
func playStep(t *testing.T, s *sim.Sim, g *guide.Session) {
	t.Helper()
	g.Play()
	for i := 0; !g.Done(); i++ {
		require.Less(t, i, 4000, "step %d never finished: %+v (%s)", g.Step+1, g.Checks, g.Err)
		for _, c := range g.Checks {
			require.False(t, c.Failed, "step %d: %q failed: %s", g.Step+1, c.Text, c.Why.En)
			require.NotContains(t, c.Why.En+c.Why.Zh, "%!", "a reason the panel shows is malformed")
			require.Equal(t, c.Why.En == "", c.Why.Zh == "", "a reason in one language only: %+v", c.Why)
		}
		g.Run(s, 16)
	}
}

// The guided mode plays every lesson frame by frame, as the page does: each
// step's checks all tick before their bounds, and the goal's solution
// reaches the goal.
func TestGuidedSessionsReachEveryCheck(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			s, err := sim.New(l.Cluster)
			require.NoError(t, err)
			g := guide.NewSession(l)
			for step := 0; step <= len(l.Steps); step++ {
				g.Goto(step)
				if step == len(l.Steps) {
					g.ShowSolution()
				}
				playStep(t, s, g)
			}
			assert.True(t, g.Done())
			assert.Empty(t, g.Err)
		})
	}
}

// Every step starts paused: until Play, nothing of it is done and none of
// its checks is judged, however often the page asks.
func TestSessionStepsWaitForPlay(t *testing.T) {
	l, err := Find("brain-split")
	require.NoError(t, err)
	s, err := sim.New(l.Cluster)
	require.NoError(t, err)
	g := guide.NewSession(l)
	for i := 0; i < 10; i++ {
		v := s.View()
		assert.Empty(t, g.Advance(s.Now(), &v), "an action before Play")
	}
	assert.False(t, g.State().Played)
	for _, c := range g.Checks {
		assert.False(t, c.OK || c.Failed, "%q judged before Play", c.Text)
	}
	assert.Zero(t, s.Now())
	playStep(t, s, g)
	assert.True(t, g.State().Played)

	// The next step waits again.
	g.Goto(1)
	at := s.Now()
	v := s.View()
	assert.Empty(t, g.Advance(s.Now(), &v))
	assert.False(t, g.State().Played)
	assert.Equal(t, at, s.Now())
}

// Run looks at the cluster every GridMs, so a moment shorter than the
// time one call covers is seen: at 5× speed one frame is 80 ms of cluster
// time, and the 43 ms in which the isolated old leader and the new one both
// lead (seed 1, before CheckQuorum steps the old one down) can fall
// between two frames.
func TestSessionRunSeesShortMoments(t *testing.T) {
	l, err := Parse("moment.yaml", []byte(`id: moment
title: {en: T, zh: 题}
intro: {en: I, zh: 介}
cluster: {nodes: 3, seed: 1}
steps:
  - say: {en: S, zh: 说}
    expect: [leader]
  - say: {en: S, zh: 说}
    do: [isolate leader]
    expect: [leader count is 2]
goal:
  say: {en: G, zh: 目}
  expect: [leader]
  solution: [wait 1s]
quiz:
  - {q: {en: Q, zh: 问}, choices: [{en: a, zh: 甲}, {en: b, zh: 乙}], answer: 0, why: {en: W, zh: 因}}
  - {q: {en: Q, zh: 问}, choices: [{en: a, zh: 甲}, {en: b, zh: 乙}], answer: 1, why: {en: W, zh: 因}}
`))
	require.NoError(t, err)
	s, err := sim.New(l.Cluster)
	require.NoError(t, err)
	g := guide.NewSession(l)
	playStep(t, s, g)
	g.Goto(1)
	g.Play()
	for i := 0; i < 5000 && !g.Done(); i++ {
		g.Run(s, 80)
	}
	require.True(t, g.Done(), "the moment with two leaders was missed: %+v", g.Checks)
	s.Advance(500)
	v := s.View()
	assert.Equal(t, 1, leaders(&v), "CheckQuorum ends the moment soon after")
}

func leaders(v *sim.ClusterView) int {
	n := 0
	for _, x := range v.Nodes {
		if x.Role == "leader" && x.State == "up" {
			n++
		}
	}
	return n
}

// At the moment a step is about — here the first election — Run plays in
// slow motion (at most SlowMsPerRun per call), then returns to the
// learner's speed once the leader is elected.
func TestSessionSlowsDownAtTheMoment(t *testing.T) {
	l, err := Find("election")
	require.NoError(t, err)
	s, err := sim.New(l.Cluster)
	require.NoError(t, err)
	g := guide.NewSession(l)
	playStep(t, s, g)
	g.Goto(1) // "Watch the rings": leader within 3s
	g.Play()
	slowCalls, sawCandidate := 0, false
	for i := 0; i < 20000 && !g.Done(); i++ {
		before := s.Now()
		slow := g.Slow
		v, _ := g.Run(s, 16)
		if slow {
			slowCalls++
			assert.LessOrEqual(t, s.Now()-before, int64(guide.GridMs), "slow motion plays a little per call")
			for _, n := range v.Nodes {
				sawCandidate = sawCandidate || strings.Contains(n.Role, "candidate")
			}
		}
	}
	require.True(t, g.Done())
	assert.Greater(t, slowCalls, 20, "the election played in slow motion")
	assert.True(t, g.State().Slow == false, "slow motion ends with the moment")
	assert.True(t, sawCandidate || slowCalls > 0)
	at := s.Now()
	g.Run(s, 16)
	assert.Equal(t, at+16, s.Now(), "back to the learner's speed")
}

// A goal's checks use only names bound when the goal begins: played by
// hand from where the steps left the cluster, no check says a name was
// never bound, and the goal is not reached before the learner acts.
func TestGoalsBindTheirNamesWhenTheyBegin(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			s, err := sim.New(l.Cluster)
			require.NoError(t, err)
			g := guide.NewSession(l)
			for step := 0; step < len(l.Steps); step++ {
				g.Goto(step)
				playStep(t, s, g)
			}
			g.Goto(len(l.Steps))
			for i := 0; i < 10; i++ {
				g.Run(s, 0)
			}
			assert.Empty(t, g.Err)
			assert.False(t, g.Done(), "the goal holds before the learner does anything")
			for _, c := range g.Checks {
				assert.NotContains(t, c.Why.En, "never bound", c.Text)
				assert.NotContains(t, c.Label.En, "within", "the goal waits for the learner: no bound shown")
			}
			assert.GreaterOrEqual(t, len(g.State().Names), len(l.Goal.Start), "the panel names what the goal's start bound: %+v", g.State().Names)
		})
	}
}
