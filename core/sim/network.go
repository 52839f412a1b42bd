package sim

import (
	"fmt"
	"maps"
	"slices"

	"dledgerlab/core"
)

// linkConf is one directed link's behaviour.
type linkConf struct {
	LatencyMs int
	JitterMs  int
	Loss      float64
	Dup       float64
	// Reorder is the chance that a message may overtake earlier ones;
	// otherwise a link is FIFO like the TCP connections DLedger uses.
	Reorder float64
}

// network is the simulated network between brokers: per-link delay, loss
// and duplication drawn from the seeded source (reordering follows from
// jitter), and cut links for partitions.
type network struct {
	def   linkConf
	links map[Link]linkConf
	cut   map[Link]bool
	// groups remembers the last partition, for drawing.
	groups [][]int
	// last is the latest delivery time scheduled on each link (FIFO),
	// indexed by lastSlot.
	last [(maxNodes + 1) * (maxNodes + 1)]int64
}

// maxNodes is the largest cluster (Config.validate).
const maxNodes = 9

func lastSlot(l Link) int { return l.From*(maxNodes+1) + l.To }

func newNetwork(c Config) network {
	return network{
		def:   linkConf{LatencyMs: c.LatencyMs, JitterMs: c.JitterMs, Loss: c.Loss, Dup: c.Dup, Reorder: c.Reorder},
		links: map[Link]linkConf{},
		cut:   map[Link]bool{},
	}
}

func (nw network) clone() network {
	c := nw
	c.links = maps.Clone(nw.links)
	c.cut = maps.Clone(nw.cut)
	c.groups = slices.Clone(nw.groups)
	return c
}

func (nw *network) conf(l Link) linkConf {
	if len(nw.links) > 0 {
		if c, ok := nw.links[l]; ok {
			return c
		}
	}
	return nw.def
}

// send puts m on the wire: it arrives after the link's delay unless lost;
// sometimes twice.
func (st *state) send(m *core.Message) {
	l := Link{From: int(m.From), To: int(m.To)}
	c := st.net.conf(l)
	copies := 1
	if st.rng.Chance(c.Dup) {
		copies = 2
	}
	for range copies {
		st.msgID++
		at := st.now + int64(c.LatencyMs+st.rng.Intn(c.JitterMs+1))
		if !st.rng.Chance(c.Reorder) {
			at = max(at, st.net.last[lastSlot(l)])
			st.net.last[lastSlot(l)] = at
		}
		// Written straight into the queue: a message is the bulk of an event.
		st.seq++
		e := st.queue.pushNew(at, st.seq)
		e.kind, e.node, e.msg, e.msgID = evDeliver, int(m.To), *m, st.msgID
		e.sentAt, e.lost = st.now, st.rng.Chance(c.Loss)
	}
}

// deliver hands an arriving message to its broker, unless the link is cut
// now (the wire broke under it) or the message was lost.
func (st *state) deliver(e *event) {
	l := Link{From: int(e.msg.From), To: int(e.msg.To)}
	switch {
	case e.lost:
		st.dropped(e.msg, e.msgID, e.sentAt, "lost")
	case len(st.net.cut) > 0 && st.net.cut[l]:
		st.dropped(e.msg, e.msgID, e.sentAt, "link cut")
	default:
		st.inputMsg(st.nodes[e.node-1], &e.msg)
	}
}

func (st *state) dropped(m core.Message, id uint64, sentAt int64, why string) {
	if len(st.drops) >= keepDrops {
		st.drops = slices.Delete(st.drops, 0, len(st.drops)-keepDrops+1)
	}
	v := messageView(m, id, sentAt, st.now)
	v.Dropped = true
	v.Summary += " (" + why + ")"
	st.drops = append(st.drops, v)
}

func messageView(m core.Message, id uint64, sentAt, deliverAt int64) MessageView {
	return MessageView{ID: id, From: int(m.From), To: int(m.To), Type: m.Type.String(), Term: m.Term,
		SentMs: sentAt, DeliverMs: deliverAt, Entries: len(m.Entries), Reject: m.Reject, Summary: m.String()}
}

// partition cuts the links between groups (only from the first group when
// oneWay).
func (nw *network) partition(groups [][]int, oneWay bool) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j || (oneWay && i != 0) {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					nw.cut[Link{From: a, To: b}] = true
				}
			}
		}
	}
	nw.groups = groups
}

func (nw *network) isolate(id, n int) {
	var rest []int
	for o := 1; o <= n; o++ {
		if o != id {
			nw.cut[Link{From: id, To: o}] = true
			nw.cut[Link{From: o, To: id}] = true
			rest = append(rest, o)
		}
	}
	nw.groups = [][]int{{id}, rest}
}

func (nw *network) heal() {
	nw.cut = map[Link]bool{}
	nw.groups = nil
}

func (nw *network) cuts() []Link {
	// Ordered by (From, To) through a uint64 key: slices.Sort of uint64 is
	// in the engine anyway, a SortFunc over Link would add a copy of pdqsort
	// to the WebAssembly (see sortByID in viewbuild.go).
	keys := make([]uint64, 0, len(nw.cut))
	for l := range nw.cut {
		keys = append(keys, uint64(l.From)<<32|uint64(uint32(l.To)))
	}
	slices.Sort(keys)
	out := make([]Link, len(keys))
	for i, k := range keys {
		out[i] = Link{From: int(k >> 32), To: int(uint32(k))}
	}
	return out
}

func (l Link) String() string { return fmt.Sprintf("%d→%d", l.From, l.To) }
