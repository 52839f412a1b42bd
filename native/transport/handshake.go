package transport

// The peer handshake: both sides prove they know the cluster secret without
// sending it, each over a fresh challenge from the other (so a recorded
// handshake cannot be replayed), and each learns who the other is and which
// group it belongs to.
//
//	server → client  hello:  "DLLH" | version | server id (8) | server nonce (32) | group length (1) | group
//	client → server  proof:  client id (8) | client nonce (32) |
//	                         HMAC-SHA256(secret, "dledgerlab peer client" | server nonce | client nonce | client id | server id | group)
//	server → client  answer: HMAC-SHA256(secret, "dledgerlab peer server" | client nonce | server nonce | server id | client id | group)
//
// The group (Config.Group) names the Raft group or broker group a member
// belongs to: the DLedger-mode brokers, the controllers, one Controller-mode
// broker group. One cluster secret is shared by all of a classroom's
// processes, so without it a broker given a controller's address in --peers
// would prove the secret, and the two would exchange Raft messages across
// groups. The dialing side compares the hello's group with its own and
// refuses another group by name, in both logs; the proof and the answer
// cover the group, so a hello whose group was changed on the way fails as a
// wrong secret would.
//
// Until the handshake succeeds each side accepts only a message of the size
// it expects next (the read limit), so a stranger cannot make a broker buffer
// a large frame; a longer one is closed with 1009 (message too big) as soon
// as its header arrives.
//
// After the handshake every frame (codec.go) is followed by a 32-byte tag:
//
//	HMAC-SHA256(direction key, frame number (8, big endian) | frame)
//
// The two direction keys are derived from the same inputs as the proofs,
// both nonces and both ids under the secret, with their own labels
// ("dledgerlab frames client to server", "… server to client"), so they are new
// for every connection and differ per direction. The frame number counts the
// frames sent in that direction on this connection, from 0; it is not sent,
// each side keeps its own count. A frame altered, injected, replayed,
// reordered, reflected back or moved from another connection does not
// verify, and the receiver closes the connection. Frames are authenticated,
// not encrypted: anyone on the network can read them. WebSocket control
// frames (ping, pong, close) carry no tag.
//
// Version is the peer protocol version (PeerVersion): version 1 had no frame
// tags, version 2 no group. A broker of another version is refused at the
// hello, with the reason in the log of both sides and in the close frame.
//
// The lower id dials the higher one, so each pair of brokers shares one
// connection. A side whose check fails closes the connection and logs why.

import (
	"crypto/hmac"
	"crypto/rand"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/gorilla/websocket"

	"dledgerlab/core"
)

// PeerVersion is the version byte of the hello. Versions 1 (frames without
// tags) and 2 (no group) are refused.
const PeerVersion = 3

// MaxGroupBytes bounds Config.Group: the hello carries its length in one
// byte.
const MaxGroupBytes = 255

const (
	helloMagic     = "DLLH"
	nonceSize      = 32
	macSize        = sha256.Size
	helloSize      = len(helloMagic) + 1 + 8 + nonceSize // without the group
	maxHelloSize   = helloSize + 1 + MaxGroupBytes
	proofSize      = 8 + nonceSize + macSize
	answerSize     = macSize
	handshakeLimit = 5 * time.Second

	labelClient    = "dledgerlab peer client"
	labelServer    = "dledgerlab peer server"
	labelClientKey = "dledgerlab frames client to server"
	labelServerKey = "dledgerlab frames server to client"

	// oldRefusal is the close text of every refusal by a version-1 broker.
	oldRefusal = "handshake refused"
)

// ErrHandshake is wrapped by every handshake failure.
var ErrHandshake = errors.New("peer handshake failed")

// session is what a successful handshake leaves: who the other side is and
// the frame authenticators of this side.
type session struct {
	peer       core.NodeID
	send, recv *frameMAC
}

// keys are what a member's handshake MACs are made with: the cluster
// secret and its group.
type keys struct {
	secret []byte
	group  string
}

