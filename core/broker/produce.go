package broker

// This file is the leader's side of a produce, DLedger's AppendFuture as pure
// bookkeeping, and the deduplication table that makes retries safe.
//
// The story of one send, driven by the runner:
//
//  1. Prepare(msg) validates and encodes the message. If its (producer, seq)
//     was already applied, Prepare returns the earlier Result and the runner
//     answers at once without proposing again.
//  2. The runner proposes the body to core and gets (index, term) back, then
//     calls Await(index, term, producer, seq) for a Ticket.
//  3. Later, Apply of the committed entry at that index resolves the ticket:
//     - same term: the entry is ours; the Result carries index, term and
//       queue offset (DLedger answers the producer only after commit);
//     - another term: our entry was truncated by a new leader (leader
//       change, brain split 脑裂) and something else committed there: the
//       ticket resolves with ErrNotCommitted, and retrying is safe.
//  4. If the quorum does not answer in time (DLedger's
//     WAIT_QUORUM_ACK_TIMEOUT), the runner calls Expire and answers
//     ErrOutcomeUnknown: the entry may still commit. When the leader steps
//     down, FailAll answers every ticket.
//
// After ErrOutcomeUnknown the producer retries with the same producer id and
// sequence, possibly at a new leader. The CommitLog may then hold two copies
// of the message; the dispatcher puts only the first in the ConsumeQueue and
// answers the second with the first's queue offset (Duplicate).
//
// # The deduplication rule
//
// Like RocketMQ's (and Kafka's) idempotent producer, a producer numbers its
// sends 1, 2, 3, ... and keeps at most one send in flight: it retries the
// same sequence until it gets an answer other than ErrOutcomeUnknown, then
// moves to a higher one. The broker therefore keeps, per producer, only the
// highest applied sequence: a message whose sequence is lower than or equal
// to it is a duplicate and is not dispatched. To answer a retry with its
// original queue offset the broker also keeps the producer's last
// Options.DedupWindow results; an older duplicate is still dropped but
// answered with ErrStaleSequence.
//
// The table is built only by Apply from committed entries, in log order, so
// every replica rebuilds the same table; it is part of the replicated state
// and of Digest. Its memory is bounded: Options.MaxProducers producers, each
// with DedupWindow results. When a new producer arrives and the table is
// full, the producer least recently seen in the log (lowest log index) is
// forgotten — deterministically, on every replica — and a retry from it
// after that would be stored twice.

import (
	"fmt"
	"hash/crc32"
	"slices"

	"dledgerlab/core"
)

// Result answers a successful produce: where the message is.
type Result struct {
	// Index and Term identify the committed entry that stored the message.
	Index uint64
	Term  uint64
	// Topic and QueueOffset are the message's place in the ConsumeQueue.
	Topic       string
	QueueOffset uint64
	// Duplicate is set when this send was a retry of a message already
	// stored; the other fields describe the original.
	Duplicate bool
}

func (r Result) String() string {
	s := fmt.Sprintf("%s@%d (entry %d@t%d)", r.Topic, r.QueueOffset, r.Index, r.Term)
	if r.Duplicate {
		s += " duplicate"
	}
	return s
}

// Ticket is one produce waiting for its entry to commit (DLedger's
// AppendFuture, as a value). ID is unique within this broker.
type Ticket struct {
	ID       uint64
	Index    uint64
	Term     uint64
	Producer string
	Seq      uint64
}

// Resolved is a ticket's answer: either Result or Err is set.
type Resolved struct {
	Ticket Ticket
	Result Result
	// Err wraps ErrNotCommitted (the entry was truncated), ErrCorrupt (the
	// entry did not decode), ErrStaleSequence, or what FailAll was given.
	Err error
}

// Prepare validates msg and encodes it as an entry body. If msg's (producer,
// seq) was already applied, body is nil and dup is the earlier Result (with
// Duplicate set): the runner answers with it and proposes nothing. Errors
// match ErrBadTopic, ErrTooLarge (ErrMessageTooLarge for the whole message),
// ErrBadMessage, ErrStaleSequence or ErrSequenceReused (the same producer
// and seq were stored with another message).
//
// Prepare only sees applied entries: a retry of a send that is still in
// flight is not caught here but by the dispatcher in Apply.
func (b *Broker) Prepare(msg Message) (body []byte, dup *Result, err error) {
	body, err = encodeMessage(msg, b.opts.MaxMessageBytes) // validates first
	if err != nil {
		return nil, nil, fmt.Errorf("prepare: %w", err)
	}
	if r, isDup, err := b.lookupApplied(msg.Producer, msg.Seq, body); isDup {
		if err != nil {
			return nil, nil, fmt.Errorf("prepare: %w", err)
		}
		dup := r // only a duplicate's result goes to the heap
		return nil, &dup, nil
	}
	return body, nil, nil
}

