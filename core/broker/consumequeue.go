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
	"sort"

	"dledgerlab/core"
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
// records, in ConsumeQueue files, and reads the message from the CommitLog
// at the record's position. With Options.CommitLog and Options.Queues this
// broker does the same (a native broker's segment and queue files): the
// queue then holds nothing but its length, and its memory does not grow
// with the topic. Without them (the simulator, the browser) it owns no
// files, so it keeps the records, and per record the entry's index and
// term and the encoded message, which it decodes when the message is read.
//
// In memory, records live in chunks of up to queueChunkLen: a full chunk
// never changes again, so appending never copies what is already stored
// and a clone (a simulator checkpoint) shares every full chunk and copies
// only the last.
//
// Invariant: the queue holds offsets base..n-1 (base > 0 only after a
// snapshot was installed: the messages before it are not here). With
// files, chunks is empty; otherwise every chunk but the last holds
// queueChunkLen records; in a chunk len(raw) == QueueRecordSize*len(recs)
// and, without a CommitLog, message i is data[recs[i-1].end:recs[i].end];
// queue offset off is record (off-base)%queueChunkLen of
// chunks[(off-base)/queueChunkLen].
type ConsumeQueue struct {
	topic  string
	chunks []*queueChunk
	base   uint64
	n      uint64
	// log, if set, is where messages are read from; data is then empty.
	log CommitLogReader
	// files, if set (with log), is where the records are.
	files QueueStore
	// names caches the names of the messages read: the broker's own cache
	// (a local cache, not state: a clone starts an empty one).
	names *nameCache
}

// CommitLogReader reads a stored entry back from the CommitLog by the
// position and size its queue record gives (RocketMQ's
// CommitLog.getMessage): the entry's index, term and data, the encoded
// message.
type CommitLogReader interface {
	ReadEntry(pos int64, size int32) (core.Entry, error)
}

// CommitLogRunReader is a CommitLogReader that also reads a run of
// adjacent entries, the first at pos, of the given sizes, with one read: a
// native store then pays one read per run of messages instead of one per
// message, as RocketMQ reads a batch of messages from its mapped file.
type CommitLogRunReader interface {
	CommitLogReader
	ReadEntries(pos int64, sizes []int32) ([]core.Entry, error)
}

// QueueStore keeps ConsumeQueue records outside the broker's memory, as
// RocketMQ's ConsumeQueue files do (a native broker's consumequeue folder).
// AppendRecord only buffers: the runner writes and fsyncs the buffered
// records itself (the broker stays free of I/O), and ReadRecords sees them
// at once.
type QueueStore interface {
	// AppendRecord stores rec at queue offset off of topic, which is
	// always the next offset.
	AppendRecord(topic string, off uint64, rec QueueRecord)
	// ReadRecords reads topic's records off.. into dst, len(dst) of them.
	ReadRecords(topic string, off uint64, dst []QueueRecord) error
}

// queueChunk holds up to queueChunkLen consecutive records.
type queueChunk struct {
	raw  []byte
	recs []queueRec
	data []byte
}

// queueRec is what the broker keeps beside a record: the entry that carried
// the message, and where its encoded message ends in the chunk's data.
type queueRec struct {
	index, term uint64
	end         uint32
}

const queueChunkLen = 256

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
	// Message is the decoded message; its Body is the reader's own copy.
	Message Message
}

// Topic returns the queue's topic name.
func (q *ConsumeQueue) Topic() string { return q.topic }

// Len returns the number of records, which is also the next queue offset
// (RocketMQ's max offset).
func (q *ConsumeQueue) Len() uint64 { return q.n }

// MinOffset returns the first offset the queue holds (RocketMQ's min
// offset): 0, unless the broker installed a snapshot.
func (q *ConsumeQueue) MinOffset() uint64 { return q.base }

// records reads the records from queue offset off into dst (off +
// len(dst) <= Len()).
func (q *ConsumeQueue) records(off uint64, dst []QueueRecord) error {
	if q.files != nil {
		if err := q.files.ReadRecords(q.topic, off, dst); err != nil {
			return fmt.Errorf("queue %s offset %d: %w", q.topic, off, err)
		}
		return nil
	}
	for k := range dst {
		o := off + uint64(k)
		i := (o - q.base) % queueChunkLen * QueueRecordSize
		rec, err := ParseQueueRecord(q.chunks[(o-q.base)/queueChunkLen].raw[i : i+QueueRecordSize])
		if err != nil {
			panic(fmt.Sprintf("broker: queue %s offset %d: %v", q.topic, o, err))
		}
		dst[k] = rec
	}
	return nil
}

// at returns the message at queue offset off < Len(), whose record is rec,
// decoded afresh. An error is the CommitLog failing to give it back (a disk
// error, damage since it was written).
func (q *ConsumeQueue) at(off uint64, rec QueueRecord) (Stored, error) {
	return q.storedAt(off, rec, nil)
}

