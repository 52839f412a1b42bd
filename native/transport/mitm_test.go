package transport

import (
	"bufio"
	"context"
	"encoding/binary"
	"io"
	"log/slog"
	"net"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/internal/syncbuf"
)

// mitm is a man in the middle on 127.0.0.1: a TCP proxy that understands
// just enough WebSocket framing to alter or repeat one binary frame after
// it is armed. Unarmed, it forwards every byte as it came.
type mitm struct {
	ln     net.Listener
	target string
	// flipNext flips a byte of the next binary frame from the dialing
	// broker, flipBack one from the accepting broker; replayNext sends the
	// next binary frame from the accepting broker twice.
	flipNext, flipBack, replayNext atomic.Bool
	// flipAt is the payload offset flipNext flips: 5 is the term of a
	// message whose ids fit in one byte each (codec.go). flipBackAt is
	// flipBack's.
	flipAt, flipBackAt int

	mu    sync.Mutex
	conns []net.Conn
	wg    sync.WaitGroup
}

func startMITM(t *testing.T, target string) *mitm {
	t.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	m := &mitm{ln: ln, target: target, flipAt: 5}
	m.wg.Add(1)
	go m.serve()
	t.Cleanup(m.close)
	return m
}

func (m *mitm) addr() string { return m.ln.Addr().String() }

func (m *mitm) serve() {
	defer m.wg.Done()
	for {
		client, err := m.ln.Accept()
		if err != nil {
			return
		}
		server, err := net.Dial("tcp", m.target)
		if err != nil {
			client.Close()
			continue
		}
		m.mu.Lock()
		m.conns = append(m.conns, client, server)
		m.mu.Unlock()
		m.wg.Add(2)
		go m.pipe(client, server, &m.flipNext, m.flipAt, nil)
		go m.pipe(server, client, &m.flipBack, m.flipBackAt, &m.replayNext)
	}
}

// pipe forwards the HTTP upgrade from src to dst unchanged, then one
// WebSocket frame at a time, tampering with a binary frame when armed.
func (m *mitm) pipe(src, dst net.Conn, flip *atomic.Bool, flipAt int, replay *atomic.Bool) {
	defer m.wg.Done()
	defer src.Close()
	defer dst.Close()
	r := bufio.NewReader(src)
	for {
		line, err := r.ReadSlice('\n')
		if err != nil {
			return
		}
		if _, err := dst.Write(line); err != nil {
			return
		}
		if string(line) == "\r\n" {
			break
		}
	}
	for {
		raw, payload, op, err := readWSFrame(r)
		if err != nil {
			return
		}
		out := [][]byte{raw}
		if op == wsBinary {
			switch {
			case flip != nil && len(raw) > payload+flipAt && flip.CompareAndSwap(true, false):
				// Masking XORs the payload, so flipping a bit on the
				// wire flips the same bit of the message.
				raw[payload+flipAt] ^= 0x01
			case replay != nil && replay.CompareAndSwap(true, false):
				out = append(out, raw)
			}
		}
		for _, b := range out {
			if _, err := dst.Write(b); err != nil {
				return
			}
		}
	}
}

const wsBinary = 2

// readWSFrame reads one WebSocket frame and returns its bytes, the offset of
// its payload and its opcode.
func readWSFrame(r *bufio.Reader) (raw []byte, payload int, op byte, err error) {
	raw = make([]byte, 2, 14)
	if _, err = io.ReadFull(r, raw); err != nil {
		return nil, 0, 0, err
	}
	op = raw[0] & 0x0f
	n := uint64(raw[1] & 0x7f)
	switch n {
	case 126:
		raw = append(raw, 0, 0)
		if _, err = io.ReadFull(r, raw[2:]); err != nil {
			return nil, 0, 0, err
		}
		n = uint64(binary.BigEndian.Uint16(raw[2:]))
	case 127:
		raw = append(raw, make([]byte, 8)...)
		if _, err = io.ReadFull(r, raw[2:]); err != nil {
			return nil, 0, 0, err
		}
		n = binary.BigEndian.Uint64(raw[2:])
	}
	if raw[1]&0x80 != 0 {
		raw = append(raw, 0, 0, 0, 0) // the mask key
		if _, err = io.ReadFull(r, raw[len(raw)-4:]); err != nil {
			return nil, 0, 0, err
		}
	}
	payload = len(raw)
	raw = append(raw, make([]byte, n)...)
	_, err = io.ReadFull(r, raw[payload:])
	return raw, payload, op, err
}

func (m *mitm) close() {
	m.ln.Close()
	m.mu.Lock()
	for _, c := range m.conns {
		c.Close()
	}
	m.mu.Unlock()
	m.wg.Wait()
}

// pairVia starts brokers 1 and 2 on 127.0.0.1 with broker 1 dialing broker
// 2 through a man in the middle.
func pairVia(t *testing.T) (*Transport, *Transport, *mitm, *syncbuf.Buffer) {
	t.Helper()
	return pairViaWith(t, func(int, *Config) {}, func(*mitm) {})
}

