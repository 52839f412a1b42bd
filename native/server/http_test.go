package server

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"sync"
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
	_, base := singleServer(t, nil)
	return base
}

// singleServer is single with a config tweak if given; it returns the
// broker too.
func singleServer(t *testing.T, tweak func(*Config)) (*Server, string) {
	t.Helper()
	s, base := startServer(t, nil, tweak)
	require.Eventually(t, func() bool {
		var st Status
		return getJSON(base+"/v1/status", &st) == nil && st.Role == "leader"
	}, 10*time.Second, 10*time.Millisecond)
	return s, base
}

// startBroker serves broker 1 on free 127.0.0.1 ports, with more peers
// (id → peer and HTTP address) and a config tweak if given, stops it when
// the test ends, and returns its HTTP base URL once it answers.
func startBroker(t *testing.T, others map[core.NodeID][2]string, tweak func(*Config)) string {
	t.Helper()
	_, base := startServer(t, others, tweak)
	return base
}

// startServer is startBroker returning the broker too.
func startServer(t *testing.T, others map[core.NodeID][2]string, tweak func(*Config)) (*Server, string) {
	t.Helper()
	s, base, _ := serveBroker(t, others, tweak)
	return s, base
}

// serveBroker is startServer also returning stop, which stops the broker
// (at once, and the test's end waits for it) and returns Serve's error.
func serveBroker(t *testing.T, others map[core.NodeID][2]string, tweak func(*Config)) (*Server, string, func() error) {
	t.Helper()
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	cfg := Config{
		GroupMember: GroupMember{ID: 1, Peers: map[core.NodeID]string{1: peerLn.Addr().String()}, HTTP: map[core.NodeID]string{1: httpLn.Addr().String()},
			Dir: t.TempDir(), Secret: "s"}, AdminToken: "tok", NoSync: true, ProduceTimeout: time.Second,
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
	var once sync.Once
	var serveErr error
	stop := func() error {
		once.Do(func() {
			cancel()
			serveErr = <-done
		})
		return serveErr
	}
	t.Cleanup(func() { require.NoError(t, stop()) })
	base := "http://" + httpLn.Addr().String()
	require.Eventually(t, func() bool { return getJSON(base+"/v1/status", &Status{}) == nil }, 10*time.Second, 10*time.Millisecond)
	return s, base, stop
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
		{"bad max_bytes", "GET", base + "/v1/topics/orders/messages?max_bytes=x", "", nil, 400, CodeBadRequest},
		{"unknown query parameter", "GET", base + "/v1/topics/orders/messages?ofset=3", "", nil, 400, CodeBadRequest},
		{"repeated query parameter", "GET", base + "/v1/topics/orders/messages?offset=1&offset=2", "", nil, 400, CodeBadRequest},
		{"unknown JSON field", "POST", produce, `{"boddy":"x"}`, nil, 400, CodeBadRequest},
		{"data after the JSON", "POST", produce, `{"body":"x"} {}`, nil, 400, CodeBadRequest},
		{"empty produce", "POST", produce, ``, nil, 400, CodeBadRequest},
		{"tags too long", "POST", produce, `{"body":"x","tags":"` + strings.Repeat("t", 256) + `"}`, nil, 400, CodeBadMessage},
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
	// A body that does not fit says which field and why.
	for body, want := range map[string]string{
		`{"body":"x","producer":"p","seq":"7"}`: `malformed JSON: seq: want an integer, got the string "7"`,
		`{"body":5}`:                            `malformed JSON: body: want a string, got 5`,
		`{"body":"x","boddy":"y"}`:              `malformed JSON: unknown field "boddy"`,
	} {
		_, out := call(t, "POST", produce, body)
		e, _ := out["error"].(map[string]any)
		assert.Equal(t, want, e["message"], body)
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

// The same producer and seq with another body is refused with 409
// SEQUENCE_REUSED, not answered "stored (duplicate)".
func TestProduceSequenceReusedIsRefused(t *testing.T) {
	base := single(t)
	produce := base + "/v1/topics/orders/messages"
	status, first := call(t, "POST", produce, `{"body":"hello","producer":"p","seq":1}`)
	require.Equal(t, 200, status, "%v", first)
	status, out := call(t, "POST", produce, `{"body":"another","producer":"p","seq":1}`)
	assert.Equal(t, 409, status, "%v", out)
	assert.Equal(t, CodeSeqReused, errCode(out))
	assert.Contains(t, out["error"].(map[string]any)["message"], "producer p seq 1 is stored at entry")
	status, out = call(t, "GET", base+"/v1/topics/orders/messages", "")
	require.Equal(t, 200, status)
	require.Len(t, out["messages"], 1)
	assert.Equal(t, "hello", out["messages"].([]any)[0].(map[string]any)["body"])
}

// A consume answer is bounded in bytes as well as in count: it returns
// fewer messages and next_offset says where to go on.
func TestConsumeIsBoundedInBytes(t *testing.T) {
	base := single(t)
	produce := base + "/v1/topics/big/messages"
	body := strings.Repeat("b", 3<<20)
	for i := range 4 {
		status, out := call(t, "POST", produce, fmt.Sprintf(`{"body":%q,"producer":"p","seq":%d}`, body, i+1))
		require.Equal(t, 200, status, "%v", out)
	}
	var got ConsumeResponse
	require.NoError(t, getJSON(base+"/v1/topics/big/messages?max=1000", &got))
	assert.Len(t, got.Messages, 2, "two 3 MiB messages fill the 8 MiB bound")
	assert.Equal(t, uint64(2), got.NextOffset)
	require.NoError(t, getJSON(base+"/v1/topics/big/messages?offset=2&max_bytes=1", &got))
	assert.Len(t, got.Messages, 1, "the first message is answered whatever its size")
	assert.Equal(t, uint64(3), got.NextOffset)
}

// A client that sends headers and then stalls holds the connection only
// for the read timeout.
func TestStalledRequestIsCutOffByTheReadTimeout(t *testing.T) {
	base := startBroker(t, nil, func(c *Config) { c.HTTPReadTimeout = 300 * time.Millisecond })
	conn, err := net.Dial("tcp", strings.TrimPrefix(base, "http://"))
	require.NoError(t, err)
	defer conn.Close()
	_, err = io.WriteString(conn, "POST /v1/topics/orders/messages HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{\"body\":")
	require.NoError(t, err)
	require.NoError(t, conn.SetReadDeadline(time.Now().Add(10*time.Second)))
	b, rerr := io.ReadAll(conn) // ends when the server closes the connection
	assert.NotContains(t, string(b), "200 OK")
	var ne net.Error
	assert.False(t, errors.As(rerr, &ne) && ne.Timeout(), "the server, not our deadline, ended the request")
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

// AdminCheck answers the same statuses, codes and envelope wherever it
// guards: the broker's /v1/admin/* and the live view's actions.
func TestAdminCheck(t *testing.T) {
	check := AdminCheck{Token: "tok", Missing: "need it", Disabled: "off"}
	cases := []struct {
		name   string
		token  string // the check's token
		hdr    []string
		allow  bool
		status int
		body   string
	}{
		{"bearer", "tok", []string{"Authorization", "Bearer tok"}, true, 0, ""},
		{"x-admin-token", "tok", []string{"X-Admin-Token", "tok"}, true, 0, ""},
		{"x-admin-token before authorization", "tok", []string{"X-Admin-Token", "tok", "Authorization", "Bearer nope"}, true, 0, ""},
		{"no token", "tok", nil, false, 401, `{"error":{"code":"UNAUTHORIZED","message":"need it"}}`},
		{"not a bearer", "tok", []string{"Authorization", "Basic tok"}, false, 401, `{"error":{"code":"UNAUTHORIZED","message":"need it"}}`},
		{"wrong bearer", "tok", []string{"Authorization", "Bearer nope"}, false, 403, `{"error":{"code":"FORBIDDEN","message":"wrong admin token"}}`},
		{"wrong x-admin-token", "tok", []string{"X-Admin-Token", "tokk"}, false, 403, `{"error":{"code":"FORBIDDEN","message":"wrong admin token"}}`},
		{"prefix of the token", "tok", []string{"X-Admin-Token", "to"}, false, 403, `{"error":{"code":"FORBIDDEN","message":"wrong admin token"}}`},
		{"disabled", "", []string{"Authorization", "Bearer tok"}, false, 403, `{"error":{"code":"FORBIDDEN","message":"off"}}`},
		{"disabled, no token", "", nil, false, 401, `{"error":{"code":"UNAUTHORIZED","message":"need it"}}`},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			refused := 0
			c := check
			c.Token = tc.token
			c.Refused = func(*http.Request) { refused++ }
			r := httptest.NewRequest(http.MethodPost, "/v1/admin/heal", nil)
			for i := 0; i+1 < len(tc.hdr); i += 2 {
				r.Header.Set(tc.hdr[i], tc.hdr[i+1])
			}
			w := httptest.NewRecorder()
			assert.Equal(t, tc.allow, c.Allow(w, r))
			if tc.allow {
				assert.Zero(t, w.Body.Len(), "an allowed call is left to its handler")
				assert.Zero(t, refused)
				return
			}
			assert.Equal(t, tc.status, w.Code)
			assert.Equal(t, "application/json", w.Header().Get("Content-Type"))
			assert.Equal(t, tc.body+"\n", w.Body.String())
			wantRefused := 0
			if strings.Contains(tc.body, "wrong admin token") {
				wantRefused = 1
			}
			assert.Equal(t, wantRefused, refused, "Refused hears exactly the wrong tokens")
		})
	}
	// Without Refused a wrong token is still refused.
	r := httptest.NewRequest(http.MethodPost, "/", nil)
	r.Header.Set("X-Admin-Token", "nope")
	w := httptest.NewRecorder()
	assert.False(t, check.Allow(w, r))
	assert.Equal(t, 403, w.Code)
}

// A broker started without an admin token refuses every admin call, with
// the token or without.
func TestAdminDisabledWithoutToken(t *testing.T) {
	base := startBroker(t, nil, func(c *Config) { c.AdminToken = "" })
	status, out := call(t, "POST", base+"/v1/admin/heal", "", "Authorization", "Bearer tok")
	assert.Equal(t, 403, status, "%v", out)
	assert.Equal(t, CodeForbidden, errCode(out))
	assert.Equal(t, "broker 1 was started without --admin-token ($DLEDGERLAB_ADMIN_TOKEN): admin calls are disabled", out["error"].(map[string]any)["message"])
	status, out = call(t, "POST", base+"/v1/admin/campaign", "")
	assert.Equal(t, 401, status, "%v", out)
	assert.Equal(t, "admin calls need the admin token: Authorization: Bearer <token>", out["error"].(map[string]any)["message"])
}