// storedAt is at with the CommitLog entry already read, if e is not nil.
func (q *ConsumeQueue) storedAt(off uint64, rec QueueRecord, read *core.Entry) (Stored, error) {
	st := Stored{QueueOffset: off, Pos: rec.Pos, Size: rec.Size}
	var c *queueChunk
	var i uint64
	if q.files == nil {
		c, i = q.chunks[(off-q.base)/queueChunkLen], (off-q.base)%queueChunkLen
		st.Index, st.Term = c.recs[i].index, c.recs[i].term
	}
	where := func() string {
		if st.Index == 0 {
			return fmt.Sprintf("queue %s offset %d (CommitLog position %d)", q.topic, off, rec.Pos)
		}
		return fmt.Sprintf("queue %s offset %d (entry %d at CommitLog position %d)", q.topic, off, st.Index, rec.Pos)
	}
	var data []byte
	if q.log != nil {
		var e core.Entry
		var err error
		if read != nil {
			e = *read
		} else if e, err = q.log.ReadEntry(rec.Pos, rec.Size); err != nil {
			return st, fmt.Errorf("%s: %w", where(), err)
		}
		if q.files == nil && (e.Index != st.Index || e.Term != st.Term) {
			return st, fmt.Errorf("%s: %w: the CommitLog holds entry %d@t%d there", where(), ErrCorrupt, e.Index, e.Term)
		}
		st.Index, st.Term, data = e.Index, e.Term, e.Data
	} else {
		var start uint32
		if i > 0 {
			start = c.recs[i-1].end
		}
		data = c.data[start:c.recs[i].end]
	}
	if q.names == nil {
		q.names = &nameCache{}
	}
	m, err := decodeMessage(data, q.names)
	if err != nil {
		if q.log != nil {
			return st, fmt.Errorf("%s: %w", where(), err)
		}
		// It decoded when it was stored, and stored bytes never change.
		panic(fmt.Sprintf("broker: queue %s offset %d (entry %d): %v", q.topic, off, st.Index, err))
	}
	if m.Body != nil && q.log == nil {
		m.Body = append([]byte(nil), m.Body...) // the reader's own copy
	}
	st.Message = m
	return st, nil
}

// Record returns the record at queue offset off.
func (q *ConsumeQueue) Record(off uint64) (QueueRecord, error) {
	if off >= q.Len() || off < q.base {
		return QueueRecord{}, fmt.Errorf("queue %s: offset %d outside %d..%d", q.topic, off, q.base, q.Len())
	}
	var rec [1]QueueRecord
	err := q.records(off, rec[:])
	return rec[0], err
}

// Bytes returns a copy of the queue's raw records: what RocketMQ would hold
// in the topic's ConsumeQueue file.
func (q *ConsumeQueue) Bytes() ([]byte, error) {
	out := make([]byte, 0, (q.n-q.base)*QueueRecordSize)
	err := q.eachRecords(q.base, func(recs []QueueRecord) {
		for _, r := range recs {
			out = r.Append(out)
		}
	})
	return out, err
}

// eachRecords calls f with the records from queue offset from on, in
// batches, in order.
func (q *ConsumeQueue) eachRecords(from uint64, f func([]QueueRecord)) error {
	const batch = 4096
	from = max(from, q.base)
	var buf []QueueRecord
	for off := from; off < q.n; off += batch {
		n := min(batch, q.n-off)
		if buf == nil {
			buf = make([]QueueRecord, min(batch, q.n-from))
		}
		if err := q.records(off, buf[:n]); err != nil {
			return err
		}
		f(buf[:n])
	}
	return nil
}

// each calls f for the messages from queue offset from on, in order, and
// with the error of a message that could not be read (s then holds its
// record's fields only). An error reading the records themselves is
// returned.
func (q *ConsumeQueue) each(from uint64, f func(s Stored, err error)) error {
	from = max(from, q.base)
	off := from
	return q.eachRecords(from, func(recs []QueueRecord) {
		for _, rec := range recs {
			f(q.at(off, rec))
			off++
		}
	})
}

