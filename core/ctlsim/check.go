package ctlsim

import (
	"bytes"
	"fmt"
	"hash/fnv"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/controller"
	"dledgerlab/core/sim"
)

// Rules this simulator checks beyond core/sim's (whose names it reuses for
// the controllers' Raft and for acknowledged writes).
const (
	// RuleOneMasterPerEpoch: two brokers never both take the master role
	// for the same epoch.
	RuleOneMasterPerEpoch = "At most one master per epoch"
	// RuleConfirmOffset: a consumer never reads past the confirm offset,
	// and what a master serves as confirmed is on its set's disks.
	RuleConfirmOffset = "No consumer reads past the confirm offset"
	// RuleConsumedNeverLost: what a consumer read (confirmed, perhaps never
	// acknowledged to a producer that gave up) is never replaced.
	RuleConsumedNeverLost = "No consumed message is lost"
)

// checker holds what the invariants remember. Each check runs when the
// simulator does the thing it checks, so a violation names its event.
type checker struct {
	// Controllers' Raft (Figure 3).
	leaders   map[uint64]int // term → controller (Election Safety)
	ledTerm   [Controllers + 1]uint64
	appendKey map[[2]uint64]uint64 // (index, term) → entry hash (Log Matching)
	applied   []appliedRec         // index-1 → the entry first applied there
	// committed[i] is the term of entry i+1 and the term of the leader
	// that first counted it committed (Leader Completeness speaks of
	// entries committed in a term).
	committed []committedRec
	// Broker group.
	masters map[uint64]int // epoch → broker (one master per epoch)
	top     struct {
		epoch  uint64
		broker int
	}
	// kept[offset] is the write acknowledged or consumed at offset, which
	// must never be replaced.
	kept       []keptRec
	violations []sim.Violation
}

type appliedRec struct {
	term, hash uint64
	by         int
}

type committedRec struct {
	term, in uint64
}

type keptRec struct {
	data []byte
	why  string // "acknowledged" or "consumed"
}

const maxViolations = 50

func (c *checker) violate(s *Sim, rule string, nodes []int, format string, args ...any) {
	if len(c.violations) >= maxViolations {
		return
	}
	c.violations = append(c.violations, sim.Violation{TimeMs: s.now, Rule: rule, Brokers: nodes,
		Text: rule + ": " + fmt.Sprintf(format, args...), Event: s.cur})
	s.logEvent(Event{Kind: EventViolation, Why: rule})
}

func entryHash(e core.Entry) uint64 {
	h := fnv.New64a()
	h.Write([]byte{byte(e.Type)})
	h.Write(e.Data)
	return h.Sum64()
}

func (c *checker) controllerStarted(n *ctlNode) { c.ledTerm[n.id] = 0 }

// controllerRole: at most one controller leads a term (Election Safety),
// and a new leader holds every entry committed in an earlier term (Leader
// Completeness).
func (c *checker) controllerRole(s *Sim, n *ctlNode) {
	node := n.c.Node()
	if node.Role() != core.RoleLeader || c.ledTerm[n.id] == node.Term() {
		return
	}
	term := node.Term()
	c.ledTerm[n.id] = term
	if c.leaders == nil {
		c.leaders = map[uint64]int{}
	}
	if prev, ok := c.leaders[term]; ok && prev != n.id {
		c.violate(s, sim.RuleElectionSafety, []int{prev, n.id}, "controllers %d and %d both led term %d", prev, n.id, term)
	}
	c.leaders[term] = n.id
	for i, k := range c.committed {
		if k.in >= term {
			continue // committed in this term or later: a late leader need not hold it
		}
		if t, ok := node.EntryTerm(uint64(i + 1)); !ok || t != k.term {
			c.violate(s, sim.RuleLeaderCompleteness, []int{n.id}, "controller %d leads term %d without entry %d (term %d), committed in term %d", n.id, term, i+1, k.term, k.in)
			return
		}
	}
}

// leaderCommitted records the entries up to commit that the leader of
// term counts as committed.
func (c *checker) leaderCommitted(n *ctlNode, term, commit uint64) {
	for i := uint64(len(c.committed)) + 1; i <= commit; i++ {
		t, ok := n.c.Node().EntryTerm(i)
		if !ok {
			return
		}
		c.committed = append(c.committed, committedRec{term: t, in: term})
	}
}

// appended: entries of the same index and term are the same (Log
// Matching, checked on the entries themselves).
func (c *checker) appended(s *Sim, n *ctlNode, ents []core.Entry) {
	if c.appendKey == nil {
		c.appendKey = map[[2]uint64]uint64{}
	}
	for _, e := range ents {
		k, h := [2]uint64{e.Index, e.Term}, entryHash(e)
		if old, ok := c.appendKey[k]; ok && old != h {
			c.violate(s, sim.RuleLogMatching, []int{n.id}, "controller %d appended entry %d of term %d unlike another controller's", n.id, e.Index, e.Term)
		}
		c.appendKey[k] = h
	}
}