// Await registers a produce that core accepted as entry (index, term) and
// returns its ticket. Apply of that index resolves it. Await must come
// before the entry is applied (core's Propose returns before anything
// commits); awaiting an applied index is a runner bug and panics.
func (b *Broker) Await(index, term uint64, producer string, seq uint64) Ticket {
	if index <= b.applied {
		panic(fmt.Sprintf("broker: await entry %d@t%d but entry %d is already applied", index, term, b.applied))
	}
	b.nextTicket++
	t := Ticket{ID: b.nextTicket, Index: index, Term: term, Producer: producer, Seq: seq}
	b.pending[index] = append(b.pending[index], t)
	return t
}

// Expire drops t, for the runner's quorum timeout (WAIT_QUORUM_ACK_TIMEOUT):
// the runner answers ErrOutcomeUnknown. It reports whether t was still
// pending (false if it was already resolved or dropped).
func (b *Broker) Expire(t Ticket) bool {
	ts := b.pending[t.Index]
	i := slices.IndexFunc(ts, func(p Ticket) bool { return p.ID == t.ID })
	if i < 0 {
		return false
	}
	ts = slices.Delete(ts, i, i+1)
	if len(ts) == 0 {
		delete(b.pending, t.Index)
	} else {
		b.pending[t.Index] = ts
	}
	return true
}

// FailAll resolves every pending ticket with err, in index order, for when
// the leader steps down. Entries already proposed may still be committed by
// the next leader, so the honest answer is usually ErrOutcomeUnknown (the
// producer retries, deduplication keeps it stored once); NOT_LEADER
// (ErrNotLeader) is for sends that were never proposed.
func (b *Broker) FailAll(err error) []Resolved {
	var out []Resolved
	for _, ts := range b.pending {
		for _, t := range ts {
			out = append(out, Resolved{Ticket: t, Err: fmt.Errorf("entry %d@t%d: %w", t.Index, t.Term, err)})
		}
	}
	if len(out) < 2 {
		clear(b.pending)
		return out
	}
	rank := byTicketID(len(out), func(i int) uint64 { return out[i].Ticket.ID })
	sorted := make([]Resolved, len(out))
	for i, r := range out {
		sorted[rank(i)] = r
	}
	clear(b.pending)
	return sorted
}

// Pending returns the tickets still waiting, in the order they were issued.
func (b *Broker) Pending() []Ticket {
	var out []Ticket
	for _, ts := range b.pending {
		out = append(out, ts...)
	}
	if len(out) < 2 {
		return out
	}
	rank := byTicketID(len(out), func(i int) uint64 { return out[i].ID })
	sorted := make([]Ticket, len(out))
	for i, t := range out {
		sorted[rank(i)] = t
	}
	return sorted
}

// resolve answers the tickets awaiting e's index after e was applied as a.
// m is the decoded message of a normal entry.
func (b *Broker) resolve(e core.Entry, a Applied, m Message) []Resolved {
	ts := b.pending[e.Index]
	if len(ts) == 0 {
		return nil
	}
	delete(b.pending, e.Index)
	out := b.resolved[:0]
	for _, t := range ts {
		r := Resolved{Ticket: t}
		switch {
		case t.Term != e.Term:
			r.Err = fmt.Errorf("entry %d proposed in term %d, committed in term %d: %w",
				t.Index, t.Term, e.Term, ErrNotCommitted)
		case a.Outcome == OutcomeCorrupt:
			r.Err = a.Err
		case a.Outcome == OutcomeNoOp || a.Outcome == OutcomeOffsetCommitted:
			// (index, term) names one entry (Raft's Log Matching); a ticket
			// for a no-op or an offset commit means the runner awaited
			// something it did not propose.
			panic(fmt.Sprintf("broker: ticket %d awaits entry %d@t%d, which is not a message (%s)", t.ID, t.Index, t.Term, a.Outcome))
		case m.Producer != t.Producer || m.Seq != t.Seq:
			panic(fmt.Sprintf("broker: ticket %d awaits %s#%d at entry %d@t%d, which holds %s#%d",
				t.ID, t.Producer, t.Seq, t.Index, t.Term, m.Producer, m.Seq))
		case a.Err != nil:
			r.Err = a.Err
		default:
			r.Result = a.Result
		}
		out = append(out, r)
	}
	b.resolved = out
	return out
}