func (k keys) mac(label string, n1, n2 []byte, id1, id2 core.NodeID) []byte {
	h := hmac.New(sha256.New, k.secret)
	h.Write([]byte(label))
	h.Write(n1)
	h.Write(n2)
	var ids [16]byte
	binary.BigEndian.PutUint64(ids[:8], uint64(id1))
	binary.BigEndian.PutUint64(ids[8:], uint64(id2))
	h.Write(ids[:])
	h.Write([]byte(k.group))
	return h.Sum(nil)
}

// frameKeys derives the two direction keys of a connection from the server
// nonce ns, the client nonce nc, both ids and the group.
func (k keys) frameKeys(ns, nc []byte, client, server core.NodeID) (toServer, toClient []byte) {
	return k.mac(labelClientKey, ns, nc, client, server), k.mac(labelServerKey, ns, nc, client, server)
}

func nonce() []byte {
	b := make([]byte, nonceSize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return b
}

// serverHandshake runs the accepting side. isPeer says which ids may
// connect. It returns the session; on failure, the client id it claimed (or
// core.None).
func serverHandshake(c *websocket.Conn, self core.NodeID, k keys, isPeer func(core.NodeID) bool) (session, error) {
	c.SetReadDeadline(time.Now().Add(handshakeLimit))
	c.SetWriteDeadline(time.Now().Add(handshakeLimit))
	defer c.SetReadDeadline(time.Time{})
	defer c.SetWriteDeadline(time.Time{})

	ns := nonce()
	hello := append([]byte(helloMagic), PeerVersion)
	hello = binary.BigEndian.AppendUint64(hello, uint64(self))
	hello = append(hello, ns...)
	hello = append(hello, byte(len(k.group)))
	hello = append(hello, k.group...)
	if err := c.WriteMessage(websocket.BinaryMessage, hello); err != nil {
		return session{}, fmt.Errorf("%w: sending hello: %v", ErrHandshake, err)
	}
	c.SetReadLimit(int64(proofSize))
	_, proof, err := c.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		switch {
		case errors.As(err, &ce) && ce.Text == oldRefusal:
			return session{}, fmt.Errorf("%w: the dialing broker refused our hello: it runs an older dledgerlab (peer protocol 1, this broker speaks %d); run the same dledgerlab on every broker", ErrHandshake, PeerVersion)
		case errors.As(err, &ce):
			return session{}, fmt.Errorf("%w: the dialing broker refused our hello: %s", ErrHandshake, ce.Text)
		case errors.Is(err, websocket.ErrReadLimit):
			return session{}, fmt.Errorf("%w: the first message is larger than a proof (%d bytes); closed with 1009 (message too big)", ErrHandshake, proofSize)
		}
		return session{}, fmt.Errorf("%w: reading proof: %v", ErrHandshake, err)
	}
	if len(proof) != proofSize {
		return session{}, refuse(c, fmt.Errorf("%w: proof has %d bytes, want %d", ErrHandshake, len(proof), proofSize), "bad proof")
	}
	client := core.NodeID(binary.BigEndian.Uint64(proof))
	nc := proof[8 : 8+nonceSize]
	s := session{peer: client}
	if !isPeer(client) || client == self {
		return s, refuse(c, fmt.Errorf("%w: broker %d is not a peer of this group", ErrHandshake, client),
			fmt.Sprintf("broker %d is not a peer of broker %d's group", client, self))
	}
	if !hmac.Equal(proof[8+nonceSize:], k.mac(labelClient, ns, nc, client, self)) {
		return s, refuse(c, fmt.Errorf("%w: broker %d's proof does not match this broker's cluster secret (the two were started with different --secret values)", ErrHandshake, client),
			"the proof does not match the cluster secret")
	}
	if err := c.WriteMessage(websocket.BinaryMessage, k.mac(labelServer, nc, ns, self, client)); err != nil {
		return s, fmt.Errorf("%w: sending answer: %v", ErrHandshake, err)
	}
	in, out := k.frameKeys(ns, nc, client, self)
	s.send, s.recv = newFrameMAC(out), newFrameMAC(in)
	return s, nil
}

