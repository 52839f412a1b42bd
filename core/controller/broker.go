package controller

import (
	"errors"
	"fmt"
	"slices"
)

// Role is a broker's part in its group.
type Role uint8

const (
	// RoleNone: the broker does not know of a master it may follow or be
	// (just started, deposed, or the group has none). It takes no writes.
	RoleNone Role = iota
	// RoleMaster takes writes and pushes its CommitLog to slaves.
	RoleMaster
	// RoleSlave copies the master's CommitLog.
	RoleSlave
)

func (r Role) String() string {
	switch r {
	case RoleMaster:
		return "master"
	case RoleSlave:
		return "slave"
	}
	return "none"
}

// Errors a producer or consumer handles.
var (
	// ErrNotMaster: only the master takes writes (and a broker that has
	// not heard the controllers since it started serves nothing).
	ErrNotMaster = errors.New("not the master")
	// ErrInSyncReplicasNotEnough: the SyncStateSet has fewer members than
	// MinInSyncReplicas (RocketMQ's IN_SYNC_REPLICAS_NOT_ENOUGH).
	ErrInSyncReplicasNotEnough = errors.New("IN_SYNC_REPLICAS_NOT_ENOUGH")
	// ErrDeposed: the master learned of a newer epoch before the write was
	// acknowledged; it may or may not survive.
	ErrDeposed = errors.New("deposed before the write was acknowledged")
)

// BrokerOptions configure one broker. Durations are in ticks.
type BrokerOptions struct {
	Group string
	ID    BrokerID
	// Controllers are the controllers' ids, tried in turn until one leads.
	Controllers []int
	// HeartbeatTicks is how often the broker heartbeats the controller
	// leader (brokerHeartbeatInterval).
	HeartbeatTicks int
	// HAMaxTicksSlaveNotCatchup: a SyncStateSet member that has not caught
	// up with the master for this long leaves the set
	// (haMaxTimeSlaveNotCatchup, 15 s by default).
	HAMaxTicksSlaveNotCatchup int
	// AllAckInSyncStateSet: a write is acknowledged once every member of
	// the SyncStateSet holds it; off, once the master holds it.
	AllAckInSyncStateSet bool
	// MinInSyncReplicas: with a smaller SyncStateSet the master refuses
	// writes.
	MinInSyncReplicas int
	// PushTicks is how often a master pushes to a slave that holds
	// everything (a heartbeat carrying the confirm offset); a slave
	// behind gets a push every tick.
	PushTicks int
	// MaxPushEntries caps one push.
	MaxPushEntries int
	// RetryTicks is how often a pending alterSyncStateSet is sent again.
	RetryTicks int
}

// Disk is what a broker keeps across a crash. The model writes it before
// the broker does anything else (RocketMQ's SYNC_FLUSH): a crash loses no
// byte of it, only the broker's memory.
type Disk struct {
	// Log is the CommitLog, one entry per message; offsets count entries.
	Log [][]byte
	// Epochs is the epoch file.
	Epochs EpochFile
	// State is the newest group state the broker accepted.
	State Group
	// Pending is the alterSyncStateSet the master sent and has not seen
	// resolved. Kept on disk because the controllers may apply it after
	// a crash: until the broker sees how it ended, it acknowledges only
	// what the larger of the two sets holds.
	Pending *AlterRequest
}

// AlterRequest is a set change a master asked for.
type AlterRequest struct {
	MasterEpoch       uint64     `json:"master_epoch"`
	SyncStateSetEpoch uint64     `json:"sync_state_set_epoch"`
	SyncStateSet      []BrokerID `json:"sync_state_set"`
}

// Clone returns an independent copy (the log's entries are never changed
// in place, so they are shared).
func (d *Disk) Clone() *Disk {
	c := *d
	c.Log = slices.Clip(d.Log)
	c.Epochs = slices.Clone(d.Epochs)
	c.State = d.State.Clone()
	if d.Pending != nil {
		p := *d.Pending
		p.SyncStateSet = slices.Clone(p.SyncStateSet)
		c.Pending = &p
	}
	return &c
}

// Ack answers a write: acknowledged at Offset in Epoch, or Err.
type Ack struct {
	Ticket uint64
	Offset int64
	Epoch  uint64
	Err    error
}

