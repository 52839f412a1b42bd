package cluster

// Producers and consumers of the live view: the launcher is the client, so
// the page's producer and consumer panels show what real brokers answered
// (acknowledged after commit, NOT_LEADER, TIMEOUT with an unknown outcome…).

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"dledgerlab/core/broker"
	"dledgerlab/core/sim"
	"dledgerlab/native/client"
	"dledgerlab/native/server"
)

// produceDeadline bounds one produce, retries included.
const produceDeadline = 10 * time.Second

// consumePoll is how often a consumer reads.
const consumePoll = 200 * time.Millisecond

// recentKept is how many bodies a consumer view shows, and how many
// offsets delivered again.
const recentKept = 8

// DefaultOffsetCommit is how often a group's consumer commits its offset
// when the cluster does not say (RocketMQ's push consumer:
// persistConsumerOffsetInterval, 5 s).
const DefaultOffsetCommit = 5 * time.Second

type clients struct {
	ctx     context.Context
	cl      *client.Client
	members []Member
	// commitEvery is how often a group's consumer commits its offset.
	commitEvery time.Duration
	wg          sync.WaitGroup

	mu        sync.Mutex
	producers []*producer
	consumers []*consumer
}

type producer struct {
	view  sim.ProducerView
	seq   uint64
	queue chan job
	stop  context.CancelFunc // the steady sender, if any
}

type job struct {
	topic, body string
	node        int
}

type consumer struct {
	view sim.ConsumerView
	stop context.CancelFunc
	// seen: a group consumer delivered every offset below it (what makes a
	// message "delivered again").
	seen uint64
}

func newClients(ctx context.Context, cl *client.Client, members []Member, commitEvery time.Duration) *clients {
	if commitEvery <= 0 {
		commitEvery = DefaultOffsetCommit
	}
	return &clients{ctx: ctx, cl: cl, members: members, commitEvery: commitEvery}
}

func (c *clients) wait() { c.wg.Wait() }

// view copies the producer and consumer views.
func (c *clients) view() sim.ClientsView {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := sim.ClientsView{Producers: []sim.ProducerView{}, Consumers: []sim.ConsumerView{}}
	for _, p := range c.producers {
		out.Producers = append(out.Producers, p.view)
	}
	for _, k := range c.consumers {
		v := k.view
		v.Recent = slices.Clone(v.Recent)
		out.Consumers = append(out.Consumers, v)
	}
	return out
}

// producerLocked returns producer id, started on first use.
func (c *clients) producerLocked(id, topic string) *producer {
	for _, p := range c.producers {
		if p.view.ID == id {
			return p
		}
	}
	p := &producer{view: sim.ProducerView{ID: id, Topic: topic}, queue: make(chan job, 1024)}
	c.producers = append(c.producers, p)
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.send(p) }()
	return p
}

// produce queues one message on its producer (default "p1"); the producer
// sends its messages one at a time, in order.
func (c *clients) produce(a sim.Action) error {
	id := a.ID
	if id == "" {
		id = "p1"
	}
	c.mu.Lock()
	p := c.producerLocked(id, a.Topic)
	c.mu.Unlock()
	select {
	case p.queue <- job{topic: a.Topic, body: a.Body, node: a.Node}:
		return nil
	default:
		return conflict("producer %s has 1024 messages waiting; wait for the brokers to answer", id)
	}
}

// producer starts (Rate > 0) or stops (Rate 0) a steady producer.
func (c *clients) producer(a sim.Action) error {
	if a.Rate < 0 || a.Rate > 1000 || a.Rate != a.Rate {
		return badAction("producer: rate %v must be within 0..1000 messages per second", a.Rate)
	}
	id := a.ID
	if id == "" {
		id = "steady"
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.producerLocked(id, a.Topic)
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	if a.Rate == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(c.ctx)
	p.stop = cancel
	every := time.Duration(float64(time.Second) / a.Rate)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for i := 1; ; i++ {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
			}
			select {
			case p.queue <- job{topic: a.Topic, body: fmt.Sprintf("%s-%d", id, i), node: a.Node}:
			default: // the brokers are slower than the rate: skip this one
			}
		}
	}()
	return nil
}

