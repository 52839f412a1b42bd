package server

import (
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// A batch (POST /v1/messages) stores each message as its own produce
// would: to its own topic, deduplicated by its own producer and seq, each
// answered with its own status; one bad message does not fail the others.
// An empty batch, or one over MaxBatchMessages, is refused whole.
func TestBatchProduceAnswersEachMessage(t *testing.T) {
	base := single(t)
	status, out := call(t, "POST", base+"/v1/messages", `{"messages":[
		{"topic":"orders","body":"a","producer":"p","seq":1},
		{"topic":"payments","body":"b","producer":"q","seq":1},
		{"topic":"orders","body":"a","producer":"p","seq":1},
		{"topic":"orders","body":"c","producer":"p","seq":1},
		{"topic":"bad topic!","body":"d"},
		{"topic":"orders","body":"e","tags":"t","keys":"k"}]}`)
	require.Equal(t, 200, status, "%v", out)
	results := out["results"].([]any)
	require.Len(t, results, 6)
	r := func(i int) map[string]any { return results[i].(map[string]any) }
	assert.EqualValues(t, 200, r(0)["status"])
	assert.Equal(t, "orders", r(0)["ok"].(map[string]any)["topic"])
	assert.EqualValues(t, 0, r(0)["ok"].(map[string]any)["queue_offset"])
	assert.Equal(t, "payments", r(1)["ok"].(map[string]any)["topic"])
	assert.Equal(t, true, r(2)["ok"].(map[string]any)["duplicate"], "the same producer and seq is stored once")
	assert.EqualValues(t, 409, r(3)["status"])
	assert.Equal(t, CodeSeqReused, r(3)["error"].(map[string]any)["code"])
	assert.EqualValues(t, 400, r(4)["status"])
	assert.Equal(t, CodeBadMessage, r(4)["error"].(map[string]any)["code"])
	assert.EqualValues(t, 1, r(5)["ok"].(map[string]any)["queue_offset"])

	var got ConsumeResponse
	require.NoError(t, getJSON(base+"/v1/topics/orders/messages", &got))
	require.Len(t, got.Messages, 2)
	assert.Equal(t, "a", got.Messages[0].Body)
	assert.Equal(t, "e", got.Messages[1].Body)
	assert.Equal(t, "k", got.Messages[1].Keys)

	status, out = call(t, "POST", base+"/v1/messages", `{"messages":[]}`)
	assert.Equal(t, 400, status)
	assert.Contains(t, out["error"].(map[string]any)["message"], "a batch holds 1 to 1024 messages, this one 0")
	many := strings.Repeat(`{"topic":"t","body":"x"},`, MaxBatchMessages)
	status, out = call(t, "POST", base+"/v1/messages", `{"messages":[`+many+`{"topic":"t","body":"x"}]}`)
	assert.Equal(t, 400, status)
	assert.Contains(t, out["error"].(map[string]any)["message"], "this one 1025")
	status, out = call(t, "POST", base+"/v1/messages", `{"messages":[{"topic":"t","boddy":"x"}]}`)
	assert.Equal(t, 400, status, "unknown fields are refused: %v", out)
}
