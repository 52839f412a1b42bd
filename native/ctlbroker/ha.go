package ctlbroker

// The HA service's messages (core/controller.HAMessage) on native/transport,
// which carries core.Message frames: a push is a MsgPush, an ack a
// MsgPushResp, so the authenticated peer links and their codec carry them
// unchanged.
//
//	HAPush → MsgPush:     Term = master epoch, LogIndex = Offset,
//	                      Index = the master's CommitLog end (MaxOffset),
//	                      Commit = confirm offset; Entries = the master's
//	                      epoch file as no-op entries (Index = start offset,
//	                      Term = epoch), then the messages as normal entries
//	                      (Index = CommitLog offset, Term = epoch)
//	HAAck  → MsgPushResp: Term = epoch, Index = the slave's MaxOffset,
//	                      Reject = the slave knows a newer epoch

import (
	"errors"
	"fmt"

	"dledgerlab/core"
	"dledgerlab/core/controller"
)

// errHA is wrapped by every error about a peer message that is not an HA
// message of this broker group.
var errHA = errors.New("not an HA message")

// haToMessage encodes m for the transport.
func haToMessage(m controller.HAMessage) core.Message {
	c := core.Message{From: core.NodeID(m.From), To: core.NodeID(m.To), Term: m.Epoch, Reject: m.Reject}
	if m.Kind == controller.HAAck {
		c.Type, c.Index = core.MsgPushResp, uint64(m.MaxOffset)
		return c
	}
	c.Type, c.LogIndex, c.Index, c.Commit = core.MsgPush, uint64(m.Offset), uint64(m.MaxOffset), uint64(m.Confirm)
	c.Entries = make([]core.Entry, 0, len(m.Epochs)+len(m.Data))
	for _, e := range m.Epochs {
		c.Entries = append(c.Entries, core.Entry{Type: core.EntryNoOp, Index: uint64(e.StartOffset), Term: e.Epoch})
	}
	for i, d := range m.Data {
		c.Entries = append(c.Entries, core.Entry{Type: core.EntryNormal, Index: uint64(m.Offset) + uint64(i), Term: m.Epoch, Data: d})
	}
	return c
}

// haFromMessage decodes and checks what a peer sent: an HA message between
// two brokers, offsets that fit an int64, a push whose epoch file rises and
// whose messages end within the master's CommitLog.
func haFromMessage(c core.Message) (controller.HAMessage, error) {
	const maxOff = 1 << 62
	m := controller.HAMessage{From: controller.BrokerID(c.From), To: controller.BrokerID(c.To), Epoch: c.Term, Reject: c.Reject}
	if c.Index > maxOff || c.LogIndex > maxOff || c.Commit > maxOff {
		return m, fmt.Errorf("%w: %s: offset beyond 2^62", errHA, c)
	}
	switch c.Type {
	case core.MsgPushResp:
		m.Kind, m.MaxOffset = controller.HAAck, int64(c.Index)
		return m, nil
	case core.MsgPush:
	default:
		return m, fmt.Errorf("%w: %s", errHA, c.Type)
	}
	m.Kind, m.Offset, m.MaxOffset, m.Confirm = controller.HAPush, int64(c.LogIndex), int64(c.Index), int64(c.Commit)
	var f controller.EpochFile
	for _, e := range c.Entries {
		switch {
		case e.Type == core.EntryNoOp && len(m.Data) == 0:
			if e.Index > maxOff || (len(f) > 0 && (e.Term <= f.Last().Epoch || int64(e.Index) < f.Last().StartOffset)) {
				return m, fmt.Errorf("%w: push from broker %d: epoch file entry (%d, %d) does not rise", errHA, c.From, e.Term, e.Index)
			}
			f = append(f, controller.EpochEntry{Epoch: e.Term, StartOffset: int64(e.Index)})
		case e.Type == core.EntryNormal:
			m.Data = append(m.Data, e.Data)
		default:
			return m, fmt.Errorf("%w: push from broker %d: an epoch entry after a message", errHA, c.From)
		}
	}
	m.Epochs = f
	if m.Offset+int64(len(m.Data)) > m.MaxOffset || m.Confirm > m.MaxOffset || f.Last().Epoch > m.Epoch {
		return m, fmt.Errorf("%w: push from broker %d: offset %d + %d messages, confirm %d, newest epoch %d do not fit end %d, epoch %d",
			errHA, c.From, m.Offset, len(m.Data), m.Confirm, f.Last().Epoch, m.MaxOffset, m.Epoch)
	}
	return m, nil
}
