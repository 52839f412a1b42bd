package controller

import (
	"cmp"
	"encoding/json"
	"fmt"
	"slices"
)

// BrokerID is a broker's id within its group (RocketMQ 5 gives each
// replica a persistent broker id; see persistent_unique_broker_id.md).
type BrokerID int

// NoMaster is the master of a group that has none.
const NoMaster BrokerID = 0

// Group is what the controllers agree on for one broker group
// (ReplicasInfoManager's BrokerReplicaInfo and SyncStateInfo in one value).
type Group struct {
	Name string `json:"name"`
	// Replicas are the registered brokers, sorted.
	Replicas []BrokerID `json:"replicas"`
	// Master is the broker elected master, or NoMaster.
	Master BrokerID `json:"master"`
	// MasterEpoch rises with every election, so no two elections share an
	// epoch (the design doc's MasterEpoch, Raft's term for the group).
	MasterEpoch uint64 `json:"master_epoch"`
	// SyncStateSet are the replicas that hold everything the master
	// acknowledged, sorted; the master is always one of them.
	SyncStateSet []BrokerID `json:"sync_state_set"`
	// SyncStateSetEpoch rises with every change of the set.
	SyncStateSetEpoch uint64 `json:"sync_state_set_epoch"`
}

// Clone returns a copy that shares no slice with g.
func (g Group) Clone() Group {
	g.Replicas = slices.Clone(g.Replicas)
	g.SyncStateSet = slices.Clone(g.SyncStateSet)
	return g
}

// Newer reports whether g is later state than h of the same group: a
// higher master epoch, or the same one with a higher set epoch. Brokers
// take only newer state, so a stale controller's answer changes nothing.
func (g Group) Newer(h Group) bool {
	if g.MasterEpoch != h.MasterEpoch {
		return g.MasterEpoch > h.MasterEpoch
	}
	return g.SyncStateSetEpoch > h.SyncStateSetEpoch
}

func (g Group) String() string {
	return fmt.Sprintf("%s master=%d epoch=%d set=%v set-epoch=%d", g.Name, g.Master, g.MasterEpoch, g.SyncStateSet, g.SyncStateSetEpoch)
}

// OpKind names the operations in the controllers' log.
type OpKind uint8

const (
	// OpRegister adds a broker to its group's replicas.
	OpRegister OpKind = iota + 1
	// OpElectMaster elects a master (ReplicasInfoManager.electMaster).
	OpElectMaster
	// OpAlterSyncStateSet changes the SyncStateSet
	// (ReplicasInfoManager.alterSyncStateSet).
	OpAlterSyncStateSet
)

func (k OpKind) String() string {
	switch k {
	case OpRegister:
		return "registerBroker"
	case OpElectMaster:
		return "electMaster"
	case OpAlterSyncStateSet:
		return "alterSyncStateSet"
	}
	return fmt.Sprintf("OpKind(%d)", uint8(k))
}

// Candidate is what the controller leader knew of a live broker when it
// proposed an election: the broker's last epoch and CommitLog end, from its
// heartbeats (BrokerLiveInfo).
type Candidate struct {
	ID        BrokerID `json:"id"`
	Epoch     uint64   `json:"epoch"`
	MaxOffset int64    `json:"max_offset"`
}

// Op is one entry of the controllers' log. Everything Apply decides on is
// in the Op or in State, so every controller applies it the same way.
type Op struct {
	Kind  OpKind `json:"kind"`
	Group string `json:"group"`
	// Broker is the broker registering, or the master asking to alter
	// the set.
	Broker BrokerID `json:"broker,omitempty"`
	// MasterEpoch is the epoch the proposer saw: an election or a set
	// change proposed against an older epoch is refused.
	MasterEpoch uint64 `json:"master_epoch,omitempty"`
	// SyncStateSetEpoch and SyncStateSet: a set change's base epoch and
	// the set wanted.
	SyncStateSetEpoch uint64     `json:"sync_state_set_epoch,omitempty"`
	SyncStateSet      []BrokerID `json:"sync_state_set,omitempty"`
	// Alive is the controller leader's heartbeat view for an election.
	Alive []Candidate `json:"alive,omitempty"`
	// Unclean allows electing a replica outside the SyncStateSet
	// (enableElectUncleanMaster).
	Unclean bool `json:"unclean,omitempty"`
}

// Encode returns the Op as log entry data.
func (o Op) Encode() []byte {
	b, err := json.Marshal(o)
	if err != nil {
		panic(fmt.Sprintf("encoding %v: %v", o.Kind, err))
	}
	return b
}

// DecodeOp reads an Op from log entry data.
func DecodeOp(data []byte) (Op, error) {
	var o Op
	if err := json.Unmarshal(data, &o); err != nil {
		return o, fmt.Errorf("controller log entry: %w", err)
	}
	return o, nil
}

// Result is what applying an Op did.
type Result struct {
	OK bool
	// Why says why the Op was refused or what it did.
	Why string
	// Group is the group's state after the Op.
	Group Group
}

// State is the controllers' replicated state machine: every broker group's
// Group. Only Apply changes it.
type State struct {
	groups []Group // sorted by Name
}

// Group returns the named group's state (zero if unknown).
func (s *State) Group(name string) (Group, bool) {
	i, ok := s.find(name)
	if !ok {
		return Group{Name: name}, false
	}
	return s.groups[i].Clone(), true
}

