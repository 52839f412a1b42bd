// Package broker is the RocketMQ broker that sits on top of the replicated
// log: it turns committed DLedger entries into topics, ConsumeQueues and
// answers for producers and consumers.
//
// In RocketMQ with DLedger the broker's CommitLog is a DLedgerCommitLog: a
// message is appended to the Raft log, and only once a quorum has it
// (committed, 已提交) does the ReputMessageService dispatch it to the
// ConsumeQueue of its topic, where consumers can see it. This package is that
// dispatcher and everything around it:
//
//   - message.go: the Message (RocketMQ's MessageExt, reduced) and its binary
//     encoding, which is the Data of a core.EntryNormal entry.
//   - consumequeue.go: the ConsumeQueue with RocketMQ's 20-byte records.
//   - broker.go: the Broker state machine (DefaultMessageStore +
//     CommitLogDispatcher + ConsumerOffsetManager). Apply is called for every
//     committed entry, in index order.
//   - produce.go: the leader's bookkeeping for produce requests (DLedger's
//     AppendFuture): a produce is answered only after commit, a quorum
//     timeout leaves the outcome unknown, and retries are deduplicated.
//
// The package is pure: no clock, no goroutines, no I/O. A runner (the
// simulator or a native node) owns time and calls in. Two brokers that applied
// the same committed log hold identical state; Digest proves it.
//
// # Message encoding, version 1
//
// All integers are big-endian (as RocketMQ's ByteBuffer). Offsets are from
// the start of the entry body.
//
//	offset  size  field        rule
//	0       1     version      must be 1 (MessageFormatV1)
//	1       1     topicLen     1..127
//	2       T     topic        ^[%|a-zA-Z0-9_-]+$ (RocketMQ's topic rule)
//	2+T     1     tagsLen      0..255
//	..      G     tags         UTF-8
//	..      2     keysLen      0..1024
//	..      K     keys         UTF-8 (RocketMQ: space-separated keys)
//	..      1     producerLen  0..255
//	..      P     producer     UTF-8; empty = no deduplication
//	..      8     seq          0 if producer is empty, else >= 1
//	..      4     bodyLen      exactly the bytes that remain
//	..      B     body         opaque bytes
//
// The fixed part is 18 bytes. Trailing bytes after the body are an error, so
// every Message has exactly one encoding. Decoding never allocates more than
// the input holds: each length is checked against the bytes that remain
// before anything is sliced or copied.
//
// The size limit (Options.MaxMessageBytes, default 4 MiB for the whole
// encoded message, which is the entry's data) is a producer-side rule
// checked by Prepare and EncodeMessage. Decoding a committed entry does not
// apply it: a committed entry is history, and every replica must apply it
// the same way whatever its local options.
package broker
