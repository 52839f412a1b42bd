package sim

import "dledgerlab/core/broker"

// stateCheckpointMs is how often a simulated broker checkpoints its state.
// A real broker does it about once a second (native/server's
// checkpointInterval); here it is every 5 s of simulated time, because
// encoding the state (the deduplication table above all) is then the
// largest cost of a simulated second (it doubled the chaos sweep's time at
// 1 s). What is modelled is the same: two fsyncs, and a crash between or
// after them.
const stateCheckpointMs = 5000

// brokerDisk is what a simulated broker keeps on disk beside its CommitLog,
// as a real one does (native/store/queues.go): its ConsumeQueue files and
// the checkpoint of its state (broker.State at an applied index). A
// checkpoint takes two fsyncs: first the queue files, written as the broker
// applies, then the checkpoint file, replaced atomically. A crash keeps
// what was durable: between the two fsyncs the queue files hold more than
// the checkpoint, and the restart cuts them back to it
// (broker.RestoreFromQueues) and applies the entries after it again. A
// brokerDisk is never changed once made (a rewind shares it): each step
// makes a new one.
type brokerDisk struct {
	queues  map[string]*broker.ConsumeQueue // the queue files, as of their last fsync
	state   []byte                          // the checkpoint; nil: none
	applied uint64                          // the checkpoint's applied index
}

// ckptInFlight is a checkpoint between its start and its second fsync: the
// broker's queues and state when it started.
type ckptInFlight struct {
	seq           uint64
	queues        map[string]*broker.ConsumeQueue
	state         []byte
	applied       uint64
	queuesDurable bool // the first fsync is done
}

// maybeCheckpoint starts a broker's checkpoint once stateCheckpointMs have
// passed since its last one and it applied something since.
func (st *state) maybeCheckpoint(n *simNode) {
	if n.state != stateUp || n.ckpt != nil || st.now-n.ckptAt < stateCheckpointMs || n.br.AppliedIndex() == n.disk.applied {
		return
	}
	n.ckptAt = st.now
	n.ckptSeq++
	n.ckpt = &ckptInFlight{seq: n.ckptSeq, queues: n.br.CloneQueues(), state: n.br.State(), applied: n.br.AppliedIndex()}
	st.scheduleCheckpointFsync(n)
}

func (st *state) scheduleCheckpointFsync(n *simNode) {
	st.schedule(event{at: st.now + int64(max(st.cfg.FsyncMs, 1)), kind: evCheckpoint, node: n.id, gen: n.gen, attempt: n.ckpt.seq})
}

// checkpointFsync ends one of the checkpoint's two fsyncs.
func (st *state) checkpointFsync(n *simNode, e *event) {
	c := n.ckpt
	if n.gen != e.gen || c == nil || c.seq != e.attempt || (n.state != stateUp && n.state != statePaused) {
		return
	}
	if n.state == statePaused {
		// The process is stopped: its next step waits.
		st.schedule(event{at: st.now + int64(st.cfg.TickMs), kind: evCheckpoint, node: n.id, gen: n.gen, attempt: c.seq})
		return
	}
	if !c.queuesDurable {
		n.disk = brokerDisk{queues: c.queues, state: n.disk.state, applied: n.disk.applied}
		n.ckpt = &ckptInFlight{seq: c.seq, queues: c.queues, state: c.state, applied: c.applied, queuesDurable: true}
		st.scheduleCheckpointFsync(n)
		return
	}
	n.disk = brokerDisk{queues: c.queues, state: c.state, applied: c.applied}
	n.ckpt = nil
}

// restoreFromDisk returns the broker of n's checkpoint and queue files, if
// they describe a state the CommitLog on disk continues (its applied entry
// is there and ends where the state says, and it is not older than the
// snapshot), as a real broker's restart checks (native/server's
// restoreBroker). Otherwise the files are dropped and it returns nil: the
// broker starts from its snapshot, or empty, and applies the log again.
func (st *state) restoreFromDisk(n *simNode, snapIndex uint64) *broker.Broker {
	d := n.disk
	ok := d.state != nil && d.applied >= snapIndex && d.applied <= n.store.LastIndex()
	var br *broker.Broker
	if ok {
		var err error
		br, err = broker.RestoreFromQueues(broker.Options{}, d.state, d.queues)
		ok = err == nil
	}
	if ok && d.applied > snapIndex {
		pos, size, found := n.store.Position(d.applied)
		ok = found && pos+int64(size) == br.NextPosition()
	}
	if !ok {
		n.disk = brokerDisk{}
		return nil
	}
	return br
}
