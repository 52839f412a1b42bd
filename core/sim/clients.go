package sim

import (
	"errors"
	"fmt"
	"slices"
	"strconv"

	"dledgerlab/core"
	"dledgerlab/core/broker"
)

// This file is the clients: producers that send one message at a time and
// retry with the same producer sequence after a timeout or NOT_LEADER (so
// the broker can deduplicate), and consumers that read committed messages by
// queue offset.

// clientReq is a produce request on its way to a broker.
type clientReq struct {
	client  int
	attempt uint64
	msg     *broker.Message
}

// clientResp is a broker's answer to a produce.
type clientResp struct {
	From   int
	OK     bool
	Result broker.Result
	// Code is NOT_LEADER, NOT_COMMITTED, UNKNOWN or ERROR when !OK.
	Code string
	Lead int
	Text string
}

func (r clientResp) String() string {
	if r.OK {
		return fmt.Sprintf("ok %d@t%d offset %d", r.Result.Index, r.Result.Term, r.Result.QueueOffset)
	}
	if r.Code == "NOT_LEADER" {
		if r.Lead == 0 {
			return "NOT_LEADER (no leader known)" // broker 0 does not exist
		}
		return fmt.Sprintf("NOT_LEADER (leader: broker %d)", r.Lead)
	}
	return r.Code + " " + r.Text
}

// why names String's sentence and gives its values (ProducerView.LastWhy).
func (r clientResp) why() (string, core.Args) {
	switch {
	case r.OK:
		return "ok", core.NewArgs("index", r.Result.Index, "term", r.Result.Term, "offset", r.Result.QueueOffset)
	case r.Code == "NOT_LEADER" && r.Lead == 0:
		return "no-leader-known", nil
	case r.Code == "NOT_LEADER":
		return "not-leader", core.NewArgs("leader", r.Lead)
	}
	return "code", core.NewArgs("code", r.Code, "text", r.Text)
}

// ClientOp is one client operation, for the linearizability check.
type ClientOp struct {
	Client   string `json:"client"`
	Kind     string `json:"kind"` // "produce" or "consume"
	Topic    string `json:"topic"`
	Producer string `json:"producer"`
	Seq      uint64 `json:"seq"`
	// Offset is the queue offset answered (produce ok) or read (consume).
	Offset uint64 `json:"offset"`
	CallMs int64  `json:"call_ms"`
	// ReturnMs is -1 while pending or when the outcome is unknown.
	ReturnMs int64 `json:"return_ms"`
	// Outcome: "ok", "fail" (certainly not stored by this attempt),
	// "unknown" (timeout or leader change).
	Outcome string `json:"outcome"`
}

type clients struct {
	producers []*producer
	consumers []*consumer
	history   []ClientOp
}

type producer struct {
	id    string
	topic string
	node  int // fixed target broker, or 0: follow the leader
	rate  float64
	// timerGen invalidates old rate timers when the rate changes.
	timerGen uint64
	// The rate timer fires on a grid of 1/rate; lastTick is its last
	// firing. parked: the timer is not queued because a send is in
	// progress (a firing then would do nothing); once the producer is idle,
	// sendNext queues it at the next grid point.
	lastTick int64
	parked   bool
	seq      uint64
	attempts uint64
	out      *sendState
	// cur holds the send in progress; out points to it (or is nil).
	cur sendState
	// queue holds messages waiting for the send in progress.
	queue                         []queued
	guess                         int
	rr                            int
	sent, acked, unknown, retries int
	// last is the last answer (timedOut: the last attempt timed out).
	last     clientResp
	timedOut bool
	// timeoutArmed: an evProduceTimeout for this producer is queued. One
	// such event at a time stands for every attempt's deadline: when it
	// fires before the current attempt's deadline it is re-queued there.
	timeoutArmed bool
}

// queued is a message waiting to be sent, with its own topic.
type queued struct {
	topic string
	body  []byte
}

