// Package server is one native broker: the runner that owns the core
// replica and executes each Ready against the file store, the peer
// transport and the broker state machine, and the HTTP API around it
// (http.go) with the live ClusterView stream (view.go).
//
// Threading (etcd-io/raft's raftexample, hashicorp/raft's seams): one
// goroutine, the runner, owns core.Node, broker.Broker and store.Store.
// Everything else — HTTP handlers, peer readers and writers — talks to it
// through channels: produce requests, incoming messages and closures to run
// between two Readies. The runner persists and fsyncs each Ready itself, so
// everything that arrived while the disk was busy is handled in the next
// Ready and shares its fsync (group commit).
package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"maps"
	"math/rand/v2"
	"net"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"time"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
	"dledgerlab/core/sim"
	"dledgerlab/native/store"
	"dledgerlab/native/transport"
)

// Defaults for Config's zero values.
const (
	DefaultTick            = 10 * time.Millisecond
	DefaultProduceTimeout  = 3 * time.Second
	DefaultHTTPReadTimeout = 30 * time.Second
	DefaultHTTPIdleTimeout = 2 * time.Minute
)

// GroupMember is who a member process is in its Raft group and the
// group's Raft timings: what a broker (Config) and a controller
// (ctlserver.Config) are both told.
type GroupMember struct {
	ID core.NodeID
	// Peers maps every member (self included) to its peer address.
	Peers map[core.NodeID]string
	// HTTP maps every member (self included) to its HTTP address, for
	// NOT_LEADER answers and for listening.
	HTTP   map[core.NodeID]string
	Dir    string
	Secret string
	// HeartbeatTicks, ElectionTicksMin and ElectionTicksMax override the
	// core's timings (0: core.DefaultConfig's 5, 15 and 30 ticks).
	HeartbeatTicks   int
	ElectionTicksMin int
	ElectionTicksMax int
}

// RaftConfig returns the member's replica configuration on storage st:
// core.DefaultConfig with the member's timings, a random seed.
func (g GroupMember) RaftConfig(st core.Storage) core.Config {
	rc := core.DefaultConfig(g.ID, slices.Sorted(maps.Keys(g.Peers)), rand.Uint64())
	rc.Storage = st
	if g.HeartbeatTicks > 0 {
		rc.HeartbeatTicks = g.HeartbeatTicks
	}
	if g.ElectionTicksMin > 0 {
		rc.ElectionTicksMin = g.ElectionTicksMin
		rc.ElectionTicksMax = max(rc.ElectionTicksMax, g.ElectionTicksMin)
	}
	if g.ElectionTicksMax > 0 {
		rc.ElectionTicksMax = g.ElectionTicksMax
	}
	return rc
}

// Config sets up one broker.
type Config struct {
	GroupMember
	AdminToken string
	// Tick is the length of one core tick (core.DefaultConfig's timings are
	// in ticks of 10 ms).
	Tick time.Duration
	// ProduceTimeout is how long a produce waits for its entry to commit
	// before answering TIMEOUT (DLedger's WAIT_QUORUM_ACK_TIMEOUT).
	ProduceTimeout time.Duration
	SegmentSize    int64
	NoSync         bool
	// SyncFile replaces the store's fsync (store.Options.SyncFile), for
	// tests of a failing disk; nil for a real broker.
	SyncFile func(*os.File) error
	Logger   *slog.Logger
	// FsyncDelay is an extra sleep after each fsync: a slow disk for a
	// classroom whose SSDs are too fast to watch (0: none).
	FsyncDelay time.Duration
	// HTTPReadTimeout bounds reading one request, body included, so a
	// client that opens a request and stalls holds no handler (0:
	// DefaultHTTPReadTimeout). HTTPWriteTimeout bounds a request from the
	// end of its headers to the end of its answer (0: ProduceTimeout +
	// DefaultHTTPReadTimeout, since a produce waits for its commit);
	// /v1/watch streams are exempt, they set their own write deadline per
	// frame. HTTPIdleTimeout closes a kept-alive connection that sends
	// nothing (0: DefaultHTTPIdleTimeout).
	HTTPReadTimeout, HTTPWriteTimeout, HTTPIdleTimeout time.Duration
	// RetainSegments and RetainBytes are the CommitLog's retention (0:
	// keep everything): when the log holds more segment files than
	// RetainSegments, or more bytes than RetainBytes, the broker's last
	// checkpoint becomes a snapshot and the segment files wholly before
	// it are deleted (see maybeCompact).
	RetainSegments int
	RetainBytes    int64
	// Offsets is how consumer groups' offsets are kept (offsets.go);
	// OffsetSync how often a follower copies the leader's in the local mode
	// (0: DefaultOffsetSync).
	Offsets    broker.OffsetMode
	OffsetSync time.Duration
}

// PeerGroup is the group DLedger-mode brokers prove at the peer handshake
// (transport.Config.Group): a controller or a Controller-mode broker given
// one of their addresses is refused by name, even with the same secret.
const PeerGroup = "dledger brokers"

