package client

import (
	"context"
	"net/http"
	"sync"

	"dledgerlab/native/server"
)

// This file batches concurrent produces (Client.Batch): the Produce calls
// running at once that go to the same broker share POST /v1/messages
// requests, so under load a message costs a share of one request and of
// one JSON document instead of a whole one. Nothing waits to fill a batch:
// a message goes out at once when fewer than batchInflight requests to its
// broker are in flight, and otherwise with every message that queued
// behind them (Kafka's producer and hashicorp/raft's pipelined
// AppendEntries batch the same way: by what accumulates during a round
// trip). Each message keeps its own producer and seq, retries and answer,
// exactly as in a single-message request.

// batchInflight is how many batch requests to one broker may be in
// flight at once.
const batchInflight = 4

// batchBytes bounds the bodies of one batch (JSON escaping aside), well
// under server.MaxRequestBytes.
const batchBytes = 1 << 20

type batchItem struct {
	ctx   context.Context
	topic string
	req   server.ProduceRequest
	done  chan batchAnswer
}

type batchAnswer struct {
	resp server.ProduceResponse
	err  error
}

// batcher queues the messages for one broker.
type batcher struct {
	c    *Client
	addr string

	mu      sync.Mutex
	queue   []*batchItem
	senders int
}

// batcherFor returns addr's batcher.
func (c *Client) batcherFor(addr string) *batcher {
	return perBroker(c, &c.batchers, addr, func() *batcher { return &batcher{c: c, addr: addr} })
}

// perBroker returns (*m)[addr], made by mk the first time it is asked for.
func perBroker[T any](c *Client, m *map[string]*T, addr string, mk func() *T) *T {
	c.mu.Lock()
	defer c.mu.Unlock()
	v := (*m)[addr]
	if v == nil {
		if *m == nil {
			*m = map[string]*T{}
		}
		v = mk()
		(*m)[addr] = v
	}
	return v
}

// produce sends one message in a batch to the batcher's broker and waits
// for its answer, or for ctx.
func (b *batcher) produce(ctx context.Context, topic string, req server.ProduceRequest) (server.ProduceResponse, error) {
	it := &batchItem{ctx: ctx, topic: topic, req: req, done: make(chan batchAnswer, 1)}
	b.mu.Lock()
	b.queue = append(b.queue, it)
	if b.senders < batchInflight {
		b.senders++
		go b.send()
	}
	b.mu.Unlock()
	select {
	case a := <-it.done:
		return a.resp, a.err
	case <-ctx.Done():
		return server.ProduceResponse{}, ctx.Err()
	}
}

// send posts batches of what is queued until the queue is empty.
func (b *batcher) send() {
	for {
		b.mu.Lock()
		var batch []*batchItem
		size := 0
		for len(b.queue) > 0 && len(batch) < server.MaxBatchMessages {
			it := b.queue[0]
			if it.ctx.Err() != nil { // its caller gave up: nobody reads the answer
				b.queue = b.queue[1:]
				continue
			}
			n := len(it.req.Body) + len(it.topic) + len(it.req.Tags) + len(it.req.Keys) + len(it.req.Producer) + 64
			if len(batch) > 0 && size+n > batchBytes {
				break
			}
			size += n
			batch = append(batch, it)
			b.queue = b.queue[1:]
		}
		if len(batch) == 0 {
			b.senders--
			b.mu.Unlock()
			return
		}
		b.mu.Unlock()
		b.post(batch)
	}
}

// post sends one batch and hands each message its answer. The request
// lasts as long as the latest of its messages' callers waits.
func (b *batcher) post(batch []*batchItem) {
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	stop := make(chan struct{})
	defer close(stop)
	go func() {
		// Cancel the request once every caller has given up.
		for _, it := range batch {
			select {
			case <-it.ctx.Done():
			case <-stop:
				return
			}
		}
		cancel()
	}()
	req := server.BatchProduceRequest{Messages: make([]server.BatchMessage, len(batch))}
	for i, it := range batch {
		req.Messages[i] = server.BatchMessage{Topic: it.topic, ProduceRequest: it.req}
	}
	var out server.BatchProduceResponse
	err := b.c.do(ctx, http.MethodPost, b.addr, "/v1/messages", req, &out, false)
	if err == nil && len(out.Results) != len(batch) {
		err = &APIError{Status: http.StatusOK, Addr: b.addr, ErrorBody: server.ErrorBody{Code: "HTTP", Message: "a batch answer with the wrong number of results"}}
	}
	for i, it := range batch {
		a := batchAnswer{err: err}
		if err == nil {
			a = answerOf(b.addr, out.Results[i])
		}
		it.done <- a
	}
}
