package controller

import "fmt"

// RequestKind names what a broker asks a controller.
type RequestKind uint8

const (
	// ReqHeartbeat says the broker is alive, with its last epoch and
	// CommitLog end (BrokerHeartbeatManager's BrokerLiveInfo); the reply
	// carries the group's state. A broker's first heartbeat registers it.
	ReqHeartbeat RequestKind = iota + 1
	// ReqAlterSyncStateSet is the master asking to change the set.
	ReqAlterSyncStateSet
)

func (k RequestKind) String() string {
	switch k {
	case ReqHeartbeat:
		return "heartbeat"
	case ReqAlterSyncStateSet:
		return "alterSyncStateSet"
	}
	return fmt.Sprintf("RequestKind(%d)", uint8(k))
}

// Request is one message from a broker to a controller.
type Request struct {
	Kind RequestKind
	// Controller is the controller it is addressed to.
	Controller int
	Group      string
	Broker     BrokerID
	// Epoch and MaxOffset (heartbeat): the broker's last epoch in its
	// epoch file and its CommitLog end, for the election policy.
	Epoch     uint64
	MaxOffset int64
	// Alter: the master's epoch, the set epoch it builds on, the set
	// wanted.
	MasterEpoch       uint64
	SyncStateSetEpoch uint64
	SyncStateSet      []BrokerID
}

func (r Request) String() string {
	switch r.Kind {
	case ReqHeartbeat:
		return fmt.Sprintf("heartbeat b%d→c%d epoch=%d max=%d", r.Broker, r.Controller, r.Epoch, r.MaxOffset)
	case ReqAlterSyncStateSet:
		return fmt.Sprintf("alterSyncStateSet b%d→c%d epoch=%d set-epoch=%d set=%v", r.Broker, r.Controller, r.MasterEpoch, r.SyncStateSetEpoch, r.SyncStateSet)
	}
	return r.Kind.String()
}

// Reply is a controller's answer to a Request.
type Reply struct {
	Kind       RequestKind
	Controller int
	To         BrokerID
	// NotLeader: only the controller leader answers; Leader is the one it
	// knows of (0: none).
	NotLeader bool
	Leader    int
	// Accepted (alter): the change was applied.
	Accepted bool
	Why      string
	// Group is the group's state as the controller applied it.
	Group Group
}

func (r Reply) String() string {
	if r.NotLeader {
		return fmt.Sprintf("%s reply c%d→b%d: not leader (leader %d)", r.Kind, r.Controller, r.To, r.Leader)
	}
	return fmt.Sprintf("%s reply c%d→b%d: %s", r.Kind, r.Controller, r.To, r.Group)
}

// HAKind names the messages of the HA service between brokers.
type HAKind uint8

const (
	// HAPush carries CommitLog entries from the master to a slave, with
	// the master's epoch file for the handshake (AutoSwitchHAConnection's
	// transfer and handshake packets in one message).
	HAPush HAKind = iota + 1
	// HAAck reports the slave's CommitLog end (its max offset).
	HAAck
)

// HAMessage is one message of the HA service.
type HAMessage struct {
	Kind     HAKind
	From, To BrokerID
	// Epoch: a push's master epoch; an ack's master epoch as the slave
	// knows it.
	Epoch uint64
	// Push: the master's epoch file and CommitLog end, the offset of
	// Data's first entry, the master's confirm offset.
	Epochs    []EpochEntry
	Offset    int64
	Data      [][]byte
	MaxOffset int64
	Confirm   int64
	// Reject (ack): the slave knows a newer master epoch than the push's.
	Reject bool
}

func (m HAMessage) String() string {
	if m.Kind == HAPush {
		return fmt.Sprintf("push b%d→b%d epoch=%d off=%d n=%d confirm=%d", m.From, m.To, m.Epoch, m.Offset, len(m.Data), m.Confirm)
	}
	if m.Reject {
		return fmt.Sprintf("ack b%d→b%d reject: epoch %d is newer", m.From, m.To, m.Epoch)
	}
	return fmt.Sprintf("ack b%d→b%d epoch=%d max=%d", m.From, m.To, m.Epoch, m.MaxOffset)
}
