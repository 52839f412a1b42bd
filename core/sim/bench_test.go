package sim

import (
	"testing"
)

// BenchmarkSimSpeedPlayground measures simulated seconds per wall second for
// five brokers with the playground's steady traffic: its Steady producer at
// the rate the page starts with (5 messages/s) and a consumer on broker 1, as
// the Start and Consumer buttons add them, checkers on. "native" has
// checkpoints off, as `dledgerlab chaos` runs; "checkpoints" takes one every
// simulated second, as the playground does for rewinding.
func BenchmarkSimSpeedPlayground(b *testing.B) {
	for _, tc := range []struct {
		name       string
		checkpoint int64
	}{{"native", -1}, {"checkpoints", 0}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			benchTraffic(b, traffic{producers: []string{"steady"}, rate: 5, consumerNode: 1, checkpointMs: tc.checkpoint})
		})
	}
}

// BenchmarkSimSpeed5Brokers measures simulated seconds per wall second for
// five brokers under heavy produce traffic, checkers on, checkpoints off:
// two closed-loop producers asking for 50 (or 500) messages/s each — they
// wait for each answer, so about 34 (or 45) a second commit — and a
// consumer.
func BenchmarkSimSpeed5Brokers(b *testing.B) {
	for _, tc := range []struct {
		name string
		rate float64
	}{{"100msg/s", 50}, {"1000msg/s", 500}} {
		b.Run(tc.name, func(b *testing.B) {
			b.ReportAllocs()
			benchTraffic(b, twoProducers(tc.rate))
		})
	}
}

// traffic is a benchmark's workload on five brokers.
type traffic struct {
	// producers each ask for rate messages/s to topic "orders".
	producers []string
	rate      float64
	// consumerNode is the broker the consumer reads from (0: the leader).
	consumerNode int
	checkpointMs int64
}

func twoProducers(rate float64) traffic {
	if rate == 0 {
		return traffic{checkpointMs: -1}
	}
	return traffic{producers: []string{"p1", "p2"}, rate: rate, checkpointMs: -1}
}

// benchTraffic runs b.N simulated minutes of five brokers with the producers
// of t and, if there are any, a consumer, and reports committed messages per
// simulated second and simulated seconds per wall second.
func benchTraffic(b *testing.B, t traffic) {
	const simMs = 60_000
	committed := 0
	for range b.N {
		s, err := New(Config{Nodes: 5, Seed: 1, CheckpointMs: t.checkpointMs})
		if err != nil {
			b.Fatal(err)
		}
		if len(t.producers) > 0 {
			for _, id := range t.producers {
				if err := s.Do(Action{Kind: KindProducer, ID: id, Topic: "orders", Rate: t.rate}); err != nil {
					b.Fatal(err)
				}
			}
			if err := s.Do(Action{Kind: KindConsumer, Topic: "orders", Node: t.consumerNode}); err != nil {
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
		b.Run(tc.name, func(b *testing.B) { benchTraffic(b, twoProducers(tc.rate)) })
	}
}
