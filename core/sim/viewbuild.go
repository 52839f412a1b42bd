package sim

import (
	"cmp"
	"fmt"
	"slices"
	"strconv"
	"strings"
	"unicode/utf8"

	"dledgerlab/core"
	"dledgerlab/core/broker"
)

// View builds the frame the page draws.
func (s *Sim) View() ClusterView {
	st := s.st
	v := ClusterView{
		Mode:       "sim",
		TimeMs:     st.now,
		Seed:       s.cfg.Seed,
		Cuts:       st.net.Cuts(),
		Groups:     st.net.Groups,
		Events:     st.recentEvents(),
		Violations: slices.Clone(st.check.violations),
		Settings:   st.settings(),
	}
	if v.Cuts == nil {
		v.Cuts = []Link{}
	}
	if v.Violations == nil {
		v.Violations = []Violation{}
	}
	for _, n := range st.nodes {
		v.Nodes = append(v.Nodes, st.nodeView(n))
	}
	st.queue.each(func(e *event) {
		if e.kind == evDeliver {
			v.Messages = append(v.Messages, messageView(e.msg, e.msgID, e.sentAt, e.at))
		}
	})
	sortByID(v.Messages)
	for _, d := range st.drops {
		if st.now-d.DeliverMs <= 300 {
			v.Messages = append(v.Messages, d)
		}
	}
	if v.Messages == nil {
		v.Messages = []MessageView{}
	}
	v.Clients = st.clients.view()
	if s.cfg.CheckpointMs > 0 {
		tl := &TimelineView{EndMs: s.EndMs(), Actions: slices.Clone(s.actions)}
		for _, c := range s.checkpoints {
			tl.Checkpoints = append(tl.Checkpoints, c.at)
		}
		v.Timeline = tl
	}
	return v
}

// sortByID orders messages by ID, which is unique (one per copy put on the
// wire). It sorts the IDs and puts each message at its ID's rank instead of
// calling slices.SortFunc on the structs: each SortFunc instantiation costs
// about 20 KB of WebAssembly, while slices.Sort of uint64 is in the engine
// anyway.
func sortByID(ms []MessageView) {
	ids := make([]uint64, len(ms))
	for i := range ms {
		ids[i] = ms[i].ID
	}
	slices.Sort(ids)
	sorted := make([]MessageView, len(ms))
	for _, m := range ms {
		i, _ := slices.BinarySearch(ids, m.ID)
		sorted[i] = m
	}
	copy(ms, sorted)
}

func (st *state) settings() SettingsView {
	r := st.effectiveRules()
	return SettingsView{
		Nodes: len(st.nodes), TickMs: st.cfg.TickMs,
		LatencyMs: st.net.Def.LatencyMs, JitterMs: st.net.Def.JitterMs, Loss: st.net.Def.Loss,
		FsyncMs:           st.cfg.FsyncMs,
		CheckQuorum:       !(st.switches.DisableCheckQuorum || st.cfg.DisableCheckQuorum),
		PreVote:           !(st.switches.DisablePreVote || st.cfg.DisablePreVote),
		UpToDateCheck:     !r.SkipUpToDateCheck,
		CurrentTermCommit: !r.CommitOldTerms,
		PersistBeforeAck:  !r.AckBeforePersist,
		SegmentSize:       st.cfg.SegmentSize,
		Offsets:           cmp.Or(st.cfg.Offsets, "local"),
	}
}

