// Package ctlsim is the seeded simulator of RocketMQ's Controller mode
// (core/controller): three controllers, a Raft group on core.Node, and a
// broker group of three, with producers and consumers, under the fault
// model of core/sim — crashes, restarts, pauses, partitions, slow and lossy
// links (the network is core/internal/simnet, shared with core/sim; the
// actions and fault weights are core/sim's) — and checkers that run as
// things happen (check.go).
//
// Node ids on the network: controllers 1..3, brokers 4..6 (broker ids 1..3
// in their group). A run is a function of (Config, actions); the chaos run
// (chaos.go) draws both from its seed.
//
// The package is pure, like core: no clock, goroutine, file or socket.
package ctlsim

import (
	"container/heap"
	"errors"
	"fmt"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/commitlog"
	"dledgerlab/core/controller"
	"dledgerlab/core/internal/simnet"
	"dledgerlab/core/internal/xrand"
	"dledgerlab/core/sim"
)

// Controllers and Brokers are how many of each a simulated group has.
const (
	Controllers = 3
	Brokers     = 3
	// GroupName is the simulated broker group's name.
	GroupName = "broker-a"
)

// Config sets up a simulated Controller-mode cluster. Zero fields take
// DefaultConfig's values; durations are virtual milliseconds.
type Config struct {
	Seed   uint64
	TickMs int
	// Net is every link's behaviour at the start.
	Net simnet.LinkConf
	// ClientLatencyMs is the one-way delay between clients and brokers
	// (client links are never cut, as in core/sim).
	ClientLatencyMs int
	// ProduceTimeoutMs: a producer gives up waiting (outcome unknown).
	ProduceTimeoutMs int
	// PollMs is how often a consumer reads.
	PollMs int

	// BrokerHeartbeatMs and BrokerTimeoutMs: brokers heartbeat the
	// controller leader this often; one not heard for the timeout is not
	// alive.
	BrokerHeartbeatMs int
	BrokerTimeoutMs   int
	// HAMaxMsSlaveNotCatchup is haMaxTimeSlaveNotCatchup (15 s).
	HAMaxMsSlaveNotCatchup int
	// MinInSyncReplicas (1 by default, as RocketMQ's).
	MinInSyncReplicas int
	// AnyAck switches allAckInSyncStateSet off: the master acknowledges a
	// write once it holds it.
	AnyAck bool
	// Unclean switches enableElectUncleanMaster on.
	Unclean bool
	// PushMs is how often a master pushes to a slave that holds everything.
	PushMs int
}

// DefaultConfig is a 10 ms tick, 10–20 ms links, heartbeats every 500 ms
// with a 2 s timeout, RocketMQ's 15 s haMaxTimeSlaveNotCatchup, one
// in-sync replica at least, every set member acknowledging, clean
// elections.
func DefaultConfig() Config {
	c := Config{Seed: 1}
	c.fill()
	return c
}

func (c *Config) fill() {
	def := func(v *int, x int) {
		if *v == 0 {
			*v = x
		}
	}
	def(&c.TickMs, 10)
	if c.Net == (simnet.LinkConf{}) {
		c.Net = simnet.LinkConf{LatencyMs: 10, JitterMs: 10}
	}
	def(&c.ClientLatencyMs, 5)
	def(&c.ProduceTimeoutMs, 3000)
	def(&c.PollMs, 100)
	def(&c.BrokerHeartbeatMs, 500)
	def(&c.BrokerTimeoutMs, 2000)
	def(&c.HAMaxMsSlaveNotCatchup, 15_000)
	def(&c.MinInSyncReplicas, 1)
	def(&c.PushMs, 50)
}

// ErrConfig is wrapped by every error about an impossible setting.
var ErrConfig = errors.New("invalid controller-mode simulator setting")

func (c Config) ticks(ms int) int { return max(1, ms/c.TickMs) }

func (c Config) validate() error {
	switch {
	case c.TickMs < 1 || c.TickMs > 1000:
		return fmt.Errorf("%w: tick_ms = %d, want 1..1000", ErrConfig, c.TickMs)
	case c.MinInSyncReplicas < 1 || c.MinInSyncReplicas > Brokers:
		return fmt.Errorf("%w: min_in_sync_replicas = %d, want 1..%d", ErrConfig, c.MinInSyncReplicas, Brokers)
	case c.BrokerTimeoutMs <= c.BrokerHeartbeatMs:
		return fmt.Errorf("%w: the broker timeout must exceed the heartbeat interval", ErrConfig)
	case c.Net.Loss < 0 || c.Net.Loss > 1 || c.Net.Dup < 0 || c.Net.Dup > 1 || c.Net.Reorder < 0 || c.Net.Reorder > 1:
		return fmt.Errorf("%w: loss, dup and reorder are probabilities", ErrConfig)
	}
	return nil
}

