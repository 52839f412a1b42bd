package commitlog

// Recovery: the scan DLedgerMmapFileStore.recover() runs at start-up. It
// walks every entry from the first segment, checks it on its own (magic,
// sizes, position, body CRC) and against the entry before it (consecutive
// index, non-decreasing term, chain CRC) and against its index record, and
// decides where the log ends. Unlike DLedger, which truncates at the first
// entry that fails a check, it tells a torn tail (truncate and report) from
// damage in the middle of the log (refuse with *CorruptError).

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"io"
)

// Segment is one segment file as Recover reads it.
type Segment struct {
	Start int64       // CommitLog position of its first byte (its name)
	Data  io.ReaderAt // its bytes
	Size  int64       // number of readable bytes (the file's size)
}

// Recovered is the log's state after a recovery scan, and what the caller
// must do to its files to match it.
type Recovered struct {
	// End is the next write position. Bytes at or past End are discarded:
	// the segment holding End keeps End-Start bytes, later segments go.
	// After a sealed last segment End is the start of the next segment.
	End       int64
	LastIndex uint64 // index of the last valid entry (0 for an empty log)
	LastTerm  uint64 // its term
	LastChain uint32 // its chain CRC, the prevChain of the next append
	// IndexKeep is how many bytes of the index to keep; IndexAppend holds the
	// records to append after them (rebuilt from the data). Together they
	// form an index with a header and exactly one record per entry.
	IndexKeep   int64
	IndexAppend []byte
}

// Report lists what a recovery discarded or rebuilt, in the order found.
// An empty Report means the files were clean.
type Report struct {
	Items []ReportItem
}

// ReportItem is one thing recovery discarded or rebuilt.
type ReportItem struct {
	Segment string // segment name, or IndexFile for the index
	Offset  int64  // offset in that segment (or in the index) where it starts
	Bytes   int64  // bytes discarded from there on
	Reason  Reason
	Detail  string
}

// IndexFile is the Segment name report items use for the index.
const IndexFile = "index"

// Empty reports whether nothing was discarded or rebuilt.
func (r *Report) Empty() bool { return r == nil || len(r.Items) == 0 }

// Truncated reports whether entry data (not just index records) was discarded.
func (r *Report) Truncated() bool {
	if r == nil {
		return false
	}
	for _, it := range r.Items {
		if it.Segment != IndexFile {
			return true
		}
	}
	return false
}

func (r *Report) String() string {
	if r.Empty() {
		return "clean"
	}
	var b []byte
	for i, it := range r.Items {
		if i > 0 {
			b = append(b, "; "...)
		}
		b = fmt.Appendf(b, "%s@%d: %s, %d bytes (%s)", it.Segment, it.Offset, string(it.Reason), it.Bytes, it.Detail)
	}
	return string(b)
}

// Recover scans segs (in order, the first starting at position 0) and the
// index (indexSize bytes of index) and returns the recovered state and a
// Report of what it discarded. Damage at the tail of the last segment — a
// torn or zero-filled end after which no valid entry follows — is truncated
// and reported. Damage anywhere else returns a *CorruptError (wrapping
// ErrCorrupt) naming segment and offset. Index records are derived data:
// missing or disagreeing ones are rebuilt, ones past the data truncated, all
// reported. A read error from Data or index is returned as is, wrapped.
//
// Recover assumes that bytes past the end of the log are absent, zero or the
// remnant of the last write: a store that truncates its log must cut or zero
// the bytes it drops, or a stale entry could pass for valid data after damage.
func Recover(segs []Segment, index io.ReaderAt, indexSize int64, opts Options) (Recovered, *Report, error) {
	return recoverLog(segs, index, indexSize, opts, Base{}, Header{})
}

// Base is where a log starts when it does not start with entry 1 at
// position 0: entries 1..Index are gone (compacted into a snapshot, Raft
// §7, and their segments deleted by retention, or never received by a
// follower that installed the snapshot). Term is entry Index's term, End
// the CommitLog position after it (where entry Index+1 is, or the
// end-of-segment marker before it), Chain the chain CRC entry Index+1
// continues from. The first segment is the one holding End; its bytes
// before End are not read.
type Base struct {
	Index uint64
	Term  uint64
	End   int64
	Chain uint32
}

// IsZero reports whether b is no base: the log starts at entry 1.
func (b Base) IsZero() bool { return b == Base{} }

