package broker

import (
	"errors"
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/commitlog"
)

// stateLog is a committed log in a MemStore and what applying it did.
type stateLog struct {
	store *commitlog.MemStore
	ents  []core.Entry
}

// newStateLog stores n entries: messages to three topics from five
// producers (each sending more than the dedup window), a no-op now and
// then, and retries of earlier sends, which are duplicates.
func newStateLog(t *testing.T, n int) *stateLog {
	store := commitlog.NewMemStore(commitlog.Options{SegmentSize: 1 << 16})
	l := &stateLog{store: store}
	seqs := map[string]uint64{}
	for i := uint64(1); i <= uint64(n); i++ {
		switch {
		case i%11 == 0:
			l.ents = append(l.ents, noop(i, 1+i/40))
		case i%7 == 0 && seqs["p1"] > 2: // a retry of p1's previous send
			m := msg("orders", "p1", seqs["p1"], fmt.Sprintf("p1 %d", seqs["p1"]))
			l.ents = append(l.ents, normal(t, i, 1+i/40, m))
		default:
			p := fmt.Sprintf("p%d", i%5)
			seqs[p]++
			topic := []string{"orders", "payments", "audit"}[i%3]
			m := msg(topic, p, seqs[p], fmt.Sprintf("%s %d", p, seqs[p]))
			m.Tags = []string{"", "a", "b"}[i%3]
			if p == "p1" {
				m.Topic, m.Tags = "orders", ""
			}
			l.ents = append(l.ents, normal(t, i, 1+i/40, m))
		}
	}
	require.NoError(t, store.Append(l.ents))
	store.Sync()
	return l
}

// apply applies entries lo..hi (1-based, inclusive) to b.
func (l *stateLog) apply(t *testing.T, b *Broker, lo, hi uint64) {
	t.Helper()
	for _, e := range l.ents[lo-1 : hi] {
		pos, size, ok := l.store.Position(e.Index)
		require.True(t, ok)
		_, err := b.Apply(e, pos, size)
		require.NoError(t, err)
	}
}

// loaderOf gives Restore the queue records b holds, as a runner reads them
// back from its ConsumeQueue files.
func loaderOf(b *Broker) QueueLoader {
	return func(topic string, base, n uint64, add func(RestoredRecord) error) error {
		q := b.Queue(topic)
		for off := base; off < n; off++ {
			rec, err := q.Record(off)
			if err != nil {
				return err
			}
			r := q.chunks[(off-q.base)/queueChunkLen].recs[(off-q.base)%queueChunkLen]
			if err := add(RestoredRecord{QueueRecord: rec, Index: r.index, Term: r.term}); err != nil {
				return err
			}
		}
		return nil
	}
}

// A broker restored from its State and its queue records at entry k, then
// given entries k+1.. , is the broker that applied every entry from the
// start: same digest, same messages, same answers to retries, whichever k.
func TestRestoreResumesWhereTheStateWasTaken(t *testing.T) {
	const n = 300
	l := newStateLog(t, n)
	whole := New(Options{CommitLog: l.store})
	l.apply(t, whole, 1, n)
	whole.CommitOffset("g", "orders", 17)

	for _, k := range []uint64{0, 1, 10, 11, 77, 150, 299, n} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			before := New(Options{CommitLog: l.store})
			if k > 0 {
				l.apply(t, before, 1, k)
			}
			before.CommitOffset("g", "orders", 17)
			state := before.State()
			b, err := Restore(Options{CommitLog: l.store}, state, loaderOf(before))
			require.NoError(t, err)
			assert.Equal(t, before.Digest(), b.Digest(), "restored as it was")
			assert.Equal(t, state, b.State(), "State of a restored broker is the same bytes")
			if k < n {
				l.apply(t, b, k+1, n)
			}
			assert.Equal(t, whole.Digest(), b.Digest())
			assert.Equal(t, whole.Topics(), b.Topics())
			assert.Equal(t, uint64(17), b.Offset("g", "orders"), "consumer offsets are kept")
			for _, topic := range []string{"orders", "payments", "audit"} {
				assert.Equal(t, consumeAll(t, whole, topic), consumeAll(t, b, topic), topic)
			}
			// A retry of a recent send is answered with its original result.
			m := msg("orders", "p1", 3, "p1 3")
			_, dup1, err1 := whole.Prepare(m)
			_, dup2, err2 := b.Prepare(m)
			assert.Equal(t, dup1, dup2)
			assert.Equal(t, err1 == nil, err2 == nil)
		})
	}
}

