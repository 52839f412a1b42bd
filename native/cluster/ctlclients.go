package cluster

// The Controller-mode live view's own producers and consumers: what the
// page's "Send one message", "Start" (a steady producer) and "Start
// consumer" do on real brokers. A producer writes "p1#1", "p1#2", … to the
// broker it believes is the master (POST /v1/messages), one write at a
// time, and follows NOT_MASTER's answer to the master; a consumer reads
// the master's confirmed messages (GET /v1/messages) from its offset on.
// Their counts are the view's clients, their refusals its events, and the
// writes they were told are acknowledged mark the CommitLog entries
// "acked".

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"sync"
	"time"

	"dledgerlab/core/controller"
	"dledgerlab/core/ctlsim"
	"dledgerlab/native/ctlbroker"
	"dledgerlab/native/server"
)

// ctlAckedKeep bounds the acknowledged writes remembered.
const ctlAckedKeep = 8192

type ctlClients struct {
	l  *CtlLive
	hc *http.Client
	wg sync.WaitGroup

	mu        sync.Mutex
	producers []*ctlProducer
	consumers []*ctlConsumer
}

type ctlProducer struct {
	id     string
	rate   float64
	target int // broker id it believes is the master (0: ask the view)
	seq    uint64
	sent   int
	acked  int
	gaveUp int
	// refused counts refusals by why; streak is the last answer's why
	// ("" acknowledged), so a run of the same refusal is one event.
	refused map[string]int
	streak  string
	stop    context.CancelFunc
}

type ctlConsumer struct {
	id     string
	offset int64
}

func (c *ctlClients) init(l *CtlLive) {
	c.l = l
	c.hc = &http.Client{Timeout: ctlbroker.DefaultProduceTimeout + 5*time.Second}
}

func (c *ctlClients) wait() { c.wg.Wait() }

// view returns the producers and consumers (never nil).
func (c *ctlClients) view() ([]ctlsim.ProducerView, []ctlsim.ConsumerView) {
	c.mu.Lock()
	defer c.mu.Unlock()
	ps, cs := []ctlsim.ProducerView{}, []ctlsim.ConsumerView{}
	for _, p := range c.producers {
		pv := ctlsim.ProducerView{ID: p.id, Rate: p.rate, Target: p.target, Sent: p.sent, Acked: p.acked, GaveUp: p.gaveUp}
		if len(p.refused) > 0 {
			pv.Refused = map[string]int{}
			for k, n := range p.refused {
				pv.Refused[k] = n
			}
		}
		ps = append(ps, pv)
	}
	for _, s := range c.consumers {
		cs = append(cs, ctlsim.ConsumerView{ID: s.id, Offset: s.offset})
	}
	return ps, cs
}

// get returns producer id, adding a stopped one. Callers hold c.mu.
func (c *ctlClients) get(id string) *ctlProducer {
	for _, p := range c.producers {
		if p.id == id {
			return p
		}
	}
	p := &ctlProducer{id: id}
	c.producers = append(c.producers, p)
	return p
}

// produce sends one message through producer id (added, stopped, if new).
func (c *ctlClients) produce(id string) error {
	c.mu.Lock()
	p := c.get(id)
	c.mu.Unlock()
	c.wg.Add(1)
	go func() { defer c.wg.Done(); c.send(p) }()
	return nil
}

// producer sets producer id's rate (0 stops it).
func (c *ctlClients) producer(id string, rate float64) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	p := c.get(id)
	if p.stop != nil {
		p.stop()
		p.stop = nil
	}
	p.rate = rate
	if rate == 0 {
		return nil
	}
	ctx, cancel := context.WithCancel(c.l.ctx)
	p.stop = cancel
	every := max(time.Millisecond, time.Duration(float64(time.Second)/rate))
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(every)
		defer t.Stop()
		for {
			select {
			case <-ctx.Done():
				return
			case <-t.C:
				c.send(p) // one write at a time: a slow master slows it down
			}
		}
	}()
	return nil
}

