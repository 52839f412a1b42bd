package main

import (
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"os"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/go-hclog"
	"github.com/hashicorp/raft"
	raftboltdb "github.com/hashicorp/raft-boltdb/v2"
)

// peer is one member of the group: its raft ID and TCP address.
type peer struct {
	ID   string
	Addr string // host:port of its raft transport
}

// raftConfig is the hashicorp/raft configuration of every node. The choices
// aim at a fair comparison with dledgerlab's brokers, which heartbeat every
// 50 ms and time out elections after 150–300 ms, batch up to 4096 inputs
// per step and fsync every batch:
//
//   - HeartbeatTimeout 150 ms: a follower that hears nothing from the
//     leader for a random time in [150, 300) ms campaigns (hashicorp/raft
//     draws in [timeout, 2×timeout)), which is our election window. The
//     leader heartbeats every HeartbeatTimeout/10, more often than ours,
//     on its own connection; it does not slow the log's path.
//   - ElectionTimeout 150 ms: a candidate's own timeout, the same window.
//   - LeaderLeaseTimeout 150 ms: it may not exceed HeartbeatTimeout.
//   - MaxAppendEntries 1024 (the library's maximum; its default is 64):
//     the most entries the leader writes to its log with one fsync and
//     sends in one AppendEntries. Larger batches only help a closed-loop
//     load with many producers, as our 4096-input batches do.
//   - BatchApplyCh: Apply's channel is buffered (MaxAppendEntries deep), so
//     producers do not wait for the leader's loop to take each entry one
//     at a time; the loop takes what is queued as one batch.
//   - SnapshotThreshold and SnapshotInterval far above what a run reaches:
//     no snapshot is taken during a measurement (our brokers do not
//     checkpoint during a bench run either).
//   - Logging at ERROR only, and the go-metrics legacy telemetry off: no
//     per-operation log lines or duplicate metrics on the hot path.
//
// CommitTimeout (50 ms) is left at its default: it only paces how soon an
// idle leader tells followers the commit index, which the producers (who
// wait on the leader) do not see. The transport's pipelining is left at
// the library's default (2 RPCs in flight), which HashiCorp recommends.
func raftConfig(id string) *raft.Config {
	c := raft.DefaultConfig()
	c.LocalID = raft.ServerID(id)
	c.HeartbeatTimeout = 150 * time.Millisecond
	c.ElectionTimeout = 150 * time.Millisecond
	c.LeaderLeaseTimeout = 150 * time.Millisecond
	c.MaxAppendEntries = 1024
	c.BatchApplyCh = true
	c.SnapshotThreshold = 1 << 62
	c.SnapshotInterval = 24 * time.Hour
	c.NoLegacyTelemetry = true
	c.Logger = quietLogger(id)
	return c
}

// quietLogger logs errors only, to stderr.
func quietLogger(name string) hclog.Logger {
	return hclog.New(&hclog.LoggerOptions{Name: name, Level: hclog.Error, Output: os.Stderr})
}

// fsm is the state machine: it counts the entries and bytes it applied. It
// keeps no copy of the messages (the log, in bolt, is where they live).
type fsm struct {
	entries atomic.Uint64
	bytes   atomic.Uint64
}

func (f *fsm) Apply(l *raft.Log) any {
	f.entries.Add(1)
	f.bytes.Add(uint64(len(l.Data)))
	return nil
}

func (f *fsm) Snapshot() (raft.FSMSnapshot, error) {
	return &fsmSnapshot{entries: f.entries.Load(), bytes: f.bytes.Load()}, nil
}

func (f *fsm) Restore(r io.ReadCloser) error {
	defer r.Close()
	var b [16]byte
	if _, err := io.ReadFull(r, b[:]); err != nil {
		return err
	}
	f.entries.Store(binary.BigEndian.Uint64(b[:8]))
	f.bytes.Store(binary.BigEndian.Uint64(b[8:]))
	return nil
}

type fsmSnapshot struct{ entries, bytes uint64 }

func (s *fsmSnapshot) Persist(sink raft.SnapshotSink) error {
	var b [16]byte
	binary.BigEndian.PutUint64(b[:8], s.entries)
	binary.BigEndian.PutUint64(b[8:], s.bytes)
	if _, err := sink.Write(b[:]); err != nil {
		sink.Cancel()
		return err
	}
	return sink.Close()
}