// Node states, as core/sim names them.
const (
	StateUp      = "up"
	StateCrashed = "crashed"
	StatePaused  = "paused"
)

// Sim is a simulated Controller-mode cluster.
type Sim struct {
	cfg   Config
	now   int64
	seq   uint64
	rng   xrand.Rand
	queue events
	net   simnet.Net
	ctls  []*ctlNode
	brks  []*brokerNode
	cl    clients
	check checker
	// digest hashes what happened, in order (TestControllerChaosDigest).
	digest uint64
	// cur names what is being processed, for violation reports.
	cur string
	// truncations counts CommitLogs cut back on rejoining.
	truncations int
	// For the view (view.go): the latest events; the highest controller
	// term logged as led; the group state last logged.
	events  []Event
	ledTerm uint64
	logged  controller.Group
}

type ctlNode struct {
	id    int
	state string
	c     *controller.Controller
	store *commitlog.MemStore
	inbox []wire
}

type brokerNode struct {
	id    int // network id (4..6)
	state string
	b     *controller.Broker
	disk  *controller.Disk
	inbox []wire
	// For the view: the CommitLog and epoch file as last seen, and the
	// last truncation with what it cut.
	seen       [][]byte
	seenEpochs controller.EpochFile
	truncated  *TruncationView
}

// wire is one message on the network: exactly one field is set.
type wire struct {
	raft  *core.Message
	req   *controller.Request
	reply *controller.Reply
	ha    *controller.HAMessage
}

func (w wire) String() string {
	switch {
	case w.raft != nil:
		return w.raft.String()
	case w.req != nil:
		return w.req.String()
	case w.reply != nil:
		return w.reply.String()
	case w.ha != nil:
		return w.ha.String()
	}
	return "nothing"
}

// New starts a cluster at virtual time 0: every node up with an empty disk.
func New(cfg Config) (*Sim, error) {
	cfg.fill()
	if err := cfg.validate(); err != nil {
		return nil, err
	}
	s := &Sim{cfg: cfg, rng: xrand.New(cfg.Seed ^ 0xC0A7401), net: simnet.New(cfg.Net), digest: fnvOffset}
	for id := 1; id <= Controllers; id++ {
		n := &ctlNode{id: id, store: commitlog.NewMemStore(commitlog.Options{SegmentSize: 1 << 16})}
		if err := s.bootController(n); err != nil {
			return nil, err
		}
		s.ctls = append(s.ctls, n)
	}
	for id := 1; id <= Brokers; id++ {
		n := &brokerNode{id: Controllers + id, disk: &controller.Disk{}}
		if err := s.bootBroker(n); err != nil {
			return nil, err
		}
		s.brks = append(s.brks, n)
	}
	s.schedule(event{at: int64(cfg.TickMs), kind: evTick})
	return s, nil
}

func (s *Sim) bootController(n *ctlNode) error {
	peers := make([]core.NodeID, Controllers)
	for i := range peers {
		peers[i] = core.NodeID(i + 1)
	}
	cc := core.DefaultConfig(core.NodeID(n.id), peers, s.rng.Uint64())
	cc.Storage = n.store
	c, err := controller.New(cc, controller.Options{
		BrokerTimeoutTicks:       s.cfg.ticks(s.cfg.BrokerTimeoutMs),
		EnableElectUncleanMaster: s.cfg.Unclean,
	})
	if err != nil {
		return err
	}
	n.c, n.state, n.inbox = c, StateUp, nil
	s.check.controllerStarted(n)
	return nil
}

func (s *Sim) bootBroker(n *brokerNode) error {
	ctls := make([]int, Controllers)
	for i := range ctls {
		ctls[i] = i + 1
	}
	b, err := controller.NewBroker(controller.BrokerOptions{
		Group: GroupName, ID: controller.BrokerID(n.id - Controllers), Controllers: ctls,
		HeartbeatTicks:            s.cfg.ticks(s.cfg.BrokerHeartbeatMs),
		HAMaxTicksSlaveNotCatchup: s.cfg.ticks(s.cfg.HAMaxMsSlaveNotCatchup),
		AllAckInSyncStateSet:      !s.cfg.AnyAck,
		MinInSyncReplicas:         s.cfg.MinInSyncReplicas,
		PushTicks:                 s.cfg.ticks(s.cfg.PushMs),
		MaxPushEntries:            32,
		RetryTicks:                s.cfg.ticks(s.cfg.BrokerHeartbeatMs),
	}, n.disk)
	if err != nil {
		return err
	}
	n.b, n.state, n.inbox = b, StateUp, nil
	s.seeBroker(n)
	return nil
}

