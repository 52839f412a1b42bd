package client

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/native/server"
)

// fakeBroker serves GET /v1/produce with answer, which gets each frame and
// returns the answer frames to send (none: it stays silent).
func fakeBroker(t *testing.T, answer func(n uint64, f server.StreamFrame) []server.StreamAnswer) string {
	t.Helper()
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.URL.Path != "/v1/produce" {
			http.NotFound(w, r)
			return
		}
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		for n := uint64(1); ; n++ {
			_, data, err := c.ReadMessage()
			if err != nil {
				return
			}
			var f server.StreamFrame
			if err := json.Unmarshal(data, &f); err != nil {
				return
			}
			for _, a := range answer(n, f) {
				b, _ := json.Marshal(a)
				if c.WriteMessage(websocket.TextMessage, b) != nil {
					return
				}
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://")
}

// A broker that takes frames and never answers costs the message one
// attempt: it gets a NoAnswerError naming the broker, and the next message
// on the same stream does too (the stream itself is not broken).
func TestStreamAttemptRunsOutAtASilentBroker(t *testing.T) {
	addr := fakeBroker(t, func(uint64, server.StreamFrame) []server.StreamAnswer { return nil })
	s := (&Client{}).streamFor(addr)
	for range 2 {
		start := time.Now()
		_, err := s.produce(context.Background(), 150*time.Millisecond, "t", server.ProduceRequest{Body: "x"})
		var na *NoAnswerError
		require.ErrorAs(t, err, &na)
		assert.Equal(t, addr, na.Addr)
		assert.Equal(t, 150*time.Millisecond, na.After)
		assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)
	}
	assert.Equal(t, 1, s.c.StreamsOpened(), "one stream for both")
}

// Answers find their callers by id, whatever frame they come in; a frame
// the broker refuses fails exactly that frame's messages, with the
// broker's error; a caller that gives up gets its context's error.
func TestStreamAnswersFindTheirCallers(t *testing.T) {
	var frames atomic.Uint64
	addr := fakeBroker(t, func(n uint64, f server.StreamFrame) []server.StreamAnswer {
		frames.Add(1)
		switch f.Messages[0].Body {
		case "refuse":
			return []server.StreamAnswer{{Frame: n, Error: &server.ErrorBody{Code: server.CodeBadRequest, Message: "frame 1: no"}}}
		case "silent":
			return nil
		}
		var out server.StreamAnswer
		for i, m := range f.Messages {
			out.Results = append(out.Results, server.StreamResult{ID: f.ID + uint64(i), BatchResult: server.BatchResult{Status: 200,
				OK: &server.ProduceResponse{Topic: m.Topic, Index: 100 + f.ID + uint64(i)}}})
		}
		return []server.StreamAnswer{out}
	})
	c := &Client{}
	s := c.streamFor(addr)
	_, err := s.produce(context.Background(), time.Second, "t", server.ProduceRequest{Body: "refuse"})
	var ae *APIError
	require.ErrorAs(t, err, &ae)
	assert.Equal(t, 400, ae.Status)
	assert.Equal(t, "frame 1: no", ae.Message)

	r, err := s.produce(context.Background(), time.Second, "orders", server.ProduceRequest{Body: "a"})
	require.NoError(t, err)
	assert.Equal(t, "orders", r.Topic)
	assert.EqualValues(t, 101, r.Index, "the second message on the stream has id 1")

	ctx, cancel := context.WithTimeout(context.Background(), 50*time.Millisecond)
	defer cancel()
	_, err = s.produce(ctx, time.Second, "t", server.ProduceRequest{Body: "silent"})
	require.ErrorIs(t, err, context.DeadlineExceeded)
	assert.EqualValues(t, 3, frames.Load())
}

// A stream that breaks fails every message waiting on it with the broken
// stream's error (so Produce tries the next broker), and the next message
// opens a new stream.
func TestStreamThatBreaksFailsItsMessagesAndReopens(t *testing.T) {
	var n atomic.Int32
	addr := fakeBroker(t, func(uint64, server.StreamFrame) []server.StreamAnswer {
		if n.Add(1) == 1 {
			panic(http.ErrAbortHandler) // drops the connection
		}
		return []server.StreamAnswer{{Results: []server.StreamResult{{ID: 0, BatchResult: server.BatchResult{Status: 200, OK: &server.ProduceResponse{Topic: "t"}}}}}}
	})
	c := &Client{}
	s := c.streamFor(addr)
	_, err := s.produce(context.Background(), time.Second, "t", server.ProduceRequest{Body: "a"})
	var sb *streamBroken
	require.ErrorAs(t, err, &sb)
	require.Eventually(t, func() bool {
		_, err := s.produce(context.Background(), time.Second, "t", server.ProduceRequest{Body: "b"})
		return err == nil
	}, 5*time.Second, 10*time.Millisecond)
	assert.Equal(t, 2, c.StreamsOpened())
}
