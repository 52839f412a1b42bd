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

	"dledgerlab/core/sim"
	"dledgerlab/native/client"
	"dledgerlab/native/server"
)

// produceDeadline bounds one produce, retries included.
const produceDeadline = 10 * time.Second

// consumePoll is how often a consumer reads.
const consumePoll = 200 * time.Millisecond

// recentKept is how many bodies a consumer view shows.
const recentKept = 8

type clients struct {
	ctx     context.Context
	cl      *client.Client
	members []Member
	wg      sync.WaitGroup

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
}

func newClients(ctx context.Context, cl *client.Client, members []Member) *clients {
	return &clients{ctx: ctx, cl: cl, members: members}
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

// consumer starts reading a topic from broker Node (0: the first broker)
// from offset 0; a consumer with the same id is replaced.
func (c *clients) consumer(a sim.Action) error {
	node := a.Node
	if node == 0 {
		node = 1
	}
	id := a.ID
	if id == "" {
		id = fmt.Sprintf("c%d", node)
	}
	ctx, cancel := context.WithCancel(c.ctx)
	k := &consumer{view: sim.ConsumerView{ID: id, Topic: a.Topic, Node: node, Recent: []string{}}, stop: cancel}
	c.mu.Lock()
	if i := slices.IndexFunc(c.consumers, func(x *consumer) bool { return x.view.ID == id }); i >= 0 {
		c.consumers[i].stop()
		c.consumers[i] = k
	} else {
		c.consumers = append(c.consumers, k)
	}
	c.mu.Unlock()
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
			select {
			case <-ctx.Done():
				return
			case <-time.After(consumePoll):
			}
		}
	}()
	return nil
}