// seeBroker remembers n's CommitLog and epoch file for the view (a slice
// header; the epoch file copied only when it changed).
func (s *Sim) seeBroker(n *brokerNode) {
	n.seen = n.disk.Log
	if e := n.disk.Epochs; len(e) != len(n.seenEpochs) || e.Last() != n.seenEpochs.Last() {
		n.seenEpochs = slices.Clone(e)
	}
}

// Config returns the configuration with defaults filled in.
func (s *Sim) Config() Config { return s.cfg }

// Now returns the virtual time in milliseconds.
func (s *Sim) Now() int64 { return s.now }

// Digest fingerprints everything that happened so far, in order.
func (s *Sim) Digest() uint64 { return s.digest }

// Violations returns what the checkers found so far.
func (s *Sim) Violations() []sim.Violation {
	return append([]sim.Violation(nil), s.check.violations...)
}

// Broker returns broker id's replica (1..3), nil while it is down.
func (s *Sim) Broker(id int) *controller.Broker {
	if n := s.brks[id-1]; n.state != StateCrashed {
		return n.b
	}
	return nil
}

// Controller returns controller id (1..3), nil while it is down.
func (s *Sim) Controller(id int) *controller.Controller {
	if n := s.ctls[id-1]; n.state != StateCrashed {
		return n.c
	}
	return nil
}

// BrokerNode returns broker id's network node id (for actions).
func BrokerNode(id int) int { return Controllers + id }

// NodeState returns a network node's state (controllers 1..3, brokers
// 4..6).
func (s *Sim) NodeState(node int) string {
	if node <= Controllers {
		return s.ctls[node-1].state
	}
	return s.brks[node-Controllers-1].state
}

// Master returns the broker acting as master with the highest epoch, and
// that epoch (0, 0 if none).
func (s *Sim) Master() (id int, epoch uint64) {
	for i, n := range s.brks {
		if n.state == StateUp && n.b.Role() == controller.RoleMaster && n.b.State().MasterEpoch >= epoch {
			id, epoch = i+1, n.b.State().MasterEpoch
		}
	}
	return id, epoch
}

// LeaderController returns the controller leading in the highest term, or
// 0.
func (s *Sim) LeaderController() int {
	id, term := 0, uint64(0)
	for _, n := range s.ctls {
		if n.state == StateUp && n.c.Node().Role() == core.RoleLeader && n.c.Node().Term() >= term {
			id, term = n.id, n.c.Node().Term()
		}
	}
	return id
}

// Advance runs virtual time forward by ms.
func (s *Sim) Advance(ms int64) {
	end := s.now + ms
	for s.queue.Len() > 0 && s.queue[0].at <= end {
		e := heap.Pop(&s.queue).(*event)
		s.now = e.at
		s.step(e)
	}
	s.now = end
}

// --- events -------------------------------------------------------------

type evKind uint8

const (
	evTick evKind = iota
	evDeliver
	evProducer    // a producer's rate timer
	evProduceReq  // a produce arrives at a broker
	evProduceResp // a broker's answer arrives at a producer
	evProduceGiveUp
	evPoll
)

type event struct {
	at   int64
	seq  uint64
	kind evKind
	node int // network id
	msg  wire
	lost bool
	sent int64 // when a delivery was sent
	// client events
	client int
	ticket uint64
	data   []byte
	resp   produceResp
}

type events []*event

func (q events) Len() int { return len(q) }
func (q events) Less(i, j int) bool {
	if q[i].at != q[j].at {
		return q[i].at < q[j].at
	}
	return q[i].seq < q[j].seq
}
func (q events) Swap(i, j int) { q[i], q[j] = q[j], q[i] }
func (q *events) Push(x any)   { *q = append(*q, x.(*event)) }
func (q *events) Pop() any {
	old := *q
	e := old[len(old)-1]
	old[len(old)-1] = nil
	*q = old[:len(old)-1]
	return e
}

func (s *Sim) schedule(e event) {
	s.seq++
	e.seq = s.seq
	heap.Push(&s.queue, &e)
}

const (
	fnvOffset = 14695981039346656037
	fnvPrime  = 1099511628211
)

// mix folds values into the digest.
func (s *Sim) mix(vs ...uint64) {
	for _, v := range vs {
		s.digest = (s.digest ^ v) * fnvPrime
	}
}

