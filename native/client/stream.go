package client

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"runtime"
	"slices"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"dledgerlab/native/server"
)

// This file is the client of the produce stream (Client.Stream; the
// broker's side is native/server/stream.go): one WebSocket per broker
// carries every concurrent Produce call to it. Messages queued while a
// frame is being written go out together in the next frame, without
// waiting for the answers of earlier frames; each answer finds its caller
// by the id the client gave its message. Each message keeps its own
// producer and seq, retries and answer, as in a single-message request:
// when the stream breaks, the calls waiting on it get the error of a
// broken connection and retry (a message that did arrive is then a
// duplicate, stored once).

// streamDialTimeout bounds opening a stream (TCP connect and upgrade).
const streamDialTimeout = 2 * time.Second

var streamDialer = websocket.Dialer{HandshakeTimeout: streamDialTimeout, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}

// streamer keeps the stream to one broker, opening a new one when the last
// broke.
type streamer struct {
	c    *Client
	addr string

	mu   sync.Mutex
	conn *streamConn
}

type streamConn struct {
	addr string
	ws   *websocket.Conn

	mu      sync.Mutex
	err     error                  // why the stream broke; nil while it works
	queue   []*streamItem          // not sent yet
	sent    map[uint64]*streamItem // sent, waiting for their answers
	nextID  uint64
	frames  uint64 // frames sent
	sending bool
}

type streamItem struct {
	ctx      context.Context
	deadline time.Time     // the attempt's end
	after    time.Duration // the attempt's length, for its error
	msg      server.BatchMessage
	frame    uint64
	done     chan batchAnswer
}

// streamFor returns addr's streamer.
func (c *Client) streamFor(addr string) *streamer {
	return perBroker(c, &c.streamers, addr, func() *streamer { return &streamer{c: c, addr: addr} })
}

// produce sends one message on the stream and waits for its answer, for
// ctx, or for the attempt's time d to run out (then a NoAnswerError naming
// the broker, as Client.attempt gives).
func (s *streamer) produce(ctx context.Context, d time.Duration, topic string, req server.ProduceRequest) (server.ProduceResponse, error) {
	start := time.Now()
	sc, err := s.open(ctx, d)
	if err != nil {
		if ctx.Err() == nil && time.Since(start) >= d {
			return server.ProduceResponse{}, &NoAnswerError{Addr: s.addr, After: d}
		}
		return server.ProduceResponse{}, err
	}
	it := &streamItem{ctx: ctx, deadline: start.Add(d), after: d, msg: server.BatchMessage{Topic: topic, ProduceRequest: req}, done: make(chan batchAnswer, 1)}
	if err := sc.enqueue(it); err != nil {
		return server.ProduceResponse{}, err
	}
	select {
	case a := <-it.done:
		return a.resp, a.err
	case <-ctx.Done():
		return server.ProduceResponse{}, ctx.Err()
	}
}

// open returns the working stream, dialling one (within d) if there is
// none.
func (s *streamer) open(ctx context.Context, d time.Duration) (*streamConn, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.conn != nil && s.conn.broken() == nil {
		return s.conn, nil
	}
	dctx, cancel := context.WithTimeout(ctx, d)
	defer cancel()
	ws, resp, err := streamDialer.DialContext(dctx, "ws://"+s.addr+"/v1/produce", nil)
	if err != nil {
		if resp != nil && resp.StatusCode/100 != 2 {
			// A broker that answers HTTP but not the stream (one older
			// than it, or a wrong address).
			return nil, &APIError{Status: resp.StatusCode, Addr: s.addr, ErrorBody: server.ErrorBody{Code: "HTTP",
				Message: fmt.Sprintf("GET /v1/produce: no produce stream here (%s)", resp.Status)}}
		}
		return nil, err
	}
	ws.SetReadLimit(server.MaxRequestBytes)
	s.c.mu.Lock()
	s.c.opened++
	s.c.mu.Unlock()
	sc := &streamConn{addr: s.addr, ws: ws, sent: map[uint64]*streamItem{}}
	s.conn = sc
	go sc.read()
	go sc.sweep()
	return sc, nil
}

// StreamsOpened returns how many produce streams the client has opened
// (one per broker it produced to, and one more each time a stream broke).
func (c *Client) StreamsOpened() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.opened
}

func (sc *streamConn) broken() error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	return sc.err
}

// enqueue queues it for the next frame, starting the writer if it is idle.
func (sc *streamConn) enqueue(it *streamItem) error {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.err != nil {
		return sc.err
	}
	sc.queue = append(sc.queue, it)
	if !sc.sending {
		sc.sending = true
		go sc.write()
	}
	return nil
}

