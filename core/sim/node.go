package sim

import (
	"errors"
	"fmt"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
)

// Broker states.
const (
	stateUp      = "up"
	stateCrashed = "crashed"
	statePaused  = "paused"
	// stateRefused: the recovery scan found damage before the tail; the
	// broker will not start (never discard committed data silently).
	stateRefused = "refused"
)

// simNode is one simulated broker: the replica, its disk, its broker state
// machine, and the runner that executes Ready in order (persist → send →
// apply), with fsync taking FsyncMs of virtual time.
type simNode struct {
	id    int
	state string
	node  *core.Node
	store *commitlog.MemStore
	br    *broker.Broker
	// gen changes at every crash so a pending fsync cannot complete after it.
	gen uint64
	// busy: a Ready is being persisted. As on a real broker (whose fsync
	// runs off its runner), inputs are still taken meanwhile; only the
	// next Ready waits for the fsync.
	busy    bool
	pending core.Ready
	// early is how many of pending's committed entries were applied
	// before its fsync (those already durable: see startReady).
	early     int
	fsyncDone bool
	inbox     []inboxItem
	wasLeader bool
	// tickets maps broker tickets to the producer attempts awaiting them.
	tickets   map[uint64]ticketRef
	truncated []EntryView
	refusal   string
	// tickedTo is the last tick event this broker has taken, queued or
	// (while down or paused) missed.
	tickedTo int64
	// installed counts the snapshots this broker installed from a leader
	// since it last started (NodeView.SnapshotsInstalled).
	installed int
	// disk is the broker's state beside its CommitLog (brokerdisk.go):
	// queue files and checkpoint; ckpt the checkpoint being written,
	// ckptAt when it started and ckptSeq its number.
	disk    brokerDisk
	ckpt    *ckptInFlight
	ckptAt  int64
	ckptSeq uint64
}

// inboxItem is one input for a broker, held by value (an inbox slice is
// reused, so queuing an input allocates nothing).
type inboxItem struct {
	kind inKind
	msg  core.Message
	req  clientReq
}

type inKind uint8

const (
	inTick inKind = iota
	inMsg
	inReq
)

type ticketRef struct {
	client  int
	attempt uint64
}

func (n *simNode) clone() *simNode {
	c := *n
	c.store = n.store.Clone()
	if n.node != nil {
		c.node = n.node.Clone(c.store)
	}
	if n.br != nil {
		c.br = n.br.Clone()
	}
	// A Ready's outbox arrays go back to the replica, which refills them
	// after its next Ready: a checkpoint of a broker still persisting one
	// must hold its own copy, or the running broker rewrites it.
	c.pending.Eager = slices.Clone(n.pending.Eager)
	c.pending.Messages = slices.Clone(n.pending.Messages)
	c.pending.Events = slices.Clone(n.pending.Events)
	c.inbox = slices.Clone(n.inbox)
	c.tickets = make(map[uint64]ticketRef, len(n.tickets))
	for k, v := range n.tickets {
		c.tickets[k] = v
	}
	c.truncated = slices.Clone(n.truncated)
	return &c
}

func (st *state) newNode(id int) *simNode {
	store := commitlog.NewMemStore(commitlog.Options{SegmentSize: st.cfg.SegmentSize})
	n := &simNode{id: id, store: store}
	st.boot(n)
	return n
}