// controllerApplied: no two controllers apply different entries at an
// index (State Machine Safety).
func (c *checker) controllerApplied(s *Sim, n *ctlNode, e core.Entry) {
	i := int(e.Index) - 1
	h := entryHash(e)
	switch {
	case i < len(c.applied):
		if a := c.applied[i]; a.term != e.Term || a.hash != h {
			c.violate(s, sim.RuleStateMachineSafety, []int{n.id, a.by}, "controller %d applied entry %d of term %d, controller %d a different one of term %d", n.id, e.Index, e.Term, a.by, a.term)
		}
	case i == len(c.applied):
		c.applied = append(c.applied, appliedRec{term: e.Term, hash: h, by: n.id})
	default:
		panic(fmt.Sprintf("controller %d applied entry %d before entry %d was applied anywhere", n.id, e.Index, len(c.applied)+1))
	}
}

// brokerEvent: one master per epoch; a new master holds every write
// acknowledged or consumed so far.
func (c *checker) brokerEvent(s *Sim, n *brokerNode, ev controller.Event) {
	if ev.Kind != controller.EvBecameMaster {
		return
	}
	id := n.id - Controllers
	if c.masters == nil {
		c.masters = map[uint64]int{}
	}
	if prev, ok := c.masters[ev.Epoch]; ok && prev != id {
		c.violate(s, RuleOneMasterPerEpoch, []int{prev, id}, "brokers %d and %d both became master of epoch %d", prev, id, ev.Epoch)
	}
	c.masters[ev.Epoch] = id
	if ev.Epoch >= c.top.epoch {
		c.top.epoch, c.top.broker = ev.Epoch, id
	}
	for off := range c.kept {
		if !c.holds(n.disk, int64(off)) {
			c.lost(s, id, int64(off), fmt.Sprintf("became master of epoch %d", ev.Epoch))
			return
		}
	}
}

// holds reports whether disk has the kept write at off.
func (c *checker) holds(d *controller.Disk, off int64) bool {
	k := c.kept[off]
	return k.data == nil || off < int64(len(d.Log)) && bytes.Equal(d.Log[off], k.data)
}

func (c *checker) lost(s *Sim, broker int, off int64, when string) {
	k := c.kept[off]
	rule := sim.RuleAckedNeverLost
	if k.why == "consumed" {
		rule = RuleConsumedNeverLost
	}
	c.violate(s, rule, []int{broker}, "broker %d %s without %s, %s at offset %d", broker, when, k.data, k.why, off)
}

// keep records the write at off as one that must never be replaced.
func (c *checker) keep(s *Sim, broker int, off int64, data []byte, why string) {
	for int64(len(c.kept)) <= off {
		c.kept = append(c.kept, keptRec{})
	}
	k := &c.kept[off]
	switch {
	case k.data == nil:
		*k = keptRec{data: data, why: why}
	case !bytes.Equal(k.data, data):
		rule := sim.RuleAckedNeverLost
		if why == "consumed" {
			rule = RuleConsumedNeverLost
		}
		c.violate(s, rule, []int{broker}, "%s was %s at offset %d, where %s was %s before: the earlier one is lost", data, why, off, k.data, k.why)
	}
}

// acked: a write was acknowledged. If a master of a later epoch exists
// already, it must hold the write (it could only have it from before its
// epoch began).
func (c *checker) acked(s *Sim, n *brokerNode, off int64, data []byte, epoch uint64) {
	id := n.id - Controllers
	c.keep(s, id, off, data, "acknowledged")
	if c.top.epoch > epoch && !c.holds(s.brks[c.top.broker-1].disk, off) {
		c.lost(s, c.top.broker, off, fmt.Sprintf("is master of epoch %d while broker %d acknowledges epoch %d's writes", c.top.epoch, id, epoch))
	}
}

// consumed: a consumer read msgs from broker n; they lie below its confirm
// offset and are kept like acknowledged writes.
func (c *checker) consumed(s *Sim, n *brokerNode, k *consumer, msgs [][]byte) {
	id := n.id - Controllers
	if end, confirm := k.offset+int64(len(msgs)), n.b.ConfirmOffset(); end > confirm {
		c.violate(s, RuleConfirmOffset, []int{id}, "consumer %s read up to offset %d from broker %d, whose confirm offset is %d", k.id, end, id, confirm)
	}
	for i, m := range msgs {
		c.keep(s, id, k.offset+int64(i), m, "consumed")
	}
	if n.b.Role() == controller.RoleMaster {
		c.confirmedOnSet(s, n, k.offset, msgs)
	}
}

// confirmedOnSet: what a master serves as confirmed is on the disk of every
// member of its set (and of a pending set change's), as the members
// reported: the confirm offset rests on their acknowledgements.
func (c *checker) confirmedOnSet(s *Sim, n *brokerNode, from int64, msgs [][]byte) {
	st := n.b.State()
	set := st.SyncStateSet
	if p := n.b.Pending(); p != nil && p.MasterEpoch == st.MasterEpoch {
		set = append(slices.Clone(set), p.SyncStateSet...)
	}
	id := n.id - Controllers
	for _, m := range set {
		d := s.brks[int(m)-1].disk
		for i, msg := range msgs {
			if off := from + int64(i); off >= int64(len(d.Log)) || !bytes.Equal(d.Log[off], msg) {
				c.violate(s, RuleConfirmOffset, []int{id, int(m)}, "master %d served offset %d as confirmed, but set member %d does not hold it", id, off, m)
				return
			}
		}
	}
}

// final: once healed and quiet, the master holds every kept write.
func (c *checker) final(s *Sim, master int) {
	s.cur = "final check"
	d := s.brks[master-1].disk
	for off := range c.kept {
		if !c.holds(d, int64(off)) {
			c.lost(s, master, int64(off), "is the master after healing")
			return
		}
	}
}