func (s *fsmSnapshot) Release() {}

// node is one running hashicorp/raft member with its stores and transport.
type node struct {
	id    string
	raft  *raft.Raft
	fsm   *fsm
	store *raftboltdb.BoltStore
	trans *raft.NetworkTransport
	logs  []hclog.Logger // raft's and the transport's
}

// silence turns the node's logging off: once a run is over, peers going
// away in turn is expected, not an error worth a line.
func (n *node) silence() {
	for _, l := range n.logs {
		l.SetLevel(hclog.Off)
	}
}

// startNode opens the node's bolt file in dir (fsync on every commit, the
// library's default), listens on me.Addr and starts raft; a fresh node
// bootstraps with all of peers as the configuration (every member does so
// with the same list, which hashicorp/raft allows).
func startNode(me peer, peers []peer, dir string) (*node, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	store, err := raftboltdb.New(raftboltdb.Options{Path: filepath.Join(dir, "raft.db")})
	if err != nil {
		return nil, fmt.Errorf("node %s: bolt store: %w", me.ID, err)
	}
	// The leader reads recent entries back to send them to followers; an
	// in-memory cache of the newest ones spares bolt those reads, as
	// HashiCorp's own servers configure it.
	logs, err := raft.NewLogCache(4096, store)
	if err != nil {
		store.Close()
		return nil, err
	}
	adv, err := net.ResolveTCPAddr("tcp", me.Addr)
	if err != nil {
		store.Close()
		return nil, err
	}
	netLog := quietLogger(me.ID + "-net")
	trans, err := raft.NewTCPTransportWithConfig(me.Addr, adv, &raft.NetworkTransportConfig{
		MaxPool: 3,
		Timeout: 10 * time.Second,
		Logger:  netLog,
	})
	if err != nil {
		store.Close()
		return nil, fmt.Errorf("node %s: transport: %w", me.ID, err)
	}
	conf := raftConfig(me.ID)
	f := &fsm{}
	// No snapshot is taken during a run (see raftConfig), so none is kept.
	snaps := raft.NewDiscardSnapshotStore()
	has, err := raft.HasExistingState(logs, store, snaps)
	if err == nil && !has {
		var cfg raft.Configuration
		for _, p := range peers {
			cfg.Servers = append(cfg.Servers, raft.Server{ID: raft.ServerID(p.ID), Address: raft.ServerAddress(p.Addr)})
		}
		err = raft.BootstrapCluster(conf, logs, store, snaps, trans, cfg)
	}
	if err != nil {
		trans.Close()
		store.Close()
		return nil, fmt.Errorf("node %s: bootstrap: %w", me.ID, err)
	}
	r, err := raft.NewRaft(conf, f, logs, store, snaps, trans)
	if err != nil {
		trans.Close()
		store.Close()
		return nil, fmt.Errorf("node %s: %w", me.ID, err)
	}
	return &node{id: me.ID, raft: r, fsm: f, store: store, trans: trans, logs: []hclog.Logger{conf.Logger, netLog}}, nil
}

// close stops raft (if it still runs), then the transport and the store.
func (n *node) close() error {
	err := n.raft.Shutdown().Error()
	err = errors.Join(err, n.trans.Close(), n.store.Close())
	return err
}

// isLeadershipError reports whether an Apply failed because the node was
// not, or stopped being, the leader: the entry may go to the new one.
func isLeadershipError(err error) bool {
	return errors.Is(err, raft.ErrNotLeader) || errors.Is(err, raft.ErrLeadershipLost) ||
		errors.Is(err, raft.ErrLeadershipTransferInProgress)
}

// freeAddrs returns n distinct loopback addresses with free TCP ports (the
// ports are released before returning; a port taken in between fails the
// run with a clear listen error).
func freeAddrs(n int) ([]string, error) {
	var out []string
	var ls []net.Listener
	defer func() {
		for _, l := range ls {
			l.Close()
		}
	}()
	for range n {
		l, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		ls = append(ls, l)
		out = append(out, l.Addr().String())
	}
	return out, nil
}
