// Package transport carries core messages between native brokers: one
// WebSocket connection per pair of brokers (the lower id dials the higher),
// an authenticated handshake on the cluster secret (handshake.go), a compact
// binary framing (codec.go) with every frame authenticated by a per-connection
// HMAC (framemac.go), bounded send queues that drop on overflow (Raft
// tolerates lost messages; drops are counted), a maximum frame size, and
// reconnection with backoff.
//
// Send never blocks the runner. Received messages arrive on Recv; when the
// runner is slow (an fsync in progress) the readers wait, so TCP pushes back
// on the sender instead of memory growing.
package transport

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"math/rand/v2"
	"net"
	"net/http"
	"slices"
	"sync"
	"sync/atomic"
	"time"

	"github.com/gorilla/websocket"

	"dledgerlab/core"
)

// Path is the HTTP path peers connect to on the peer port.
const Path = "/v1/peer"

// Defaults for Config's zero values.
const (
	DefaultQueueSize = 4096
	DefaultMaxFrame  = 16 << 20
	pingEvery        = time.Second
	deadAfter        = 4 * time.Second
	backoffMin       = 50 * time.Millisecond
	backoffMax       = time.Second
)

// Config sets up a Transport.
type Config struct {
	ID core.NodeID
	// Peers maps every broker of the group (self included) to its peer
	// address, host:port.
	Peers  map[core.NodeID]string
	Secret []byte
	// Group names the group these peers form, the same on each of them
	// ("dledger brokers", "controllers", "broker group broker-a"): a peer
	// of another group is refused at the handshake (handshake.go), even
	// with the same secret. At most MaxGroupBytes bytes.
	Group  string
	Logger *slog.Logger
	// QueueSize bounds each peer's send queue, in messages.
	QueueSize int
	// MaxFrame bounds an encoded message in bytes, both ways (its 32-byte
	// tag comes on top).
	MaxFrame int
}

// Transport is this broker's side of every peer connection.
type Transport struct {
	cfg   Config
	log   *slog.Logger
	peers map[core.NodeID]*peer
	recv  chan core.Message
	ln    net.Listener
	srv   *http.Server
	up    websocket.Upgrader

	cutMu sync.RWMutex
	cut   map[core.NodeID]bool

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup
}

// PeerStats counts one peer's traffic.
type PeerStats struct {
	ID        core.NodeID `json:"id"`
	Addr      string      `json:"addr"`
	Connected bool        `json:"connected"`
	Sent      uint64      `json:"sent"`
	Received  uint64      `json:"received"`
	// Dropped counts messages not sent: queue full, no connection, frame
	// too large, or the link cut by a partition.
	Dropped uint64 `json:"dropped"`
	// Refused counts failed handshakes and frames that did not
	// authenticate.
	Refused uint64 `json:"refused"`
	// Link is the shaping of the outgoing link (zero: none).
	Link LinkFault `json:"link"`
}

type peer struct {
	id    core.NodeID
	addr  string
	queue chan core.Message
	conns chan *link // new authenticated connections for the writer

	// mu serialises handing connections to the writer and guards gen, the
	// generation of the current connection (the latest handed over).
	// Invariant: connected is true iff the current connection's reader is
	// still reading; an older connection's reader ending does not change it.
	mu  sync.Mutex
	gen uint64

	connected               atomic.Bool
	sent, received, dropped atomic.Uint64
	refused                 atomic.Uint64

	// fault shapes the outgoing link (nil: none); delayed holds messages
	// waiting out their latency, pending counts them so that later messages
	// queue behind them (a link keeps its order).
	fault   atomic.Pointer[LinkFault]
	delayed chan delayedMsg
	pending atomic.Int64
}

// LinkFault shapes this broker's outgoing link to one peer, in the send
// path: each message is dropped with probability Loss, else delayed by
// Latency plus a uniform draw in [0, Jitter]. The zero value is a healthy
// link.
type LinkFault struct {
	Latency time.Duration `json:"latency"`
	Jitter  time.Duration `json:"jitter"`
	Loss    float64       `json:"loss"`
}

