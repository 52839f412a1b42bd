package core

import (
	"fmt"
	"slices"
	"testing"

	"github.com/stretchr/testify/require"
)

// memStorage is a test store: what a broker's disk holds, its snapshot
// and the entries after it.
type memStorage struct {
	hs   HardState
	snap Snapshot
	ents []Entry // snap.Index+1 ..
	// reads counts Entries calls: how often a replica went to its disk.
	reads int
}

func (s *memStorage) InitialState() (HardState, error) { return s.hs, nil }
func (s *memStorage) LastIndex() uint64                { return s.snap.Index + uint64(len(s.ents)) }
func (s *memStorage) Snapshot() (Snapshot, error)      { return s.snap, nil }
func (s *memStorage) Term(i uint64) (uint64, bool) {
	switch {
	case i == s.snap.Index:
		return s.snap.Term, true
	case i < s.snap.Index || i > s.LastIndex():
		return 0, false
	}
	return s.ents[i-s.snap.Index-1].Term, true
}
func (s *memStorage) Entries(lo, hi uint64) ([]Entry, error) {
	s.reads++
	if lo <= s.snap.Index {
		return nil, fmt.Errorf("entries %d..%d: compacted up to %d", lo, hi-1, s.snap.Index)
	}
	return slices.Clone(s.ents[lo-s.snap.Index-1 : hi-s.snap.Index-1]), nil
}

func (s *memStorage) persist(rd Ready) {
	if !rd.Snapshot.IsZero() {
		s.snap, s.ents = rd.Snapshot, nil
	}
	if rd.HardStateChanged {
		s.hs = rd.HardState
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].Index
		s.ents = append(s.ents[:first-s.snap.Index-1], rd.Entries...)
	}
}

// compact keeps snapshot snap and drops the entries it covers.
func (s *memStorage) compact(snap Snapshot) {
	s.ents = slices.Clone(s.ents[snap.Index-s.snap.Index:])
	s.snap = snap
}

// network is an in-memory group of replicas (etcd-io/raft's test network):
// messages are delivered in order unless a link is cut or a message type is
// dropped. Everything is synchronous and deterministic.
type network struct {
	t      testing.TB
	nodes  map[NodeID]*Node
	disks  map[NodeID]*memStorage
	ids    []NodeID
	cut    map[[2]NodeID]bool
	drop   map[MessageType]bool
	down   map[NodeID]bool
	queue  []Message
	events []Event
	// filter, if set, drops the messages it returns true for.
	filter func(Message) bool
	// sent counts every message delivered, by type.
	sent map[MessageType]int
	// installed lists the snapshots each broker's Ready asked it to load.
	installed map[NodeID][]Snapshot
	// noPersist makes a broker's Ready leave its disk untouched (a crash
	// before fsync happens on the next crash()).
	cfg func(*Config)
}

func newNetwork(t testing.TB, size int, opts ...func(*Config)) *network {
	nw := &network{t: t, nodes: map[NodeID]*Node{}, disks: map[NodeID]*memStorage{},
		cut: map[[2]NodeID]bool{}, drop: map[MessageType]bool{}, down: map[NodeID]bool{}, sent: map[MessageType]int{}}
	for i := 1; i <= size; i++ {
		nw.ids = append(nw.ids, NodeID(i))
	}
	nw.cfg = func(c *Config) {
		for _, o := range opts {
			o(c)
		}
	}
	for _, id := range nw.ids {
		nw.disks[id] = &memStorage{}
		nw.start(id)
	}
	return nw
}

func (nw *network) config(id NodeID) Config {
	c := DefaultConfig(id, nw.ids, 42)
	nw.cfg(&c)
	c.Storage = nw.disks[id]
	c.Applied = nw.disks[id].snap.Index // its state machine starts from the snapshot
	return c
}

func (nw *network) start(id NodeID) {
	n, err := NewNode(nw.config(id))
	require.NoError(nw.t, err)
	nw.nodes[id] = n
	delete(nw.down, id)
}

// crash stops a broker; its disk keeps what was persisted.
func (nw *network) crash(id NodeID) { nw.down[id] = true }

// restart brings a crashed broker back from its disk.
func (nw *network) restart(id NodeID) { nw.start(id) }

// isolate cuts every link to and from id.
func (nw *network) isolate(id NodeID) {
	for _, o := range nw.ids {
		if o != id {
			nw.cut[[2]NodeID{id, o}] = true
			nw.cut[[2]NodeID{o, id}] = true
		}
	}
}