// read returns up to max stored messages from offset off, stopping before
// their sizes would pass maxBytes (<= 0: no limit); the first is always
// returned.
func (q *ConsumeQueue) read(off uint64, max, maxBytes int) ([]Stored, error) {
	if off < q.base {
		return nil, fmt.Errorf("queue %s: offset %d is below the first offset kept, %d: %w", q.topic, off, q.base, ErrOffsetTooSmall)
	}
	if off >= q.Len() {
		return nil, nil
	}
	end := q.Len()
	if uint64(max) < end-off {
		end = off + uint64(max)
	}
	recs := make([]QueueRecord, end-off)
	if err := q.records(off, recs); err != nil {
		return nil, err
	}
	// The records' sizes decide how many before a message is decoded.
	bytes := 0
	for i, rec := range recs {
		if bytes += int(rec.Size); maxBytes > 0 && bytes > maxBytes && i > 0 {
			recs = recs[:i]
			break
		}
	}
	out := make([]Stored, 0, len(recs))
	run, batched := q.log.(CommitLogRunReader)
	for i := 0; i < len(recs); {
		// A run of messages adjacent in the CommitLog is read at once.
		j := i + 1
		for batched && j < len(recs) && recs[j].Pos == recs[j-1].Pos+int64(recs[j-1].Size) && j-i < maxRun {
			j++
		}
		var ents []core.Entry
		if j-i > 1 {
			sizes := make([]int32, j-i)
			for k := range sizes {
				sizes[k] = recs[i+k].Size
			}
			// A run that fails is read again message by message below, so
			// the error names the message it is about.
			ents, _ = run.ReadEntries(recs[i].Pos, sizes)
		}
		for k := i; k < j; k++ {
			var e *core.Entry
			if ents != nil {
				e = &ents[k-i]
			}
			s, err := q.storedAt(off+uint64(k), recs[k], e)
			if err != nil {
				return out, err
			}
			out = append(out, s)
		}
		i = j
	}
	return out, nil
}

// maxRun bounds the messages one CommitLog read covers.
const maxRun = 256

// append adds the message m, encoded as data, at the next queue offset and
// returns that offset. data is copied, unless the queue reads its messages
// from a CommitLog.
func (q *ConsumeQueue) append(index, term uint64, pos int64, size int32, m Message, data []byte) uint64 {
	return q.appendRecord(index, term, QueueRecord{Pos: pos, Size: size, TagHash: TagsCode(m.Tags)}, data)
}

// appendRecord adds rec, from entry index of term, at the next queue
// offset and returns that offset; data is the encoded message, copied
// unless the queue reads its messages from a CommitLog (and then unused).
func (q *ConsumeQueue) appendRecord(index, term uint64, rec QueueRecord, data []byte) uint64 {
	off := q.n
	if q.files != nil {
		q.files.AppendRecord(q.topic, off, rec)
		q.n++
		return off
	}
	if (off-q.base)%queueChunkLen == 0 {
		// A chunk is allocated whole, so appending to it never regrows.
		c := &queueChunk{
			raw:  make([]byte, 0, queueChunkLen*QueueRecordSize),
			recs: make([]queueRec, 0, queueChunkLen),
		}
		if q.log == nil {
			c.data = make([]byte, 0, queueChunkLen*64)
		}
		q.chunks = append(q.chunks, c)
	}
	c := q.chunks[len(q.chunks)-1]
	c.raw = rec.Append(c.raw)
	if q.log == nil {
		c.data = append(c.data, data...)
	}
	c.recs = append(c.recs, queueRec{index: index, term: term, end: uint32(len(c.data))})
	q.n++
	return off
}

// clone copies the queue: full chunks never change and are shared. The
// last chunk, still being appended to, gets a new header whose slices are
// clipped to their length: the stored bytes are shared too (a chunk only
// ever appends), and whichever copy appends next writes past what the other
// can see, the clipped one into a new array.
func (q *ConsumeQueue) clone() *ConsumeQueue {
	c := &ConsumeQueue{topic: q.topic, base: q.base, n: q.n, chunks: slices.Clone(q.chunks), log: q.log, files: q.files}
	if k := len(c.chunks); k > 0 && len(c.chunks[k-1].recs) < queueChunkLen {
		last := c.chunks[k-1]
		c.chunks[k-1] = &queueChunk{raw: slices.Clip(last.raw), recs: slices.Clip(last.recs), data: slices.Clip(last.data)}
	}
	return c
}

// correctMinOffset moves the queue's first offset to the first record at
// or after CommitLog position logStart, the new start of the log after
// retention deleted the files before it, and returns it: the records below
// point at messages no longer in the CommitLog. RocketMQ does the same
// after deleting CommitLog files (ConsumeQueue.correctMinOffset, called by
// deleteExpiredFile, in store/src/main/java/org/apache/rocketmq/store/
// ConsumeQueue.java). Records are in CommitLog order, so the first one
// kept is found by binary search. Only a queue whose records are in files
// moves (a native broker's): a queue that keeps its messages itself (the
// simulator's) still has them all.
func (q *ConsumeQueue) correctMinOffset(logStart int64) (uint64, error) {
	if q.files == nil || q.log == nil {
		return q.base, nil
	}
	var err error
	var rec [1]QueueRecord
	k := sort.Search(int(q.n-q.base), func(i int) bool {
		if err != nil {
			return true
		}
		if err = q.records(q.base+uint64(i), rec[:]); err != nil {
			return true
		}
		return rec[0].Pos >= logStart
	})
	if err != nil {
		return q.base, err
	}
	q.base += uint64(k)
	return q.base, nil
}
