package broker

// This file is the broker's state machine: RocketMQ's DefaultMessageStore
// with a DLedgerCommitLog underneath. The runner calls Apply for every
// committed entry in index order (Raft's "apply committed entries to the
// state machine"); Apply plays ReputMessageService + CommitLogDispatcher and
// dispatches the message to its topic's ConsumeQueue. Entries the runner has
// not applied — uncommitted ones — are invisible to consumers by
// construction.

import (
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"hash/fnv"
	"slices"

	"dledgerlab/core"
)

// Defaults for Options' zero values.
const (
	// DefaultDedupWindow is how many recent results per producer the broker
	// remembers to answer a retry with its original result.
	DefaultDedupWindow = 16
	// DefaultMaxProducers bounds the deduplication table.
	DefaultMaxProducers = 10000
	// DefaultRecentRecords is how many records per topic Topics shows.
	DefaultRecentRecords = 5
	// DefaultConsumeMax is the batch size of a Consume with max <= 0
	// (RocketMQ's default pullBatchSize is 32).
	DefaultConsumeMax = 32
)

// Options configures a Broker. The zero value is usable.
//
// DedupWindow and MaxProducers shape the replicated deduplication table, so
// all replicas of a group must use the same values (like DLedger's peers
// sharing one configuration). MaxMessageBytes is only checked on produce.
type Options struct {
	// MaxMessageBytes limits a produced message's whole encoding (RocketMQ's
	// maxMessageSize): the entry's data. 0 means DefaultMaxMessageBytes; a
	// runner sets it to its CommitLog's limit.
	MaxMessageBytes int
	// DedupWindow is how many of a producer's most recent results are kept
	// so that a retry is answered with its original queue offset. 0 means
	// DefaultDedupWindow.
	DedupWindow int
	// MaxProducers bounds how many producers the deduplication table
	// remembers; beyond it the producer least recently seen in the log is
	// forgotten. 0 means DefaultMaxProducers.
	MaxProducers int
	// RecentRecords is how many of each topic's last records Topics
	// returns. 0 means DefaultRecentRecords.
	RecentRecords int
	// CommitLog, if set, is where consumers' messages are read from, by the
	// position and size in their queue records, as RocketMQ reads them: the
	// queues then keep 40 bytes per message instead of a copy of it. nil
	// keeps the copies (the simulator, which owns no CommitLog files).
	CommitLog CommitLogReader
	// Queues, if set with CommitLog, is where the ConsumeQueue records are
	// kept (a native broker's ConsumeQueue files): the broker then keeps
	// nothing per message in memory. nil keeps the records in memory.
	Queues QueueStore
}

func (o Options) withDefaults() Options {
	if o.MaxMessageBytes <= 0 {
		o.MaxMessageBytes = DefaultMaxMessageBytes
	}
	if o.DedupWindow <= 0 {
		o.DedupWindow = DefaultDedupWindow
	}
	if o.MaxProducers <= 0 {
		o.MaxProducers = DefaultMaxProducers
	}
	if o.RecentRecords <= 0 {
		o.RecentRecords = DefaultRecentRecords
	}
	return o
}

// Broker is one replica's broker state. Everything except the consumer
// offsets and the pending tickets is a function of the committed log alone,
// so two brokers that applied the same entries are equal (see Digest).
// A Broker is not safe for concurrent use, reads included: they fill caches
// (the native server runs every call on its one runner goroutine).
type Broker struct {
	opts Options

	// applied is the index of the last applied entry.
	// Invariant: applied <= the replica's commit index (the runner's duty).
	applied uint64
	// nextPos is the smallest CommitLog position the next entry may have:
	// the previous entry's position + size. Entries never overlap.
	nextPos int64

	// topics maps a topic name to its ConsumeQueue (DefaultMessageStore's
	// consumeQueueTable, one queue per topic here).
	topics map[string]*ConsumeQueue
	// producers is the deduplication table (see produce.go).
	producers map[string]*producerState

	// offsets is ConsumerOffsetManager's table: group → topic → offset.
	// It is local to this broker, not replicated.
	offsets map[string]map[string]uint64

	// pending holds the tickets awaiting the commit of their index (the
	// leader's AppendFutures), by index. Local, not replicated.
	pending    map[uint64][]Ticket
	nextTicket uint64

	// names caches the name strings of decoded messages, and lastQueue
	// the queue dispatched to last (local caches, not state: Clone starts
	// empty ones).
	names     *nameCache
	lastQueue *ConsumeQueue
	// resolved is the array Apply's Resolved lists reuse.
	resolved []Resolved
}

