package sim

import (
	"testing"
)

// BenchmarkSimSpeed5Brokers measures simulated seconds per wall second for
// five brokers under steady produce traffic, checkers on, checkpoints off:
// two closed-loop producers asking for 50 (or 500) messages/s each — they
// wait for each answer, so about 34 a second commit — and a consumer.
func BenchmarkSimSpeed5Brokers(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate float64
	}{{"100msg/s", 50}, {"1000msg/s", 500}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			benchTraffic(b, tc.rate)
		})
	}
}

// benchTraffic runs b.N simulated minutes of five brokers with two
// producers asking for rate messages/s each (none if 0) and a consumer, and
// reports committed messages per simulated second and simulated seconds per
// wall second.
func benchTraffic(b *testing.B, rate float64) {
	const simMs = 60_000
	committed := 0
	for range b.N {
		s, err := New(Config{Nodes: 5, Seed: 1, CheckpointMs: -1})
		if err != nil {
			b.Fatal(err)
		}
		if rate > 0 {
			for _, id := range []string{"p1", "p2"} {
				if err := s.Do(Action{Kind: KindProducer, ID: id, Topic: "orders", Rate: rate}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Do(Action{Kind: KindConsumer, Topic: "orders"}); err != nil {
				b.Fatal(err)
			}
		}
		s.Advance(simMs)
		if len(s.Violations()) > 0 {
			b.Fatal(s.Violations())
		}
		for _, p := range s.st.clients.producers {
			committed += p.acked
		}
	}
	b.ReportMetric(float64(committed)/float64(b.N)/(simMs/1000), "committed-msg/sim-s")
	b.ReportMetric(float64(b.N)*simMs/1000/b.Elapsed().Seconds(), "sim-s/s")
}

// BenchmarkChaosRun measures one 60-second chaos run on five brokers (the
// unit of `dledgerlab chaos`).
func BenchmarkChaosRun(b *testing.B) {
	for i := range b.N {
		RunChaos(ChaosOptions{Seed: uint64(i + 1), Nodes: 5})
	}
}

// BenchmarkSimSpeedByTraffic shows how the speed of BenchmarkSimSpeed5Brokers
// depends on the traffic, from heartbeats only to its own.
func BenchmarkSimSpeedByTraffic(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate float64
	}{{"idle", 0}, {"2x5msg/s", 5}, {"2x15msg/s", 15}, {"2x50msg/s", 50}} {
		b.Run(tc.name, func(b *testing.B) { benchTraffic(b, tc.rate) })
	}
}
