package transport

import (
	"bytes"
	"context"
	"log/slog"
	"net"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

// syncBuffer is a log sink safe for the transport's goroutines.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// pair starts brokers 1 and 2 with the given secrets on 127.0.0.1.
func pair(t *testing.T, secret1, secret2 string) (*Transport, *Transport, *syncBuffer) {
	t.Helper()
	var lns [2]net.Listener
	addrs := map[core.NodeID]string{}
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[i] = ln
		addrs[core.NodeID(i+1)] = ln.Addr().String()
	}
	logs := &syncBuffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var ts [2]*Transport
	for i, secret := range []string{secret1, secret2} {
		tr, err := New(Config{ID: core.NodeID(i + 1), Peers: addrs, Secret: []byte(secret), Logger: log})
		require.NoError(t, err)
		require.NoError(t, tr.Serve(context.Background(), lns[i]))
		t.Cleanup(tr.Close)
		ts[i] = tr
	}
	return ts[0], ts[1], logs
}

func TestMessagesFlowBothWaysOverOneConnection(t *testing.T) {
	a, b, _ := pair(t, "s3cret", "s3cret")
	push := core.Message{Type: core.MsgPush, From: 1, To: 2, Term: 1, Entries: []core.Entry{{Index: 1, Term: 1, Data: []byte("x")}}}
	require.Eventually(t, func() bool {
		a.Send(push)
		select {
		case m := <-b.Recv():
			assert.Equal(t, push, m)
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	}, 5*time.Second, time.Millisecond)
	b.Send(core.Message{Type: core.MsgPushResp, From: 2, To: 1, Term: 1, Index: 1})
	select {
	case m := <-a.Recv():
		assert.Equal(t, core.MsgPushResp, m.Type)
	case <-time.After(5 * time.Second):
		t.Fatal("no answer from broker 2")
	}
}

func TestPeerWithWrongSecretIsRefused(t *testing.T) {
	a, b, logs := pair(t, "right", "wrong")
	require.Eventually(t, func() bool { return b.Stats()[0].Refused > 0 }, 5*time.Second, 10*time.Millisecond)
	assert.False(t, a.Stats()[0].Connected)
	assert.Contains(t, logs.String(), "does not match this broker's cluster secret")
}

func TestCutDropsBothWays(t *testing.T) {
	a, b, _ := pair(t, "s", "s")
	require.Eventually(t, func() bool { return a.Stats()[0].Connected && b.Stats()[0].Connected }, 5*time.Second, 5*time.Millisecond)
	a.Cut([]core.NodeID{2})
	a.Send(core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 1})
	b.Send(core.Message{Type: core.MsgHeartbeatResp, From: 2, To: 1, Term: 1})
	select {
	case m := <-a.Recv():
		t.Fatalf("received %v across a cut", m)
	case <-time.After(100 * time.Millisecond):
	}
	assert.Equal(t, uint64(1), a.Stats()[0].Dropped)
	a.Heal()
	assert.Empty(t, a.Cuts())
}
