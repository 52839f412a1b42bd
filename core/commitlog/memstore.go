package commitlog

// MemStore: DLedgerMmapFileStore over memory. It keeps the real encoded
// segment and index bytes, so the simulator and the browser can show
// CommitLog positions and segment boundaries, and injected disk faults are
// found by the same Recover a native store runs.
//
// Durability model. A MemStore holds two images of its files: the live one
// (what the process wrote: the OS page cache) and the durable one (what is
// on the platter). Writes — hard state, appends, truncations — change only
// the live image. Sync makes the durable image a copy of the live one.
// Crash makes the live image a copy of the durable one: everything since the
// last Sync is lost, a truncation included, as if the machine lost power and
// the disk had written nothing since the last fsync. This is the simplest
// honest model; real disks may also persist part of an unsynced write, which
// Recover handles as a torn tail.

import (
	"bytes"
	"fmt"
	"slices"

	"dledgerlab/core"
)

// MemStore is an in-memory CommitLog with DLedger's on-disk format. It
// implements core.Storage and offers the writes a caller makes for a
// core Ready: SetHardState, Append, Sync. It is not safe for concurrent use
// (the core is single-threaded).
type MemStore struct {
	opts Options
	// live is what the process has written; durable what survives a crash.
	// Invariant: durable shares byte arrays with live only through slices
	// clipped to their length, so writing to live never changes durable.
	live    image
	durable image
	// dirty: live was written since durable was taken from it.
	dirty bool
}

// image is one copy of the store's files and what they mean.
type image struct {
	hs core.HardState
	// sealed are the full segments (each ends with its marker), in position
	// order: sealed[k].start = k × SegmentSize. Their elements are never
	// changed in place, so images share the array through clipped slices
	// and a Sync costs O(1), not O(segments).
	sealed []memSegment
	// tail is the open last segment, if hasTail.
	tail    memSegment
	hasTail bool
	index   []byte // header record, then one record per entry
	// Invariant: lastIndex/lastTerm/lastChain describe the last entry in
	// the segments (or the base, if none follows it), and the index holds
	// exactly lastIndex+1 records (those up to the base are not read).
	lastIndex uint64
	lastTerm  uint64
	lastChain uint32
	// snap is the newest snapshot kept (core.Storage's Snapshot), and base
	// where the log starts when entries up to it are gone (Compact,
	// InstallSnapshot): the first segment is the one holding base.End.
	snap core.Snapshot
	base Base
}

// memSegment is one segment: its start position and the bytes written.
// A segment with SegmentSize bytes is sealed (ends with a marker).
type memSegment struct {
	start int64
	buf   []byte
}

// NewMemStore returns an empty store. Zero option fields take the defaults
// (64 MiB segments, 4 MiB bodies); invalid options panic, as they are a
// programming error (see Options.Validate).
func NewMemStore(opts Options) *MemStore {
	opts = opts.WithDefaults()
	if err := opts.Validate(); err != nil {
		panic(err)
	}
	m := &MemStore{opts: opts}
	m.live.index = AppendIndexRecord(nil, IndexHeader())
	m.durable = m.live.share()
	return m
}

// Options returns the store's options with defaults filled in.
func (m *MemStore) Options() Options { return m.opts }

// InitialState returns the hard state last set (core.Storage).
func (m *MemStore) InitialState() (core.HardState, error) { return m.live.hs, nil }

// LastIndex returns the index of the last entry written (core.Storage).
func (m *MemStore) LastIndex() uint64 { return m.live.lastIndex }

// Snapshot returns the newest snapshot kept (core.Storage), zero if none.
func (m *MemStore) Snapshot() (core.Snapshot, error) { return m.live.snap, nil }

// Base returns where the log starts (zero: at entry 1).
func (m *MemStore) Base() Base { return m.live.base }

