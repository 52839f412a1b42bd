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
// Invariant: len(raw) == QueueRecordSize*len(stored); stored[i].QueueOffset == i.
type ConsumeQueue struct {
	topic  string
	raw    []byte
	stored []Stored
}

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
func (q *ConsumeQueue) Len() uint64 { return uint64(len(q.stored)) }

// Record returns the record at queue offset off.
func (q *ConsumeQueue) Record(off uint64) (QueueRecord, error) {
	if off >= q.Len() {
		return QueueRecord{}, fmt.Errorf("queue %s: offset %d, length %d", q.topic, off, q.Len())
	}
	return ParseQueueRecord(q.raw[off*QueueRecordSize : (off+1)*QueueRecordSize])
}

// Bytes returns a copy of the queue's raw records: what RocketMQ would hold
// in the topic's ConsumeQueue file.
func (q *ConsumeQueue) Bytes() []byte { return append([]byte(nil), q.raw...) }

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
	for _, s := range q.stored[off:end] {
		s.Message.Body = append([]byte(nil), s.Message.Body...)
		out = append(out, s)
	}
	return out
}

// append adds a message at the next queue offset and returns that offset.
func (q *ConsumeQueue) append(index, term uint64, pos int64, size int32, m Message) uint64 {
	off := q.Len()
	q.raw = QueueRecord{Pos: pos, Size: size, TagHash: TagsCode(m.Tags)}.Append(q.raw)
	q.stored = append(q.stored, Stored{QueueOffset: off, Index: index, Term: term, Pos: pos, Size: size, Message: m})
	return off
}

// clone copies the queue. Message bodies are immutable once stored and are
// shared.
func (q *ConsumeQueue) clone() *ConsumeQueue {
	return &ConsumeQueue{
		topic:  q.topic,
		raw:    append([]byte(nil), q.raw...),
		stored: append([]Stored(nil), q.stored...),
	}
}
