package simnet

import (
	"testing"

	"github.com/stretchr/testify/assert"

	"dledgerlab/core/internal/xrand"
)

func TestLinksAreFIFOUnlessAMessageMayOvertake(t *testing.T) {
	nw := New(LinkConf{LatencyMs: 10, JitterMs: 50})
	r := xrand.New(1)
	l := Link{From: 1, To: 2}
	var last int64
	var out [2]Delivery
	for now := range int64(100) {
		n := nw.Plan(&r, now, l, &out)
		assert.Equal(t, 1, n)
		assert.GreaterOrEqual(t, out[0].At, last, "a message never overtakes an earlier one on a FIFO link")
		last = out[0].At
	}
	nw.Links[l] = LinkConf{LatencyMs: 10, JitterMs: 50, Reorder: 1}
	overtook := false
	for now := int64(100); now < 200; now++ {
		nw.Plan(&r, now, l, &out)
		overtook = overtook || out[0].At < last
		last = max(last, out[0].At)
	}
	assert.True(t, overtook)
}

func TestPartitionIsolateHeal(t *testing.T) {
	nw := New(LinkConf{})
	nw.Partition([][]int{{1, 2}, {3}}, true)
	assert.True(t, nw.IsCut(Link{From: 1, To: 3}))
	assert.False(t, nw.IsCut(Link{From: 3, To: 1}), "one way")
	assert.False(t, nw.IsCut(Link{From: 1, To: 2}))
	nw.Isolate(2, 3)
	assert.Equal(t, []Link{{1, 2}, {1, 3}, {2, 1}, {2, 3}, {3, 2}}, nw.Cuts())
	c := nw.Clone()
	nw.Heal()
	assert.Empty(t, nw.Cuts())
	assert.Len(t, c.Cuts(), 5, "a clone keeps its own cuts")
}

func TestDuplicatesAndLoss(t *testing.T) {
	nw := New(LinkConf{LatencyMs: 5, Dup: 1, Loss: 1})
	r := xrand.New(2)
	var out [2]Delivery
	assert.Equal(t, 2, nw.Plan(&r, 0, Link{From: 1, To: 2}, &out))
	assert.True(t, out[0].Lost && out[1].Lost)
	assert.Equal(t, int64(5), out[0].At)
}

func TestFaultDraws(t *testing.T) {
	r := xrand.New(3)
	counts := make([]int, 3)
	for range 3000 {
		counts[PickWeighted(&r, []int{1, 0, 2})]++
	}
	assert.Zero(t, counts[1], "a zero weight is never drawn")
	assert.InDelta(t, 2.0, float64(counts[2])/float64(counts[0]), 0.3)

	id, ok := PickWhere(&r, 5, func(id int) bool { return id == 4 })
	assert.True(t, ok)
	assert.Equal(t, 4, id)
	_, ok = PickWhere(&r, 5, func(int) bool { return false })
	assert.False(t, ok)

	for range 50 {
		g := RandomSplit(&r, 6)
		assert.NotEmpty(t, g[0])
		assert.NotEmpty(t, g[1])
		assert.Len(t, append(g[0], g[1]...), 6)
	}
	c := RandomLinkConf(&r)
	assert.Less(t, c.LatencyMs, 200)
	assert.Less(t, c.Loss, 0.6)
}
