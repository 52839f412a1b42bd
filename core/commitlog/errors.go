package commitlog

import (
	"errors"
	"fmt"
)

// This file holds the errors of the package: the sentinels callers test with
// errors.Is, and the typed errors that say what is wrong and where.

var (
	// ErrCorrupt means bytes that should hold a valid entry, end-of-segment
	// marker or index record do not. Every *DecodeError that is not a short
	// buffer and every *CorruptError wraps it.
	ErrCorrupt = errors.New("commitlog: corrupt data")
	// ErrShortBuffer means the bytes end before the record does: a torn
	// write at the end of a log, or a caller that passed too few bytes.
	ErrShortBuffer = errors.New("commitlog: short buffer")
	// ErrTooLarge means an entry cannot be written: its body is longer than
	// Options.MaxBodySize or the encoded entry does not fit in one segment.
	ErrTooLarge = errors.New("commitlog: entry too large")
	// ErrInvalid means a caller asked for something the log cannot do: an
	// unknown entry type, an append with a gap or a falling term, entries
	// outside the log.
	ErrInvalid = errors.New("commitlog: invalid request")
)

// Reason says in a few words why bytes were rejected. Reasons appear in
// DecodeError, CorruptError and in the items of a recovery Report.
type Reason string

// Reasons for rejecting an entry, a segment or the index.
const (
	ReasonTornHeader    Reason = "torn header"                                // fewer than HeaderSize bytes left
	ReasonTornBody      Reason = "torn body"                                  // the body ends past the written bytes
	ReasonBadMagic      Reason = "unknown magic"                              // not normal, no-op, config or blank
	ReasonBadSize       Reason = "bad size"                                   // size and body length disagree or do not fit
	ReasonTooLarge      Reason = "body too large"                             // body length above MaxBodySize
	ReasonBadPosition   Reason = "position mismatch"                          // the pos field is not where the entry lies
	ReasonBodyCRC       Reason = "body CRC mismatch"                          // the body is not what was written
	ReasonChainCRC      Reason = "chain CRC mismatch"                         // the entry does not follow the one before it
	ReasonIndexGap      Reason = "index not consecutive"                      // entry index is not previous + 1
	ReasonTermDecrease  Reason = "term decreases"                             // entry term below the previous entry's
	ReasonBadBlank      Reason = "bad end-of-segment marker"                  // blank marker with a wrong length
	ReasonNoBlank       Reason = "segment ends without end-of-segment marker" // a non-last segment stops early
	ReasonZeroTail      Reason = "zero-filled tail"                           // zeros where entries should follow
	ReasonLayout        Reason = "bad segment layout"                         // starts or sizes of segments are wrong
	ReasonIndexHeader   Reason = "bad index header"                           // slot 0 of the index is not the header
	ReasonIndexMismatch Reason = "index record disagrees with data"           // a record names another entry
	ReasonIndexBehind   Reason = "index records missing"                      // the index ends before the data
	ReasonIndexAhead    Reason = "index records past the data"                // the index names entries that are gone
	ReasonIndexTorn     Reason = "torn index record"                          // the index ends inside a record
)

// DecodeError describes bytes that do not decode as an entry, a marker or
// an index record. Pos is the position of the record (the caller's pos for
// DecodeEntry, 0 for DecodeHeader); Offset is the absolute offset of the
// offending field.
type DecodeError struct {
	Pos    int64
	Offset int64
	Reason Reason
	Detail string
}

func (e *DecodeError) Error() string {
	return fmt.Sprintf("commitlog: record at position %d: %s at offset %d: %s", e.Pos, string(e.Reason), e.Offset, e.Detail)
}

// Unwrap returns ErrShortBuffer for torn records and ErrCorrupt otherwise.
func (e *DecodeError) Unwrap() error {
	if e.Reason == ReasonTornHeader || e.Reason == ReasonTornBody || e.Reason == ReasonIndexTorn {
		return ErrShortBuffer
	}
	return ErrCorrupt
}

// CorruptError is what Recover returns for damage that is not at the tail of
// the log: a bad entry with valid data after it, or bad bytes in a segment
// that is not the last one. Dropping such data silently would lose entries a
// quorum may have acknowledged, so recovery stops and names the place.
type CorruptError struct {
	Segment string // segment file name (SegmentName of its start)
	Offset  int64  // offset inside the segment
	Reason  Reason
	Detail  string
}

func (e *CorruptError) Error() string {
	return fmt.Sprintf("commitlog: corrupt segment %s at offset %d: %s: %s", e.Segment, e.Offset, string(e.Reason), e.Detail)
}

// Unwrap returns ErrCorrupt.
func (e *CorruptError) Unwrap() error { return ErrCorrupt }

// TooLargeError is returned when an entry cannot be written: its body is
// longer than the configured maximum, or the whole entry plus the
// end-of-segment reserve is larger than a segment.
type TooLargeError struct {
	Index uint64 // the entry's index
	What  string // "body" or "entry"
	Size  int64  // its size in bytes
	Max   int64  // the limit it exceeds
}

func (e *TooLargeError) Error() string {
	return fmt.Sprintf("commitlog: entry %d: %s of %d bytes exceeds the limit of %d bytes", e.Index, e.What, e.Size, e.Max)
}

// Unwrap returns ErrTooLarge.
func (e *TooLargeError) Unwrap() error { return ErrTooLarge }
