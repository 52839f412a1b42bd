package main

// Real brokers with retention (Raft §7 on disk): a broker that was away
// while the others deleted the CommitLog files it needs catches up by
// snapshot, and a broker restarts from its own snapshot.

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/native/client"
	"dledgerlab/native/proc"
	"dledgerlab/native/server"
	"dledgerlab/native/store"
)

// retention makes segments of 4 KiB of which a broker keeps 2 at most
// before it snapshots and deletes the older ones.
func retention(c *proc.Cluster) {
	c.Extra = append(c.Extra, "--segment-size", "4096", "--retain-segments", "2")
}

// produceBig sends n messages of about 400 bytes from one producer, in
// sequence, each answered only once committed.
func produceBig(t *testing.T, c *proc.Cluster, topic, producer string, first, n uint64) {
	t.Helper()
	ctx := ctxFor(t, 60*time.Second)
	pad := strings.Repeat("x", 400)
	for seq := first; seq < first+n; seq++ {
		_, err := c.Client.Produce(ctx, topic, server.ProduceRequest{Body: fmt.Sprintf("%s#%d %s", producer, seq, pad), Producer: producer, Seq: seq})
		require.NoError(t, err)
	}
}

// queueOf returns topic's queue in a status.
func queueOf(st server.Status, topic string) (server.QueueStatus, bool) {
	for _, q := range st.Queues {
		if q.Topic == topic {
			return q, true
		}
	}
	return server.QueueStatus{}, false
}

func TestBrokerAwayTooLongCatchesUpBySnapshot(t *testing.T) {
	c := startCluster(t, 3, retention)
	lead := waitLeader(t, c)
	produceBig(t, c, "orders", "p", 1, 5)
	waitConverged(t, c)

	victim := c.Nodes[lead%3] // a follower
	victim.Stop()
	before, err := c.Client.StatusOnce(ctxFor(t, 5*time.Second), c.Node(lead).HTTPAddr)
	require.NoError(t, err)

	// Enough messages for the others to delete the files the victim needs.
	produceBig(t, c, "orders", "p", 6, 60)
	ctx := ctxFor(t, 30*time.Second)
	require.NoError(t, proc.WaitFor(ctx, "the running brokers to compact past what the stopped one has", func() bool {
		sts := c.Statuses(ctx)
		for _, n := range c.Nodes {
			if n.Running() && sts[n.ID].SnapshotIndex <= before.LastIndex {
				return false
			}
		}
		return true
	}))
	for _, n := range c.Nodes {
		if n.Running() {
			_, err := os.Stat(filepath.Join(n.Dir, "00000000000000000000"))
			assert.True(t, errors.Is(err, os.ErrNotExist), "broker %d deleted its first segment file", n.ID)
			assert.FileExists(t, filepath.Join(n.Dir, store.SnapshotFile))
		}
	}

	require.NoError(t, c.Start(victim.ID))
	ctx = ctxFor(t, 30*time.Second)
	var vst server.Status
	require.NoError(t, proc.WaitFor(ctx, "the restarted broker to install a snapshot and catch up", func() bool {
		sts := c.Statuses(ctx)
		l := c.Leader(ctx)
		var ok bool
		vst, ok = sts[victim.ID]
		return ok && l != 0 && vst.SnapshotsInstalled >= 1 && vst.Applied == sts[l].LastIndex
	}))
	assert.Contains(t, victim.Log(), "installed the leader's snapshot")
	assert.Greater(t, vst.SnapshotIndex, before.LastIndex)

	produceBig(t, c, "orders", "q", 1, 3)
	waitConverged(t, c)

	vst, err = c.Client.StatusOnce(ctxFor(t, 5*time.Second), victim.HTTPAddr)
	require.NoError(t, err)
	q, ok := queueOf(vst, "orders")
	require.True(t, ok, "the restarted broker has the topic: %+v", vst.Queues)
	require.Positive(t, q.MinOffset, "its queue starts at the snapshot's offset")
	assert.Equal(t, uint64(68), q.MaxOffset)

	got, err := c.Client.Consume(ctxFor(t, 5*time.Second), victim.HTTPAddr, "orders", q.MinOffset, 100)
	require.NoError(t, err, "consuming from the snapshot's start offset works")
	require.Len(t, got.Messages, int(q.MaxOffset-q.MinOffset))
	last := got.Messages[len(got.Messages)-1]
	assert.Equal(t, "q", last.Producer, "the messages produced after the restart are there")
	assert.Equal(t, uint64(3), last.Seq)

	_, err = c.Client.Consume(ctxFor(t, 5*time.Second), victim.HTTPAddr, "orders", 0, 10)
	var ae *client.APIError
	require.True(t, errors.As(err, &ae), "an older offset is refused: %v", err)
	assert.Equal(t, server.CodeOffsetTooSmall, ae.Code)
	assert.Contains(t, ae.Message, "offset too small")

	t.Run("the broker that installed the snapshot restarts from its own disk", func(t *testing.T) {
		victim.Kill()
		require.NoError(t, c.Start(victim.ID))
		waitConverged(t, c)
		st, err := c.Client.StatusOnce(ctxFor(t, 5*time.Second), victim.HTTPAddr)
		require.NoError(t, err)
		q2, ok := queueOf(st, "orders")
		require.True(t, ok)
		assert.Equal(t, q, q2, "the queue starts and ends where it did")
		got, err := c.Client.Consume(ctxFor(t, 5*time.Second), victim.HTTPAddr, "orders", q.MinOffset, 100)
		require.NoError(t, err)
		assert.Len(t, got.Messages, int(q.MaxOffset-q.MinOffset))
	})
}

