// Package xrand is the project's only random source: a small seeded
// generator (SplitMix64) that is copied by value, so a replica or a simulator
// checkpoint carries its exact position in the sequence. It is deterministic
// on every platform, WebAssembly included.
package xrand

// Rand is a SplitMix64 generator. The zero value is a valid generator.
type Rand struct{ State uint64 }

// New returns a generator seeded with seed.
func New(seed uint64) Rand { return Rand{State: seed} }

// Uint64 returns the next number.
func (r *Rand) Uint64() uint64 {
	r.State += 0x9E3779B97F4A7C15
	z := r.State
	z = (z ^ (z >> 30)) * 0xBF58476D1CE4E5B9
	z = (z ^ (z >> 27)) * 0x94D049BB133111EB
	return z ^ (z >> 31)
}

// Intn returns a number in [0, n); 0 if n <= 0.
func (r *Rand) Intn(n int) int {
	if n <= 0 {
		return 0
	}
	return int(r.Uint64() % uint64(n))
}

// Float64 returns a number in [0, 1).
func (r *Rand) Float64() float64 {
	return float64(r.Uint64()>>11) / (1 << 53)
}

// Chance reports true with probability p.
func (r *Rand) Chance(p float64) bool {
	return p > 0 && r.Float64() < p
}
