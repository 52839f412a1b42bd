// Package store is the native broker's disk: DLedger's CommitLog
// (DLedgerMmapFileStore) as segment files and an index file in the layout of
// dledgerlab/core/commitlog, plus the replica's term and vote.
//
// Files in the data folder:
//
//	00000000000000000000   CommitLog segments, named by their start position
//	00000000000067108864   (commitlog.SegmentName), Options.SegmentSize each
//	index                  32-byte index records (commitlog.IndexRecordSize)
//	term                   term and vote, replaced atomically (temp, fsync, rename, fsync dir)
//	commit                 last known commit index, a hint (see below)
//	consumequeue/          the broker's ConsumeQueue files, and
//	checkpoint             the broker's state they agree with (queues.go)
//	trusted                the last entry the checkpoint made durable: the
//	                       recovery scan starts after it
//	snapshot               the broker's state at the entry the log starts
//	                       after, once retention deleted segments or the
//	                       leader's snapshot was installed (snapshot.go)
//
// Durability. Append only writes; Sync makes everything appended since the
// last Sync durable with one fdatasync per segment touched (group commit: a
// runner calls Sync once per core.Ready, so every entry of a batch shares one
// fsync). The index is derived data: commitlog.Recover rebuilds records that
// are missing or wrong from the segments, so the index is written but never
// waited for. The term file is replaced atomically whenever term or vote
// change, before Sync returns, because a vote promises durable state (Raft
// Figure 2). The commit index is written after the data it covers is durable
// and is not fsynced: losing it only makes a restarted broker re-learn the
// commit index from the leader, which Raft allows (it is volatile state in the
// paper). Appends land in zeros the store wrote ahead of the log's end
// (PreallocateBytes at a time, as RocketMQ warms its mapped files), so an
// fdatasync flushes data into blocks the file already has and needs no
// journal commit for a larger file; a restart keeps them.
//
// Recovery. Open runs commitlog.Recover over the files: a torn tail of the
// last segment is cut off and reported; damage before the tail is an error
// naming the file and offset, and the broker refuses to start. After a
// checkpoint only the entries after the trusted one, and the newest three
// segments whole, are scanned (commitlog.RecoverAfter): a restart costs
// the log's tail, not the log; damage to older entries is found when they
// are read.
package store

import (
	"encoding/binary"
	"errors"
	"fmt"
	"hash/crc32"
	"log/slog"
	"os"
	"path/filepath"
	"slices"
	"sync/atomic"

	"dledgerlab/core"
	"dledgerlab/core/commitlog"
)

// File names in the data folder.
const (
	IndexFile  = "index"
	TermFile   = "term"
	CommitFile = "commit"
)

// ErrCorrupt is wrapped by errors about damaged term files; damaged segments
// return the *commitlog.CorruptError (matching commitlog.ErrCorrupt).
var ErrCorrupt = errors.New("store: corrupt file")

// ErrSyncFailed is wrapped by the error of a failed fsync and by every call
// after it. After a failed fsync the kernel may have dropped the dirty pages
// and cleared the error, so a second fsync can report success for data that
// is not on the disk (PostgreSQL's "fsyncgate", 2018): the store never calls
// fsync again, refuses every write, and its owner must stop. On the next
// start the recovery scan checks what the files really hold.
var ErrSyncFailed = errors.New("store: fsync failed; the disk is no longer trusted")

// Options configure a Store.
type Options struct {
	// SegmentSize is the capacity of one segment file (0: 64 MiB).
	SegmentSize int64
	// MaxBodySize is the largest entry body (0: 4 MiB).
	MaxBodySize int
	// NoSync skips fsync (tests of logic only; never for a real broker).
	NoSync bool
	// SyncFile is the fsync the store calls on a file or on the data folder
	// (nil: fdatasync for files, File.Sync for the folder). Tests inject
	// failures through it.
	SyncFile func(*os.File) error
	// Logger receives the recovery report; nil means slog.Default().
	Logger *slog.Logger
	// QueueFileUnits is how many units one ConsumeQueue file holds (0:
	// QueueFileUnits, RocketMQ's 300,000); tests make it small.
	QueueFileUnits uint64
}

// Store is a CommitLog in a folder. It implements core.Storage. It is not
// safe for concurrent use: the runner goroutine owns it.
type Store struct {
	dir    string
	opts   commitlog.Options
	nosync bool
	sync   func(*os.File) error // Options.SyncFile; nil: the platform's
	// syncErr is the first failed fsync; once set, no fsync is called again
	// and every write or sync returns it (ErrSyncFailed).
	syncErr error
	log     *slog.Logger

	segs  []*segment // in position order; segs[k].start == k*SegmentSize
	index *os.File
	// commitF holds the commit hint, rewritten in place (12 bytes).
	commitF *os.File
	// recs are the index file's records, entry 1..lastIndex: the newest
	// in memory, the rest read from the file (records.go).
	recs      indexRecords
	lastTerm  uint64
	lastChain uint32

	hs       core.HardState // as last set
	termVote core.HardState // term and vote as last written to the term file
	commit   uint64         // commit as last written to the commit file

	// dirty lists segments written since the last Sync.
	dirty  map[*segment]bool
	fsyncs atomic.Uint64
	closed bool

	// queues are the broker's ConsumeQueue files (queues.go), nil until
	// Queues is called; queueUnits is Options.QueueFileUnits.
	queues     *Queues
	queueUnits uint64

	// base is where the log starts (zero: at entry 1, position 0) and snap
	// the snapshot standing for the entries up to base.Index, as the
	// snapshot file holds them (snapshot.go).
	//
	// Invariant: base.Index == snap.Index; segs[0], if any, holds
	// base.End; recs holds records base.Index+1..LastIndex.
	base commitlog.Base
	snap core.Snapshot
}