type sendState struct {
	topic string
	seq   uint64
	body  []byte
	// msg is the request every attempt of this send carries; it never
	// changes, so requests still in flight may share it.
	msg     *broker.Message
	attempt uint64
	target  int
	op      int // index in history, or -1
	// deadline and deadlineSeq are when the current attempt times out and
	// the event sequence number reserved for it when it was sent, so the
	// timeout is ordered among events exactly as if queued then.
	deadline    int64
	deadlineSeq uint64
}

// consumer is one member of a consumer group pulling one topic's queue,
// as a RocketMQ push consumer does: it keeps its position in memory
// (offset), commits it to the broker every OffsetCommitMs, and asks the
// broker for the group's committed offset when it starts and whenever the
// broker it reads from changes (a failover or a restart: what a restarted
// or rebalanced RocketMQ consumer does), so a broker with an older offset
// makes it deliver messages again (at least once).
type consumer struct {
	id     string
	group  string
	topic  string
	node   int
	offset uint64
	// from is the broker read last (0: none yet).
	from int
	// committed is the offset last committed and committedAt when.
	committed   uint64
	committedAt int64
	// seen is the group's high-water mark: every offset below it was
	// delivered at least once. delivered and redelivered count messages
	// delivered the first time and again; redone are the last offsets
	// delivered again.
	seen                   uint64
	delivered, redelivered int
	redone                 []uint64
	// recent are the last messages read, formatted only for the view.
	recent []readMsg
}

// readMsg is a message a consumer read.
type readMsg struct {
	offset uint64
	body   []byte
}

func (r readMsg) String() string { return fmt.Sprintf("@%d %s", r.offset, r.body) }

func (c clients) clone() clients {
	out := clients{history: slices.Clone(c.history)}
	for _, p := range c.producers {
		q := *p
		q.queue = slices.Clone(p.queue)
		if p.out != nil {
			q.out = &q.cur
		}
		out.producers = append(out.producers, &q)
	}
	for _, k := range c.consumers {
		q := *k
		q.recent = slices.Clone(k.recent)
		q.redone = slices.Clone(k.redone)
		out.consumers = append(out.consumers, &q)
	}
	return out
}

func (c *clients) producerFor(st *state, id, topic string, node int) (int, *producer) {
	if id == "" {
		id = "p1"
	}
	for i, p := range c.producers {
		if p.id == id {
			if topic != "" {
				p.topic = topic
			}
			p.node = node
			return i, p
		}
	}
	p := &producer{id: id, topic: topic, node: node}
	c.producers = append(c.producers, p)
	return len(c.producers) - 1, p
}

// produce queues one message on a producer and sends it if idle.
func (c *clients) produce(st *state, a Action) {
	i, p := c.producerFor(st, a.ID, a.Topic, a.Node)
	body := []byte(a.Body)
	if a.Body == "" {
		body = fmt.Appendf(nil, "%s-%d", p.id, p.seq+uint64(len(p.queue))+1)
	}
	p.queue = append(p.queue, queued{topic: a.Topic, body: body})
	c.sendNext(st, i)
}

// setProducer starts, re-rates or stops a producer.
func (c *clients) setProducer(st *state, a Action) {
	i, p := c.producerFor(st, a.ID, a.Topic, a.Node)
	p.rate = a.Rate
	p.timerGen++
	p.parked = false
	if p.rate > 0 {
		st.schedule(event{at: st.now, kind: evProducerTimer, client: i, attempt: p.timerGen})
	}
}

func (c *clients) timer(st *state, i int, gen uint64) {
	p := c.producers[i]
	if gen != p.timerGen || p.rate <= 0 {
		return
	}
	p.lastTick = st.now
	if p.out != nil || len(p.queue) > 0 {
		p.parked = true // sendNext queues the timer again once idle
		return
	}
	body := append(make([]byte, 0, len(p.id)+21), p.id...)
	body = strconv.AppendUint(append(body, '-'), p.seq+1, 10)
	p.queue = append(p.queue, queued{topic: p.topic, body: body})
	c.sendNext(st, i)
	// The send is now in progress, so the next grid point would find the
	// producer busy: park at once; the send's end queues the timer again.
	p.parked = true
}