// Every damaged or inconsistent state is refused with ErrBadState and a
// reason; none panics, and none is partly restored.
func TestRestoreRefusesABadState(t *testing.T) {
	l := newStateLog(t, 120)
	b := New(Options{CommitLog: l.store})
	l.apply(t, b, 1, 120)
	b.CommitOffset("g", "orders", 3)
	state := b.State()
	opts := Options{CommitLog: l.store}

	for cut := range len(state) {
		_, err := Restore(opts, state[:cut], loaderOf(b))
		require.ErrorIs(t, err, ErrBadState, "cut at %d", cut)
	}
	for i := range state {
		bad := append([]byte(nil), state...)
		bad[i] ^= 0x40
		_, err := Restore(opts, bad, loaderOf(b))
		require.ErrorIs(t, err, ErrBadState, "byte %d flipped", i)
	}

	_, err := Restore(Options{}, state, loaderOf(b))
	assert.ErrorContains(t, err, "CommitLog is nil")

	fewer := func(topic string, base, n uint64, add func(RestoredRecord) error) error {
		return loaderOf(b)(topic, base, n-1, add)
	}
	_, err = Restore(opts, state, fewer)
	assert.ErrorIs(t, err, ErrBadState)
	assert.ErrorContains(t, err, "the state says")

	more := func(topic string, base, n uint64, add func(RestoredRecord) error) error {
		if err := loaderOf(b)(topic, base, n, add); err != nil {
			return err
		}
		return add(RestoredRecord{QueueRecord: QueueRecord{Pos: b.nextPos, Size: 10}, Index: 1, Term: 1})
	}
	_, err = Restore(opts, state, more)
	assert.ErrorIs(t, err, ErrBadState)
	assert.ErrorContains(t, err, "more than")

	// A record from a later entry than applied: queue files ahead of the state.
	early := New(Options{CommitLog: l.store})
	l.apply(t, early, 1, 60)
	_, err = Restore(opts, early.State(), func(topic string, _, n uint64, add func(RestoredRecord) error) error {
		q := b.Queue(topic) // the last n of b's records: entries up to 120
		for off := q.Len() - n; off < q.Len(); off++ {
			rec, _ := q.Record(off)
			r := q.chunks[off/queueChunkLen].recs[off%queueChunkLen]
			if err := add(RestoredRecord{QueueRecord: rec, Index: r.index, Term: r.term}); err != nil {
				return err
			}
		}
		return nil
	})
	assert.ErrorIs(t, err, ErrBadState)

	loadErr := errors.New("disk on fire")
	_, err = Restore(opts, state, func(string, uint64, uint64, func(RestoredRecord) error) error { return loadErr })
	assert.ErrorIs(t, err, loadErr)
}

// FuzzRestore: any bytes either restore or are refused with ErrBadState;
// decoding never panics or allocates for counts the input cannot hold.
func FuzzRestore(f *testing.F) {
	store := commitlog.NewMemStore(commitlog.Options{SegmentSize: 1 << 16})
	empty := New(Options{CommitLog: store})
	f.Add(empty.State())
	b := New(Options{CommitLog: store})
	data, _ := EncodeMessage(msg("t", "p", 1, "x"))
	require.NoError(f, store.Append([]core.Entry{{Index: 1, Term: 1, Type: core.EntryNormal, Data: data}}))
	pos, size, _ := store.Position(1)
	_, err := b.Apply(core.Entry{Index: 1, Term: 1, Type: core.EntryNormal, Data: data}, pos, size)
	require.NoError(f, err)
	b.CommitOffset("g", "t", 1)
	f.Add(b.State())
	f.Fuzz(func(t *testing.T, state []byte) {
		r, err := Restore(Options{CommitLog: store}, state, loaderOf(b))
		if err != nil {
			if !errors.Is(err, ErrBadState) {
				t.Fatalf("error %v does not wrap ErrBadState", err)
			}
			return
		}
		_ = r.Digest()
	})
}

// With Options.Queues the records stay in the queue files: Restore has the
// loader cut each queue back to the state's length (units written after
// the state was taken), checks the last record against the CommitLog, and
// the broker goes on as one that applied everything.
func TestRestoreWithQueueFiles(t *testing.T) {
	const n, k = 300, 170
	l := newStateLog(t, n)
	whole := New(Options{CommitLog: l.store})
	l.apply(t, whole, 1, n)

	files := memQueues{}
	b := New(Options{CommitLog: l.store, Queues: files})
	l.apply(t, b, 1, k)
	state := b.State()
	l.apply(t, b, k+1, k+40) // a crash after these reached the queue files, not the checkpoint
	cut := func(topic string, _, n uint64, add func(RestoredRecord) error) error {
		require.Nil(t, add, "the records stay in the files")
		return files.cut(topic, n)
	}
	r, err := Restore(Options{CommitLog: l.store, Queues: files}, state, cut)
	require.NoError(t, err)
	assert.Empty(t, r.topics["orders"].chunks)
	l.apply(t, r, k+1, n)
	assert.Equal(t, whole.Digest(), r.Digest())
	for _, topic := range []string{"orders", "payments", "audit"} {
		assert.Equal(t, consumeAll(t, whole, topic), consumeAll(t, r, topic), topic)
	}

	// Queue files from a later state than the checkpoint's (a record past
	// the applied entry) are refused.
	ahead := memQueues{}
	a := New(Options{CommitLog: l.store, Queues: ahead})
	l.apply(t, a, 1, n)
	early := New(Options{CommitLog: l.store})
	l.apply(t, early, 1, 60)
	_, err = Restore(Options{CommitLog: l.store, Queues: ahead}, early.State(), func(topic string, _, n uint64, _ func(RestoredRecord) error) error {
		q := ahead[topic]
		ahead[topic] = q[len(q)-int(n)*QueueRecordSize:] // the last n records
		return nil
	})
	assert.ErrorIs(t, err, ErrBadState)
}

