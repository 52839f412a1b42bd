package broker

// This file is the broker's state without its messages: what a checkpoint
// holds so that a restarted broker resumes after the entries it already
// applied instead of replaying the whole CommitLog.
//
// RocketMQ splits the same job in three: the ConsumeQueue files hold the
// 20-byte records, StoreCheckpoint (store/StoreCheckpoint.java in
// apache/rocketmq) says up to where the CommitLog and the queues were
// flushed, and recovery (DefaultMessageStore.recover, CommitLog
// .recoverNormally/recoverAbnormally) re-dispatches what lies past that
// point. Here the queue records are kept by the runner (a native broker's
// ConsumeQueue files) and State carries everything else that Apply changes:
// the applied index, each queue's length, and the deduplication table, at
// one applied index, so that the three can never disagree.
//
// # State encoding, version 1
//
// Integers are unsigned varints (encoding/binary's Uvarint) unless a size is
// given; strings are a varint length and the bytes.
//
//	"DLBS"            4 bytes, magic
//	version           1 byte, must be 1
//	applied, nextPos  the last applied entry and where the next may start
//	topics            count, then per topic in name order: name, length
//	producers         count, then per producer in id order: id, highest,
//	                  lastIndex, kept results (count, oldest first: seq,
//	                  index, term, topic, queue offset, CRC-32C 4 bytes)
//	groups            count, then per group in name order: name, topics
//	                  (count, then topic, offset)
//	CRC-32C           4 bytes, big-endian, of everything before it
//
// Consumer offsets are local to a broker (not replicated), but they are
// its state on disk too, as RocketMQ's consumerOffset.json is.

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"maps"
	"slices"
)

// stateMagic opens an encoded State.
const stateMagic = "DLBS"

// stateVersion is the only State encoding version.
const stateVersion = 1

// ErrBadState is wrapped by every error about an encoded State that does
// not decode or does not fit the queues it describes.
var ErrBadState = errors.New("bad broker state")

// State returns the broker's state at its applied index, without the
// messages: see the encoding above. Restore turns it back into a Broker.
func (b *Broker) State() []byte {
	out := append([]byte(stateMagic), stateVersion)
	u := func(v uint64) { out = binary.AppendUvarint(out, v) }
	str := func(s string) { u(uint64(len(s))); out = append(out, s...) }

	u(b.applied)
	u(uint64(b.nextPos))
	names := b.topicNames()
	u(uint64(len(names)))
	for _, name := range names {
		str(name)
		u(b.topics[name].base)
		u(b.topics[name].Len())
	}
	u(uint64(len(b.producers)))
	b.walkDedup(u, str, func(sum uint32) { out = binary.BigEndian.AppendUint32(out, sum) })
	u(uint64(len(b.offsets)))
	for _, g := range slices.Sorted(maps.Keys(b.offsets)) {
		str(g)
		u(uint64(len(b.offsets[g])))
		for _, t := range slices.Sorted(maps.Keys(b.offsets[g])) {
			str(t)
			u(b.offsets[g][t])
		}
	}
	return binary.BigEndian.AppendUint32(out, crc32.Checksum(out, castagnoli))
}

// walkDedup calls u, str and sum for the deduplication table's fields, in
// producer id order: what State encodes and Digest hashes.
func (b *Broker) walkDedup(u func(uint64), str func(string), sum func(uint32)) {
	for _, id := range slices.Sorted(maps.Keys(b.producers)) {
		p := b.producers[id]
		str(id)
		u(p.highest)
		u(p.lastIndex)
		u(uint64(len(p.recent)))
		p.each(func(r seqResult) {
			u(r.seq)
			u(r.result.Index)
			u(r.result.Term)
			str(r.result.Topic)
			u(r.result.QueueOffset)
			sum(r.sum)
		})
	}
}

// RestoredRecord is one ConsumeQueue record as a runner gives it back to
// Restore: the 20-byte record and the entry that carried the message.
type RestoredRecord struct {
	QueueRecord
	Index, Term uint64
}

// QueueLoader gives Restore the records base..n-1 of topic's ConsumeQueue,
// in order, by calling add for each; an error from add must be returned.
// With Options.Queues set the records stay where they are: add is nil, and
// the loader makes topic's queue in Options.Queues hold exactly those (a
// native broker's ConsumeQueue files, cut back to the checkpoint).
type QueueLoader func(topic string, base, n uint64, add func(RestoredRecord) error) error