// boot starts a replica on n's store.
func (st *state) boot(n *simNode) {
	cc := st.cfg.coreConfig(n.id)
	cc.DisableCheckQuorum = st.switches.DisableCheckQuorum || st.cfg.DisableCheckQuorum
	cc.DisablePreVote = st.switches.DisablePreVote || st.cfg.DisablePreVote
	cc.Rules = st.effectiveRules()
	cc.Damaged = st.damaged || cc.Rules.Any()
	cc.Storage = n.store
	// Each incarnation draws its own timeouts.
	cc.Seed = st.rng.Uint64()
	// A broker whose log was compacted starts from its snapshot: its
	// queues keep no message before it (as after RocketMQ's retention),
	// and the entries after it are applied again.
	// A broker with a checkpoint on disk starts from it instead, and
	// applies only the entries after it (as a real broker does).
	br := broker.New(broker.Options{})
	snap, _ := n.store.Snapshot()
	if restored := st.restoreFromDisk(n, snap.Index); restored != nil {
		br = restored
		cc.Applied = br.AppliedIndex()
		if hs, _ := n.store.InitialState(); hs.Commit < cc.Applied {
			// The commit hint is not fsynced; the checkpoint is, and what
			// it applied was committed.
			hs.Commit = cc.Applied
			n.store.SetHardState(hs)
		}
	} else if !snap.IsZero() {
		var err error
		if br, err = broker.RestoreSnapshot(broker.Options{}, snap.Data); err != nil {
			panic(fmt.Sprintf("broker %d: its snapshot at %d does not restore: %v", n.id, snap.Index, err))
		}
		cc.Applied = snap.Index
	}
	node, err := core.NewNode(cc)
	if err != nil {
		panic(fmt.Sprintf("broker %d: starting from its disk: %v", n.id, err))
	}
	n.node = node
	n.br = br
	n.state = stateUp
	n.busy, n.fsyncDone, n.wasLeader = false, false, false
	n.inbox = nil
	n.tickets = map[uint64]ticketRef{}
	n.tickedTo = st.tickNo
	n.installed = 0
}

func (st *state) effectiveRules() core.Rules {
	r := st.switches.Rules
	c := st.cfg.Rules
	return core.Rules{
		SkipUpToDateCheck: r.SkipUpToDateCheck || c.SkipUpToDateCheck,
		CommitOldTerms:    r.CommitOldTerms || c.CommitOldTerms,
		AckBeforePersist:  r.AckBeforePersist || c.AckBeforePersist,
	}
}

// input hands a broker one input (taken even while it is busy persisting),
// or queues it while the broker is paused, after the ticks it has not
// taken yet.
func (st *state) input(n *simNode, it inboxItem) {
	st.catchUp(n)
	st.feed(n, &it)
}

// inputMsg is input for a message arriving from the network: the message is
// copied only when it has to wait in the inbox.
func (st *state) inputMsg(n *simNode, m *core.Message) {
	st.catchUp(n)
	if n.state == stateUp {
		n.node.Step(*m)
		st.drain(n)
		return
	}
	st.feed(n, &inboxItem{kind: inMsg, msg: *m})
}

// catchUp gives a broker the ticks since its tickedTo, as a runner ticking
// every broker at every tick event would have: a broker that is down or
// paused misses them, an up one takes them (busy or not). Ticks
// that only advance timers are taken at once (core's SkipTicks); the due
// one, which may act, goes through the inbox like any input. The simulator
// calls it before anything reaches a broker, before an action and at the end
// of every run, so what is seen is what ticking every time would show.
func (st *state) catchUp(n *simNode) {
	k := st.tickNo - n.tickedTo
	if k <= 0 {
		return
	}
	n.tickedTo = st.tickNo
	for k > 0 {
		if n.state != stateUp {
			return
		}
		due := int64(n.node.TicksUntilDue())
		if k < due {
			n.node.SkipTicks(int(k))
			return
		}
		n.node.SkipTicks(int(due - 1))
		k -= due
		st.feed(n, &inboxItem{kind: inTick})
	}
}

// catchUpAll catches every broker up (see catchUp).
func (st *state) catchUpAll() {
	for _, n := range st.nodes {
		st.catchUp(n)
	}
}

// feed is input without the catching up.
func (st *state) feed(n *simNode, it *inboxItem) {
	switch n.state {
	case stateCrashed, stateRefused:
		if it.kind == inMsg && st.cur != nil {
			st.dropped(it.msg, st.cur.msgID, st.cur.sentAt, "broker is down")
		}
		return
	case statePaused:
		if it.kind != inTick {
			n.inbox = append(n.inbox, *it)
		}
		return
	}
	st.handle(n, it)
	st.drain(n) // (a busy broker takes its next Ready after the fsync)
}

func (st *state) handle(n *simNode, it *inboxItem) {
	switch it.kind {
	case inTick:
		n.node.Tick()
	case inMsg:
		n.node.Step(it.msg)
	case inReq:
		st.produceAt(n, it.req)
	}
}

