package core

import "fmt"

// This file is leadership transfer (Raft thesis §3.10; DLedger's preferred
// leader, DLedgerLeaderElector.handleLeadershipTransfer): the leader stops
// taking proposals, brings the target up to date, then tells it to campaign
// at once. It gives up after an election timeout.

// TransferLeadership hands leadership to broker to. Only the leader can.
func (n *Node) TransferLeadership(to NodeID) error {
	if n.role != RoleLeader {
		return ErrNotLeader
	}
	if !n.isPeer(to) {
		return fmt.Errorf("%w: %d", ErrUnknownNode, uint64(to))
	}
	if to == n.id {
		return nil // already the leader
	}
	if n.transferee == to {
		return nil // already under way
	}
	n.transferee = to
	n.electionElapsed = 0 // the transfer has one election timeout to finish
	n.event(Event{Kind: EventTransferStarted, Peer: to})
	if n.pr(to).match == n.log.lastIndex() {
		n.sendTimeoutNow(to)
	} else {
		n.flush = true // catch the target up first
	}
	return nil
}

func (n *Node) sendTimeoutNow(to NodeID) {
	n.send(Message{Type: MsgTimeoutNow, To: to})
}

// handleTimeoutNow: our leader asks us to take over; campaign at once,
// without pre-vote and past the voters' lease.
func (n *Node) handleTimeoutNow(m Message) {
	if n.role == RoleLeader {
		return
	}
	n.event(Event{Kind: EventTransferStarted, Peer: n.id, Why: "asked-to-take-over", Args: NewArgs("from", uint64(m.From)), Detail: fmt.Sprintf("broker %d asked us to take over", uint64(m.From))})
	n.elect(true)
}
