package transport

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

func TestFrameMAC(t *testing.T) {
	k := keys{secret: []byte("s3cret"), group: "g"}
	ns, nc := nonce(), nonce()
	toServer, toClient := k.frameKeys(ns, nc, 1, 2)
	hb := AppendMessage(nil, sampleMessages["heartbeat"])
	push := AppendMessage(nil, sampleMessages["push"])
	seal := func(f *frameMAC, frame []byte) []byte { return f.seal(append([]byte(nil), frame...)) }

	t.Run("frames in order open", func(t *testing.T) {
		send, recv := newFrameMAC(toServer), newFrameMAC(toServer)
		for _, frame := range [][]byte{hb, push, hb} {
			got, err := recv.open(seal(send, frame))
			require.NoError(t, err)
			assert.Equal(t, frame, got)
		}
	})
	// Each case seals frames with send and checks that recv refuses b.
	cases := map[string]func(send, recv *frameMAC) []byte{
		"a flipped bit": func(send, _ *frameMAC) []byte {
			b := seal(send, hb)
			b[5] ^= 1
			return b
		},
		"a flipped tag bit": func(send, _ *frameMAC) []byte {
			b := seal(send, hb)
			b[len(b)-1] ^= 1
			return b
		},
		"a replay": func(send, recv *frameMAC) []byte {
			b := seal(send, hb)
			_, err := recv.open(append([]byte(nil), b...))
			require.NoError(t, err)
			return b
		},
		"frames swapped": func(send, _ *frameMAC) []byte {
			seal(send, hb)
			return seal(send, push)
		},
		"a frame reflected back": func(_, _ *frameMAC) []byte {
			return seal(newFrameMAC(toClient), hb)
		},
		"a frame from another connection": func(_, _ *frameMAC) []byte {
			other, _ := k.frameKeys(nonce(), nc, 1, 2)
			return seal(newFrameMAC(other), hb)
		},
		"a frame under another secret": func(_, _ *frameMAC) []byte {
			other, _ := keys{secret: []byte("other"), group: k.group}.frameKeys(ns, nc, 1, 2)
			return seal(newFrameMAC(other), hb)
		},
		"a frame of another group": func(_, _ *frameMAC) []byte {
			other, _ := keys{secret: k.secret, group: "h"}.frameKeys(ns, nc, 1, 2)
			return seal(newFrameMAC(other), hb)
		},
		"shorter than a tag": func(_, _ *frameMAC) []byte { return hb },
	}
	for name, bad := range cases {
		t.Run(name, func(t *testing.T) {
			send, recv := newFrameMAC(toServer), newFrameMAC(toServer)
			_, err := recv.open(bad(send, recv))
			assert.ErrorIs(t, err, ErrFrameMAC)
		})
	}
}

// Sealing and opening reuse the HMAC state and the caller's buffers.
func TestFrameMACAllocatesNothing(t *testing.T) {
	key, _ := keys{secret: []byte("s3cret")}.frameKeys(nonce(), nonce(), 1, 2)
	send, recv := newFrameMAC(key), newFrameMAC(key)
	m := core.Message{Type: core.MsgPush, From: 1, To: 2, Term: 3, Entries: []core.Entry{{Index: 1, Term: 3, Data: make([]byte, 1024)}}}
	buf := make([]byte, 0, 2048)
	allocs := testing.AllocsPerRun(100, func() {
		buf = send.seal(AppendMessage(buf[:0], m))
		if _, err := recv.open(buf); err != nil {
			t.Fatal(err)
		}
	})
	assert.Zero(t, allocs)
}
