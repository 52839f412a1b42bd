package ctlsim

import (
	"errors"
	"fmt"

	"dledgerlab/core/controller"
)

// clients are the producers and consumers. They reach brokers over links
// that are never cut (ClientLatencyMs each way), as in core/sim: the
// faults are between the cluster's nodes.
type clients struct {
	producers []*producer
	consumers []*consumer
	tickets   uint64
	// waiting: ticket → the produce awaiting its answer. Looked up, never
	// iterated (map order must not reach the run).
	waiting map[uint64]*produce
	// acked counts acknowledged writes; refused counts refusals by
	// error text.
	acked   int
	refused map[string]int
}

type producer struct {
	id     string
	rateMs int64 // one message every rateMs; 0: stopped
	target int   // broker id 1..3 it believes is master
	seq    uint64
	acked  int
	// sent, refused and gaveUp count this producer's writes by outcome
	// (refused by error text), for the view.
	sent    int
	refused map[string]int
	gaveUp  int
	// streak is the refusal the last answer carried ("": acknowledged).
	streak string
	timer  uint64 // the live timer's number: a restarted producer drops the old one
}

type produce struct {
	p      *producer
	data   []byte
	broker int
}

type consumer struct {
	id     string
	offset int64
	target int
}

// produceResp is a broker's answer on its way to a producer.
type produceResp struct {
	ok     bool
	offset int64
	err    string
	// why is the refusal's sentinel text (controller.ErrNotMaster, …).
	why    string
	master int // the broker's idea of the master, for a refusal
}

// producer returns producer id's index, adding a stopped one if needed.
func (cl *clients) producer(id string) int {
	i := 0
	for i < len(cl.producers) && cl.producers[i].id != id {
		i++
	}
	if i == len(cl.producers) {
		cl.producers = append(cl.producers, &producer{id: id, target: 1})
	}
	return i
}

// Produce sends one message through producer id (added, stopped, if new).
func (s *Sim) Produce(id string) {
	s.cl.send(s, s.cl.producers[s.cl.producer(id)])
}

// StartProducer starts (or, with a rate of 0, stops) producer id sending
// rate messages per second.
func (s *Sim) StartProducer(id string, rate float64) {
	i := s.cl.producer(id)
	p := s.cl.producers[i]
	p.timer++
	p.rateMs = 0
	if rate > 0 {
		p.rateMs = max(1, int64(1000/rate))
		s.schedule(event{at: s.now + p.rateMs, kind: evProducer, client: i, ticket: p.timer})
	}
}

// StartConsumer starts a consumer that reads the group's CommitLog from
// offset 0, from each broker in turn.
func (s *Sim) StartConsumer(id string) {
	s.cl.consumers = append(s.cl.consumers, &consumer{id: id, target: 1})
	s.schedule(event{at: s.now + int64(s.cfg.PollMs), kind: evPoll, client: len(s.cl.consumers) - 1})
}

// Acked returns how many writes were acknowledged so far.
func (s *Sim) Acked() int { return s.cl.acked }

// Refused returns how many writes brokers refused with err
// (controller.ErrNotMaster, controller.ErrInSyncReplicasNotEnough).
func (s *Sim) Refused(err error) int { return s.cl.refused[err.Error()] }

