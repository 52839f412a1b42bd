package broker

// This file is the consumer groups' committed offsets, kept in one of two
// ways (OffsetMode):
//
//   - OffsetsLocal is RocketMQ's DLedger mode: each broker keeps the offsets
//     it was told (ConsumerOffsetManager.commitOffset in
//     broker/offset/ConsumerOffsetManager.java), and a follower copies the
//     leader's table only from time to time (SlaveSynchronize.syncConsumerOffset
//     in broker/slave/SlaveSynchronize.java, which a slave runs on a timer).
//     The offsets are not in the replicated log, so a new leader may hold
//     an older offset than the group committed and deliver messages again.
//   - OffsetsReplicated puts each commit in the log as an entry of its own
//     (encoding below). Every replica applies it at the same index, so a new
//     leader resumes a group exactly where it last committed — at the price
//     of one more entry, replicated and fsynced, per commit.
//
// # Offset commit encoding, version 1
//
//	offset  size  field      rule
//	0       1     version    must be 2 (OffsetCommitFormatV1)
//	1       1     groupLen   1..255
//	2       G     group      the topic rule's characters
//	2+G     1     topicLen   1..127
//	..      T     topic      RocketMQ's topic rule
//	..      8     offset     the next queue offset the group will read
//
// Nothing may follow the offset. The first byte tells an offset commit from
// a message (MessageFormatV1 = 1).

import (
	"encoding/binary"
	"fmt"
	"maps"
)

// OffsetMode says how a broker group keeps consumer offsets.
type OffsetMode uint8

const (
	// OffsetsLocal: each broker keeps what it was told; followers copy the
	// leader's table from time to time (RocketMQ's DLedger mode).
	OffsetsLocal OffsetMode = iota
	// OffsetsReplicated: commits are log entries (EncodeOffsetCommit).
	OffsetsReplicated
)

func (m OffsetMode) String() string {
	if m == OffsetsReplicated {
		return "replicated"
	}
	return "local"
}

// ParseOffsetMode reads "local" or "replicated".
func ParseOffsetMode(s string) (OffsetMode, error) {
	switch s {
	case "", "local":
		return OffsetsLocal, nil
	case "replicated":
		return OffsetsReplicated, nil
	}
	return 0, fmt.Errorf("offset mode %q: want local (each broker keeps its own, RocketMQ's DLedger mode) or replicated (commits go through the log)", s)
}

const (
	// OffsetCommitFormatV1 is the first byte of an encoded offset commit.
	OffsetCommitFormatV1 = 2
	// MaxGroupLen bounds a consumer group's name (RocketMQ allows 255).
	MaxGroupLen = 255
)

// OffsetCommit is one group's committed offset in one topic's queue: the
// group has consumed every message before Offset.
type OffsetCommit struct {
	Group  string
	Topic  string
	Offset uint64
}

// CheckGroup checks a consumer group's name: 1..255 characters from the
// topic rule's set.
func CheckGroup(group string) error {
	if group == "" || len(group) > MaxGroupLen {
		return &FieldError{Field: "group", Offset: -1, Err: ErrBadMessage,
			Reason: fmt.Sprintf("%d characters, want 1..%d", len(group), MaxGroupLen)}
	}
	for i := 0; i < len(group); i++ {
		if !topicChar(group[i]) {
			return &FieldError{Field: "group", Offset: -1, Err: ErrBadMessage,
				Reason: fmt.Sprintf("character %q at position %d (allowed: %%|a-zA-Z0-9_-)", group[i], i)}
		}
	}
	return nil
}

// EncodeOffsetCommit validates c and returns the data of its log entry.
func EncodeOffsetCommit(c OffsetCommit) ([]byte, error) {
	if err := CheckGroup(c.Group); err != nil {
		return nil, err
	}
	if err := checkTopic(c.Topic, -1); err != nil {
		return nil, err
	}
	b := make([]byte, 0, 1+1+len(c.Group)+1+len(c.Topic)+8)
	b = append(b, OffsetCommitFormatV1, byte(len(c.Group)))
	b = append(b, c.Group...)
	b = append(b, byte(len(c.Topic)))
	b = append(b, c.Topic...)
	return binary.BigEndian.AppendUint64(b, c.Offset), nil
}

// IsOffsetCommit tells an offset commit's entry data from a message's.
func IsOffsetCommit(data []byte) bool { return len(data) > 0 && data[0] == OffsetCommitFormatV1 }

// DecodeOffsetCommit parses EncodeOffsetCommit's bytes. Any input gives a
// commit or an error naming the field and byte offset (matching ErrCorrupt).
func DecodeOffsetCommit(b []byte) (OffsetCommit, error) {
	fail := func(field string, off int, reason string) (OffsetCommit, error) {
		return OffsetCommit{}, &FieldError{Field: field, Offset: off, Reason: reason, Err: ErrCorrupt}
	}
	if !IsOffsetCommit(b) {
		return fail("version", 0, "not an offset commit")
	}
	off := 1
	name := func(field string) (string, bool) {
		if off >= len(b) {
			return "", false
		}
		n := int(b[off])
		if n == 0 || off+1+n > len(b) {
			return "", false
		}
		s := string(b[off+1 : off+1+n])
		off += 1 + n
		return s, true
	}
	var c OffsetCommit
	var ok bool
	at := off
	if c.Group, ok = name("group"); !ok {
		return fail("group", at, "length past the end or zero")
	}
	if err := CheckGroup(c.Group); err != nil {
		return fail("group", at, err.(*FieldError).Reason)
	}
	at = off
	if c.Topic, ok = name("topic"); !ok {
		return fail("topic", at, "length past the end or zero")
	}
	if err := checkTopic(c.Topic, at+1); err != nil {
		return fail("topic", at, err.(*FieldError).Reason)
	}
	if len(b)-off != 8 {
		return fail("offset", off, fmt.Sprintf("%d bytes, want 8", len(b)-off))
	}
	c.Offset = binary.BigEndian.Uint64(b[off:])
	return c, nil
}

// applyOffsetCommit applies a committed offset-commit entry: every replica
// sets the group's offset alike.
func (b *Broker) applyOffsetCommit(data []byte) (Outcome, error) {
	c, err := DecodeOffsetCommit(data)
	if err != nil {
		return OutcomeCorrupt, err
	}
	b.CommitOffset(c.Group, c.Topic, c.Offset)
	return OutcomeOffsetCommitted, nil
}

// Offsets returns a copy of the committed offsets: group → topic → offset.
func (b *Broker) Offsets() map[string]map[string]uint64 {
	out := make(map[string]map[string]uint64, len(b.offsets))
	for g, t := range b.offsets {
		out[g] = maps.Clone(t)
	}
	return out
}

// SyncOffsets copies a leader's offsets into this broker's table, as a
// RocketMQ slave does with the master's (SlaveSynchronize.syncConsumerOffset:
// the master's entries replace ours; groups the master does not have stay).
func (b *Broker) SyncOffsets(from map[string]map[string]uint64) {
	for g, t := range from {
		for topic, off := range t {
			b.CommitOffset(g, topic, off)
		}
	}
}
