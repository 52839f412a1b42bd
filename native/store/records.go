package store

import (
	"fmt"
	"os"

	"dledgerlab/core/commitlog"
)

// tailRecords is how many of the newest index records the store keeps in
// memory (between tailRecords and twice that): the ones appends,
// applies, views and pushes to followers that keep up ask for. The older
// ones are read from the index file, so the store's memory does not grow
// with the log (about 2 to 5 MB here, where all 2,000,000 records of a
// 2-GB log would take 80 MB). A variable only so that tests can make it
// small.
var tailRecords uint64 = 1 << 16

// indexRecords are the index file's records base+1..n as the store reads
// them (base: the snapshot's entry, 0 if the log starts at entry 1).
//
// Invariant: tail holds records n-len(tail)+1..n, none at or below base;
// every record below those is in the index file (written by the Append that
// added it).
type indexRecords struct {
	f    *os.File
	base uint64
	n    uint64
	tail []commitlog.IndexRecord
}

// first returns the index of the first record held in memory.
func (r *indexRecords) first() uint64 { return r.n - uint64(len(r.tail)) + 1 }

// get returns record i (1 <= i <= n).
func (r *indexRecords) get(i uint64) (commitlog.IndexRecord, error) {
	if i >= r.first() {
		return r.tail[i-r.first()], nil
	}
	recs, err := r.read(i, i+1)
	if err != nil {
		return commitlog.IndexRecord{}, err
	}
	return recs[0], nil
}

// span returns records lo..hi-1 (1 <= lo <= hi <= n+1).
func (r *indexRecords) span(lo, hi uint64) ([]commitlog.IndexRecord, error) {
	if lo >= r.first() {
		return r.tail[lo-r.first() : hi-r.first()], nil
	}
	split := min(hi, r.first())
	out, err := r.read(lo, split)
	if err != nil {
		return nil, err
	}
	if hi > split {
		out = append(out, r.tail[:hi-split]...)
	}
	return out, nil
}

// read reads records lo..hi-1 from the index file, each checked to be the
// record of its index.
func (r *indexRecords) read(lo, hi uint64) ([]commitlog.IndexRecord, error) {
	buf := make([]byte, (hi-lo)*commitlog.IndexRecordSize)
	if _, err := r.f.ReadAt(buf, commitlog.IndexOffset(lo)); err != nil {
		return nil, fmt.Errorf("read %s records %d..%d: %w", r.f.Name(), lo, hi-1, err)
	}
	out := make([]commitlog.IndexRecord, 0, hi-lo)
	for i := lo; i < hi; i++ {
		rec, err := commitlog.DecodeIndexRecord(buf[(i-lo)*commitlog.IndexRecordSize:])
		if err != nil || rec.Index != i {
			return nil, fmt.Errorf("%w: %s record %d at offset %d: %+v %v", ErrCorrupt, r.f.Name(), i, commitlog.IndexOffset(i), rec, err)
		}
		out = append(out, rec)
	}
	return out, nil
}

// push adds record n+1, which the caller writes to the index file.
func (r *indexRecords) push(rec commitlog.IndexRecord) {
	if uint64(len(r.tail)) >= 2*tailRecords {
		r.tail = append(r.tail[:0], r.tail[uint64(len(r.tail))-tailRecords:]...)
	}
	r.tail = append(r.tail, rec)
	r.n++
}

// cut keeps records base+1..n (base <= n <= r.n), reading the newest of
// them back from the index file if the cut goes below the memory held.
func (r *indexRecords) cut(n uint64) error {
	if n+1 >= r.first() {
		r.tail = r.tail[:n+1-r.first()]
		r.n = n
		return nil
	}
	return r.load(n)
}

// load reads the newest of records base+1..n from the index file.
func (r *indexRecords) load(n uint64) error {
	lo := max(r.base+1, n-min(n, tailRecords)+1)
	if n <= r.base {
		r.n, r.tail = n, r.tail[:0]
		return nil
	}
	tail, err := r.read(lo, n+1)
	if err != nil {
		return err
	}
	r.n, r.tail = n, tail
	return nil
}

// startAfter drops the records up to base (a snapshot's entry, at most n)
// from memory: the log now starts after it.
func (r *indexRecords) startAfter(base uint64) {
	if f := r.first(); base >= f {
		r.tail = r.tail[base+1-f:]
	}
	r.base = base
}