func (s *Sim) step(e *event) {
	s.mix(uint64(e.at), uint64(e.kind), uint64(e.node))
	switch e.kind {
	case evTick:
		s.cur = fmt.Sprintf("tick at %d ms", s.now)
		for _, n := range s.ctls {
			if n.state == StateUp {
				n.c.Tick()
				s.afterController(n)
			}
		}
		for _, n := range s.brks {
			if n.state == StateUp {
				n.b.Tick()
				s.afterBroker(n)
			}
		}
		s.schedule(event{at: s.now + int64(s.cfg.TickMs), kind: evTick})
	case evDeliver:
		s.cur = "delivering " + e.msg.String()
		if e.lost || s.net.IsCut(simnet.Link{From: e.msg.from(), To: e.node}) {
			s.mix(1)
			return
		}
		s.deliver(e.node, e.msg)
	default:
		s.cl.step(s, e)
	}
}

func (w wire) from() int {
	switch {
	case w.raft != nil:
		return int(w.raft.From)
	case w.req != nil:
		return Controllers + int(w.req.Broker)
	case w.reply != nil:
		return w.reply.Controller
	}
	return Controllers + int(w.ha.From)
}

// send puts w on the wire to network node to.
func (s *Sim) send(to int, w wire) {
	var ds [2]simnet.Delivery
	for _, d := range ds[:s.net.Plan(&s.rng, s.now, simnet.Link{From: w.from(), To: to}, &ds)] {
		s.schedule(event{at: d.At, kind: evDeliver, node: to, msg: w, lost: d.Lost, sent: s.now})
	}
}

// deliver hands w to node, or queues it while the node is paused.
func (s *Sim) deliver(node int, w wire) {
	if node <= Controllers {
		n := s.ctls[node-1]
		switch n.state {
		case StatePaused:
			n.inbox = append(n.inbox, w)
		case StateUp:
			if w.raft != nil {
				n.c.Step(*w.raft)
			} else {
				n.c.Handle(*w.req)
			}
			s.afterController(n)
		}
		return
	}
	n := s.brks[node-Controllers-1]
	switch n.state {
	case StatePaused:
		n.inbox = append(n.inbox, w)
	case StateUp:
		if w.reply != nil {
			n.b.HandleReply(*w.reply)
		} else {
			n.b.HandleHA(*w.ha)
		}
		s.afterBroker(n)
	}
}

// afterController runs the controller's Readys: persist (the controllers'
// disks sync at once in this model), send, apply; then its replies.
func (s *Sim) afterController(n *ctlNode) {
	for n.state == StateUp && n.c.HasReady() {
		rd := n.c.Ready()
		for i := range rd.Eager {
			m := rd.Eager[i]
			s.send(int(m.To), wire{raft: &m})
		}
		if rd.HardStateChanged {
			n.store.SetHardState(rd.HardState)
			if n.c.Node().Role() == core.RoleLeader && rd.HardState.Term == n.c.Node().Term() {
				s.check.leaderCommitted(n, rd.HardState.Term, rd.HardState.Commit)
			}
		}
		if len(rd.Entries) > 0 {
			s.check.appended(s, n, rd.Entries)
			if err := n.store.Append(rd.Entries); err != nil {
				panic(fmt.Sprintf("controller %d: writing entries: %v", n.id, err))
			}
		}
		n.store.Sync()
		for i := range rd.Messages {
			m := rd.Messages[i]
			s.send(int(m.To), wire{raft: &m})
		}
		for _, e := range rd.Committed {
			s.check.controllerApplied(s, n, e)
		}
		n.c.Advance(rd)
		s.check.controllerRole(s, n)
	}
	if n.state == StateUp {
		s.noteController(n)
	}
	for _, r := range n.c.TakeReplies() {
		r := r
		s.send(Controllers+int(r.To), wire{reply: &r})
	}
}

// afterBroker sends what the broker wants sent and answers producers.
func (s *Sim) afterBroker(n *brokerNode) {
	out := n.b.TakeOutput()
	for _, ev := range out.Events {
		s.mix(uint64(ev.Kind), ev.Epoch, uint64(ev.From), uint64(ev.To))
		if ev.Kind == controller.EvTruncated {
			s.truncations++
		}
		s.check.brokerEvent(s, n, ev)
		s.noteBroker(n, ev)
	}
	s.seeBroker(n)
	for i := range out.Requests {
		r := out.Requests[i]
		s.send(r.Controller, wire{req: &r})
	}
	for i := range out.HA {
		m := out.HA[i]
		s.send(Controllers+int(m.To), wire{ha: &m})
	}
	for _, a := range out.Acks {
		s.cl.answer(s, n, a)
	}
}