// New returns an empty broker that expects entry 1 first.
func New(opts Options) *Broker {
	return &Broker{
		opts:      opts.withDefaults(),
		topics:    map[string]*ConsumeQueue{},
		producers: map[string]*producerState{},
		offsets:   map[string]map[string]uint64{},
		pending:   map[uint64][]Ticket{},
	}
}

// Outcome says what applying an entry did.
type Outcome uint8

const (
	// OutcomeNoOp: a core.EntryNoOp (or another non-message entry); no queue
	// was touched.
	OutcomeNoOp Outcome = iota
	// OutcomeAppended: the message got the next offset of its topic's queue.
	OutcomeAppended
	// OutcomeDuplicate: the message's (producer, seq) was already applied;
	// the CommitLog holds a second copy but the queue does not.
	OutcomeDuplicate
	// OutcomeCorrupt: the body did not decode; the entry was skipped (on
	// every replica alike).
	OutcomeCorrupt
	// OutcomeOffsetCommitted: the entry was a consumer group's offset
	// commit (OffsetsReplicated, offsets.go); no queue was touched.
	OutcomeOffsetCommitted
)

func (o Outcome) String() string {
	switch o {
	case OutcomeNoOp:
		return "no-op"
	case OutcomeAppended:
		return "appended"
	case OutcomeDuplicate:
		return "duplicate"
	case OutcomeCorrupt:
		return "corrupt"
	case OutcomeOffsetCommitted:
		return "offset-committed"
	}
	return fmt.Sprintf("Outcome(%d)", uint8(o))
}

// Applied reports what Apply did with one committed entry.
type Applied struct {
	Index   uint64
	Term    uint64
	Outcome Outcome
	// Result is the produce result of the entry's message: for
	// OutcomeAppended its new queue offset; for OutcomeDuplicate the
	// original's index, term and queue offset with Duplicate set. Zero for
	// no-ops and corrupt entries.
	Result Result
	// Err explains OutcomeCorrupt (wraps ErrCorrupt), a duplicate too old
	// to have its original result remembered (wraps ErrStaleSequence) and
	// a producer's seq stored earlier with another message (wraps
	// ErrSequenceReused: this entry's message is not stored).
	Err error
	// Resolved lists the tickets awaiting this index, now answered. The
	// broker reuses its array: it is valid until the next Apply.
	Resolved []Resolved
}

// Apply applies the committed entry e, which the runner found at CommitLog
// position pos with encoded size size. Entries must come in index order with
// no gap or repeat, and must be committed: the broker cannot tell, and an
// uncommitted entry that reaches Apply may later be truncated away from
// under a consumer.
//
// A normal entry's message is dispatched to its topic's ConsumeQueue unless
// it is a duplicate (see produce.go); a no-op only advances the applied
// index. An error (wrapping ErrApplyOrder) means the call was wrong and
// nothing changed; a corrupt body is not an error of the call: it is
// skipped, reported in Applied, and every replica skips it alike.
func (b *Broker) Apply(e core.Entry, pos int64, size int32) (Applied, error) {
	if e.Index != b.applied+1 {
		return Applied{}, fmt.Errorf("apply entry %d after entry %d (want %d): %w",
			e.Index, b.applied, b.applied+1, ErrApplyOrder)
	}
	if size < 0 || pos < b.nextPos {
		return Applied{}, fmt.Errorf("apply entry %d at CommitLog position %d size %d: entry %d ends at %d: %w",
			e.Index, pos, size, b.applied, b.nextPos, ErrApplyOrder)
	}
	a := Applied{Index: e.Index, Term: e.Term, Outcome: OutcomeNoOp}
	var m Message
	switch {
	case e.Type == core.EntryNormal && IsOffsetCommit(e.Data):
		a.Outcome, a.Err = b.applyOffsetCommit(e.Data)
	case e.Type == core.EntryNormal:
		a.Outcome, a.Result, m, a.Err = b.dispatch(e, pos, size)
	}
	b.applied = e.Index
	b.nextPos = pos + int64(size)
	a.Resolved = b.resolve(e, a, m)
	return a, nil
}