// drain feeds the broker everything that waited in its inbox (while it was
// paused), then runs Ready, until it is idle or busy persisting. One Ready
// covers all the inputs before it, those taken while the previous Ready's
// fsync ran included: one fsync for many entries (group commit).
func (st *state) drain(n *simNode) {
	if n.state == stateUp && n.busy && n.node.HasEarly() {
		st.early(n)
	}
	for n.state == stateUp && !n.busy {
		for i := range n.inbox {
			st.handle(n, &n.inbox[i])
		}
		n.inbox = n.inbox[:0]
		if !n.node.HasReady() {
			return
		}
		st.startReady(n)
	}
}

// early does, while the broker's Ready is being persisted, what need not
// wait for it (core.Node.Early), as the native broker does: the leader's
// pushes of entries proposed meanwhile and its heartbeats leave, and
// commits of entries persisted earlier are applied and answered.
func (st *state) early(n *simNode) {
	e := n.node.Early()
	for i := range e.Eager {
		st.send(&e.Eager[i])
	}
	for _, ent := range e.Committed {
		st.applyEntry(n, ent)
	}
}

// startReady takes a Ready: eager messages leave, entries and hard state are
// written (not yet durable), and an fsync starts.
func (st *state) startReady(n *simNode) {
	// The Ready lives in n.pending until finishReady (it is big: kept in
	// place rather than copied about).
	n.pending = n.node.Ready()
	rd := &n.pending
	if trap := st.coreEvents(n, rd.Events); trap != "" {
		st.simEvent(n.id, "trap", "trap", core.NewArgs("trap", trap), trap)
		switch trap {
		case TrapIsolateLeaderOnElection:
			st.net.Isolate(n.id, len(st.nodes))
		case TrapPowerLossOnCommit:
			for _, o := range st.nodes {
				if o != n && o.busy && (o.state == stateUp || o.state == statePaused) {
					st.crash(o)
				}
			}
			st.crash(n)
			return
		default:
			st.crash(n)
			return
		}
	}
	for i := range rd.Eager {
		st.send(&rd.Eager[i])
	}
	if !rd.Snapshot.IsZero() {
		st.installSnapshot(n, rd.Snapshot)
	}
	if rd.HardStateChanged {
		n.store.SetHardState(rd.HardState)
	}
	if len(rd.Entries) > 0 {
		first := rd.Entries[0].Index
		if last := n.store.LastIndex(); first <= last {
			old, _ := n.store.Entries(first, last+1)
			for _, e := range old {
				n.truncated = append(n.truncated, st.entryView(n, e, false, false))
			}
			if len(n.truncated) > 20 {
				n.truncated = n.truncated[len(n.truncated)-20:]
			}
		}
		st.check.appended(st, n, rd.Entries)
		if err := n.store.Append(rd.Entries); err != nil {
			panic(fmt.Sprintf("broker %d: writing entries %v: %v", n.id, rd.Entries[0], err))
		}
	}
	// Commits known now are applied (and answered) now: an entry below
	// this Ready's entries was made durable by an earlier one. The rest
	// wait for the fsync.
	n.early = rd.DurableCommitted()
	for _, e := range rd.Committed[:n.early] {
		st.applyEntry(n, e)
	}
	if st.cfg.FsyncMs > 0 && rd.MustSync {
		n.busy = true
		st.schedule(event{at: st.now + int64(st.cfg.FsyncMs), kind: evFsync, node: n.id, gen: n.gen})
		return
	}
	st.finishReady(n)
}

// finishReady completes a Ready once its writes are durable: messages that
// promise durability leave, the committed entries not applied yet are
// applied, Advance.
func (st *state) finishReady(n *simNode) {
	rd := &n.pending
	n.busy, n.fsyncDone = false, false
	n.store.Sync()
	for i := range rd.Messages {
		st.send(&rd.Messages[i])
	}
	for _, e := range rd.Committed[n.early:] {
		st.applyEntry(n, e)
	}
	n.node.Advance(*rd)
	n.pending = core.Ready{}
	st.maybeCompact(n)
	st.afterStep(n)
}