// Compact keeps snapshot s (s.Index at most the last entry, written) and
// gives up the entries it stands for: the log now starts after entry
// s.Index, and the segments holding only such entries are deleted, as
// RocketMQ's retention deletes old CommitLog files. Durable after the next
// Sync.
func (m *MemStore) Compact(s core.Snapshot) error {
	im := &m.live
	if s.Index <= im.base.Index || s.Index > im.lastIndex {
		return fmt.Errorf("%w: compact at entry %d: the log holds %d..%d", ErrInvalid, s.Index, im.base.Index+1, im.lastIndex)
	}
	r := im.record(s.Index)
	if r.Term != s.Term {
		return fmt.Errorf("%w: compact at entry %d of term %d: the log has term %d there", ErrInvalid, s.Index, s.Term, r.Term)
	}
	seg := im.segmentAt(r.Pos, m.opts.SegmentSize)
	h, err := DecodeHeader(seg.buf[r.Pos-seg.start:])
	if err != nil {
		return fmt.Errorf("commitlog: header of entry %d at %d: %w", s.Index, r.Pos, err)
	}
	im.base = Base{Index: s.Index, Term: s.Term, End: r.Pos + int64(r.Size), Chain: h.ChainCRC}
	im.snap = s
	if k := int((im.base.End - im.firstStart(m.opts.SegmentSize)) / m.opts.SegmentSize); k > 0 {
		im.sealed = slices.Clone(im.sealed[min(k, len(im.sealed)):])
	}
	m.dirty = true
	return nil
}

// InstallSnapshot replaces the whole log by snapshot s, installed from the
// leader (Raft §7): no entry is kept, and the next entry, s.Index+1, is
// written at CommitLog position end (where the leader's is: the end of
// entry s.Index, which the snapshot's state machine gives). Durable after
// the next Sync.
func (m *MemStore) InstallSnapshot(s core.Snapshot, end int64) {
	im := &m.live
	im.sealed, im.tail, im.hasTail = nil, memSegment{}, false
	im.base = Base{Index: s.Index, Term: s.Term, End: end}
	im.snap = s
	im.index = AppendIndexRecord(make([]byte, 0, IndexOffset(s.Index)+2*IndexRecordSize), IndexHeader())
	im.index = im.index[:IndexOffset(s.Index)+IndexRecordSize]
	im.lastIndex, im.lastTerm, im.lastChain = s.Index, s.Term, 0
	m.dirty = true
}

// LastTerm returns the term of the last entry written (0 if none).
func (m *MemStore) LastTerm() uint64 { return m.live.lastTerm }

// Entries returns the entries with lo <= Index < hi (core.Storage), decoded
// from the segment bytes. Their Data is a copy: later writes do not change it.
func (m *MemStore) Entries(lo, hi uint64) ([]core.Entry, error) {
	if lo <= m.live.base.Index || hi < lo || hi > m.live.lastIndex+1 {
		return nil, fmt.Errorf("%w: entries [%d, %d) outside the log [%d, %d]", ErrInvalid, lo, hi, m.live.base.Index+1, m.live.lastIndex)
	}
	if lo == hi {
		return nil, nil
	}
	var total int64
	for i := lo; i < hi; i++ {
		total += int64(m.live.record(i).Size) - HeaderSize
	}
	data := make([]byte, 0, total)
	out := make([]core.Entry, 0, hi-lo)
	codec := m.opts.codec()
	for i := lo; i < hi; i++ {
		r := m.live.record(i)
		seg := m.live.segmentAt(r.Pos, m.opts.SegmentSize)
		e, _, err := codec.DecodeEntry(seg.buf[r.Pos-seg.start:], r.Pos)
		if err != nil {
			return nil, fmt.Errorf("commitlog: entry %d in segment %s: %w", i, SegmentName(seg.start), err)
		}
		n := len(data)
		data = append(data, e.Data...)
		e.Data = data[n:len(data):len(data)]
		out = append(out, e)
	}
	return out, nil
}

