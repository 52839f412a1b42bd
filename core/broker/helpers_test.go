package broker

import (
	"fmt"
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

// memQueues is a QueueStore in memory, as a native broker's ConsumeQueue
// files are on disk: raw 20-byte units per topic.
type memQueues map[string][]byte

func (m memQueues) AppendRecord(topic string, off uint64, rec QueueRecord) {
	if uint64(len(m[topic])) != off*QueueRecordSize {
		panic(fmt.Sprintf("memQueues: append %s at %d, holds %d", topic, off, len(m[topic])/QueueRecordSize))
	}
	m[topic] = rec.Append(m[topic])
}

func (m memQueues) ReadRecords(topic string, off uint64, dst []QueueRecord) error {
	for i := range dst {
		o := (off + uint64(i)) * QueueRecordSize
		if o+QueueRecordSize > uint64(len(m[topic])) {
			return fmt.Errorf("memQueues: %s has no record %d", topic, off+uint64(i))
		}
		r, err := ParseQueueRecord(m[topic][o : o+QueueRecordSize])
		if err != nil {
			return err
		}
		dst[i] = r
	}
	return nil
}

// cut makes topic hold n records, as reopening queue files at a checkpoint
// does; fewer than n is an error.
func (m memQueues) cut(topic string, n uint64) error {
	if uint64(len(m[topic])) < n*QueueRecordSize {
		return fmt.Errorf("memQueues: %s holds %d records, want %d", topic, len(m[topic])/QueueRecordSize, n)
	}
	m[topic] = m[topic][:n*QueueRecordSize]
	return nil
}
