package transport

import (
	"context"
	"log/slog"
	"net"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/internal/syncbuf"
)

// pair starts brokers 1 and 2 with the given secrets on 127.0.0.1.
func pair(t *testing.T, secret1, secret2 string) (*Transport, *Transport, *syncbuf.Buffer) {
	t.Helper()
	return pairWith(t, func(i int, c *Config) { c.Secret = []byte([]string{secret1, secret2}[i]) })
}

// pairWith starts brokers 1 and 2 on 127.0.0.1, each with its Config set
// by set (i: 0 for broker 1), and returns their common log.
func pairWith(t *testing.T, set func(i int, c *Config)) (*Transport, *Transport, *syncbuf.Buffer) {
	t.Helper()
	var lns [2]net.Listener
	addrs := map[core.NodeID]string{}
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[i] = ln
		addrs[core.NodeID(i+1)] = ln.Addr().String()
	}
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	var ts [2]*Transport
	for i := range ts {
		cfg := Config{ID: core.NodeID(i + 1), Peers: addrs, Logger: log}
		set(i, &cfg)
		tr, err := New(cfg)
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

func TestLinkFaults(t *testing.T) {
	a, b, _ := pair(t, "s3cret", "s3cret")
	hb := core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 1}
	// Wait for the connection.
	require.Eventually(t, func() bool {
		a.Send(hb)
		select {
		case <-b.Recv():
			return true
		case <-time.After(20 * time.Millisecond):
			return false
		}
	}, 5*time.Second, time.Millisecond)

	// Bad input.
	assert.ErrorContains(t, a.SetLink(9, LinkFault{Loss: 0.5}), "broker 9 is not another member")
	assert.ErrorContains(t, a.SetLink(1, LinkFault{Loss: 0.5}), "broker 1 is not another member")
	assert.ErrorContains(t, a.SetLink(2, LinkFault{Loss: 1.5}), "within 0..1")
	assert.ErrorContains(t, a.SetLink(2, LinkFault{Loss: -1}), "within 0..1")
	assert.ErrorContains(t, a.SetLink(2, LinkFault{Latency: -time.Second}), "latency")
	assert.ErrorContains(t, a.SetLink(2, LinkFault{Jitter: 2 * MaxLinkDelay}), "jitter")
	assert.Empty(t, a.Links())

	// Loss 1: everything sent 1→2 is dropped and counted; 2→1 still flows.
	require.NoError(t, a.SetLink(2, LinkFault{Loss: 1}))
	dropped := a.Stats()[0].Dropped
	for range 20 {
		a.Send(hb)
	}
	select {
	case m := <-b.Recv():
		t.Fatalf("a message crossed a link with loss 1: %v", m)
	case <-time.After(100 * time.Millisecond):
	}
	assert.Equal(t, dropped+20, a.Stats()[0].Dropped)
	assert.Equal(t, 1.0, a.Stats()[0].Link.Loss)
	b.Send(core.Message{Type: core.MsgHeartbeatResp, From: 2, To: 1, Term: 1})
	select {
	case <-a.Recv():
	case <-time.After(5 * time.Second):
		t.Fatal("the other direction is not shaped")
	}

	// Latency: delayed, in order.
	require.NoError(t, a.SetLink(2, LinkFault{Latency: 150 * time.Millisecond, Jitter: 20 * time.Millisecond}))
	start := time.Now()
	for i := range 5 {
		a.Send(core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: uint64(10 + i)})
	}
	for i := range 5 {
		select {
		case m := <-b.Recv():
			assert.Equal(t, uint64(10+i), m.Term, "the link keeps its order")
		case <-time.After(5 * time.Second):
			t.Fatal("a delayed message never arrived")
		}
	}
	assert.GreaterOrEqual(t, time.Since(start), 150*time.Millisecond)

	// Heal clears the shaping.
	a.Heal()
	assert.Empty(t, a.Links())
	start = time.Now()
	a.Send(hb)
	select {
	case <-b.Recv():
		assert.Less(t, time.Since(start), 150*time.Millisecond)
	case <-time.After(5 * time.Second):
		t.Fatal("no message after heal")
	}
}

// Send says whether it queued the message, so that the live view can draw
// a dropped one as a cross instead of a message that never leaves, and how
// long the link's latency holds it, so that a slow link is drawn slow.
func TestSendReportsWhatItDrops(t *testing.T) {
	a, _, _ := pair(t, "s", "s")
	hb := core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 1}
	send := func(m core.Message) bool { queued, _ := a.Send(m); return queued }
	assert.True(t, send(hb), "a link as it is")
	assert.False(t, send(core.Message{Type: core.MsgHeartbeat, From: 1, To: 9, Term: 1}), "no broker 9")
	require.NoError(t, a.SetLink(2, LinkFault{Loss: 1}))
	assert.False(t, send(hb), "loss 100 %")
	require.NoError(t, a.SetLink(2, LinkFault{Latency: 300 * time.Millisecond, Jitter: 50 * time.Millisecond}))
	queued, delay := a.Send(hb)
	assert.True(t, queued, "into the delay line")
	assert.GreaterOrEqual(t, delay, 300*time.Millisecond, "the link's latency")
	assert.LessOrEqual(t, delay, 350*time.Millisecond, "latency plus at most the jitter")
	require.NoError(t, a.SetLink(2, LinkFault{}))
	a.Cut([]core.NodeID{2})
	assert.False(t, send(hb), "a cut link")
	a.Heal()
	queued, delay = a.Send(hb)
	assert.True(t, queued)
	assert.Zero(t, delay, "a healthy link holds nothing")
}