// RecoverFrom is Recover for a log that starts after base (see Base): segs
// begin with the segment holding base.End, and the scan starts there.
func RecoverFrom(segs []Segment, index io.ReaderAt, indexSize int64, opts Options, base Base) (Recovered, *Report, error) {
	return recoverLog(segs, index, indexSize, opts, base, Header{})
}

// RecoverAfter is Recover trusting the log up to and including the entry
// whose header is trusted: a store passes the last entry it made durable,
// index records included, before a checkpoint (RocketMQ's recovery also
// starts from the checkpoint instead of the first file:
// CommitLog.recoverAbnormally). Only the entries after it are scanned, so
// a restart costs the tail, not the log. The trusted entry itself is
// checked first — its bytes decode to exactly that header and its index
// record agrees — and if it does not, the whole log is scanned as by
// Recover. A zero header means no trusted prefix.
func RecoverAfter(segs []Segment, index io.ReaderAt, indexSize int64, opts Options, trusted Header) (Recovered, *Report, error) {
	return recoverLog(segs, index, indexSize, opts, Base{}, trusted)
}

func recoverLog(segs []Segment, index io.ReaderAt, indexSize int64, opts Options, base Base, trusted Header) (Recovered, *Report, error) {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		return Recovered{}, nil, err
	}
	rep := &Report{}
	if base.End < 0 {
		return Recovered{}, rep, fmt.Errorf("%w: base %+v", ErrInvalid, base)
	}
	firstStart := base.End - base.End%opts.SegmentSize
	if err := checkLayout(segs, opts.SegmentSize, firstStart); err != nil {
		return Recovered{}, rep, err
	}
	if indexSize < 0 || (indexSize > 0 && index == nil) {
		return Recovered{}, rep, fmt.Errorf("%w: index of size %d", ErrInvalid, indexSize)
	}
	s := scan{opts: opts, codec: opts.codec(), rep: rep}
	if err := s.idx.open(index, indexSize, rep); err != nil {
		return Recovered{}, rep, err
	}
	first, from := 0, int64(0)
	if !base.IsZero() {
		s.last, s.chain, s.end = Header{Index: base.Index, Term: base.Term}, base.Chain, base.End
		s.idx.startAt(base.Index)
		from = base.End - firstStart
	}
	if k, ok := s.trust(segs, trusted); ok {
		first, from = k, trusted.End()-segs[k].Start
	}
	for i := first; i < len(segs); i++ {
		done, err := s.segment(segs[i], i == len(segs)-1, from)
		if err != nil {
			return Recovered{}, rep, err
		}
		if done {
			break
		}
		from = 0
	}
	s.idx.finish(s.last.Index, rep)
	return Recovered{
		End:         s.end,
		LastIndex:   s.last.Index,
		LastTerm:    s.last.Term,
		LastChain:   s.chain,
		IndexKeep:   s.idx.keep,
		IndexAppend: s.idx.out,
	}, rep, nil
}

// checkLayout checks that segments start at first (0, unless the log has a
// Base), follow each other without gaps and hold no more than a segment's
// capacity (MmapFileList.checkSelf).
func checkLayout(segs []Segment, size, first int64) error {
	for i, seg := range segs {
		want := first + int64(i)*size
		bad := ""
		switch {
		case seg.Start != want:
			bad = fmt.Sprintf("segment %d starts at %d, want %d", i, seg.Start, want)
		case seg.Size < 0 || seg.Size > size:
			bad = fmt.Sprintf("segment holds %d bytes, capacity %d", seg.Size, size)
		case seg.Size > 0 && seg.Data == nil:
			bad = "segment has a size but no data"
		}
		if bad != "" {
			return &CorruptError{Segment: SegmentName(seg.Start), Reason: ReasonLayout, Detail: bad}
		}
	}
	return nil
}

// scan is the state of one recovery.
type scan struct {
	opts  Options
	codec Codec
	rep   *Report
	buf   []byte // the current segment's bytes, reused
	last  Header // the last valid entry (zero before the first)
	chain uint32 // its chain CRC
	end   int64  // position after the last valid record
	idx   indexScan
}

