package transport

// Frame authentication after the handshake (handshake.go): each frame is
// followed by HMAC-SHA256(direction key, frame number | frame), the frame
// number counting that direction's frames on this connection. One frameMAC
// serves one direction of one connection, on one goroutine (the writer seals,
// the reader opens); it reuses its HMAC state and buffers, so a frame costs
// no allocation.

import (
	"crypto/hmac"
	"crypto/sha256"
	"encoding/binary"
	"errors"
	"fmt"
	"hash"
)

// ErrFrameMAC is wrapped when a frame's tag does not verify.
var ErrFrameMAC = errors.New("frame does not authenticate")

type frameMAC struct {
	h hash.Hash // HMAC-SHA256 under this direction's key
	// n is the number of the next frame: frames sealed (or opened) so far.
	n   uint64
	num [8]byte
	sum [macSize]byte
}

func newFrameMAC(key []byte) *frameMAC {
	return &frameMAC{h: hmac.New(sha256.New, key)}
}

// tag computes the tag of frame number f.n into f.sum.
func (f *frameMAC) tag(frame []byte) []byte {
	f.h.Reset()
	binary.BigEndian.PutUint64(f.num[:], f.n)
	f.h.Write(f.num[:])
	f.h.Write(frame)
	return f.h.Sum(f.sum[:0])
}

// seal appends the tag of the next frame to frame (the encoded message) and
// returns the result.
func (f *frameMAC) seal(frame []byte) []byte {
	frame = append(frame, f.tag(frame)...)
	f.n++
	return frame
}

// open checks that b is the next frame followed by its tag and returns the
// frame without the tag (aliasing b).
func (f *frameMAC) open(b []byte) ([]byte, error) {
	if len(b) < macSize {
		return nil, fmt.Errorf("%w: frame %d has %d bytes, shorter than its %d-byte tag", ErrFrameMAC, f.n, len(b), macSize)
	}
	frame, got := b[:len(b)-macSize], b[len(b)-macSize:]
	if !hmac.Equal(f.tag(frame), got) {
		return nil, fmt.Errorf("%w: frame %d (%d bytes): its tag does not match (altered, injected, replayed or out of order)", ErrFrameMAC, f.n, len(b))
	}
	f.n++
	return frame, nil
}
