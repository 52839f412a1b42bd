package server

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func dialStream(t *testing.T, base string) *websocket.Conn {
	t.Helper()
	ws, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/v1/produce", nil)
	require.NoError(t, err)
	t.Cleanup(func() { ws.Close() })
	return ws
}

// readAnswers reads answer frames until n results (and refused frames)
// have come, or the stream ends.
func readAnswers(t *testing.T, ws *websocket.Conn, n int) ([]StreamResult, []StreamAnswer) {
	t.Helper()
	var results []StreamResult
	var refused []StreamAnswer
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	for len(results)+len(refused) < n {
		_, data, err := ws.ReadMessage()
		require.NoError(t, err, "after %d answers", len(results)+len(refused))
		var a StreamAnswer
		require.NoError(t, json.Unmarshal(data, &a), "%s", data)
		results = append(results, a.Results...)
		if a.Error != nil {
			refused = append(refused, a)
		}
	}
	return results, refused
}

// The produce stream (GET /v1/produce) takes frames without waiting for
// earlier answers and answers each message as POST /v1/messages would, in
// the order the messages came, with the client's ids: its own topic,
// deduplicated by its own producer and seq, its own status.
func TestProduceStreamAnswersEachMessageInOrder(t *testing.T) {
	base := single(t)
	ws := dialStream(t, base)
	frames := []string{
		`{"id":100,"messages":[{"topic":"orders","body":"a","producer":"p","seq":1},{"topic":"payments","body":"b","producer":"q","seq":1}]}`,
		`{"id":102,"messages":[{"topic":"orders","body":"a","producer":"p","seq":1},{"topic":"orders","body":"c","producer":"p","seq":1}]}`,
		`{"id":104,"messages":[{"topic":"bad topic!","body":"d"},{"topic":"orders","body":"e","tags":"t","keys":"k"}]}`,
	}
	for _, f := range frames { // all sent before any answer is read
		require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(f)))
	}
	res, refused := readAnswers(t, ws, 6)
	require.Empty(t, refused)
	require.Len(t, res, 6)
	for i, r := range res {
		assert.EqualValues(t, 100+i, r.ID, "answers in the order the messages came")
	}
	assert.Equal(t, 200, res[0].Status)
	assert.Equal(t, "orders", res[0].OK.Topic)
	assert.EqualValues(t, 0, res[0].OK.QueueOffset)
	assert.Equal(t, "payments", res[1].OK.Topic)
	assert.True(t, res[2].OK.Duplicate, "the same producer and seq is stored once")
	assert.Equal(t, 409, res[3].Status)
	assert.Equal(t, CodeSeqReused, res[3].Error.Code)
	assert.Equal(t, 400, res[4].Status)
	assert.Equal(t, CodeBadMessage, res[4].Error.Code)
	assert.EqualValues(t, 1, res[5].OK.QueueOffset)

	var got ConsumeResponse
	require.NoError(t, getJSON(base+"/v1/topics/orders/messages", &got))
	require.Len(t, got.Messages, 2)
	assert.Equal(t, "a", got.Messages[0].Body)
	assert.Equal(t, "e", got.Messages[1].Body)
}

// Many frames in flight at once, more than a window's worth of messages:
// every message is stored once and answered once, in order.
func TestProduceStreamPipelinesManyFrames(t *testing.T) {
	base := single(t)
	ws := dialStream(t, base)
	const frames, per = 40, 200 // 8,000 messages: twice StreamWindow
	errs := make(chan error, 1)
	go func() {
		for f := range frames {
			var b strings.Builder
			fmt.Fprintf(&b, `{"id":%d,"messages":[`, f*per)
			for i := range per {
				if i > 0 {
					b.WriteString(",")
				}
				fmt.Fprintf(&b, `{"topic":"t","body":"m%d","producer":"p","seq":%d}`, f*per+i, f*per+i+1)
			}
			b.WriteString("]}")
			if err := ws.WriteMessage(websocket.TextMessage, []byte(b.String())); err != nil {
				errs <- err
				return
			}
		}
		errs <- nil
	}()
	res, refused := readAnswers(t, ws, frames*per)
	require.NoError(t, <-errs)
	require.Empty(t, refused)
	for i, r := range res {
		require.EqualValues(t, i, r.ID)
		require.Equal(t, 200, r.Status, "%+v", r.Error)
		require.EqualValues(t, i, r.OK.QueueOffset)
	}
}