// clientHandshake runs the dialing side against the broker expected to be
// want.
func clientHandshake(c *websocket.Conn, self, want core.NodeID, k keys) (session, error) {
	c.SetReadDeadline(time.Now().Add(handshakeLimit))
	c.SetWriteDeadline(time.Now().Add(handshakeLimit))
	defer c.SetReadDeadline(time.Time{})
	defer c.SetWriteDeadline(time.Time{})

	c.SetReadLimit(int64(maxHelloSize))
	_, hello, err := c.ReadMessage()
	if err != nil {
		if errors.Is(err, websocket.ErrReadLimit) {
			return session{}, fmt.Errorf("%w: the hello is larger than %d bytes; closed with 1009 (message too big)", ErrHandshake, maxHelloSize)
		}
		return session{}, fmt.Errorf("%w: reading hello: %v", ErrHandshake, err)
	}
	if len(hello) < len(helloMagic)+1 || string(hello[:4]) != helloMagic {
		return session{}, refuse(c, fmt.Errorf("%w: not a dledgerlab peer hello (%d bytes)", ErrHandshake, len(hello)), "not a dledgerlab peer hello")
	}
	if v := hello[4]; v != PeerVersion {
		return session{}, refuse(c, fmt.Errorf("%w: the broker at this address speaks peer protocol %d, this broker %d: run the same dledgerlab on every broker", ErrHandshake, v, PeerVersion),
			fmt.Sprintf("the dialing broker speaks peer protocol %d, not %d: run the same dledgerlab on every broker", PeerVersion, v))
	}
	if len(hello) < helloSize+1 || len(hello) != helloSize+1+int(hello[helloSize]) {
		return session{}, refuse(c, fmt.Errorf("%w: not a dledgerlab peer hello (%d bytes)", ErrHandshake, len(hello)), "not a dledgerlab peer hello")
	}
	server := core.NodeID(binary.BigEndian.Uint64(hello[5:]))
	if server != want {
		return session{}, refuse(c, fmt.Errorf("%w: the address answers as broker %d, want %d", ErrHandshake, server, want),
			fmt.Sprintf("dialed broker %d, found broker %d", want, server))
	}
	if group := string(hello[helloSize+1:]); group != k.group {
		return session{}, refuse(c, fmt.Errorf("%w: the address of peer %d answers as a member of %q, and this is a member of %q: check --peers", ErrHandshake, server, group, k.group),
			fmt.Sprintf("a member of %q dialed this member of %q: check its --peers", k.group, group))
	}
	ns := hello[13:helloSize]
	nc := nonce()
	proof := binary.BigEndian.AppendUint64(nil, uint64(self))
	proof = append(proof, nc...)
	proof = append(proof, k.mac(labelClient, ns, nc, self, server)...)
	if err := c.WriteMessage(websocket.BinaryMessage, proof); err != nil {
		return session{}, fmt.Errorf("%w: sending proof: %v", ErrHandshake, err)
	}
	c.SetReadLimit(int64(answerSize))
	_, answer, err := c.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return session{}, fmt.Errorf("%w: broker %d refused us: %s", ErrHandshake, server, ce.Text)
		}
		return session{}, fmt.Errorf("%w: reading answer: %v", ErrHandshake, err)
	}
	if !hmac.Equal(answer, k.mac(labelServer, nc, ns, server, self)) {
		return session{}, refuse(c, fmt.Errorf("%w: broker %d's answer does not match this broker's cluster secret (the two were started with different --secret values)", ErrHandshake, server),
			"the answer does not match the cluster secret")
	}
	out, in := k.frameKeys(ns, nc, self, server)
	return session{peer: server, send: newFrameMAC(out), recv: newFrameMAC(in)}, nil
}

// refuse tells the other side why (in the close frame, cut to fit) and
// returns err.
func refuse(c *websocket.Conn, err error, why string) error {
	if len(why) > maxCloseText {
		why = why[:maxCloseText]
	}
	msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, why)
	c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return err
}

// maxCloseText is what fits in a close frame after its 2-byte code.
const maxCloseText = 125 - 2