// segment is one open segment file.
type segment struct {
	start int64
	f     *os.File
	size  int64 // bytes written
	// zeroed is the file's length: the bytes from size to zeroed are
	// zeros written ahead of the log (Store.preallocate).
	zeroed int64
}

// PreallocateBytes is how far ahead of its last entry the store writes
// zeros into the last segment (Store.preallocate).
const PreallocateBytes = 1 << 20

// zeros is what preallocate writes; never written to.
var zeros [PreallocateBytes]byte

// preallocate writes zeros after end, up to PreallocateBytes past it (at
// most to the segment's capacity), when the segment's zeroed space ends
// before end: the next appends then overwrite blocks the file already has,
// and their fdatasync flushes the data alone, with no block allocation and
// no journal commit for a larger file. On this machine's ext4 that made a
// 256-byte write+fdatasync a third faster and cheaper in CPU
// (docs/BENCHMARKS.md, "Writing into zeroed space"). RocketMQ does the same
// for its CommitLog: AllocateMappedFileService creates the next file ahead
// and MappedFile.warmMappedFile writes zeros through it. Recovery treats
// the zeros after the last entry as free space (commitlog.Options.
// Preallocated); the zeros become durable with the next Sync.
func (s *Store) preallocate(sg *segment, end int64) error {
	z, err := ZeroAhead(sg.f, end, sg.zeroed, s.opts.SegmentSize)
	if err != nil {
		return fmt.Errorf("write %s: %w", sg.f.Name(), err)
	}
	sg.zeroed = z
	return nil
}

// ZeroAhead is the store's way of writing into zeroed space, for f whose
// bytes up to zeroed are written: when end (where the data written last
// ends) passes zeroed, it writes zeros from end to PreallocateBytes past
// it, at most to limit, and returns the new end of the zeroed bytes.
// bench's disk probe writes with it too, so that it measures the fsync the
// store pays.
func ZeroAhead(f *os.File, end, zeroed, limit int64) (int64, error) {
	if end <= zeroed {
		return zeroed, nil
	}
	to := min(end+PreallocateBytes, limit)
	if to <= end {
		return end, nil
	}
	if _, err := f.WriteAt(zeros[:to-end], end); err != nil {
		return end, err
	}
	return to, nil
}

// Open opens (creating if needed) the store in dir and runs the recovery
// scan. The report lists what recovery discarded or rebuilt; it is also
// logged. Damage before the tail of the log returns an error naming the file
// and offset (errors.Is(err, commitlog.ErrCorrupt)).
func Open(dir string, o Options) (*Store, *commitlog.Report, error) {
	opts := commitlog.Options{SegmentSize: o.SegmentSize, MaxBodySize: o.MaxBodySize, Preallocated: true}.WithDefaults()
	if err := opts.Validate(); err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, nil, err
	}
	s := &Store{dir: dir, opts: opts, nosync: o.NoSync, sync: o.SyncFile, log: o.Logger, dirty: map[*segment]bool{}, queueUnits: o.QueueFileUnits}
	if s.log == nil {
		s.log = slog.Default()
	}
	rep, err := s.open()
	if err != nil {
		s.closeFiles()
		return nil, rep, err
	}
	return s, rep, nil
}