// EventKind names what a broker reports for checkers and views.
type EventKind uint8

const (
	// EvBecameMaster: the broker took the master role for Epoch.
	EvBecameMaster EventKind = iota + 1
	// EvBecameSlave: the broker follows the master of Epoch.
	EvBecameSlave
	// EvDeposed: a master learned of a newer epoch and stopped.
	EvDeposed
	// EvTruncated: the CommitLog was cut from From down to To.
	EvTruncated
	// EvAlter: the master asked for a new SyncStateSet.
	EvAlter
	// EvSetChanged: the broker accepted a new SyncStateSet.
	EvSetChanged
)

// Event is something a broker did.
type Event struct {
	Kind     EventKind
	Epoch    uint64
	From, To int64
	Set      []BrokerID
}

// Output is what a broker wants sent.
type Output struct {
	Requests []Request
	HA       []HAMessage
	Acks     []Ack
	Events   []Event
}

// Broker is one replica of a broker group in Controller mode. Not safe
// for concurrent use.
//
// What keeps acknowledged writes safe when a master is deposed, and what
// does not (the sweeps in core/ctlsim check it):
//
//   - With AllAckInSyncStateSet, a write is acknowledged only once every
//     SyncStateSet member holds it, counting the members of a pending
//     alterSyncStateSet too (the pending request is on disk, so this holds
//     across a restart). The controllers elect only from their set, which
//     is either the master's set or the pending one, so the new master
//     holds the write, and a new master keeps its whole CommitLog.
//   - A slave that learned of a newer epoch refuses the old master's
//     pushes, so once it follows the new master, it gives the old one no
//     more acknowledgements: a write the old master acknowledges after
//     that was already in the new master's CommitLog, below the start of
//     its epoch.
//   - Brokers take group state only if its epochs are newer than what
//     they hold, so an answer from a stale controller changes nothing.
//   - A master stops acknowledging as soon as it learns of a newer epoch,
//     from a heartbeat reply or from a slave's refusal. Nothing bounds
//     how long that takes: there is no lease. So with
//     AllAckInSyncStateSet off (the master acknowledges alone) a deposed
//     master can acknowledge writes nobody else holds, and with
//     EnableElectUncleanMaster a master from outside the set lacks what
//     the set held: both lose acknowledged writes, as in RocketMQ.
type Broker struct {
	o    BrokerOptions
	disk *Disk
	now  int64
	role Role
	// heard: a controller leader answered since this broker started. A
	// restarted broker acts on nothing before that.
	heard bool
	// ctl is the index in o.Controllers of the controller asked next;
	// answered says whether the last heartbeat was answered.
	ctl       int
	answered  bool
	hbElapsed int
	// Master side.
	slaves   map[BrokerID]*slaveProgress
	waiting  []waitingWrite // by offset
	alterAge int
	// Slave side: synced once the handshake truncated the CommitLog for
	// this epoch; confirm is the master's confirm offset as last pushed.
	synced  bool
	confirm int64
	out     Output
}

// slaveProgress is the master's view of one slave in this epoch
// (AutoSwitchHAConnection's state).
type slaveProgress struct {
	// ack is the slave's reported CommitLog end (-1: none yet this epoch).
	ack int64
	// caughtUpAt is the last time the slave held everything the master
	// held at some push (lastCaughtUpTimeMs).
	caughtUpAt int64
	// marks are recent pushes: when, and the master's end then.
	marks    []pushMark
	lastPush int64
}

type pushMark struct {
	at  int64
	end int64
}

type waitingWrite struct {
	ticket uint64
	offset int64
}

// NewBroker starts a broker on disk (a new Disk for a new broker, the old
// one after a crash).
func NewBroker(o BrokerOptions, disk *Disk) (*Broker, error) {
	switch {
	case o.ID <= 0:
		return nil, fmt.Errorf("broker id %d: want >= 1", o.ID)
	case len(o.Controllers) == 0:
		return nil, errors.New("no controllers")
	case o.HeartbeatTicks <= 0 || o.HAMaxTicksSlaveNotCatchup <= 0 || o.PushTicks <= 0 || o.RetryTicks <= 0:
		return nil, errors.New("HeartbeatTicks, HAMaxTicksSlaveNotCatchup, PushTicks and RetryTicks must be > 0")
	case o.MaxPushEntries <= 0 || o.MinInSyncReplicas < 1:
		return nil, errors.New("MaxPushEntries and MinInSyncReplicas must be >= 1")
	}
	if disk.State.Name == "" {
		disk.State.Name = o.Group
	}
	b := &Broker{o: o, disk: disk, ctl: int(o.ID) % len(o.Controllers), answered: true, hbElapsed: o.HeartbeatTicks}
	return b, nil
}