// trust checks the trusted entry h against the segment holding it and the
// index, and if both agree starts the scan after it: it returns the
// segment's number.
func (s *scan) trust(segs []Segment, h Header) (int, bool) {
	if h.Index == 0 || h.Pos < 0 || h.Size < HeaderSize {
		return 0, false
	}
	k := int(h.Pos / s.opts.SegmentSize)
	if k >= len(segs) || h.End() > segs[k].Start+segs[k].Size {
		return 0, false
	}
	b := make([]byte, h.Size)
	if n, _ := segs[k].Data.ReadAt(b, h.Pos-segs[k].Start); n != len(b) {
		return 0, false
	}
	got, err := s.codec.checkEntry(b, h.Pos)
	if err != nil || got != h || s.idx.rebuilding || h.Index > s.idx.records {
		return 0, false
	}
	var rec [IndexRecordSize]byte
	if err := s.idx.read(rec[:], IndexOffset(h.Index)); err != nil {
		return 0, false
	}
	if r, err := DecodeIndexRecord(rec[:]); err != nil || r != RecordOf(h) {
		return 0, false
	}
	s.last, s.chain, s.idx.keep = h, h.ChainCRC, IndexOffset(h.Index)+IndexRecordSize
	return k, true
}

// segment scans one segment from offset from (0, or just after the
// trusted entry). It returns done when the log ends in it.
func (s *scan) segment(seg Segment, last bool, from int64) (done bool, err error) {
	name := SegmentName(seg.Start)
	if int64(cap(s.buf)) < seg.Size {
		s.buf = make([]byte, seg.Size)
	}
	b := s.buf[:seg.Size]
	if n, err := seg.Data.ReadAt(b, 0); int64(n) < seg.Size {
		if err == nil {
			err = io.ErrUnexpectedEOF
		}
		return true, fmt.Errorf("commitlog: read segment %s: %w", name, err)
	}
	d := damage{name: name, start: seg.Start, b: b, last: last, s: s}
	for off := from; ; {
		s.end = seg.Start + off
		rest := b[off:]
		if len(rest) == 0 {
			if last {
				return true, nil
			}
			return true, d.at(off, ReasonNoBlank, fmt.Sprintf("segment holds %d of %d bytes", seg.Size, s.opts.SegmentSize))
		}
		if len(rest) >= 4 && Magic(binary.BigEndian.Uint32(rest)) == MagicBlank {
			if reason, detail := s.checkBlank(rest, off, seg.Size); reason != "" {
				return true, d.at(off, reason, detail)
			}
			s.end = seg.Start + s.opts.SegmentSize
			return last, nil
		}
		if allZero(rest) {
			if !last {
				return true, d.at(off, ReasonNoBlank, fmt.Sprintf("%d zero bytes where entries or a marker belong", len(rest)))
			}
			if !s.opts.Preallocated {
				s.rep.add(name, off, int64(len(rest)), ReasonZeroTail, fmt.Sprintf("%d zero bytes after the last entry", len(rest)))
			}
			return true, nil
		}
		h, reason, detail := s.entry(rest, seg.Start+off, off)
		if reason != "" {
			return true, d.at(off, reason, detail)
		}
		if err := s.idx.check(h, s.rep); err != nil {
			return true, err
		}
		s.last, s.chain = h, h.ChainCRC
		off += int64(h.Size)
	}
}

// entry checks the entry at the start of b (at CommitLog position pos and
// segment offset off) on its own and against the previous entry. It returns
// a non-empty reason when the entry is bad.
func (s *scan) entry(b []byte, pos, off int64) (Header, Reason, string) {
	h, err := s.codec.checkEntry(b, pos)
	if err != nil {
		// checkEntry returns a bare *DecodeError. (A type assertion, not
		// errors.As: errors.As costs the WebAssembly engine 13 KB gzipped.)
		de, ok := err.(*DecodeError)
		if !ok {
			panic(fmt.Sprintf("commitlog: checkEntry returned an error that is not a *DecodeError: %v", err))
		}
		if de.Reason == ReasonTornBody && !s.opts.Fits(off, int64(h.Size)) {
			return h, ReasonBadSize, fmt.Sprintf("entry of %d bytes at offset %d does not fit a %d-byte segment", h.Size, off, s.opts.SegmentSize)
		}
		return h, de.Reason, de.Detail
	}
	if !s.opts.Fits(off, int64(h.Size)) {
		return h, ReasonBadSize, fmt.Sprintf("entry of %d bytes at offset %d leaves no room for the end-of-segment marker", h.Size, off)
	}
	if h.Index != s.last.Index+1 {
		return h, ReasonIndexGap, fmt.Sprintf("entry index %d after index %d", h.Index, s.last.Index)
	}
	if h.Term < s.last.Term {
		return h, ReasonTermDecrease, fmt.Sprintf("entry %d has term %d after term %d", h.Index, h.Term, s.last.Term)
	}
	if want := chainOf(s.chain, b[:HeaderSize]); want != h.ChainCRC {
		return h, ReasonChainCRC, fmt.Sprintf("entry %d carries %#08x, chain gives %#08x", h.Index, h.ChainCRC, want)
	}
	return h, "", ""
}