// ReadEntries returns the adjacent entries starting at pos, of the given
// encoded sizes (broker.CommitLogRunReader); they must lie in one segment.
// The data are copies.
func (m *MemStore) ReadEntries(pos int64, sizes []int32) ([]core.Entry, error) {
	out := make([]core.Entry, 0, len(sizes))
	for _, n := range sizes {
		e, err := m.ReadEntry(pos, n)
		if err != nil {
			return nil, err
		}
		out = append(out, e)
		pos += int64(n)
	}
	return out, nil
}

// ReadEntry returns the entry stored at pos with encoded size size,
// decoded and checked (broker.CommitLogReader): a consumer's message read
// back by its queue record. The data is a copy.
func (m *MemStore) ReadEntry(pos int64, size int32) (core.Entry, error) {
	if first := m.live.firstStart(m.opts.SegmentSize); pos < first || size < HeaderSize || pos+int64(size) > m.live.end() {
		return core.Entry{}, fmt.Errorf("%w: entry at %d of %d bytes is outside the CommitLog (%d..%d; retention deleted what is before)", ErrInvalid, pos, size, first, m.live.end())
	}
	seg := m.live.segmentAt(pos, m.opts.SegmentSize)
	if pos+int64(size) > seg.start+int64(len(seg.buf)) {
		return core.Entry{}, fmt.Errorf("%w: entry at %d of %d bytes crosses the end of segment %s", ErrInvalid, pos, size, SegmentName(seg.start))
	}
	e, _, err := m.opts.codec().DecodeEntry(seg.buf[pos-seg.start:pos-seg.start+int64(size)], pos)
	if err != nil {
		return core.Entry{}, fmt.Errorf("commitlog: entry at %d in segment %s: %w", pos, SegmentName(seg.start), err)
	}
	e.Data = append([]byte(nil), e.Data...)
	return e, nil
}

// SetHardState records the hard state; it is durable after the next Sync.
func (m *MemStore) SetHardState(hs core.HardState) {
	if hs != m.live.hs {
		m.live.hs, m.dirty = hs, true
	}
}

// Append writes consecutive entries. If entries[0].Index <= LastIndex the log
// is first truncated from that index: a follower dropping the uncommitted
// suffix that conflicts with the leader (Raft §5.3). The entries are
// durable after the next Sync. Nothing is written when an error is returned:
// a gap, an unknown type, a term lower than the entry before, or a body or
// entry too large (*TooLargeError).
func (m *MemStore) Append(entries []core.Entry) error {
	if len(entries) == 0 {
		return nil
	}
	first := entries[0].Index
	if first < 1 || first > m.live.lastIndex+1 {
		return fmt.Errorf("%w: append at index %d, log ends at %d", ErrInvalid, first, m.live.lastIndex)
	}
	if first <= m.live.base.Index {
		return fmt.Errorf("%w: append at index %d, the log starts after %d", ErrInvalid, first, m.live.base.Index)
	}
	prevTerm := uint64(0)
	if first > 1 {
		prevTerm, _ = m.Term(first - 1)
	}
	for k, e := range entries {
		if e.Index != first+uint64(k) {
			return fmt.Errorf("%w: entry %d follows entry %d", ErrInvalid, e.Index, first+uint64(k)-1)
		}
		if e.Term < prevTerm {
			return fmt.Errorf("%w: entry %d has term %d after term %d", ErrInvalid, e.Index, e.Term, prevTerm)
		}
		prevTerm = e.Term
		if _, ok := MagicOf(e.Type); !ok {
			return fmt.Errorf("%w: entry %d has unknown type %s", ErrInvalid, e.Index, e.Type)
		}
		if len(e.Data) > m.opts.MaxBodySize {
			return &TooLargeError{Index: e.Index, What: "body", Size: int64(len(e.Data)), Max: int64(m.opts.MaxBodySize)}
		}
		if size := int64(EncodedSize(len(e.Data))); size > m.opts.MaxEntrySize() {
			return &TooLargeError{Index: e.Index, What: "entry", Size: size, Max: m.opts.MaxEntrySize()}
		}
	}
	m.dirty = true
	if first <= m.live.lastIndex {
		m.live.truncate(first, m.opts.SegmentSize)
	}
	for _, e := range entries {
		if err := m.live.write(e, m.opts); err != nil {
			panic(fmt.Sprintf("commitlog: checked entry %v failed to encode: %v", e, err))
		}
	}
	return nil
}