// period is the rate timer's interval in milliseconds.
func (p *producer) period() int64 { return max(1, int64(1000/p.rate)) }

// unpark queues a parked rate timer at its next grid point.
func (c *clients) unpark(st *state, i int) {
	p := c.producers[i]
	if !p.parked || p.rate <= 0 {
		return
	}
	p.parked = false
	per := p.period()
	at := p.lastTick + max(1, (st.now-p.lastTick+per-1)/per)*per // the first grid point after lastTick not before now
	st.schedule(event{at: at, kind: evProducerTimer, client: i, attempt: p.timerGen})
}

// sendNext starts the next queued message if no send is in progress.
func (c *clients) sendNext(st *state, i int) {
	p := c.producers[i]
	if p.out != nil {
		return
	}
	if len(p.queue) == 0 {
		c.unpark(st, i)
		return
	}
	p.seq++
	q := p.queue[0]
	p.cur = sendState{topic: q.topic, seq: p.seq, body: q.body, op: -1,
		msg: &broker.Message{Topic: q.topic, Body: q.body, Producer: p.id, Seq: p.seq}}
	p.out = &p.cur
	// Shift rather than reslice, so the queue's array is reused instead of
	// shrinking to nothing and being reallocated by the next append.
	n := copy(p.queue, p.queue[1:])
	p.queue[n] = queued{}
	p.queue = p.queue[:n]
	p.sent++
	c.attempt(st, i)
}

// attempt sends the current message (again) to the broker the producer
// believes leads.
func (c *clients) attempt(st *state, i int) {
	p := c.producers[i]
	p.attempts++
	o := p.out
	o.attempt = p.attempts
	switch {
	case p.node != 0:
		o.target = p.node
	case p.guess != 0:
		o.target = p.guess
	default:
		p.rr++
		o.target = (p.rr-1)%len(st.nodes) + 1
	}
	st.schedule(event{at: st.now + int64(st.cfg.ClientLatencyMs), kind: evClientReq, node: o.target, client: i, attempt: o.attempt, req: o.msg})
	st.seq++
	o.deadline, o.deadlineSeq = st.now+int64(st.cfg.ProduceTimeoutMs), st.seq
	if !p.timeoutArmed {
		p.timeoutArmed = true
		st.queue.push(&event{at: o.deadline, seq: o.deadlineSeq, kind: evProduceTimeout, client: i})
	}
	if st.cfg.RecordHistory {
		o.op = len(c.history)
		c.history = append(c.history, ClientOp{Client: p.id, Kind: "produce", Topic: o.topic, Producer: p.id, Seq: o.seq, CallMs: st.now, ReturnMs: -1, Outcome: "unknown"})
	}
}

func (c *clients) finishOp(st *state, o *sendState, outcome string, offset uint64) {
	if o.op < 0 {
		return
	}
	op := &c.history[o.op]
	op.Outcome, op.Offset = outcome, offset
	if outcome != "unknown" {
		op.ReturnMs = st.now
	}
	o.op = -1
}

// respond sends a broker's answer back to the producer.
func (st *state) respond(client int, attempt uint64, r clientResp) {
	st.schedule(event{at: st.now + int64(st.cfg.ClientLatencyMs), kind: evClientResp, client: client, attempt: attempt, resp: &r})
}

func (c *clients) response(st *state, i int, attempt uint64, r *clientResp) {
	p := c.producers[i]
	o := p.out
	if o == nil || o.attempt != attempt {
		return // an answer to an attempt we gave up on
	}
	p.timedOut = false
	p.last = *r
	switch {
	case r.OK:
		p.acked++
		c.finishOp(st, o, "ok", r.Result.QueueOffset)
		st.check.acked(st, p, o, r.Result)
		p.guess = r.From
		p.out = nil
		c.sendNext(st, i)
		return
	case r.Code == "NOT_LEADER":
		c.finishOp(st, o, "fail", 0)
		p.guess = r.Lead
	case r.Code == "NOT_COMMITTED":
		c.finishOp(st, o, "fail", 0)
		p.guess = 0
	case r.Code == "UNKNOWN":
		c.finishOp(st, o, "unknown", 0)
		p.guess = 0
	default: // a message the broker will never take: give up on it
		c.finishOp(st, o, "fail", 0)
		p.out = nil
		c.sendNext(st, i)
		return
	}
	p.retries++
	st.schedule(event{at: st.now + int64(2*st.cfg.TickMs), kind: evProducerRetry, client: i, attempt: attempt})
}

