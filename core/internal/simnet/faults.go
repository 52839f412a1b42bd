package simnet

import "dledgerlab/core/internal/xrand"

// The fault draws both simulators make the same way. Each helper's draws
// are part of what a seed means: changing their order changes every seeded
// run.

// PickWeighted returns an index into weights, drawn in proportion to the
// weights (one draw).
func PickWeighted(r *xrand.Rand, weights []int) int {
	total := 0
	for _, w := range weights {
		total += w
	}
	pick := r.Intn(total)
	k := 0
	for pick >= weights[k] {
		pick -= weights[k]
		k++
	}
	return k
}

// PickWhere returns one of the ids 1..n for which ok holds, drawn
// uniformly (one draw, none if there is no such id).
func PickWhere(r *xrand.Rand, n int, ok func(id int) bool) (int, bool) {
	var ids []int
	for id := 1; id <= n; id++ {
		if ok(id) {
			ids = append(ids, id)
		}
	}
	if len(ids) == 0 {
		return 0, false
	}
	return ids[r.Intn(len(ids))], true
}

// RandomSplit shuffles the ids 1..n and cuts them in two non-empty groups
// (n >= 2; with n = 1 the second group is empty).
func RandomSplit(r *xrand.Rand, n int) [][]int {
	perm := make([]int, n)
	for i := range perm {
		perm[i] = i + 1
	}
	for i := n - 1; i > 0; i-- {
		j := r.Intn(i + 1)
		perm[i], perm[j] = perm[j], perm[i]
	}
	cut := 1 + r.Intn(max(1, n-1))
	return [][]int{perm[:cut], perm[cut:]}
}

// RandomLinkConf draws a bad link: up to 200 ms of latency, 100 ms of
// jitter, 60 % loss and 30 % reordering.
func RandomLinkConf(r *xrand.Rand) LinkConf {
	return LinkConf{LatencyMs: r.Intn(200), JitterMs: r.Intn(100), Loss: float64(r.Intn(60)) / 100, Reorder: float64(r.Intn(30)) / 100}
}
