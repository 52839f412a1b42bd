package sim

import (
	"encoding/binary"
	"fmt"
	"maps"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/broker"
)

// checker holds what the invariants need to remember. Every check runs at
// the moment the simulator does the thing it checks, so a violation names
// the event that caused it (Raft Figure 3, plus the broker's promises).
type checker struct {
	// leaders: term → the broker that led it (Election Safety).
	leaders map[uint64]int
	// matching[i] is, for the first term seen at index i+1, the entry's
	// digest and its predecessor's term as first appended anywhere;
	// matchingMore holds the other terms seen at an index (Log Matching).
	matching     []termKey
	matchingMore map[[2]uint64]entryKey
	// appliedTerm/appliedHash: the entry applied at index i+1 by the first
	// broker to apply it (State Machine Safety); appliedBy names that broker.
	appliedTerm []uint64
	appliedHash []uint64
	appliedBy   []int
	// committedTerm[i] is the term of the entry at index i+1 when a leader
	// first counted it committed, and committedIn[i] that leader's term
	// (Leader Completeness speaks of entries committed in a term).
	committedTerm []uint64
	committedIn   []uint64
	// ackedAt[i] is the acknowledged message stored at index i+1, if any
	// (term 0: none).
	ackedAt []ackRec
	// truth: topic → queue offset → the entry index stored there.
	truth      map[string][]uint64
	violations []Violation
}

type entryKey struct {
	hash     uint64
	prevTerm uint64
}

type termKey struct {
	term uint64
	key  entryKey
}

type ackRec struct {
	term     uint64
	producer string
	seq      uint64
	topic    string
	offset   uint64
}

// maxViolations bounds the list; the first ones matter.
const maxViolations = 50

// Rule names used in violations.
const (
	RuleElectionSafety     = "Election Safety"
	RuleLogMatching        = "Log Matching"
	RuleLeaderCompleteness = "Leader Completeness"
	RuleStateMachineSafety = "State Machine Safety"
	RuleAckedNeverLost     = "No acknowledged message is lost"
	RuleConsumerPrefix     = "Consumers see a gap-free prefix"
	RuleGroupNoSkip        = "A consumer group never skips a message"
)

// clone copies the checker for a checkpoint. Slices that only ever append
// are shared, clipped so that the copy's next append copies; matching and
// ackedAt fill slots in place and are copied.
func (c checker) clone() checker {
	out := c
	out.leaders = maps.Clone(c.leaders)
	out.matching = slices.Clone(c.matching)
	out.matchingMore = maps.Clone(c.matchingMore)
	out.appliedTerm = slices.Clip(c.appliedTerm)
	out.appliedHash = slices.Clip(c.appliedHash)
	out.appliedBy = slices.Clip(c.appliedBy)
	out.committedTerm = slices.Clip(c.committedTerm)
	out.committedIn = slices.Clip(c.committedIn)
	out.ackedAt = slices.Clone(c.ackedAt)
	out.truth = make(map[string][]uint64, len(c.truth))
	for k, v := range c.truth {
		out.truth[k] = slices.Clip(v)
	}
	out.violations = slices.Clip(c.violations)
	return out
}

func (c *checker) violate(st *state, rule string, brokers []int, format string, args ...any) {
	if len(c.violations) >= maxViolations {
		return
	}
	what := "start-up"
	switch {
	case st.curAction != "":
		what = st.curAction
	case st.cur != nil:
		what = st.cur.String()
	}
	c.violations = append(c.violations, Violation{TimeMs: st.now, Rule: rule, Brokers: brokers,
		Text: rule + ": " + fmt.Sprintf(format, args...), Event: what})
}

// entryHash fingerprints the entry's type and data: FNV-1a's structure over
// 8-byte words, with the length mixed in, then a final avalanche. It is a
// checker's fingerprint, not a defence against forgery.
func entryHash(e core.Entry) uint64 {
	const offset64, prime64 = 14695981039346656037, 1099511628211
	h := uint64(offset64) ^ uint64(byte(e.Type))<<56 ^ uint64(len(e.Data))
	d := e.Data
	for ; len(d) >= 8; d = d[8:] {
		h = (h ^ binary.LittleEndian.Uint64(d)) * prime64
	}
	var tail uint64
	for i, b := range d {
		tail |= uint64(b) << (8 * i)
	}
	h = (h ^ tail) * prime64
	h ^= h >> 33
	h *= 0xff51afd7ed558ccd
	h ^= h >> 33
	return h
}

