package controller

import (
	"fmt"
	"slices"
)

// EpochEntry is one line of a broker's epoch file: from StartOffset on, the
// CommitLog was written by the master of Epoch (EpochFileCache's entries).
type EpochEntry struct {
	Epoch       uint64 `json:"epoch"`
	StartOffset int64  `json:"start_offset"`
}

// EpochFile is a broker's epoch file, oldest first: epochs rise, start
// offsets do not fall.
type EpochFile []EpochEntry

// Last returns the newest entry (zero if none).
func (f EpochFile) Last() EpochEntry {
	if len(f) == 0 {
		return EpochEntry{}
	}
	return f[len(f)-1]
}

// end returns where entry i's epoch ends in a CommitLog that ends at end.
func (f EpochFile) end(i int, end int64) int64 {
	if i+1 < len(f) {
		return f[i+1].StartOffset
	}
	return end
}

// Append adds epoch starting at start; epochs must rise.
func (f EpochFile) Append(epoch uint64, start int64) EpochFile {
	if last := f.Last(); len(f) > 0 && (epoch <= last.Epoch || start < last.StartOffset) {
		panic(fmt.Sprintf("epoch file: appending epoch %d at %d after epoch %d at %d", epoch, start, last.Epoch, last.StartOffset))
	}
	return append(f, EpochEntry{Epoch: epoch, StartOffset: start})
}

// Clip returns the entries that start below end: the epoch file of a copy
// of this CommitLog cut at end.
func (f EpochFile) Clip(end int64) EpochFile {
	i := len(f)
	for i > 0 && f[i-1].StartOffset >= end {
		i--
	}
	return slices.Clone(f[:i])
}

// ConsistentPoint returns how much of a CommitLog with epoch file f that
// ends at end agrees with the master's, whose epoch file is m and whose
// CommitLog ends at mEnd (the design doc's truncation algorithm, as
// EpochFileCache.findConsistentPoint does it): going from our newest epoch
// back, the first epoch the master also has with the same start offset was
// written by the same master from the same point, so the two logs agree up
// to the smaller of the two ends of that epoch. No such epoch: nothing
// agrees.
func (f EpochFile) ConsistentPoint(end int64, m EpochFile, mEnd int64) int64 {
	for i := len(f) - 1; i >= 0; i-- {
		j := slices.IndexFunc(m, func(e EpochEntry) bool { return e.Epoch == f[i].Epoch })
		if j >= 0 && m[j].StartOffset == f[i].StartOffset {
			return min(f.end(i, end), m.end(j, mEnd))
		}
	}
	return 0
}
