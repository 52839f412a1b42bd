package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/commitlog"
)

// Produces that arrive while a Ready's fsync is in flight are taken by the
// runner at once (it does not wait for the disk: the fsync runs on its own
// goroutine), go into one next Ready and share its fsync (group commit),
// and each is answered only after that fsync.
func TestWaitingProducesShareOneFsync(t *testing.T) {
	const n = 64
	var hold atomic.Bool
	var syncs atomic.Int64
	held, release := make(chan struct{}, 1), make(chan struct{})
	s, base := singleServer(t, func(c *Config) {
		c.NoSync, c.ProduceTimeout = false, 10*time.Second
		c.SyncFile = func(f *os.File) error {
			syncs.Add(1)
			// Only a Ready's fsync of the CommitLog is held, off the
			// runner. The term file's (written on the runner when the
			// election's Ready is handled, which may come after the
			// broker reports itself leader) and the checkpoint's must
			// not be: holding them holds the runner.
			if isSegment(f) && hold.CompareAndSwap(true, false) {
				held <- struct{}{}
				<-release // the disk is slow this once
			}
			return nil
		}
	})
	unblock := sync.OnceFunc(func() { close(release) })
	t.Cleanup(unblock) // before the broker's cleanup, should the test stop early

	var answered atomic.Int64
	var wg sync.WaitGroup
	produce := func(i int) {
		defer wg.Done()
		resp, err := http.Post(base+"/v1/topics/orders/messages", "application/json", strings.NewReader(fmt.Sprintf(`{"body":"m%d"}`, i)))
		if assert.NoError(t, err) {
			assert.Equal(t, http.StatusOK, resp.StatusCode)
			resp.Body.Close()
		}
		answered.Add(1)
	}
	hold.Store(true)
	wg.Add(1)
	go produce(0) // its Ready's fsync holds the runner
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first produce reached no fsync")
	}
	wg.Add(n)
	for i := range n {
		go produce(i + 1)
	}
	// Entry 1 is the leader's no-op, entry 2 the first produce.
	require.Eventually(t, func() bool {
		var last uint64
		s.do(context.Background(), func() { last = s.raft.Status().LastIndex })
		return last == 2+n
	}, 10*time.Second, time.Millisecond, "the runner takes the produces while the fsync is held")
	assert.Zero(t, answered.Load(), "nothing is answered before its fsync")
	before := syncs.Load()
	unblock()
	wg.Wait()
	assert.Less(t, syncs.Load()-before, int64(n/4), "%d waiting produces took %d fsyncs", n, syncs.Load()-before)
}

// isSegment reports whether f is a CommitLog segment file: the file a
// Ready's fsync (off the runner) syncs, unlike the term file, the
// checkpoint's files and the data folder, which are synced on the runner.
func isSegment(f *os.File) bool {
	_, err := commitlog.ParseSegmentName(filepath.Base(f.Name()))
	return err == nil
}

// A Runner with a Batch hands the member the calls already waiting before
// one After (group commit: one fsync for all of them), at most Batch of
// them; without one, each input gets its own After.
func TestRunnerTakesWaitingInputsBeforeOneAfter(t *testing.T) {
	errStop := fmt.Errorf("stop after the first After")
	for _, tc := range []struct {
		name       string
		batch, ran int
	}{
		{"no batch: one input per After", 0, 1},
		{"every waiting call", 8, 5},
		{"at most Batch", 3, 3},
	} {
		t.Run(tc.name, func(t *testing.T) {
			calls := make(chan func(), 5)
			ran, afters := 0, 0
			for range 5 {
				calls <- func() { ran++ }
			}
			err := Runner{Tick: time.Hour, Calls: calls, OnTick: func() {}, OnPeer: nil, Batch: tc.batch,
				After: func() error { afters++; return errStop }}.Run(context.Background())
			require.ErrorIs(t, err, errStop)
			assert.Equal(t, tc.ran, ran, "calls run before the first After")
			assert.Equal(t, 1, afters)
		})
	}
}
