package server

import (
	"encoding/json"
	"fmt"
	"net/http"
	"time"

	"github.com/gorilla/websocket"

	"dledgerlab/core/broker"
)

// This file is the produce stream, GET /v1/produce: one WebSocket that
// carries many produces, pipelined. A client sends frames of messages
// without waiting for earlier answers; each message is handed to the runner
// as its own produce (its own producer and seq, deduplicated as in POST
// /v1/topics/{topic}/messages) and answered after commit, exactly as a
// single request would be. What a batch request (POST /v1/messages) still
// pays per round, the stream does not: an HTTP request and its headers, a
// handler goroutine, and a batch whose answer waits for its slowest
// message. Answers leave in the order the messages came, each as soon as it
// and those before it have theirs, gathered into one frame while more are
// ready (Kafka's producer protocol pipelines the same way, with a bound on
// requests in flight per connection).

// StreamFrame is one frame a client sends on GET /v1/produce: up to
// MaxBatchMessages messages; messages[i] has the id ID+i, which its answer
// carries. Ids are the client's: the broker only echoes them.
type StreamFrame struct {
	ID       uint64         `json:"id"`
	Messages []BatchMessage `json:"messages"`
}

// StreamAnswer is one frame the broker sends: the answers that are ready,
// in the order their messages came, or (Frame, Error) for a frame it could
// not read: none of that frame's messages was stored, and the stream goes
// on.
type StreamAnswer struct {
	Results []StreamResult `json:"results,omitempty"`
	// Frame counts the client's frames on this connection from 1.
	Frame uint64     `json:"frame,omitempty"`
	Error *ErrorBody `json:"error,omitempty"`
}

// StreamResult is one message's answer on the stream.
type StreamResult struct {
	ID uint64 `json:"id"`
	BatchResult
}

// StreamWindow bounds the messages of one stream waiting for their answers
// at the broker: past it the broker stops reading the stream until answers
// leave, so a client that never reads its answers holds this much memory,
// not more.
const StreamWindow = 4 * MaxBatchMessages

// streamItem is one thing the answering goroutine waits for, in order: a
// message handed to the runner, or a frame refused whole.
type streamItem struct {
	id    uint64
	p     *produceReq
	frame uint64
	err   *ErrorBody
}

func (s *Server) handleProduceStream(w http.ResponseWriter, r *http.Request) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return // the upgrader answered the bad handshake itself
	}
	c.SetReadLimit(MaxRequestBytes)
	pending := make(chan streamItem, StreamWindow)
	answered := make(chan struct{})
	go s.answerStream(c, pending, answered)
	go func() {
		// A stopping broker says so and ends the stream; the answers
		// already owed are still written (by answerStream) first.
		select {
		case <-s.stopped:
			c.SetReadDeadline(time.Now())
		case <-answered:
		}
	}()
	defer func() {
		close(pending)
		<-answered
		c.Close()
	}()
	var frames uint64
	for {
		kind, data, err := c.ReadMessage()
		if err != nil {
			return // the client left, broke the protocol or sent too much (gorilla closed with 1009), or the broker stops
		}
		frames++
		var f StreamFrame
		var bad *ErrorBody
		switch {
		case kind != websocket.TextMessage:
			bad = &ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("frame %d: a produce frame is JSON text, not binary", frames)}
		default:
			if err := DecodeJSON(data, &f, false); err != nil {
				bad = &ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("frame %d: %v", frames, err)}
			} else if n := len(f.Messages); n == 0 || n > MaxBatchMessages {
				bad = &ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("frame %d: messages: a frame holds 1 to %d messages, this one %d", frames, MaxBatchMessages, n)}
			}
		}
		if bad != nil {
			pending <- streamItem{frame: frames, err: bad}
			continue
		}
		for i, m := range f.Messages {
			p := m.produceReq()
			pending <- streamItem{id: f.ID + uint64(i), p: p}
			select {
			case s.produces <- p:
			case <-s.stopped:
				// Never handed to the runner: not stored, safe to retry.
				p.done <- produceResult{err: fmt.Errorf("the broker is stopping: %w", broker.ErrNotCommitted)}
			}
		}
	}
}

// answerStream writes the stream's answers in order. Each frame holds
// every answer ready when it is written: while the first message waiting
// has its answer, the next ones' are gathered too; when it has not, what
// was gathered leaves, then its answer is waited for. It reads pending to
// its end, also after a write fails, so the reader never blocks on it.
func (s *Server) answerStream(c *websocket.Conn, pending <-chan streamItem, answered chan<- struct{}) {
	defer close(answered)
	var out StreamAnswer
	broken := false
	write := func() {
		if !broken && (len(out.Results) > 0 || out.Error != nil) {
			data, err := json.Marshal(out)
			if err == nil {
				c.SetWriteDeadline(time.Now().Add(s.cfg.ProduceTimeout + 5*time.Second))
				err = c.WriteMessage(websocket.TextMessage, data)
			}
			if err != nil {
				broken = true
				c.Close() // the reader sees it and stops taking messages
			}
		}
		out = StreamAnswer{Results: out.Results[:0]}
	}
	answer := func(id uint64, res produceResult) {
		out.Results = append(out.Results, StreamResult{ID: id, BatchResult: s.batchResult(res)})
		if len(out.Results) >= MaxBatchMessages {
			write()
		}
	}
	var queue []streamItem
	open := true
	for open || len(queue) > 0 {
		if len(queue) == 0 {
			write()
			it, ok := <-pending
			if !ok {
				break
			}
			queue = append(queue, it)
		}
	more:
		for open {
			select {
			case it, ok := <-pending:
				if !ok {
					open = false
					break more
				}
				queue = append(queue, it)
			default:
				break more
			}
		}
		it := queue[0]
		queue = queue[1:]
		if it.err != nil {
			write() // a refused frame has its own answer, after those before it
			out.Frame, out.Error = it.frame, it.err
			write()
			continue
		}
		select {
		case res := <-it.p.done:
			answer(it.id, res)
		default:
			write()
			answer(it.id, s.await(it.p))
		}
	}
	write()
	select {
	case <-s.stopped:
		if !broken {
			c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, "broker stopping"), time.Now().Add(time.Second))
		}
	default:
	}
}
