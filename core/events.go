package core

import "fmt"

// EventKind names what happened inside a replica. The UI and lessons key
// their texts (English and 简体中文) on it; Detail is an English sentence for
// logs and tests.
type EventKind uint8

const (
	EventBecameFollower     EventKind = iota + 1 // became a follower (从)
	EventBecamePreCandidate                      // started a pre-vote
	EventBecameCandidate                         // became a candidate (候选者), term raised
	EventBecameLeader                            // won a majority: leader (主)
	EventElectionTimeout                         // heard no leader for its random timeout
	EventVoteGranted                             // granted a (pre-)vote to Peer
	EventVoteRefused                             // refused a (pre-)vote to Peer; Detail says why
	EventVoteIgnored                             // ignored a campaign while in a leader's lease
	EventCommitted                               // commit index rose to Index
	EventTruncated                               // uncommitted entries from Index on were dropped
	EventPushRejected                            // refused a push whose previous entry it lacks
	EventRepair                                  // leader moved Peer's next index back to Index
	EventSteppedDown                             // a leader stepped down (higher term or CheckQuorum)
	EventTransferStarted                         // leadership transfer to Peer began
	EventTransferFinished                        // the leader stepped down for the transfer target
	EventTransferAborted                         // the transfer timed out
	EventDropped                                 // a message was dropped; Detail says why
	EventCompacted                               // entries up to Index were compacted into a snapshot (§7)
	EventSnapshotSent                            // the leader started sending its snapshot to Peer
	EventSnapshotInstalled                       // a follower installed the leader's snapshot at Index
	eventKindCount
)

var eventNames = [...]string{
	EventBecameFollower:     "became-follower",
	EventBecamePreCandidate: "became-pre-candidate",
	EventBecameCandidate:    "became-candidate",
	EventBecameLeader:       "became-leader",
	EventElectionTimeout:    "election-timeout",
	EventVoteGranted:        "vote-granted",
	EventVoteRefused:        "vote-refused",
	EventVoteIgnored:        "vote-ignored",
	EventCommitted:          "committed",
	EventTruncated:          "truncated",
	EventPushRejected:       "push-rejected",
	EventRepair:             "repair",
	EventSteppedDown:        "stepped-down",
	EventTransferStarted:    "transfer-started",
	EventTransferFinished:   "transfer-finished",
	EventTransferAborted:    "transfer-aborted",
	EventDropped:            "dropped",
	EventCompacted:          "compacted",
	EventSnapshotSent:       "snapshot-sent",
	EventSnapshotInstalled:  "snapshot-installed",
}

func (k EventKind) String() string {
	if k > 0 && k < eventKindCount {
		return eventNames[k]
	}
	return fmt.Sprintf("EventKind(%d)", uint8(k))
}

// MarshalText names the kind in JSON (ClusterView frames).
func (k EventKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// Event is one thing that happened on broker Node in Term.
type Event struct {
	Kind  EventKind
	Node  NodeID
	Term  uint64
	Peer  NodeID // the other broker involved, if any
	Index uint64 // the log index involved, if any
	// Why names Detail's sentence with a stable key ("won-votes") and Args
	// holds its values by name, so a page can say it in its own language.
	Why    string
	Args   Args
	Detail string
}

// Args are an event's values by name: numbers, broker ids, message types.
type Args map[string]any

// NewArgs builds Args from alternating names and values, as log/slog takes
// attributes: NewArgs("term", 3, "votes", 2). Event sites use it rather
// than map literals because each literal is a run of inline map inserts in
// the WebAssembly engine every learner downloads, and one call is much
// smaller (docs/BENCHMARKS.md). A name that is not a string, or a name
// without a value, is a programming error: it panics.
func NewArgs(kv ...any) Args {
	if len(kv)%2 != 0 {
		panic(fmt.Sprintf("core.NewArgs: %d arguments, want name-value pairs", len(kv)))
	}
	a := make(Args, len(kv)/2)
	for i := 0; i < len(kv); i += 2 {
		a[kv[i].(string)] = kv[i+1]
	}
	return a
}

func (e Event) String() string {
	s := fmt.Sprintf("broker %d t%d %s", uint64(e.Node), e.Term, e.Kind)
	if e.Peer != None {
		s += fmt.Sprintf(" peer=%d", uint64(e.Peer))
	}
	if e.Index != 0 {
		s += fmt.Sprintf(" index=%d", e.Index)
	}
	if e.Detail != "" {
		s += ": " + e.Detail
	}
	return s
}
