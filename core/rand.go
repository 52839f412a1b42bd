package core

// rng is a tiny seeded generator (SplitMix64). The replica owns its own so
// that the same Config.Seed gives the same election timeouts everywhere, and
// so that a simulator checkpoint can copy it by value.
type rng struct{ state uint64 }

func newRNG(seed uint64, id NodeID) rng {
	return rng{state: seed ^ (uint64(id) * 0x9E3779B97F4A7C15)}
}

func (r *rng) next() uint64 {
	r.state += 0x9E3779B97F4A7C15
	z := r.state
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// intn returns a number in [0, n).
func (r *rng) intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.next() % uint64(n))
}