// ID returns the broker's id.
func (b *Broker) ID() BrokerID { return b.o.ID }

// Role returns the broker's role.
func (b *Broker) Role() Role { return b.role }

// State returns the newest group state the broker accepted.
func (b *Broker) State() Group { return b.disk.State.Clone() }

// Pending returns the alterSyncStateSet waiting to be resolved, if any.
func (b *Broker) Pending() *AlterRequest {
	if p := b.disk.Pending; p != nil {
		c := *p
		c.SyncStateSet = slices.Clone(p.SyncStateSet)
		return &c
	}
	return nil
}

// Epochs returns the epoch file.
func (b *Broker) Epochs() EpochFile { return slices.Clone(b.disk.Epochs) }

// MaxOffset returns the CommitLog's end.
func (b *Broker) MaxOffset() int64 { return int64(len(b.disk.Log)) }

// Entry returns the CommitLog entry at offset.
func (b *Broker) Entry(offset int64) ([]byte, bool) {
	if offset < 0 || offset >= int64(len(b.disk.Log)) {
		return nil, false
	}
	return b.disk.Log[offset], true
}

// TakeOutput returns what the broker wants sent since the last call.
func (b *Broker) TakeOutput() Output {
	out := b.out
	b.out = Output{}
	return out
}

// ConfirmOffset is the end of what every SyncStateSet member holds (the
// master's minimum over the set; a slave's copy of it, within its own
// CommitLog). Consumers read below it.
func (b *Broker) ConfirmOffset() int64 {
	switch b.role {
	case RoleMaster:
		c := b.MaxOffset()
		for _, m := range b.ackSet() {
			if m == b.o.ID {
				continue
			}
			c = min(c, max(0, b.progress(m).ack))
		}
		return c
	case RoleSlave:
		return min(b.confirm, b.MaxOffset())
	}
	return 0
}

// Read returns up to max entries from offset on, below the confirm offset.
func (b *Broker) Read(offset int64, max int) ([][]byte, error) {
	if b.role == RoleNone || !b.heard {
		return nil, ErrNotMaster
	}
	end := min(b.ConfirmOffset(), offset+int64(max))
	if offset < 0 || offset >= end {
		return nil, nil
	}
	return slices.Clone(b.disk.Log[offset:end]), nil
}

// Produce takes a write. It is refused at once (ErrNotMaster,
// ErrInSyncReplicasNotEnough), or its Ack comes out of TakeOutput once it
// is acknowledged: at once without AllAckInSyncStateSet, once every set
// member holds it with it.
func (b *Broker) Produce(ticket uint64, data []byte) error {
	if b.role != RoleMaster {
		return ErrNotMaster
	}
	// While a set change is pending the larger of the two sets counts, as
	// AutoSwitchHAService.inSyncReplicasNums counts it.
	n := len(b.disk.State.SyncStateSet)
	if p := b.disk.Pending; p != nil && p.MasterEpoch == b.disk.State.MasterEpoch {
		n = max(n, len(p.SyncStateSet))
	}
	if n < b.o.MinInSyncReplicas {
		return fmt.Errorf("%w: %d in the SyncStateSet, %d wanted", ErrInSyncReplicasNotEnough, n, b.o.MinInSyncReplicas)
	}
	b.disk.Log = append(b.disk.Log, data)
	off := b.MaxOffset() - 1
	if !b.o.AllAckInSyncStateSet {
		b.out.Acks = append(b.out.Acks, Ack{Ticket: ticket, Offset: off, Epoch: b.disk.State.MasterEpoch})
		return nil
	}
	b.waiting = append(b.waiting, waitingWrite{ticket: ticket, offset: off})
	b.maybeAck()
	return nil
}

