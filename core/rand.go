package core

import "dledgerlab/core/internal/xrand"

// rng is the replica's own seeded source: the election timeouts. Each broker
// mixes its id into the seed so that brokers draw different timeouts.
type rng struct{ xrand.Rand }

func newRNG(seed uint64, id NodeID) rng {
	return rng{xrand.New(seed ^ (uint64(id) * 0x9E3779B97F4A7C15))}
}

func (r *rng) intn(n int) int { return r.Intn(n) }
