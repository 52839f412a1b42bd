package core

import (
	"fmt"
	"slices"
)

// raftLog is a replica's log, with three marks that split it into the
// phases the seed text describes:
//
//	1 ........ applied ........ committed ........ stabled ........ last
//	  applied to the broker     committed: a majority  persisted here   appended
//	                            has persisted it
//
// (stabled may be below or above committed.) Entries above committed are
// uncommitted — hollow in the UI — and may still be truncated by a new leader.
//
// Where the entries are (etcd-io/raft's raftLog: storage + unstable): the
// persisted ones in Storage, which the caller writes from Ready.Entries;
// in memory, mem holds every entry not yet persisted and, below them, the
// most recent persisted ones as a cache of at most cacheBytes of data, so
// that pushing to followers that keep up, applying and the views rarely
// read Storage. A follower far behind, or a restarted replica replaying its
// log, reads Storage. Memory therefore does not grow with the log.
type raftLog struct {
	storage Storage
	// mem holds entries first..lastIndex(): mem[i].Index == first+i. Every
	// entry above stabled is here. When mem is empty, first is
	// lastIndex()+1 and the log ends in Storage at stabled.
	mem   []Entry
	first uint64
	// lastStoredTerm is the term of entry first-1 (0 for index 0): what
	// lastTerm is when mem is empty, without asking Storage.
	lastStoredTerm uint64
	// cacheBytes bounds the data of the persisted entries kept in mem;
	// cached is their data now.
	cacheBytes, cached int
	// dead counts the slots of mem's array before mem[0]: evicted entries
	// the array still points to, so their data stays in memory until the
	// array is dropped. evict moves mem to a new array once they outnumber
	// the live entries, which bounds that garbage by about the cache.
	dead int
	// committed is the highest index known to be committed.
	// Invariant: committed <= lastIndex(); it never decreases.
	committed uint64
	// applied is the highest index handed out in Ready.Committed and advanced
	// (or handed out by Early, which the caller applies at once).
	// Invariant: applied <= committed.
	applied uint64
	// handed is the highest index handed out for applying, in a Ready
	// still being processed or already advanced. Invariant: applied <=
	// handed <= committed.
	handed uint64
	// stabled is the highest index the caller has persisted.
	// Invariant: stabled <= lastIndex(), and every entry above it is in mem.
	stabled uint64
	// unsafe is set when a safety rule is switched off (Config.Rules): the
	// log then lets a committed entry be truncated, as a broken
	// implementation would, instead of panicking, so learners can watch
	// the simulator's checkers catch it.
	unsafe bool
	// lostCommitted counts committed entries truncated in unsafe mode.
	lostCommitted uint64
	// snap is the newest snapshot (§7): entries 1..snap.Index are
	// compacted away, and first > snap.Index. Its Data is what the leader
	// sends a follower that needs those entries.
	snap Snapshot
	// pendingSnapshot is a snapshot installed from the leader that the
	// caller has not yet persisted (Ready.Snapshot); zero if none.
	pendingSnapshot Snapshot
}

// newLog returns the log persisted in s (which must hold entries 1..last
// with terms that never decrease; the CommitLog's recovery scan checks
// that), keeping its newest entries in memory up to cacheBytes.
func newLog(s Storage, cacheBytes int) (raftLog, error) {
	snap, err := s.Snapshot()
	if err != nil {
		return raftLog{}, fmt.Errorf("reading the snapshot: %w", err)
	}
	l := raftLog{storage: s, first: snap.Index + 1, lastStoredTerm: snap.Term, cacheBytes: cacheBytes, snap: snap, stabled: snap.Index}
	last := s.LastIndex()
	if last < snap.Index {
		return l, fmt.Errorf("storage's log ends at %d, before its snapshot at %d", last, snap.Index)
	}
	if last == snap.Index {
		return l, nil
	}
	t, ok := s.Term(last)
	if !ok {
		return l, fmt.Errorf("storage has no term for its last entry %d", last)
	}
	// Load the tail into the cache: the entries a restarted replica is most
	// likely to read (its views, the next pushes if it leads).
	lo := max(last-min(last-1, restoreTail-1), snap.Index+1)
	ents, err := s.Entries(lo, last+1)
	if err != nil {
		return l, fmt.Errorf("reading log %d..%d: %w", lo, last, err)
	}
	for i, e := range ents {
		if e.Index != lo+uint64(i) {
			return l, fmt.Errorf("stored log is not consecutive at entry %v", e)
		}
	}
	l.mem, l.first, l.stabled = ents, lo, last
	for _, e := range ents {
		l.cached += len(e.Data)
	}
	if lo > snap.Index+1 {
		if l.lastStoredTerm, ok = s.Term(lo - 1); !ok {
			return l, fmt.Errorf("storage has no term for entry %d", lo-1)
		}
	}
	if l.lastTerm() != t {
		return l, fmt.Errorf("stored entry %d has term %d, its index record says %d", last, l.lastTerm(), t)
	}
	l.evict()
	return l, nil
}

