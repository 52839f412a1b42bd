package transport

import (
	"context"
	"encoding/binary"
	"errors"
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
	t.Run("dialing an old broker", func(t *testing.T) {
		addr, closed := fakeBroker2(t, hello(1, 2))
		logs := dialer1(t, addr)
		select {
		case ce := <-closed:
			assert.Equal(t, websocket.ClosePolicyViolation, ce.Code)
			assert.Contains(t, ce.Text, "peer protocol 2, not 1", "the old broker's log shows why")
		case <-time.After(5 * time.Second):
			t.Fatal("the hello of an old broker was not refused")
		}
		require.Eventually(t, func() bool { return strings.Contains(logs.String(), "peer refused") }, 5*time.Second, 5*time.Millisecond)
		assert.Contains(t, logs.String(), "speaks peer protocol 1, this broker 2")
	})
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
