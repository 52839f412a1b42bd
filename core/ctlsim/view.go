package ctlsim

import (
	"bytes"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/controller"
	"dledgerlab/core/internal/simnet"
	"dledgerlab/core/sim"
)

// View is what the playground draws in Controller mode: the controllers
// (a Raft group on core.Node), the group state they agree on, and each
// broker's CommitLog, epoch file and idea of the group — the pieces of
// RocketMQ's controller design (docs/en/controller/design.md) a learner
// watches change when a master fails. It is a plain value, built from the
// run at one moment; the page never reaches into the simulator.
type View struct {
	// Mode is "controller" (core/sim's ClusterView says "sim" or "live").
	Mode string `json:"mode"`
	// Live: real processes (`dledgerlab cluster --mode controller`)
	// built this frame, not the simulator; TimeMs counts from the
	// launcher's start. The simulator never sets it.
	Live   bool   `json:"live,omitempty"`
	TimeMs int64  `json:"time_ms"`
	Seed   uint64 `json:"seed"`
	// Controllers are controllers 1..3 (network ids 1..3).
	Controllers []ControllerView `json:"controllers"`
	// Group is the broker group's state as the leading controller applied
	// it (or, without a leader, the controller that applied the most).
	Group controller.Group `json:"group"`
	// Brokers are brokers 1..3 (network ids 4..6).
	Brokers  []BrokerView  `json:"brokers"`
	Messages []MessageView `json:"messages"`
	// Cuts are blocked links between network ids.
	Cuts       []sim.Link      `json:"cuts"`
	Events     []Event         `json:"events"`
	Violations []sim.Violation `json:"violations"`
	Clients    ClientsView     `json:"clients"`
	Settings   SettingsView    `json:"settings"`
	Timeline   TimelineView    `json:"timeline"`
}

// ControllerView is one controller.
type ControllerView struct {
	ID    int    `json:"id"`
	State string `json:"state"`
	// Role is core's: "leader", "follower", "candidate", "pre-candidate"
	// ("" while down).
	Role    string `json:"role,omitempty"`
	Term    uint64 `json:"term"`
	Lead    int    `json:"lead"`
	Commit  uint64 `json:"commit"`
	Applied uint64 `json:"applied"`
	// Group is this controller's copy of the group state.
	Group controller.Group `json:"group"`
}

// BrokerView is one broker of the group. Its disk (CommitLog, epoch file,
// last accepted state) is shown while it is down too: it survives a crash.
type BrokerView struct {
	ID    int    `json:"id"`
	Node  int    `json:"node"`
	State string `json:"state"`
	// Role is "master", "slave" or "none" (down, just started, deposed).
	Role string `json:"role"`
	// Known is the newest group state this broker accepted.
	Known     controller.Group         `json:"known"`
	Pending   *controller.AlterRequest `json:"pending,omitempty"`
	MaxOffset int64                    `json:"max_offset"`
	// Confirm is what consumers may read below (0 while not serving).
	Confirm int64                `json:"confirm"`
	Epochs  controller.EpochFile `json:"epochs"`
	// Log is the CommitLog's tail from LogFirst on.
	LogFirst int64       `json:"log_first"`
	Log      []EntryView `json:"log"`
	// Truncated is what the broker cut off its CommitLog last, on rejoining.
	Truncated *TruncationView `json:"truncated,omitempty"`
}

// EntryView is one CommitLog entry.
type EntryView struct {
	Offset int64  `json:"offset"`
	Body   string `json:"body"`
	// Epoch is the master epoch that wrote it (from the epoch file).
	Epoch uint64 `json:"epoch"`
	// Acked: a producer was told this very write is safe.
	Acked bool `json:"acked,omitempty"`
}

// TruncationView is a CommitLog cut back from From to To: Entries are
// the last of what was cut, Acked how many of all cut were acknowledged.
type TruncationView struct {
	AtMs    int64       `json:"at_ms"`
	From    int64       `json:"from"`
	To      int64       `json:"to"`
	Acked   int         `json:"acked"`
	Entries []EntryView `json:"entries"`
}