// dispatch is CommitLogDispatcher for one normal entry: decode, deduplicate,
// append to the ConsumeQueue.
func (b *Broker) dispatch(e core.Entry, pos int64, size int32) (Outcome, Result, Message, error) {
	if b.names == nil {
		b.names = &nameCache{}
	}
	// The message's Body stays a slice of e.Data: it is only compared
	// here, and the queue keeps its own copy of the encoded message.
	m, err := decodeMessage(e.Data, b.names)
	if err != nil {
		return OutcomeCorrupt, Result{}, Message{}, fmt.Errorf("entry %d@t%d: %w", e.Index, e.Term, err)
	}
	var p *producerState
	if m.Producer != "" {
		p = b.producers[m.Producer]
	}
	if orig, dup, err := p.lookup(m.Producer, m.Seq, e.Data); dup {
		p.lastIndex = e.Index // a duplicate has a row: it was applied
		if err != nil {
			return OutcomeDuplicate, Result{Topic: m.Topic, Duplicate: true}, m,
				fmt.Errorf("entry %d@t%d: %w", e.Index, e.Term, err)
		}
		return OutcomeDuplicate, orig, m, nil
	}
	q := b.lastQueue
	if q == nil || q.topic != m.Topic {
		if q = b.topics[m.Topic]; q == nil {
			q = &ConsumeQueue{topic: m.Topic, names: b.names, log: b.opts.CommitLog, files: b.queueFiles()}
			b.topics[m.Topic] = q
		}
		b.lastQueue = q
	}
	r := Result{Index: e.Index, Term: e.Term, Topic: m.Topic, QueueOffset: q.append(e.Index, e.Term, pos, size, m, e.Data)}
	b.recordApplied(p, m.Producer, m.Seq, e.Index, r, e.Data)
	return OutcomeAppended, r, m, nil
}

// AppliedIndex returns the index of the last applied entry (0 if none).
func (b *Broker) AppliedIndex() uint64 { return b.applied }

// queueFiles returns Options.Queues when the broker reads messages from a
// CommitLog (records without messages are of no use otherwise).
func (b *Broker) queueFiles() QueueStore {
	if b.opts.CommitLog == nil {
		return nil
	}
	return b.opts.Queues
}

// NextPosition returns where the applied entry ends in the CommitLog: the
// smallest position the next entry may have.
func (b *Broker) NextPosition() int64 { return b.nextPos }

// Consume reads up to max messages of topic from queue offset offset
// (max <= 0 means DefaultConsumeMax). Reading at or past the end returns
// nothing; consumers poll again later. Only applied — committed — messages
// are ever returned.
func (b *Broker) Consume(topic string, offset uint64, max int) ([]Stored, error) {
	return b.ConsumeUpTo(topic, offset, max, 0)
}

// ConsumeUpTo is Consume that also stops before the messages' CommitLog
// bytes (Stored.Size) would pass maxBytes (<= 0: no byte limit), like
// RocketMQ's pull, which fills a batch up to maxTransferCountOnMessageInMemory
// messages or maxTransferBytesOnMessageInMemory bytes
// (DefaultMessageStore.isTheBatchFull). The first message is returned
// whatever its size, so a consumer always makes progress.
func (b *Broker) ConsumeUpTo(topic string, offset uint64, max, maxBytes int) ([]Stored, error) {
	if err := checkTopic(topic, -1); err != nil {
		return nil, fmt.Errorf("consume: %w", err)
	}
	q := b.topics[topic]
	if q == nil {
		return nil, fmt.Errorf("consume %s: %w", topic, ErrUnknownTopic)
	}
	if max <= 0 {
		max = DefaultConsumeMax
	}
	out, err := q.read(offset, max, maxBytes)
	if err != nil {
		return out, fmt.Errorf("consume: %w", err)
	}
	return out, nil
}