// A frame the broker cannot read is refused whole, naming the frame and
// what is wrong, and the stream goes on: the frames around it are stored
// and answered. A frame over MaxRequestBytes ends that stream (close code
// 1009), and nothing else: the broker serves the next one.
func TestProduceStreamRefusesBadFrames(t *testing.T) {
	base := single(t)
	ws := dialStream(t, base)
	send := func(kind int, s string) { require.NoError(t, ws.WriteMessage(kind, []byte(s))) }
	send(websocket.TextMessage, `{"id":1,"messages":[{"topic":"t","body":"x"}]}`)
	send(websocket.TextMessage, `{"id":2,"messages":[{"topic":"t","body":"x"}`)
	send(websocket.TextMessage, `{"id":2,"messages":[]}`)
	send(websocket.TextMessage, `{"id":2,"messages":[{"topic":"t","boddy":"x"}]}`)
	send(websocket.BinaryMessage, `{"id":2,"messages":[{"topic":"t","body":"x"}]}`)
	send(websocket.TextMessage, `{"id":2,"messages":[`+strings.Repeat(`{"topic":"t","body":"x"},`, MaxBatchMessages)+`{"topic":"t","body":"x"}]}`)
	send(websocket.TextMessage, `{"id":2,"messages":[{"topic":"t","body":"y"}]}`)
	res, refused := readAnswers(t, ws, 7)
	require.Len(t, res, 2)
	assert.EqualValues(t, 1, res[0].ID)
	assert.EqualValues(t, 2, res[1].ID)
	assert.EqualValues(t, 1, res[1].OK.QueueOffset)
	require.Len(t, refused, 5)
	for i, want := range []string{"frame 2: malformed JSON", "frame 3: messages: a frame holds 1 to 1024 messages, this one 0",
		"frame 4: malformed JSON", "frame 5: a produce frame is JSON text, not binary", "frame 6: messages: a frame holds 1 to 1024 messages, this one 1025"} {
		assert.EqualValues(t, i+2, refused[i].Frame)
		assert.Equal(t, CodeBadRequest, refused[i].Error.Code)
		assert.Contains(t, refused[i].Error.Message, want)
	}
	assert.Contains(t, refused[2].Error.Message, "boddy", "the unknown field is named")

	send(websocket.TextMessage, `{"id":9,"messages":[{"topic":"t","body":"`+strings.Repeat("x", MaxRequestBytes)+`"}]}`)
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := ws.ReadMessage()
	require.True(t, websocket.IsCloseError(err, websocket.CloseMessageTooBig), "an oversized frame closes its stream with 1009: %v", err)

	other := dialStream(t, base)
	require.NoError(t, other.WriteMessage(websocket.TextMessage, []byte(`{"id":1,"messages":[{"topic":"t","body":"z"}]}`)))
	res, _ = readAnswers(t, other, 1)
	assert.EqualValues(t, 2, res[0].OK.QueueOffset, "the broker goes on")
	var got ConsumeResponse
	require.NoError(t, getJSON(base+"/v1/topics/t/messages", &got))
	require.Len(t, got.Messages, 3)
}

// A broker that stops answers what it took, then says goodbye (close
// code 1001, "broker stopping").
func TestProduceStreamEndsWhenTheBrokerStops(t *testing.T) {
	_, base, stop := serveBroker(t, nil, nil)
	require.Eventually(t, func() bool {
		var st Status
		return getJSON(base+"/v1/status", &st) == nil && st.Role == "leader"
	}, 10*time.Second, 10*time.Millisecond)
	ws := dialStream(t, base)
	require.NoError(t, ws.WriteMessage(websocket.TextMessage, []byte(`{"id":7,"messages":[{"topic":"t","body":"a"}]}`)))
	res, _ := readAnswers(t, ws, 1)
	require.Equal(t, 200, res[0].Status)
	require.NoError(t, stop())
	ws.SetReadDeadline(time.Now().Add(10 * time.Second))
	_, _, err := ws.ReadMessage()
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce)
	assert.Equal(t, websocket.CloseGoingAway, ce.Code)
	assert.Equal(t, "broker stopping", ce.Text)
}
