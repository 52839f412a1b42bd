package sim

import (
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/internal/simnet"
)

// network is the simulated network between brokers (core/internal/simnet,
// shared with core/ctlsim): per-link delay, loss and duplication drawn from
// the seeded source (reordering follows from jitter), and cut links for
// partitions.
type network = simnet.Net

// linkConf is one directed link's behaviour.
type linkConf = simnet.LinkConf

func newNetwork(c Config) network {
	return simnet.New(linkConf{LatencyMs: c.LatencyMs, JitterMs: c.JitterMs, Loss: c.Loss, Dup: c.Dup, Reorder: c.Reorder})
}

// send puts m on the wire: it arrives after the link's delay unless lost;
// sometimes twice.
func (st *state) send(m *core.Message) {
	var ds [2]simnet.Delivery
	for _, d := range ds[:st.net.Plan(&st.rng, st.now, Link{From: int(m.From), To: int(m.To)}, &ds)] {
		st.msgID++
		// Written straight into the queue: a message is the bulk of an event.
		st.seq++
		e := st.queue.pushNew(d.At, st.seq)
		e.kind, e.node, e.msg, e.msgID = evDeliver, int(m.To), *m, st.msgID
		e.sentAt, e.lost = st.now, d.Lost
	}
}

// deliver hands an arriving message to its broker, unless the link is cut
// now (the wire broke under it) or the message was lost.
func (st *state) deliver(e *event) {
	l := Link{From: int(e.msg.From), To: int(e.msg.To)}
	switch {
	case e.lost:
		st.dropped(e.msg, e.msgID, e.sentAt, "lost")
	case st.net.IsCut(l):
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
