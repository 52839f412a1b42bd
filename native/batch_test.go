package main

import (
	"fmt"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/native/server"
)

// Many producers at once through one client that shares batch requests
// (Client.Batch) or one produce stream per broker (Client.Stream), as the
// benchmark runs: every message is stored once, in each producer's order,
// each caller gets its own answer, and the leader's crash in the middle is
// retried through as single requests are.
func TestConcurrentProducesShareBatches(t *testing.T) {
	t.Run("batch", func(t *testing.T) { concurrentProducesThroughACrash(t, false) })
	t.Run("stream", func(t *testing.T) { concurrentProducesThroughACrash(t, true) })
}

func concurrentProducesThroughACrash(t *testing.T, stream bool) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	c.Client.Batch, c.Client.Stream = !stream, stream
	const producers, each = 32, 30
	var wg sync.WaitGroup
	offsets := make([][]uint64, producers)
	// Every producer stops halfway until the leader is killed, so each
	// goes through the failover.
	var halfway sync.WaitGroup
	halfway.Add(producers)
	killed := make(chan struct{})
	for p := range producers {
		wg.Go(func() {
			ctx := ctxFor(t, 60*time.Second)
			for seq := uint64(1); seq <= each; seq++ {
				if seq == each/2 {
					halfway.Done()
					<-killed
				}
				resp, err := c.Client.Produce(ctx, "orders", server.ProduceRequest{Body: fmt.Sprintf("%d-%d", p, seq), Producer: fmt.Sprint("p", p), Seq: seq})
				if !assert.NoError(t, err) {
					return
				}
				offsets[p] = append(offsets[p], resp.QueueOffset)
			}
		})
	}
	halfway.Wait()
	c.Node(waitLeader(t, c)).Kill()
	close(killed)
	wg.Wait()
	if stream {
		assert.GreaterOrEqual(t, c.Client.StreamsOpened(), 2, "a stream to the first leader, another to the next")
	}
	waitConverged(t, c)
	msgs := consumeAll(t, c, "orders")
	require.Len(t, msgs, producers*each, "every message once")
	next := map[string]uint64{}
	for _, m := range msgs {
		next[m.Producer]++
		assert.Equal(t, next[m.Producer], m.Seq, "each producer's messages in its order")
	}
	for p := range producers {
		for i, off := range offsets[p] {
			assert.Equal(t, fmt.Sprintf("%d-%d", p, i+1), msgs[off].Body, "the answer names the message's own offset")
		}
	}
}
