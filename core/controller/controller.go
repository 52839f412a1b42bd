package controller

import (
	"fmt"
	"slices"

	"dledgerlab/core"
)

// Options are a controller's settings beyond its Raft replica's.
type Options struct {
	// BrokerTimeoutTicks: a broker not heard from for this long is not
	// alive (RocketMQ's controller heartbeat timeout). A new controller
	// leader waits this long before it judges anyone, since it has heard
	// nobody yet.
	BrokerTimeoutTicks int
	// EnableElectUncleanMaster lets an election pick a replica outside
	// the SyncStateSet when no member is alive: the group comes back
	// sooner, and what only the set held is lost.
	EnableElectUncleanMaster bool
}

// Controller is one controller: a Raft replica (core.Node) whose log holds
// Ops, and the State they build. Only the leader (RocketMQ's "active"
// controller) answers brokers and proposes Ops; every controller applies
// the committed ones.
//
// Use it as a core.Node: feed Tick, Step and Handle; take Ready, persist
// its entries and hard state, send its messages; then Advance, which
// applies the committed Ops; TakeReplies hands out the answers for
// brokers. Not safe for concurrent use.
type Controller struct {
	node    *core.Node
	opts    Options
	state   State
	applied uint64
	// now counts ticks; leaderSince is when this controller last became
	// leader (valid while it leads).
	now         int64
	leading     bool
	leaderSince int64
	// seen is the leader's volatile heartbeat view (BrokerHeartbeatManager):
	// lost when it stops leading or restarts, as RocketMQ's is.
	seen map[brokerKey]liveInfo
	// proposed: log index → what waits on it (an alter's broker, a
	// register or an election in flight).
	proposed map[uint64]proposal
	replies  []Reply
}

type brokerKey struct {
	group  string
	broker BrokerID
}

type liveInfo struct {
	at        int64
	epoch     uint64
	maxOffset int64
}

type proposal struct {
	op  Op
	req *Request // an alter to answer when applied
}

// New starts a controller whose replica is configured by cfg (its Storage
// holds what an earlier run persisted: the Ops are applied again from the
// start, cfg.Applied must be 0).
func New(cfg core.Config, o Options) (*Controller, error) {
	if o.BrokerTimeoutTicks <= 0 {
		return nil, fmt.Errorf("%w: BrokerTimeoutTicks = %d, want > 0", core.ErrConfig, o.BrokerTimeoutTicks)
	}
	if cfg.Applied != 0 {
		return nil, fmt.Errorf("%w: a controller rebuilds its state from its log; Applied must be 0", core.ErrConfig)
	}
	n, err := core.NewNode(cfg)
	if err != nil {
		return nil, err
	}
	return &Controller{node: n, opts: o, seen: map[brokerKey]liveInfo{}, proposed: map[uint64]proposal{}}, nil
}

// Node returns the Raft replica (for status and checks; do not feed it
// directly).
func (c *Controller) Node() *core.Node { return c.node }

// Group returns a group's state as this controller applied it.
func (c *Controller) Group(name string) (Group, bool) { return c.state.Group(name) }

// Applied returns the index of the last Op applied.
func (c *Controller) Applied() uint64 { return c.applied }

// Tick advances time by one tick; the leader looks for groups whose master
// is gone and proposes elections.
func (c *Controller) Tick() {
	c.now++
	c.node.Tick()
	c.noticeRole()
	if c.leading {
		c.scan()
	}
}

// Step hands the Raft replica a message from another controller.
func (c *Controller) Step(m core.Message) {
	c.node.Step(m)
	c.noticeRole()
}

// noticeRole starts or forgets the leader's volatile state.
func (c *Controller) noticeRole() {
	lead := c.node.Role() == core.RoleLeader
	switch {
	case lead && !c.leading:
		c.leaderSince = c.now
	case !lead && c.leading:
		clear(c.seen)
		clear(c.proposed) // their answers go unsent: brokers ask again
	}
	c.leading = lead
}

// ready reports whether this controller may answer brokers: it leads and
// has applied everything earlier leaders committed.
func (c *Controller) ready() bool {
	return c.leading && c.node.LeadsWithCurrentState(c.applied)
}