func (s *Store) open() (*commitlog.Report, error) {
	hs, err := readTerm(filepath.Join(s.dir, TermFile))
	if err != nil {
		return nil, err
	}
	s.termVote = hs
	if err := s.readSnapshot(); err != nil {
		return nil, err
	}
	ents, err := os.ReadDir(s.dir)
	if err != nil {
		return nil, err
	}
	for _, e := range ents {
		start, err := commitlog.ParseSegmentName(e.Name())
		if err != nil || !e.Type().IsRegular() {
			continue
		}
		f, err := os.OpenFile(filepath.Join(s.dir, e.Name()), os.O_RDWR, 0)
		if err != nil {
			return nil, err
		}
		st, err := f.Stat()
		if err != nil {
			f.Close()
			return nil, err
		}
		s.segs = append(s.segs, &segment{start: start, f: f, size: st.Size(), zeroed: st.Size()})
	}
	slices.SortFunc(s.segs, func(a, b *segment) int { return int(sign(a.start - b.start)) })

	newIndex := false
	s.index, err = os.OpenFile(filepath.Join(s.dir, IndexFile), os.O_RDWR, 0)
	if errors.Is(err, os.ErrNotExist) {
		s.index, err = os.OpenFile(filepath.Join(s.dir, IndexFile), os.O_RDWR|os.O_CREATE, 0o644)
		newIndex = true
	}
	if err != nil {
		return nil, err
	}
	ist, err := s.index.Stat()
	if err != nil {
		return nil, err
	}
	if newIndex && len(s.segs) == 0 {
		if _, err := s.index.WriteAt(commitlog.AppendIndexRecord(nil, commitlog.IndexHeader()), 0); err != nil {
			return nil, err
		}
		if err := s.syncFile(s.index); err != nil {
			return nil, err
		}
		if err := s.syncDir(); err != nil {
			return nil, err
		}
		ist, _ = s.index.Stat()
	}

	if !s.base.IsZero() {
		if err := s.matchSnapshot(); err != nil {
			return nil, err
		}
		if ist, err = s.index.Stat(); err != nil {
			return nil, err
		}
	}
	in := make([]commitlog.Segment, len(s.segs))
	for i, sg := range s.segs {
		in[i] = commitlog.Segment{Start: sg.start, Data: sg.f, Size: sg.size}
	}
	var (
		rec commitlog.Recovered
		rep *commitlog.Report
	)
	if s.base.IsZero() {
		rec, rep, err = commitlog.RecoverAfter(in, s.index, ist.Size(), s.opts, s.scanFrom(readTrusted(filepath.Join(s.dir, TrustedFile))))
	} else {
		// Retention keeps the log after the snapshot short: it is scanned
		// whole, from the snapshot's end on.
		rec, rep, err = commitlog.RecoverFrom(in, s.index, ist.Size(), s.opts, s.base)
	}
	if err != nil {
		var ce *commitlog.CorruptError
		if errors.As(err, &ce) {
			file := filepath.Join(s.dir, ce.Segment)
			s.log.Error("recovery refused to start: the CommitLog is damaged before its tail",
				"file", file, "offset", ce.Offset, "reason", string(ce.Reason), "detail", ce.Detail)
			return rep, fmt.Errorf("recovery refused: file %s, offset %d: %s: %w", file, ce.Offset, ce.Reason, err)
		}
		s.log.Error("recovery failed", "dir", s.dir, "err", err)
		return rep, fmt.Errorf("recovery of %s: %w", s.dir, err)
	}
	s.logReport(rep)
	if err := s.applyRecovered(rec, rep); err != nil {
		return rep, err
	}
	if s.termVote.Term < s.lastTerm {
		// Entries of term T reached the disk but the term file did not (a
		// crash inside Sync). No vote in T was announced — messages leave
		// only after Sync — so T with no vote is the honest state.
		s.log.Info("recovery raised the term to the log's last term (the term file was behind it)", "term", s.termVote.Term, "last_log_term", s.lastTerm)
		s.termVote = core.HardState{Term: s.lastTerm}
	}
	s.commit = readCommit(filepath.Join(s.dir, CommitFile))
	if last := s.LastIndex(); s.commit > last {
		s.log.Warn("recovery lowered the commit hint to the end of the recovered log; the leader sends the rest again", "commit", s.commit, "last_index", last)
		s.commit = last
	}
	s.hs = core.HardState{Term: s.termVote.Term, Vote: s.termVote.Vote, Commit: s.commit}
	return rep, nil
}

// fullScanSegments is how many of the newest segments recovery checks
// whole even after a checkpoint, as RocketMQ's recoverNormally checks the
// last three CommitLog files.
const fullScanSegments = 3

// scanFrom returns the entry after which recovery starts: the trusted one,
// or the first entry of the newest fullScanSegments segments if that is
// earlier; a zero header (scan everything) when the log has no more
// segments than that, or nothing is trusted.
func (s *Store) scanFrom(trusted commitlog.Header) commitlog.Header {
	k := len(s.segs) - fullScanSegments
	if trusted.Index == 0 || k <= 0 {
		return commitlog.Header{}
	}
	var b [commitlog.HeaderSize]byte
	if _, err := s.segs[k].f.ReadAt(b[:], 0); err != nil {
		return commitlog.Header{}
	}
	h, err := commitlog.DecodeHeader(b[:])
	if err != nil || h.Pos != s.segs[k].start {
		return commitlog.Header{}
	}
	if h.Index < trusted.Index {
		return h
	}
	return trusted
}

// logReport says what recovery did, at the level a reader should take it
// at: the index is derived from the CommitLog, so rebuilding it loses
// nothing (info); bytes cut from a segment's torn tail were never
// acknowledged, but they are gone (warn, with file, offset and bytes).
func (s *Store) logReport(rep *commitlog.Report) {
	for _, it := range rep.Items {
		file := filepath.Join(s.dir, it.Segment)
		if it.Segment == commitlog.IndexFile {
			s.log.Info("recovery rebuilt index records from the CommitLog", "file", file, "from_offset", it.Offset,
				"stale_bytes", it.Bytes, "reason", string(it.Reason), "detail", it.Detail)
			continue
		}
		s.log.Warn("recovery cut a torn tail from the CommitLog", "file", file, "offset", it.Offset,
			"bytes", it.Bytes, "reason", string(it.Reason), "detail", it.Detail)
	}
}