// Restore returns the broker that State described, with each topic's queue
// records read through load. The broker reads its messages from
// opts.CommitLog, which must be set: State holds no messages.
//
// Everything is checked before it is used: an encoding that does not
// decode, a record that points before the previous one or past nextPos,
// a record from an entry after applied, or a loader that gives more or
// fewer records than the state says is an error wrapping ErrBadState (and
// the loader's own errors are returned wrapped). Nothing is partly
// restored: on an error the caller starts from an empty broker and
// replays the CommitLog instead.
func Restore(opts Options, state []byte, load QueueLoader) (*Broker, error) {
	if opts.CommitLog == nil {
		return nil, fmt.Errorf("restore: %w: Options.CommitLog is nil, and the state holds no messages", ErrBadState)
	}
	b, topics, err := decodeState(opts, state)
	if err != nil {
		return nil, err
	}

	for _, t := range topics {
		q := &ConsumeQueue{topic: t.name, log: opts.CommitLog, files: b.queueFiles(), base: t.base, n: t.base}
		if q.files != nil {
			if err := load(t.name, t.base, t.n, nil); err != nil {
				return nil, err
			}
			q.n = t.n
			if err := checkLastRecord(q, b); err != nil {
				return nil, err
			}
			b.topics[t.name] = q
			continue
		}
		prevEnd := int64(0)
		err := load(t.name, t.base, t.n, func(r RestoredRecord) error {
			switch {
			case q.n >= t.n:
				return fmt.Errorf("restore: %w: queue %s: more than %d records", ErrBadState, t.name, t.n)
			case r.Pos < prevEnd || r.Size <= 0 || r.Pos+int64(r.Size) > b.nextPos || r.Index == 0 || r.Index > b.applied:
				return fmt.Errorf("restore: %w: queue %s offset %d: record %+v (entry %d) is not after the previous one (ending at %d), or past the applied entry %d ending at %d",
					ErrBadState, t.name, q.n, r.QueueRecord, r.Index, prevEnd, b.applied, b.nextPos)
			}
			prevEnd = r.Pos + int64(r.Size)
			q.appendRecord(r.Index, r.Term, r.QueueRecord, nil)
			return nil
		})
		if err != nil {
			return nil, err
		}
		if q.n != t.n {
			return nil, fmt.Errorf("restore: %w: queue %s: records up to offset %d, the state says %d", ErrBadState, t.name, q.n, t.n)
		}
		b.topics[t.name] = q
	}
	return b, nil
}

// topicLen is one queue as a State describes it: its first offset kept
// and its length.
type topicLen struct {
	name    string
	base, n uint64
}

// decodeState decodes state into a broker without queues, and the queues'
// names and bounds. Every error wraps ErrBadState.
func decodeState(opts Options, state []byte) (*Broker, []topicLen, error) {
	d, err := newStateDecoder(state)
	if err != nil {
		return nil, nil, err
	}
	b := New(opts)
	b.applied = d.u("applied")
	b.nextPos = int64(d.u("next position"))
	if b.nextPos < 0 {
		d.fail("next position %d is out of range", uint64(b.nextPos))
	}
	var topics []topicLen
	for range d.count("topics") {
		t := topicLen{name: d.str("topic name"), base: d.u("first offset"), n: d.u("queue length")}
		if d.err == nil {
			if err := checkTopic(t.name, -1); err != nil {
				d.fail("%v", err)
			}
			if t.base > t.n {
				d.fail("topic %q: first offset %d is past its length %d", t.name, t.base, t.n)
			}
			if len(topics) > 0 && topics[len(topics)-1].name >= t.name {
				d.fail("topic %q is out of order", t.name)
			}
		}
		topics = append(topics, t)
	}
	for range d.count("producers") {
		id := d.str("producer id")
		p := &producerState{highest: d.u("highest sequence"), lastIndex: d.u("last index")}
		n := d.count("kept results")
		if n > b.opts.DedupWindow {
			d.fail("producer %q keeps %d results, the window is %d", id, n, b.opts.DedupWindow)
		}
		for range n {
			r := seqResult{seq: d.u("sequence")}
			r.result = Result{Index: d.u("result index"), Term: d.u("result term"), Topic: d.str("result topic"), QueueOffset: d.u("result queue offset")}
			r.sum = d.u32("message checksum")
			p.recent = append(p.recent, r)
		}
		if d.err == nil {
			if _, dup := b.producers[id]; dup || id == "" {
				d.fail("producer id %q is empty or repeated", id)
			}
			if len(p.recent) == 0 || p.recent[len(p.recent)-1].seq != p.highest || p.lastIndex > b.applied {
				d.fail("producer %q: its results do not end at its highest sequence %d, or its last index %d is past applied %d", id, p.highest, p.lastIndex, b.applied)
			}
		}
		b.producers[id] = p
	}
	for range d.count("groups") {
		g := d.str("group")
		t := map[string]uint64{}
		for range d.count("group topics") {
			topic := d.str("group topic")
			t[topic] = d.u("group offset")
		}
		b.offsets[g] = t
	}
	if err := d.finish(); err != nil {
		return nil, nil, err
	}
	if len(b.producers) > b.opts.MaxProducers {
		return nil, nil, fmt.Errorf("restore: %w: %d producers, at most %d", ErrBadState, len(b.producers), b.opts.MaxProducers)
	}
	return b, topics, nil
}