// MessageView is one message on the wire between network nodes.
type MessageView struct {
	From   int   `json:"from"`
	To     int   `json:"to"`
	SentMs int64 `json:"sent_ms"`
	AtMs   int64 `json:"at_ms"`
	// Kind is "raft" (between controllers), "heartbeat" or "alter" (broker
	// to controller), "reply", "push" or "ack" (HA, between brokers).
	Kind string `json:"kind"`
	// Type names a Raft message ("vote", "push", …).
	Type string `json:"type,omitempty"`
}

// ClientsView sums up producers and consumers.
type ClientsView struct {
	Acked     int            `json:"acked"`
	Producers []ProducerView `json:"producers"`
	Consumers []ConsumerView `json:"consumers"`
}

// ProducerView is one producer.
type ProducerView struct {
	ID string `json:"id"`
	// Rate is messages per second (0: stopped).
	Rate    float64        `json:"rate"`
	Target  int            `json:"target"`
	Sent    int            `json:"sent"`
	Acked   int            `json:"acked"`
	Refused map[string]int `json:"refused,omitempty"`
	GaveUp  int            `json:"gave_up"`
}

// ConsumerView is one consumer.
type ConsumerView struct {
	ID     string `json:"id"`
	Offset int64  `json:"offset"`
}

// SettingsView is the run's configuration, in RocketMQ's names.
type SettingsView struct {
	TickMs                   int  `json:"tick_ms"`
	MinInSyncReplicas        int  `json:"min_in_sync_replicas"`
	AllAckInSyncStateSet     bool `json:"all_ack_in_sync_state_set"`
	EnableElectUncleanMaster bool `json:"enable_elect_unclean_master"`
	BrokerHeartbeatMs        int  `json:"broker_heartbeat_ms"`
	BrokerTimeoutMs          int  `json:"broker_timeout_ms"`
	HAMaxMsSlaveNotCatchup   int  `json:"ha_max_ms_slave_not_catchup"`
}

// TimelineView says how far the run reaches and where its actions are.
type TimelineView struct {
	EndMs   int64          `json:"end_ms"`
	Actions []TimelineMark `json:"actions"`
}

// TimelineMark is one recorded action on the timeline.
type TimelineMark struct {
	AtMs int64  `json:"at"`
	Kind string `json:"kind"`
	Node int    `json:"node,omitempty"`
}

// Event kinds a View's events carry. The page words each one in the
// learner's language from its fields.
const (
	EventAction     = "action"    // a learner's (or lesson's) action: Action
	EventLeader     = "leader"    // controller Node leads in Term
	EventElected    = "elected"   // the controllers elected Broker master of Epoch (0: nobody)
	EventSetChanged = "set"       // the controllers changed the SyncStateSet to Set at SetEpoch
	EventMaster     = "master"    // Broker took the master role for Epoch
	EventSlave      = "slave"     // Broker follows the master of Epoch
	EventDeposed    = "deposed"   // Broker, a master, learned of a newer epoch and stopped
	EventTruncated  = "truncated" // Broker cut its CommitLog from From back to To
	EventAlter      = "alter"     // master Broker asked the controllers for Set
	EventRefused    = "refused"   // Broker refused Producer's write: Why
	EventViolation  = "violation" // a checker failed: Why
	maxEvents       = 200         // events the run keeps
	viewEvents      = 60          // events a View carries
	viewLogEntries  = 24          // CommitLog entries a View shows per broker
	viewMessages    = 200         // messages a View shows at most
	maxTruncatedRow = viewLogEntries
)

// Event is one thing that happened, for the page's list.
type Event struct {
	AtMs     int64                 `json:"at_ms"`
	Kind     string                `json:"kind"`
	Node     int                   `json:"node,omitempty"`
	Broker   int                   `json:"broker,omitempty"`
	Term     uint64                `json:"term,omitempty"`
	Epoch    uint64                `json:"epoch,omitempty"`
	SetEpoch uint64                `json:"set_epoch,omitempty"`
	Set      []controller.BrokerID `json:"set,omitempty"`
	From     int64                 `json:"from,omitempty"`
	To       int64                 `json:"to,omitempty"`
	Producer string                `json:"producer,omitempty"`
	Why      string                `json:"why,omitempty"`
	Action   *sim.Action           `json:"action,omitempty"`
}