func (st *state) nodeView(n *simNode) NodeView {
	v := NodeView{ID: n.id, State: n.state, Busy: n.busy, Truncated: slices.Clone(n.truncated)}
	for _, sg := range n.store.Segments() {
		v.Segments = append(v.Segments, SegmentView{Name: sg.Name, Start: sg.Start, Size: sg.Used, Cap: sg.Capacity})
	}
	if n.node == nil {
		// Down: show what its disk holds.
		v.Role = "down"
		v.LastIndex = n.store.LastIndex()
		hs, _ := n.store.InitialState()
		v.Term, v.Commit = hs.Term, hs.Commit
		first := max(1, int64(v.LastIndex)-int64(st.cfg.ViewLogEntries)+1, int64(n.store.Base().Index)+1)
		v.SnapshotIndex = n.store.Base().Index
		ents, _ := n.store.Entries(uint64(first), v.LastIndex+1)
		v.LogFirst = uint64(first)
		for _, e := range ents {
			v.Log = append(v.Log, st.entryView(n, e, e.Index <= hs.Commit, true))
		}
		if v.Log == nil {
			v.Log = []EntryView{}
		}
		v.Topics = []broker.TopicView{}
		return v
	}
	s := n.node.Status()
	v.Role = s.Role.String()
	v.Term, v.Vote, v.Lead = s.Term, int(s.Vote), int(s.Lead)
	v.Commit, v.Applied, v.Stabled = s.Commit, s.Applied, s.Stabled
	v.LastIndex, v.LastTerm = s.LastIndex, s.LastTerm
	v.ElectionElapsed, v.ElectionTimeout = s.ElectionElapsed, s.ElectionTimeout
	v.Transferee = int(s.Transferee)
	if len(s.Votes) > 0 {
		v.Votes = map[string]bool{}
		for id, g := range s.Votes {
			v.Votes[strconv.Itoa(int(id))] = g
		}
	}
	for id, p := range s.Progress {
		v.Progress = append(v.Progress, ProgressView{Peer: int(id), Match: p.Match, Next: p.Next, State: p.State.String(), Inflight: p.Inflight, Active: p.RecentActive})
	}
	// Insertion sort: a group has at most 8 followers.
	for i := 1; i < len(v.Progress); i++ {
		for j := i; j > 0 && v.Progress[j].Peer < v.Progress[j-1].Peer; j-- {
			v.Progress[j], v.Progress[j-1] = v.Progress[j-1], v.Progress[j]
		}
	}
	v.SnapshotIndex = n.node.LastSnapshot().Index
	v.SnapshotsInstalled = n.installed
	first := uint64(max(1, int64(s.LastIndex)-int64(st.cfg.ViewLogEntries)+1, int64(v.SnapshotIndex)+1))
	v.LogFirst = first
	durable := n.store.DurableLastIndex()
	for _, e := range n.node.Entries(first, s.LastIndex+1) {
		v.Log = append(v.Log, st.entryView(n, e, e.Index <= s.Commit, e.Index <= durable && e.Index <= s.Stabled))
	}
	if v.Log == nil {
		v.Log = []EntryView{}
	}
	v.Topics = n.br.Topics()
	v.Offsets = GroupOffsets(n.br.Offsets())
	return v
}

// GroupOffsets lists a broker's offset table by group, then topic (a
// NodeView's Offsets; real brokers build their views with it too).
func GroupOffsets(table map[string]map[string]uint64) []GroupOffset {
	var keys []string
	for g, ts := range table {
		for t := range ts {
			keys = append(keys, g+"\x00"+t) // '\x00' is in neither name
		}
	}
	slices.Sort(keys)
	out := make([]GroupOffset, 0, len(keys))
	for _, k := range keys {
		g, t, _ := strings.Cut(k, "\x00")
		out = append(out, GroupOffset{Group: g, Topic: t, Offset: table[g][t]})
	}
	return out
}

func (st *state) entryView(n *simNode, e core.Entry, committed, durable bool) EntryView {
	v := EntryView{Index: e.Index, Term: e.Term, Type: e.Type.String(), Committed: committed, Durable: durable, Pos: -1}
	if pos, size, ok := n.store.Position(e.Index); ok {
		v.Pos, v.Size = pos, size
	}
	switch e.Type {
	case core.EntryNoOp:
		v.Summary = "no-op"
	default:
		if m, err := broker.DecodeMessage(e.Data); err == nil {
			v.Summary = m.Topic + ": " + clip(string(m.Body), 24)
		} else {
			v.Summary = fmt.Sprintf("%d bytes", len(e.Data))
		}
	}
	return v
}

func clip(s string, n int) string {
	if utf8.RuneCountInString(s) <= n {
		return s
	}
	r := []rune(s)
	return string(r[:n-1]) + "…"
}

func (c clients) view() ClientsView {
	v := ClientsView{Producers: []ProducerView{}, Consumers: []ConsumerView{}}
	for _, p := range c.producers {
		pv := ProducerView{ID: p.id, Topic: p.topic, Sent: p.sent, Acked: p.acked, Unknown: p.unknown, Retries: p.retries,
			Node: p.node, Guess: p.guess, Queued: len(p.queue)}
		switch {
		case p.timedOut:
			pv.Last, pv.LastWhy = "timeout: outcome unknown", "timeout"
		case p.last != (clientResp{}):
			pv.Last = p.last.String()
			pv.LastWhy, pv.LastArgs = p.last.why()
		}
		if p.out != nil {
			pv.Target, pv.Seq, pv.Body = p.out.target, p.out.seq, clip(string(p.out.body), 24)
			pv.Pending = fmt.Sprintf("#%d %q → broker %d", p.out.seq, pv.Body, p.out.target)
		}
		v.Producers = append(v.Producers, pv)
	}
	for _, k := range c.consumers {
		v.Consumers = append(v.Consumers, ConsumerView{ID: k.id, Topic: k.topic, Node: k.node, Offset: k.offset, Recent: recentStrings(k.recent),
			Group: k.group, Committed: k.committed, Delivered: k.delivered, Redelivered: k.redelivered, Redone: slices.Clone(k.redone)})
	}
	return v
}

// History returns the recorded client operations (Config.RecordHistory).
func (s *Sim) History() []ClientOp { return slices.Clone(s.st.clients.history) }

func recentStrings(rs []readMsg) []string {
	if rs == nil {
		return nil
	}
	out := make([]string, len(rs))
	for i, r := range rs {
		out[i] = r.String()
	}
	return out
}