// becameLeader: at most one leader per term (Election Safety), and a new
// leader holds every committed entry (Leader Completeness).
func (c *checker) becameLeader(st *state, n *simNode, term uint64) {
	if c.leaders == nil {
		c.leaders = map[uint64]int{}
	}
	if prev, ok := c.leaders[term]; ok && prev != n.id {
		c.violate(st, RuleElectionSafety, []int{prev, n.id}, "brokers %d and %d both became leader of term %d", prev, n.id, term)
	}
	c.leaders[term] = n.id
	snap := n.node.LastSnapshot()
	if i := int(snap.Index) - 1; i >= 0 && i < len(c.committedTerm) && c.committedTerm[i] != snap.Term {
		c.violate(st, RuleLeaderCompleteness, []int{n.id},
			"broker %d became leader of term %d with a snapshot of entry %d of term %d, but entry %d was committed with term %d",
			n.id, term, snap.Index, snap.Term, snap.Index, c.committedTerm[i])
		return
	}
	for i, want := range c.committedTerm {
		if c.committedIn[i] >= term || uint64(i+1) <= snap.Index {
			continue // committed in a later term than this (late) leader's, or in its snapshot
		}
		if got, ok := n.node.EntryTerm(uint64(i + 1)); !ok || got != want {
			c.violate(st, RuleLeaderCompleteness, []int{n.id},
				"broker %d became leader of term %d without entry %d (term %d), which was committed in term %d",
				n.id, term, i+1, want, c.committedIn[i])
			return
		}
	}
}

// leaderCommitted records entries a leader of term counted as committed.
func (c *checker) leaderCommitted(n *simNode, term, index uint64) {
	if index <= uint64(len(c.committedTerm)) {
		return
	}
	ents := n.node.Entries(uint64(len(c.committedTerm))+1, index+1)
	if len(ents) == 0 || ents[0].Index != uint64(len(c.committedTerm))+1 {
		return // the leader's log starts after a snapshot past what is recorded
	}
	for _, e := range ents {
		c.committedTerm = append(c.committedTerm, e.Term)
		c.committedIn = append(c.committedIn, term)
	}
}

// appended: two entries with the same index and term are the same entry
// with the same predecessor (Log Matching, by induction over the log).
func (c *checker) appended(st *state, n *simNode, ents []core.Entry) {
	var prevTerm uint64
	if first := ents[0].Index; first > 1 {
		prevTerm, _ = n.store.Term(first - 1)
	}
	for _, e := range ents {
		k := entryKey{hash: entryHash(e), prevTerm: prevTerm}
		if old, ok := c.match(e.Index, e.Term, k); ok && old != k {
			c.violate(st, RuleLogMatching, []int{n.id},
				"broker %d appended entry %d of term %d that differs from another broker's entry %d of term %d (or follows a different entry)",
				n.id, e.Index, e.Term, e.Index, e.Term)
		}
		prevTerm = e.Term
	}
}

// match returns the key first recorded for (index, term), recording k if
// there was none (ok false).
func (c *checker) match(index, term uint64, k entryKey) (old entryKey, ok bool) {
	i := int(index) - 1
	for len(c.matching) <= i {
		c.matching = append(c.matching, termKey{})
	}
	switch m := &c.matching[i]; {
	case m.term == 0:
		*m = termKey{term: term, key: k}
		return k, false
	case m.term == term:
		return m.key, true
	}
	key := [2]uint64{index, term}
	if old, ok := c.matchingMore[key]; ok {
		return old, true
	}
	if c.matchingMore == nil {
		c.matchingMore = map[[2]uint64]entryKey{}
	}
	c.matchingMore[key] = k
	return k, false
}

// applied: no two brokers apply different entries at the same index (State
// Machine Safety), and no acknowledged message is replaced.
func (c *checker) applied(st *state, n *simNode, e core.Entry) {
	i := int(e.Index) - 1
	h := entryHash(e)
	switch {
	case i < len(c.appliedTerm):
		if c.appliedTerm[i] != e.Term || c.appliedHash[i] != h {
			c.violate(st, RuleStateMachineSafety, []int{n.id, c.appliedBy[i]},
				"broker %d applied entry %d of term %d, but broker %d applied a different entry %d (term %d): the two brokers disagree on what was committed",
				n.id, e.Index, e.Term, c.appliedBy[i], e.Index, c.appliedTerm[i])
		}
	case i == len(c.appliedTerm):
		c.appliedTerm = append(c.appliedTerm, e.Term)
		c.appliedHash = append(c.appliedHash, h)
		c.appliedBy = append(c.appliedBy, n.id)
	default:
		panic(fmt.Sprintf("broker %d applied entry %d before entry %d was applied anywhere", n.id, e.Index, len(c.appliedTerm)+1))
	}
	if a := c.ackAt(e.Index); a.term != 0 && a.term != e.Term {
		c.violate(st, RuleAckedNeverLost, []int{n.id},
			"message %s#%d was acknowledged as entry %d of term %d, but broker %d committed entry %d of term %d in its place",
			a.producer, a.seq, e.Index, a.term, n.id, e.Index, e.Term)
	}
}