// producerState is one row of the deduplication table.
//
// Invariant: recent is a ring of the latest results, oldest at recent[head]
// (head is 0 until the ring is full), sorted by seq from there; the newest
// has seq == highest, and len(recent) <= Options.DedupWindow.
type producerState struct {
	highest   uint64
	lastIndex uint64 // log index of the last entry from this producer
	recent    []seqResult
	head      int
}

// add records the newest result, dropping the oldest once window are kept.
func (p *producerState) add(r seqResult, window int) {
	if len(p.recent) < window {
		p.recent = append(p.recent, r)
		return
	}
	p.recent[p.head] = r
	p.head = (p.head + 1) % len(p.recent)
}

// each calls f for the kept results, oldest first.
func (p *producerState) each(f func(seqResult)) {
	for i := range p.recent {
		f(p.recent[(p.head+i)%len(p.recent)])
	}
}

type seqResult struct {
	seq    uint64
	result Result
	// sum is the CRC-32C of the stored message's encoding: a retry must
	// send the same message, and one that does not is refused
	// (ErrSequenceReused) instead of being answered as a duplicate.
	sum uint32
}

// messageSum is seqResult.sum of an encoded message (the entry's data).
func messageSum(encoded []byte) uint32 { return crc32.Checksum(encoded, castagnoli) }

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

func (p *producerState) clone() *producerState {
	c := *p
	c.recent = slices.Clone(p.recent)
	return &c
}

// lookupApplied reports whether (producer, seq) is a duplicate of an applied
// message and, if so, the original Result (Duplicate set) or an error: the
// original fell out of the window (ErrStaleSequence), or encoded, the
// message sent now, is not the one stored (ErrSequenceReused).
func (b *Broker) lookupApplied(producer string, seq uint64, encoded []byte) (Result, bool, error) {
	if producer == "" {
		return Result{}, false, nil
	}
	return b.producers[producer].lookup(producer, seq, encoded)
}

// lookup is lookupApplied on producer's row p (nil: none yet).
func (p *producerState) lookup(producer string, seq uint64, encoded []byte) (Result, bool, error) {
	if p == nil || seq > p.highest {
		return Result{}, false, nil
	}
	for _, sr := range p.recent {
		if sr.seq == seq {
			if messageSum(encoded) != sr.sum {
				return Result{}, true, fmt.Errorf("producer %s seq %d is stored at entry %d (%s@%d) with another message: a retry must send the same topic, tags, keys and body, a new message needs a new seq: %w",
					producer, seq, sr.result.Index, sr.result.Topic, sr.result.QueueOffset, ErrSequenceReused)
			}
			r := sr.result
			r.Duplicate = true
			return r, true, nil
		}
	}
	return Result{}, true, fmt.Errorf("producer %s seq %d (highest applied %d, results kept from %d): %w",
		producer, seq, p.highest, p.recent[p.head].seq, ErrStaleSequence)
}

// recordApplied adds a newly stored message, encoded, to the deduplication
// table; p is producer's row, or nil if it has none. The caller has checked
// that seq is above the producer's highest.
func (b *Broker) recordApplied(p *producerState, producer string, seq, index uint64, r Result, encoded []byte) {
	if producer == "" {
		return
	}
	if p == nil {
		if len(b.producers) >= b.opts.MaxProducers {
			b.evictProducer()
		}
		p = &producerState{}
		b.producers[producer] = p
	}
	if seq <= p.highest {
		panic(fmt.Sprintf("broker: producer %s seq %d recorded at or below highest %d", producer, seq, p.highest))
	}
	p.highest = seq
	p.lastIndex = index
	p.add(seqResult{seq: seq, result: r, sum: messageSum(encoded)}, b.opts.DedupWindow)
}

// evictProducer forgets the producer least recently seen in the log. Log
// indexes are unique, so the choice is the same on every replica.
func (b *Broker) evictProducer() {
	var victim string
	var oldest uint64
	for id, p := range b.producers {
		if victim == "" || p.lastIndex < oldest {
			victim, oldest = id, p.lastIndex
		}
	}
	delete(b.producers, victim)
}

// byTicketID returns where the i-th of n tickets goes when they are ordered
// by their (unique) IDs. It sorts the IDs instead of calling slices.SortFunc
// on the structs: in the WebAssembly engine every SortFunc instantiation is
// a copy of pdqsort (about 20 KB), while slices.Sort of uint64 is there anyway
// (see sortByID in core/sim/viewbuild.go and docs/BENCHMARKS.md).
func byTicketID(n int, id func(i int) uint64) func(i int) int {
	ids := make([]uint64, n)
	for i := range ids {
		ids[i] = id(i)
	}
	slices.Sort(ids)
	return func(i int) int {
		r, _ := slices.BinarySearch(ids, id(i))
		return r
	}
}
