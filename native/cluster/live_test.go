package cluster

import (
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/sim"
)

// TestGroupsOfCuts: the partition the page draws is derived from the links
// the brokers report cut.
func TestGroupsOfCuts(t *testing.T) {
	nodes := []sim.NodeView{{ID: 1}, {ID: 2}, {ID: 3}, {ID: 4}, {ID: 5}}
	both := func(a, b int) []sim.Link { return []sim.Link{{From: a, To: b}, {From: b, To: a}} }
	cut := func(links ...[]sim.Link) map[sim.Link]bool {
		m := map[sim.Link]bool{}
		for _, ls := range links {
			for _, l := range ls {
				m[l] = true
			}
		}
		return m
	}
	for _, tc := range []struct {
		name string
		cuts map[sim.Link]bool
		want [][]int
	}{
		{"no cuts, no groups", nil, nil},
		{"broker 1 isolated", cut(both(1, 2), both(1, 3), both(1, 4), both(1, 5)), [][]int{{1}, {2, 3, 4, 5}}},
		{"brain split 1-2 | 3-4-5", cut(both(1, 3), both(1, 4), both(1, 5), both(2, 3), both(2, 4), both(2, 5)), [][]int{{1, 2}, {3, 4, 5}}},
		{"one cut link keeps everyone connected", cut(both(1, 2)), nil},
		{"a one-way cut counts as cut", cut([]sim.Link{{From: 3, To: 1}, {From: 3, To: 2}, {From: 3, To: 4}, {From: 3, To: 5}}), [][]int{{1, 2, 4, 5}, {3}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			assert.Equal(t, tc.want, groupsOf(nodes, tc.cuts))
		})
	}
}

// TestMessagesOverACutLinkAreDropped: a broker that cut its side alone
// drops what its peers send it as it arrives, and the peers report those
// messages sent; the view draws them as crosses from the moment it saw the
// cut, and no longer once the link is healed.
func TestMessagesOverACutLinkAreDropped(t *testing.T) {
	l := &Live{}
	msg := func(from, to int, sent int64) sim.MessageView {
		return sim.MessageView{From: from, To: to, SentMs: sent, DeliverMs: sent + 600}
	}
	dropped := func(msgs []sim.MessageView) []bool {
		out := make([]bool, len(msgs))
		for i, m := range msgs {
			out[i] = m.Dropped
		}
		return out
	}
	cut := map[sim.Link]bool{{From: 1, To: 2}: true, {From: 2, To: 1}: true}

	// Broker 2 cut its side at about 1000: broker 1's messages to it.
	msgs := []sim.MessageView{msg(1, 2, 900), msg(1, 2, 1000), msg(1, 3, 1000), msg(3, 2, 1000)}
	l.markCutMessages(msgs, cut, 1000)
	assert.Equal(t, []bool{false, true, false, false}, dropped(msgs), "sent before the cut was seen, or on a whole link: drawn arriving")
	msgs = []sim.MessageView{msg(1, 2, 1000), msg(2, 1, 1200)}
	l.markCutMessages(msgs, cut, 1250)
	assert.Equal(t, []bool{true, true}, dropped(msgs), "the cut as first seen, both ways")

	// Healed: nothing marked; cut again later: counted from then.
	msgs = []sim.MessageView{msg(1, 2, 1500)}
	l.markCutMessages(msgs, nil, 1500)
	assert.Equal(t, []bool{false}, dropped(msgs))
	msgs = []sim.MessageView{msg(1, 2, 1700), msg(1, 2, 2000)}
	l.markCutMessages(msgs, cut, 2000)
	assert.Equal(t, []bool{false, true}, dropped(msgs))
}

// TestDiskSegments: a broker that is down still shows its CommitLog files.
func TestDiskSegments(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000000000"), make([]byte, 4096), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "00000000000000004096"), make([]byte, 100), 0o644))
	require.NoError(t, os.WriteFile(filepath.Join(dir, "index"), nil, 0o644))
	got := diskSegments(dir, []sim.SegmentView{{Name: "00000000000000000000", Size: 4000, Cap: 4096}})
	assert.Equal(t, []sim.SegmentView{
		{Name: "00000000000000000000", Start: 0, Size: 4096, Cap: 4096},
		{Name: "00000000000000004096", Start: 4096, Size: 100, Cap: 4096},
	}, got, "sizes on disk now, capacity from the last frame")
}

// TestTruncatedEntriesNamed: a broker reports a truncated entry by index
// and term only; the view names it from what the broker showed before, so
// a lesson can say "lost-write was truncated on broker 3".
func TestTruncatedEntriesNamed(t *testing.T) {
	w := &watch{}
	before := sim.ClusterView{Nodes: []sim.NodeView{{LastIndex: 3, Log: []sim.EntryView{
		{Index: 2, Term: 1, Summary: "orders: kept"}, {Index: 3, Term: 1, Summary: "orders: lost-write"}}}}}
	w.nameTruncated(&before)
	after := sim.ClusterView{Nodes: []sim.NodeView{{LastIndex: 3,
		Log:       []sim.EntryView{{Index: 3, Term: 2, Summary: "no-op"}},
		Truncated: []sim.EntryView{{Index: 3, Term: 1, Summary: "truncated"}, {Index: 9, Term: 1, Summary: "truncated"}}}}}
	w.nameTruncated(&after)
	assert.Equal(t, "orders: lost-write", after.Nodes[0].Truncated[0].Summary)
	assert.Equal(t, "truncated", after.Nodes[0].Truncated[1].Summary, "an entry never seen keeps the broker's label")
}