// MaxLinkDelay bounds Latency and Jitter.
const MaxLinkDelay = time.Minute

// link is one authenticated connection to a peer: the writer seals frames
// with send, the reader opens them with recv.
type link struct {
	c          *websocket.Conn
	send, recv *frameMAC
}

type delayedMsg struct {
	m   core.Message
	due time.Time
}

// New creates a transport; Start makes it listen and dial.
func New(cfg Config) (*Transport, error) {
	if cfg.QueueSize <= 0 {
		cfg.QueueSize = DefaultQueueSize
	}
	if cfg.MaxFrame <= 0 {
		cfg.MaxFrame = DefaultMaxFrame
	}
	if cfg.Logger == nil {
		cfg.Logger = slog.Default()
	}
	if len(cfg.Secret) == 0 {
		return nil, errors.New("transport: empty cluster secret")
	}
	if len(cfg.Group) > MaxGroupBytes {
		return nil, fmt.Errorf("transport: group name of %d bytes, at most %d", len(cfg.Group), MaxGroupBytes)
	}
	if _, ok := cfg.Peers[cfg.ID]; !ok {
		return nil, fmt.Errorf("transport: broker %d has no peer address", cfg.ID)
	}
	t := &Transport{
		cfg:   cfg,
		log:   cfg.Logger,
		peers: map[core.NodeID]*peer{},
		recv:  make(chan core.Message, cfg.QueueSize),
		cut:   map[core.NodeID]bool{},
		up: websocket.Upgrader{
			ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10,
			HandshakeTimeout: handshakeLimit,
		},
	}
	for id, addr := range cfg.Peers {
		if id == cfg.ID {
			continue
		}
		t.peers[id] = &peer{id: id, addr: addr, queue: make(chan core.Message, cfg.QueueSize), conns: make(chan *link, 1),
			delayed: make(chan delayedMsg, cfg.QueueSize)}
	}
	return t, nil
}

// Start listens on this broker's peer address and starts dialing.
func (t *Transport) Start(ctx context.Context) error {
	ln, err := net.Listen("tcp", t.cfg.Peers[t.cfg.ID])
	if err != nil {
		return fmt.Errorf("peer port: %w", err)
	}
	return t.Serve(ctx, ln)
}

// Serve is Start on a listener the caller opened.
func (t *Transport) Serve(ctx context.Context, ln net.Listener) error {
	t.ln = ln
	t.ctx, t.cancel = context.WithCancel(ctx)
	mux := http.NewServeMux()
	mux.HandleFunc(Path, t.accept)
	t.srv = &http.Server{Handler: mux, ReadHeaderTimeout: handshakeLimit, ErrorLog: slog.NewLogLogger(t.log.Handler(), slog.LevelDebug)}
	t.wg.Add(1)
	go func() {
		defer t.wg.Done()
		if err := t.srv.Serve(ln); err != nil && !errors.Is(err, http.ErrServerClosed) {
			t.log.Error("peer listener stopped", "err", err)
		}
	}()
	for _, p := range t.peers {
		t.wg.Add(2)
		go t.writer(p)
		go t.delayer(p)
		if t.cfg.ID < p.id {
			t.wg.Add(1)
			go t.dialer(p)
		}
	}
	return nil
}

// Addr returns the peer listener's address.
func (t *Transport) Addr() net.Addr { return t.ln.Addr() }

// Recv delivers messages from peers.
func (t *Transport) Recv() <-chan core.Message { return t.recv }