// send is producer p's sender: one message at a time, with the same seq on
// every retry so a message is stored once.
func (c *clients) send(p *producer) {
	for {
		var j job
		select {
		case <-c.ctx.Done():
			return
		case j = <-p.queue:
		}
		c.mu.Lock()
		p.seq++
		seq := p.seq
		p.view.Sent++
		p.view.Topic = j.topic
		to := "the leader"
		if j.node != 0 {
			to = fmt.Sprintf("broker %d", j.node)
		}
		p.view.Pending = fmt.Sprintf("%s: %s → %s", j.topic, j.body, to)
		c.mu.Unlock()

		ctx, cancel := context.WithTimeout(c.ctx, produceDeadline)
		req := server.ProduceRequest{Body: j.body, Producer: p.view.ID, Seq: seq}
		var resp server.ProduceResponse
		var err error
		if j.node != 0 {
			resp, err = c.cl.ProduceTo(ctx, c.members[j.node-1].HTTPAddr, j.topic, req)
		} else {
			resp, err = c.cl.Produce(ctx, j.topic, req)
		}
		cancel()

		c.mu.Lock()
		p.view.Pending = ""
		var ae *client.APIError
		switch {
		case err == nil:
			p.view.Acked++
			p.view.Last = fmt.Sprintf("ok %d/t%d @%d", resp.Index, resp.Term, resp.QueueOffset)
		case errors.As(err, &ae):
			if ae.Outcome == "unknown" {
				p.view.Unknown++
			}
			p.view.Last = ae.Code
			if ae.Code == server.CodeNotLeader && ae.Leader != 0 {
				p.view.Last = fmt.Sprintf("%s (broker %d)", ae.Code, ae.Leader)
			}
		default:
			p.view.Unknown++
			p.view.Last = "no answer: " + err.Error()
		}
		c.mu.Unlock()
	}
}

// consumer starts a consumer; a consumer with the same id is replaced.
// Without a group it reads the topic from broker Node (0: the first
// broker) from offset 0. With a group it is one of the group's consumers
// (groupConsumer).
func (c *clients) consumer(a sim.Action) error {
	if a.Group != "" {
		if err := broker.CheckGroup(a.Group); err != nil {
			return badAction("consumer: %v", err)
		}
		return c.groupConsumer(a)
	}
	node := a.Node
	if node == 0 {
		node = 1
	}
	id := a.ID
	if id == "" {
		id = fmt.Sprintf("c%d", node)
	}
	k, ctx := c.addConsumer(sim.ConsumerView{ID: id, Topic: a.Topic, Node: node, Recent: []string{}})
	addr := c.members[node-1].HTTPAddr
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			c.mu.Lock()
			off := k.view.Offset
			c.mu.Unlock()
			rctx, rcancel := context.WithTimeout(ctx, 2*time.Second)
			resp, err := c.cl.Consume(rctx, addr, a.Topic, off, 100)
			rcancel()
			var ae *client.APIError
			if err == nil || (errors.As(err, &ae) && ae.Status == http.StatusNotFound) {
				c.mu.Lock()
				for _, m := range resp.Messages {
					k.view.Recent = append(k.view.Recent, m.Body)
				}
				if n := len(k.view.Recent); n > recentKept {
					k.view.Recent = slices.Delete(k.view.Recent, 0, n-recentKept)
				}
				if resp.NextOffset > k.view.Offset {
					k.view.Offset = resp.NextOffset
				}
				c.mu.Unlock()
			}
			if !sleep(ctx, consumePoll) {
				return
			}
		}
	}()
	return nil
}

// addConsumer adds (or replaces, by id) a consumer with view v and returns
// it with the context that stops it. A group consumer that replaces one of
// the same group and topic keeps its counts, as in the simulator.
func (c *clients) addConsumer(v sim.ConsumerView) (*consumer, context.Context) {
	ctx, cancel := context.WithCancel(c.ctx)
	k := &consumer{view: v, stop: cancel}
	c.mu.Lock()
	defer c.mu.Unlock()
	if i := slices.IndexFunc(c.consumers, func(x *consumer) bool { return x.view.ID == v.ID }); i >= 0 {
		old := c.consumers[i]
		old.stop()
		if v.Group != "" && old.view.Group == v.Group && old.view.Topic == v.Topic {
			k.seen = old.seen
			k.view.Delivered, k.view.Redelivered = old.view.Delivered, old.view.Redelivered
			k.view.Redone, k.view.Recent = slices.Clone(old.view.Redone), slices.Clone(old.view.Recent)
		}
		c.consumers[i] = k
	} else {
		c.consumers = append(c.consumers, k)
	}
	return k, ctx
}

// groupConsumer starts one consumer of group a.Group reading a.Topic, as
// the simulator's consumer does (core/sim/clients.go poll) and
// RocketMQ's push consumer: it reads from the leader (or from broker
// a.Node when given), asks that broker where the group is when it starts
// and whenever its broker changes (QUERY_CONSUMER_OFFSET), and commits the
// group's offset there every commitEvery (UPDATE_CONSUMER_OFFSET; a
// follower refuses it with NOT_LEADER). A message at an offset it already
// delivered counts as delivered again: after a failover to a broker with
// an older offset.
func (c *clients) groupConsumer(a sim.Action) error {
	id := a.ID
	if id == "" {
		c.mu.Lock()
		id = fmt.Sprintf("c%d", len(c.consumers)+1)
		c.mu.Unlock()
	}
	k, ctx := c.addConsumer(sim.ConsumerView{ID: id, Topic: a.Topic, Group: a.Group, Recent: []string{}})
	g := &groupPoll{c: c, k: k, group: a.Group, topic: a.Topic, pinned: a.Node, lastCommit: time.Now()}
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		for {
			g.poll(ctx)
			if !sleep(ctx, consumePoll) {
				return
			}
		}
	}()
	return nil
}