// Server is a running broker.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store
	raft  *core.Node
	bk    *broker.Broker
	trans *transport.Transport
	rep   *commitlog.Report

	produces chan *produceReq
	calls    chan func()
	stopped  chan struct{}
	started  time.Time

	// Owned by the runner goroutine.
	waiters map[uint64]*waiter
	// offsetWaits are replicated offset commits awaiting their entry, by
	// index (offsets.go).
	offsetWaits map[uint64]*offsetWait
	// offsetsDirty: a local offset commit or sync changed the broker's
	// state since the last checkpoint (RocketMQ persists its
	// consumerOffset.json on a timer the same way).
	offsetsDirty bool
	role         core.Role
	events       []sim.EventView   // recent events, oldest first
	truncated    []sim.EntryView   // recently truncated entries
	sent         []sim.MessageView // the last messages sent, for the live view (view.go)
	sentIDs      uint64
	sentLast     map[sentKey]int64 // when the last noted message of each kind left (view.go)
	nTrunc       uint64
	applied      uint64 // messages dispatched to a queue
	rate         rateMeter
	// checkpointed is the applied index of the last checkpoint, written
	// at checkpointAt (see checkpoint).
	checkpointed uint64
	checkpointAt time.Time
	// checkpointState is the broker's state the last checkpoint wrote (at
	// entry checkpointed): retention's snapshot (maybeCompact).
	checkpointState []byte
	// The teaching switches (POST /v1/admin/rules); both on by default.
	checkQuorum, preVote bool
	// installed counts snapshots installed from a leader, compactions the
	// snapshots this broker took for retention.
	installed, compactions uint64
	// inflight is the Ready whose fsync runs on its own goroutine (nil
	// when none); synced receives that fsync's end (see handleReady).
	inflight *inflightReady
	synced   chan *store.PendingSync
}

// inflightReady is a Ready written to the CommitLog and waiting for its
// fsync: rest are its committed entries that were not durable on this
// broker yet, applied once they are.
type inflightReady struct {
	rd   core.Ready
	rest []core.Entry
}

type produceReq struct {
	msg  broker.Message
	done chan produceResult // buffered: the runner never blocks on it
}

type produceResult struct {
	res    broker.Result
	err    error
	leader core.NodeID
}

type waiter struct {
	req      *produceReq
	ticket   broker.Ticket
	deadline time.Time
}

const (
	maxEvents    = 64
	maxTruncated = 16
)

