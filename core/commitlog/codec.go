package commitlog

// The entry codec: DLedger's DLedgerEntry / DLedgerEntryCoder. An entry is a
// fixed 48-byte header followed by its body; the layout is drawn in doc.go.

import (
	"encoding/binary"
	"fmt"
	"hash/crc32"
	"slices"

	"dledgerlab/core"
)

// Magic is the first field of every record in a segment. For entries it is
// DLedgerEntryType's magic; MagicBlank is MmapFileList.BLANK_MAGIC_CODE, the
// end-of-segment marker.
type Magic uint32

const (
	// MagicNormal marks an entry carrying client data (DLedgerEntryType.NORMAL).
	MagicNormal Magic = 1
	// MagicNoOp marks the empty entry a new leader appends (DLedgerEntryType.NOOP).
	MagicNoOp Magic = 2
	// MagicConfig marks a configuration change (DLedgerEntryType.CONFIG_CHANGE).
	// The format accepts it; core does not produce it yet.
	MagicConfig Magic = 3
	// MagicBlank starts the end-of-segment marker (MmapFileList.BLANK_MAGIC_CODE, -1).
	MagicBlank Magic = 0xFFFFFFFF
)

func (m Magic) String() string {
	switch m {
	case MagicNormal:
		return "normal"
	case MagicNoOp:
		return "no-op"
	case MagicConfig:
		return "config"
	case MagicBlank:
		return "blank"
	}
	return fmt.Sprintf("Magic(%#08x)", uint32(m))
}

// IsEntry reports whether m starts an entry (normal, no-op or config).
func (m Magic) IsEntry() bool { return m == MagicNormal || m == MagicNoOp || m == MagicConfig }

// EntryType maps an entry magic to core's entry type. It returns false for
// the config magic (core has no such type yet) and for non-entry magics.
func (m Magic) EntryType() (core.EntryType, bool) {
	switch m {
	case MagicNormal:
		return core.EntryNormal, true
	case MagicNoOp:
		return core.EntryNoOp, true
	}
	return 0, false
}

// MagicOf maps core's entry type to its on-disk magic.
func MagicOf(t core.EntryType) (Magic, bool) {
	switch t {
	case core.EntryNormal:
		return MagicNormal, true
	case core.EntryNoOp:
		return MagicNoOp, true
	}
	return 0, false
}

// HeaderSize is the size of an entry header, DLedgerEntry.BODY_OFFSET.
const HeaderSize = 48

// Byte offsets of the header fields (DLedgerEntry.POS_OFFSET is offPos).
const (
	offMagic   = 0
	offSize    = 4
	offIndex   = 8
	offTerm    = 16
	offPos     = 24
	offChannel = 32
	offChain   = 36
	offBodyCRC = 40
	offBodyLen = 44
)

// castagnoli is the CRC32C table used for both CRCs. It is read-only.
var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// Header is the decoded fixed part of an entry (the fields of DLedgerEntry
// other than the body).
type Header struct {
	Magic    Magic
	Size     int32  // whole entry: HeaderSize + BodyLen
	Index    uint64 // Raft log index, from 1
	Term     uint64
	Pos      int64  // position of the entry in the CommitLog
	Channel  uint32 // reserved by DLedger; written as 0
	ChainCRC uint32 // see NextChain
	BodyCRC  uint32 // CRC32C of the body
	BodyLen  int32
}

// NextChain returns the chain CRC an entry with header h carries when the
// entry before it carries prevChain (0 before the first entry). It continues
// the CRC32C state prevChain over the header bytes 0..35 (magic, size,
// index, term, pos, channel) and 40..47 (body CRC, body length): every field
// but the chain CRC itself. A change to any earlier entry's header or body
// therefore changes every later chain CRC.
func (h Header) NextChain(prevChain uint32) uint32 {
	var b [HeaderSize]byte
	h.put(b[:])
	return chainOf(prevChain, b[:])
}

// chainOf computes the chain CRC from an encoded header.
func chainOf(prevChain uint32, hdr []byte) uint32 {
	c := crc32.Update(prevChain, castagnoli, hdr[:offChain])
	return crc32.Update(c, castagnoli, hdr[offBodyCRC:HeaderSize])
}

// Type returns core's entry type for h.Magic (see Magic.EntryType).
func (h Header) Type() (core.EntryType, bool) { return h.Magic.EntryType() }

// End returns the position just past the entry.
func (h Header) End() int64 { return h.Pos + int64(h.Size) }

