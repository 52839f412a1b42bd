// Package controller is RocketMQ 5's Controller mode (RIP-44,
// docs/en/controller/design.md in apache/rocketmq) on this project's pure
// Raft core: the failover RocketMQ now recommends beside the DLedger
// CommitLog mode the rest of core models.
//
// Two kinds of participant, both pure (no goroutine, clock, file or socket;
// time enters as Tick, messages as method calls, output leaves as values):
//
//   - Controller (controller.go) is one of the controllers: a core.Node in a
//     Raft group of its own whose log holds Ops, and State (state.go), the
//     replicated state machine those Ops build — per broker group the
//     master, the master epoch, the SyncStateSet and its epoch. It mirrors
//     RocketMQ's DLedgerController and ReplicasInfoManager; the election
//     policy mirrors DefaultElectPolicy; the controller leader's volatile
//     view of broker heartbeats mirrors BrokerHeartbeatManager.
//   - Broker (broker.go) is one replica of a broker group: a master takes
//     writes and pushes its CommitLog to slaves, slaves report how far they
//     hold it, the master keeps the SyncStateSet with alterSyncStateSet
//     requests, and every broker keeps an epoch file (epoch.go) it uses to
//     truncate its CommitLog when it follows a new master. It mirrors
//     RocketMQ's ReplicasManager, AutoSwitchHAService and EpochFileCache.
//
// The caller (core/ctlsim, the simulator) carries the messages between
// them. What the model leaves out of RocketMQ's is listed in
// docs/CONTROLLER.md.
package controller
