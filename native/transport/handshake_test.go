package transport

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"net/http/httptest"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/internal/syncbuf"
)

// dialer1 starts broker 1 dialing broker 2 at addr (a fake) and returns its
// logs.
func dialer1(t *testing.T, addr string) *syncbuf.Buffer {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	logs := &syncbuf.Buffer{}
	tr, err := New(Config{ID: 1, Peers: map[core.NodeID]string{1: ln.Addr().String(), 2: addr}, Secret: []byte("s3cret"),
		Logger: slog.New(slog.NewTextHandler(logs, nil))})
	require.NoError(t, err)
	require.NoError(t, tr.Serve(context.Background(), ln))
	t.Cleanup(tr.Close)
	return logs
}

// fakeBroker2 answers the peer path with hello and reports how the dialer
// closed the connection.
func fakeBroker2(t *testing.T, hello []byte) (addr string, closed <-chan *websocket.CloseError) {
	t.Helper()
	got := make(chan *websocket.CloseError, 16)
	up := websocket.Upgrader{}
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		c, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer c.Close()
		c.SetReadDeadline(time.Now().Add(5 * time.Second))
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		// Written while reading: a dialer that stops reading a large
		// hello may close before the write ends.
		wrote := make(chan struct{})
		go func() {
			defer close(wrote)
			c.WriteMessage(websocket.BinaryMessage, hello)
		}()
		defer func() { <-wrote }()
		_, _, err = c.ReadMessage()
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			select {
			case got <- ce:
			default:
			}
		}
	}))
	t.Cleanup(srv.Close)
	return strings.TrimPrefix(srv.URL, "http://"), got
}

func hello(version byte, id core.NodeID) []byte {
	b := append([]byte(helloMagic), version)
	b = binary.BigEndian.AppendUint64(b, uint64(id))
	return append(b, make([]byte, nonceSize)...)
}

func TestBrokerOfTheOldPeerProtocolIsRefusedClearly(t *testing.T) {
	for _, old := range []byte{1, 2} {
		t.Run(fmt.Sprintf("dialing a broker of peer protocol %d", old), func(t *testing.T) {
			addr, closed := fakeBroker2(t, hello(old, 2))
			logs := dialer1(t, addr)
			select {
			case ce := <-closed:
				assert.Equal(t, websocket.ClosePolicyViolation, ce.Code)
				assert.Contains(t, ce.Text, fmt.Sprintf("peer protocol %d, not %d", PeerVersion, old), "the old broker's log shows why")
			case <-time.After(5 * time.Second):
				t.Fatal("the hello of an old broker was not refused")
			}
			require.Eventually(t, func() bool { return strings.Contains(logs.String(), "peer refused") }, 5*time.Second, 5*time.Millisecond)
			assert.Contains(t, logs.String(), fmt.Sprintf("speaks peer protocol %d, this broker %d", old, PeerVersion))
		})
	}
	t.Run("dialed by an old broker", func(t *testing.T) {
		a, b, logs := pair(t, "s", "s")
		a.Close() // broker 2 is dialed by the fake below only
		c, _, err := websocket.DefaultDialer.Dial("ws://"+b.Addr().String()+Path, nil)
		require.NoError(t, err)
		defer c.Close()
		_, h, err := c.ReadMessage()
		require.NoError(t, err)
		require.Equal(t, byte(PeerVersion), h[4])
		// What a broker of peer protocol 1 answers to any other version.
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "handshake refused"), time.Now().Add(time.Second))
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "peer refused") }, 5*time.Second, 5*time.Millisecond)
		assert.Contains(t, logs.String(), "runs an older dledgerlab (peer protocol 1")
	})
}

func TestDialerClosesAnOversizedHelloAtItsHeader(t *testing.T) {
	addr, closed := fakeBroker2(t, make([]byte, 1<<20))
	logs := dialer1(t, addr)
	select {
	case ce := <-closed:
		assert.Equal(t, websocket.CloseMessageTooBig, ce.Code)
	case <-time.After(5 * time.Second):
		t.Fatal("broker 1 did not close an oversized hello with 1009")
	}
	require.Eventually(t, func() bool { return strings.Contains(logs.String(), "peer refused") }, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, logs.String(), "closed with 1009")
}

// One cluster secret is shared by every process of a classroom: a broker
// whose --peers names a controller's address proves the secret, but not the
// group. Both sides refuse by name, and nothing crosses.
func TestPeerOfAnotherGroupIsRefusedByName(t *testing.T) {
	groups := []string{"dledger brokers", "controllers"}
	a, b, logs := pairWith(t, func(i int, c *Config) { c.Secret, c.Group = []byte("same"), groups[i] })
	require.Eventually(t, func() bool {
		return a.Stats()[0].Refused > 0 && strings.Contains(logs.String(), "refused our hello")
	}, 5*time.Second, 5*time.Millisecond)
	// Broker 1 dials, reads broker 2's hello and refuses it.
	assert.Contains(t, logs.String(), `the address of peer 2 answers as a member of \"controllers\", and this is a member of \"dledger brokers\": check --peers`)
	// Broker 2 reads why in the close frame.
	assert.Contains(t, logs.String(), `the dialing broker refused our hello: a member of \"dledger brokers\" dialed this member of \"controllers\": check its --peers`)
	a.Send(core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 1})
	b.Send(core.Message{Type: core.MsgHeartbeatResp, From: 2, To: 1, Term: 1})
	select {
	case m := <-b.Recv():
		t.Fatalf("broker 2 received %v from another group", m)
	case m := <-a.Recv():
		t.Fatalf("broker 1 received %v from another group", m)
	case <-time.After(100 * time.Millisecond):
	}
	assert.False(t, a.Stats()[0].Connected)
	assert.False(t, b.Stats()[0].Connected)
}

// A man in the middle rewrites the group in broker 2's hello to broker 1's
// own. Broker 1 then accepts the hello, but its proof covers its group, so
// broker 2 refuses it as it refuses a wrong secret; the next connection,
// untouched, is refused by name.
func TestGroupAlteredInTheHelloIsRefused(t *testing.T) {
	groups := []string{"g0", "g1"}
	a, b, proxy, logs := pairViaWith(t, func(i int, c *Config) { c.Group = groups[i] }, func(m *mitm) {
		m.flipBackAt = helloSize + 2 // the '1' of "g1": '1'^1 is '0'
		m.flipBack.Store(true)
	})
	require.Eventually(t, func() bool {
		return !proxy.flipBack.Load() && b.Stats()[0].Refused > 0 && strings.Contains(logs.String(), "check --peers")
	}, 5*time.Second, 5*time.Millisecond)
	assert.Contains(t, logs.String(), "broker 1's proof does not match this broker's cluster secret")
	assert.Contains(t, logs.String(), `answers as a member of \"g1\", and this is a member of \"g0\"`)
	a.Send(core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 1})
	select {
	case m := <-b.Recv():
		t.Fatalf("broker 2 received %v", m)
	case <-time.After(100 * time.Millisecond):
	}
}

func TestGroupNameTooLongIsAnError(t *testing.T) {
	_, err := New(Config{ID: 1, Peers: map[core.NodeID]string{1: "127.0.0.1:1"}, Secret: []byte("s"), Group: strings.Repeat("x", MaxGroupBytes+1)})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "group name of 256 bytes, at most 255")
}