// A follower that installs the leader's snapshot (Raft §7) restores the
// broker from its State alone: every queue starts at its length, its first
// offset kept (MinOffset); a consume below it is ErrOffsetTooSmall
// (RocketMQ's OFFSET_TOO_SMALL); the messages applied after the snapshot
// are the leader's, at the same offsets, and retries are deduplicated as on
// the leader. Its own State keeps the first offsets.
func TestRestoreFromASnapshotStartsTheQueuesAtTheirLength(t *testing.T) {
	const n, k = 220, 120
	l := newStateLog(t, n)
	leader := New(Options{CommitLog: l.store})
	l.apply(t, leader, 1, k)
	f, err := RestoreSnapshot(Options{}, leader.State())
	require.NoError(t, err)
	assert.Equal(t, uint64(k), f.AppliedIndex())
	for _, topic := range []string{"orders", "payments", "audit"} {
		q := f.Queue(topic)
		require.NotNil(t, q, topic)
		assert.Equal(t, leader.Queue(topic).Len(), q.Len())
		assert.Equal(t, q.Len(), q.MinOffset(), "no message before the snapshot on this broker")
		_, err := f.Consume(topic, 0, 10)
		assert.ErrorIs(t, err, ErrOffsetTooSmall)
	}
	l.apply(t, leader, k+1, n)
	// The follower's CommitLog would hold entries k+1.. at the same
	// positions; this test's log holds them all.
	l.apply(t, f, k+1, n)
	for _, topic := range []string{"orders", "payments", "audit"} {
		min := f.Queue(topic).MinOffset()
		want, err := leader.Consume(topic, min, 1000)
		require.NoError(t, err)
		got, err := f.Consume(topic, min, 1000)
		require.NoError(t, err)
		assert.Equal(t, want, got, topic)
		assert.NotEmpty(t, got, topic)
	}
	m := msg("orders", "p1", 3, "p1 3")
	_, dup1, err1 := leader.Prepare(m)
	_, dup2, err2 := f.Prepare(m)
	assert.Equal(t, dup1, dup2)
	assert.Equal(t, err1 == nil, err2 == nil)
	views := f.Topics()
	require.NotEmpty(t, views)
	assert.Equal(t, f.Queue(views[0].Name).MinOffset(), views[0].MinOffset)

	// A checkpoint of that broker keeps its first offsets.
	again, err := Restore(Options{CommitLog: l.store}, f.State(), loaderOf(f))
	require.NoError(t, err)
	assert.Equal(t, f.Digest(), again.Digest())
	assert.Equal(t, f.State(), again.State())
}

// A broker that keeps its messages itself (the simulator's) is restored
// from a State and copies of its queues taken later: what the copies hold
// past the State is cut, and applying the rest of the log gives the same
// broker as never stopping. Copies that do not hold what the State says
// are refused.
func TestRestoreFromQueueCopies(t *testing.T) {
	const n = 700 // more than two chunks of a queue
	l := newStateLog(t, n)
	whole := New(Options{})
	l.apply(t, whole, 1, n)
	for _, k := range []uint64{0, 1, 256, 300, 513, n} {
		t.Run(fmt.Sprint(k), func(t *testing.T) {
			b := New(Options{})
			l.apply(t, b, 1, k)
			state := b.State()
			later := min(k+150, n)
			l.apply(t, b, k+1, later)
			copies := b.CloneQueues() // the queue files, written after the checkpoint
			l.apply(t, b, later+1, n) // appending to b leaves the copies alone

			r, err := RestoreFromQueues(Options{}, state, copies)
			require.NoError(t, err)
			assert.Equal(t, state, r.State(), "the queues are cut back to the checkpoint")
			l.apply(t, r, k+1, n)
			assert.Equal(t, whole.Digest(), r.Digest())
			assert.Equal(t, whole.Digest(), b.Digest())
			for _, topic := range []string{"orders", "payments", "audit"} {
				assert.Equal(t, consumeAll(t, whole, topic), consumeAll(t, r, topic), topic)
			}
		})
	}
	b := New(Options{})
	l.apply(t, b, 1, 100)
	early := b.CloneQueues()
	l.apply(t, b, 101, 200)
	_, err := RestoreFromQueues(Options{}, b.State(), early)
	assert.ErrorIs(t, err, ErrBadState, "copies shorter than the checkpoint")
	_, err = RestoreFromQueues(Options{}, b.State(), map[string]*ConsumeQueue{})
	assert.ErrorIs(t, err, ErrBadState, "no copies at all")
}