// Tick advances time by one tick: heartbeats, pushes, set upkeep.
func (b *Broker) Tick() {
	b.now++
	b.hbElapsed++
	if b.hbElapsed >= b.o.HeartbeatTicks {
		b.hbElapsed = 0
		b.heartbeat()
	}
	if b.role == RoleMaster {
		b.push()
		b.maintainSet()
	}
}

// heartbeat tells the controller leader we are alive; an unanswered
// heartbeat makes us try the next controller.
func (b *Broker) heartbeat() {
	if !b.answered {
		b.ctl = (b.ctl + 1) % len(b.o.Controllers)
	}
	b.answered = false
	last := b.disk.Epochs.Last()
	b.out.Requests = append(b.out.Requests, Request{Kind: ReqHeartbeat, Controller: b.o.Controllers[b.ctl], Group: b.o.Group,
		Broker: b.o.ID, Epoch: last.Epoch, MaxOffset: b.MaxOffset()})
}

// HandleReply takes a controller's answer.
func (b *Broker) HandleReply(r Reply) {
	if r.NotLeader {
		if i := slices.Index(b.o.Controllers, r.Leader); i >= 0 && b.o.Controllers[b.ctl] == r.Controller {
			b.ctl, b.answered = i, true // the next heartbeat goes to the leader named
		}
		return
	}
	if r.Kind == ReqHeartbeat && b.o.Controllers[b.ctl] == r.Controller {
		b.answered = true
	}
	if r.Group.Name != b.o.Group {
		return
	}
	switch {
	case r.Group.Newer(b.disk.State):
		b.adopt(r.Group)
	case !b.heard && !b.disk.State.Newer(r.Group):
		// The same state we hold: a restarted broker may act on it now.
		b.adopt(r.Group)
	case !b.disk.State.Newer(r.Group) && len(r.Group.Replicas) > len(b.disk.State.Replicas):
		// Registering a broker changes no epoch; replicas only join.
		b.disk.State.Replicas = slices.Clone(r.Group.Replicas)
	}
}

// adopt takes g, newer than (or, after a restart, the same as) what we
// hold, and changes role to fit it.
func (b *Broker) adopt(g Group) {
	old := b.disk.State
	b.heard = true
	b.disk.State = g.Clone()
	if p := b.disk.Pending; p != nil && (g.MasterEpoch > p.MasterEpoch || g.SyncStateSetEpoch > p.SyncStateSetEpoch) {
		b.disk.Pending = nil // resolved: applied, or made void by a newer epoch
		b.alterAge = 0
	}
	if !slices.Equal(old.SyncStateSet, g.SyncStateSet) || old.SyncStateSetEpoch != g.SyncStateSetEpoch {
		b.event(Event{Kind: EvSetChanged, Epoch: g.SyncStateSetEpoch, Set: slices.Clone(g.SyncStateSet)})
	}
	switch {
	case g.Master == b.o.ID:
		if b.role != RoleMaster || old.MasterEpoch != g.MasterEpoch {
			b.becomeMaster(g.MasterEpoch)
		}
		b.maybeAck()
	case g.Master == NoMaster:
		b.stepDown(RoleNone)
	default:
		if b.role != RoleSlave || old.MasterEpoch != g.MasterEpoch {
			b.stepDown(RoleSlave)
			b.event(Event{Kind: EvBecameSlave, Epoch: g.MasterEpoch})
		}
	}
}

// becomeMaster starts epoch: its first offset is our CommitLog's end (the
// design doc: a new master records <epoch, max offset> in its epoch file).
// A master that restarts into the same epoch keeps its entry.
func (b *Broker) becomeMaster(epoch uint64) {
	if b.disk.Epochs.Last().Epoch != epoch {
		b.disk.Epochs = b.disk.Epochs.Append(epoch, b.MaxOffset())
	}
	b.role = RoleMaster
	b.slaves = map[BrokerID]*slaveProgress{}
	b.waiting = nil
	b.event(Event{Kind: EvBecameMaster, Epoch: epoch})
}

// stepDown leaves the master role (or none) for role; writes waiting for
// acknowledgement are answered ErrDeposed.
func (b *Broker) stepDown(role Role) {
	if b.role == RoleMaster {
		for _, w := range b.waiting {
			b.out.Acks = append(b.out.Acks, Ack{Ticket: w.ticket, Offset: w.offset, Err: ErrDeposed})
		}
		b.waiting = nil
		b.slaves = nil
	}
	b.role = role
	b.synced = false
	b.confirm = 0
}

