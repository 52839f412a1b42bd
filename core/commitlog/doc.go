// Package commitlog is the broker's CommitLog as DLedger stores it: the
// entry codec (DLedgerEntry, DLedgerEntryCoder), fixed-size segments
// (MmapFileList), the entry index and the recovery scan
// (DLedgerMmapFileStore), plus MemStore, an in-memory store with the same
// bytes for the simulator and the browser.
//
// The package is pure: no files, clocks or goroutines. It works over []byte
// and io.ReaderAt; native/ supplies files, fsync and directory listing.
//
// # Entry layout
//
// Every entry is a 48-byte header and its body, big-endian (Java's
// ByteBuffer order), as DLedgerEntryCoder.encode writes it:
//
//	offset  size  field      meaning
//	     0     4  magic      1 normal, 2 no-op, 3 config (DLedgerEntryType)
//	     4     4  size       whole entry: 48 + body length
//	     8     8  index      Raft log index, from 1
//	    16     8  term       Raft term of the entry
//	    24     8  pos        CommitLog position of the entry itself
//	    32     4  channel    reserved, written as 0
//	    36     4  chain CRC  see below
//	    40     4  body CRC   CRC32C (Castagnoli) of the body
//	    44     4  body len   length of the body
//	    48     n  body       the client's bytes (empty for no-op)
//
// DLedger writes both CRCs as zero. This package fills them so corruption is
// detectable: the body CRC covers the body; the chain CRC continues the
// CRC32C state of the previous entry's chain CRC (0 before entry 1) over
// header bytes 0..35 and 40..47, i.e. every header field but itself, body
// CRC included. Changing any byte of any entry changes the chain CRC of every
// later entry, like a block chain (DLedgerEntry's comment on chainCrc).
// core.EntryNormal maps to magic 1 and core.EntryNoOp to magic 2; magic 3
// (config change) is valid in the format but core does not produce it.
//
// # Segments
//
// The CommitLog is split into segments of Options.SegmentSize bytes (64 MiB
// natively, a few KiB in the simulator so roll-over is visible). A segment
// is named by the position of its first byte, 20 digits zero-padded
// (SegmentName: 00000000000000004096). Entries never span segments; each
// entry must leave 8 bytes free after it, so that when the next entry does
// not fit the writer can seal the segment with an end-of-segment marker
// (MmapFileList.BLANK_MAGIC_CODE) that fills it to the end:
//
//	offset  size  field      meaning
//	     0     4  magic      0xFFFFFFFF
//	     4     4  length     bytes from the marker to the segment's end
//	     8   ...  padding    zeros
//
// The largest entry is SegmentSize-8 bytes; a larger one is an error.
//
// # Index
//
// The index is one byte string of 32-byte records; entry i's record is at
// offset i×32 (DLedgerMmapFileStore.INDEX_UNIT_SIZE):
//
//	offset  size  field
//	     0     4  magic (the entry's)
//	     4     8  pos
//	    12     4  size
//	    16     8  index
//	    24     8  term
//
// Raft indexes start at 1, so slot 0 is a header record: magic 0x444C4958
// ("DLIX"), size 32, all other fields zero.
//
// # Recovery
//
// Recover scans every entry and checks magic, sizes, position, both CRCs,
// consecutive indexes, non-decreasing terms and the index records. A torn or
// zero-filled tail of the last segment — bad bytes with no valid entry after
// them — is cut off and listed in the Report. Bad bytes anywhere else are a
// *CorruptError (errors.Is(err, ErrCorrupt)) naming segment and offset: they
// may hold entries a quorum acknowledged, and dropping them silently would
// break Raft's promise. The index is derived data: missing or wrong records
// are rebuilt from the data, records past the data are dropped, all reported.
//
// The log always starts at position 0 with entry 1: there is no compaction.
package commitlog