// checkBlank checks an end-of-segment marker at offset off of a segment of
// size bytes; b starts at the marker.
func (s *scan) checkBlank(b []byte, off, size int64) (Reason, string) {
	if len(b) < BlankSize {
		return ReasonBadBlank, fmt.Sprintf("marker torn: %d of %d bytes", len(b), BlankSize)
	}
	n := int64(binary.BigEndian.Uint32(b[4:]))
	if want := s.opts.SegmentSize - off; n != want {
		return ReasonBadBlank, fmt.Sprintf("marker length %d, %d bytes remain in the segment", n, want)
	}
	if size != s.opts.SegmentSize {
		return ReasonBadBlank, fmt.Sprintf("marker torn: segment holds %d of %d bytes", size, s.opts.SegmentSize)
	}
	return "", ""
}

// damage decides what a bad record means: tail or corruption.
type damage struct {
	name  string
	start int64
	b     []byte
	last  bool
	s     *scan
}

// at handles a bad record at offset off. In the last segment, with no valid
// entry anywhere after it, it is a torn tail: report it and stop (nil).
// Otherwise it returns a *CorruptError.
func (d damage) at(off int64, reason Reason, detail string) error {
	if !d.last {
		return &CorruptError{Segment: d.name, Offset: off, Reason: reason, Detail: detail + "; later segments follow"}
	}
	if q, ok := d.s.resync(d.b, d.start, off+1); ok {
		return &CorruptError{Segment: d.name, Offset: off, Reason: reason,
			Detail: fmt.Sprintf("%s; a valid entry follows at offset %d", detail, q)}
	}
	n := int64(len(d.b)) - off
	if d.s.opts.Preallocated {
		// The zeros after the torn bytes are free space the store wrote
		// ahead, not part of what the crash cut short.
		n = int64(len(bytes.TrimRight(d.b[off:], "\x00")))
	}
	d.s.rep.add(d.name, off, n, reason, detail)
	return nil
}

// resync looks for a well-formed entry (checked on its own, including its
// position field and body CRC) at any offset from `from` on. The position
// field makes a chance match in garbage all but impossible.
func (s *scan) resync(b []byte, start, from int64) (int64, bool) {
	for q := from; q+HeaderSize <= int64(len(b)); q++ {
		r := b[q:]
		if !Magic(binary.BigEndian.Uint32(r)).IsEntry() || int64(binary.BigEndian.Uint64(r[offPos:])) != start+q {
			continue
		}
		if _, err := s.codec.checkEntry(r, start+q); err == nil {
			return q, true
		}
	}
	return 0, false
}