func (c *clients) retry(st *state, i int, attempt uint64) {
	p := c.producers[i]
	if p.out != nil && p.out.attempt == attempt {
		c.attempt(st, i)
	}
}

// timeout: no answer in time; the outcome is unknown, so retry with the
// same sequence (the broker deduplicates).
func (c *clients) timeout(st *state, i int, e *event) {
	p := c.producers[i]
	p.timeoutArmed = false
	if p.out == nil {
		return
	}
	if o := p.out; o.deadline != e.at || o.deadlineSeq != e.seq {
		// An earlier attempt's deadline: wait for the current one's.
		p.timeoutArmed = true
		st.queue.push(&event{at: o.deadline, seq: o.deadlineSeq, kind: evProduceTimeout, client: i})
		return
	}
	p.unknown++
	p.retries++
	p.last, p.timedOut = clientResp{}, true
	c.finishOp(st, p.out, "unknown", 0)
	p.guess = 0
	c.attempt(st, i)
}

// produceAt is a broker receiving a produce (DLedgerCommitLog.putMessage):
// only the leader takes it; the answer waits for commit.
func (st *state) produceAt(n *simNode, req clientReq) {
	if n.node.Role() != core.RoleLeader {
		st.respond(req.client, req.attempt, clientResp{From: n.id, Code: "NOT_LEADER", Lead: int(n.node.Lead())})
		return
	}
	body, dup, err := n.br.Prepare(*req.msg)
	switch {
	case err != nil:
		st.respond(req.client, req.attempt, clientResp{From: n.id, Code: "ERROR", Text: err.Error()})
		return
	case dup != nil:
		st.respond(req.client, req.attempt, clientResp{From: n.id, OK: true, Result: *dup})
		return
	}
	idx, term, err := n.node.Propose(body)
	if err != nil {
		st.respond(req.client, req.attempt, clientResp{From: n.id, Code: "NOT_LEADER", Lead: int(n.node.Lead()), Text: err.Error()})
		return
	}
	t := n.br.Await(idx, term, req.msg.Producer, req.msg.Seq)
	n.tickets[t.ID] = ticketRef{client: req.client, attempt: req.attempt}
}

// addConsumer starts a consumer polling topic from broker Node (0: the leader).
func (c *clients) addConsumer(st *state, a Action) {
	id := a.ID
	if id == "" {
		id = fmt.Sprintf("c%d", len(c.consumers)+1)
	}
	group := a.Group
	if group == "" {
		group = id
	}
	for _, k := range c.consumers {
		if k.id == id {
			if k.group != group || k.topic != a.Topic {
				*k = consumer{id: id, group: group, topic: a.Topic, committedAt: st.now}
			}
			k.node = a.Node
			return
		}
	}
	c.consumers = append(c.consumers, &consumer{id: id, group: group, topic: a.Topic, node: a.Node, committedAt: st.now})
	st.schedule(event{at: st.now, kind: evConsumerPoll, client: len(c.consumers) - 1})
}