// applyRecovered makes the files match what Recover kept and loads the
// index records. A torn tail is cut off; zeros after the last entry (no
// report item: Recover reads them as free space) are the ones the store
// wrote ahead, and stay.
func (s *Store) applyRecovered(rec commitlog.Recovered, rep *commitlog.Report) error {
	torn := map[string]bool{}
	for _, it := range rep.Items {
		torn[it.Segment] = true
	}
	keep := s.segs[:0]
	for _, sg := range s.segs {
		switch n := rec.End - sg.start; {
		case n <= 0:
			name := sg.f.Name()
			sg.f.Close()
			if err := os.Remove(name); err != nil {
				return err
			}
		default:
			if n < sg.size && !torn[commitlog.SegmentName(sg.start)] {
				sg.size = n // sg.zeroed stays the file's length
			}
			if n < sg.size {
				if err := sg.f.Truncate(n); err != nil {
					return err
				}
				if err := s.syncFile(sg.f); err != nil {
					return err
				}
				sg.size, sg.zeroed = n, n
			}
			keep = append(keep, sg)
		}
	}
	s.segs = keep
	if err := s.index.Truncate(rec.IndexKeep); err != nil {
		return err
	}
	if len(rec.IndexAppend) > 0 {
		if _, err := s.index.WriteAt(rec.IndexAppend, rec.IndexKeep); err != nil {
			return err
		}
	}
	if err := s.syncFile(s.index); err != nil {
		return err
	}
	if err := s.syncDir(); err != nil {
		return err
	}
	// Recover checked every record against the data; the newest are
	// loaded, the rest are read when asked for.
	s.recs.f, s.recs.base = s.index, s.base.Index
	if err := s.recs.load(rec.LastIndex); err != nil {
		return err
	}
	s.lastTerm, s.lastChain = rec.LastTerm, rec.LastChain
	return nil
}

// Dir returns the data folder.
func (s *Store) Dir() string { return s.dir }

// Options returns the CommitLog geometry.
func (s *Store) Options() commitlog.Options { return s.opts }

// InitialState returns the persisted hard state (core.Storage).
func (s *Store) InitialState() (core.HardState, error) { return s.hs, nil }

// LastIndex returns the index of the last entry (core.Storage).
func (s *Store) LastIndex() uint64 { return s.recs.n }

// Snapshot returns the snapshot the log starts after (core.Storage): the
// snapshot file's, zero if the log starts at entry 1.
func (s *Store) Snapshot() (core.Snapshot, error) { return s.snap, nil }

// Base returns where the log starts (zero: at entry 1, position 0).
func (s *Store) Base() commitlog.Base { return s.base }

// LastTerm returns the term of the last entry, 0 if none.
func (s *Store) LastTerm() uint64 { return s.lastTerm }

// Term returns the term of entry i from its index record (core.Storage).
func (s *Store) Term(i uint64) (uint64, bool) {
	if i == s.base.Index && i > 0 {
		return s.base.Term, true
	}
	if i <= s.base.Index || i > s.LastIndex() {
		return 0, false
	}
	r, err := s.recs.get(i)
	if err != nil {
		s.log.Error("reading the index failed", "entry", i, "err", err)
		return 0, false
	}
	return r.Term, true
}

// Fsyncs returns how many fsyncs the store has issued.
func (s *Store) Fsyncs() uint64 { return s.fsyncs.Load() }

// Position returns where entry index lies in the CommitLog and its encoded
// size; ok is false outside the log (entries after the snapshot, up to
// LastIndex).
func (s *Store) Position(index uint64) (pos int64, size int32, ok bool) {
	if index <= s.base.Index || index > s.LastIndex() {
		return 0, 0, false
	}
	r, err := s.recs.get(index)
	if err != nil {
		s.log.Error("reading the index failed", "entry", index, "err", err)
		return 0, 0, false
	}
	return r.Pos, r.Size, true
}

// Entries returns the entries lo <= Index < hi read from the segment files
// (core.Storage).
func (s *Store) Entries(lo, hi uint64) ([]core.Entry, error) {
	if lo <= s.base.Index || hi < lo || hi > s.LastIndex()+1 {
		return nil, fmt.Errorf("%w: entries [%d, %d) outside the log [%d, %d]", commitlog.ErrInvalid, lo, hi, s.base.Index+1, s.LastIndex())
	}
	recs, err := s.recs.span(lo, hi)
	if err != nil {
		return nil, err
	}
	out := make([]core.Entry, 0, hi-lo)
	codec := commitlog.Codec{MaxBodySize: s.opts.MaxBodySize}
	for k := 0; k < len(recs); {
		// Read a run of entries of one segment with one ReadAt.
		first := recs[k]
		sg := s.segmentAt(first.Pos)
		j := k
		end := first.Pos
		for j < len(recs) && recs[j].Pos >= sg.start && recs[j].Pos < sg.start+s.opts.SegmentSize && end-first.Pos < 8<<20 {
			end = recs[j].Pos + int64(recs[j].Size)
			j++
		}
		buf := make([]byte, end-first.Pos)
		if _, err := sg.f.ReadAt(buf, first.Pos-sg.start); err != nil {
			return nil, fmt.Errorf("read %s at %d: %w", sg.f.Name(), first.Pos-sg.start, err)
		}
		for _, r := range recs[k:j] {
			e, _, err := codec.DecodeEntry(buf[r.Pos-first.Pos:], r.Pos)
			if err != nil {
				return nil, fmt.Errorf("entry %d in %s: %w", r.Index, sg.f.Name(), err)
			}
			out = append(out, e)
		}
		k = j
	}
	return out, nil
}