// partition splits the group: links between the groups are cut.
func (nw *network) partition(groups ...[]NodeID) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					nw.cut[[2]NodeID{a, b}] = true
				}
			}
		}
	}
}

// recover heals every cut and stops dropping.
func (nw *network) recover() {
	nw.cut = map[[2]NodeID]bool{}
	nw.drop = map[MessageType]bool{}
}

// process runs Ready/Advance on every live broker, queueing what they send.
func (nw *network) process() bool {
	did := false
	for _, id := range nw.ids {
		n := nw.nodes[id]
		if nw.down[id] || !n.HasReady() {
			continue
		}
		did = true
		rd := n.Ready()
		nw.queue = append(nw.queue, rd.Eager...)
		if !rd.Snapshot.IsZero() {
			if nw.installed == nil {
				nw.installed = map[NodeID][]Snapshot{}
			}
			nw.installed[id] = append(nw.installed[id], rd.Snapshot)
		}
		nw.disks[id].persist(rd)
		nw.queue = append(nw.queue, rd.Messages...)
		nw.events = append(nw.events, rd.Events...)
		n.Advance(rd)
	}
	return did
}

// deliver delivers queued messages until the group is quiet.
func (nw *network) deliver() {
	for steps := 0; ; steps++ {
		require.Less(nw.t, steps, 100000, "network did not quiesce")
		nw.process()
		if len(nw.queue) == 0 {
			return
		}
		q := nw.queue
		nw.queue = nil
		for _, m := range q {
			if nw.down[m.To] || nw.down[m.From] || nw.cut[[2]NodeID{m.From, m.To}] || nw.drop[m.Type] || (nw.filter != nil && nw.filter(m)) {
				continue
			}
			nw.sent[m.Type]++
			nw.nodes[m.To].Step(m)
		}
	}
}

// tick advances every live broker k ticks, delivering after each.
func (nw *network) tick(k int) {
	for range k {
		for _, id := range nw.ids {
			if !nw.down[id] {
				nw.nodes[id].Tick()
			}
		}
		nw.deliver()
	}
}

// tickUntil ticks until cond holds, at most limit ticks.
func (nw *network) tickUntil(limit int, what string, cond func() bool) {
	nw.t.Helper()
	for range limit {
		if cond() {
			return
		}
		nw.tick(1)
	}
	require.True(nw.t, cond(), "after %d ticks: %s\n%s", limit, what, nw.dump())
}

// electLeader waits until exactly one live broker leads and returns it.
func (nw *network) electLeader() NodeID {
	nw.t.Helper()
	var lead NodeID
	nw.tickUntil(500, "a leader is elected", func() bool {
		lead = nw.leader()
		return lead != None
	})
	return lead
}

// leader returns the live broker that leads in the highest term, or None.
func (nw *network) leader() NodeID {
	var lead NodeID
	var term uint64
	for _, id := range nw.ids {
		n := nw.nodes[id]
		if !nw.down[id] && n.role == RoleLeader && n.term >= term {
			lead, term = id, n.term
		}
	}
	return lead
}

// campaign makes id's election timer fire now.
func (nw *network) campaign(id NodeID) {
	n := nw.nodes[id]
	n.electionElapsed = n.electionTimeout - 1
	n.Tick()
	nw.deliver()
}

// propose proposes data on id and delivers.
func (nw *network) propose(id NodeID, data string) (uint64, error) {
	idx, _, err := nw.nodes[id].Propose([]byte(data))
	nw.deliver()
	return idx, err
}

func (nw *network) eventsOf(kind EventKind) []Event {
	var out []Event
	for _, e := range nw.events {
		if e.Kind == kind {
			out = append(out, e)
		}
	}
	return out
}

func (nw *network) dump() string {
	s := ""
	for _, id := range nw.ids {
		st := nw.nodes[id].Status()
		s += fmt.Sprintf("  broker %d: %s term=%d lead=%d commit=%d last=%d down=%v\n", id, st.Role, st.Term, st.Lead, st.Commit, st.LastIndex, nw.down[id])
	}
	return s
}

// logTerms returns the terms of id's log, index 1 first.
func (nw *network) logTerms(id NodeID) []uint64 {
	var ts []uint64
	for _, e := range nw.nodes[id].Entries(1, ^uint64(0)) {
		ts = append(ts, e.Term)
	}
	return ts
}
