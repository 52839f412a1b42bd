package ctlbroker

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/controller"
	"dledgerlab/native/transport"
)

// An HA message survives the transport's frame codec unchanged.
func TestHAMessagesCrossTheTransportCodec(t *testing.T) {
	for _, tc := range []struct {
		name string
		m    controller.HAMessage
	}{
		{"push", controller.HAMessage{Kind: controller.HAPush, From: 1, To: 2, Epoch: 3,
			Epochs: controller.EpochFile{{Epoch: 1, StartOffset: 0}, {Epoch: 3, StartOffset: 5}}, Offset: 4,
			Data: [][]byte{[]byte("a"), []byte("bc")}, MaxOffset: 7, Confirm: 4}},
		{"heartbeat push", controller.HAMessage{Kind: controller.HAPush, From: 2, To: 3, Epoch: 1,
			Epochs: controller.EpochFile{{Epoch: 1, StartOffset: 0}}, Offset: 9, MaxOffset: 9, Confirm: 9}},
		{"ack", controller.HAMessage{Kind: controller.HAAck, From: 2, To: 1, Epoch: 3, MaxOffset: 7}},
		{"refusal", controller.HAMessage{Kind: controller.HAAck, From: 2, To: 1, Epoch: 4, Reject: true}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			c, err := transport.DecodeMessage(transport.AppendMessage(nil, haToMessage(tc.m)))
			require.NoError(t, err)
			got, err := haFromMessage(c)
			require.NoError(t, err)
			assert.Equal(t, tc.m, got)
		})
	}
}

func TestHAFromMessageRefusesWhatIsNoHAMessage(t *testing.T) {
	for _, tc := range []struct {
		name string
		c    core.Message
	}{
		{"a vote", core.Message{Type: core.MsgVote, From: 1, To: 2, Term: 1}},
		{"epochs fall", core.Message{Type: core.MsgPush, From: 1, To: 2, Term: 3, Index: 5, Entries: []core.Entry{
			{Type: core.EntryNoOp, Term: 2, Index: 0}, {Type: core.EntryNoOp, Term: 1, Index: 3}}}},
		{"epoch after a message", core.Message{Type: core.MsgPush, From: 1, To: 2, Term: 3, Index: 5, Entries: []core.Entry{
			{Type: core.EntryNormal, Data: []byte("a")}, {Type: core.EntryNoOp, Term: 3, Index: 0}}}},
		{"messages beyond the end", core.Message{Type: core.MsgPush, From: 1, To: 2, Term: 1, LogIndex: 4, Index: 4, Entries: []core.Entry{
			{Type: core.EntryNormal, Data: []byte("a")}}}},
		{"offset beyond 2^62", core.Message{Type: core.MsgPushResp, From: 1, To: 2, Term: 1, Index: 1 << 63}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			_, err := haFromMessage(tc.c)
			assert.ErrorIs(t, err, errHA)
		})
	}
}
