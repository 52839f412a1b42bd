package core

import (
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// runScript drives a 5-broker group through elections, proposals, a crash
// and a partition, and returns every Ready it produced, printed.
func runScript(t testing.TB, seed uint64, opts ...func(*Config)) string {
	var out strings.Builder
	nw := newNetwork(t, 5, append([]func(*Config){func(c *Config) { c.Seed = seed }}, opts...)...)
	record := func() {
		for _, id := range nw.ids {
			n := nw.nodes[id]
			if nw.down[id] || !n.HasReady() {
				continue
			}
			rd := n.Ready()
			fmt.Fprintf(&out, "%d %+v\n", id, rd)
			nw.queue = append(nw.queue, rd.Eager...)
			nw.disks[id].persist(rd)
			nw.queue = append(nw.queue, rd.Messages...)
			n.Advance(rd)
		}
	}
	step := func(ticks int) {
		for range ticks {
			for _, id := range nw.ids {
				if !nw.down[id] {
					nw.nodes[id].Tick()
				}
			}
			for range 50 {
				record()
				if len(nw.queue) == 0 {
					break
				}
				q := nw.queue
				nw.queue = nil
				for _, m := range q {
					if !nw.down[m.To] && !nw.cut[[2]NodeID{m.From, m.To}] {
						nw.nodes[m.To].Step(m)
					}
				}
			}
		}
	}
	step(100)
	for i := range 20 {
		if l := nw.leader(); l != None {
			nw.nodes[l].Propose(fmt.Appendf(nil, "msg-%d", i))
		}
		step(3)
	}
	nw.crash(nw.leader())
	step(100)
	nw.partition(nw.ids[:2], nw.ids[2:])
	step(100)
	nw.recover()
	step(100)
	return out.String()
}

// The same seed and inputs give an identical sequence of Ready outputs; a
// different seed gives a different one.
func TestSameSeedSameReadySequence(t *testing.T) {
	a, b := runScript(t, 11), runScript(t, 11)
	assert.Equal(t, a, b)
	assert.Greater(t, len(a), 10000, "the script did real work")
	assert.NotEqual(t, a, runScript(t, 12))
}

// Where the log's entries are kept changes nothing a replica does: with a
// cache of one byte, every persisted entry is read back from Storage (for
// pushes, conflict hints, applying), and the Ready sequence is the same.
func TestLogReadFromStorageBehavesTheSame(t *testing.T) {
	for _, seed := range []uint64{11, 12, 13} {
		a := runScript(t, seed)
		b := runScript(t, seed, func(c *Config) { c.LogCacheBytes = 1 })
		require.Equal(t, a, b, "seed %d", seed)
	}
}

// Clone is independent: stepping the copy leaves the original unchanged.
func TestCloneIsIndependent(t *testing.T) {
	nw := newNetwork(t, 3)
	lead := nw.electLeader()
	n := nw.nodes[lead]
	before := fmt.Sprintf("%+v", n.Status())
	c := n.Clone(nil)
	c.Propose([]byte("only in the clone"))
	c.Tick()
	c.Step(Message{Type: MsgHeartbeatResp, From: other(lead, nw.ids), To: lead, Term: n.term + 1})
	assert.Equal(t, before, fmt.Sprintf("%+v", n.Status()))
	assert.NotEqual(t, before, fmt.Sprintf("%+v", c.Status()))

	// Both growing past the entries they share: each keeps its own.
	n = nw.nodes[lead]
	n.log.grow(8) // room to append in place
	c = n.Clone(nil)
	for i := range 3 {
		ni, _, err := n.Propose([]byte(fmt.Sprint("original ", i)))
		require.NoError(t, err)
		ci, _, err := c.Propose([]byte(fmt.Sprint("clone ", i)))
		require.NoError(t, err)
		require.Equal(t, ni, ci)
	}
	last := n.Status().LastIndex
	for i := range uint64(3) {
		assert.Equal(t, fmt.Sprint("original ", i), string(n.Entries(last-2+i, last-1+i)[0].Data))
		assert.Equal(t, fmt.Sprint("clone ", i), string(c.Entries(last-2+i, last-1+i)[0].Data))
	}
}

// BenchmarkStep5Brokers measures Step throughput of a 5-broker group under
// steady proposals (one per op, with every message delivered).
func BenchmarkStep5Brokers(b *testing.B) {
	nw := newNetwork(b, 5)
	lead := nw.electLeader()
	data := make([]byte, 256)
	steps := 0
	b.ReportAllocs()
	b.ResetTimer()
	for i := range b.N {
		if _, _, err := nw.nodes[lead].Propose(data); err != nil {
			b.Fatal(err)
		}
		if i%8 == 0 {
			for _, id := range nw.ids {
				nw.nodes[id].Tick()
			}
		}
		before := 0
		for _, c := range nw.sent {
			before += c
		}
		nw.deliver()
		after := 0
		for _, c := range nw.sent {
			after += c
		}
		steps += after - before
	}
	b.ReportMetric(float64(steps)/b.Elapsed().Seconds(), "steps/s")
	b.ReportMetric(float64(steps)/float64(b.N), "steps/op")
}