// Sync makes everything written so far durable (fsync of segments, index
// and hard state).
func (m *MemStore) Sync() {
	if m.dirty {
		m.durable, m.dirty = m.live.share(), false
	}
}

// Crash loses everything not synced: the live image becomes the durable one.
// See the durability model at the top of memstore.go.
func (m *MemStore) Crash() { m.live, m.dirty = m.durable.share(), false }

// Unsynced reports whether anything was written since the last Sync.
func (m *MemStore) Unsynced() bool {
	return m.live.hs != m.durable.hs || m.live.lastIndex != m.durable.lastIndex ||
		m.live.end() != m.durable.end() || m.live.lastChain != m.durable.lastChain
}

// DurableLastIndex returns the last entry index that would survive a crash.
func (m *MemStore) DurableLastIndex() uint64 { return m.durable.lastIndex }

// DurableEnd returns the CommitLog position where durable data ends.
func (m *MemStore) DurableEnd() int64 { return m.durable.end() }

// End returns the CommitLog position where the next entry would be written
// (before any roll-over).
func (m *MemStore) End() int64 { return m.live.end() }

// Position returns where entry index lies in the CommitLog and its encoded
// size, read from the index; ok is false outside [1, LastIndex].
func (m *MemStore) Position(index uint64) (pos int64, size int32, ok bool) {
	if index <= m.live.base.Index || index > m.live.lastIndex {
		return 0, 0, false
	}
	r := m.live.record(index)
	return r.Pos, r.Size, true
}

// Term returns the term of entry index from the index records; ok is false
// outside [1, LastIndex].
func (m *MemStore) Term(index uint64) (term uint64, ok bool) {
	if index < 1 || index < m.live.base.Index || index > m.live.lastIndex {
		return 0, false
	}
	if index == m.live.lastIndex {
		return m.live.lastTerm, true // the usual question: the previous entry of an append
	}
	if index == m.live.base.Index {
		return m.live.base.Term, true
	}
	return m.live.record(index).Term, true
}

// Segments describes the live segments, first to last.
func (m *MemStore) Segments() []SegmentInfo {
	all := m.live.segs()
	out := make([]SegmentInfo, len(all))
	for i, s := range all {
		out[i] = SegmentInfo{Name: SegmentName(s.start), Start: s.start, Used: int64(len(s.buf)), Capacity: m.opts.SegmentSize}
	}
	return out
}

// FlipByte corrupts the durable image: it inverts the byte at CommitLog
// position pos, as a failing disk would. The live image (the page cache)
// keeps the good byte, so the damage shows only after Crash and Reopen.
// pos must lie inside durable data (e.g. DurableEnd()-1 for the last byte).
// In this model a later Sync copies the live image over the durable one and
// so heals the flip: inject it after the last Sync before Crash or Reopen.
func (m *MemStore) FlipByte(pos int64) error {
	for i, s := range m.durable.segs() {
		if pos >= s.start && pos < s.start+int64(len(s.buf)) {
			b := slices.Clone(s.buf)
			b[pos-s.start] ^= 0xFF
			b = b[:len(b):len(b)]
			if i < len(m.durable.sealed) {
				m.durable.sealed = slices.Clip(slices.Clone(m.durable.sealed)) // shared with live
				m.durable.sealed[i].buf = b
			} else {
				m.durable.tail.buf = b
			}
			return nil
		}
	}
	return fmt.Errorf("%w: position %d is not inside durable data (end %d)", ErrInvalid, pos, m.durable.end())
}

