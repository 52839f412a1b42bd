package server

import (
	"context"
	"fmt"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
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
		c.SyncFile = func(*os.File) error {
			syncs.Add(1)
			if hold.CompareAndSwap(true, false) {
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