// put writes h into b[:HeaderSize], big-endian like Java's ByteBuffer.
func (h Header) put(b []byte) {
	_ = b[HeaderSize-1]
	binary.BigEndian.PutUint32(b[offMagic:], uint32(h.Magic))
	binary.BigEndian.PutUint32(b[offSize:], uint32(h.Size))
	binary.BigEndian.PutUint64(b[offIndex:], h.Index)
	binary.BigEndian.PutUint64(b[offTerm:], h.Term)
	binary.BigEndian.PutUint64(b[offPos:], uint64(h.Pos))
	binary.BigEndian.PutUint32(b[offChannel:], h.Channel)
	binary.BigEndian.PutUint32(b[offChain:], h.ChainCRC)
	binary.BigEndian.PutUint32(b[offBodyCRC:], h.BodyCRC)
	binary.BigEndian.PutUint32(b[offBodyLen:], uint32(h.BodyLen))
}

// EncodedSize returns the size of an encoded entry with a body of bodyLen
// bytes (DLedgerEntry.computeSizeInBytes).
func EncodedSize(bodyLen int) int { return HeaderSize + bodyLen }

// Codec encodes and decodes entries with a body-size limit
// (DLedgerEntryCoder). The zero Codec uses DefaultMaxBodySize.
type Codec struct {
	// MaxBodySize is the largest body accepted, in bytes; 0 means
	// DefaultMaxBodySize. It is capped at MaxBodySizeLimit.
	MaxBodySize int
}

func (c Codec) maxBody() int {
	switch {
	case c.MaxBodySize <= 0:
		return DefaultMaxBodySize
	case c.MaxBodySize > MaxBodySizeLimit:
		return MaxBodySizeLimit
	}
	return c.MaxBodySize
}

// AppendEntry encodes e at CommitLog position pos after an entry whose chain
// CRC is prevChain, appends it to dst and returns the extended slice and the
// header it wrote. It fills both CRCs (DLedger leaves them zero).
func AppendEntry(dst []byte, e core.Entry, pos int64, prevChain uint32) ([]byte, Header, error) {
	return Codec{}.AppendEntry(dst, e, pos, prevChain)
}

// AppendEntry is the package-level AppendEntry with c's body-size limit.
func (c Codec) AppendEntry(dst []byte, e core.Entry, pos int64, prevChain uint32) ([]byte, Header, error) {
	magic, ok := MagicOf(e.Type)
	if !ok {
		return dst, Header{}, fmt.Errorf("%w: entry %d has unknown type %s", ErrInvalid, e.Index, e.Type)
	}
	if len(e.Data) > c.maxBody() {
		return dst, Header{}, &TooLargeError{Index: e.Index, What: "body", Size: int64(len(e.Data)), Max: int64(c.maxBody())}
	}
	if pos < 0 {
		return dst, Header{}, fmt.Errorf("%w: entry %d at negative position %d", ErrInvalid, e.Index, pos)
	}
	size := EncodedSize(len(e.Data))
	h := Header{
		Magic:   magic,
		Size:    int32(size),
		Index:   e.Index,
		Term:    e.Term,
		Pos:     pos,
		BodyCRC: crc32.Checksum(e.Data, castagnoli),
		BodyLen: int32(len(e.Data)),
	}
	n := len(dst)
	dst = slices.Grow(dst, size)[:n+size]
	b := dst[n:]
	h.put(b)
	h.ChainCRC = chainOf(prevChain, b)
	binary.BigEndian.PutUint32(b[offChain:], h.ChainCRC)
	copy(b[HeaderSize:], e.Data)
	return dst, h, nil
}

// DecodeHeader decodes the header at the start of b. It checks the magic and
// that size and body length agree and respect DefaultMaxBodySize; it does not
// need or check the body. Errors are *DecodeError with Pos 0.
func DecodeHeader(b []byte) (Header, error) { return Codec{}.DecodeHeader(b) }

// DecodeHeader is the package-level DecodeHeader with c's body-size limit.
func (c Codec) DecodeHeader(b []byte) (Header, error) { return c.decodeHeader(b, 0) }

// DecodeEntry decodes the entry at the start of b, which must lie at
// CommitLog position pos. Besides the header checks it checks the pos field,
// that b holds the whole body, and the body CRC. The chain CRC needs the
// previous entry and is checked by Recover. The returned Data aliases b: the
// hot path does not allocate. Errors are *DecodeError.
func DecodeEntry(b []byte, pos int64) (core.Entry, Header, error) { return Codec{}.DecodeEntry(b, pos) }