// restoreTail is how many of its newest entries a restored replica reads
// into memory at once (fewer if they exceed the cache).
const restoreTail = 4096

func (l *raftLog) lastIndex() uint64 { return l.first + uint64(len(l.mem)) - 1 }
func (l *raftLog) lastTerm() uint64 {
	if len(l.mem) == 0 {
		return l.lastStoredTerm
	}
	return l.mem[len(l.mem)-1].Term
}

// term returns the term of the entry at i, or false if there is none.
func (l *raftLog) term(i uint64) (uint64, bool) {
	switch {
	case i > l.lastIndex():
		return 0, false
	case i >= l.first:
		return l.mem[i-l.first].Term, true
	case i == l.first-1:
		return l.lastStoredTerm, true
	case i == l.snap.Index:
		return l.snap.Term, true
	case i < l.snap.Index:
		return 0, false // compacted away
	}
	t, ok := l.storage.Term(i)
	if !ok {
		panic(fmt.Sprintf("storage has no term for persisted entry %d (first in memory %d)", i, l.first))
	}
	return t, true
}

func (l *raftLog) matchTerm(i, t uint64) bool {
	lt, ok := l.term(i)
	return ok && lt == t
}

// isUpToDate reports whether a log ending at (index, term) is at least as
// up to date as ours (§5.4.1: compare last terms, then lengths).
func (l *raftLog) isUpToDate(index, term uint64) bool {
	return term > l.lastTerm() || (term == l.lastTerm() && index >= l.lastIndex())
}

// slice returns entries lo..hi-1. Entries in memory are shared (callers must
// not modify them); older ones are read from Storage.
func (l *raftLog) slice(lo, hi uint64) []Entry {
	if lo > hi || hi > l.lastIndex()+1 || lo == 0 {
		panic(fmt.Sprintf("raftLog.slice(%d, %d) out of range [1, %d]", lo, hi, l.lastIndex()+1))
	}
	if lo >= l.first {
		return l.mem[lo-l.first : hi-l.first : hi-l.first]
	}
	stored := l.stored(lo, min(hi, l.first))
	if hi <= l.first {
		return stored
	}
	return append(stored, l.mem[:hi-l.first]...)
}

// stored reads persisted entries lo..hi-1 from Storage. A failed read is
// the disk failing under a running broker: it panics, as a failed write
// stops the broker. Asking for compacted entries is a bug.
func (l *raftLog) stored(lo, hi uint64) []Entry {
	if lo <= l.snap.Index {
		panic(fmt.Sprintf("reading entries %d..%d, compacted into the snapshot at %d", lo, hi-1, l.snap.Index))
	}
	ents, err := l.storage.Entries(lo, hi)
	if err != nil || uint64(len(ents)) != hi-lo {
		panic(fmt.Sprintf("reading persisted entries %d..%d: got %d entries, err %v", lo, hi-1, len(ents), err))
	}
	return ents
}