func (cl *clients) step(s *Sim, e *event) {
	switch e.kind {
	case evProducer:
		p := cl.producers[e.client]
		if p.rateMs == 0 || e.ticket != p.timer {
			return
		}
		cl.send(s, p)
		s.schedule(event{at: s.now + p.rateMs, kind: evProducer, client: e.client, ticket: p.timer})
	case evProduceReq:
		n := s.brks[e.node-Controllers-1]
		s.cur = fmt.Sprintf("broker %d receiving a produce of %s", e.node-Controllers, e.data)
		if n.state != StateUp {
			return // no answer: the producer gives up
		}
		if err := n.b.Produce(e.ticket, e.data); err != nil {
			if cl.refused == nil {
				cl.refused = map[string]int{}
			}
			key := err // the sentinel, without the detail wrapped around it
			if u := errors.Unwrap(err); u != nil {
				key = u
			}
			cl.refused[key.Error()]++
			cl.respond(s, e.ticket, produceResp{err: err.Error(), why: key.Error(), master: int(n.b.State().Master)})
			return
		}
		s.afterBroker(n)
	case evProduceResp:
		w, ok := cl.waiting[e.ticket]
		if !ok {
			return
		}
		delete(cl.waiting, e.ticket)
		s.mix(e.ticket, uint64(e.resp.offset))
		if e.resp.ok {
			w.p.acked++
			w.p.streak = ""
			return
		}
		if w.p.refused == nil {
			w.p.refused = map[string]int{}
		}
		w.p.refused[e.resp.why]++
		if w.p.streak != e.resp.why {
			// The first of a run of like refusals is worth telling.
			w.p.streak = e.resp.why
			s.logEvent(Event{Kind: EventRefused, Broker: w.broker, Producer: w.p.id, Why: e.resp.why})
		}
		switch {
		case e.resp.master == w.broker:
			// The master itself refused (too few in-sync replicas): it
			// stays the one to ask.
		case e.resp.master >= 1 && e.resp.master <= Brokers:
			w.p.target = e.resp.master
		default:
			w.p.target = w.broker%Brokers + 1
		}
	case evProduceGiveUp:
		if w, ok := cl.waiting[e.ticket]; ok {
			delete(cl.waiting, e.ticket)
			w.p.gaveUp++
			w.p.target = w.broker%Brokers + 1
		}
	case evPoll:
		cl.poll(s, cl.consumers[e.client])
		s.schedule(event{at: s.now + int64(s.cfg.PollMs), kind: evPoll, client: e.client})
	}
}

// send sends p's next message to the broker p believes is master.
func (cl *clients) send(s *Sim, p *producer) {
	p.seq++
	cl.tickets++
	data := []byte(fmt.Sprintf("%s#%d", p.id, p.seq))
	if cl.waiting == nil {
		cl.waiting = map[uint64]*produce{}
	}
	cl.waiting[cl.tickets] = &produce{p: p, data: data, broker: p.target}
	p.sent++
	lat := int64(s.cfg.ClientLatencyMs)
	s.schedule(event{at: s.now + lat, kind: evProduceReq, node: Controllers + p.target, ticket: cl.tickets, data: data})
	s.schedule(event{at: s.now + int64(s.cfg.ProduceTimeoutMs), kind: evProduceGiveUp, ticket: cl.tickets})
}

// answer takes a broker's Ack for a write.
func (cl *clients) answer(s *Sim, n *brokerNode, a controller.Ack) {
	w, ok := cl.waiting[a.Ticket]
	if !ok {
		return // the producer gave up already; the write may still be there
	}
	r := produceResp{ok: a.Err == nil, offset: a.Offset}
	if a.Err != nil {
		r.err, r.why = a.Err.Error(), a.Err.Error()
		if u := errors.Unwrap(a.Err); u != nil {
			r.why = u.Error()
		}
	} else {
		cl.acked++
		s.check.acked(s, n, a.Offset, w.data, a.Epoch)
	}
	cl.respond(s, a.Ticket, r)
}

func (cl *clients) respond(s *Sim, ticket uint64, r produceResp) {
	s.schedule(event{at: s.now + int64(s.cfg.ClientLatencyMs), kind: evProduceResp, ticket: ticket, resp: r})
}

// poll reads up to 16 messages from the consumer's broker, then moves to
// the next broker: consumers read from masters and slaves alike, each up to
// its confirm offset.
func (cl *clients) poll(s *Sim, c *consumer) {
	n := s.brks[c.target-1]
	c.target = c.target%Brokers + 1
	if n.state != StateUp {
		return
	}
	s.cur = fmt.Sprintf("consumer %s reading from broker %d at offset %d", c.id, n.id-Controllers, c.offset)
	msgs, err := n.b.Read(c.offset, 16)
	if err != nil || len(msgs) == 0 {
		return
	}
	s.check.consumed(s, n, c, msgs)
	c.offset += int64(len(msgs))
	s.mix(uint64(c.offset))
}