// Do applies one action (core/sim's kinds: crash, restart, pause, resume,
// partition, isolate, heal, link, net), on network node ids 1..6.
func (s *Sim) Do(a sim.Action) error {
	s.cur = "action " + a.Kind
	s.mix(uint64(len(a.Kind)), uint64(a.Node), uint64(a.From), uint64(a.To))
	if err := s.do(a); err != nil {
		return err
	}
	a.AtMs = s.now
	s.logEvent(Event{Kind: EventAction, Action: &a})
	return nil
}

func (s *Sim) do(a sim.Action) error {
	nodes := Controllers + Brokers
	if (a.Kind == sim.KindCrash || a.Kind == sim.KindRestart || a.Kind == sim.KindPause || a.Kind == sim.KindResume || a.Kind == sim.KindIsolate) &&
		(a.Node < 1 || a.Node > nodes) {
		return fmt.Errorf("%s: node %d is not 1..%d", a.Kind, a.Node, nodes)
	}
	switch a.Kind {
	case sim.KindCrash:
		return s.crash(a.Node)
	case sim.KindRestart:
		return s.restart(a.Node)
	case sim.KindPause:
		if s.NodeState(a.Node) != StateUp {
			return fmt.Errorf("pause: node %d is %s", a.Node, s.NodeState(a.Node))
		}
		s.setState(a.Node, StatePaused)
	case sim.KindResume:
		if s.NodeState(a.Node) != StatePaused {
			return fmt.Errorf("resume: node %d is %s", a.Node, s.NodeState(a.Node))
		}
		s.resume(a.Node)
	case sim.KindPartition:
		for _, g := range a.Groups {
			for _, id := range g {
				if id < 1 || id > nodes {
					return fmt.Errorf("partition: node %d is not 1..%d", id, nodes)
				}
			}
		}
		s.net.Partition(a.Groups, a.OneWay)
	case sim.KindIsolate:
		s.net.Isolate(a.Node, nodes)
	case sim.KindHeal:
		s.net.Heal()
	case sim.KindLink:
		if a.From < 1 || a.From > nodes || a.To < 1 || a.To > nodes || a.From == a.To {
			return fmt.Errorf("link: %d→%d is not a link between nodes 1..%d", a.From, a.To, nodes)
		}
		s.net.Links[simnet.Link{From: a.From, To: a.To}] = simnet.LinkConf{LatencyMs: a.LatencyMs, JitterMs: a.JitterMs, Loss: a.Loss, Dup: a.Dup, Reorder: a.Reorder}
	case sim.KindNet:
		s.net.Def = simnet.LinkConf{LatencyMs: a.LatencyMs, JitterMs: a.JitterMs, Loss: a.Loss, Dup: a.Dup, Reorder: a.Reorder}
		clear(s.net.Links)
	default:
		return fmt.Errorf("action %q is not part of the controller-mode simulator", a.Kind)
	}
	return nil
}

func (s *Sim) setState(node int, st string) {
	if node <= Controllers {
		s.ctls[node-1].state = st
	} else {
		s.brks[node-Controllers-1].state = st
	}
}

// crash stops a node: its memory is gone, its disk stays.
func (s *Sim) crash(node int) error {
	if st := s.NodeState(node); st == StateCrashed {
		return fmt.Errorf("crash: node %d is down already", node)
	}
	if node <= Controllers {
		n := s.ctls[node-1]
		n.store.Crash()
		n.state, n.c, n.inbox = StateCrashed, nil, nil
		return nil
	}
	// Writes waiting at the broker get no answer: their producers give up.
	n := s.brks[node-Controllers-1]
	n.state, n.b, n.inbox = StateCrashed, nil, nil
	return nil
}

// restart starts a crashed node from its disk.
func (s *Sim) restart(node int) error {
	if st := s.NodeState(node); st != StateCrashed {
		return fmt.Errorf("restart: node %d is %s", node, st)
	}
	if node <= Controllers {
		return s.bootController(s.ctls[node-1])
	}
	return s.bootBroker(s.brks[node-Controllers-1])
}

// resume unfreezes a paused node; what arrived meanwhile is handled now,
// in order (a paused process's sockets kept it). The ticks it missed are
// gone: its timers resume where they stopped.
func (s *Sim) resume(node int) {
	s.setState(node, StateUp)
	var inbox []wire
	if node <= Controllers {
		inbox, s.ctls[node-1].inbox = s.ctls[node-1].inbox, nil
	} else {
		inbox, s.brks[node-Controllers-1].inbox = s.brks[node-Controllers-1].inbox, nil
	}
	for _, w := range inbox {
		if s.NodeState(node) != StateUp {
			return
		}
		s.deliver(node, w)
	}
}
