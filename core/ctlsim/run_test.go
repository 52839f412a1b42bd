package ctlsim

import (
	"encoding/json"
	"slices"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/controller"
	"dledgerlab/core/sim"
)

func frameJSON(t *testing.T, r *Run) string {
	t.Helper()
	v := r.View()
	v.Timeline.EndMs = 0 // how far the run has gone is not the moment
	b, err := json.Marshal(v)
	require.NoError(t, err)
	return string(b)
}

// runUntil advances r in 50 ms steps until cond holds, at most ms.
func runUntil(t *testing.T, r *Run, ms int64, what string, cond func(View) bool) View {
	t.Helper()
	for end := r.Sim().Now() + ms; r.Sim().Now() < end; {
		r.Advance(50)
		if v := r.View(); cond(v) {
			return v
		}
	}
	t.Fatalf("after %d ms: no %s", ms, what)
	return View{}
}

func masterOf(v View) int {
	for _, b := range v.Brokers {
		if b.State == StateUp && b.Role == "master" {
			return b.ID
		}
	}
	return 0
}

// A crashed master: the view shows the controllers electing a new one from
// the SyncStateSet, the epochs rising and the events that tell it.
func TestRunViewShowsFailover(t *testing.T) {
	r, err := NewRun(Settings{Seed: 3})
	require.NoError(t, err)
	require.NoError(t, r.Do(sim.Action{Kind: KindProducer, Rate: 10}))
	v := runUntil(t, r, 20_000, "a master with all three in the set", func(v View) bool {
		return masterOf(v) != 0 && len(v.Group.SyncStateSet) == 3 && v.Clients.Acked > 5
	})
	old, epoch := masterOf(v), v.Group.MasterEpoch
	assert.Equal(t, "controller", v.Mode)
	assert.Len(t, v.Controllers, 3)
	assert.Len(t, v.Brokers, 3)
	lead := 0
	for _, c := range v.Controllers {
		if c.Role == "leader" {
			lead = c.ID
		}
	}
	assert.NotZero(t, lead, "a controller leads")
	mb := v.Brokers[old-1]
	assert.NotEmpty(t, mb.Log)
	assert.Positive(t, mb.Confirm)
	assert.Equal(t, epoch, mb.Log[len(mb.Log)-1].Epoch, "entries carry the epoch that wrote them")
	assert.True(t, slices.ContainsFunc(mb.Log, func(e EntryView) bool { return e.Acked }), "acknowledged entries are marked")

	require.NoError(t, r.Do(sim.Action{Kind: sim.KindCrash, Node: BrokerNode(old)}))
	v = runUntil(t, r, 10_000, "a new master", func(v View) bool {
		m := masterOf(v)
		return m != 0 && m != old && v.Group.MasterEpoch > epoch
	})
	kinds := map[string]bool{}
	for _, e := range v.Events {
		kinds[e.Kind] = true
	}
	for _, k := range []string{EventAction, EventLeader, EventElected, EventMaster, EventSlave} {
		assert.True(t, kinds[k], "an event of kind %q", k)
	}
	assert.Equal(t, "crashed", v.Brokers[old-1].State)
	assert.NotEmpty(t, v.Brokers[old-1].Log, "a crashed broker's CommitLog is on its disk")
	assert.Empty(t, v.Violations)
}

// Going back replays: the frame at a moment is the same however it was
// reached, and the actions after it happen again as time passes.
func TestRunSeekReplaysTheSameRun(t *testing.T) {
	r, err := NewRun(Settings{Seed: 5})
	require.NoError(t, err)
	require.NoError(t, r.Do(sim.Action{Kind: KindProducer, Rate: 20}))
	require.NoError(t, r.Do(sim.Action{Kind: KindConsumer}))
	r.Advance(6_000)
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindIsolate, Node: BrokerNode(1)}))
	r.Advance(4_000)
	at10 := frameJSON(t, r)
	r.Advance(3_000)

	require.NoError(t, r.SeekTo(2_000))
	assert.Equal(t, int64(2_000), r.Sim().Now())
	assert.Equal(t, int64(13_000), r.View().Timeline.EndMs, "the timeline still reaches as far")
	require.NoError(t, r.SeekTo(10_000))
	assert.Equal(t, at10, frameJSON(t, r), "the isolate recorded at 6 s happened again")

	// A new action in the past replaces what came after it.
	require.NoError(t, r.SeekTo(3_000))
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindPause, Node: 1}))
	r.Advance(7_000)
	assert.Len(t, r.Share().Actions, 3, "the isolate was replaced by the pause")
	assert.NotEqual(t, at10, frameJSON(t, r))
}

// ForkAt goes back and forgets what came after: the same frame as a run
// that never had those actions.
func TestRunForkAtForgetsLaterActions(t *testing.T) {
	r, err := NewRun(Settings{Seed: 7})
	require.NoError(t, err)
	require.NoError(t, r.Do(sim.Action{Kind: KindProducer, Rate: 10}))
	r.Advance(5_000)
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindCrash, Node: BrokerNode(1)}))
	r.Advance(3_000)
	require.Error(t, r.ForkAt(4_000, 2), "the crash at 5 s cannot be kept at 4 s")
	require.NoError(t, r.ForkAt(4_000, 1))
	assert.Len(t, r.Share().Actions, 1, "the crash at 5 s is forgotten")
	r.Advance(4_000)

	clean, err := NewRun(Settings{Seed: 7})
	require.NoError(t, err)
	require.NoError(t, clean.Do(sim.Action{Kind: KindProducer, Rate: 10}))
	clean.Advance(8_000)
	assert.Equal(t, frameJSON(t, clean), frameJSON(t, r))
}