// window returns entries from lo on, as many as fit in maxEntries and
// maxBytes of data (at least one): one push, or one batch to apply. What
// the cache no longer holds is read from Storage in reads sized by what the
// entries read so far weighed, so a long replay never reads the whole log
// at once.
func (l *raftLog) window(lo uint64, maxEntries, maxBytes int) []Entry {
	hi := min(l.lastIndex()+1, lo+uint64(maxEntries))
	if lo >= l.first {
		return fit(l.slice(lo, hi), maxBytes)
	}
	var out []Entry
	bytes, chunk := 0, uint64(16)
	for next := lo; next < min(hi, l.first); {
		end := min(next+chunk, hi, l.first)
		for _, e := range l.stored(next, end) {
			if bytes+len(e.Data) > maxBytes && len(out) > 0 {
				return out
			}
			bytes += len(e.Data)
			out = append(out, e)
		}
		next = end
		avg := bytes/len(out) + 1
		chunk = uint64(min(max((maxBytes-bytes)/avg+1, 1), 4096))
	}
	for _, e := range l.mem[:hi-min(hi, l.first)] {
		if bytes+len(e.Data) > maxBytes {
			break
		}
		bytes += len(e.Data)
		out = append(out, e)
	}
	return out
}

// fit returns the first entries of ents whose data fits in maxBytes (at
// least one).
func fit(ents []Entry, maxBytes int) []Entry {
	bytes := 0
	for i, e := range ents {
		if bytes += len(e.Data); bytes > maxBytes && i > 0 {
			return ents[:i:i]
		}
	}
	return ents
}

// appendLeader adds a new entry at the end (the leader's own proposal).
func (l *raftLog) appendLeader(e Entry) {
	if e.Index != l.lastIndex()+1 {
		panic(fmt.Sprintf("appendLeader: entry %d after last %d", e.Index, l.lastIndex()))
	}
	l.grow(1)
	l.mem = append(l.mem, e)
}

// grow makes room for n more entries, doubling the array when it is full:
// append alone grows a long slice by about a quarter at a time.
func (l *raftLog) grow(n int) {
	if cap(l.mem)-len(l.mem) < n {
		l.mem = slices.Grow(l.mem, max(n, len(l.mem)))
		l.dead = 0 // a new array, starting at mem[0]
	}
}

// maybeAppend is the follower's half of a push (Figure 2, AppendEntries
// receiver rules 2–5). If our log has (prevIndex, prevTerm) it drops any
// conflicting suffix, appends what is new and returns the index of the last
// entry the push brought, and the index truncation started at (0 if none).
func (l *raftLog) maybeAppend(prevIndex, prevTerm uint64, ents []Entry) (lastNew, truncatedFrom uint64, ok bool) {
	if !l.matchTerm(prevIndex, prevTerm) {
		return 0, 0, false
	}
	lastNew = prevIndex + uint64(len(ents))
	for i, e := range ents {
		t, exists := l.term(e.Index)
		if exists && t == e.Term {
			continue // rule 3: same index and term means the same entry
		}
		if exists {
			// rule 3: an existing entry conflicts; delete it and all that follow.
			truncatedFrom = e.Index
			l.truncateFrom(e.Index)
		}
		l.grow(len(ents) - i)
		l.mem = append(l.mem, ents[i:]...)
		break
	}
	return lastNew, truncatedFrom, true
}

// truncateFrom deletes entries from index i on. Committed entries are never
// truncated: that would break State Machine Safety (§5.4.3). Persisted
// entries from i on stay in Storage until the caller writes the entries that
// replace them (Ready.Entries then start at or below i); the log never reads
// them again, since everything from first on is in memory.
func (l *raftLog) truncateFrom(i uint64) {
	if i <= l.committed {
		if !l.unsafe {
			panic(fmt.Sprintf("truncating committed entry %d (committed=%d, last=%d)", i, l.committed, l.lastIndex()))
		}
		l.lostCommitted += l.committed - i + 1
		l.committed = i - 1
		l.applied = min(l.applied, i-1)
		l.handed = min(l.handed, i-1)
	}
	if l.stabled >= i {
		for j := max(i, l.first); j <= l.stabled; j++ {
			l.cached -= len(l.mem[j-l.first].Data) // persisted, now cut
		}
		l.stabled = i - 1
	}
	if i >= l.first {
		k := i - l.first
		l.mem = l.mem[:k:k] // cap so the next append never overwrites shared entries
	} else {
		t, _ := l.term(i - 1)
		l.mem, l.first, l.lastStoredTerm, l.cached, l.dead = nil, i, t, 0, 0
	}
}

// stableTo records that the caller persisted entries up to i, then lets the
// cache go below its bound.
func (l *raftLog) stableTo(i uint64) {
	for j := max(l.stabled+1, l.first); j <= i; j++ {
		l.cached += len(l.mem[j-l.first].Data)
	}
	l.stabled = max(l.stabled, i)
	l.evict()
}