// pairViaWith is pairVia with each broker's Config set by set (i: 0 for
// broker 1) and the man in the middle armed by arm before either starts.
func pairViaWith(t *testing.T, set func(i int, c *Config), arm func(*mitm)) (*Transport, *Transport, *mitm, *syncbuf.Buffer) {
	t.Helper()
	var lns [2]net.Listener
	for i := range lns {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		lns[i] = ln
	}
	proxy := startMITM(t, lns[1].Addr().String())
	arm(proxy)
	logs := &syncbuf.Buffer{}
	log := slog.New(slog.NewTextHandler(logs, nil))
	peers := []map[core.NodeID]string{
		{1: lns[0].Addr().String(), 2: proxy.addr()},
		{1: lns[0].Addr().String(), 2: lns[1].Addr().String()},
	}
	var ts [2]*Transport
	for i := range ts {
		cfg := Config{ID: core.NodeID(i + 1), Peers: peers[i], Secret: []byte("s3cret"), Logger: log}
		set(i, &cfg)
		tr, err := New(cfg)
		require.NoError(t, err)
		require.NoError(t, tr.Serve(context.Background(), lns[i]))
		t.Cleanup(tr.Close)
		ts[i] = tr
	}
	return ts[0], ts[1], proxy, logs
}

// deliver sends m from `from` until `to` receives a message of m's term.
func deliver(t *testing.T, from, to *Transport, m core.Message) {
	t.Helper()
	require.Eventually(t, func() bool {
		from.Send(m)
		for {
			select {
			case got := <-to.Recv():
				if got.Term == m.Term {
					assert.Equal(t, m, got)
					return true
				}
			case <-time.After(20 * time.Millisecond):
				return false
			}
		}
	}, 5*time.Second, time.Millisecond, "message of term %d from broker %d", m.Term, m.From)
}

// drain returns the messages waiting on tr.Recv.
func drain(tr *Transport) []core.Message {
	var out []core.Message
	for {
		select {
		case m := <-tr.Recv():
			out = append(out, m)
		default:
			return out
		}
	}
}

func TestUntamperedFramesPassTheMiddle(t *testing.T) {
	a, b, _, logs := pairVia(t)
	deliver(t, a, b, core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 1, Commit: 3})
	deliver(t, b, a, core.Message{Type: core.MsgHeartbeatResp, From: 2, To: 1, Term: 1})
	deliver(t, a, b, core.Message{Type: core.MsgPush, From: 1, To: 2, Term: 2,
		Entries: []core.Entry{{Index: 1, Term: 2, Data: []byte("order")}}})
	assert.Zero(t, a.Stats()[0].Refused)
	assert.Zero(t, b.Stats()[0].Refused)
	assert.NotContains(t, logs.String(), "failed authentication")
}

// An attacker between two brokers alters the term of a heartbeat: the
// receiver must refuse the frame, not deliver a message the sender never
// sent, and drop the connection; the next connection works.
func TestFlippedByteInAFrameIsRefused(t *testing.T) {
	a, b, proxy, logs := pairVia(t)
	deliver(t, a, b, core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 1})

	proxy.flipNext.Store(true)
	a.Send(core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 7})
	require.Eventually(t, func() bool { return b.Stats()[0].Refused > 0 }, 5*time.Second, 5*time.Millisecond,
		"broker 2 never refused the altered frame")
	assert.False(t, proxy.flipNext.Load(), "the frame went through the middle")
	for _, m := range drain(b) {
		assert.Equal(t, uint64(1), m.Term, "delivered a message altered or sent after the altered one: %v", m)
	}
	assert.Contains(t, logs.String(), "peer frame failed authentication; closing the connection")
	assert.Contains(t, logs.String(), "peer=1")

	deliver(t, a, b, core.Message{Type: core.MsgHeartbeat, From: 1, To: 2, Term: 8})
}

// An attacker between two brokers sends a recorded frame a second time:
// the receiver delivers the message once and refuses the copy.
func TestReplayedFrameIsRefused(t *testing.T) {
	a, b, proxy, logs := pairVia(t)
	deliver(t, b, a, core.Message{Type: core.MsgHeartbeatResp, From: 2, To: 1, Term: 1})

	proxy.replayNext.Store(true)
	b.Send(core.Message{Type: core.MsgHeartbeatResp, From: 2, To: 1, Term: 7})
	require.Eventually(t, func() bool { return a.Stats()[0].Refused > 0 }, 5*time.Second, 5*time.Millisecond,
		"broker 1 never refused the replayed frame")
	sevens := 0
	for _, m := range drain(a) {
		if m.Term == 7 {
			sevens++
		} else {
			assert.Equal(t, uint64(1), m.Term, "unexpected message %v", m)
		}
	}
	assert.Equal(t, 1, sevens, "the message is delivered once, its replay refused")
	assert.Contains(t, logs.String(), "peer frame failed authentication; closing the connection")
	assert.Contains(t, logs.String(), "peer=2")

	deliver(t, b, a, core.Message{Type: core.MsgHeartbeatResp, From: 2, To: 1, Term: 8})
}
