package main

// Process tests of the peer port: one real broker, and the test acting as
// a stranger or as its peer.

import (
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/native/proc"
	"dledgerlab/native/server"
	"dledgerlab/native/transport"
)

// startBroker starts broker id of a group of n and waits until it answers
// /v1/status; the other brokers are prepared, not started.
func startBroker(t *testing.T, n, id int) *proc.Cluster {
	t.Helper()
	c, err := proc.New(binPath, t.TempDir(), n, testSecret, testToken)
	require.NoError(t, err)
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			t.Logf("---- log of broker %d ----\n%s", id, tail(c.Node(id).Log(), 60))
		}
	})
	require.NoError(t, c.Start(id))
	ctx := ctxFor(t, 15*time.Second)
	require.NoError(t, proc.WaitFor(ctx, "broker to answer /v1/status", func() bool {
		_, err := c.Client.Status(ctx, c.Node(id).HTTPAddr)
		return err == nil
	}))
	return c
}

// peerStatus returns what broker id's /v1/status says about peer.
func peerStatus(ctx context.Context, t *testing.T, c *proc.Cluster, id, peer int) (server.PeerStatus, error) {
	st, err := c.Client.Status(ctx, c.Node(id).HTTPAddr)
	if err != nil {
		return server.PeerStatus{}, err
	}
	for _, p := range st.Peers {
		if p.ID == uint64(peer) {
			return p, nil
		}
	}
	t.Fatalf("broker %d's status has no peer %d: %+v", id, peer, st.Peers)
	return server.PeerStatus{}, nil
}

// A stranger on the peer port announces a 1 MiB frame before the handshake:
// the broker closes with 1009 (message too big) as soon as the frame header
// arrives, without buffering the frame, and keeps serving.
func TestUnauthenticatedPeerCannotSendALargeFrame(t *testing.T) {
	c := startBroker(t, 3, 2)
	b := c.Node(2)
	ctx := ctxFor(t, 15*time.Second)

	ws, _, err := websocket.DefaultDialer.DialContext(ctx, "ws://"+b.PeerAddr+transport.Path, nil)
	require.NoError(t, err)
	defer ws.Close()
	_, hello, err := ws.ReadMessage()
	require.NoError(t, err)
	require.True(t, strings.HasPrefix(string(hello), "DLLH"), "hello %q", hello)

	// A masked binary frame of 1 MiB (mask key 0), written by hand so it
	// goes out as one frame. Its last KiB is held back until the broker
	// answers: an answer proves the broker did not wait for the frame.
	const size = 1 << 20
	frame := []byte{0x82, 0x80 | 127}
	frame = binary.BigEndian.AppendUint64(frame, size)
	frame = append(frame, 0, 0, 0, 0)
	frame = append(frame, make([]byte, size)...)
	held := len(frame) - 1<<10
	answered := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() {
		defer wg.Done()
		if _, err := ws.NetConn().Write(frame[:held]); err != nil {
			return // the broker closed while we were writing
		}
		<-answered
		ws.NetConn().Write(frame[held:])
	}()
	// Less than the broker's 5 s handshake limit: a broker that waits for
	// the whole frame does not answer in time.
	ws.SetReadDeadline(time.Now().Add(3 * time.Second))
	_, _, err = ws.ReadMessage()
	close(answered)
	var ce *websocket.CloseError
	require.ErrorAs(t, err, &ce, "the broker did not close the connection with a reason before the frame was complete")
	assert.Equal(t, websocket.CloseMessageTooBig, ce.Code, "close %d %q", ce.Code, ce.Text)
	ws.Close()
	wg.Wait()

	require.NoError(t, proc.WaitFor(ctx, "broker 2 to log the refusal", func() bool {
		return strings.Contains(b.Log(), "peer refused")
	}))
	assert.Contains(t, b.Log(), "1009")
	_, err = c.Client.Status(ctx, b.HTTPAddr)
	assert.NoError(t, err, "GET /v1/status after the refusal")
}

// frozenProxy stands between a peer and the broker at target. When the
// peer's side closes, the broker's side stays open and silent, as when a
// machine loses power: nothing tells the broker the connection is dead.
// brokerClosed is closed once the broker closes its side.
type frozenProxy struct {
	ln           net.Listener
	brokerClosed chan struct{}
	once         sync.Once
	mu           sync.Mutex
	conns        []net.Conn
	wg           sync.WaitGroup
}

