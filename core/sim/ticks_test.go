package sim

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/require"

	"dledgerlab/core/internal/xrand"
)

// The simulator ticks a broker only when its timers are due and catches the
// others up before anything reaches them (state.catchUp). That must be
// invisible: runs with every kind of fault — crashes, power loss, pauses,
// partitions, disk faults, traps, leadership transfers — give the same
// frames, violations and client history as handing every broker every tick,
// which is what the simulator did before.
func TestLazyTicksMatchEagerTicks(t *testing.T) {
	for seed := uint64(1); seed <= 12; seed++ {
		r := xrand.New(seed * 7919)
		cfg := Config{Nodes: 3 + 2*int(seed%2), Seed: seed, CheckpointMs: -1, RecordHistory: true,
			LatencyMs: 1 + r.Intn(30), JitterMs: r.Intn(30), Loss: float64(r.Intn(10)) / 100,
			FsyncMs: 1 + r.Intn(20), SegmentSize: 4096}
		// A run with random faults gives the actions...
		g, err := New(cfg)
		require.NoError(t, err)
		_ = g.Do(Action{Kind: KindProducer, ID: "p1", Topic: "orders", Rate: float64(5 + r.Intn(40))})
		_ = g.Do(Action{Kind: KindConsumer, ID: "c1", Topic: "orders"})
		flipped := false
		for g.Now() < 30_000 {
			g.Advance(int64(10 + r.Intn(700)))
			if a, ok := g.randomFault(&r, DefaultFaults(), &flipped); ok {
				_ = g.Do(a)
			}
		}
		_ = g.Do(Action{Kind: KindHeal})
		end := g.Now() + 5_000

		// ...which two runs replay, one ticking lazily and one eagerly.
		run := func(eager bool) *Sim {
			s, err := New(cfg)
			require.NoError(t, err)
			s.st.eagerTicks = eager
			s.actions = g.Actions()
			return s
		}
		lazy, eager := run(false), run(true)
		frames := 0
		for lazy.Now() < end {
			ms := int64(1 + r.Intn(400))
			lazy.Advance(ms)
			eager.Advance(ms)
			l, err := json.Marshal(lazy.View())
			require.NoError(t, err)
			e, err := json.Marshal(eager.View())
			require.NoError(t, err)
			require.JSONEq(t, string(e), string(l), "seed %d at %d ms", seed, lazy.Now())
			frames++
		}
		require.Equal(t, eager.Violations(), lazy.Violations(), "seed %d", seed)
		require.Equal(t, eager.History(), lazy.History(), "seed %d", seed)
		require.Greater(t, frames, 100)
	}
}
