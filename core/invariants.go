package core

import "fmt"

// assertInvariants panics, with the state that broke it, if the replica's
// state contradicts itself (TigerBeetle's assertion density). It is cheap
// (O(peers)) and runs after every input.
func (n *Node) assertInvariants() {
	if what := n.brokenInvariant(); what != "" {
		l := &n.log
		panic(fmt.Sprintf("broker %d invariant broken: %s (role=%s term=%d applied=%d committed=%d stabled=%d last=%d)",
			uint64(n.id), what, n.role, n.term, l.applied, l.committed, l.stabled, l.lastIndex()))
	}
}

// brokenInvariant names the first invariant that does not hold, or is "".
func (n *Node) brokenInvariant() string {
	l := &n.log
	switch {
	case l.applied > l.committed:
		return "applied > committed"
	case l.applied < l.snap.Index || l.first <= l.snap.Index || l.stabled < l.snap.Index:
		return fmt.Sprintf("applied, stabled or the first entry in memory (%d) is within the snapshot at %d", l.first, l.snap.Index)
	case l.committed > l.lastIndex():
		return "committed > last index"
	case l.stabled > l.lastIndex():
		return "stabled > last index"
	case l.committed < n.prevHard.Commit && !l.unsafe:
		return fmt.Sprintf("commit index went backwards from %d", n.prevHard.Commit)
	case n.term < n.prevHard.Term:
		return fmt.Sprintf("term went backwards from %d", n.prevHard.Term)
	case l.lastTerm() > n.term:
		return "last entry's term above the current term"
	case (n.role == RoleLeader) != (n.lead == n.id):
		return fmt.Sprintf("role %s with lead %d", n.role, uint64(n.lead))
	case n.role == RoleLeader && n.vote != n.id:
		return fmt.Sprintf("leader voted for %d", uint64(n.vote))
	}
	last := l.lastIndex()
	for i := range n.prs {
		pr := &n.prs[i]
		if n.peers[i] == n.id {
			continue
		}
		if pr.match >= pr.next {
			return fmt.Sprintf("follower %d has match %d >= next %d", uint64(n.peers[i]), pr.match, pr.next)
		}
		if pr.next > last+1 {
			return fmt.Sprintf("follower %d has next %d past our last index %d", uint64(n.peers[i]), pr.next, last)
		}
	}
	return ""
}