func startFrozenProxy(t *testing.T, target string) *frozenProxy {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	p := &frozenProxy{ln: ln, brokerClosed: make(chan struct{})}
	p.wg.Add(1)
	go func() {
		defer p.wg.Done()
		for {
			peer, err := ln.Accept()
			if err != nil {
				return
			}
			broker, err := net.Dial("tcp", target)
			if err != nil {
				peer.Close()
				continue
			}
			p.mu.Lock()
			p.conns = append(p.conns, peer, broker)
			p.mu.Unlock()
			p.wg.Add(2)
			go func() {
				defer p.wg.Done()
				io.Copy(broker, peer) // ends when the peer goes; the broker is not told
			}()
			go func() {
				defer p.wg.Done()
				io.Copy(peer, broker)
				io.Copy(io.Discard, broker) // the frozen side swallows the broker's pings
				p.once.Do(func() { close(p.brokerClosed) })
			}()
		}
	}()
	t.Cleanup(func() {
		ln.Close()
		p.mu.Lock()
		for _, c := range p.conns {
			c.Close()
		}
		p.mu.Unlock()
		p.wg.Wait()
	})
	return p
}

// startPeer runs an in-process transport as broker id of c's group, its
// peer connections going to the addresses in via (by id) instead of c's.
func startPeer(t *testing.T, c *proc.Cluster, id int, via map[int]string) *transport.Transport {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	peers := map[core.NodeID]string{core.NodeID(id): ln.Addr().String()}
	for _, n := range c.Nodes {
		if n.ID != id {
			peers[core.NodeID(n.ID)] = n.PeerAddr
		}
	}
	for pid, addr := range via {
		peers[core.NodeID(pid)] = addr
	}
	tr, err := transport.New(transport.Config{ID: core.NodeID(id), Peers: peers, Secret: []byte(testSecret), Group: server.PeerGroup,
		Logger: slog.New(slog.NewTextHandler(io.Discard, nil))})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	require.NoError(t, tr.Serve(ctx, ln))
	done := make(chan struct{})
	go func() { // nobody runs a replica here: swallow the broker's votes
		defer close(done)
		for {
			select {
			case <-tr.Recv():
			case <-ctx.Done():
				return
			}
		}
	}()
	t.Cleanup(func() {
		tr.Close()
		cancel()
		<-done
	})
	return tr
}

// Broker 1 restarts while broker 2 still holds its old connection (broker 1
// lost power: no FIN reached broker 2). Broker 2 takes the new connection
// and closes the old one; its status must go on saying that broker 1 is
// connected, since it is.
func TestReplacedPeerConnectionStaysConnected(t *testing.T) {
	c := startBroker(t, 3, 2)
	ctx := ctxFor(t, 30*time.Second)
	connected := func() bool {
		p, err := peerStatus(ctx, t, c, 2, 1)
		return err == nil && p.Connected
	}

	proxy := startFrozenProxy(t, c.Node(2).PeerAddr)
	first := startPeer(t, c, 1, map[int]string{2: proxy.ln.Addr().String()})
	require.NoError(t, proc.WaitFor(ctx, "broker 2 to show broker 1 connected", connected))
	first.Close() // the old socket stays open on broker 2's side

	second := startPeer(t, c, 1, nil)
	require.NoError(t, proc.WaitFor(ctx, "the restarted broker 1 to connect to broker 2", func() bool {
		return second.Stats()[0].Connected
	}))
	select {
	case <-proxy.brokerClosed:
	case <-ctx.Done():
		t.Fatal("broker 2 never closed the replaced connection")
	}
	for deadline := time.Now().Add(time.Second); time.Now().Before(deadline); {
		p, err := peerStatus(ctx, t, c, 2, 1)
		require.NoError(t, err)
		require.True(t, p.Connected, "broker 2 says broker 1 is not connected, though the new connection works")
		require.True(t, second.Stats()[0].Connected)
		select {
		case <-ctx.Done():
			t.Fatal("the test ran out of time")
		case <-time.After(50 * time.Millisecond):
		}
	}
}
