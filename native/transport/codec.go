package transport

// The binary framing of core.Message between brokers. One WebSocket binary
// message carries one frame:
//
//	offset  size  field
//	0       1     version (1)
//	1       1     message type (core.MessageType)
//	2       1     flags: bit 0 Reject, bit 1 Force, bit 2 Done (snapshot
//	              only); other bits must be 0
//	3       …     uvarints: From, To, Term, LogIndex, LogTerm, Commit, Index,
//	              HintIndex, HintTerm, number of entries
//	…       …     per entry: uvarint Index, uvarint Term, 1 byte Type
//	              (0 normal, 1 no-op), uvarint data length, data
//	…       …     snapshot messages only: uvarint chunk length, chunk
//
// Uvarints keep a heartbeat at about a dozen bytes. Decode checks every
// length against the bytes that remain before slicing, rejects trailing
// bytes, unknown types and flags, so each message has exactly one encoding
// and no input can make it allocate more than the frame holds.

import (
	"encoding/binary"
	"errors"
	"fmt"

	"dledgerlab/core"
)

// FrameVersion is the first byte of every frame.
const FrameVersion = 1

// ErrFrame is wrapped by every decoding error.
var ErrFrame = errors.New("transport: bad frame")

const (
	flagReject = 1 << 0
	flagForce  = 1 << 1
	flagDone   = 1 << 2
	// minEntrySize is the smallest encoded entry: three one-byte uvarints
	// and the type byte.
	minEntrySize = 4
)

// AppendMessage appends m's frame to dst.
func AppendMessage(dst []byte, m core.Message) []byte {
	var flags byte
	if m.Reject {
		flags |= flagReject
	}
	if m.Force {
		flags |= flagForce
	}
	if m.Done {
		flags |= flagDone
	}
	dst = append(dst, FrameVersion, byte(m.Type), flags)
	for _, v := range [...]uint64{uint64(m.From), uint64(m.To), m.Term, m.LogIndex, m.LogTerm,
		m.Commit, m.Index, m.HintIndex, m.HintTerm, uint64(len(m.Entries))} {
		dst = binary.AppendUvarint(dst, v)
	}
	for _, e := range m.Entries {
		dst = binary.AppendUvarint(dst, e.Index)
		dst = binary.AppendUvarint(dst, e.Term)
		dst = append(dst, byte(e.Type))
		dst = binary.AppendUvarint(dst, uint64(len(e.Data)))
		dst = append(dst, e.Data...)
	}
	if m.Type == core.MsgSnapshot {
		dst = binary.AppendUvarint(dst, uint64(len(m.Chunk)))
		dst = append(dst, m.Chunk...)
	}
	return dst
}

// DecodeMessage parses one frame. Entry data aliases b. Errors wrap ErrFrame
// and name the field and byte offset.
func DecodeMessage(b []byte) (core.Message, error) {
	d := decoder{b: b}
	var m core.Message
	if len(b) < 3 {
		return m, fmt.Errorf("%w: %d bytes, shorter than the 3-byte head", ErrFrame, len(b))
	}
	if b[0] != FrameVersion {
		return m, fmt.Errorf("%w: version %d, want %d", ErrFrame, b[0], FrameVersion)
	}
	m.Type = core.MessageType(b[1])
	if !m.Type.Valid() {
		return m, fmt.Errorf("%w: unknown message type %d", ErrFrame, b[1])
	}
	if b[2]&^(flagReject|flagForce|flagDone) != 0 || (b[2]&flagDone != 0 && m.Type != core.MsgSnapshot) {
		return m, fmt.Errorf("%w: unknown flags %#x for %s", ErrFrame, b[2], m.Type)
	}
	m.Reject, m.Force, m.Done = b[2]&flagReject != 0, b[2]&flagForce != 0, b[2]&flagDone != 0
	d.off = 3
	m.From = core.NodeID(d.uvarint("from"))
	m.To = core.NodeID(d.uvarint("to"))
	m.Term = d.uvarint("term")
	m.LogIndex = d.uvarint("log index")
	m.LogTerm = d.uvarint("log term")
	m.Commit = d.uvarint("commit")
	m.Index = d.uvarint("index")
	m.HintIndex = d.uvarint("hint index")
	m.HintTerm = d.uvarint("hint term")
	n := d.uvarint("entry count")
	if d.err != nil {
		return core.Message{}, d.err
	}
	if m.From == core.None || m.To == core.None {
		return core.Message{}, fmt.Errorf("%w: from %d to %d: broker ids start at 1", ErrFrame, m.From, m.To)
	}
	if n > uint64(len(b)-d.off)/minEntrySize {
		return core.Message{}, fmt.Errorf("%w: %d entries cannot fit in the %d bytes left at offset %d", ErrFrame, n, len(b)-d.off, d.off)
	}
	if n > 0 {
		m.Entries = make([]core.Entry, n)
	}
	for i := range m.Entries {
		e := &m.Entries[i]
		e.Index = d.uvarint("entry index")
		e.Term = d.uvarint("entry term")
		if d.err == nil {
			if d.off >= len(b) {
				d.fail("entry type", "frame ends")
			} else {
				e.Type = core.EntryType(b[d.off])
				if e.Type != core.EntryNormal && e.Type != core.EntryNoOp {
					d.fail("entry type", fmt.Sprintf("unknown type %d", b[d.off]))
				}
				d.off++
			}
		}
		size := d.uvarint("entry length")
		if d.err != nil {
			return core.Message{}, d.err
		}
		if size > uint64(len(b)-d.off) {
			return core.Message{}, fmt.Errorf("%w: entry %d of %d: length %d exceeds the %d bytes left at offset %d",
				ErrFrame, i, n, size, len(b)-d.off, d.off)
		}
		if size > 0 {
			e.Data = b[d.off : d.off+int(size) : d.off+int(size)]
		}
		d.off += int(size)
	}
	if m.Type == core.MsgSnapshot {
		size := d.uvarint("snapshot chunk length")
		if d.err != nil {
			return core.Message{}, d.err
		}
		if size > uint64(len(b)-d.off) {
			return core.Message{}, fmt.Errorf("%w: snapshot chunk length %d exceeds the %d bytes left at offset %d", ErrFrame, size, len(b)-d.off, d.off)
		}
		if size > 0 {
			m.Chunk = b[d.off : d.off+int(size) : d.off+int(size)]
		}
		d.off += int(size)
	}
	if d.off != len(b) {
		return core.Message{}, fmt.Errorf("%w: %d trailing bytes at offset %d", ErrFrame, len(b)-d.off, d.off)
	}
	return m, nil
}

type decoder struct {
	b   []byte
	off int
	err error
}

func (d *decoder) uvarint(field string) uint64 {
	if d.err != nil {
		return 0
	}
	v, n := binary.Uvarint(d.b[d.off:])
	switch {
	case n == 0:
		d.fail(field, "frame ends")
		return 0
	case n < 0:
		d.fail(field, "uvarint overflows 64 bits")
		return 0
	}
	// Reject non-minimal encodings so that every message has one frame.
	if n > 1 && d.b[d.off+n-1] == 0 {
		d.fail(field, "uvarint not minimally encoded")
		return 0
	}
	d.off += n
	return v
}

func (d *decoder) fail(field, why string) {
	d.err = fmt.Errorf("%w: %s at offset %d: %s", ErrFrame, field, d.off, why)
}
