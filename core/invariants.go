package core

import "fmt"

// assertInvariants panics, with the state that broke it, if the replica's
// state contradicts itself (TigerBeetle's assertion density). It is cheap
// (O(peers)) and runs after every input.
func (n *Node) assertInvariants() {
	l := &n.log
	fail := func(what string) {
		panic(fmt.Sprintf("broker %d invariant broken: %s (role=%s term=%d applied=%d committed=%d stabled=%d last=%d)",
			n.id, what, n.role, n.term, l.applied, l.committed, l.stabled, l.lastIndex()))
	}
	switch {
	case l.applied > l.committed:
		fail("applied > committed")
	case l.committed > l.lastIndex():
		fail("committed > last index")
	case l.stabled > l.lastIndex():
		fail("stabled > last index")
	case l.committed < n.prevHard.Commit && !l.unsafe:
		fail(fmt.Sprintf("commit index went backwards from %d", n.prevHard.Commit))
	case n.term < n.prevHard.Term:
		fail(fmt.Sprintf("term went backwards from %d", n.prevHard.Term))
	case l.lastTerm() > n.term:
		fail("last entry's term above the current term")
	case (n.role == RoleLeader) != (n.lead == n.id):
		fail(fmt.Sprintf("role %s with lead %d", n.role, n.lead))
	case n.role == RoleLeader && n.vote != n.id:
		fail(fmt.Sprintf("leader voted for %d", n.vote))
	}
	for i := range n.prs {
		id, pr := n.peers[i], &n.prs[i]
		if id == n.id {
			continue
		}
		if pr.match >= pr.next {
			fail(fmt.Sprintf("follower %d has match %d >= next %d", id, pr.match, pr.next))
		}
		if pr.next > l.lastIndex()+1 {
			fail(fmt.Sprintf("follower %d has next %d past our last index %d", id, pr.next, l.lastIndex()))
		}
	}
}