// evict drops the oldest persisted entries from memory while those exceed
// cacheBytes. The array is never written in place (checkpoints share it, see
// Node.Clone), so the dropped entries' slots cannot be cleared: the live
// part moves to a new array once the dropped slots outnumber it (dead).
func (l *raftLog) evict() {
	drop := uint64(0)
	for l.cached > l.cacheBytes && l.first+drop <= l.stabled {
		l.cached -= len(l.mem[drop].Data)
		drop++
	}
	if drop == 0 {
		return
	}
	l.lastStoredTerm = l.mem[drop-1].Term
	l.first += drop
	l.dead += int(drop)
	if rest := l.mem[drop:]; l.dead >= len(rest) {
		l.mem = append(make([]Entry, 0, max(2*len(rest), 64)), rest...)
		l.dead = 0
	} else {
		l.mem = rest
	}
}

// compact makes s the newest snapshot and drops the entries it covers
// (s.Index <= applied; see Node.Compact).
func (l *raftLog) compact(s Snapshot) {
	if s.Index >= l.first {
		k := s.Index - l.first + 1
		for _, e := range l.mem[:k] {
			if e.Index <= l.stabled {
				l.cached -= len(e.Data)
			}
		}
		l.mem = l.mem[k:]
		l.dead += int(k)
		l.first, l.lastStoredTerm = s.Index+1, s.Term
	}
	l.snap = s
}

// restore replaces the whole log by snapshot s, installed from the leader
// (Figure 13 steps 5–8): nothing before or after it is kept, and
// everything it stands for is committed and, once the caller has loaded it
// into its state machine (Ready.Snapshot), applied.
func (l *raftLog) restore(s Snapshot) {
	l.mem, l.first, l.lastStoredTerm, l.cached, l.dead = nil, s.Index+1, s.Term, 0, 0
	l.committed = max(l.committed, s.Index)
	l.applied, l.handed, l.stabled = s.Index, s.Index, s.Index
	l.snap, l.pendingSnapshot = s, s
}

// conflictHint tells a leader where our log stops agreeing with a push at
// prevIndex: the term of our entry there and the first index we hold of that
// term, or (last+1, 0) when our log is shorter (the fast backup of §5.3's
// closing paragraph).
func (l *raftLog) conflictHint(prevIndex uint64) (index, term uint64) {
	if prevIndex > l.lastIndex() {
		return l.lastIndex() + 1, 0
	}
	term, _ = l.term(prevIndex)
	index = prevIndex
	for index > l.committed+1 {
		if t, _ := l.term(index - 1); t != term {
			break
		}
		index--
	}
	return index, term
}

// lastIndexOfTerm returns the last index holding term t, or 0.
func (l *raftLog) lastIndexOfTerm(t uint64) uint64 {
	for i := l.lastIndex(); i > 0; i-- {
		switch et, _ := l.term(i); {
		case et == t:
			return i
		case et < t:
			return 0
		}
	}
	return 0
}

// commitTo raises the commit index. Invariant: it never passes the log's
// end and never goes backwards.
func (l *raftLog) commitTo(i uint64) bool {
	if i <= l.committed {
		return false
	}
	if i > l.lastIndex() {
		panic(fmt.Sprintf("commitTo(%d) beyond last index %d", i, l.lastIndex()))
	}
	l.committed = i
	return true
}

func (l *raftLog) unstable() []Entry {
	if l.stabled >= l.lastIndex() {
		return nil
	}
	return l.slice(l.stabled+1, l.lastIndex()+1)
}

// toApply returns the committed entries not yet handed out for applying,
// up to end: all of them when maxBytes is 0, else a batch of at most
// maxBytes of data (at least one entry), and marks them handed out.
func (l *raftLog) toApply(end uint64, maxBytes int) []Entry {
	end = min(end, l.committed)
	if l.handed >= end {
		return nil
	}
	var ents []Entry
	if maxBytes == 0 {
		ents = l.slice(l.handed+1, end+1)
	} else {
		ents = l.window(l.handed+1, int(min(end-l.handed, 1<<30)), maxBytes)
	}
	if len(ents) > 0 {
		l.handed = ents[len(ents)-1].Index
	}
	return ents
}