// logEvent keeps e, stamped with the time, among the last maxEvents.
func (s *Sim) logEvent(e Event) {
	e.AtMs = s.now
	if len(s.events) == maxEvents {
		copy(s.events, s.events[1:])
		s.events = s.events[:maxEvents-1]
	}
	s.events = append(s.events, e)
}

// noteBroker turns a broker's events into the page's, and remembers the
// tail of its CommitLog so a truncation can show what was cut.
func (s *Sim) noteBroker(n *brokerNode, ev controller.Event) {
	id := n.id - Controllers
	switch ev.Kind {
	case controller.EvBecameMaster:
		s.logEvent(Event{Kind: EventMaster, Broker: id, Epoch: ev.Epoch})
	case controller.EvBecameSlave:
		s.logEvent(Event{Kind: EventSlave, Broker: id, Epoch: ev.Epoch})
	case controller.EvDeposed:
		s.logEvent(Event{Kind: EventDeposed, Broker: id, Epoch: ev.Epoch})
	case controller.EvAlter:
		s.logEvent(Event{Kind: EventAlter, Broker: id, Set: slices.Clone(ev.Set)})
	case controller.EvTruncated:
		s.logEvent(Event{Kind: EventTruncated, Broker: id, From: ev.From, To: ev.To})
		// The broker cut with slices.Clip, so the old array still holds
		// what was cut (n.seen is the CommitLog as last seen).
		t := &TruncationView{AtMs: s.now, From: ev.From, To: ev.To}
		end := min(ev.From, int64(len(n.seen)))
		for off := ev.To; off < end; off++ {
			e := s.entryView(n.seenEpochs, off, n.seen[off])
			if e.Acked {
				t.Acked++
			}
			if off >= end-maxTruncatedRow {
				t.Entries = append(t.Entries, e)
			}
		}
		n.truncated = t
	}
}

// noteController logs a new controller leader, and a group state the
// leader applied that is newer than the last one logged.
func (s *Sim) noteController(n *ctlNode) {
	node := n.c.Node()
	if node.Role() != core.RoleLeader {
		return
	}
	if node.Term() > s.ledTerm {
		s.ledTerm = node.Term()
		s.logEvent(Event{Kind: EventLeader, Node: n.id, Term: node.Term()})
	}
	g, ok := n.c.Group(GroupName)
	if !ok || !g.Newer(s.logged) {
		return
	}
	if g.MasterEpoch != s.logged.MasterEpoch {
		s.logEvent(Event{Kind: EventElected, Node: n.id, Broker: int(g.Master), Epoch: g.MasterEpoch, Set: slices.Clone(g.SyncStateSet), SetEpoch: g.SyncStateSetEpoch})
	} else {
		s.logEvent(Event{Kind: EventSetChanged, Node: n.id, Broker: int(g.Master), Epoch: g.MasterEpoch, Set: slices.Clone(g.SyncStateSet), SetEpoch: g.SyncStateSetEpoch})
	}
	s.logged = g.Clone()
}

// entryView describes the entry at off, written under epochs.
func (s *Sim) entryView(epochs controller.EpochFile, off int64, data []byte) EntryView {
	e := EntryView{Offset: off, Body: string(data)}
	for _, ep := range epochs {
		if ep.StartOffset > off {
			break
		}
		e.Epoch = ep.Epoch
	}
	if off < int64(len(s.check.kept)) {
		k := s.check.kept[off]
		e.Acked = k.why == "acknowledged" && bytes.Equal(k.data, data)
	}
	return e
}