func (r *Report) add(seg string, off, n int64, reason Reason, detail string) {
	r.Items = append(r.Items, ReportItem{Segment: seg, Offset: off, Bytes: n, Reason: reason, Detail: detail})
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

// indexScan checks index records against the entries as the scan finds
// them, and rebuilds the index from the first record that is missing or
// wrong (as DLedgerMmapFileStore.recover does with needWriteIndex).
type indexScan struct {
	r       io.ReaderAt
	size    int64
	records uint64 // full entry records present (slot 0 excluded)
	keep    int64  // bytes verified so far; the prefix to keep
	// rebuilding is set from the first record that is missing or wrong;
	// from then on every entry's record is appended to out.
	rebuilding bool
	cause      *ReportItem // why rebuilding started (nil: not reported yet)
	out        []byte
	chunk      []byte // cached index bytes from chunkOff
	chunkOff   int64
}

const indexChunk = 64 << 10

func (x *indexScan) open(r io.ReaderAt, size int64, rep *Report) error {
	x.r, x.size = r, size
	if size == 0 {
		x.rebuilding = true // a fresh index: rebuilt silently unless data needs it
		x.out = AppendIndexRecord(x.out, IndexHeader())
		return nil
	}
	var hdr [IndexRecordSize]byte
	if size >= IndexRecordSize {
		if err := x.read(hdr[:], 0); err != nil {
			return err
		}
	}
	got, err := DecodeIndexRecord(hdr[:min(size, IndexRecordSize)])
	if err != nil || got != IndexHeader() {
		detail := fmt.Sprintf("slot 0 holds %+v", got)
		if err != nil {
			detail = fmt.Sprintf("index of %d bytes has no header", size)
		}
		x.rebuilding = true
		x.cause = &ReportItem{Segment: IndexFile, Reason: ReasonIndexHeader, Detail: detail}
		x.out = AppendIndexRecord(x.out, IndexHeader())
		return nil
	}
	x.keep = IndexRecordSize
	x.records = uint64(size/IndexRecordSize) - 1
	return nil
}

// startAt makes the scan begin after entry base (a log with a Base):
// records up to it belong to compacted entries and are not checked; an
// index too short to reach it is rebuilt, padded with zero records.
func (x *indexScan) startAt(base uint64) {
	want := IndexOffset(base) + IndexRecordSize
	if !x.rebuilding && x.size >= want {
		x.keep = want
		return
	}
	if !x.rebuilding {
		x.rebuilding, x.keep, x.out = true, IndexRecordSize, x.out[:0]
		x.cause = &ReportItem{Segment: IndexFile, Reason: ReasonIndexBehind, Detail: fmt.Sprintf("index ends before the base entry %d", base)}
	}
	x.out = append(x.out, make([]byte, want-x.keep-int64(len(x.out)))...)
}

// check compares entry h with its record, or appends a rebuilt record.
func (x *indexScan) check(h Header, rep *Report) error {
	want := RecordOf(h)
	if !x.rebuilding {
		if h.Index > x.records {
			x.startRebuild(ReasonIndexBehind, IndexOffset(h.Index),
				fmt.Sprintf("index ends at entry %d, data goes on", x.records))
		} else {
			var b [IndexRecordSize]byte
			if err := x.read(b[:], IndexOffset(h.Index)); err != nil {
				return err
			}
			got, _ := DecodeIndexRecord(b[:])
			if got == want {
				x.keep = IndexOffset(h.Index) + IndexRecordSize
				return nil
			}
			x.startRebuild(ReasonIndexMismatch, IndexOffset(h.Index),
				fmt.Sprintf("record for entry %d says %+v, data says %+v", h.Index, got, want))
		}
	} else if x.cause == nil {
		x.startRebuild(ReasonIndexBehind, IndexOffset(h.Index), "index is empty, data is not")
	}
	x.out = AppendIndexRecord(x.out, want)
	return nil
}

func (x *indexScan) startRebuild(reason Reason, off int64, detail string) {
	x.rebuilding = true
	x.cause = &ReportItem{Segment: IndexFile, Offset: off, Reason: reason, Detail: detail}
}

// finish reports the rebuild, or records past the data, once the last entry
// is known.
func (x *indexScan) finish(lastIndex uint64, rep *Report) {
	if x.cause != nil {
		it := *x.cause
		it.Offset = x.keep
		it.Bytes = x.size - x.keep
		rebuilt := len(x.out) / IndexRecordSize
		it.Detail = fmt.Sprintf("%s; %d records rebuilt", it.Detail, rebuilt)
		rep.Items = append(rep.Items, it)
		return
	}
	if x.rebuilding || x.size <= x.keep {
		return
	}
	reason, detail := ReasonIndexTorn, fmt.Sprintf("%d bytes after the last record", x.size-x.keep)
	if x.records > lastIndex {
		reason, detail = ReasonIndexAhead, fmt.Sprintf("records for entries %d..%d, data ends at entry %d", lastIndex+1, x.records, lastIndex)
	}
	rep.add(IndexFile, x.keep, x.size-x.keep, reason, detail)
}

// read fills b from the index at off through a chunk cache, so a
// sequential scan costs one ReadAt per chunk, not per record.
func (x *indexScan) read(b []byte, off int64) error {
	if off < x.chunkOff || off+int64(len(b)) > x.chunkOff+int64(len(x.chunk)) {
		n := min(int64(indexChunk), x.size-off)
		if int64(cap(x.chunk)) < n {
			x.chunk = make([]byte, n)
		}
		x.chunk, x.chunkOff = x.chunk[:n], off
		if got, err := x.r.ReadAt(x.chunk, off); int64(got) < n {
			if err == nil {
				err = io.ErrUnexpectedEOF
			}
			return fmt.Errorf("commitlog: read index at %d: %w", off, err)
		}
	}
	copy(b, x.chunk[off-x.chunkOff:])
	return nil
}
