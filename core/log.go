package core

import (
	"slices"

	"fmt"
)

// raftLog is a replica's log held in memory (DLedger's DLedgerMemoryStore),
// with three marks that split it into the phases the seed text describes:
//
//	1 ........ applied ........ committed ........ stabled ........ last
//	  applied to the broker     committed: a majority  persisted here   appended
//	                            has persisted it
//
// (stabled may be below or above committed.) Entries above committed are
// uncommitted — hollow in the UI — and may still be truncated by a new leader.
type raftLog struct {
	// entries[i].Index == i; entries[0] is a sentinel with Index 0, Term 0.
	entries []Entry
	// committed is the highest index known to be committed.
	// Invariant: committed <= lastIndex(); it never decreases.
	committed uint64
	// applied is the highest index handed out in Ready.Committed and advanced.
	// Invariant: applied <= committed.
	applied uint64
	// stabled is the highest index the caller has persisted.
	// Invariant: stabled <= lastIndex().
	stabled uint64
	// unsafe is set when a safety rule is switched off (Config.Rules): the
	// log then lets a committed entry be truncated, as a broken
	// implementation would, instead of panicking, so learners can watch
	// the simulator's checkers catch it.
	unsafe bool
	// lostCommitted counts committed entries truncated in unsafe mode.
	lostCommitted uint64
}

func newLog() raftLog {
	return raftLog{entries: []Entry{{}}}
}

func (l *raftLog) lastIndex() uint64 { return uint64(len(l.entries) - 1) }
func (l *raftLog) lastTerm() uint64  { return l.entries[len(l.entries)-1].Term }

// term returns the term of the entry at i, or false if there is none.
func (l *raftLog) term(i uint64) (uint64, bool) {
	if i > l.lastIndex() {
		return 0, false
	}
	return l.entries[i].Term, true
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

// slice returns entries lo..hi-1 (shared backing array: callers must not modify).
func (l *raftLog) slice(lo, hi uint64) []Entry {
	if lo > hi || hi > l.lastIndex()+1 || lo == 0 {
		panic(fmt.Sprintf("raftLog.slice(%d, %d) out of range [1, %d]", lo, hi, l.lastIndex()+1))
	}
	return l.entries[lo:hi:hi]
}

// appendLeader adds a new entry at the end (the leader's own proposal).
func (l *raftLog) appendLeader(e Entry) {
	if e.Index != l.lastIndex()+1 {
		panic(fmt.Sprintf("appendLeader: entry %d after last %d", e.Index, l.lastIndex()))
	}
	l.grow(1)
	l.entries = append(l.entries, e)
}

// grow makes room for n more entries, doubling the array when it is full:
// append alone grows a long slice by about a quarter at a time, which copies
// a long log some four times over on its way.
func (l *raftLog) grow(n int) {
	if cap(l.entries)-len(l.entries) < n {
		l.entries = slices.Grow(l.entries, max(n, len(l.entries)))
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
		l.entries = append(l.entries, ents[i:]...)
		break
	}
	return lastNew, truncatedFrom, true
}

// truncateFrom deletes entries from index i on. Committed entries are never
// truncated: that would break State Machine Safety (§5.4.3).
func (l *raftLog) truncateFrom(i uint64) {
	if i <= l.committed {
		if !l.unsafe {
			panic(fmt.Sprintf("truncating committed entry %d (committed=%d, last=%d)", i, l.committed, l.lastIndex()))
		}
		l.lostCommitted += l.committed - i + 1
		l.committed = i - 1
		l.applied = min(l.applied, i-1)
	}
	l.entries = l.entries[:i:i] // cap so the next append never overwrites shared entries
	if l.stabled >= i {
		l.stabled = i - 1
	}
}

// conflictHint tells a leader where our log stops agreeing with a push at
// prevIndex: the term of our entry there and the first index we hold of that
// term, or (last+1, 0) when our log is shorter (the fast backup of §5.3's
// closing paragraph).
func (l *raftLog) conflictHint(prevIndex uint64) (index, term uint64) {
	if prevIndex > l.lastIndex() {
		return l.lastIndex() + 1, 0
	}
	term = l.entries[prevIndex].Term
	index = prevIndex
	for index > l.committed+1 && l.entries[index-1].Term == term {
		index--
	}
	return index, term
}

// lastIndexOfTerm returns the last index holding term t, or 0.
func (l *raftLog) lastIndexOfTerm(t uint64) uint64 {
	for i := l.lastIndex(); i > 0; i-- {
		switch et := l.entries[i].Term; {
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

// toApply returns the committed entries not yet applied: all of them when
// maxBytes is 0, else as many as fit in maxBytes of data (at least one).
func (l *raftLog) toApply(maxBytes int) []Entry {
	if l.applied >= l.committed {
		return nil
	}
	hi := l.committed + 1
	if maxBytes > 0 {
		size := 0
		for i := l.applied + 1; i < hi; i++ {
			if size += len(l.entries[i].Data); size > maxBytes && i > l.applied+1 {
				hi = i
				break
			}
		}
	}
	return l.slice(l.applied+1, hi)
}