// CommitOffset records that consumer group group has consumed topic up to
// (not including) offset (ConsumerOffsetManager.commitOffset). The broker
// stores what it is told, like RocketMQ.
func (b *Broker) CommitOffset(group, topic string, offset uint64) {
	t := b.offsets[group]
	if t == nil {
		t = map[string]uint64{}
		b.offsets[group] = t
	}
	t[topic] = offset
}

// Offset returns group's committed offset in topic, 0 if none.
func (b *Broker) Offset(group, topic string) uint64 { return b.offsets[group][topic] }

// LookupOffset is Offset, and whether this broker holds an offset for the
// group in topic at all.
func (b *Broker) LookupOffset(group, topic string) (uint64, bool) {
	off, ok := b.offsets[group][topic]
	return off, ok
}

// Queue returns topic's ConsumeQueue for read-only use, or nil.
func (b *Broker) Queue(topic string) *ConsumeQueue { return b.topics[topic] }

// CorrectMinOffsets is called after retention deleted the CommitLog before
// position logStart: each queue whose records are in files then starts at
// its first message at or after logStart (see correctMinOffset), so its
// MinOffset says truly where a consumer can begin. It returns the queues
// whose first offset moved, with their new first offsets; the broker's
// State records them, and the queue files wholly below can go once that
// State is durable.
func (b *Broker) CorrectMinOffsets(logStart int64) (map[string]uint64, error) {
	var moved map[string]uint64
	for _, name := range b.topicNames() {
		q := b.topics[name]
		old := q.base
		base, err := q.correctMinOffset(logStart)
		if err != nil {
			return moved, fmt.Errorf("correct the first offset of queue %s: %w", name, err)
		}
		if base != old {
			if moved == nil {
				moved = map[string]uint64{}
			}
			moved[name] = base
		}
	}
	return moved, nil
}

// QueueBytes returns a copy of topic's raw ConsumeQueue records.
func (b *Broker) QueueBytes(topic string) ([]byte, error) {
	q := b.topics[topic]
	if q == nil {
		return nil, fmt.Errorf("queue bytes %s: %w", topic, ErrUnknownTopic)
	}
	return q.Bytes()
}

// TopicView is a topic as the UI draws it.
type TopicView struct {
	Name string `json:"name"`
	// Len is the queue length: the next queue offset.
	Len uint64 `json:"len"`
	// MinOffset is the first offset kept (0 unless a snapshot was
	// installed: the messages before it are not on this broker).
	MinOffset uint64 `json:"min_offset,omitempty"`
	// Recent are the last few records, oldest first.
	Recent []RecordView `json:"recent"`
}

// RecordView is one ConsumeQueue record with where it came from.
type RecordView struct {
	QueueOffset uint64 `json:"queueOffset"`
	Index       uint64 `json:"index"`
	Term        uint64 `json:"term"`
	Pos         int64  `json:"pos"`
	Size        int32  `json:"size"`
	TagHash     int64  `json:"tagHash"`
	Tags        string `json:"tags,omitempty"`
	Keys        string `json:"keys,omitempty"`
	Producer    string `json:"producer,omitempty"`
	Seq         uint64 `json:"seq,omitempty"`
	BodyLen     int    `json:"bodyLen"`
}