// ReadEntries reads the adjacent entries starting at pos, of the given
// encoded sizes, with one read (broker.CommitLogRunReader); they must lie
// in one segment.
func (s *Store) ReadEntries(pos int64, sizes []int32) ([]core.Entry, error) {
	total := int64(0)
	for _, n := range sizes {
		if n < commitlog.HeaderSize {
			return nil, fmt.Errorf("%w: entry of %d bytes", commitlog.ErrInvalid, n)
		}
		total += int64(n)
	}
	if err := s.retained(pos); err != nil {
		return nil, err
	}
	k, ok := s.segIndex(pos)
	if !ok || pos+total > s.segs[k].start+s.segs[k].size {
		return nil, fmt.Errorf("%w: %d entries at %d of %d bytes are not within a segment", commitlog.ErrInvalid, len(sizes), pos, total)
	}
	sg := s.segs[k]
	buf := make([]byte, total)
	if _, err := sg.f.ReadAt(buf, pos-sg.start); err != nil {
		return nil, fmt.Errorf("read %s at %d: %w", sg.f.Name(), pos-sg.start, err)
	}
	codec := commitlog.Codec{MaxBodySize: s.opts.MaxBodySize}
	out := make([]core.Entry, len(sizes))
	at := int64(0)
	for i, n := range sizes {
		e, _, err := codec.DecodeEntry(buf[at:at+int64(n)], pos+at)
		if err != nil {
			return nil, fmt.Errorf("entry at %d in %s: %w", pos+at, sg.f.Name(), err)
		}
		out[i] = e
		at += int64(n)
	}
	return out, nil
}

// ReadEntry returns the entry stored at pos with encoded size size, read
// from its segment file and checked (broker.CommitLogReader): a
// consumer's message read back by its queue record, as RocketMQ reads
// messages from the CommitLog.
func (s *Store) ReadEntry(pos int64, size int32) (core.Entry, error) {
	if err := s.retained(pos); err != nil {
		return core.Entry{}, err
	}
	k, ok := s.segIndex(pos)
	if !ok || size < commitlog.HeaderSize || pos+int64(size) > s.segs[k].start+s.segs[k].size {
		return core.Entry{}, fmt.Errorf("%w: entry at %d of %d bytes is not within a segment", commitlog.ErrInvalid, pos, size)
	}
	sg := s.segs[k]
	buf := make([]byte, size)
	if _, err := sg.f.ReadAt(buf, pos-sg.start); err != nil {
		return core.Entry{}, fmt.Errorf("read %s at %d: %w", sg.f.Name(), pos-sg.start, err)
	}
	e, _, err := commitlog.Codec{MaxBodySize: s.opts.MaxBodySize}.DecodeEntry(buf, pos)
	if err != nil {
		return core.Entry{}, fmt.Errorf("entry at %d in %s: %w", pos, sg.f.Name(), err)
	}
	return e, nil
}

// SetHardState records hs; it is written by the next Sync.
func (s *Store) SetHardState(hs core.HardState) { s.hs = hs }