// poll reads what is committed past the consumer's offset, and commits
// the group's offset when OffsetCommitMs has passed.
func (c *clients) poll(st *state, i int) {
	k := c.consumers[i]
	st.schedule(event{at: st.now + int64(st.cfg.PollMs), kind: evConsumerPoll, client: i})
	var n *simNode
	if k.node != 0 {
		n = st.nodes[k.node-1]
	} else {
		n = st.leader()
	}
	if n == nil || n.state != stateUp {
		return
	}
	if k.from != n.id {
		// A broker it did not read from last: ask it where the group is
		// (RocketMQ's QUERY_CONSUMER_OFFSET).
		if !st.offsetsCurrent(n) {
			return
		}
		k.offset, k.from = n.br.Offset(k.group, k.topic), n.id
		k.committed = k.offset
		st.check.resumed(st, n, k)
	}
	msgs, err := n.br.Consume(k.topic, k.offset, 32)
	if errors.Is(err, broker.ErrOffsetTooSmall) {
		// The messages before the broker's snapshot are gone there: go on
		// from its first one (a RocketMQ consumer's OFFSET_TOO_SMALL).
		k.offset = n.br.Queue(k.topic).MinOffset()
		k.seen = max(k.seen, k.offset)
		return
	}
	if err != nil {
		return // nothing produced to this topic yet
	}
	for _, m := range msgs {
		st.check.consumed(st, n, k, m)
		if m.QueueOffset < k.seen {
			k.redelivered++
			if len(k.redone) == 8 {
				k.redone = k.redone[:copy(k.redone, k.redone[1:])]
			}
			k.redone = append(k.redone, m.QueueOffset)
		} else {
			k.delivered++
			k.seen = m.QueueOffset + 1
		}
		k.offset = m.QueueOffset + 1
		if len(k.recent) == 8 {
			n := copy(k.recent, k.recent[1:])
			k.recent = k.recent[:n]
		}
		k.recent = append(k.recent, readMsg{offset: m.QueueOffset, body: m.Message.Body})
		if st.cfg.RecordHistory {
			c.history = append(c.history, ClientOp{Client: k.id, Kind: "consume", Topic: k.topic,
				Producer: m.Message.Producer, Seq: m.Message.Seq, Offset: m.QueueOffset, CallMs: st.now, ReturnMs: st.now, Outcome: "ok"})
		}
	}
	if st.now-k.committedAt >= int64(st.cfg.OffsetCommitMs) {
		k.committedAt = st.now
		if k.offset != k.committed {
			st.commitOffset(n, k)
		}
	}
}

// commitOffset is a consumer's periodic offset commit
// (RemoteBrokerOffsetStore.persistAll → UPDATE_CONSUMER_OFFSET). Locally,
// the broker it reads from stores it; replicated, it becomes a log entry,
// proposed on the leader (a follower or an older leader cannot take it:
// the consumer tries again at its next commit).
func (st *state) commitOffset(n *simNode, k *consumer) {
	if st.cfg.Offsets != "replicated" {
		n.br.CommitOffset(k.group, k.topic, k.offset)
		k.committed = k.offset
		return
	}
	if n.node.Role() != core.RoleLeader {
		return
	}
	data, err := broker.EncodeOffsetCommit(broker.OffsetCommit{Group: k.group, Topic: k.topic, Offset: k.offset})
	if err != nil {
		return // the group and topic were checked when the consumer started
	}
	if _, _, err := n.node.Propose(data); err == nil {
		k.committed = k.offset
		st.drain(n)
	}
}

// offsetsCurrent says whether n can answer for a group's offset: locally
// always (it answers with what it has); replicated only once it has applied
// an entry of its current term as leader, since only then has it applied
// every commit the previous leaders got committed (Raft §8's rule for
// reads: a new leader first commits an entry of its own term).
func (st *state) offsetsCurrent(n *simNode) bool {
	if st.cfg.Offsets != "replicated" || n.node.Role() != core.RoleLeader {
		return true // a follower a consumer is pinned to answers with what it applied
	}
	return n.node.LeadsWithCurrentState(n.br.AppliedIndex())
}

// syncOffsets is the local mode's periodic copy of the leader's offsets to
// each follower that can reach it (SlaveSynchronize.syncConsumerOffset).
func (st *state) syncOffsets() {
	l := st.leader()
	if l == nil {
		return
	}
	var table map[string]map[string]uint64
	for _, f := range st.nodes {
		if f == l || f.state != stateUp || st.net.IsCut(Link{From: f.id, To: l.id}) || st.net.IsCut(Link{From: l.id, To: f.id}) {
			continue
		}
		if table == nil {
			table = l.br.Offsets()
		}
		f.br.SyncOffsets(table)
	}
}
