package broker

import (
	"errors"
	"fmt"

	"dledgerlab/core"
)

// Sentinel errors. Callers test them with errors.Is; the errors this package
// returns wrap them with the context a user needs (field, byte offset, index).
var (
	// ErrNotLeader: this broker is not the leader and cannot take a produce.
	// The runner answers NOT_LEADER with the leader's id (see NotLeaderError).
	ErrNotLeader = errors.New("not leader")
	// ErrOutcomeUnknown: the produce was proposed but no answer came in time
	// (DLedger's WAIT_QUORUM_ACK_TIMEOUT) or the leader stepped down while
	// waiting. The entry may or may not commit; the producer retries with the
	// same producer id and sequence and deduplication keeps it stored once.
	ErrOutcomeUnknown = errors.New("outcome unknown")
	// ErrNotCommitted: the index the produce was proposed at committed with a
	// different term, so the proposal was truncated (leader change, brain
	// split). It is certain the message was not stored; retrying is safe.
	ErrNotCommitted = errors.New("not committed")
	// ErrBadTopic: the topic name breaks RocketMQ's rule
	// (^[%|a-zA-Z0-9_-]+$, at most 127 characters).
	ErrBadTopic = errors.New("bad topic")
	// ErrTooLarge: the message or a header field is longer than allowed.
	ErrTooLarge = errors.New("too large")
	// ErrMessageTooLarge: the whole encoded message is over the size limit
	// (Options.MaxMessageBytes). It matches ErrTooLarge too.
	ErrMessageTooLarge = fmt.Errorf("message %w", ErrTooLarge)
	// ErrBadMessage: a message field is invalid for another reason (not
	// UTF-8, a sequence without a producer id, ...).
	ErrBadMessage = errors.New("bad message")
	// ErrUnknownTopic: a consume of a topic nothing was ever stored in.
	ErrUnknownTopic = errors.New("unknown topic")
	// ErrOffsetTooSmall: a consume below the queue's first kept offset:
	// the messages before it were given up when the broker installed a
	// snapshot (RocketMQ's OFFSET_TOO_SMALL; the consumer moves to
	// ConsumeQueue.MinOffset).
	ErrOffsetTooSmall = errors.New("offset too small")
	// ErrCorrupt: bytes that should be an encoded message (or a queue
	// record) do not decode.
	ErrCorrupt = errors.New("corrupt")
	// ErrApplyOrder: Apply was called out of order (a gap or a repeat) or
	// with an impossible CommitLog position.
	ErrApplyOrder = errors.New("apply out of order")
	// ErrStaleSequence: the producer's sequence is at or below the highest
	// one already applied for it, but too old for the broker to remember its
	// original result (older than Options.DedupWindow sends ago). The message
	// is a duplicate and was not stored again.
	ErrStaleSequence = errors.New("stale producer sequence")
	// ErrSequenceReused: the producer's sequence was already stored with a
	// different message (topic, tags, keys or body). A retry must resend the
	// same message; a new message needs a new sequence. Nothing was stored.
	ErrSequenceReused = errors.New("producer sequence reused for another message")
)

// NotLeaderError is the NOT_LEADER answer: it names the leader the producer
// should go to (core.None when no leader is known, e.g. during an election).
// It matches ErrNotLeader with errors.Is.
type NotLeaderError struct {
	Leader core.NodeID
}

func (e *NotLeaderError) Error() string {
	if e.Leader == core.None {
		return "not leader (no leader known)"
	}
	return fmt.Sprintf("not leader (leader is broker %d)", uint64(e.Leader))
}

// Unwrap makes errors.Is(err, ErrNotLeader) true.
func (e *NotLeaderError) Unwrap() error { return ErrNotLeader }

// FieldError says which field of a message is wrong and, when the message
// was being decoded, at which byte of the body. It matches its Err sentinel
// (ErrBadTopic, ErrTooLarge, ErrBadMessage) and, for decoding, ErrCorrupt.
type FieldError struct {
	// Field is the field's name as in the encoding table: "topic", "tags", ...
	Field string
	// Offset is the byte offset of the field in the encoded body, or -1 when
	// a Message value (not bytes) was being checked.
	Offset int
	// Reason says what is wrong, for people.
	Reason string
	// Err is the sentinel for the kind of problem.
	Err error
}

func (e *FieldError) Error() string {
	if e.Offset < 0 {
		return fmt.Sprintf("message %s: %s: %v", e.Field, e.Reason, e.Err)
	}
	return fmt.Sprintf("decode message: %s at byte %d: %s: %v", e.Field, e.Offset, e.Reason, e.Err)
}

// Unwrap returns the sentinel, plus ErrCorrupt for an error found while
// decoding bytes.
func (e *FieldError) Unwrap() []error {
	if e.Offset >= 0 && e.Err != ErrCorrupt {
		return []error{e.Err, ErrCorrupt}
	}
	return []error{e.Err}
}