// New opens the data folder (running the recovery scan) and builds the
// replica. A damaged log refuses here with an error naming file and offset.
func New(cfg Config) (*Server, error) {
	if cfg.Tick <= 0 {
		cfg.Tick = DefaultTick
	}
	if cfg.OffsetSync <= 0 {
		cfg.OffsetSync = DefaultOffsetSync
	}
	if cfg.ProduceTimeout <= 0 {
		cfg.ProduceTimeout = DefaultProduceTimeout
	}
	if cfg.HTTPReadTimeout <= 0 {
		cfg.HTTPReadTimeout = DefaultHTTPReadTimeout
	}
	if cfg.HTTPWriteTimeout <= 0 {
		cfg.HTTPWriteTimeout = cfg.ProduceTimeout + DefaultHTTPReadTimeout
	}
	if cfg.HTTPIdleTimeout <= 0 {
		cfg.HTTPIdleTimeout = DefaultHTTPIdleTimeout
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	log := cfg.Logger.With("broker", uint64(cfg.ID))
	if err := CheckMembers(cfg.Dir, "broker", cfg.ID, cfg.Peers); err != nil {
		return nil, err
	}
	// The store logs what recovery did, item by item.
	st, rep, err := store.Open(cfg.Dir, store.Options{SegmentSize: cfg.SegmentSize, NoSync: cfg.NoSync, SyncFile: cfg.SyncFile, Logger: log})
	if err != nil {
		return nil, err
	}
	if cfg.RetainSegments < 0 || cfg.RetainBytes < 0 {
		st.Close()
		return nil, fmt.Errorf("retention: %d segments, %d bytes: want 0 (keep everything) or more", cfg.RetainSegments, cfg.RetainBytes)
	}
	bk, err := restoreBroker(st, log)
	if err == nil {
		// A crash after a compaction and before the next checkpoint
		// reopens queues that still start below the log.
		err = correctMinOffsets(bk, st, log)
	}
	if err != nil {
		st.Close()
		return nil, err
	}
	if hs, _ := st.InitialState(); hs.Commit < bk.AppliedIndex() {
		// The commit hint is written without an fsync; the checkpoint is
		// fsynced, and what it applied was committed.
		hs.Commit = bk.AppliedIndex()
		st.SetHardState(hs)
	}
	rc := cfg.RaftConfig(st)
	rc.Applied = bk.AppliedIndex() // the checkpoint's; the rest is replayed
	// A restart replays the committed log into the broker a batch at a time
	// (see runLoop): ticks, votes and answers go on in between.
	rc.MaxCommittedBytesPerReady = applyBatchBytes
	node, err := core.NewNode(rc)
	if err != nil {
		st.Close()
		return nil, err
	}
	tr, err := transport.New(transport.Config{ID: cfg.ID, Peers: cfg.Peers, Secret: []byte(cfg.Secret), Group: PeerGroup, Logger: log})
	if err != nil {
		st.Close()
		return nil, err
	}
	s := &Server{
		cfg: cfg, log: log, store: st, raft: node, bk: bk, trans: tr, rep: rep,
		produces:    make(chan *produceReq, 1024),
		calls:       make(chan func(), 64),
		stopped:     make(chan struct{}),
		waiters:     map[uint64]*waiter{},
		synced:      make(chan *store.PendingSync, 1),
		offsetWaits: map[uint64]*offsetWait{},
		started:     time.Now(),

		checkQuorum: true, preVote: true,
		checkpointed: bk.AppliedIndex(), checkpointAt: time.Now(), checkpointState: bk.State(),
	}
	hs, _ := st.InitialState()
	log.Info("broker opened", "dir", cfg.Dir, "last_index", st.LastIndex(), "term", hs.Term, "commit", hs.Commit,
		"segments", len(st.Segments()))
	return s, nil
}

// Run serves peers and HTTP and runs the replica until ctx is done (SIGINT
// or SIGTERM in the CLI), then stops cleanly: pending produces are answered,
// the store is synced and closed.
func (s *Server) Run(ctx context.Context) error {
	peerLn, httpLn, err := ListenMember(s.cfg.Peers[s.cfg.ID], s.cfg.HTTP[s.cfg.ID], s.store.Close)
	if err != nil {
		return err
	}
	return s.Serve(ctx, peerLn, httpLn)
}

// Serve is Run on listeners the caller opened.
func (s *Server) Serve(ctx context.Context, peerLn, httpLn net.Listener) error {
	run := func(ctx context.Context) error {
		go s.syncOffsetsLoop(ctx)
		err := s.runLoop(ctx)
		if err == nil && (s.bk.AppliedIndex() != s.checkpointed || s.offsetsDirty) {
			err = s.checkpoint(time.Now()) // a clean stop restarts with nothing to replay
		}
		return err
	}
	return ServeMember(ctx, Member{Role: "broker", Log: s.log, Trans: s.trans, HTTP: s.httpServer(), Run: run,
		Stopped: s.stopped, Close: s.store.Close}, peerLn, httpLn)
}

// checkpointInterval is how often the runner checkpoints the broker's
// state while entries are being applied (RocketMQ flushes its
// ConsumeQueues and StoreCheckpoint about once a second:
// flushIntervalConsumeQueue). A restart replays what was applied after the
// last checkpoint, about this long's worth of entries.
const checkpointInterval = time.Second

// checkpoint makes the ConsumeQueue files durable and writes the broker's
// state at its applied index over the checkpoint (store.WriteCheckpoint).
// It runs on the runner, between Readies, so the state, the queue files and
// the CommitLog agree: every entry up to the applied index is durable
// before it is applied.
func (s *Server) checkpoint(now time.Time) error {
	state := s.bk.State()
	if err := s.store.WriteCheckpoint(state, s.bk.AppliedIndex()); err != nil {
		return s.diskFailed(fmt.Errorf("checkpoint at entry %d: %w", s.bk.AppliedIndex(), err))
	}
	s.checkpointed, s.checkpointAt, s.checkpointState, s.offsetsDirty = s.bk.AppliedIndex(), now, state, false
	return nil
}

// restoreBroker returns the broker that the data folder's checkpoint
// describes, its ConsumeQueue files cut back to it and their last records
// checked against the CommitLog, so the runner replays only the entries
// after the checkpoint. Without a checkpoint, or with one that does not
// match the files (damage, files from elsewhere, or a checkpoint older than
// the snapshot), it logs why and returns the broker of the snapshot the
// log starts after (its queues starting at the snapshot's lengths), or an
// empty broker if there is none, with the other queue files removed: the
// runner then replays the CommitLog after that, and loses nothing the
// CommitLog still holds. A snapshot that does not decode, or an unreadable
// folder, is an error: the broker does not start.
func restoreBroker(st *store.Store, log *slog.Logger) (*broker.Broker, error) {
	q := st.Queues()
	opts := broker.Options{CommitLog: st, Queues: q}
	snap, _ := st.Snapshot()
	state, err := st.ReadCheckpoint()
	if err != nil {
		return nil, fmt.Errorf("read checkpoint: %w", err)
	}
	if state != nil {
		start := time.Now()
		bk, err := broker.Restore(opts, state, func(topic string, base, n uint64, _ func(broker.RestoredRecord) error) error {
			return q.Load(topic, base, n)
		})
		if err == nil && bk.AppliedIndex() < snap.Index {
			err = fmt.Errorf("the checkpoint is at entry %d, before the snapshot at %d", bk.AppliedIndex(), snap.Index)
		}
		if err == nil {
			err = checkAppliedEnd(st, bk)
		}
		if err == nil {
			err = q.Prune()
		}
		if err == nil {
			log.Info("broker state restored from the checkpoint; the entries after it are applied again",
				"applied", bk.AppliedIndex(), "last_index", st.LastIndex(), "took", time.Since(start).Round(time.Millisecond))
			return bk, nil
		}
		log.Warn("the checkpoint does not match the ConsumeQueue files or the CommitLog; the queues are rebuilt from the CommitLog (after the snapshot, if there is one), which loses nothing it still holds",
			"file", filepath.Join(st.Dir(), store.CheckpointFile), "err", err)
	}
	if err := q.Reset(); err != nil {
		return nil, fmt.Errorf("remove ConsumeQueue files: %w", err)
	}
	if snap.IsZero() {
		return broker.New(opts), nil
	}
	bk, err := restoreSnapshot(opts, snap)
	if err != nil {
		return nil, fmt.Errorf("snapshot file %s: %w", filepath.Join(st.Dir(), store.SnapshotFile), err)
	}
	log.Info("broker state restored from the snapshot; the entries after it are applied again", "snapshot_index", snap.Index, "last_index", st.LastIndex())
	return bk, nil
}

// restoreSnapshot returns the broker of snapshot snap (broker.RestoreSnapshot),
// its queue files starting at the snapshot's lengths.
func restoreSnapshot(opts broker.Options, snap core.Snapshot) (*broker.Broker, error) {
	bk, err := broker.RestoreSnapshot(opts, snap.Data)
	if err != nil {
		return nil, err
	}
	if bk.AppliedIndex() != snap.Index {
		return nil, fmt.Errorf("%w: the snapshot at entry %d holds the broker state at entry %d", broker.ErrBadState, snap.Index, bk.AppliedIndex())
	}
	q := opts.Queues.(*store.Queues)
	for _, name := range bk.TopicNames() {
		if err := q.StartAt(name, bk.Queue(name).MinOffset()); err != nil {
			return nil, fmt.Errorf("queue %s: %w", name, err)
		}
	}
	return bk, nil
}

// checkAppliedEnd checks that the restored broker's applied entry is in
// the CommitLog where the broker's state says it ends.
func checkAppliedEnd(st *store.Store, bk *broker.Broker) error {
	i := bk.AppliedIndex()
	if i == 0 {
		return nil
	}
	if b := st.Base(); i == b.Index {
		if b.End != bk.NextPosition() {
			return fmt.Errorf("%w: the checkpoint applied entry %d ending at CommitLog position %d; the snapshot says it ends at %d",
				store.ErrCorrupt, i, bk.NextPosition(), b.End)
		}
		return nil
	}
	pos, size, ok := st.Position(i)
	if !ok || pos+int64(size) != bk.NextPosition() {
		return fmt.Errorf("%w: the checkpoint applied entry %d, ending at CommitLog position %d; the CommitLog holds %d entries (entry %d ends at %d)",
			store.ErrCorrupt, i, bk.NextPosition(), st.LastIndex(), i, pos+int64(size))
	}
	return nil
}

// applyBatchBytes bounds the entry data one Ready applies.
const applyBatchBytes = 1 << 20

// maxBatch is how many inputs the runner takes, at the most, into one Ready.
const maxBatch = 1 + 4096

// runLoop is the runner: it alone touches raft, bk and store (the fsync of
// a Ready in flight runs on its own goroutine and touches only the files it
// syncs: see handleReady). It waits for an input (ctx done, a tick, a peer
// message, a produce, a call, the end of an fsync), then takes the peer
// messages, produces and calls already waiting, so that they share the next
// Ready's fsync (group commit), and executes that Ready. While an fsync is
// in flight it goes on taking inputs, and the next Ready waits for it: what
// arrives meanwhile is batched into that Ready.
//
// One select does both. While it takes what is waiting (batch > 0) it
// listens neither to ctx nor to the ticker, and only to the channels that
// hold something (a nil channel is never picked): the runner is their only
// receiver and all three are buffered, so the select cannot block. When
// none holds anything, or maxBatch inputs are in, the Ready runs.
//
// A Ready can leave work behind: a restarted broker applies its committed
// log a bounded batch per Ready (core's MaxCommittedBytesPerReady). Then
// the wait for the first input does not block either: the select may pick
// the next batch (pending, a closed channel) or a tick, a peer message, a
// produce or a call, so elections and answers go on during a long replay.
func (s *Server) runLoop(ctx context.Context) error {
	ticker := time.NewTicker(s.cfg.Tick)
	defer ticker.Stop()
	recv := s.trans.Recv()
	ticks, batch := 0, 0
	always := make(chan struct{})
	close(always)
	defer func() {
		if s.inflight != nil {
			// Stopping on an error: the fsync in flight ends before the
			// store is closed; its Ready is not completed.
			<-s.synced
			s.inflight = nil
		}
		s.answer(s.bk.FailAll(broker.ErrOutcomeUnknown))
		clear(s.waiters)
		s.failOffsetWaits(broker.ErrOutcomeUnknown, time.Time{})
	}()
	for {
		done, tick, msgs, produces, calls := ctx.Done(), ticker.C, recv, s.produces, s.calls
		var pending <-chan struct{}
		if batch == 0 && s.hasWork() {
			pending = always
		}
		if batch > 0 {
			done, tick = nil, nil
			if len(msgs) == 0 {
				msgs = nil
			}
			if len(produces) == 0 {
				produces = nil
			}
			if len(calls) == 0 {
				calls = nil
			}
			if batch == maxBatch || (msgs == nil && produces == nil && calls == nil) {
				batch = 0
				if err := s.work(); err != nil {
					return err
				}
				continue
			}
		}
		batch++
		select {
		case <-pending:
			batch = 0
			if err := s.work(); err != nil {
				return err
			}
		case p := <-s.synced:
			if err := s.finishReady(p); err != nil {
				return err
			}
		case <-done:
			if s.inflight != nil {
				// The fsync in flight ends before the store closes.
				if err := s.finishReady(<-s.synced); err != nil {
					return err
				}
			}
			return nil
		case now := <-tick:
			s.raft.Tick()
			if len(s.waiters) > 0 {
				s.expire(now)
			}
			if len(s.offsetWaits) > 0 {
				s.failOffsetWaits(broker.ErrOutcomeUnknown, now)
			}
			if ticks++; ticks%10 == 0 {
				s.rate.sample(now, s.applied)
			}
			if now.Sub(s.checkpointAt) >= checkpointInterval && (s.bk.AppliedIndex() != s.checkpointed || s.offsetsDirty) {
				if err := s.checkpoint(now); err != nil {
					return err
				}
				if err := s.maybeCompact(); err != nil {
					return err
				}
			}
		case m := <-msgs:
			s.raft.Step(m)
		case p := <-produces:
			s.propose(p)
		case f := <-calls:
			f()
		}
	}
}

// hasWork reports whether the replica has a Ready to handle, or, while a
// Ready's fsync is in flight, early work (core.Node.Early).
func (s *Server) hasWork() bool {
	if s.inflight == nil {
		return s.raft.HasReady()
	}
	return s.raft.HasEarly()
}

// work handles the next Ready, or the early work while one is in flight.
func (s *Server) work() error {
	switch {
	case s.inflight == nil && s.raft.HasReady():
		return s.handleReady()
	case s.inflight != nil && s.raft.HasEarly():
		return s.handleEarly()
	}
	return nil
}

// handleEarly does what need not wait for the fsync in flight: the
// leader's pushes of what was proposed meanwhile leave (thesis §10.2.1),
// and the commits of entries persisted by earlier Readys are applied and
// answered.
func (s *Server) handleEarly() error {
	e := s.raft.Early()
	s.send(e.Eager)
	return s.apply(e.Committed)
}

// send hands msgs to the transport and notes each for the live view, as
// dropped if the transport dropped it at once.
func (s *Server) send(msgs []core.Message) {
	for _, m := range msgs {
		queued, delay := s.trans.Send(m)
		s.noteSent(m, !queued, delay)
	}
}

// handleReady executes one Ready in the order core requires, with the
// fsync off the runner (doc.go of core): eager pushes leave, a snapshot is
// installed, the entries and hard state are written to the CommitLog, and
// the committed entries already durable here (those below the Ready's
// entries) are applied and answered at once. Then, if something must be
// made durable, the fsync runs on its own goroutine while the runner goes
// on stepping messages, taking proposals and serving reads; finishReady
// completes the Ready when it ends. Rule 4 of ARCHITECTURE.md holds
// unchanged: the Ready's messages (votes, acks) leave only after the
// fsync, and the leader counts its own copy only at Advance.
func (s *Server) handleReady() error {
	rd := s.raft.Ready()
	s.send(rd.Eager)
	if !rd.Snapshot.IsZero() {
		if err := s.installSnapshot(rd.Snapshot); err != nil {
			return err
		}
	}
	if len(rd.Entries) > 0 {
		// Entry content cannot fail here: core refuses data over the one
		// entry limit (core.DefaultMaxEntryBytes) on the leader and on every
		// follower, and the store uses the same limit. What fails here is
		// the disk.
		tr, err := s.store.Append(rd.Entries)
		if err != nil {
			return s.diskFailed(fmt.Errorf("append entries %d..%d: %w", rd.Entries[0].Index, rd.Entries[len(rd.Entries)-1].Index, err))
		}
		s.noteTruncated(tr)
	}
	if rd.HardStateChanged {
		s.store.SetHardState(rd.HardState)
	}
	for _, ev := range rd.Events {
		s.noteEvent(ev)
	}
	// Commits known now are answered now: an entry below this Ready's
	// entries was persisted by an earlier Ready.
	durable := rd.DurableCommitted()
	if err := s.apply(rd.Committed[:durable]); err != nil {
		return err
	}
	in := &inflightReady{rd: rd, rest: rd.Committed[durable:]}
	if len(rd.Entries) == 0 && !rd.HardStateChanged {
		return s.afterPersist(in)
	}
	p, err := s.store.StartSync()
	if err != nil {
		return s.diskFailed(fmt.Errorf("persist: %w", err))
	}
	if p.Files() == 0 && s.cfg.FsyncDelay == 0 {
		return s.finishSync(in, p)
	}
	s.inflight = in
	delay, yield := s.cfg.FsyncDelay, len(rd.Eager) > 0
	go func() {
		if yield {
			// The pushes this Ready sent wait in the peer writers' queues,
			// and a goroutine started last runs first: without this, the
			// fdatasync would hold this process's only core (GOMAXPROCS
			// is each broker's share, native/proc.CoreShare) until it
			// ended, and the pushes would leave after the leader's fsync
			// instead of beside it (thesis §10.2.1). Measured in
			// docs/BENCHMARKS.md ("Pushes before the fsync").
			runtime.Gosched()
		}
		p.Run()
		if delay > 0 {
			time.Sleep(delay) // --fsync-delay: a slower disk
		}
		s.synced <- p
	}()
	return nil
}

// finishReady completes the Ready in flight once its fsync ended.
func (s *Server) finishReady(p *store.PendingSync) error {
	in := s.inflight
	s.inflight = nil
	return s.finishSync(in, p)
}

// finishSync records the fsync's outcome and, if it succeeded, completes
// the Ready (afterPersist).
func (s *Server) finishSync(in *inflightReady, p *store.PendingSync) error {
	if err := s.store.FinishSync(p); err != nil {
		// A failed fsync leaves the disk in an unknown state; going on
		// could acknowledge what is not durable.
		return s.diskFailed(fmt.Errorf("persist: %w", err))
	}
	return s.afterPersist(in)
}

// afterPersist completes a Ready whose writes are durable: its messages
// leave, the rest of its committed entries are applied, and Advance.
func (s *Server) afterPersist(in *inflightReady) error {
	rd := in.rd
	s.send(rd.Messages)
	if err := s.apply(in.rest); err != nil {
		return err
	}
	s.raft.Advance(rd)
	if len(rd.Committed) > 0 {
		if err := s.maybeCompact(); err != nil {
			return err
		}
	}
	if role := s.raft.Role(); role != s.role {
		if s.role == core.RoleLeader {
			// Proposals may still commit under the next leader: the honest
			// answer is "outcome unknown"; the producer retries with the
			// same sequence and deduplication stores it once.
			s.answer(s.bk.FailAll(errLeaderChanged))
			s.failOffsetWaits(errLeaderChanged, time.Time{})
		}
		s.role = role
	}
	return nil
}

// apply applies committed entries to the broker, answers the producers
// whose messages they carry, and writes their ConsumeQueue units.
func (s *Server) apply(ents []core.Entry) error {
	for _, e := range ents {
		pos, size, ok := s.store.Position(e.Index)
		if !ok {
			panic(fmt.Sprintf("server: committed entry %v is not in the store (last %d)", e, s.store.LastIndex()))
		}
		a, err := s.bk.Apply(e, pos, size)
		if err != nil {
			panic(fmt.Sprintf("server: apply %v: %v", e, err))
		}
		if a.Outcome == broker.OutcomeAppended {
			s.applied++
		}
		if a.Outcome == broker.OutcomeCorrupt {
			s.log.Error("committed entry does not decode; skipped on every broker", "index", e.Index, "err", a.Err)
		}
		s.answer(a.Resolved)
		s.offsetApplied(e.Index, e.Term)
	}
	if len(ents) > 0 {
		if err := s.store.Queues().Flush(); err != nil {
			return s.diskFailed(fmt.Errorf("write ConsumeQueue: %w", err))
		}
	}
	return nil
}

// installSnapshot installs the leader's snapshot (Raft §7, Ready.Snapshot)
// before the Ready's entries are persisted and anything is acknowledged:
// the state is decoded first (a snapshot that does not decode changes
// nothing on disk and stops the broker), then the store writes the
// snapshot file and starts the CommitLog after it, the queue files start
// at the snapshot's lengths, and a checkpoint records the new state. The
// answer that the snapshot is in leaves with the Ready's messages, after
// all of it is durable.
func (s *Server) installSnapshot(snap core.Snapshot) error {
	q := s.store.Queues()
	opts := broker.Options{CommitLog: s.store, Queues: q}
	probe, err := broker.RestoreSnapshot(opts, snap.Data)
	if err != nil {
		s.log.Error("the leader's snapshot does not decode: the broker stops without installing it", "snapshot", snap.String(), "err", err)
		return fmt.Errorf("install %v: %w", snap, err)
	}
	start := time.Now()
	s.answer(s.bk.FailAll(errLeaderChanged))
	end := probe.NextPosition()
	if err := s.store.InstallSnapshot(snap, end); err != nil {
		return s.diskFailed(fmt.Errorf("install %v: %w", snap, err))
	}
	if err := q.Reset(); err != nil {
		return s.diskFailed(fmt.Errorf("install %v: remove ConsumeQueue files: %w", snap, err))
	}
	bk, err := restoreSnapshot(opts, snap)
	if err != nil {
		return s.diskFailed(fmt.Errorf("install %v: %w", snap, err))
	}
	s.bk = bk
	if err := s.checkpoint(time.Now()); err != nil {
		return err
	}
	s.installed++
	s.log.Info("installed the leader's snapshot: the CommitLog and the queues start after it",
		"snapshot_index", snap.Index, "term", snap.Term, "bytes", len(snap.Data), "log_starts_at", end, "took", time.Since(start).Round(time.Millisecond))
	return nil
}

// maybeCompact applies the retention policy (Config.RetainSegments,
// RetainBytes). RocketMQ's CleanCommitLogService
// (store/src/main/java/org/apache/rocketmq/store/service/
// CleanCommitLogService.java in apache/rocketmq, run by DefaultMessageStore)
// deletes whole CommitLog files, never part of one, when they are older
// than fileReservedTime at the deleteWhen hour, or at once when the disk
// is fuller than diskMaxUsedSpaceRatio (isSpaceToDelete); its
// CleanConsumeQueueService then drops the ConsumeQueue units below the
// CommitLog's new min offset. Here the limit is a number of files or of
// bytes, which a classroom can watch, and a replicated log needs one more
// step first: a snapshot standing for the entries deleted (Raft §7). When the CommitLog holds more than the policy allows
// and a snapshot at the last checkpoint would free at least one segment
// file, the checkpoint's state becomes the snapshot (Node.Compact) and the
// store deletes the segment files wholly before it. The snapshot is the
// checkpoint, about a second behind the applied entry, like RocketMQ's
// StoreCheckpoint: the newest entries stay in the log, so a follower a
// moment behind still gets entries, and one that needs deleted entries
// receives the snapshot instead.
func (s *Server) maybeCompact() error {
	over := (s.cfg.RetainSegments > 0 && len(s.store.Segments()) > s.cfg.RetainSegments) ||
		(s.cfg.RetainBytes > 0 && s.store.Bytes() > s.cfg.RetainBytes)
	at := s.checkpointed
	if !over || s.checkpointState == nil || at <= s.raft.LastSnapshot().Index || s.store.Reclaimable(at) == 0 {
		return nil
	}
	snap, err := s.raft.Compact(at, s.checkpointState)
	if err != nil {
		panic(fmt.Sprintf("server: compact at the checkpoint's entry %d: %v", at, err))
	}
	removed, err := s.store.Compact(snap)
	if err != nil {
		return s.diskFailed(fmt.Errorf("retention at entry %d: %w", at, err))
	}
	s.compactions++
	if err := correctMinOffsets(s.bk, s.store, s.log); err != nil {
		return s.diskFailed(err)
	}
	s.log.Info("retention: the last checkpoint became a snapshot; deleted the CommitLog segments before it",
		"snapshot_index", snap.Index, "bytes", len(snap.Data), "deleted", removed, "segments_left", len(s.store.Segments()))
	return nil
}

// correctMinOffsets moves the first offset of each queue to its first
// message the CommitLog still holds, after retention deleted the segments
// before the snapshot (broker.CorrectMinOffsets, RocketMQ's
// CleanConsumeQueueService): /v1/status then gives the true min_offset,
// and a consumer below it is told OFFSET_TOO_SMALL with the offset to
// start from. The queue files wholly below are removed after the next
// checkpoint (store.Queues.Trim).
func correctMinOffsets(bk *broker.Broker, st *store.Store, log *slog.Logger) error {
	b := st.Base()
	if b.IsZero() {
		return nil
	}
	moved, err := bk.CorrectMinOffsets(b.End)
	for _, topic := range slices.Sorted(maps.Keys(moved)) {
		st.Queues().Trim(topic, moved[topic])
		log.Info("retention: the queue now starts at its first message the CommitLog still holds",
			"topic", topic, "min_offset", moved[topic], "log_starts_at", b.End)
	}
	return err
}

// diskFailed logs what a stop for a failed write or fsync means and what
// to check, and returns err for the runner to stop with. Nothing written
// since the last good fsync was acknowledged (rule 4 of ARCHITECTURE.md:
// acknowledgements leave only after the fsync), so stopping loses nothing
// a producer or a peer was promised.
func (s *Server) diskFailed(err error) error {
	if errors.Is(err, store.ErrSyncFailed) {
		s.log.Error("fsync failed: the broker stops without calling fsync again, since a retried fsync can report success for data the kernel dropped; nothing unsynced was acknowledged",
			"err", err, "dir", s.cfg.Dir,
			"check", "the disk and its filesystem (dmesg, free space, I/O errors) before restarting; on restart the recovery scan checks what the CommitLog holds")
	} else {
		s.log.Error("writing the CommitLog failed: the broker stops; nothing unsynced was acknowledged",
			"err", err, "dir", s.cfg.Dir, "check", "free space and the disk (dmesg) before restarting")
	}
	return err
}

// errLeaderChanged marks tickets failed by a step-down.
var errLeaderChanged = fmt.Errorf("leader stepped down: %w", broker.ErrOutcomeUnknown)

func (s *Server) propose(p *produceReq) {
	body, dup, err := s.bk.Prepare(p.msg)
	switch {
	case err != nil:
		p.done <- produceResult{err: err}
		return
	case dup != nil:
		p.done <- produceResult{res: *dup}
		return
	}
	idx, term, err := s.raft.Propose(body)
	if err != nil {
		p.done <- produceResult{err: err, leader: s.raft.Lead()}
		return
	}
	t := s.bk.Await(idx, term, p.msg.Producer, p.msg.Seq)
	s.waiters[t.ID] = &waiter{req: p, ticket: t, deadline: time.Now().Add(s.cfg.ProduceTimeout)}
}

// expire answers produces whose entry did not commit in time.
func (s *Server) expire(now time.Time) {
	for id, w := range s.waiters {
		if now.After(w.deadline) && s.bk.Expire(w.ticket) {
			delete(s.waiters, id)
			w.req.done <- produceResult{err: broker.ErrOutcomeUnknown}
		}
	}
}

func (s *Server) answer(rs []broker.Resolved) {
	for _, r := range rs {
		w := s.waiters[r.Ticket.ID]
		if w == nil {
			continue
		}
		delete(s.waiters, r.Ticket.ID)
		res := produceResult{res: r.Result, err: r.Err}
		if r.Err != nil {
			res.leader = s.raft.Lead()
		}
		w.req.done <- res
	}
}

func (s *Server) noteEvent(ev core.Event) {
	lvl := slog.LevelDebug
	switch ev.Kind {
	case core.EventBecameLeader, core.EventSteppedDown, core.EventTruncated, core.EventBecameCandidate,
		core.EventCompacted, core.EventSnapshotSent, core.EventSnapshotInstalled,
		core.EventTransferStarted, core.EventTransferFinished, core.EventTransferAborted:
		lvl = slog.LevelInfo
	case core.EventBecameFollower:
		if ev.Peer != core.None {
			lvl = slog.LevelInfo
		}
	}
	s.log.Log(context.Background(), lvl, ev.Kind.String(), "term", ev.Term, "peer", uint64(ev.Peer), "index", ev.Index, "detail", ev.Detail)
	if ev.Kind == core.EventDropped {
		return // too many to be worth drawing
	}
	s.events = append(s.events, sim.EventView{
		TimeMs: time.Since(s.started).Milliseconds(), Node: int(ev.Node), Term: ev.Term, Kind: ev.Kind.String(),
		Peer: int(ev.Peer), Index: ev.Index, Why: ev.Why, Args: ev.Args, Detail: ev.Detail,
	})
	if n := len(s.events); n > maxEvents {
		s.events = slices.Delete(s.events, 0, n-maxEvents)
	}
}

func (s *Server) noteTruncated(recs []commitlog.IndexRecord) {
	if len(recs) == 0 {
		return
	}
	s.nTrunc += uint64(len(recs))
	s.log.Info("truncated uncommitted entries", "from", recs[0].Index, "to", recs[len(recs)-1].Index)
	for _, r := range recs {
		typ := "normal"
		if r.Magic == commitlog.MagicNoOp {
			typ = "no-op"
		}
		s.truncated = append(s.truncated, sim.EntryView{Index: r.Index, Term: r.Term, Type: typ, Pos: r.Pos, Size: r.Size, Summary: "truncated"})
	}
	if n := len(s.truncated); n > maxTruncated {
		s.truncated = slices.Delete(s.truncated, 0, n-maxTruncated)
	}
}

// MembersFile records, in the data folder, which broker of which group the
// folder belongs to. Starting a folder as another broker, or in a group of
// other members, would mix two histories (and could vote twice), so it is
// refused.
const MembersFile = "members"

// CheckMembers writes the file in a new folder, and refuses a folder whose
// file names another member: role ("broker", "controller") id of the
// group of peers' ids.
func CheckMembers(dir, role string, id core.NodeID, peers map[core.NodeID]string) error {
	ids := slices.Sorted(maps.Keys(peers))
	want := fmt.Sprintf("%s %d of group %v\n", role, id, ids)
	path := filepath.Join(dir, MembersFile)
	b, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return err
		}
		return os.WriteFile(path, []byte(want), 0o644)
	case err != nil:
		return err
	case string(b) != want:
		return fmt.Errorf("data folder %s belongs to %s, but this is %s: use the same --id and --peers ids, or another --dir",
			dir, strings.TrimSpace(string(b)), strings.TrimSpace(want))
	}
	return nil
}

