package server

// The live ClusterView of this broker (ARCHITECTURE.md rule 2): the same
// JSON the simulator posts to the page, built from the running replica, its
// store and its broker, with Mode "live". A launcher merges the frames of
// every broker into one view.

import (
	"fmt"
	"os"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/sim"
)

// viewLogEntries is how many of the last log entries a frame carries.
const viewLogEntries = 64

// The live view draws each message this broker sent as a short-lived arrow.
// A real message crosses one machine in well under a millisecond: too fast
// to see, and frames reach the page four times a second. So each is drawn
// as taking sentFlightMs, or the link's latency when that is longer (a link
// slowed from the page is seen slow). Of the many messages of one kind on
// one link (a heartbeat every 50 ms, pushes under load) one per
// flight/perLink is kept, so that each one drawn is seen all the way across
// rather than replaced by newer ones a few steps from its sender.
const (
	sentFlightMs = 600
	perLink      = 3
	maxSent      = 256 // a bound the spacing above keeps far from
)

// sentKey is what tells the kept messages apart: a dropped message or a
// refusal is not hidden behind an ordinary one of its kind.
type sentKey struct {
	to               core.NodeID
	typ              core.MessageType
	dropped, refused bool
}

// noteSent records m for the live view's arrows (runner only). dropped:
// the transport dropped it at once (a cut link, the link's loss, a full
// queue); the page draws a cross instead of a message that never leaves.
// delay: how long the link's latency holds it.
func (s *Server) noteSent(m core.Message, dropped bool, delay time.Duration) {
	s.noteSentAt(time.Since(s.started).Milliseconds(), m, dropped, delay)
}

// noteSentAt is noteSent at now, in ms since the process started.
func (s *Server) noteSentAt(now int64, m core.Message, dropped bool, delay time.Duration) {
	flight := max(sentFlightMs, delay.Milliseconds())
	k := sentKey{m.To, m.Type, dropped, m.Reject}
	if last, ok := s.sentLast[k]; ok && now-last < flight/perLink {
		return
	}
	if s.sentLast == nil {
		s.sentLast = map[sentKey]int64{}
	}
	s.sentLast[k] = now
	s.sentIDs++
	s.sent = slices.DeleteFunc(s.sent, func(v sim.MessageView) bool { return v.DeliverMs < now })
	if len(s.sent) >= maxSent {
		s.sent = slices.Delete(s.sent, 0, len(s.sent)-maxSent+1)
	}
	s.sent = append(s.sent, sim.MessageView{ID: uint64(s.cfg.ID)<<40 | s.sentIDs, From: int(m.From), To: int(m.To), Type: m.Type.String(), Term: m.Term,
		SentMs: now, DeliverMs: now + flight, Entries: len(m.Entries), Reject: m.Reject, Dropped: dropped})
}

// recentSent returns the noted messages still drawn in flight at now (ms
// since the process started).
func (s *Server) recentSent(now int64) []sim.MessageView {
	out := []sim.MessageView{}
	for _, m := range s.sent {
		if m.DeliverMs >= now {
			out = append(out, m)
		}
	}
	return out
}

// view runs on the runner.
func (s *Server) view() sim.ClusterView {
	now := time.Since(s.started).Milliseconds()
	cuts := []sim.Link{}
	for _, id := range s.trans.Cuts() {
		cuts = append(cuts, sim.Link{From: int(s.cfg.ID), To: int(id)}, sim.Link{From: int(id), To: int(s.cfg.ID)})
	}
	return sim.ClusterView{
		Mode:       "live",
		TimeMs:     now,
		Nodes:      []sim.NodeView{s.nodeView()},
		Messages:   s.recentSent(now),
		Cuts:       cuts,
		Events:     slices.Clone(s.events),
		Violations: []sim.Violation{},
		Clients:    sim.ClientsView{Producers: []sim.ProducerView{}, Consumers: []sim.ConsumerView{}},
		Settings: sim.SettingsView{
			Nodes: len(s.cfg.Peers), TickMs: int(s.cfg.Tick / time.Millisecond),
			CheckQuorum: s.checkQuorum, PreVote: s.preVote, UpToDateCheck: true, CurrentTermCommit: true, PersistBeforeAck: true,
			SegmentSize: s.store.Options().SegmentSize,
		},
	}
}

func (s *Server) nodeView() sim.NodeView {
	rs := s.raft.Status()
	nv := sim.NodeView{
		ID: int(s.cfg.ID), State: "running", Role: rs.Role.String(), Term: rs.Term, Vote: int(rs.Vote), Lead: int(rs.Lead),
		Commit: rs.Commit, Applied: rs.Applied, Stabled: rs.Stabled, LastIndex: rs.LastIndex, LastTerm: rs.LastTerm,
		ElectionElapsed: rs.ElectionElapsed, ElectionTimeout: rs.ElectionTimeout, Transferee: int(rs.Transferee),
		Log: []sim.EntryView{}, Segments: []sim.SegmentView{}, Topics: s.bk.Topics(), Offsets: sim.GroupOffsets(s.bk.Offsets()),
		Truncated: slices.Clone(s.truncated),
		Address:   s.cfg.HTTP[s.cfg.ID], Pid: os.Getpid(), MsgRate: s.rate.perSecond(), DataDir: s.cfg.Dir,
	}
	if nv.Topics == nil {
		nv.Topics = []broker.TopicView{}
	}
	if rs.Votes != nil {
		nv.Votes = map[string]bool{}
		for id, v := range rs.Votes {
			nv.Votes[strconv.FormatUint(uint64(id), 10)] = v
		}
	}
	ids := make([]core.NodeID, 0, len(rs.Progress))
	for id := range rs.Progress {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id == s.cfg.ID {
			continue
		}
		p := rs.Progress[id]
		nv.Progress = append(nv.Progress, sim.ProgressView{Peer: int(id), Match: p.Match, Next: p.Next, State: p.State.String(), Inflight: p.Inflight, Active: p.RecentActive})
	}
	lo := uint64(1)
	if rs.LastIndex > viewLogEntries {
		lo = rs.LastIndex - viewLogEntries + 1
	}
	nv.SnapshotIndex = s.raft.LastSnapshot().Index
	nv.SnapshotsInstalled = int(s.installed)
	lo = max(lo, nv.SnapshotIndex+1)
	nv.LogFirst = lo
	for _, e := range s.raft.Entries(lo, rs.LastIndex+1) {
		ev := sim.EntryView{Index: e.Index, Term: e.Term, Type: e.Type.String(), Committed: e.Index <= rs.Commit,
			Durable: e.Index <= rs.Stabled, Pos: -1, Summary: summary(e)}
		if pos, size, ok := s.store.Position(e.Index); ok && e.Index <= rs.Stabled {
			ev.Pos, ev.Size = pos, size
		}
		nv.Log = append(nv.Log, ev)
	}
	for _, sg := range s.store.Segments() {
		nv.Segments = append(nv.Segments, sim.SegmentView{Name: sg.Name, Start: sg.Start, Size: sg.Used, Cap: sg.Capacity})
	}
	return nv
}

// summary is an entry's short label: "orders: hello" or "no-op".
func summary(e core.Entry) string {
	if e.Type == core.EntryNoOp {
		return "no-op"
	}
	m, err := broker.DecodeMessage(e.Data)
	if err != nil {
		return "undecodable"
	}
	body := m.Body
	if len(body) > 24 {
		body = body[:24]
	}
	if !utf8.Valid(body) {
		return fmt.Sprintf("%s: %d bytes", m.Topic, len(m.Body))
	}
	return fmt.Sprintf("%s: %s", m.Topic, body)
}