// View describes the run now.
func (s *Sim) View() View {
	v := View{Mode: "controller", TimeMs: s.now, Seed: s.cfg.Seed, Violations: slices.Clone(s.check.violations)}
	if v.Violations == nil {
		v.Violations = []sim.Violation{}
	}
	best := -1
	for i, n := range s.ctls {
		cv := ControllerView{ID: n.id, State: n.state}
		if n.c != nil {
			node := n.c.Node()
			cv.Role, cv.Term, cv.Lead, cv.Commit, cv.Applied = node.Role().String(), node.Term(), int(node.Lead()), node.Status().Commit, n.c.Applied()
			cv.Group, _ = n.c.Group(GroupName)
			if best < 0 || s.ctls[best].c == nil || n.c.Applied() > s.ctls[best].c.Applied() {
				best = i
			}
		}
		v.Controllers = append(v.Controllers, cv)
	}
	if lead := s.LeaderController(); lead > 0 {
		best = lead - 1
	}
	if best >= 0 {
		v.Group = v.Controllers[best].Group
	}
	for _, n := range s.brks {
		bv := BrokerView{ID: n.id - Controllers, Node: n.id, State: n.state, Role: controller.RoleNone.String(),
			Known: n.disk.State.Clone(), MaxOffset: int64(len(n.disk.Log)), Epochs: slices.Clone(n.disk.Epochs), Truncated: n.truncated}
		if n.b != nil {
			bv.Role, bv.Pending, bv.Confirm = n.b.Role().String(), n.b.Pending(), n.b.ConfirmOffset()
		}
		if bv.Epochs == nil {
			bv.Epochs = controller.EpochFile{}
		}
		bv.LogFirst = max(0, bv.MaxOffset-viewLogEntries)
		bv.Log = []EntryView{}
		for off := bv.LogFirst; off < bv.MaxOffset; off++ {
			bv.Log = append(bv.Log, s.entryView(n.disk.Epochs, off, n.disk.Log[off]))
		}
		v.Brokers = append(v.Brokers, bv)
	}
	v.Messages = []MessageView{}
	for _, e := range s.queue {
		if e.kind != evDeliver || e.lost || len(v.Messages) == viewMessages {
			continue
		}
		m := MessageView{From: e.msg.from(), To: e.node, SentMs: e.sent, AtMs: e.at}
		switch {
		case e.msg.raft != nil:
			m.Kind, m.Type = "raft", e.msg.raft.Type.String()
		case e.msg.req != nil && e.msg.req.Kind == controller.ReqHeartbeat:
			m.Kind = "heartbeat"
		case e.msg.req != nil:
			m.Kind = "alter"
		case e.msg.reply != nil:
			m.Kind = "reply"
		case e.msg.ha.Kind == controller.HAPush:
			m.Kind = "push"
		default:
			m.Kind = "ack"
		}
		v.Messages = append(v.Messages, m)
	}
	// The heap's order is not the sending order: sort for a stable frame.
	slices.SortFunc(v.Messages, func(a, b MessageView) int {
		if a.SentMs != b.SentMs {
			return int(a.SentMs - b.SentMs)
		}
		if a.From != b.From {
			return a.From - b.From
		}
		return a.To - b.To
	})
	v.Cuts = []sim.Link{}
	for a := 1; a <= Controllers+Brokers; a++ {
		for b := 1; b <= Controllers+Brokers; b++ {
			if a != b && s.net.IsCut(simnet.Link{From: a, To: b}) {
				v.Cuts = append(v.Cuts, sim.Link{From: a, To: b})
			}
		}
	}
	v.Events = slices.Clone(s.events[max(0, len(s.events)-viewEvents):])
	if v.Events == nil {
		v.Events = []Event{}
	}
	v.Clients = ClientsView{Acked: s.cl.acked, Producers: []ProducerView{}, Consumers: []ConsumerView{}}
	for _, p := range s.cl.producers {
		pv := ProducerView{ID: p.id, Target: p.target, Sent: p.sent, Acked: p.acked, GaveUp: p.gaveUp}
		if p.rateMs > 0 {
			pv.Rate = 1000 / float64(p.rateMs)
		}
		if len(p.refused) > 0 {
			pv.Refused = make(map[string]int, len(p.refused))
			for k, n := range p.refused {
				pv.Refused[k] = n
			}
		}
		v.Clients.Producers = append(v.Clients.Producers, pv)
	}
	for _, c := range s.cl.consumers {
		v.Clients.Consumers = append(v.Clients.Consumers, ConsumerView{ID: c.id, Offset: c.offset})
	}
	c := s.cfg
	v.Settings = SettingsView{TickMs: c.TickMs, MinInSyncReplicas: c.MinInSyncReplicas, AllAckInSyncStateSet: !c.AnyAck,
		EnableElectUncleanMaster: c.Unclean, BrokerHeartbeatMs: c.BrokerHeartbeatMs, BrokerTimeoutMs: c.BrokerTimeoutMs,
		HAMaxMsSlaveNotCatchup: c.HAMaxMsSlaveNotCatchup}
	v.Timeline = TimelineView{EndMs: s.now, Actions: []TimelineMark{}}
	return v
}