// Topics returns every topic, sorted by name, with its last
// Options.RecentRecords records.
func (b *Broker) Topics() []TopicView {
	names := b.topicNames()
	out := make([]TopicView, 0, len(names))
	for _, name := range names {
		q := b.topics[name]
		from := 0
		if n := int(q.Len()) - b.opts.RecentRecords; n > 0 {
			from = n
		}
		from = max(from, int(q.base))
		v := TopicView{Name: name, Len: q.Len(), MinOffset: q.base, Recent: make([]RecordView, 0, int(q.Len())-from)}
		_ = q.each(uint64(from), func(s Stored, err error) { // records that cannot be read are left out
			r := RecordView{
				QueueOffset: s.QueueOffset, Index: s.Index, Term: s.Term, Pos: s.Pos, Size: s.Size,
				TagHash: TagsCode(s.Message.Tags), Tags: s.Message.Tags, Keys: s.Message.Keys,
				Producer: s.Message.Producer, Seq: s.Message.Seq, BodyLen: len(s.Message.Body),
			}
			if err != nil {
				// The record alone: the message could not be read back.
				r.TagHash, r.BodyLen = 0, -1
			}
			v.Recent = append(v.Recent, r)
		})
		out = append(out, v)
	}
	return out
}

// Clone returns a deep copy for checkpoints (the simulator rewinds to it).
// The copy and the original evolve independently; stored message bodies,
// which are never modified, are shared.
func (b *Broker) Clone() *Broker {
	c := *b
	c.names, c.lastQueue, c.resolved = nil, nil, nil
	c.topics = make(map[string]*ConsumeQueue, len(b.topics))
	for name, q := range b.topics {
		c.topics[name] = q.clone()
	}
	c.producers = make(map[string]*producerState, len(b.producers))
	for id, p := range b.producers {
		c.producers[id] = p.clone()
	}
	c.offsets = make(map[string]map[string]uint64, len(b.offsets))
	for g, t := range b.offsets {
		c.offsets[g] = make(map[string]uint64, len(t))
		for topic, off := range t {
			c.offsets[g][topic] = off
		}
	}
	c.pending = make(map[uint64][]Ticket, len(b.pending))
	for idx, ts := range b.pending {
		c.pending[idx] = slices.Clone(ts)
	}
	return &c
}

// Digest returns a hex 128-bit FNV-1a hash of the replicated state (a
// comparison between replicas, not a defence against forgery, so a small
// non-cryptographic hash keeps the WebAssembly engine lean): the applied index,
// every queue (records, entry index/term, messages) and the deduplication
// table. Two brokers that applied the same committed log have the same
// digest. Consumer offsets and pending tickets, which are local to a
// broker, are left out.
func (b *Broker) Digest() string {
	h := fnv.New128a()
	var buf []byte
	u64 := func(v uint64) { buf = binary.BigEndian.AppendUint64(buf[:0], v); h.Write(buf) }
	str := func(s string) { u64(uint64(len(s))); h.Write([]byte(s)) }

	u64(b.applied)
	u64(uint64(b.nextPos))
	for _, name := range b.topicNames() {
		q := b.topics[name]
		str(name)
		u64(q.Len())
		if q.base > 0 {
			u64(q.base)
		}
		if err := q.eachRecords(0, func(recs []QueueRecord) {
			for _, r := range recs {
				buf = r.Append(buf[:0])
				h.Write(buf)
			}
		}); err != nil {
			str("unreadable records: " + err.Error())
		}
		if err := q.each(0, func(s Stored, err error) {
			if err != nil {
				str("unreadable: " + err.Error()) // differs from any replica that can read it
				return
			}
			u64(s.Index)
			u64(s.Term)
			str(s.Message.Tags)
			str(s.Message.Keys)
			str(s.Message.Producer)
			u64(s.Message.Seq)
			u64(uint64(len(s.Message.Body)))
			h.Write(s.Message.Body)
		}); err != nil {
			str("unreadable records: " + err.Error())
		}
	}
	b.walkDedup(u64, str, func(sum uint32) { u64(uint64(sum)) })
	return hex.EncodeToString(h.Sum(nil))
}

// TopicNames returns the topics, sorted.
func (b *Broker) TopicNames() []string { return b.topicNames() }

func (b *Broker) topicNames() []string {
	names := make([]string, 0, len(b.topics))
	for name := range b.topics {
		names = append(names, name)
	}
	slices.Sort(names)
	return names
}