// RestoreSnapshot returns the broker that a snapshot's state (State, sent
// by the leader: Raft §7) describes, without the messages: each queue
// starts empty at its length, which becomes its first offset (its
// MinOffset), as a RocketMQ broker's queues start after retention; a
// consumer below it is told ErrOffsetTooSmall. The messages after the
// snapshot are applied as usual.
func RestoreSnapshot(opts Options, state []byte) (*Broker, error) {
	b, topics, err := decodeState(opts, state)
	if err != nil {
		return nil, err
	}
	for _, t := range topics {
		b.topics[t.name] = &ConsumeQueue{topic: t.name, log: opts.CommitLog, files: b.queueFiles(), base: t.n, n: t.n}
	}
	return b, nil
}

// checkLastRecord checks, for a queue whose records stay in files, that
// its last record is a message the CommitLog holds at or before the
// applied entry: queue files that do not belong to this CommitLog, or are
// ahead of the state, are refused.
func checkLastRecord(q *ConsumeQueue, b *Broker) error {
	if q.n == q.base {
		return nil // an empty queue (after a snapshot, it starts at base)
	}
	rec, err := q.Record(q.n - 1)
	if err != nil {
		return fmt.Errorf("restore: %w", err)
	}
	if rec.Size <= 0 || rec.Pos < 0 || rec.Pos+int64(rec.Size) > b.nextPos {
		return fmt.Errorf("restore: %w: queue %s offset %d: record %+v is past the applied entry %d ending at %d",
			ErrBadState, q.topic, q.n-1, rec, b.applied, b.nextPos)
	}
	s, err := q.at(q.n-1, rec)
	if errors.Is(err, ErrOffsetTooSmall) {
		// Retention deleted the CommitLog file the message was in (a topic
		// not written to since): its position was checked above.
		return nil
	}
	if err != nil {
		return fmt.Errorf("restore: %w: %w", ErrBadState, err)
	}
	if s.Index > b.applied || s.Message.Topic != q.topic {
		return fmt.Errorf("restore: %w: queue %s offset %d: entry %d (topic %s) is not a message of this queue up to the applied entry %d",
			ErrBadState, q.topic, q.n-1, s.Index, s.Message.Topic, b.applied)
	}
	return nil
}

// stateDecoder reads an encoded State; the first error sticks and every
// later read returns zero values.
type stateDecoder struct {
	b   []byte
	off int
	err error
}

func newStateDecoder(state []byte) (*stateDecoder, error) {
	const head = len(stateMagic) + 1
	if len(state) < head+4 || string(state[:len(stateMagic)]) != stateMagic {
		return nil, fmt.Errorf("restore: %w: not a broker state (%d bytes, want the magic %q first)", ErrBadState, len(state), stateMagic)
	}
	if v := state[len(stateMagic)]; v != stateVersion {
		return nil, fmt.Errorf("restore: %w: version %d, this broker reads version %d", ErrBadState, v, stateVersion)
	}
	body := state[:len(state)-4]
	if want, got := binary.BigEndian.Uint32(state[len(body):]), crc32.Checksum(body, castagnoli); want != got {
		return nil, fmt.Errorf("restore: %w: checksum %08x, the bytes give %08x", ErrBadState, want, got)
	}
	return &stateDecoder{b: body, off: head}, nil
}

