package server

import (
	"context"
	"fmt"
	"net"
	"net/http"
	"os"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"dledgerlab/core"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// startGroup serves brokers 1..n in this process on free 127.0.0.1 ports
// and stops them when the test ends. tweak may change each one's config.
func startGroup(t *testing.T, n int, tweak func(id core.NodeID, c *Config)) map[core.NodeID]*Server {
	t.Helper()
	peerLns, httpLns := map[core.NodeID]net.Listener{}, map[core.NodeID]net.Listener{}
	peers, https := map[core.NodeID]string{}, map[core.NodeID]string{}
	for i := 1; i <= n; i++ {
		id := core.NodeID(i)
		var err error
		peerLns[id], err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		httpLns[id], err = net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		peers[id], https[id] = peerLns[id].Addr().String(), httpLns[id].Addr().String()
	}
	out := map[core.NodeID]*Server{}
	for id := range peers {
		cfg := Config{GroupMember: GroupMember{ID: id, Peers: peers, HTTP: https, Dir: t.TempDir(), Secret: "s"}, AdminToken: "tok", NoSync: true, ProduceTimeout: 10 * time.Second}
		if tweak != nil {
			tweak(id, &cfg)
		}
		s, err := New(cfg)
		require.NoError(t, err)
		ctx, cancel := context.WithCancel(context.Background())
		done := make(chan error, 1)
		go func() { done <- s.Serve(ctx, peerLns[id], httpLns[id]) }()
		t.Cleanup(func() {
			cancel()
			require.NoError(t, <-done)
		})
		out[id] = s
	}
	return out
}

// status reads a broker's replica status on its runner.
func (s *Server) testStatus() core.Status {
	var st core.Status
	s.do(context.Background(), func() { st = s.raft.Status() })
	return st
}

// While the leader's fsync is in flight, what was produced meanwhile is
// pushed to the followers at once (core.Node.Early, thesis §10.2.1), and
// the followers' commits of it wait for nothing on the leader but its own
// copy: the produce is answered only once the leader's fsync ended.
func TestLeaderPushesWhileItsFsyncIsHeld(t *testing.T) {
	var hold atomic.Bool
	held, release := make(chan struct{}, 1), make(chan struct{})
	unblock := sync.OnceFunc(func() { close(release) })
	srv := startGroup(t, 3, func(id core.NodeID, c *Config) {
		if id == 1 {
			c.NoSync = false
			c.SyncFile = func(f *os.File) error {
				if isSegment(f) && hold.CompareAndSwap(true, false) { // not the checkpoint's, on the runner
					held <- struct{}{}
					<-release // the leader's disk is slow this once
				}
				return nil
			}
		} else {
			c.ElectionTicksMin, c.ElectionTicksMax = 1000, 1200 // broker 1 leads
		}
	})
	t.Cleanup(unblock) // runs before the brokers stop (cleanups run last first)
	leader := srv[1]
	base := "http://" + leader.cfg.HTTP[1]
	require.Eventually(t, func() bool { return leader.testStatus().Role == core.RoleLeader }, 10*time.Second, 5*time.Millisecond)
	produce := func(body string) (int, error) {
		resp, err := http.Post(base+"/v1/topics/orders/messages", "application/json", strings.NewReader(fmt.Sprintf(`{"body":%q}`, body)))
		if err != nil {
			return 0, err
		}
		resp.Body.Close()
		return resp.StatusCode, nil
	}
	code, err := produce("warm-up")
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code)

	hold.Store(true)
	answered := make(chan int, 2)
	go func() { c, _ := produce("first"); answered <- c }()
	select {
	case <-held:
	case <-time.After(10 * time.Second):
		t.Fatal("the first produce reached no fsync")
	}
	want := leader.testStatus().LastIndex + 1
	go func() { c, _ := produce("second"); answered <- c }()
	require.Eventually(t, func() bool {
		return srv[2].testStatus().LastIndex >= want && srv[3].testStatus().LastIndex >= want
	}, 10*time.Second, time.Millisecond, "the second message reaches the followers while the leader's fsync is held")
	require.Eventually(t, func() bool {
		return srv[2].testStatus().Commit >= want || srv[3].testStatus().Commit >= want
	}, 10*time.Second, time.Millisecond, "both followers persisted it: a majority without the leader's copy")
	select {
	case c := <-answered:
		t.Fatalf("a produce was answered (%d) before the leader's fsync ended: Early must not apply what the leader has not persisted", c)
	default:
	}
	unblock()
	for range 2 {
		select {
		case c := <-answered:
			assert.Equal(t, http.StatusOK, c)
		case <-time.After(10 * time.Second):
			t.Fatal("a produce was not answered after the fsync")
		}
	}
}
