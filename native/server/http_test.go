package server

import (
	"context"
	"encoding/json"
	"io"
	"net"
	"net/http"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/sim"
)

// single starts a one-broker group (it elects itself) and returns its HTTP
// base URL.
func single(t *testing.T) string {
	t.Helper()
	base := startBroker(t, nil, nil)
	require.Eventually(t, func() bool {
		var st Status
		return getJSON(base+"/v1/status", &st) == nil && st.Role == "leader"
	}, 10*time.Second, 10*time.Millisecond)
	return base
}

// startBroker serves broker 1 on free 127.0.0.1 ports, with more peers
// (id → peer and HTTP address) and a config tweak if given, stops it when
// the test ends, and returns its HTTP base URL once it answers.
func startBroker(t *testing.T, others map[core.NodeID][2]string, tweak func(*Config)) string {
	t.Helper()
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := Config{
		ID: 1, Peers: map[core.NodeID]string{1: peerLn.Addr().String()}, HTTP: map[core.NodeID]string{1: httpLn.Addr().String()},
		Dir: t.TempDir(), Secret: "s", AdminToken: "tok", NoSync: true, ProduceTimeout: time.Second,
	}
	for id, addrs := range others {
		cfg.Peers[id], cfg.HTTP[id] = addrs[0], addrs[1]
	}
	if tweak != nil {
		tweak(&cfg)
	}
	s, err := New(cfg)
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, peerLn, httpLn) }()
	t.Cleanup(func() {
		cancel()
		require.NoError(t, <-done)
	})
	base := "http://" + httpLn.Addr().String()
	require.Eventually(t, func() bool { return getJSON(base+"/v1/status", &Status{}) == nil }, 10*time.Second, 10*time.Millisecond)
	return base
}

func getJSON(url string, v any) error {
	resp, err := http.Get(url)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	return json.NewDecoder(resp.Body).Decode(v)
}

func call(t *testing.T, method, url, body string, hdr ...string) (int, map[string]any) {
	t.Helper()
	req, err := http.NewRequest(method, url, strings.NewReader(body))
	require.NoError(t, err)
	for i := 0; i+1 < len(hdr); i += 2 {
		req.Header.Set(hdr[i], hdr[i+1])
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	var out map[string]any
	require.NoError(t, json.Unmarshal(b, &out), "body %q", b)
	return resp.StatusCode, out
}

func errCode(out map[string]any) string {
	e, _ := out["error"].(map[string]any)
	c, _ := e["code"].(string)
	return c
}

func TestHTTPErrors(t *testing.T) {
	base := single(t)
	produce := base + "/v1/topics/orders/messages"
	big := `{"body":"` + strings.Repeat("a", MaxRequestBytes) + `"}`
	cases := []struct {
		name, method, url, body string
		hdr                     []string
		status                  int
		code                    string
	}{
		{"malformed JSON", "POST", produce, `{"body":`, nil, 400, CodeBadRequest},
		{"wrong JSON type", "POST", produce, `{"body": 5}`, nil, 400, CodeBadRequest},
		{"bad topic", "POST", base + "/v1/topics/no%20spaces/messages", `{"body":"x"}`, nil, 400, CodeBadMessage},
		{"seq without producer", "POST", produce, `{"body":"x","seq":3}`, nil, 400, CodeBadMessage},
		{"oversized body", "POST", produce, big, nil, 413, CodeTooLarge},
		{"unknown topic", "GET", base + "/v1/topics/nothing/messages", "", nil, 404, CodeUnknownTopic},
		{"bad offset", "GET", base + "/v1/topics/orders/messages?offset=-1", "", nil, 400, CodeBadRequest},
		{"bad max", "GET", base + "/v1/topics/orders/messages?max=0", "", nil, 400, CodeBadRequest},
		{"unknown endpoint", "GET", base + "/v2/nothing", "", nil, 404, CodeNotFound},
		{"admin without token", "POST", base + "/v1/admin/heal", "", nil, 401, CodeUnauthorized},
		{"admin with wrong token", "POST", base + "/v1/admin/heal", "", []string{"Authorization", "Bearer nope"}, 403, CodeForbidden},
		{"unknown admin action", "POST", base + "/v1/admin/explode", "", []string{"Authorization", "Bearer tok"}, 404, CodeNotFound},
		{"partition of a stranger", "POST", base + "/v1/admin/partition", `{"peers":[9]}`, []string{"X-Admin-Token", "tok"}, 400, CodeBadRequest},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, tc.method, tc.url, tc.body, tc.hdr...)
			assert.Equal(t, tc.status, status, "%v", out)
			assert.Equal(t, tc.code, errCode(out), "%v", out)
			e, _ := out["error"].(map[string]any)
			assert.NotEmpty(t, e["message"], "every error has a sentence")
		})
	}
}

func TestProduceRetryIsStoredOnce(t *testing.T) {
	base := single(t)
	produce := base + "/v1/topics/orders/messages"
	status, first := call(t, "POST", produce, `{"body":"hello","producer":"p","seq":1}`)
	require.Equal(t, 200, status, "%v", first)
	status, again := call(t, "POST", produce, `{"body":"hello","producer":"p","seq":1}`)
	require.Equal(t, 200, status)
	assert.Equal(t, first["index"], again["index"])
	assert.Equal(t, true, again["duplicate"])
	status, out := call(t, "GET", base+"/v1/topics/orders/messages?offset=0&max=10", "")
	require.Equal(t, 200, status)
	assert.Len(t, out["messages"], 1)
}

func TestWatchStreamsLiveFrames(t *testing.T) {
	base := single(t)
	c, _, err := websocket.DefaultDialer.Dial("ws"+strings.TrimPrefix(base, "http")+"/v1/watch", nil)
	require.NoError(t, err)
	defer c.Close()
	for range 2 {
		var v sim.ClusterView
		require.NoError(t, c.ReadJSON(&v))
		assert.Equal(t, "live", v.Mode)
		require.Len(t, v.Nodes, 1)
		assert.Equal(t, "leader", v.Nodes[0].Role)
		assert.NotEmpty(t, v.Nodes[0].Segments)
	}
}
