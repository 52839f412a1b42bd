package server

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/internal/syncbuf"
	"dledgerlab/native/store"
)

// runningBroker is a one-broker group serving from dir until stop.
type runningBroker struct {
	s    *Server
	base string
	log  *syncbuf.Buffer
	stop func()
}

// runBroker serves broker 1 alone from dir, waits until it leads and has
// applied what its log holds, and returns it; stop stops it cleanly.
func runBroker(t *testing.T, dir string) *runningBroker {
	t.Helper()
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logs := &syncbuf.Buffer{}
	cfg := Config{
		GroupMember: GroupMember{ID: 1, Peers: map[core.NodeID]string{1: peerLn.Addr().String()}, HTTP: map[core.NodeID]string{1: httpLn.Addr().String()},
			Dir: dir, Secret: "s"}, AdminToken: "tok", NoSync: true, ProduceTimeout: 5 * time.Second,
		Logger: slog.New(slog.NewTextHandler(logs, nil)),
	}
	s, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, peerLn, httpLn) }()
	stopped := false
	stop := func() {
		if !stopped {
			stopped = true
			cancel()
			require.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	b := &runningBroker{s: s, base: "http://" + httpLn.Addr().String(), log: logs, stop: stop}
	require.Eventually(t, func() bool {
		var st Status
		return getJSON(b.base+"/v1/status", &st) == nil && st.Role == "leader" && st.Applied == st.LastIndex
	}, 20*time.Second, 5*time.Millisecond, "broker in %s leads and has applied its log", dir)
	return b
}

// digest returns the broker's applied index and digest, read on its
// runner (the broker reads its messages from the store, open only while
// the broker runs).
func (b *runningBroker) digest() (applied uint64, digest string) {
	done := make(chan struct{})
	b.s.calls <- func() {
		applied, digest = b.s.bk.AppliedIndex(), b.s.bk.Digest()
		close(done)
	}
	<-done
	return applied, digest
}

// produce stores messages from..to-1 of producer p, alternating topics.
func (b *runningBroker) produce(t *testing.T, from, to int) {
	t.Helper()
	for i := from; i < to; i++ {
		topic := []string{"orders", "payments"}[i%2]
		code, body := call(t, http.MethodPost, b.base+"/v1/topics/"+topic+"/messages",
			fmt.Sprintf(`{"body":"m%d","tags":"t%d","producer":"p","seq":%d}`, i, i%3, i+1))
		require.Equal(t, http.StatusOK, code, "%v", body)
	}
}

// consumeBodies reads topic whole from offset 0 over HTTP.
func (b *runningBroker) consumeBodies(t *testing.T, topic string) []string {
	t.Helper()
	var out []string
	for off := 0; ; {
		var page struct {
			Messages []struct {
				Body string `json:"body"`
			} `json:"messages"`
		}
		require.NoError(t, getJSON(fmt.Sprintf("%s/v1/topics/%s/messages?offset=%d&max=100", b.base, topic, off), &page))
		if len(page.Messages) == 0 {
			return out
		}
		for _, m := range page.Messages {
			out = append(out, m.Body)
		}
		off += len(page.Messages)
	}
}

// A restarted broker takes its state from the checkpoint and its
// ConsumeQueue files, and applies only the entries after it: whether it
// stopped cleanly, crashed after writing queue units past the checkpoint,
// or finds its checkpoint or queue files damaged (then it rebuilds the
// queues from the CommitLog, with a warning), it ends with the same
// messages, the same broker digest and the same answers to a retry.
func TestRestartResumesFromTheCheckpoint(t *testing.T) {
	dir := t.TempDir()
	b := runBroker(t, dir)
	b.produce(t, 0, 120)
	b.stop()
	applied := b.s.bk.AppliedIndex()
	old, err := os.ReadFile(filepath.Join(dir, store.CheckpointFile))
	require.NoError(t, err, "a clean stop writes a checkpoint")

	b = runBroker(t, dir)
	assert.Contains(t, b.log.String(), "broker state restored from the checkpoint")
	assert.Contains(t, b.log.String(), fmt.Sprintf("applied=%d", applied))
	b.produce(t, 120, 250)
	b.stop()
	wantOrders := []string{}
	for i := 0; i < 250; i += 2 {
		wantOrders = append(wantOrders, fmt.Sprintf("m%d", i))
	}

	check := func(t *testing.T, b *runningBroker) {
		t.Helper()
		assert.Equal(t, wantOrders, b.consumeBodies(t, "orders"))
		assert.Len(t, b.consumeBodies(t, "payments"), 125)
		// A retry of a stored send is a duplicate with its original place.
		code, body := call(t, http.MethodPost, b.base+"/v1/topics/payments/messages", `{"body":"m249","tags":"t0","producer":"p","seq":250}`)
		assert.Equal(t, http.StatusOK, code)
		assert.Equal(t, true, body["duplicate"], "%v", body)
		assert.EqualValues(t, 124, body["queue_offset"], "%v", body)
		applied, digest := b.digest()
		b.stop()
		assert.Equal(t, replayDigest(t, dir, applied), digest,
			"the same state as a broker that applied the whole CommitLog")
	}

	t.Run("clean stop", func(t *testing.T) {
		b := runBroker(t, dir)
		assert.Contains(t, b.log.String(), "broker state restored from the checkpoint")
		check(t, b)
	})
	t.Run("crash after queue units were written past the checkpoint", func(t *testing.T) {
		require.NoError(t, os.WriteFile(filepath.Join(dir, store.CheckpointFile), old, 0o644))
		f, err := os.OpenFile(filepath.Join(dir, store.QueueDir, "orders", "0", store.QueueFileName(0)), os.O_WRONLY|os.O_APPEND, 0)
		require.NoError(t, err)
		_, err = f.Write([]byte("a torn unit")) // and a unit cut short
		require.NoError(t, err)
		require.NoError(t, f.Close())
		b := runBroker(t, dir)
		assert.Contains(t, b.log.String(), fmt.Sprintf("applied=%d", applied), "from the older checkpoint")
		assert.NotContains(t, b.log.String(), "level=WARN")
		check(t, b)
	})
	t.Run("damaged checkpoint", func(t *testing.T) {
		cp := filepath.Join(dir, store.CheckpointFile)
		data, err := os.ReadFile(cp)
		require.NoError(t, err)
		data[len(data)/2] ^= 1
		require.NoError(t, os.WriteFile(cp, data, 0o644))
		b := runBroker(t, dir)
		assert.Contains(t, b.log.String(), "level=WARN msg=\"the checkpoint does not match")
		assert.Contains(t, b.log.String(), "checksum")
		check(t, b)
	})
	t.Run("queue file shorter than the checkpoint says", func(t *testing.T) {
		q := filepath.Join(dir, store.QueueDir, "payments", "0", store.QueueFileName(0))
		require.NoError(t, os.Truncate(q, 20*10))
		b := runBroker(t, dir)
		assert.Contains(t, b.log.String(), "holds 10 units, the checkpoint says 125")
		check(t, b)
	})
	t.Run("last queue record pointing elsewhere", func(t *testing.T) {
		q := filepath.Join(dir, store.QueueDir, "orders", "0", store.QueueFileName(0))
		f, err := os.OpenFile(q, os.O_WRONLY, 0)
		require.NoError(t, err)
		_, err = f.WriteAt([]byte{0, 0, 0, 0, 0, 0, 0, 7}, 20*124) // the last unit's position
		require.NoError(t, err)
		require.NoError(t, f.Close())
		b := runBroker(t, dir)
		assert.Contains(t, b.log.String(), "queue orders offset 124 (CommitLog position 7)")
		check(t, b)
	})
	t.Run("no checkpoint", func(t *testing.T) {
		require.NoError(t, os.Remove(filepath.Join(dir, store.CheckpointFile)))
		b := runBroker(t, dir)
		assert.NotContains(t, b.log.String(), "restored")
		assert.NotContains(t, b.log.String(), "level=WARN")
		check(t, b)
	})
}

// replayDigest applies dir's CommitLog up to entry applied to a new broker
// and returns its digest.
func replayDigest(t *testing.T, dir string, applied uint64) string {
	t.Helper()
	st, _, err := store.Open(dir, store.Options{NoSync: true, Logger: slog.New(slog.DiscardHandler)})
	require.NoError(t, err)
	defer st.Close()
	bk := broker.New(broker.Options{CommitLog: st})
	ents, err := st.Entries(1, applied+1)
	require.NoError(t, err)
	for _, e := range ents {
		pos, size, _ := st.Position(e.Index)
		_, err := bk.Apply(e, pos, size)
		require.NoError(t, err)
	}
	return bk.Digest()
}