func (d *stateDecoder) fail(format string, args ...any) {
	if d.err == nil {
		d.err = fmt.Errorf("restore: %w: at byte %d: %s", ErrBadState, d.off, fmt.Sprintf(format, args...))
	}
}

func (d *stateDecoder) u(what string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	if n <= 0 {
		d.fail("%s: not a varint", what)
		return 0
	}
	d.off += n
	return v
}

// count reads a count of items that each take at least one byte, so a
// count larger than what remains is an error, not an allocation.
func (d *stateDecoder) count(what string) int {
	n := d.u(what)
	if n > uint64(len(d.b)-d.off) {
		d.fail("%s: %d, but only %d bytes remain", what, n, len(d.b)-d.off)
		return 0
	}
	return int(n)
}

func (d *stateDecoder) str(what string) string {
	n := d.count(what)
	if d.err != nil {
		return ""
	}
	s := string(d.b[d.off : d.off+n])
	d.off += n
	return s
}

func (d *stateDecoder) u32(what string) uint32 {
	if d.err != nil {
		return 0
	}
	if len(d.b)-d.off < 4 {
		d.fail("%s: %d bytes remain, want 4", what, len(d.b)-d.off)
		return 0
	}
	v := binary.BigEndian.Uint32(d.b[d.off:])
	d.off += 4
	return v
}

func (d *stateDecoder) finish() error {
	if d.err == nil && d.off != len(d.b) {
		d.fail("%d bytes after the end", len(d.b)-d.off)
	}
	return d.err
}

// CloneQueues returns a copy of every queue as it is now, sharing the full
// chunks (see ConsumeQueue.clone): what the broker's ConsumeQueue files
// would hold once written. The simulator keeps such copies as its model of
// those files (native/store/queues.go on a real broker), so that a crash
// between writing them and writing the checkpoint can be simulated.
func (b *Broker) CloneQueues() map[string]*ConsumeQueue {
	out := make(map[string]*ConsumeQueue, len(b.topics))
	for name, q := range b.topics {
		out[name] = q.clone()
	}
	return out
}

// RestoreFromQueues is Restore for a broker whose queues keep their own
// records and messages (the simulator's): state is a State, queues the
// copies CloneQueues made no earlier than it. Each queue the state names
// must start where the state says and hold at least its length; what it
// holds past that was written after the checkpoint and is cut, as
// store.Queues.Load cuts a real broker's queue files. Queues the state does
// not name were created after it and are dropped. Errors wrap ErrBadState.
func RestoreFromQueues(opts Options, state []byte, queues map[string]*ConsumeQueue) (*Broker, error) {
	b, topics, err := decodeState(opts, state)
	if err != nil {
		return nil, err
	}
	for _, t := range topics {
		q := queues[t.name]
		if q == nil || q.files != nil || q.base != t.base || q.n < t.n {
			return nil, fmt.Errorf("restore: %w: queue %s does not hold offsets %d..%d", ErrBadState, t.name, t.base, t.n)
		}
		c := q.clone()
		c.cutTo(t.n)
		b.topics[t.name] = c
	}
	return b, nil
}

// cutTo drops the records from offset n on (n <= Len()) of a queue that
// keeps its records in chunks. The chunks kept are shared, never written
// in place: the last one gets a new header clipped to what is kept.
func (q *ConsumeQueue) cutTo(n uint64) {
	if n >= q.n {
		return
	}
	k := n - q.base
	full, rem := k/queueChunkLen, k%queueChunkLen
	chunks := slices.Clip(q.chunks[:full])
	if rem > 0 {
		last := q.chunks[full]
		end := last.recs[rem-1].end
		chunks = append(chunks, &queueChunk{raw: slices.Clip(last.raw[:rem*QueueRecordSize]), recs: slices.Clip(last.recs[:rem]), data: slices.Clip(last.data[:end])})
	}
	q.chunks, q.n = chunks, n
}