// FlipIndexByte corrupts byte off of the durable index image. Recover
// rebuilds the index from the data and reports it.
func (m *MemStore) FlipIndexByte(off int64) error {
	if off < 0 || off >= int64(len(m.durable.index)) {
		return fmt.Errorf("%w: index offset %d outside [0, %d)", ErrInvalid, off, len(m.durable.index))
	}
	b := slices.Clone(m.durable.index)
	b[off] ^= 0xFF
	m.durable.index = b[:len(b):len(b)]
	return nil
}

// Reopen is a restart: it runs Recover over the durable image and returns a
// new store holding what recovery kept (live and durable alike), with the
// Report of what was discarded. On a *CorruptError it returns nil and the
// error; m itself is never changed.
func (m *MemStore) Reopen() (*MemStore, *Report, error) {
	durable := m.durable.segs()
	segs := make([]Segment, len(durable))
	for i, s := range durable {
		segs[i] = Segment{Start: s.start, Data: bytes.NewReader(s.buf), Size: int64(len(s.buf))}
	}
	idx := m.durable.index
	rec, rep, err := RecoverFrom(segs, bytes.NewReader(idx), int64(len(idx)), m.opts, m.durable.base)
	if err != nil {
		return nil, rep, err
	}
	n := &MemStore{opts: m.opts}
	var kept []memSegment
	for _, s := range durable {
		keep := min(int64(len(s.buf)), rec.End-s.start)
		if keep <= 0 {
			break
		}
		kept = append(kept, memSegment{start: s.start, buf: slices.Clone(s.buf[:keep])})
	}
	if k := len(kept); k > 0 {
		if last := kept[k-1]; int64(len(last.buf)) < m.opts.SegmentSize {
			n.live.tail, n.live.hasTail = last, true
			kept = kept[:k-1]
		}
	}
	n.live.sealed = kept
	n.live.index = append(slices.Clone(idx[:rec.IndexKeep]), rec.IndexAppend...)
	n.live.hs = m.durable.hs
	n.live.snap, n.live.base = m.durable.snap, m.durable.base
	n.live.lastIndex, n.live.lastTerm, n.live.lastChain = rec.LastIndex, rec.LastTerm, rec.LastChain
	n.durable = n.live.share()
	return n, rep, nil
}

// Clone returns an independent copy of m (the simulator's checkpoints for
// rewind): what either store does later never shows in the other. The two
// share their byte arrays, as live and durable images do (see share): no
// image changes a byte it holds, and a clipped one copies before it grows.
func (m *MemStore) Clone() *MemStore {
	return &MemStore{opts: m.opts, live: m.live.share(), durable: m.durable.share(), dirty: m.dirty}
}

// end returns the position after the last byte written.
func (im *image) end() int64 {
	if im.hasTail {
		return im.tail.start + int64(len(im.tail.buf))
	}
	if n := len(im.sealed); n > 0 {
		return im.sealed[n-1].start + int64(len(im.sealed[n-1].buf))
	}
	return im.base.End
}

// firstStart returns the position of the first segment: 0, unless the log
// starts after a base.
func (im *image) firstStart(segSize int64) int64 {
	switch {
	case len(im.sealed) > 0:
		return im.sealed[0].start
	case im.hasTail:
		return im.tail.start
	}
	return im.base.End - im.base.End%segSize
}

// segs returns every segment, first to last (a new slice).
func (im *image) segs() []memSegment {
	out := slices.Clone(im.sealed)
	if im.hasTail {
		out = append(out, im.tail)
	}
	return out
}

// record returns the index record of entry i (1 <= i <= lastIndex).
func (im *image) record(i uint64) IndexRecord {
	if i <= im.base.Index {
		panic(fmt.Sprintf("commitlog: index record %d asked for; the log starts after %d", i, im.base.Index))
	}
	off := IndexOffset(i)
	r, err := DecodeIndexRecord(im.index[off : off+IndexRecordSize])
	if err != nil || r.Index != i {
		panic(fmt.Sprintf("commitlog: index record %d is %+v (%v); index has %d bytes", i, r, err, len(im.index)))
	}
	return r
}