func (b *Broker) event(e Event) {
	b.out.Events = append(b.out.Events, e)
}

// ackSet is the set a write must reach: the accepted SyncStateSet, and
// while an alterSyncStateSet of this epoch is pending, its members too
// (AutoSwitchHAService.getSyncStateSet returns the same union while a change
// is being synchronized; it keeps that in memory, this model on disk).
func (b *Broker) ackSet() []BrokerID {
	set := b.disk.State.SyncStateSet
	if p := b.disk.Pending; p != nil && p.MasterEpoch == b.disk.State.MasterEpoch {
		set = slices.Concat(set, p.SyncStateSet)
		slices.Sort(set)
		set = slices.Compact(set)
	}
	return set
}

func (b *Broker) progress(id BrokerID) *slaveProgress {
	p, ok := b.slaves[id]
	if !ok {
		p = &slaveProgress{ack: -1, caughtUpAt: b.now, lastPush: -1 << 40}
		b.slaves[id] = p
	}
	return p
}

// maybeAck acknowledges waiting writes the whole ack set holds.
func (b *Broker) maybeAck() {
	if b.role != RoleMaster || len(b.waiting) == 0 {
		return
	}
	confirm := b.ConfirmOffset()
	k := 0
	for k < len(b.waiting) && b.waiting[k].offset < confirm {
		w := b.waiting[k]
		b.out.Acks = append(b.out.Acks, Ack{Ticket: w.ticket, Offset: w.offset, Epoch: b.disk.State.MasterEpoch})
		k++
	}
	b.waiting = b.waiting[k:]
}

// push sends each other replica what it lacks (every tick while it is
// behind, every PushTicks as a heartbeat).
func (b *Broker) push() {
	end := b.MaxOffset()
	for _, id := range b.disk.State.Replicas {
		if id == b.o.ID {
			continue
		}
		p := b.progress(id)
		from := max(p.ack, 0)
		if p.ack < 0 {
			from = end // the handshake: the slave answers with where it agrees
		}
		if from >= end && b.now-p.lastPush < int64(b.o.PushTicks) {
			continue
		}
		hi := min(end, from+int64(b.o.MaxPushEntries))
		p.lastPush = b.now
		if len(p.marks) == 0 || p.marks[len(p.marks)-1].end != end {
			p.marks = append(p.marks, pushMark{at: b.now, end: end})
			if len(p.marks) > 64 {
				p.marks = slices.Delete(p.marks, 0, len(p.marks)-64)
			}
		}
		b.out.HA = append(b.out.HA, HAMessage{Kind: HAPush, From: b.o.ID, To: id, Epoch: b.disk.State.MasterEpoch,
			Epochs: slices.Clone(b.disk.Epochs), Offset: from, Data: slices.Clone(b.disk.Log[from:hi]), MaxOffset: end,
			Confirm: b.ConfirmOffset()})
	}
}

// maintainSet shrinks the SyncStateSet of members that did not catch up
// for HAMaxTicksSlaveNotCatchup, or expands it with a slave that holds the
// confirm offset: one alterSyncStateSet at a time, sent again until
// resolved.
func (b *Broker) maintainSet() {
	st := b.disk.State
	if p := b.disk.Pending; p != nil {
		b.alterAge++
		if b.alterAge >= b.o.RetryTicks {
			b.alterAge = 0
			b.sendAlter(*p)
		}
		return
	}
	var keep []BrokerID
	for _, m := range st.SyncStateSet {
		if m == b.o.ID || b.now-b.progress(m).caughtUpAt <= int64(b.o.HAMaxTicksSlaveNotCatchup) {
			keep = append(keep, m)
		}
	}
	want := keep
	if len(keep) == len(st.SyncStateSet) {
		confirm := b.ConfirmOffset()
		for _, id := range st.Replicas {
			if p := b.progress(id); !slices.Contains(st.SyncStateSet, id) && p.ack >= 0 && p.ack >= confirm {
				want = append(slices.Clone(keep), id)
				slices.Sort(want)
				break
			}
		}
	}
	if slices.Equal(want, st.SyncStateSet) {
		return
	}
	p := AlterRequest{MasterEpoch: st.MasterEpoch, SyncStateSetEpoch: st.SyncStateSetEpoch, SyncStateSet: want}
	b.disk.Pending = &p
	b.alterAge = 0
	b.event(Event{Kind: EvAlter, Epoch: st.SyncStateSetEpoch, Set: slices.Clone(want)})
	b.sendAlter(p)
}

