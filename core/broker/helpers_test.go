package broker

import (
	"testing"

	"dledgerlab/core"

	"github.com/stretchr/testify/require"
)

// entryHeader is the size of a DLedger entry header (DLedgerEntry.BODY_OFFSET),
// so that positions in these tests look like a DLedgerCommitLog's.
const entryHeader = 48

// msg builds a message from producer p with sequence seq.
func msg(topic, p string, seq uint64, body string) Message {
	return Message{Topic: topic, Producer: p, Seq: seq, Body: []byte(body)}
}

// normal encodes m as entry index@term.
func normal(t testing.TB, index, term uint64, m Message) core.Entry {
	t.Helper()
	data, err := EncodeMessage(m)
	require.NoError(t, err)
	return core.Entry{Index: index, Term: term, Type: core.EntryNormal, Data: data}
}

// noop is the entry a new leader appends first.
func noop(index, term uint64) core.Entry {
	return core.Entry{Index: index, Term: term, Type: core.EntryNoOp}
}

// runner plays the part of a replica's runner in these tests: it owns the
// CommitLog positions and hands committed entries to its broker in order.
type runner struct {
	t   testing.TB
	b   *Broker
	pos int64
}

func newRunner(t testing.TB) *runner { return &runner{t: t, b: New(Options{})} }

// apply applies committed entries and returns what each did.
func (r *runner) apply(es ...core.Entry) []Applied {
	r.t.Helper()
	var out []Applied
	for _, e := range es {
		size := int32(entryHeader + len(e.Data))
		a, err := r.b.Apply(e, r.pos, size)
		require.NoError(r.t, err, "apply %v", e)
		r.pos += int64(size)
		out = append(out, a)
	}
	return out
}

// consumeAll returns the bodies of every message of topic.
func consumeAll(t testing.TB, b *Broker, topic string) []string {
	t.Helper()
	got, err := b.Consume(topic, 0, 1<<20)
	require.NoError(t, err)
	var bodies []string
	for _, s := range got {
		bodies = append(bodies, string(s.Message.Body))
	}
	return bodies
}
