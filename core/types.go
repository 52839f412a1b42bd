package core

import "fmt"

// NodeID names one broker of the group. IDs start at 1; None (0) means
// "nobody", e.g. no known leader or no vote cast.
type NodeID uint64

// None is the zero NodeID: no leader known, no vote cast.
const None NodeID = 0

// EntryType tells a normal client entry from the entries the protocol adds.
// The values mirror DLedger's entry magic (DLedgerEntry.MAGIC / MAGIC_NOOP);
// core/commitlog maps them to the on-disk magic numbers.
type EntryType uint8

const (
	// EntryNormal carries a client's data (for a broker: one encoded message).
	EntryNormal EntryType = iota
	// EntryNoOp is appended by a new leader so that entries of earlier terms
	// commit promptly (Raft §5.4.2, §8).
	EntryNoOp
)

func (t EntryType) String() string {
	switch t {
	case EntryNormal:
		return "normal"
	case EntryNoOp:
		return "no-op"
	}
	return fmt.Sprintf("EntryType(%d)", uint8(t))
}

// Entry is one record of the replicated log (Raft Figure 2 "log[]";
// DLedger's DLedgerEntry). Index starts at 1 and has no gaps.
// An Entry is immutable once created; Data may be shared between copies.
type Entry struct {
	Index uint64
	Term  uint64
	Type  EntryType
	Data  []byte
}

func (e Entry) String() string {
	return fmt.Sprintf("%d@t%d/%s(%dB)", e.Index, e.Term, e.Type, len(e.Data))
}

// HardState is the state a replica must persist before it answers anyone
// (Raft Figure 2, "persistent state on all servers"). Commit is persisted
// too so that a restarted broker shows what it already knew to be committed.
type HardState struct {
	Term   uint64
	Vote   NodeID
	Commit uint64
}

// IsZero reports whether nothing has been persisted yet.
func (h HardState) IsZero() bool { return h == HardState{} }

// Storage is the durable hard state and log (hashicorp/raft's LogStore +
// StableStore, read-only; etcd-io/raft's Storage): what the replica starts
// from, and where it reads persisted entries its memory no longer holds
// (see raftLog). The replica never writes to it: writes leave through Ready
// and the caller applies them before Advance, so that after Advance every
// entry of that Ready can be read back. core/commitlog provides an
// in-memory Storage for the simulator and the browser; native/ provides one
// over segment files.
type Storage interface {
	// InitialState returns the persisted hard state (zero for a new node).
	InitialState() (HardState, error)
	// LastIndex returns the index of the last persisted entry (0 if none).
	LastIndex() uint64
	// Term returns the term of persisted entry i (1 <= i <= LastIndex()).
	Term(i uint64) (uint64, bool)
	// Entries returns the persisted entries with lo <= Index < hi (all
	// after the snapshot's index).
	Entries(lo, hi uint64) ([]Entry, error)
	// Snapshot returns the newest persisted snapshot (zero if none): the
	// log holds the entries after its Index, and LastIndex is at least
	// its Index.
	Snapshot() (Snapshot, error)
}

// noStorage is the Storage of a replica whose caller keeps none (Config's
// Storage is nil): it starts empty and keeps its whole log in memory.
type noStorage struct{}

func (noStorage) InitialState() (HardState, error)        { return HardState{}, nil }
func (noStorage) LastIndex() uint64                       { return 0 }
func (noStorage) Term(uint64) (uint64, bool)              { return 0, false }
func (noStorage) Entries(uint64, uint64) ([]Entry, error) { return nil, nil }
func (noStorage) Snapshot() (Snapshot, error)             { return Snapshot{}, nil }