func (b *Broker) sendAlter(p AlterRequest) {
	b.out.Requests = append(b.out.Requests, Request{Kind: ReqAlterSyncStateSet, Controller: b.o.Controllers[b.ctl], Group: b.o.Group,
		Broker: b.o.ID, MasterEpoch: p.MasterEpoch, SyncStateSetEpoch: p.SyncStateSetEpoch, SyncStateSet: slices.Clone(p.SyncStateSet)})
}

// HandleHA takes a message of the HA service from another broker.
func (b *Broker) HandleHA(m HAMessage) {
	switch m.Kind {
	case HAPush:
		b.handlePush(m)
	case HAAck:
		b.handleAck(m)
	}
}

// handlePush: a slave follows only the master of the epoch it accepted.
// A push of an older epoch is refused with ours, so its sender learns it
// was deposed; one of a newer epoch waits until the controllers tell us.
func (b *Broker) handlePush(m HAMessage) {
	st := b.disk.State
	if m.Epoch < st.MasterEpoch {
		b.out.HA = append(b.out.HA, HAMessage{Kind: HAAck, From: b.o.ID, To: m.From, Epoch: st.MasterEpoch, Reject: true})
		return
	}
	if b.role != RoleSlave || m.Epoch != st.MasterEpoch || m.From != st.Master {
		return
	}
	if !b.synced {
		// The handshake: cut the CommitLog back to where it agrees with
		// the master's (the design doc's truncation algorithm).
		end := b.MaxOffset()
		point := b.disk.Epochs.ConsistentPoint(end, m.Epochs, m.MaxOffset)
		if point < end {
			b.disk.Log = slices.Clip(b.disk.Log[:point])
			b.event(Event{Kind: EvTruncated, Epoch: m.Epoch, From: end, To: point})
		}
		b.disk.Epochs = EpochFile(m.Epochs).Clip(point)
		b.synced = true
	}
	if end := b.MaxOffset(); m.Offset <= end && m.Offset+int64(len(m.Data)) > end {
		b.disk.Log = append(b.disk.Log, m.Data[end-m.Offset:]...)
		// Within one epoch the master only appends: what we already
		// hold from Offset on is the same, and our epoch file is the
		// master's up to our end.
		b.disk.Epochs = EpochFile(m.Epochs).Clip(b.MaxOffset())
	}
	b.confirm = max(b.confirm, m.Confirm)
	b.out.HA = append(b.out.HA, HAMessage{Kind: HAAck, From: b.o.ID, To: m.From, Epoch: st.MasterEpoch, MaxOffset: b.MaxOffset()})
}

// handleAck: a slave's CommitLog end counts toward acknowledgements and
// tells whether it caught up; a refusal carrying a newer epoch deposes us.
func (b *Broker) handleAck(m HAMessage) {
	if b.role != RoleMaster {
		return
	}
	st := b.disk.State
	if m.Reject {
		if m.Epoch > st.MasterEpoch {
			b.stepDown(RoleNone)
			b.event(Event{Kind: EvDeposed, Epoch: m.Epoch})
			b.hbElapsed = b.o.HeartbeatTicks // ask the controllers at once
		}
		return
	}
	if m.Epoch != st.MasterEpoch {
		return
	}
	p := b.progress(m.From)
	p.ack = max(p.ack, m.MaxOffset)
	if p.ack >= b.MaxOffset() {
		p.caughtUpAt = b.now
		p.marks = p.marks[:0]
	} else {
		k := 0
		for k < len(p.marks) && p.marks[k].end <= p.ack {
			p.caughtUpAt = max(p.caughtUpAt, p.marks[k].at)
			k++
		}
		p.marks = slices.Delete(p.marks, 0, k)
	}
	b.maybeAck()
}
