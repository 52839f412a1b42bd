package broker

import (
	"fmt"
	"testing"

	"dledgerlab/core"
)

// BenchmarkApply measures the dispatcher: decode, deduplicate and append to
// a ConsumeQueue, for 1 KiB messages from 16 producers over 8 topics.
// Reports messages/s and, through SetBytes, MB/s of entry bodies.
//
// The broker keeps every stored message in memory, so the benchmark starts a
// fresh broker every brokerSpan entries: it measures dispatching, not the
// garbage collector scanning an ever larger heap.
func BenchmarkApply(b *testing.B) {
	const (
		producers  = 16
		topics     = 8
		bodySize   = 1024
		brokerSpan = 1 << 16
	)
	// Pre-encode one round of bodies; sequences are rewritten per entry so
	// every message is new (no duplicates).
	body := make([]byte, bodySize)
	var templates [producers][]byte
	for p := range producers {
		data, err := EncodeMessage(Message{
			Topic: fmt.Sprintf("topic-%d", p%topics), Tags: "TagA", Keys: "order-1",
			Producer: fmt.Sprintf("producer-%02d", p), Seq: 1, Body: body,
		})
		if err != nil {
			b.Fatal(err)
		}
		templates[p] = data
	}
	seqAt := len(templates[0]) - 4 - bodySize - 8 // seq precedes bodyLen and body

	br := New(Options{})
	var pos int64
	var seqs [producers]uint64
	index := uint64(0)
	b.SetBytes(int64(len(templates[0])))
	b.ReportAllocs()
	b.ResetTimer()
	for b.Loop() {
		if index == brokerSpan {
			br, pos, index, seqs = New(Options{}), 0, 0, [producers]uint64{}
		}
		index++
		p := index % producers
		seqs[p]++
		data := append([]byte(nil), templates[p]...)
		for i := range 8 {
			data[seqAt+i] = byte(seqs[p] >> (56 - 8*i))
		}
		e := core.Entry{Index: index, Term: 1, Type: core.EntryNormal, Data: data}
		size := int32(entryHeader + len(data))
		a, err := br.Apply(e, pos, size)
		if err != nil || a.Outcome != OutcomeAppended {
			b.Fatalf("entry %d: %v %v", index, a.Outcome, err)
		}
		pos += int64(size)
	}
	b.ReportMetric(float64(b.N)/b.Elapsed().Seconds(), "msgs/s")
}