// installSnapshot loads the leader's snapshot (Raft §7): the broker is
// restored from its state, and the CommitLog starts after it, the next
// entry where the leader has it (the state's end position).
func (st *state) installSnapshot(n *simNode, s core.Snapshot) {
	br, err := broker.RestoreSnapshot(broker.Options{}, s.Data)
	if err != nil {
		panic(fmt.Sprintf("broker %d: the leader's snapshot at %d does not restore: %v", n.id, s.Index, err))
	}
	n.br = br
	n.store.InstallSnapshot(s, br.NextPosition())
	// The queue files start at the snapshot's lengths and the checkpoint
	// is its state, durable before anything of the Ready is answered.
	n.disk, n.ckpt = brokerDisk{queues: br.CloneQueues(), state: s.Data, applied: s.Index}, nil
	st.snapshotsInstalled++
	n.installed++
}

// maybeCompact compacts the broker's log once Config.SnapshotEvery entries
// were applied since its last snapshot: the broker's state at its applied
// index becomes the snapshot, and the segments before it are deleted.
func (st *state) maybeCompact(n *simNode) {
	every := uint64(st.cfg.SnapshotEvery)
	if every == 0 || n.state != stateUp {
		return
	}
	applied := n.br.AppliedIndex()
	if applied < n.node.LastSnapshot().Index+every {
		return
	}
	s, err := n.node.Compact(applied, n.br.State())
	if err != nil {
		panic(fmt.Sprintf("broker %d: compact at %d: %v", n.id, applied, err))
	}
	if err := n.store.Compact(s); err != nil {
		panic(fmt.Sprintf("broker %d: retention at %d: %v", n.id, applied, err))
	}
	// What is compacted must survive a crash like the rest: a real store
	// writes the snapshot before deleting files.
	n.store.Sync()
}

func (st *state) applyEntry(n *simNode, e core.Entry) {
	pos, size, ok := n.store.Position(e.Index)
	if !ok {
		panic(fmt.Sprintf("broker %d: committed entry %d is not in its CommitLog", n.id, e.Index))
	}
	st.check.applied(st, n, e)
	if e.Index <= n.br.AppliedIndex() {
		// Only with a safety rule off: the replica truncated entries it had
		// applied. A broker cannot un-apply, so rebuild it from the log.
		st.rebuildBroker(n, e.Index-1)
	}
	ap, err := n.br.Apply(e, pos, size)
	if err != nil {
		panic(fmt.Sprintf("broker %d: applying entry %d: %v", n.id, e.Index, err))
	}
	if ap.Outcome == broker.OutcomeAppended {
		st.check.queued(st, n, ap)
	}
	for _, r := range ap.Resolved {
		st.answerTicket(n, r)
	}
}

// rebuildBroker replays entries 1..upTo into a fresh broker state machine.
func (st *state) rebuildBroker(n *simNode, upTo uint64) {
	n.br = broker.New(broker.Options{})
	n.disk, n.ckpt = brokerDisk{}, nil // the queue files are rebuilt too
	from := uint64(1)
	if snap, _ := n.store.Snapshot(); !snap.IsZero() {
		// The log before the snapshot is gone: start from its state (a
		// truncation never reaches below it: compacted entries are
		// committed, and core never truncates behind its snapshot).
		br, err := broker.RestoreSnapshot(broker.Options{}, snap.Data)
		if err != nil || upTo < snap.Index {
			panic(fmt.Sprintf("broker %d: rebuilding up to %d from its snapshot at %d: %v", n.id, upTo, snap.Index, err))
		}
		n.br, from = br, snap.Index+1
	}
	if upTo < from {
		return
	}
	ents, err := n.store.Entries(from, upTo+1)
	if err != nil {
		panic(fmt.Sprintf("broker %d: rereading its log: %v", n.id, err))
	}
	for _, e := range ents {
		pos, size, _ := n.store.Position(e.Index)
		if _, err := n.br.Apply(e, pos, size); err != nil {
			panic(fmt.Sprintf("broker %d: reapplying entry %d: %v", n.id, e.Index, err))
		}
	}
}

// afterStep notices a leader that stepped down: its waiting producers are
// told the outcome is unknown (the entry may still commit under the next
// leader; a retry is deduplicated).
func (st *state) afterStep(n *simNode) {
	leader := n.node.Role() == core.RoleLeader
	if n.wasLeader && !leader {
		for _, r := range n.br.FailAll(broker.ErrOutcomeUnknown) {
			st.answerTicket(n, r)
		}
	}
	n.wasLeader = leader
}

