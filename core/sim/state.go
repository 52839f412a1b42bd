package sim

import (
	"fmt"
	"maps"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/internal/xrand"
)

// state is everything in a run that changes with time. clone copies it
// deeply, for checkpoints.
type state struct {
	// snapshotsInstalled counts snapshots brokers installed from a leader.
	snapshotsInstalled int
	cfg                *Config
	now                int64
	seq                uint64
	rng                xrand.Rand
	queue              eventQueue
	nodes              []*simNode
	net                network
	clients            clients
	check              checker
	// applied counts the recorded actions that have taken effect.
	applied int
	// log keeps the most recent events for the view, the last keepEvents of
	// it. When it reaches twice that, its last keepEvents move to the front:
	// in place, or to a new array if logShared says a checkpoint shares the
	// array (clone shares it, clipped, instead of copying it).
	log       []EventView
	logShared bool
	drops     []MessageView
	msgID     uint64
	// cur is the event being processed and curAction the action being
	// applied, for violation reports.
	cur       *event
	curAction string
	// rules are the current switches (actions may change them).
	switches switches
	// traps counts armed traps by name.
	traps map[string]int
	// damaged: a safety rule has been off in this run, so brokers may meet
	// its damage later even with the rule back on.
	damaged bool
	// tickNo counts the tick events so far; a broker has taken or queued
	// ticks up to its tickedTo (see catchUp). eagerTicks, for tests, hands
	// every broker every tick at once, as a tick-by-tick runner does.
	tickNo     int64
	eagerTicks bool
	// offsetSyncAt is when followers next copy the leader's consumer
	// offsets (the local mode's SlaveSynchronize timer; it runs on the
	// ticks, once a consumer exists, so runs without consumers are as
	// before).
	offsetSyncAt int64
}

type switches struct {
	DisableCheckQuorum bool
	DisablePreVote     bool
	Rules              core.Rules
}

const (
	keepEvents = 200
	keepDrops  = 32
)

func (st *state) clone() *state {
	c := *st
	c.queue = st.queue.clone()
	if st.cur != nil {
		c.cur = c.queue.current()
	}
	c.nodes = make([]*simNode, len(st.nodes))
	for i, n := range st.nodes {
		c.nodes[i] = n.clone()
	}
	c.net = st.net.Clone()
	c.clients = st.clients.clone()
	c.check = st.check.clone()
	c.log = slices.Clip(st.log)
	st.logShared = true
	c.drops = slices.Clone(st.drops)
	c.traps = maps.Clone(st.traps)
	return &c
}

// --- events -------------------------------------------------------------

type evKind uint8

const (
	evTick           evKind = iota // every broker ticks
	evDeliver                      // a message arrives at a broker
	evFsync                        // a broker's fsync completes
	evClientReq                    // a produce request arrives at a broker
	evClientResp                   // a broker's answer arrives at a producer
	evProducerTimer                // a producer's rate timer fires
	evProduceTimeout               // a producer gives up waiting
	evProducerRetry                // a producer retries after a short backoff
	evConsumerPoll                 // a consumer reads
	evCheckpoint                   // one of a broker's checkpoint fsyncs ends (brokerdisk.go)
)

// event is a plain value (no closures), so the queue can be copied.
type event struct {
	at   int64
	seq  uint64
	kind evKind
	node int    // the broker concerned
	gen  uint64 // evFsync: the broker's generation (a crash invalidates)
	// evDeliver
	msg    core.Message
	msgID  uint64
	sentAt int64
	lost   bool
	// client events
	client  int
	attempt uint64
	// req is an evClientReq's request and resp an evClientResp's answer,
	// behind pointers so the common events stay small. Neither changes once
	// scheduled, so a cloned queue shares them.
	req  *broker.Message
	resp *clientResp
}

func (e event) String() string {
	switch e.kind {
	case evTick:
		return fmt.Sprintf("tick at %d ms", e.at)
	case evDeliver:
		return fmt.Sprintf("delivering %s", e.msg)
	case evFsync:
		return fmt.Sprintf("broker %d finishing an fsync", e.node)
	case evClientReq:
		return fmt.Sprintf("broker %d receiving a produce of %s", e.node, *e.req)
	case evClientResp:
		return fmt.Sprintf("a producer receiving %s", *e.resp)
	case evProducerTimer, evProducerRetry:
		return "a producer sending"
	case evProduceTimeout:
		return "a producer timing out"
	case evConsumerPoll:
		return "a consumer reading"
	case evCheckpoint:
		return fmt.Sprintf("broker %d checkpointing its state", e.node)
	}
	return "an action"
}