// segmentAt returns the segment holding position pos.
func (im *image) segmentAt(pos, segSize int64) memSegment {
	first := im.firstStart(segSize)
	k := (pos - first) / segSize
	switch {
	case pos >= first && k < int64(len(im.sealed)):
		return im.sealed[k]
	case im.hasTail && im.tail.start == first+k*segSize:
		return im.tail
	}
	panic(fmt.Sprintf("commitlog: no segment for position %d among %d sealed segments", pos, len(im.sealed)))
}

// write appends one checked entry, sealing the last segment with an
// end-of-segment marker first if the entry does not fit
// (MmapFileList.preAppend).
func (im *image) write(e core.Entry, opts Options) error {
	size := int64(EncodedSize(len(e.Data)))
	end := im.end()
	newTail := func() {
		// A log that starts after a base begins mid-segment: the bytes
		// before its first entry are zero and never read.
		start := end - end%opts.SegmentSize
		im.tail = memSegment{start: start, buf: make([]byte, end-start, max(end-start, min(opts.SegmentSize, 64<<10)))}
		im.hasTail = true
	}
	if !im.hasTail {
		newTail()
	}
	if !opts.Fits(end-im.tail.start, size) {
		im.tail.buf = AppendBlank(im.tail.buf, opts.SegmentSize-(end-im.tail.start))
		end = im.tail.start + opts.SegmentSize
	}
	if end == im.tail.start+opts.SegmentSize {
		im.sealed = append(im.sealed, im.tail)
		newTail()
	}
	seg := &im.tail
	buf, h, err := opts.codec().AppendEntry(seg.buf, e, end, im.lastChain)
	if err != nil {
		return err
	}
	seg.buf = buf
	if cap(im.index)-len(im.index) < IndexRecordSize {
		// Double, rather than append's quarter for long slices: the index
		// grows by one record per entry for as long as the log lives.
		im.index = slices.Grow(im.index, max(IndexRecordSize, len(im.index)))
	}
	im.index = AppendIndexRecord(im.index, RecordOf(h))
	im.lastIndex, im.lastTerm, im.lastChain = h.Index, h.Term, h.ChainCRC
	return nil
}

// truncate drops entries first.. (first <= lastIndex): segments past the
// entry go, the segment holding it is cut, and so is the index. Cut byte
// arrays are copied, because the durable image may share them.
func (im *image) truncate(first uint64, segSize int64) {
	pos := im.record(first).Pos
	k := int((pos - im.firstStart(segSize)) / segSize)
	seg := im.segmentAt(pos, segSize)
	if k < len(im.sealed) {
		im.sealed = im.sealed[:k:k]
	}
	im.hasTail = false
	if off := pos - seg.start; off > 0 {
		im.tail = memSegment{start: seg.start, buf: slices.Clone(seg.buf[:off])}
		im.hasTail = true
	}
	im.index = slices.Clone(im.index[:IndexOffset(first)])
	im.lastIndex, im.lastTerm, im.lastChain = first-1, 0, 0
	if first-1 == im.base.Index {
		im.lastTerm, im.lastChain = im.base.Term, im.base.Chain
	} else if first > 1 {
		r := im.record(first - 1)
		seg := im.segmentAt(r.Pos, segSize)
		h, err := DecodeHeader(seg.buf[r.Pos-seg.start:])
		if err != nil {
			panic(fmt.Sprintf("commitlog: header of entry %d at %d: %v", first-1, r.Pos, err))
		}
		im.lastTerm, im.lastChain = h.Term, h.ChainCRC
	}
}

// share returns a copy of im whose byte slices are clipped to their length,
// so appending to either copy never writes into the other's bytes.
func (im *image) share() image {
	c := *im
	c.sealed = slices.Clip(im.sealed)
	c.tail.buf = slices.Clip(im.tail.buf)
	c.index = slices.Clip(im.index)
	return c
}