// Send queues m for its recipient without blocking. It reports whether it
// did, and how long the link's latency (SetLink) holds m before it leaves:
// the live view draws a dropped message as a cross and a slow link's
// messages as slow. A full queue, a cut link, the link's loss or an unknown
// recipient drops m: queued is false. (A queued message can still be lost
// with its connection; the core sends again what matters.)
func (t *Transport) Send(m core.Message) (queued bool, delay time.Duration) {
	p := t.peers[m.To]
	if p == nil {
		return false, 0
	}
	if t.isCut(m.To) {
		p.dropped.Add(1)
		return false, 0
	}
	if f := p.fault.Load(); f != nil {
		if f.Loss > 0 && rand.Float64() < f.Loss {
			p.dropped.Add(1)
			return false, 0
		}
		delay = f.Latency + rand.N(f.Jitter+1)
	}
	if delay > 0 || p.pending.Load() > 0 {
		// Through the delay line; a message without delay still waits
		// behind the delayed ones, so the link keeps its order.
		p.pending.Add(1)
		select {
		case p.delayed <- delayedMsg{m: m, due: time.Now().Add(delay)}:
			return true, delay
		default:
			p.pending.Add(-1)
			p.dropped.Add(1)
			return false, 0
		}
	}
	select {
	case p.queue <- m:
		return true, 0
	default:
		p.dropped.Add(1)
		return false, 0
	}
}

// SetLink shapes the outgoing link to peer id (latency, jitter, loss); the
// zero LinkFault restores it. Heal restores every link.
func (t *Transport) SetLink(id core.NodeID, f LinkFault) error {
	p := t.peers[id]
	if p == nil {
		return fmt.Errorf("broker %d is not another member of this group", id)
	}
	if f.Loss < 0 || f.Loss > 1 || f.Loss != f.Loss {
		return fmt.Errorf("loss %v must be within 0..1", f.Loss)
	}
	if f.Latency < 0 || f.Latency > MaxLinkDelay || f.Jitter < 0 || f.Jitter > MaxLinkDelay {
		return fmt.Errorf("latency %v and jitter %v must be within 0..%v", f.Latency, f.Jitter, MaxLinkDelay)
	}
	if f == (LinkFault{}) {
		p.fault.Store(nil)
	} else {
		p.fault.Store(&f)
	}
	return nil
}

// Links returns the shaped outgoing links, by peer.
func (t *Transport) Links() map[core.NodeID]LinkFault {
	out := map[core.NodeID]LinkFault{}
	for id, p := range t.peers {
		if f := p.fault.Load(); f != nil {
			out[id] = *f
		}
	}
	return out
}

// delayer moves p's delayed messages to its send queue when they are due,
// in order.
func (t *Transport) delayer(p *peer) {
	defer t.wg.Done()
	timer := time.NewTimer(time.Hour)
	defer timer.Stop()
	for {
		var d delayedMsg
		select {
		case <-t.ctx.Done():
			return
		case d = <-p.delayed:
		}
		if wait := time.Until(d.due); wait > 0 {
			timer.Reset(wait)
			select {
			case <-t.ctx.Done():
				return
			case <-timer.C:
			}
		}
		p.pending.Add(-1)
		if t.isCut(p.id) {
			p.dropped.Add(1)
			continue
		}
		select {
		case p.queue <- d.m:
		default:
			p.dropped.Add(1)
		}
	}
}

// Cut drops every message to and from ids until Heal (a partition made by
// the admin API). Connections stay up, so healing is instant.
func (t *Transport) Cut(ids []core.NodeID) {
	t.cutMu.Lock()
	defer t.cutMu.Unlock()
	for _, id := range ids {
		if id != t.cfg.ID {
			t.cut[id] = true
		}
	}
}

// Heal restores every link: no cut, no latency, no loss.
func (t *Transport) Heal() {
	t.cutMu.Lock()
	defer t.cutMu.Unlock()
	clear(t.cut)
	for _, p := range t.peers {
		p.fault.Store(nil)
	}
}

// Cuts returns the peers currently cut off, sorted.
func (t *Transport) Cuts() []core.NodeID {
	t.cutMu.RLock()
	defer t.cutMu.RUnlock()
	var out []core.NodeID
	for id := range t.cut {
		out = append(out, id)
	}
	slices.Sort(out)
	return out
}

