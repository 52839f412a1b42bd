package transport

import (
	"bytes"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

var sampleMessages = map[string]core.Message{
	"heartbeat": {Type: core.MsgHeartbeat, From: 1, To: 2, Term: 3, Commit: 9},
	"push": {Type: core.MsgPush, From: 1, To: 3, Term: 4, LogIndex: 10, LogTerm: 3, Commit: 10,
		Entries: []core.Entry{{Index: 11, Term: 4, Type: core.EntryNoOp}, {Index: 12, Term: 4, Data: []byte("hello")}}},
	"rejected push": {Type: core.MsgPushResp, From: 3, To: 1, Term: 4, LogIndex: 10, Reject: true, HintIndex: 7, HintTerm: 2},
	"forced vote":   {Type: core.MsgVote, From: 2, To: 1, Term: 1 << 40, LogIndex: 1<<63 + 5, LogTerm: 9, Force: true},
	"snapshot chunk": {Type: core.MsgSnapshot, From: 1, To: 2, Term: 5, LogIndex: 900, LogTerm: 4, Index: 65536, Commit: 950,
		Chunk: []byte("state machine bytes")},
	"last snapshot chunk": {Type: core.MsgSnapshot, From: 1, To: 2, Term: 5, LogIndex: 900, LogTerm: 4, Index: 3, Chunk: []byte("end"), Done: true},
	"snapshot answer":     {Type: core.MsgSnapshotResp, From: 2, To: 1, Term: 5, LogIndex: 900, Index: 65555},
}

func TestFrameRoundTrip(t *testing.T) {
	for name, m := range sampleMessages {
		t.Run(name, func(t *testing.T) {
			b := AppendMessage(nil, m)
			got, err := DecodeMessage(b)
			require.NoError(t, err)
			assert.Equal(t, m, got)
		})
	}
}

func TestHeartbeatFrameIsCompact(t *testing.T) {
	assert.LessOrEqual(t, len(AppendMessage(nil, sampleMessages["heartbeat"])), 16)
}

func TestDecodeRejectsBadFrames(t *testing.T) {
	push := AppendMessage(nil, sampleMessages["push"])
	cases := map[string][]byte{
		"empty":             {},
		"wrong version":     {2, byte(core.MsgHeartbeat), 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0},
		"unknown type":      {1, 99, 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0},
		"unknown flag":      {1, byte(core.MsgHeartbeat), 4, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0},
		"zero sender":       {1, byte(core.MsgHeartbeat), 0, 0, 2, 1, 0, 0, 0, 0, 0, 0, 0},
		"truncated":         push[:len(push)-2],
		"trailing byte":     append(append([]byte{}, push...), 0),
		"huge entry count":  {1, byte(core.MsgPush), 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f},
		"non-minimal":       {1, byte(core.MsgHeartbeat), 0, 0x81, 0x00, 2, 1, 0, 0, 0, 0, 0, 0, 0},
		"bad entry type":    {1, byte(core.MsgPush), 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 7, 0},
		"entry too long":    {1, byte(core.MsgPush), 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 1, 1, 1, 0, 9, 'a'},
		"unknown flag bit":  {1, byte(core.MsgSnapshot), 8, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0, 0},
		"chunk too long":    {1, byte(core.MsgSnapshot), 4, 1, 2, 1, 9, 1, 0, 0, 0, 0, 0, 5, 'a'},
		"snapshot no chunk": {1, byte(core.MsgSnapshot), 0, 1, 2, 1, 9, 1, 0, 0, 0, 0, 0},
	}
	for name, b := range cases {
		t.Run(name, func(t *testing.T) {
			_, err := DecodeMessage(b)
			assert.ErrorIs(t, err, ErrFrame)
		})
	}
}

// FuzzDecodeMessage: any input decodes or fails with ErrFrame, never panics,
// and a decoded message re-encodes to the same bytes (one encoding each).
func FuzzDecodeMessage(f *testing.F) {
	for _, m := range sampleMessages {
		f.Add(AppendMessage(nil, m))
	}
	f.Add([]byte{1, byte(core.MsgPush), 0, 1, 2, 1, 0, 0, 0, 0, 0, 0, 0xff, 0xff, 0xff, 0xff, 0x0f})
	f.Fuzz(func(t *testing.T, b []byte) {
		m, err := DecodeMessage(b)
		if err != nil {
			require.ErrorIs(t, err, ErrFrame)
			return
		}
		again := AppendMessage(nil, m)
		if !bytes.Equal(again, b) {
			t.Fatalf("decode+encode changed the frame:\n in  %x\n out %x", b, again)
		}
	})
}