// Append writes consecutive entries after the log. If entries[0].Index is at
// or below LastIndex, the log is first truncated from there (a follower
// dropping an uncommitted suffix, Raft §5.3); the truncation is made durable
// at once, so that no stale entry can reappear behind new ones after a crash.
// It returns the records of the entries it truncated. The entries are
// durable after the next Sync.
func (s *Store) Append(entries []core.Entry) (truncated []commitlog.IndexRecord, err error) {
	if s.syncErr != nil {
		return nil, s.syncErr
	}
	if len(entries) == 0 {
		return nil, nil
	}
	first := entries[0].Index
	if first <= s.base.Index || first > s.LastIndex()+1 {
		return nil, fmt.Errorf("%w: append at index %d, log ends at %d", commitlog.ErrInvalid, first, s.LastIndex())
	}
	if first <= s.LastIndex() {
		if truncated, err = s.recs.span(first, s.LastIndex()+1); err != nil {
			return nil, err
		}
		truncated = slices.Clone(truncated)
		if err := s.truncate(first); err != nil {
			return nil, err
		}
	}
	codec := commitlog.Codec{MaxBodySize: s.opts.MaxBodySize}
	var (
		buf    []byte
		cur    *segment
		off    int64 // offset in cur where buf starts
		newRec []byte
	)
	flush := func() error {
		if cur == nil || len(buf) == 0 {
			return nil
		}
		if _, err := cur.f.WriteAt(buf, off); err != nil {
			return fmt.Errorf("write %s: %w", cur.f.Name(), err)
		}
		off += int64(len(buf))
		cur.size = off
		s.dirty[cur] = true
		buf = buf[:0]
		return s.preallocate(cur, off)
	}
	segSize := s.opts.SegmentSize
	for _, e := range entries {
		if e.Term < s.lastTerm {
			return truncated, fmt.Errorf("%w: entry %d has term %d after term %d", commitlog.ErrInvalid, e.Index, e.Term, s.lastTerm)
		}
		size := int64(commitlog.EncodedSize(len(e.Data)))
		if size > s.opts.MaxEntrySize() {
			return truncated, &commitlog.TooLargeError{Index: e.Index, What: "entry", Size: size, Max: s.opts.MaxEntrySize()}
		}
		if cur == nil {
			if cur = s.last(); cur == nil {
				if cur, err = s.firstSegment(); err != nil {
					return truncated, err
				}
			}
			off = cur.size
		}
		used := off + int64(len(buf)) // bytes of cur, buffered ones included
		if used < segSize && !s.opts.Fits(used, size) {
			// Seal the segment (MmapFileList.preAppend's blank marker).
			buf = commitlog.AppendBlank(buf, segSize-used)
			used = segSize
		}
		if used == segSize {
			if err := flush(); err != nil {
				return truncated, err
			}
			// The sealed segment, marker included, is durable before the
			// next one exists: recovery refuses a segment without its
			// marker when another follows it (ReasonNoBlank), and one Sync
			// fsyncing the new segment before the old could leave just that.
			if err := s.syncFile(cur.f); err != nil {
				return truncated, fmt.Errorf("fsync %s: %w", cur.f.Name(), err)
			}
			delete(s.dirty, cur)
			if cur, err = s.createSegment(cur.start + segSize); err != nil {
				return truncated, err
			}
			off, used = 0, 0
		}
		var h commitlog.Header
		buf, h, err = codec.AppendEntry(buf, e, cur.start+used, s.lastChain)
		if err != nil {
			return truncated, err
		}
		if h.Index != s.recs.n+1 {
			panic(fmt.Sprintf("store: entry %d appended after record %d", h.Index, s.recs.n))
		}
		r := commitlog.RecordOf(h)
		newRec = commitlog.AppendIndexRecord(newRec, r)
		s.recs.push(r)
		s.lastTerm, s.lastChain = h.Term, h.ChainCRC
	}
	if err := flush(); err != nil {
		return truncated, err
	}
	if _, err := s.index.WriteAt(newRec, commitlog.IndexOffset(first)); err != nil {
		return truncated, fmt.Errorf("write %s: %w", s.index.Name(), err)
	}
	return truncated, nil
}

// Sync writes term and vote (atomically, if changed), makes every append
// since the last Sync durable with one fdatasync per segment written, then
// writes the commit hint. It is StartSync, Run and FinishSync in a row.
func (s *Store) Sync() error {
	p, err := s.StartSync()
	if err != nil {
		return err
	}
	p.Run()
	return s.FinishSync(p)
}

// PendingSync is the fsyncs that make the appends since the last Sync
// durable. The runner takes it with StartSync, Run does the fsyncs on any
// goroutine while the runner goes on (stepping messages, taking
// proposals, answering reads: everything but another Append or a
// truncation), and the runner records the outcome with FinishSync. This is
// how the broker persists off its runner, as etcd-io/raft's asynchronous
// storage writes and hashicorp/raft's log writer do.
type PendingSync struct {
	files  []*os.File
	sync   func(*os.File) error
	fsyncs *atomic.Uint64
	commit uint64
	failed *os.File
	err    error
}

// StartSync writes term and vote (atomically, if changed: rare, and done
// here) and takes the segment files written since the last Sync for Run to
// fsync. Run must be followed by FinishSync before the next Append.
func (s *Store) StartSync() (*PendingSync, error) {
	if s.syncErr != nil {
		return nil, s.syncErr
	}
	if s.hs.Term != s.termVote.Term || s.hs.Vote != s.termVote.Vote {
		if err := s.writeTerm(s.hs); err != nil {
			return nil, err
		}
		s.termVote = core.HardState{Term: s.hs.Term, Vote: s.hs.Vote}
	}
	p := &PendingSync{sync: s.syncFunc(fdatasync), fsyncs: &s.fsyncs, commit: min(s.hs.Commit, s.LastIndex())}
	for sg := range s.dirty {
		if !s.nosync {
			p.files = append(p.files, sg.f)
		}
		delete(s.dirty, sg)
	}
	return p, nil
}

// Files returns how many files Run will fsync.
func (p *PendingSync) Files() int { return len(p.files) }

// Run fsyncs the files StartSync took, stopping at the first failure. It
// touches nothing else of the store, so it may run on another goroutine.
func (p *PendingSync) Run() {
	for _, f := range p.files {
		p.fsyncs.Add(1)
		if err := p.sync(f); err != nil {
			p.failed, p.err = f, err
			return
		}
	}
}