func (t *Transport) isCut(id core.NodeID) bool {
	t.cutMu.RLock()
	defer t.cutMu.RUnlock()
	return t.cut[id]
}

// Stats returns every peer's counters, sorted by id.
func (t *Transport) Stats() []PeerStats {
	out := make([]PeerStats, 0, len(t.peers))
	for _, p := range t.peers {
		ps := PeerStats{ID: p.id, Addr: p.addr, Connected: p.connected.Load(),
			Sent: p.sent.Load(), Received: p.received.Load(), Dropped: p.dropped.Load(), Refused: p.refused.Load()}
		if f := p.fault.Load(); f != nil {
			ps.Link = *f
		}
		out = append(out, ps)
	}
	slices.SortFunc(out, func(a, b PeerStats) int { return int(a.ID) - int(b.ID) })
	return out
}

// Close stops listening, closes every connection and waits for the
// goroutines.
func (t *Transport) Close() {
	if t.cancel == nil {
		return
	}
	t.cancel()
	t.srv.Close()
	t.wg.Wait()
}

// accept is the listening side of a connection from a lower id.
func (t *Transport) accept(w http.ResponseWriter, r *http.Request) {
	c, err := t.up.Upgrade(w, r, nil)
	if err != nil {
		return // Upgrade answered the HTTP error
	}
	// serverHandshake keeps the read limit at the size of a proof until
	// the other side has proved it knows the secret.
	s, err := serverHandshake(c, t.cfg.ID, t.keys(), func(id core.NodeID) bool { return t.peers[id] != nil })
	if err != nil {
		if p := t.peers[s.peer]; p != nil {
			p.refused.Add(1)
		}
		t.log.Warn("peer refused", "remote", r.RemoteAddr, "claimed_id", uint64(s.peer), "err", err)
		c.Close()
		return
	}
	c.SetReadLimit(int64(t.cfg.MaxFrame + macSize))
	p := t.peers[s.peer]
	t.log.Info("peer connected", "peer", uint64(s.peer), "remote", r.RemoteAddr, "side", "accept")
	t.serveConn(p, &link{c: c, send: s.send, recv: s.recv}, r.RemoteAddr)
}

// keys are the secret and group the handshakes prove.
func (t *Transport) keys() keys { return keys{secret: t.cfg.Secret, group: t.cfg.Group} }

// dialer keeps a connection to a higher-id peer, redialing with backoff.
func (t *Transport) dialer(p *peer) {
	defer t.wg.Done()
	d := websocket.Dialer{HandshakeTimeout: handshakeLimit, ReadBufferSize: 64 << 10, WriteBufferSize: 64 << 10}
	url := "ws://" + p.addr + Path
	backoff := backoffMin
	var lastErr string
	for t.ctx.Err() == nil {
		c, _, err := d.DialContext(t.ctx, url, nil)
		if err == nil {
			// clientHandshake keeps the read limit at the size of a hello
			// until the other side has proved it knows the secret.
			s, err := clientHandshake(c, t.cfg.ID, p.id, t.keys())
			if err != nil {
				p.refused.Add(1)
				t.log.Warn("peer refused", "peer", uint64(p.id), "addr", p.addr, "err", err)
				c.Close()
			} else {
				c.SetReadLimit(int64(t.cfg.MaxFrame + macSize))
				t.log.Info("peer connected", "peer", uint64(p.id), "addr", p.addr, "side", "dial")
				lastErr = ""
				began := time.Now()
				t.serveConn(p, &link{c: c, send: s.send, recv: s.recv}, p.addr)
				if time.Since(began) > backoffMax {
					backoff = backoffMin
				}
			}
		} else if t.ctx.Err() == nil && err.Error() != lastErr {
			// Log a failing dial once, not at every retry.
			t.log.Info("peer unreachable; retrying", "peer", uint64(p.id), "addr", p.addr, "err", err)
			lastErr = err.Error()
		}
		wait := backoff/2 + rand.N(backoff/2+1)
		backoff = min(2*backoff, backoffMax)
		select {
		case <-t.ctx.Done():
		case <-time.After(wait):
		}
	}
}

