// Package core is the replica of a DLedger broker group: randomized leader
// election, heartbeats, two-phase replication of the CommitLog (an entry is
// uncommitted until a majority has persisted it, then committed), log repair,
// and the defences against a split brain (CheckQuorum, PreVote).
//
// It mirrors the Raft paper ("In Search of an Understandable Consensus
// Algorithm", Ongaro & Ousterhout) and DLedger's DLedgerServer,
// DLedgerLeaderElector and DLedgerEntryPusher. Sections cited as §5.2 etc. are
// the paper's; "thesis §9.6" is Ongaro's dissertation.
//
// The replica is pure (etcd-io/raft's design): it owns no clock, goroutine,
// file or socket. Time enters as Tick, messages as Step, client writes as
// Propose; everything the replica wants done leaves through Ready:
//
//	rd := n.Ready()
//	send(rd.Eager)                     // leader pushes may go out at once (thesis §10.2.1)
//	install(rd.Snapshot)               // if any: persist it, load it into the state machine (§7)
//	persist(rd.HardState, rd.Entries)  // then fsync
//	send(rd.Messages)                  // only after persisting: votes and acks promise durability
//	apply(rd.Committed)
//	n.Advance(rd)
//
// Ready is not called again before Advance. Tick, Step and Propose may be:
// a caller can persist rd on another goroutine and keep stepping messages
// and taking proposals meanwhile (etcd-io/raft's asynchronous storage
// writes, hashicorp/raft's pipelined log writes). What they produce waits
// in the replica and leaves in the next Ready, after rd is durable, so
// nothing is acknowledged, voted or counted before it is persisted. A
// step that replaces entries of rd (a new leader's log) is fine: Advance
// marks stable only the part of rd still in the log. Committed entries
// below rd.Entries (index < rd.Entries[0].Index, or all of them when rd
// has no entries) are durable already and may be applied before rd's
// fsync; the others after it. Early hands out, while rd is in flight, what
// need not wait for it: the leader's pushes of entries proposed meanwhile
// (it replicates in parallel with its own write, thesis §10.2.1) and the
// entries committed meanwhile that this replica persisted earlier.
// Randomness comes only from Config.Seed, so the same seed and inputs give
// the same outputs, natively and in WebAssembly.
//
// Files: election.go (§5.2, §5.4.1, PreVote), replication.go (§5.3, §5.4.2,
// log repair), snapshot.go (§7: compaction and InstallSnapshot), transfer.go
// (leadership transfer), log.go (the log: unpersisted entries and a bounded
// cache in memory, the rest read from Storage), progress.go (the leader's
// view of each follower), events.go (what happened and why, for the UI and
// lessons).
package core