// write sends frames of what is queued until the queue is empty.
func (sc *streamConn) write() {
	var f server.StreamFrame
	for {
		// An answer frame wakes many callers at once, and the one that
		// queues first starts this goroutine, which the scheduler runs
		// next: without a yield it would send that caller's message
		// alone, then a few more, one socket write each. Yielding first
		// lets the callers already woken queue theirs, so they leave in
		// one frame (docs/BENCHMARKS.md, "The stream's writer yields").
		runtime.Gosched()
		sc.mu.Lock()
		f.Messages = f.Messages[:0]
		f.ID = sc.nextID
		size := 0
		for len(sc.queue) > 0 && len(f.Messages) < server.MaxBatchMessages && sc.err == nil {
			it := sc.queue[0]
			if it.ctx.Err() != nil { // its caller gave up: nobody reads the answer
				sc.queue = sc.queue[1:]
				continue
			}
			m := it.msg
			n := len(m.Body) + len(m.Topic) + len(m.Tags) + len(m.Keys) + len(m.Producer) + 64
			if len(f.Messages) > 0 && size+n > batchBytes {
				break
			}
			size += n
			sc.queue = sc.queue[1:]
			it.frame = sc.frames + 1
			sc.sent[sc.nextID] = it
			sc.nextID++
			f.Messages = append(f.Messages, m)
		}
		if len(f.Messages) == 0 {
			sc.sending = false
			sc.mu.Unlock()
			return
		}
		sc.frames++
		sc.mu.Unlock()
		data, err := json.Marshal(&f)
		if err == nil {
			sc.ws.SetWriteDeadline(time.Now().Add(streamWriteTimeout))
			err = sc.ws.WriteMessage(websocket.TextMessage, data)
		}
		if err != nil {
			sc.fail(fmt.Errorf("produce stream to %s: %w", sc.addr, err))
			return
		}
	}
}

// sweepEvery is how often a stream looks for messages whose attempt ran
// out: an attempt (250 ms to 5 s) ends at most this much late.
const sweepEvery = 20 * time.Millisecond

// sweep answers, until the stream breaks, each message whose attempt ran
// out with a NoAnswerError (a broker that accepts frames but does not
// answer: hung, or stopped with SIGSTOP), so its caller tries another
// broker; an answer that comes later finds nobody waiting. One ticker per
// stream does what a timer per message would.
func (sc *streamConn) sweep() {
	t := time.NewTicker(sweepEvery)
	defer t.Stop()
	for range t.C {
		now := time.Now()
		sc.mu.Lock()
		if sc.err != nil {
			sc.mu.Unlock()
			return
		}
		expire := func(it *streamItem) bool {
			if now.Before(it.deadline) {
				return false
			}
			it.done <- batchAnswer{err: &NoAnswerError{Addr: sc.addr, After: it.after}}
			return true
		}
		for id, it := range sc.sent {
			if expire(it) {
				delete(sc.sent, id)
			}
		}
		sc.queue = slices.DeleteFunc(sc.queue, expire)
		sc.mu.Unlock()
	}
}

// streamWriteTimeout bounds writing one frame: a broker that stops reading
// (hung, or stopped with SIGSTOP) breaks the stream instead of holding the
// writer.
const streamWriteTimeout = 5 * time.Second

// read hands each answer to its caller until the stream breaks.
func (sc *streamConn) read() {
	for {
		_, data, err := sc.ws.ReadMessage()
		if err != nil {
			sc.fail(fmt.Errorf("produce stream to %s: %w", sc.addr, err))
			return
		}
		var a server.StreamAnswer
		if err := json.Unmarshal(data, &a); err != nil {
			sc.fail(fmt.Errorf("produce stream to %s: an answer that is not JSON: %w", sc.addr, err))
			return
		}
		sc.mu.Lock()
		if a.Error != nil {
			// A frame the broker could not read: none of it was stored.
			for id, it := range sc.sent {
				if it.frame == a.Frame {
					delete(sc.sent, id)
					it.done <- batchAnswer{err: &APIError{Status: http.StatusBadRequest, Addr: sc.addr, ErrorBody: *a.Error}}
				}
			}
		}
		for _, r := range a.Results {
			it := sc.sent[r.ID]
			if it == nil {
				continue // not ours (a broker bug); its caller will time out
			}
			delete(sc.sent, r.ID)
			it.done <- answerOf(sc.addr, r.BatchResult)
		}
		sc.mu.Unlock()
	}
}

// answerOf turns one message's result in a batch or stream answer into
// the Produce call's answer.
func answerOf(addr string, r server.BatchResult) batchAnswer {
	switch {
	case r.OK != nil:
		return batchAnswer{resp: *r.OK}
	case r.Error != nil:
		return batchAnswer{err: &APIError{Status: r.Status, Addr: addr, ErrorBody: *r.Error}}
	default:
		return batchAnswer{err: &APIError{Status: r.Status, Addr: addr, ErrorBody: server.ErrorBody{Code: "HTTP", Message: "a result with neither an answer nor an error"}}}
	}
}

// fail breaks the stream: every call waiting on it, queued or sent, gets
// err, as a request on a reset connection would.
func (sc *streamConn) fail(err error) {
	sc.mu.Lock()
	defer sc.mu.Unlock()
	if sc.err != nil {
		return
	}
	sc.err = &streamBroken{err}
	sc.ws.Close()
	for _, it := range sc.queue {
		it.done <- batchAnswer{err: sc.err}
	}
	for _, it := range sc.sent {
		it.done <- batchAnswer{err: sc.err}
	}
	sc.queue, sc.sent = nil, nil
}

// streamBroken is a stream that broke: the broker closed it, stopped
// answering or is gone. Like a reset connection, its outcome is unknown.
type streamBroken struct{ err error }

func (e *streamBroken) Error() string { return e.err.Error() }
func (e *streamBroken) Unwrap() error { return e.err }