// FinishSync records what Run did: after a failed fsync the store refuses
// every write and fsync from then on (ErrSyncFailed); otherwise it writes
// the commit hint.
func (s *Store) FinishSync(p *PendingSync) error {
	if p.err != nil {
		return fmt.Errorf("fsync %s: %w", p.failed.Name(), s.syncFailed(p.failed, p.err))
	}
	if s.syncErr != nil {
		return s.syncErr
	}
	if c := p.commit; c != s.commit {
		var b [12]byte
		binary.BigEndian.PutUint64(b[:8], c)
		binary.BigEndian.PutUint32(b[8:], crc32.Checksum(b[:8], castagnoli))
		if s.commitF == nil {
			f, err := os.OpenFile(filepath.Join(s.dir, CommitFile), os.O_RDWR|os.O_CREATE, 0o644)
			if err != nil {
				return err
			}
			s.commitF = f
		}
		if _, err := s.commitF.WriteAt(b[:], 0); err != nil {
			return fmt.Errorf("write %s: %w", s.commitF.Name(), err)
		}
		s.commit = c
	}
	return nil
}

// Segments describes the segment files, first to last.
func (s *Store) Segments() []commitlog.SegmentInfo {
	out := make([]commitlog.SegmentInfo, len(s.segs))
	for i, sg := range s.segs {
		out[i] = commitlog.SegmentInfo{Name: commitlog.SegmentName(sg.start), Start: sg.start, Used: sg.size, Capacity: s.opts.SegmentSize}
	}
	return out
}

// Close syncs and closes the files; after a failed fsync it only closes
// them and returns that failure (see ErrSyncFailed).
func (s *Store) Close() error {
	if s.closed {
		return nil
	}
	if s.syncErr != nil {
		// Closing without a last Sync: see ErrSyncFailed.
		s.closeFiles()
		s.closed = true
		return s.syncErr
	}
	err := s.Sync()
	s.closeFiles()
	s.closed = true
	return err
}

func (s *Store) closeFiles() {
	for _, sg := range s.segs {
		sg.f.Close()
	}
	if s.index != nil {
		s.index.Close()
	}
	if s.commitF != nil {
		s.commitF.Close()
	}
	if s.queues != nil {
		s.queues.Close()
	}
}

// truncate drops entries first.. (first <= LastIndex) from the files and
// makes the cut durable.
func (s *Store) truncate(first uint64) error {
	fr, err := s.recs.get(first)
	if err != nil {
		return err
	}
	pos := fr.Pos
	k, ok := s.segIndex(pos)
	if !ok {
		return fmt.Errorf("%w: entry %d at %d is in no segment", ErrCorrupt, first, pos)
	}
	for _, sg := range s.segs[k+1:] {
		name := sg.f.Name()
		sg.f.Close()
		delete(s.dirty, sg)
		if err := os.Remove(name); err != nil {
			return err
		}
	}
	sg := s.segs[k]
	s.segs = s.segs[:k+1]
	off := pos - sg.start
	if err := sg.f.Truncate(off); err != nil {
		return err
	}
	sg.size, sg.zeroed = off, off
	if err := s.syncFile(sg.f); err != nil {
		return err
	}
	if off == 0 {
		sg.f.Close()
		delete(s.dirty, sg)
		if err := os.Remove(sg.f.Name()); err != nil {
			return err
		}
		s.segs = s.segs[:k]
	}
	if err := s.index.Truncate(commitlog.IndexOffset(first)); err != nil {
		return err
	}
	if err := s.syncDir(); err != nil {
		return err
	}
	if err := s.recs.cut(first - 1); err != nil {
		return err
	}
	s.lastTerm, s.lastChain = s.base.Term, s.base.Chain
	if first-1 > s.base.Index {
		r, err := s.recs.get(first - 1)
		if err != nil {
			return err
		}
		psg := s.segmentAt(r.Pos)
		var hb [commitlog.HeaderSize]byte
		if _, err := psg.f.ReadAt(hb[:], r.Pos-psg.start); err != nil {
			return fmt.Errorf("read header of entry %d in %s: %w", first-1, psg.f.Name(), err)
		}
		h, err := commitlog.DecodeHeader(hb[:])
		if err != nil {
			return fmt.Errorf("header of entry %d in %s: %w", first-1, psg.f.Name(), err)
		}
		s.lastTerm, s.lastChain = h.Term, h.ChainCRC
	}
	return nil
}

// last returns the last segment, nil if none.
func (s *Store) last() *segment {
	if len(s.segs) == 0 {
		return nil
	}
	return s.segs[len(s.segs)-1]
}

func (s *Store) segmentAt(pos int64) *segment {
	k, ok := s.segIndex(pos)
	if !ok {
		panic(fmt.Sprintf("store: no segment for position %d among %d segments", pos, len(s.segs)))
	}
	return s.segs[k]
}