// DecodeEntry is the package-level DecodeEntry with c's body-size limit.
func (c Codec) DecodeEntry(b []byte, pos int64) (core.Entry, Header, error) {
	h, err := c.checkEntry(b, pos)
	if err != nil {
		return core.Entry{}, h, err
	}
	t, ok := h.Magic.EntryType()
	if !ok {
		// Config entries are valid on disk but core cannot represent them.
		return core.Entry{}, h, &DecodeError{Pos: pos, Offset: pos + offMagic, Reason: ReasonBadMagic,
			Detail: fmt.Sprintf("magic %s has no core entry type", h.Magic)}
	}
	return core.Entry{Index: h.Index, Term: h.Term, Type: t, Data: b[HeaderSize:h.Size:h.Size]}, h, nil
}

// checkEntry checks everything DecodeEntry checks except the mapping to a
// core entry type, so config entries pass.
func (c Codec) checkEntry(b []byte, pos int64) (Header, error) {
	h, err := c.decodeHeader(b, pos)
	if err != nil {
		return h, err
	}
	if h.Pos != pos {
		return h, &DecodeError{Pos: pos, Offset: pos + offPos, Reason: ReasonBadPosition,
			Detail: fmt.Sprintf("header says position %d", h.Pos)}
	}
	if len(b) < int(h.Size) {
		return h, &DecodeError{Pos: pos, Offset: pos + int64(len(b)), Reason: ReasonTornBody,
			Detail: fmt.Sprintf("entry of %d bytes, only %d present", h.Size, len(b))}
	}
	if got := crc32.Checksum(b[HeaderSize:h.Size], castagnoli); got != h.BodyCRC {
		return h, &DecodeError{Pos: pos, Offset: pos + offBodyCRC, Reason: ReasonBodyCRC,
			Detail: fmt.Sprintf("header says %#08x, body has %#08x", h.BodyCRC, got)}
	}
	return h, nil
}

// decodeHeader decodes and checks a header; pos is used only in errors.
func (c Codec) decodeHeader(b []byte, pos int64) (Header, error) {
	if len(b) < HeaderSize {
		return Header{}, &DecodeError{Pos: pos, Offset: pos + int64(len(b)), Reason: ReasonTornHeader,
			Detail: fmt.Sprintf("%d of %d header bytes present", len(b), HeaderSize)}
	}
	h := Header{
		Magic:    Magic(binary.BigEndian.Uint32(b[offMagic:])),
		Size:     int32(binary.BigEndian.Uint32(b[offSize:])),
		Index:    binary.BigEndian.Uint64(b[offIndex:]),
		Term:     binary.BigEndian.Uint64(b[offTerm:]),
		Pos:      int64(binary.BigEndian.Uint64(b[offPos:])),
		Channel:  binary.BigEndian.Uint32(b[offChannel:]),
		ChainCRC: binary.BigEndian.Uint32(b[offChain:]),
		BodyCRC:  binary.BigEndian.Uint32(b[offBodyCRC:]),
		BodyLen:  int32(binary.BigEndian.Uint32(b[offBodyLen:])),
	}
	if !h.Magic.IsEntry() {
		detail := fmt.Sprintf("magic %#08x", uint32(h.Magic))
		if h.Magic == MagicBlank {
			detail = "end-of-segment marker, not an entry"
		}
		return h, &DecodeError{Pos: pos, Offset: pos + offMagic, Reason: ReasonBadMagic, Detail: detail}
	}
	if h.BodyLen < 0 {
		return h, &DecodeError{Pos: pos, Offset: pos + offBodyLen, Reason: ReasonBadSize,
			Detail: fmt.Sprintf("negative body length %d", h.BodyLen)}
	}
	if int(h.BodyLen) > c.maxBody() {
		return h, &DecodeError{Pos: pos, Offset: pos + offBodyLen, Reason: ReasonTooLarge,
			Detail: fmt.Sprintf("body length %d, limit %d", h.BodyLen, c.maxBody())}
	}
	if int(h.Size) != EncodedSize(int(h.BodyLen)) {
		return h, &DecodeError{Pos: pos, Offset: pos + offSize, Reason: ReasonBadSize,
			Detail: fmt.Sprintf("size %d but body length %d (want size %d)", h.Size, h.BodyLen, EncodedSize(int(h.BodyLen)))}
	}
	return h, nil
}