// ackAt returns the acknowledged message at index, if any (term 0: none).
func (c *checker) ackAt(index uint64) ackRec {
	if index >= 1 && index <= uint64(len(c.ackedAt)) {
		return c.ackedAt[index-1]
	}
	return ackRec{}
}

// queued records which entry holds each queue offset.
func (c *checker) queued(st *state, n *simNode, ap broker.Applied) {
	if c.truth == nil {
		c.truth = map[string][]uint64{}
	}
	q := c.truth[ap.Result.Topic]
	if off := ap.Result.QueueOffset; off == uint64(len(q)) {
		c.truth[ap.Result.Topic] = append(q, ap.Index)
	} else if off < uint64(len(q)) && q[off] != ap.Index {
		c.violate(st, RuleConsumerPrefix, []int{n.id}, "broker %d put entry %d at offset %d of %s, where another broker has entry %d",
			n.id, ap.Index, off, ap.Result.Topic, q[off])
	}
}

// acked: a producer was told its message is stored.
func (c *checker) acked(st *state, p *producer, o *sendState, r broker.Result) {
	rec := ackRec{term: r.Term, producer: p.id, seq: o.seq, topic: r.Topic, offset: r.QueueOffset}
	for uint64(len(c.ackedAt)) < r.Index {
		c.ackedAt = append(c.ackedAt, ackRec{})
	}
	c.ackedAt[r.Index-1] = rec
	if i := int(r.Index) - 1; i < len(c.appliedTerm) && c.appliedTerm[i] != r.Term {
		c.violate(st, RuleAckedNeverLost, nil, "producer %s was told message #%d is entry %d of term %d, but entry %d committed with term %d",
			p.id, o.seq, r.Index, r.Term, r.Index, c.appliedTerm[i])
	}
}

// consumed: a consumer reads offsets in order without gaps, and each offset
// holds the same message everywhere.
func (c *checker) consumed(st *state, n *simNode, k *consumer, m broker.Stored) {
	if m.QueueOffset != k.offset {
		c.violate(st, RuleConsumerPrefix, []int{n.id}, "consumer %s expected offset %d of %s next but broker %d returned offset %d",
			k.id, k.offset, k.topic, n.id, m.QueueOffset)
		return
	}
	if q := c.truth[k.topic]; m.QueueOffset < uint64(len(q)) && q[m.QueueOffset] != m.Index {
		c.violate(st, RuleConsumerPrefix, []int{n.id}, "consumer %s read entry %d at offset %d of %s from broker %d, but that offset holds entry %d",
			k.id, m.Index, m.QueueOffset, k.topic, n.id, q[m.QueueOffset])
	}
}

// resumed checks where a consumer resumed its group (the offset broker n
// answered): at or before the group's high-water mark, or a message was
// never delivered to the group. Going back is allowed (at least once: those
// messages are delivered again and counted); going past is a violation,
// unless what lies between expired by retention on n.
func (c *checker) resumed(st *state, n *simNode, k *consumer) {
	floor := k.seen
	if q := n.br.Queue(k.topic); q != nil {
		floor = max(floor, q.MinOffset())
	}
	if k.offset > floor {
		c.violate(st, RuleGroupNoSkip, []int{n.id}, "consumer %s of group %s resumed %s at offset %d on broker %d, but the group was delivered only offsets before %d",
			k.id, k.group, k.topic, k.offset, n.id, k.seen)
	}
}

// CheckFinal verifies, once the cluster is healed and caught up, that every
// acknowledged message is consumable at its offset on every running broker
// that has applied that far.
func (s *Sim) CheckFinal() []Violation {
	st := s.st
	var out []Violation
	for i, a := range st.check.ackedAt {
		idx := uint64(i) + 1
		if a.term == 0 {
			continue
		}
		for _, n := range st.nodes {
			if n.state != stateUp || n.br.AppliedIndex() < idx {
				continue
			}
			if q := n.br.Queue(a.topic); q != nil && a.offset < q.MinOffset() {
				continue // expired: this broker holds only what followed its snapshot
			}
			msgs, err := n.br.Consume(a.topic, a.offset, 1)
			if err != nil || len(msgs) == 0 || msgs[0].Message.Producer != a.producer || msgs[0].Message.Seq != a.seq {
				out = append(out, Violation{TimeMs: st.now, Rule: RuleAckedNeverLost, Brokers: []int{n.id},
					Text:  fmt.Sprintf("%s: message %s#%d acknowledged at offset %d of %s is not there on broker %d", RuleAckedNeverLost, a.producer, a.seq, a.offset, a.topic, n.id),
					Event: "final check"})
				break
			}
		}
	}
	slices.SortFunc(out, func(a, b Violation) int { return len(a.Text) - len(b.Text) })
	return out
}