// consumer starts consumer id reading the master from offset 0.
func (c *ctlClients) consumer(id string) error {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.consumers {
		if s.id == id {
			return conflict("consumer %s is already reading (offset %d)", id, s.offset)
		}
	}
	s := &ctlConsumer{id: id}
	c.consumers = append(c.consumers, s)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		t := time.NewTicker(CtlPollInterval)
		defer t.Stop()
		for {
			c.mu.Lock()
			off := s.offset
			c.mu.Unlock()
			if b := c.l.master(); b > 0 {
				var r ctlbroker.ReadResponse
				if c.l.get(c.l.ctx, c.l.cfg.Brokers.Node(b).HTTPAddr, fmt.Sprintf("/v1/messages?offset=%d&max=100", off), &r) == nil {
					c.mu.Lock()
					s.offset = max(s.offset, r.NextOffset)
					c.mu.Unlock()
				}
			}
			select {
			case <-c.l.ctx.Done():
				return
			case <-t.C:
			}
		}
	}()
	return nil
}

// send writes p's next message and counts how it ended.
func (c *ctlClients) send(p *ctlProducer) {
	c.mu.Lock()
	p.seq++
	body := fmt.Sprintf("%s#%d", p.id, p.seq)
	if p.target == 0 {
		p.target = c.l.master()
	}
	target := p.target
	p.sent++
	c.mu.Unlock()
	why, retarget := "", 0
	if target == 0 {
		why = "no master"
	} else {
		why, retarget = c.post(target, body)
	}
	c.mu.Lock()
	switch why {
	case "":
		p.acked++
	case "gave up":
		p.gaveUp++
	default:
		if p.refused == nil {
			p.refused = map[string]int{}
		}
		p.refused[why]++
	}
	newStreak := why != p.streak
	p.streak = why
	if why != "" {
		p.target = retarget // 0: ask the view again next time
	}
	c.mu.Unlock()
	if newStreak && why != "" && why != "gave up" {
		c.l.mu.Lock()
		c.l.logEvent(ctlsim.Event{Kind: ctlsim.EventRefused, Broker: target, Producer: p.id, Why: why})
		c.l.mu.Unlock()
	}
}

// post writes body to broker b. why is "" when acknowledged, the
// refusal's reason in ctlsim's words, or "gave up" (no answer, or an
// outcome the broker does not know); retarget is the master a refusal
// named (0: none).
func (c *ctlClients) post(b int, body string) (why string, retarget int) {
	data, _ := json.Marshal(ctlbroker.ProduceRequest{Body: body})
	req, err := http.NewRequestWithContext(c.l.ctx, http.MethodPost, "http://"+c.l.cfg.Brokers.Node(b).HTTPAddr+"/v1/messages", bytes.NewReader(data))
	if err != nil {
		return "gave up", 0
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.hc.Do(req)
	if err != nil {
		return "gave up", 0
	}
	defer resp.Body.Close()
	if resp.StatusCode == http.StatusOK {
		var ok ctlbroker.ProduceResponse
		if json.NewDecoder(resp.Body).Decode(&ok) != nil {
			return "gave up", 0
		}
		c.l.mu.Lock()
		c.l.acked[ok.Offset] = body
		if len(c.l.acked) > ctlAckedKeep {
			for off := range c.l.acked {
				if off < ok.Offset-ctlAckedKeep/2 {
					delete(c.l.acked, off)
				}
			}
		}
		c.l.mu.Unlock()
		return "", b
	}
	var env struct {
		Error server.ErrorBody `json:"error"`
	}
	json.NewDecoder(resp.Body).Decode(&env)
	switch env.Error.Code {
	case ctlbroker.CodeNotMaster:
		return controller.ErrNotMaster.Error(), int(env.Error.Leader)
	case ctlbroker.CodeNotEnough:
		return "IN_SYNC_REPLICAS_NOT_ENOUGH", b
	case server.CodeLeaderChanged:
		return "deposed before the write was acknowledged", 0
	}
	return "gave up", 0
}

// master is the broker the controllers elected, as the view knows it,
// else a running broker that says it is master (0: none).
func (l *CtlLive) master() int {
	l.mu.Lock()
	defer l.mu.Unlock()
	if lead := l.leaderController(); lead > 0 {
		if m := int(l.ctls[lead-1].resp.Group.Master); m > 0 {
			return m
		}
	}
	for i, b := range l.brks {
		if fresh(b.at, b.pid, l.cfg.Brokers.Node(i+1)) && b.st.Role == controller.RoleMaster.String() {
			return i + 1
		}
	}
	return 0
}