// segIndex returns the number of the segment holding position pos.
func (s *Store) segIndex(pos int64) (int, bool) {
	if len(s.segs) == 0 || pos < s.segs[0].start {
		return 0, false
	}
	k := (pos - s.segs[0].start) / s.opts.SegmentSize
	if k >= int64(len(s.segs)) || s.segs[k].start != s.segs[0].start+k*s.opts.SegmentSize {
		return 0, false
	}
	return int(k), true
}

func (s *Store) createSegment(start int64) (*segment, error) {
	name := filepath.Join(s.dir, commitlog.SegmentName(start))
	f, err := os.OpenFile(name, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	// The new name must be durable before entries in it are acknowledged.
	if err := s.syncDir(); err != nil {
		f.Close()
		return nil, err
	}
	sg := &segment{start: start, f: f}
	s.segs = append(s.segs, sg)
	return sg, nil
}

// writeTerm replaces the term file atomically.
func (s *Store) writeTerm(hs core.HardState) error {
	var b [20]byte
	binary.BigEndian.PutUint64(b[0:], hs.Term)
	binary.BigEndian.PutUint64(b[8:], uint64(hs.Vote))
	binary.BigEndian.PutUint32(b[16:], crc32.Checksum(b[:16], castagnoli))
	return s.replaceFile(TermFile, b[:])
}

// replaceFile replaces the data folder's file name with data atomically:
// temp file, fsync, rename, fsync of the folder. A crash leaves the old
// file or the new one, never a mix.
func (s *Store) replaceFile(name string, data []byte) error {
	tmp := filepath.Join(s.dir, name+".tmp")
	f, err := os.OpenFile(tmp, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return err
	}
	if _, err := f.Write(data); err != nil {
		f.Close()
		return err
	}
	if err := s.syncFile(f); err != nil {
		f.Close()
		return err
	}
	if err := f.Close(); err != nil {
		return err
	}
	if err := os.Rename(tmp, filepath.Join(s.dir, name)); err != nil {
		return err
	}
	return s.syncDir()
}

// syncFile fsyncs the file f (fdatasync, or Options.SyncFile).
func (s *Store) syncFile(f *os.File) error { return s.syncWith(f, fdatasync) }

// syncDir fsyncs the data folder, so that a created, renamed or removed
// file stays so (File.Sync, or Options.SyncFile).
func (s *Store) syncDir() error { return s.syncDirAt(s.dir) }

// syncDirAt fsyncs the folder dir (File.Sync, or Options.SyncFile).
func (s *Store) syncDirAt(dir string) error {
	if s.nosync || s.syncErr != nil {
		return s.syncErr
	}
	d, err := os.Open(dir)
	if err != nil {
		return err
	}
	defer d.Close()
	return s.syncWith(d, (*os.File).Sync)
}

// syncWith fsyncs f with sync (Options.SyncFile replaces it), once: after a
// failure it only returns that failure (ErrSyncFailed).
func (s *Store) syncWith(f *os.File, sync func(*os.File) error) error {
	if s.nosync || s.syncErr != nil {
		return s.syncErr
	}
	s.fsyncs.Add(1)
	if err := s.syncFunc(sync)(f); err != nil {
		return s.syncFailed(f, err)
	}
	return nil
}

// syncFunc is sync, or Options.SyncFile when set.
func (s *Store) syncFunc(sync func(*os.File) error) func(*os.File) error {
	if s.sync != nil {
		return s.sync
	}
	return sync
}

// syncFailed records the first failed fsync (of f, with err): from then on
// the store refuses writes and fsyncs (ErrSyncFailed). It returns that
// first failure.
func (s *Store) syncFailed(f *os.File, err error) error {
	if s.syncErr == nil {
		s.syncErr = fmt.Errorf("%w: fsync of %s: %w", ErrSyncFailed, f.Name(), err)
	}
	return s.syncErr
}

var castagnoli = crc32.MakeTable(crc32.Castagnoli)

// readTerm reads the term file; a missing file is a new broker.
func readTerm(path string) (core.HardState, error) {
	b, err := os.ReadFile(path)
	if errors.Is(err, os.ErrNotExist) {
		return core.HardState{}, nil
	}
	if err != nil {
		return core.HardState{}, err
	}
	if len(b) != 20 || binary.BigEndian.Uint32(b[16:]) != crc32.Checksum(b[:16], castagnoli) {
		return core.HardState{}, fmt.Errorf("%w: %s (%d bytes) fails its checksum", ErrCorrupt, path, len(b))
	}
	return core.HardState{Term: binary.BigEndian.Uint64(b), Vote: core.NodeID(binary.BigEndian.Uint64(b[8:]))}, nil
}

// readCommit reads the commit hint; anything unreadable is 0.
func readCommit(path string) uint64 {
	b, err := os.ReadFile(path)
	if err != nil || len(b) != 12 || binary.BigEndian.Uint32(b[8:]) != crc32.Checksum(b[:8], castagnoli) {
		return 0
	}
	return binary.BigEndian.Uint64(b)
}

func sign(x int64) int64 {
	switch {
	case x < 0:
		return -1
	case x > 0:
		return 1
	}
	return 0
}
