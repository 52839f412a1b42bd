package commitlog

// The entry index: DLedgerMmapFileStore's index file of fixed
// INDEX_UNIT_SIZE (32-byte) records, one per entry, at offset
// index × 32, so the position of entry i is one read away
// (DLedgerEntryCoder.encodeIndex / decodeIndex). Raft indexes here start at
// 1, so slot 0 holds a header record instead of an entry.

import (
	"encoding/binary"
	"fmt"
)

// IndexRecordSize is the size of one index record (INDEX_UNIT_SIZE).
const IndexRecordSize = 32

// IndexHeaderMagic is the magic of the header record in slot 0 ("DLIX").
const IndexHeaderMagic Magic = 0x444C4958

// IndexRecord is one decoded index record: where entry Index lies in the
// CommitLog and what it is.
type IndexRecord struct {
	Magic Magic
	Pos   int64
	Size  int32
	Index uint64
	Term  uint64
}

// String prints the record's fields by name, as fmt's %+v does.
func (r IndexRecord) String() string {
	return fmt.Sprintf("{Magic:%s Pos:%d Size:%d Index:%d Term:%d}", r.Magic, r.Pos, r.Size, r.Index, r.Term)
}

// IndexOffset returns the byte offset of entry index's record.
func IndexOffset(index uint64) int64 { return int64(index) * IndexRecordSize }

// RecordOf returns the index record describing the entry with header h.
func RecordOf(h Header) IndexRecord {
	return IndexRecord{Magic: h.Magic, Pos: h.Pos, Size: h.Size, Index: h.Index, Term: h.Term}
}

// IndexHeader returns the record stored in slot 0: IndexHeaderMagic, size
// IndexRecordSize, everything else zero.
func IndexHeader() IndexRecord {
	return IndexRecord{Magic: IndexHeaderMagic, Size: IndexRecordSize}
}

// AppendIndexRecord appends r's 32 bytes to dst: magic (4), pos (8), size
// (4), index (8), term (8), big-endian.
func AppendIndexRecord(dst []byte, r IndexRecord) []byte {
	var b [IndexRecordSize]byte
	binary.BigEndian.PutUint32(b[0:], uint32(r.Magic))
	binary.BigEndian.PutUint64(b[4:], uint64(r.Pos))
	binary.BigEndian.PutUint32(b[12:], uint32(r.Size))
	binary.BigEndian.PutUint64(b[16:], r.Index)
	binary.BigEndian.PutUint64(b[24:], r.Term)
	return append(dst, b[:]...)
}

// DecodeIndexRecord decodes the record at the start of b. It fails only if b
// is shorter than a record; whether the record is right is for the caller to
// judge against the data.
func DecodeIndexRecord(b []byte) (IndexRecord, error) {
	if len(b) < IndexRecordSize {
		return IndexRecord{}, &DecodeError{Offset: int64(len(b)), Reason: ReasonIndexTorn,
			Detail: fmt.Sprintf("%d of %d record bytes present", len(b), IndexRecordSize)}
	}
	return IndexRecord{
		Magic: Magic(binary.BigEndian.Uint32(b[0:])),
		Pos:   int64(binary.BigEndian.Uint64(b[4:])),
		Size:  int32(binary.BigEndian.Uint32(b[12:])),
		Index: binary.BigEndian.Uint64(b[16:]),
		Term:  binary.BigEndian.Uint64(b[24:]),
	}, nil
}