// Handle takes one request from a broker; answers come out of TakeReplies.
func (c *Controller) Handle(r Request) {
	if !c.ready() {
		lead := 0
		if l := c.node.Lead(); l != c.node.ID() {
			lead = int(l)
		}
		c.reply(Reply{Kind: r.Kind, To: r.Broker, NotLeader: true, Leader: lead})
		return
	}
	switch r.Kind {
	case ReqHeartbeat:
		c.seen[brokerKey{r.Group, r.Broker}] = liveInfo{at: c.now, epoch: r.Epoch, maxOffset: r.MaxOffset}
		g, _ := c.state.Group(r.Group)
		if !slices.Contains(g.Replicas, r.Broker) && !c.inFlight(OpRegister, r.Group, r.Broker) {
			c.propose(Op{Kind: OpRegister, Group: r.Group, Broker: r.Broker}, nil)
		}
		c.reply(Reply{Kind: r.Kind, To: r.Broker, Group: g})
	case ReqAlterSyncStateSet:
		op := Op{Kind: OpAlterSyncStateSet, Group: r.Group, Broker: r.Broker, MasterEpoch: r.MasterEpoch,
			SyncStateSetEpoch: r.SyncStateSetEpoch, SyncStateSet: slices.Clone(r.SyncStateSet)}
		// Refused at once if it would be refused when applied (it is
		// checked again then: Ops ahead of it may change the group).
		trial := c.state.Clone()
		if res := trial.Apply(op); !res.OK {
			g, _ := c.state.Group(r.Group)
			c.reply(Reply{Kind: r.Kind, To: r.Broker, Why: res.Why, Group: g})
			return
		}
		req := r
		c.propose(op, &req)
	}
}

// TakeReplies returns the answers for brokers queued since the last call.
func (c *Controller) TakeReplies() []Reply {
	out := c.replies
	c.replies = nil
	return out
}

func (c *Controller) reply(r Reply) {
	r.Controller = int(c.node.ID())
	c.replies = append(c.replies, r)
}

// Ready returns what the Raft replica wants done (core.Node.Ready).
func (c *Controller) Ready() core.Ready { return c.node.Ready() }

// HasReady reports whether Ready would have anything to do.
func (c *Controller) HasReady() bool { return c.node.HasReady() }

// Advance applies rd's committed Ops, answers the requests waiting on them,
// and tells the replica rd was processed (its entries and hard state must
// be persisted by now).
func (c *Controller) Advance(rd core.Ready) {
	for _, e := range rd.Committed {
		c.applied = e.Index
		if e.Type != core.EntryNormal || len(e.Data) == 0 {
			continue
		}
		op, err := DecodeOp(e.Data)
		if err != nil {
			panic(fmt.Sprintf("controller %d: entry %d: %v", c.node.ID(), e.Index, err))
		}
		res := c.state.Apply(op)
		p, ok := c.proposed[e.Index]
		if !ok {
			continue
		}
		delete(c.proposed, e.Index)
		if p.req != nil {
			c.reply(Reply{Kind: p.req.Kind, To: p.req.Broker, Accepted: res.OK, Why: res.Why, Group: res.Group})
		}
	}
	c.node.Advance(rd)
	c.noticeRole()
}

// propose appends op to the log and remembers what waits on it.
func (c *Controller) propose(op Op, req *Request) {
	idx, _, err := c.node.Propose(op.Encode())
	if err != nil {
		return // a transfer is under way: the broker asks again
	}
	c.proposed[idx] = proposal{op: op, req: req}
}

// inFlight reports whether an Op of kind for (group, broker) is proposed
// and not applied yet.
func (c *Controller) inFlight(kind OpKind, group string, broker BrokerID) bool {
	for _, p := range c.proposed {
		if p.op.Kind == kind && p.op.Group == group && (kind == OpElectMaster || p.op.Broker == broker) {
			return true
		}
	}
	return false
}

// alive reports whether the leader heard from the broker within the
// timeout.
func (c *Controller) alive(group string, b BrokerID) (liveInfo, bool) {
	li, ok := c.seen[brokerKey{group, b}]
	return li, ok && c.now-li.at < int64(c.opts.BrokerTimeoutTicks)
}

// scan proposes an election for every group whose master is not alive
// (ControllerManager's scan of inactive brokers and its electMaster),
// once this leader has led for a whole broker timeout: before that it has
// not heard every live broker yet.
func (c *Controller) scan() {
	if !c.ready() || c.now-c.leaderSince < int64(c.opts.BrokerTimeoutTicks) {
		return
	}
	for _, g := range c.state.groups {
		if _, ok := c.alive(g.Name, g.Master); ok && g.Master != NoMaster {
			continue
		}
		if c.inFlight(OpElectMaster, g.Name, 0) {
			continue
		}
		op := Op{Kind: OpElectMaster, Group: g.Name, MasterEpoch: g.MasterEpoch, Unclean: c.opts.EnableElectUncleanMaster}
		for _, b := range g.Replicas {
			if li, ok := c.alive(g.Name, b); ok {
				op.Alive = append(op.Alive, Candidate{ID: b, Epoch: li.epoch, MaxOffset: li.maxOffset})
			}
		}
		// Propose only what would change the group (a group with no
		// master and no candidate would log an election every tick).
		trial := c.state.Clone()
		if res := trial.Apply(op); res.OK {
			c.propose(op, nil)
		}
	}
}