// A share link's JSON opens to the same run; a bad one is refused saying
// what is wrong.
func TestRunShareRoundTrip(t *testing.T) {
	on := false
	r, err := NewRun(Settings{Seed: 9, MinInSyncReplicas: 2, AllAckInSyncStateSet: &on})
	require.NoError(t, err)
	require.NoError(t, r.Do(sim.Action{Kind: KindProducer, Rate: 5}))
	r.Advance(3_000)
	require.NoError(t, r.Do(sim.Action{Kind: KindProduce}))
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindCrash, Node: 2}))
	r.Advance(2_500)
	data, err := json.Marshal(r.Share())
	require.NoError(t, err)
	back, err := LoadShare(data)
	require.NoError(t, err)
	assert.Equal(t, frameJSON(t, r), frameJSON(t, back))
	v := back.View()
	assert.Equal(t, 2, v.Settings.MinInSyncReplicas)
	assert.False(t, v.Settings.AllAckInSyncStateSet)

	for _, bad := range []struct{ json, says string }{
		{`{"v":2,"mode":"controller"}`, "version 2"},
		{`{"v":1,"mode":"sim"}`, `mode "sim"`},
		{`{"v":1,"mode":"controller","settings":{"min_in_sync_replicas":7}}`, "min_in_sync_replicas = 7"},
		{`{"v":1,"mode":"controller","actions":[{"at":5,"kind":"crash","node":9}]}`, "action 0 (crash) at 5 ms: crash: node 9 is not 1..6"},
		{`{"v":1,"mode":"controller","actions":[{"at":5,"kind":"heal"},{"at":4,"kind":"heal"}]}`, "action 1 (heal) at 4 ms: times must rise"},
		{`{"v":1,"mode":"controller","actions":[{"at":5,"kind":"producer","rate":-1}]}`, "rate -1"},
		{`{"v":1,"mode":"controller","bogus":1}`, `unknown field "bogus"`},
		{`{"v":1,"mode":"controller","end_ms":-4}`, "end_ms -4"},
	} {
		_, err := LoadShare([]byte(bad.json))
		if assert.Error(t, err, bad.json) {
			assert.ErrorIs(t, err, ErrShare)
			assert.Contains(t, err.Error(), bad.says)
		}
	}
}

// Unclean election on, every set member down: a replica outside the set
// becomes master, and when the old master rejoins it cuts what only it
// held. The view shows the cut entries, marked as acknowledged, and the
// violation.
func TestRunViewShowsTruncationOfAcknowledged(t *testing.T) {
	r, err := NewRun(Settings{Seed: 11, EnableElectUncleanMaster: true})
	require.NoError(t, err)
	require.NoError(t, r.Do(sim.Action{Kind: KindProducer, Rate: 20}))
	v := runUntil(t, r, 20_000, "a master", func(v View) bool { return masterOf(v) != 0 && v.Clients.Acked > 3 })
	m := masterOf(v)
	other := m%Brokers + 1
	// Cut the other broker off the master: it leaves the set.
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindPartition, Groups: [][]int{{BrokerNode(other)}, {BrokerNode(m)}}}))
	runUntil(t, r, 20_000, "the cut-off broker out of the set", func(v View) bool {
		return !slices.Contains(v.Group.SyncStateSet, controller.BrokerID(other))
	})
	third := 6 - m - other
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindCrash, Node: BrokerNode(third)}))
	runUntil(t, r, 20_000, "the set down to the master", func(v View) bool { return len(v.Group.SyncStateSet) == 1 })
	acked := r.View().Clients.Acked
	runUntil(t, r, 5_000, "writes only the master holds", func(v View) bool { return v.Clients.Acked > acked+5 })
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindCrash, Node: BrokerNode(m)}))
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindHeal}))
	runUntil(t, r, 20_000, "the unclean master", func(v View) bool { return masterOf(v) == other })
	require.NoError(t, r.Do(sim.Action{Kind: sim.KindRestart, Node: BrokerNode(m)}))
	v = runUntil(t, r, 20_000, "the old master's CommitLog cut back", func(v View) bool { return v.Brokers[m-1].Truncated != nil })
	tr := v.Brokers[m-1].Truncated
	assert.Greater(t, tr.From, tr.To)
	require.NotEmpty(t, tr.Entries)
	assert.Positive(t, tr.Acked, "some of what was cut had been acknowledged")
	assert.True(t, slices.ContainsFunc(tr.Entries, func(e EntryView) bool { return e.Acked }), "the last cut entries, shown, were acknowledged")
	require.NotEmpty(t, v.Violations)
	assert.Equal(t, sim.RuleAckedNeverLost, v.Violations[0].Rule)
}