// groupPoll is a group consumer's state between polls (its goroutine's
// own; what the page sees is copied into k.view under clients.mu).
type groupPoll struct {
	c            *clients
	k            *consumer
	group, topic string
	pinned       int // the broker to read from (0: the leader)

	node       int    // the broker it reads from now (0: none yet)
	addr       string // its address
	next       uint64 // the next offset to read
	committed  uint64
	lastCommit time.Time
}

// poll is one round: find the broker (and where the group is on it), read
// what is committed past next, commit when commitEvery has passed.
func (g *groupPoll) poll(ctx context.Context) {
	if !g.maybeSwitch(ctx) {
		return
	}
	rctx, cancel := context.WithTimeout(ctx, 2*time.Second)
	resp, err := g.c.cl.Consume(rctx, g.addr, g.topic, g.next, 32)
	cancel()
	var ae *client.APIError
	switch {
	case errors.As(err, &ae) && ae.Code == server.CodeUnknownTopic:
		// nothing produced to this topic yet
	case errors.As(err, &ae) && ae.Code == server.CodeOffsetTooSmall && ae.MinOffset > g.next:
		// The messages before the broker's snapshot are gone there: go on
		// from its first one, which the answer gives (a RocketMQ
		// consumer's OFFSET_TOO_SMALL and nextBeginOffset).
		g.c.mu.Lock()
		g.next, g.k.seen = ae.MinOffset, max(g.k.seen, ae.MinOffset)
		g.c.mu.Unlock()
		g.show(nil)
	case err != nil:
		g.node, g.addr = 0, "" // gone or unreachable: find the broker again
		g.show(nil)
		return
	default:
		g.show(resp.Messages)
	}
	if time.Since(g.lastCommit) >= g.c.commitEvery {
		g.lastCommit = time.Now()
		if g.next != g.committed {
			g.commit(ctx)
		}
	}
}

// maybeSwitch makes sure the consumer reads from the broker it should (the
// leader, unless pinned), asking a new one where the group is; it reports
// whether there is one to read from.
func (g *groupPoll) maybeSwitch(ctx context.Context) bool {
	if g.pinned != 0 {
		if g.node == g.pinned {
			return true
		}
		addr := g.c.members[g.pinned-1].HTTPAddr
		fctx, cancel := context.WithTimeout(ctx, 2*time.Second)
		r, err := g.c.cl.FetchOffset(fctx, addr, g.group, g.topic)
		cancel()
		if err != nil {
			return false
		}
		g.resumed(g.pinned, addr, r.Offset)
		return true
	}
	sctx, cancel := context.WithTimeout(ctx, 3*time.Second)
	defer cancel()
	if g.addr != "" {
		if st, err := g.c.cl.StatusOnce(sctx, g.addr); err == nil && st.Role == "leader" {
			return true
		}
	}
	addr, r, err := g.c.cl.ResumeGroup(sctx, g.group, g.topic)
	if err != nil {
		if g.node != 0 {
			g.node, g.addr = 0, ""
			g.show(nil)
		}
		return false
	}
	g.resumed(int(r.Broker), addr, r.Offset)
	return true
}

// resumed: broker node answered that the group is at offset.
func (g *groupPoll) resumed(node int, addr string, offset uint64) {
	g.node, g.addr, g.next, g.committed = node, addr, offset, offset
	g.show(nil)
}

// show counts msgs as delivered or delivered again and copies the state
// into the view.
func (g *groupPoll) show(msgs []server.ConsumedMessage) {
	c, v := g.c, &g.k.view
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, m := range msgs {
		if m.QueueOffset < g.k.seen {
			v.Redelivered++
			v.Redone = append(v.Redone, m.QueueOffset)
			if n := len(v.Redone); n > recentKept {
				v.Redone = slices.Delete(v.Redone, 0, n-recentKept)
			}
		} else {
			v.Delivered++
			g.k.seen = m.QueueOffset + 1
		}
		g.next = m.QueueOffset + 1
		v.Recent = append(v.Recent, fmt.Sprintf("@%d %s", m.QueueOffset, m.Body))
		if n := len(v.Recent); n > recentKept {
			v.Recent = slices.Delete(v.Recent, 0, n-recentKept)
		}
	}
	v.Node, v.Offset, v.Committed = g.node, g.next, g.committed
}

// commit commits the group's offset to the broker it reads from. A broker
// that refuses (NOT_LEADER: it no longer leads) or does not answer keeps
// the offset uncommitted: the consumer tries again at its next commit,
// after its next poll has found the leader.
func (g *groupPoll) commit(ctx context.Context) {
	rctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	_, err := g.c.cl.CommitOffset(rctx, g.addr, g.group, g.topic, g.next)
	cancel()
	if err == nil {
		g.committed = g.next
		g.show(nil)
	}
}

// sleep waits d; false when ctx ended first.
func sleep(ctx context.Context, d time.Duration) bool {
	select {
	case <-ctx.Done():
		return false
	case <-time.After(d):
		return true
	}
}