func TestBrokerRestartsFromItsOwnSnapshot(t *testing.T) {
	c := startCluster(t, 1, func(c *proc.Cluster) {
		// Retention by size this time: more than two 4-KiB segments.
		c.Extra = append(c.Extra, "--segment-size", "4096", "--retain-bytes", "8192")
	})
	waitLeader(t, c)
	produceBig(t, c, "orders", "p", 1, 40)
	waitConverged(t, c)
	// 40 messages of 400 bytes pass 2 segments of 4 KiB: the next
	// checkpoint (within a second) becomes a snapshot.
	var st server.Status
	ctx := ctxFor(t, 10*time.Second)
	require.NoError(t, proc.WaitFor(ctx, "the broker to compact its log", func() bool {
		var err error
		st, err = c.Client.StatusOnce(ctx, c.Node(1).HTTPAddr)
		return err == nil && st.SnapshotIndex > 0 && st.Compactions > 0
	}))

	// The queue now starts at its first message the CommitLog still holds
	// (RocketMQ's correctMinOffset): the status says so, a read below it
	// is OFFSET_TOO_SMALL naming it, and a group that had read nothing
	// goes on from there.
	require.NoError(t, proc.WaitFor(ctx, "the queue's first offset to follow the log", func() bool {
		var err error
		st, err = c.Client.StatusOnce(ctx, c.Node(1).HTTPAddr)
		q, ok := queueOf(st, "orders")
		return err == nil && ok && q.MinOffset > 0
	}))
	q0, _ := queueOf(st, "orders")
	_, err := c.Client.Consume(ctxFor(t, 5*time.Second), c.Node(1).HTTPAddr, "orders", q0.MinOffset-1, 10)
	var tooSmall *client.APIError
	require.True(t, errors.As(err, &tooSmall), "below the first offset: %v", err)
	assert.Equal(t, server.CodeOffsetTooSmall, tooSmall.Code)
	assert.Equal(t, q0.MinOffset, tooSmall.MinOffset)
	got, err := c.Client.Consume(ctxFor(t, 5*time.Second), c.Node(1).HTTPAddr, "orders", q0.MinOffset, 100)
	require.NoError(t, err, "the first offset kept is readable")
	assert.Len(t, got.Messages, int(q0.MaxOffset-q0.MinOffset))
	out, err := exec.Command(binPath, "consume", "--addr", c.Node(1).HTTPAddr, "--timeout", "10s", "--topic", "orders", "--group", "late", "--max", "100").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), fmt.Sprintf("offsets 0..%d of orders were deleted by retention before group late read them; going on at %d", q0.MinOffset-1, q0.MinOffset))
	assert.Contains(t, string(out), fmt.Sprintf("read %d messages of orders", q0.MaxOffset-q0.MinOffset))

	for _, kill := range []bool{false, true} {
		if kill {
			c.Node(1).Kill()
		} else {
			c.Node(1).Stop()
		}
		require.NoError(t, c.Start(1))
		waitLeader(t, c)
		// Stored after the first restart; the second time the same
		// sequences are duplicates the restored dedup table answers.
		produceBig(t, c, "orders", "p", 41, 1)
		produceBig(t, c, "orders", "r", 1, 1)
		waitConverged(t, c)
	}
	after, err := c.Client.StatusOnce(ctxFor(t, 5*time.Second), c.Node(1).HTTPAddr)
	require.NoError(t, err)
	assert.GreaterOrEqual(t, after.SnapshotIndex, st.SnapshotIndex)
	q, ok := queueOf(after, "orders")
	require.True(t, ok)
	assert.Equal(t, uint64(42), q.MaxOffset, "p#1..41 and r#1, each stored once")

	got, err = c.Client.Consume(ctxFor(t, 5*time.Second), c.Node(1).HTTPAddr, "orders", q.MaxOffset-2, 10)
	require.NoError(t, err)
	require.Len(t, got.Messages, 2)
	assert.Equal(t, "p", got.Messages[0].Producer)
	assert.Equal(t, uint64(41), got.Messages[0].Seq)
	_, err = c.Client.Consume(ctxFor(t, 5*time.Second), c.Node(1).HTTPAddr, "orders", 0, 10)
	var ae *client.APIError
	require.True(t, errors.As(err, &ae), "the first message's file was deleted: %v", err)
	assert.Equal(t, server.CodeOffsetTooSmall, ae.Code)

	t.Run("a damaged snapshot file stops the broker from starting, naming the file", func(t *testing.T) {
		n := c.Node(1)
		n.Stop()
		path := filepath.Join(n.Dir, store.SnapshotFile)
		b, err := os.ReadFile(path)
		require.NoError(t, err)
		b[len(b)/2] ^= 0xFF
		require.NoError(t, os.WriteFile(path, b, 0o644))
		require.NoError(t, c.Start(1))
		require.Error(t, n.Wait(ctxFor(t, 10*time.Second)), "the broker must refuse to start")
		assert.Contains(t, n.Log(), "refuses to start")
		assert.Contains(t, n.Log(), path)
	})
}