// Clone returns an independent copy.
func (s *State) Clone() State {
	c := State{groups: make([]Group, len(s.groups))}
	for i, g := range s.groups {
		c.groups[i] = g.Clone()
	}
	return c
}

func (s *State) find(name string) (int, bool) {
	return slices.BinarySearchFunc(s.groups, name, func(g Group, n string) int { return cmp.Compare(g.Name, n) })
}

// Apply applies one Op.
func (s *State) Apply(o Op) Result {
	i, ok := s.find(o.Group)
	if !ok {
		if o.Kind != OpRegister {
			return Result{Why: "unknown group " + o.Group, Group: Group{Name: o.Group}}
		}
		s.groups = slices.Insert(s.groups, i, Group{Name: o.Group})
	}
	g := &s.groups[i]
	var r Result
	switch o.Kind {
	case OpRegister:
		r = applyRegister(g, o)
	case OpElectMaster:
		r = applyElect(g, o)
	case OpAlterSyncStateSet:
		r = applyAlter(g, o)
	default:
		r = Result{Why: fmt.Sprintf("unknown op %d", o.Kind)}
	}
	r.Group = g.Clone()
	return r
}

func applyRegister(g *Group, o Op) Result {
	if o.Broker <= 0 {
		return Result{Why: "broker id must be at least 1"}
	}
	j, found := slices.BinarySearch(g.Replicas, o.Broker)
	if found {
		return Result{OK: true, Why: "already registered"}
	}
	g.Replicas = slices.Insert(g.Replicas, j, o.Broker)
	return Result{OK: true, Why: "registered"}
}

// applyElect elects a master the way DefaultElectPolicy does: among the
// live members of the SyncStateSet, the one with the highest (epoch, max
// offset), ties to the lowest id; with Unclean, if none is alive, among all
// live replicas. A group that never had a master elects among all live
// replicas: nothing was acknowledged yet, so nothing can be lost.
//
// The new master's SyncStateSet is itself alone, and both epochs rise. If
// nobody can be elected, the group is left with no master, and the epoch
// still rises, so the old master learns it was deposed (RocketMQ also
// clears the master when the election finds nobody).
func applyElect(g *Group, o Op) Result {
	if o.MasterEpoch != g.MasterEpoch {
		return Result{Why: fmt.Sprintf("stale election: proposed at master epoch %d, the group is at %d", o.MasterEpoch, g.MasterEpoch)}
	}
	pool := g.SyncStateSet
	if g.MasterEpoch == 0 {
		pool = g.Replicas
	}
	best, ok := pickCandidate(pool, o.Alive)
	how := "from the SyncStateSet"
	if !ok && o.Unclean && g.MasterEpoch > 0 {
		best, ok = pickCandidate(g.Replicas, o.Alive)
		how = "unclean: from outside the SyncStateSet"
	}
	if !ok {
		if g.Master == NoMaster {
			return Result{Why: "no live candidate; the group already has no master"}
		}
		g.Master = NoMaster
		g.MasterEpoch++
		return Result{OK: true, Why: "no live candidate: the group has no master"}
	}
	g.Master = best
	g.MasterEpoch++
	g.SyncStateSet = []BrokerID{best}
	g.SyncStateSetEpoch++
	return Result{OK: true, Why: fmt.Sprintf("broker %d elected %s", best, how)}
}

// pickCandidate returns the best live candidate among ids.
func pickCandidate(ids []BrokerID, alive []Candidate) (BrokerID, bool) {
	var best Candidate
	found := false
	for _, c := range alive {
		if !slices.Contains(ids, c.ID) {
			continue
		}
		if !found || c.Epoch > best.Epoch || c.Epoch == best.Epoch && (c.MaxOffset > best.MaxOffset || c.MaxOffset == best.MaxOffset && c.ID < best.ID) {
			best, found = c, true
		}
	}
	return best.ID, found
}

// applyAlter changes the SyncStateSet for the master that asked, if it
// asked with the group's current master epoch and set epoch: a request
// built on state that changed since is refused, so a deposed master or a
// late duplicate cannot change the set.
func applyAlter(g *Group, o Op) Result {
	switch {
	case o.Broker != g.Master || g.Master == NoMaster:
		return Result{Why: fmt.Sprintf("broker %d is not the master (%d)", o.Broker, g.Master)}
	case o.MasterEpoch != g.MasterEpoch:
		return Result{Why: fmt.Sprintf("master epoch %d is not the current %d", o.MasterEpoch, g.MasterEpoch)}
	case o.SyncStateSetEpoch != g.SyncStateSetEpoch:
		return Result{Why: fmt.Sprintf("set epoch %d is not the current %d", o.SyncStateSetEpoch, g.SyncStateSetEpoch)}
	case !slices.Contains(o.SyncStateSet, g.Master):
		return Result{Why: "the new set must hold the master"}
	}
	set := slices.Sorted(slices.Values(o.SyncStateSet))
	set = slices.Compact(set)
	for _, b := range set {
		if !slices.Contains(g.Replicas, b) {
			return Result{Why: fmt.Sprintf("broker %d is not registered", b)}
		}
	}
	g.SyncStateSet = set
	g.SyncStateSetEpoch++
	return Result{OK: true, Why: fmt.Sprintf("set is now %v", set)}
}