// serveConn hands l to p's writer and reads from it until it fails. remote
// names the other end in the log.
func (t *Transport) serveConn(p *peer, l *link, remote string) {
	c := l.c
	// Replace any older connection; the writer closes the one it holds,
	// and that connection's reader then ends without touching connected.
	p.mu.Lock()
	p.gen++
	gen := p.gen
	select {
	case old := <-p.conns:
		old.c.Close()
	default:
	}
	p.conns <- l
	p.connected.Store(true)
	p.mu.Unlock()
	defer func() {
		p.mu.Lock()
		if p.gen == gen {
			p.connected.Store(false)
		}
		p.mu.Unlock()
	}()
	stop := context.AfterFunc(t.ctx, func() { c.Close() })
	defer stop()

	c.SetReadDeadline(time.Now().Add(deadAfter))
	c.SetPongHandler(func(string) error { return c.SetReadDeadline(time.Now().Add(deadAfter)) })
	for {
		_, b, err := c.ReadMessage()
		if err != nil {
			if t.ctx.Err() == nil {
				t.log.Info("peer connection lost", "peer", uint64(p.id), "err", err)
			}
			c.Close()
			return
		}
		c.SetReadDeadline(time.Now().Add(deadAfter))
		frame, err := l.recv.open(b)
		if err != nil {
			// Someone on the network altered, injected or replayed a frame
			// (or the peer is broken): nothing more from this connection
			// can be trusted.
			p.refused.Add(1)
			t.log.Warn("peer frame failed authentication; closing the connection", "peer", uint64(p.id), "remote", remote, "err", err)
			c.Close()
			return
		}
		m, err := DecodeMessage(frame)
		if err != nil || m.From != p.id || m.To != t.cfg.ID {
			// An authenticated peer sending garbage is a bug or an attack:
			// drop the connection rather than guess.
			t.log.Warn("bad frame from peer; closing", "peer", uint64(p.id), "from", uint64(m.From), "to", uint64(m.To), "err", err)
			c.Close()
			return
		}
		if t.isCut(p.id) {
			continue
		}
		p.received.Add(1)
		select {
		case t.recv <- m:
		case <-t.ctx.Done():
			return
		}
	}
}

// writer sends p's queue over its current connection. Without a connection
// queued messages are dropped: after a reconnect the core resends what
// matters, and stale messages would only be rejected.
func (t *Transport) writer(p *peer) {
	defer t.wg.Done()
	var (
		l    *link
		buf  []byte
		ping = time.NewTicker(pingEvery)
	)
	defer ping.Stop()
	closeConn := func() {
		if l != nil {
			l.c.Close()
			l = nil
		}
	}
	defer closeConn()
	for {
		select {
		case <-t.ctx.Done():
			return
		case nl := <-p.conns:
			closeConn()
			l = nl
		case <-ping.C:
			if l != nil {
				if err := l.c.WriteControl(websocket.PingMessage, nil, time.Now().Add(deadAfter)); err != nil {
					closeConn()
				}
			}
		case m := <-p.queue:
			if l == nil {
				p.dropped.Add(1)
				continue
			}
			buf = AppendMessage(buf[:0], m)
			if len(buf) > t.cfg.MaxFrame {
				p.dropped.Add(1)
				t.log.Warn("message larger than the maximum frame; dropped", "peer", uint64(p.id), "bytes", len(buf), "max", t.cfg.MaxFrame)
				continue
			}
			buf = l.send.seal(buf)
			l.c.SetWriteDeadline(time.Now().Add(deadAfter))
			if err := l.c.WriteMessage(websocket.BinaryMessage, buf); err != nil {
				p.dropped.Add(1)
				closeConn()
				continue
			}
			p.sent.Add(1)
		}
	}
}
