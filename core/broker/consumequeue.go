package broker

// This file is RocketMQ's ConsumeQueue: per topic, a dense array of fixed
// 20-byte records pointing into the CommitLog. A consumer's position in a
// topic is an index into this array (the queue offset), not a CommitLog
// position, which is why queue offsets stay the same on every replica and
// across a change of leader: they are assigned by dispatching the same
// committed log in the same order.

import (
	"encoding/binary"
	"fmt"
	"slices"
)

// QueueRecordSize is the size of one ConsumeQueue record
// (ConsumeQueue.CQ_STORE_UNIT_SIZE in RocketMQ).
const QueueRecordSize = 20

// QueueRecord is one ConsumeQueue entry, in RocketMQ's layout (big-endian):
//
//	offset  size  field
//	0       8     CommitLog position of the message (int64)
//	8       4     size of the message in the CommitLog (int32)
//	12      8     tag hash code, see TagsCode (int64)
type QueueRecord struct {
	Pos     int64
	Size    int32
	TagHash int64
}

// Append appends the record's 20 bytes to b.
func (r QueueRecord) Append(b []byte) []byte {
	b = binary.BigEndian.AppendUint64(b, uint64(r.Pos))
	b = binary.BigEndian.AppendUint32(b, uint32(r.Size))
	return binary.BigEndian.AppendUint64(b, uint64(r.TagHash))
}

// ParseQueueRecord reads a record from exactly QueueRecordSize bytes.
func ParseQueueRecord(b []byte) (QueueRecord, error) {
	if len(b) != QueueRecordSize {
		return QueueRecord{}, fmt.Errorf("queue record: %d bytes, want %d: %w", len(b), QueueRecordSize, ErrCorrupt)
	}
	return QueueRecord{
		Pos:     int64(binary.BigEndian.Uint64(b[0:8])),
		Size:    int32(binary.BigEndian.Uint32(b[8:12])),
		TagHash: int64(binary.BigEndian.Uint64(b[12:20])),
	}, nil
}

// ConsumeQueue is the queue of one topic. RocketMQ keeps only the 20-byte
// records and reads the message from the CommitLog; this pure broker owns no
// CommitLog, so it also keeps, per record, the entry's index and term and the
// decoded message.
//
// Records live in chunks of queueChunkLen: a full chunk never changes again, so
// appending never copies what is already stored and a clone (a simulator
// checkpoint) shares every full chunk and copies only the last one.
//
// Invariant: every chunk but the last holds queueChunkLen records; for each
// chunk len(raw) == QueueRecordSize*len(stored); the record at queue offset
// off is chunks[off/queueChunkLen] at off%queueChunkLen, with QueueOffset == off.
type ConsumeQueue struct {
	topic  string
	chunks []*queueChunk
	n      uint64
}

// queueChunk holds up to queueChunkLen consecutive records.
type queueChunk struct {
	raw    []byte
	stored []Stored
}

const queueChunkLen = 512

// Stored is a message as a consumer sees it (RocketMQ's MessageExt): where it
// is in the queue and in the CommitLog, and the message itself.
type Stored struct {
	// QueueOffset is the message's position in its topic's ConsumeQueue.
	QueueOffset uint64
	// Index and Term identify the committed entry that carried it.
	Index uint64
	Term  uint64
	// Pos and Size locate the entry in the CommitLog (as in the record).
	Pos  int64
	Size int32
	// Message is the decoded message. Its Body is shared with the broker and
	// must be treated as read-only; Consume hands out copies.
	Message Message
}

// Topic returns the queue's topic name.
func (q *ConsumeQueue) Topic() string { return q.topic }

// Len returns the number of records, which is also the next queue offset
// (RocketMQ's max offset).
func (q *ConsumeQueue) Len() uint64 { return q.n }

// at returns the stored message at queue offset off < Len().
func (q *ConsumeQueue) at(off uint64) *Stored {
	return &q.chunks[off/queueChunkLen].stored[off%queueChunkLen]
}

// Record returns the record at queue offset off.
func (q *ConsumeQueue) Record(off uint64) (QueueRecord, error) {
	if off >= q.Len() {
		return QueueRecord{}, fmt.Errorf("queue %s: offset %d, length %d", q.topic, off, q.Len())
	}
	i := off % queueChunkLen * QueueRecordSize
	return ParseQueueRecord(q.chunks[off/queueChunkLen].raw[i : i+QueueRecordSize])
}

// Bytes returns a copy of the queue's raw records: what RocketMQ would hold
// in the topic's ConsumeQueue file.
func (q *ConsumeQueue) Bytes() []byte {
	out := make([]byte, 0, q.n*QueueRecordSize)
	for _, c := range q.chunks {
		out = append(out, c.raw...)
	}
	return out
}

// each calls f for the stored messages from queue offset from on, in order.
func (q *ConsumeQueue) each(from uint64, f func(s *Stored)) {
	for off := from; off < q.n; off++ {
		f(q.at(off))
	}
}

// read returns up to max stored messages from offset off, with bodies copied.
func (q *ConsumeQueue) read(off uint64, max int) []Stored {
	if off >= q.Len() {
		return nil
	}
	end := q.Len()
	if uint64(max) < end-off {
		end = off + uint64(max)
	}
	out := make([]Stored, 0, end-off)
	for i := off; i < end; i++ {
		s := *q.at(i)
		s.Message.Body = append([]byte(nil), s.Message.Body...)
		out = append(out, s)
	}
	return out
}

// append adds a message at the next queue offset and returns that offset.
func (q *ConsumeQueue) append(index, term uint64, pos int64, size int32, m Message) uint64 {
	off := q.n
	if off%queueChunkLen == 0 {
		q.chunks = append(q.chunks, &queueChunk{})
	}
	c := q.chunks[len(q.chunks)-1]
	c.raw = QueueRecord{Pos: pos, Size: size, TagHash: TagsCode(m.Tags)}.Append(c.raw)
	c.stored = append(c.stored, Stored{QueueOffset: off, Index: index, Term: term, Pos: pos, Size: size, Message: m})
	q.n++
	return off
}

// clone copies the queue: full chunks and message bodies never change and
// are shared; the last chunk, still being appended to, is copied.
func (q *ConsumeQueue) clone() *ConsumeQueue {
	c := &ConsumeQueue{topic: q.topic, n: q.n, chunks: append([]*queueChunk(nil), q.chunks...)}
	if k := len(c.chunks); k > 0 && len(c.chunks[k-1].stored) < queueChunkLen {
		last := c.chunks[k-1]
		c.chunks[k-1] = &queueChunk{raw: slices.Clone(last.raw), stored: slices.Clone(last.stored)}
	}
	return c
}
