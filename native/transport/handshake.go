package transport

// The peer handshake: both sides prove they know the cluster secret without
// sending it, each over a fresh challenge from the other (so a recorded
// handshake cannot be replayed), and each learns who the other is.
//
//	server → client  hello:  "DLLH" | version | server id (8) | server nonce (32)
//	client → server  proof:  client id (8) | client nonce (32) |
//	                         HMAC-SHA256(secret, "dledgerlab peer client" | server nonce | client nonce | client id | server id)
//	server → client  answer: HMAC-SHA256(secret, "dledgerlab peer server" | client nonce | server nonce | server id | client id)
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

const (
	helloMagic     = "DLLH"
	nonceSize      = 32
	macSize        = sha256.Size
	handshakeLimit = 5 * time.Second
)

// ErrHandshake is wrapped by every handshake failure.
var ErrHandshake = errors.New("peer handshake failed")

func mac(secret []byte, label string, n1, n2 []byte, id1, id2 core.NodeID) []byte {
	h := hmac.New(sha256.New, secret)
	h.Write([]byte(label))
	h.Write(n1)
	h.Write(n2)
	var ids [16]byte
	binary.BigEndian.PutUint64(ids[:8], uint64(id1))
	binary.BigEndian.PutUint64(ids[8:], uint64(id2))
	h.Write(ids[:])
	return h.Sum(nil)
}

func nonce() []byte {
	b := make([]byte, nonceSize)
	if _, err := rand.Read(b); err != nil {
		panic(err) // crypto/rand does not fail on supported systems
	}
	return b
}

// serverHandshake runs the accepting side. isPeer says which ids may
// connect. It returns the authenticated client id.
func serverHandshake(c *websocket.Conn, self core.NodeID, secret []byte, isPeer func(core.NodeID) bool) (core.NodeID, error) {
	c.SetReadDeadline(time.Now().Add(handshakeLimit))
	c.SetWriteDeadline(time.Now().Add(handshakeLimit))
	defer c.SetReadDeadline(time.Time{})
	defer c.SetWriteDeadline(time.Time{})

	ns := nonce()
	hello := append([]byte(helloMagic), FrameVersion)
	hello = binary.BigEndian.AppendUint64(hello, uint64(self))
	hello = append(hello, ns...)
	if err := c.WriteMessage(websocket.BinaryMessage, hello); err != nil {
		return core.None, fmt.Errorf("%w: sending hello: %v", ErrHandshake, err)
	}
	_, proof, err := c.ReadMessage()
	if err != nil {
		return core.None, fmt.Errorf("%w: reading proof: %v", ErrHandshake, err)
	}
	if len(proof) != 8+nonceSize+macSize {
		return core.None, refuse(c, fmt.Errorf("%w: proof has %d bytes, want %d", ErrHandshake, len(proof), 8+nonceSize+macSize))
	}
	client := core.NodeID(binary.BigEndian.Uint64(proof))
	nc := proof[8 : 8+nonceSize]
	if !isPeer(client) || client == self {
		return client, refuse(c, fmt.Errorf("%w: broker %d is not a peer of this group", ErrHandshake, client))
	}
	if !hmac.Equal(proof[8+nonceSize:], mac(secret, "dledgerlab peer client", ns, nc, client, self)) {
		return client, refuse(c, fmt.Errorf("%w: broker %d's proof does not match this broker's cluster secret (the two were started with different --secret values)", ErrHandshake, client))
	}
	if err := c.WriteMessage(websocket.BinaryMessage, mac(secret, "dledgerlab peer server", nc, ns, self, client)); err != nil {
		return client, fmt.Errorf("%w: sending answer: %v", ErrHandshake, err)
	}
	return client, nil
}

// clientHandshake runs the dialing side against the broker expected to be
// want.
func clientHandshake(c *websocket.Conn, self, want core.NodeID, secret []byte) error {
	c.SetReadDeadline(time.Now().Add(handshakeLimit))
	c.SetWriteDeadline(time.Now().Add(handshakeLimit))
	defer c.SetReadDeadline(time.Time{})
	defer c.SetWriteDeadline(time.Time{})

	_, hello, err := c.ReadMessage()
	if err != nil {
		return fmt.Errorf("%w: reading hello: %v", ErrHandshake, err)
	}
	if len(hello) != len(helloMagic)+1+8+nonceSize || string(hello[:4]) != helloMagic || hello[4] != FrameVersion {
		return refuse(c, fmt.Errorf("%w: not a dledgerlab peer hello (%d bytes)", ErrHandshake, len(hello)))
	}
	server := core.NodeID(binary.BigEndian.Uint64(hello[5:]))
	if server != want {
		return refuse(c, fmt.Errorf("%w: the address answers as broker %d, want %d", ErrHandshake, server, want))
	}
	ns := hello[13:]
	nc := nonce()
	proof := binary.BigEndian.AppendUint64(nil, uint64(self))
	proof = append(proof, nc...)
	proof = append(proof, mac(secret, "dledgerlab peer client", ns, nc, self, server)...)
	if err := c.WriteMessage(websocket.BinaryMessage, proof); err != nil {
		return fmt.Errorf("%w: sending proof: %v", ErrHandshake, err)
	}
	_, answer, err := c.ReadMessage()
	if err != nil {
		var ce *websocket.CloseError
		if errors.As(err, &ce) {
			return fmt.Errorf("%w: broker %d refused us: %s", ErrHandshake, server, ce.Text)
		}
		return fmt.Errorf("%w: reading answer: %v", ErrHandshake, err)
	}
	if !hmac.Equal(answer, mac(secret, "dledgerlab peer server", nc, ns, server, self)) {
		return refuse(c, fmt.Errorf("%w: broker %d's answer does not match this broker's cluster secret (the two were started with different --secret values)", ErrHandshake, server))
	}
	return nil
}

// refuse tells the other side why (in the close frame) and returns err.
func refuse(c *websocket.Conn, err error) error {
	msg := websocket.FormatCloseMessage(websocket.ClosePolicyViolation, "handshake refused")
	c.WriteControl(websocket.CloseMessage, msg, time.Now().Add(time.Second))
	return err
}