// do runs f on the runner goroutine and waits for it.
func (s *Server) do(ctx context.Context, f func()) error {
	return RunOn(ctx, s.calls, s.stopped, errStopped, f)
}

// RunOn hands f to a runner through calls and waits until it ran. If the
// runner stops first (stopped is closed) it returns errStopped; if ctx
// ends first, ctx's error.
func RunOn(ctx context.Context, calls chan<- func(), stopped <-chan struct{}, errStopped error, f func()) error {
	done := make(chan struct{})
	select {
	case calls <- func() { f(); close(done) }:
	case <-stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
	select {
	case <-done:
		return nil
	case <-stopped:
		return errStopped
	case <-ctx.Done():
		return ctx.Err()
	}
}

var errStopped = errors.New("broker is stopping")

// rateMeter estimates messages per second over the last second or so.
type rateMeter struct {
	times  [11]time.Time
	counts [11]uint64
	n      int
}

func (r *rateMeter) sample(now time.Time, count uint64) {
	r.times[r.n%len(r.times)], r.counts[r.n%len(r.counts)] = now, count
	r.n++
}

func (r *rateMeter) perSecond() float64 {
	if r.n < 2 {
		return 0
	}
	last := (r.n - 1) % len(r.times)
	first := 0
	if r.n > len(r.times) {
		first = r.n % len(r.times)
	}
	dt := r.times[last].Sub(r.times[first]).Seconds()
	if dt <= 0 {
		return 0
	}
	return float64(r.counts[last]-r.counts[first]) / dt
}