func (st *state) schedule(e event) {
	st.seq++
	e.seq = st.seq
	st.queue.push(&e)
}

// step processes the next event.
func (st *state) step() {
	e := st.queue.pop()
	st.now = e.at
	st.cur, st.curAction = e, ""
	switch e.kind {
	case evTick:
		st.tickNo++
		for _, n := range st.nodes {
			switch {
			case st.eagerTicks:
				n.tickedTo = st.tickNo
				st.feed(n, &inboxItem{kind: inTick})
			case n.state == stateUp && n.tickedTo+int64(n.node.TicksUntilDue()) <= st.tickNo:
				// A broker takes the tick now only when it is due (its
				// timers fire); otherwise it is caught up before anything
				// else reaches it, which leaves it exactly as ticking would.
				st.catchUp(n)
			}
		}
		for _, n := range st.nodes {
			st.maybeCheckpoint(n)
		}
		st.schedule(event{at: st.now + int64(st.cfg.TickMs), kind: evTick})
		if len(st.clients.consumers) > 0 && st.cfg.Offsets != "replicated" {
			switch {
			case st.offsetSyncAt == 0:
				// The followers' timer runs on its own, not in step with
				// the consumers' commits: half a period out of phase here,
				// so after each commit the followers lag for a while.
				st.offsetSyncAt = st.now + int64(st.cfg.OffsetSyncMs)/2
			case st.now >= st.offsetSyncAt:
				st.offsetSyncAt = st.now + int64(st.cfg.OffsetSyncMs)
				st.syncOffsets()
			}
		}
	case evDeliver:
		st.deliver(e)
	case evFsync:
		n := st.nodes[e.node-1]
		if n.gen != e.gen || n.state == stateCrashed || n.state == stateRefused {
			return
		}
		if n.state == statePaused {
			n.fsyncDone = true
			return
		}
		st.catchUp(n)
		st.finishReady(n)
		st.drain(n)
	case evClientReq:
		n := st.nodes[e.node-1]
		st.input(n, inboxItem{kind: inReq, req: clientReq{client: e.client, attempt: e.attempt, msg: e.req}})
	case evClientResp:
		st.clients.response(st, e.client, e.attempt, e.resp)
	case evProducerTimer:
		st.clients.timer(st, e.client, e.attempt)
	case evProduceTimeout:
		st.clients.timeout(st, e.client, e)
	case evProducerRetry:
		st.clients.retry(st, e.client, e.attempt)
	case evConsumerPoll:
		st.clients.poll(st, e.client)
	case evCheckpoint:
		st.checkpointFsync(st.nodes[e.node-1], e)
	}
}

func (st *state) recordEvent(ev EventView) {
	if len(st.log) == 2*keepEvents {
		if st.logShared {
			fresh := make([]EventView, keepEvents, 2*keepEvents)
			copy(fresh, st.log[keepEvents:])
			st.log, st.logShared = fresh, false
		} else {
			st.log = st.log[:copy(st.log, st.log[keepEvents:])]
		}
	}
	st.log = append(st.log, ev)
}

// recentEvents returns the last keepEvents events, oldest first.
func (st *state) recentEvents() []EventView {
	recent := st.log[max(0, len(st.log)-keepEvents):]
	return append(make([]EventView, 0, len(recent)), recent...) // never nil: "events": [] in JSON
}

// simEvent records something the simulator itself did (crash, restart, …):
// why and args name the detail's sentence for translations (EventView).
func (st *state) simEvent(node int, kind, why string, args core.Args, detail string) {
	ev := EventView{TimeMs: st.now, Node: node, Kind: kind, Why: why, Args: args, Detail: detail}
	if node >= 1 && node <= len(st.nodes) {
		if n := st.nodes[node-1]; n.node != nil {
			ev.Term = n.node.Term()
		} else if hs, err := n.store.InitialState(); err == nil {
			ev.Term = hs.Term
		}
	}
	st.recordEvent(ev)
}