func (st *state) answerTicket(n *simNode, r broker.Resolved) {
	ref, ok := n.tickets[r.Ticket.ID]
	if !ok {
		return
	}
	delete(n.tickets, r.Ticket.ID)
	resp := clientResp{From: n.id, OK: r.Err == nil, Result: r.Result}
	switch {
	case r.Err == nil:
	case errors.Is(r.Err, broker.ErrNotCommitted):
		resp.Code = "NOT_COMMITTED"
	case errors.Is(r.Err, broker.ErrOutcomeUnknown):
		resp.Code = "UNKNOWN"
	default:
		resp.Code, resp.Text = "ERROR", r.Err.Error()
	}
	st.respond(ref.client, ref.attempt, resp)
}

// coreEvents records the replica's events and runs the checkers that key
// on them. It returns the name of an armed trap that fires on them.
func (st *state) coreEvents(n *simNode, evs []core.Event) (trap string) {
	spring := func(name string) {
		if trap == "" && st.traps[name] > 0 {
			st.traps[name]--
			trap = name
		}
	}
	for _, e := range evs {
		st.recordEvent(EventView{TimeMs: st.now, Node: int(e.Node), Term: e.Term, Kind: e.Kind.String(),
			Peer: int(e.Peer), Index: e.Index, Why: e.Why, Args: e.Args, Detail: e.Detail})
		switch {
		case e.Kind == core.EventBecameLeader:
			st.check.becameLeader(st, n, e.Term)
			spring(TrapCrashLeaderOnElection)
			spring(TrapIsolateLeaderOnElection)
		case e.Kind == core.EventCommitted && n.node.Role() == core.RoleLeader:
			st.check.leaderCommitted(n, e.Term, e.Index)
			if ents := n.node.Entries(e.Index, e.Index+1); len(ents) == 1 && ents[0].Term < e.Term {
				spring(TrapCrashLeaderOnOldCommit)
			}
			spring(TrapPowerLossOnCommit)
		}
	}
	return trap
}

// crash stops a broker: its disk keeps only what was fsynced.
func (st *state) crash(n *simNode) {
	n.state = stateCrashed
	n.gen++
	n.store.Crash()
	n.node, n.br = nil, nil
	n.ckpt = nil // its second fsync never came
	n.busy, n.fsyncDone = false, false
	n.pending = core.Ready{}
	n.inbox, n.tickets = nil, nil
	st.simEvent(n.id, "crashed", "lost-unsynced", core.NewArgs("entries", n.store.LastIndex()), fmt.Sprintf("lost everything not fsynced; disk holds %d entries", n.store.LastIndex()))
}

// restart runs the recovery scan over the disk and starts the replica.
func (st *state) restart(n *simNode) {
	store, report, err := n.store.Reopen()
	if err != nil {
		n.state = stateRefused
		n.refusal = err.Error()
		st.simEvent(n.id, "refused-to-start", "", nil, err.Error())
		return
	}
	if report != nil && !report.Empty() {
		var bytes int64
		for _, it := range report.Items {
			bytes += it.Bytes
		}
		st.simEvent(n.id, "recovered", "recovery-report", core.NewArgs("items", len(report.Items), "bytes", bytes), report.String())
	}
	if hs, _ := store.InitialState(); hs.Commit > store.LastIndex() {
		// Recovery cut entries this broker had persisted and knew to be
		// committed: it has forgotten what it acknowledged. Raft assumes
		// disks keep what they promise; the checkers will show the cost.
		st.simEvent(n.id, "lost-committed", "lost-committed", core.NewArgs("from", store.LastIndex()+1, "to", hs.Commit), fmt.Sprintf("recovery dropped committed entries %d..%d", store.LastIndex()+1, hs.Commit))
		hs.Commit = store.LastIndex()
		store.SetHardState(hs)
		store.Sync()
	}
	n.store = store
	st.boot(n)
	st.simEvent(n.id, "restarted", "from-disk", core.NewArgs("entries", store.LastIndex()), fmt.Sprintf("from disk: %d entries", store.LastIndex()))
}
