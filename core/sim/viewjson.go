package sim

import (
	"slices"

	"dledgerlab/core/broker"
	"dledgerlab/internal/minijson"
)

// The JSON of a frame, written by hand: field by field in the order of the
// struct, with its tag's name, omitempty fields only when not empty. The
// result is byte for byte encoding/json.Marshal's (viewjson_test.go holds it
// to that for every field, on frames of seeded runs with faults), without
// reflection, so the WebAssembly engine does not carry encoding/json.
//
// A field added to a view type must be added here too; the tests fail until
// it is.

// AppendJSON appends v as JSON, exactly as json.Marshal(v) writes it.
func (v *ClusterView) AppendJSON(b []byte) []byte {
	w := minijson.Writer{B: b}
	v.writeJSON(&w)
	return w.B
}

func (v *ClusterView) writeJSON(w *minijson.Writer) {
	w.String(`{"mode":`, v.Mode)
	w.Int(`,"time_ms":`, v.TimeMs)
	if v.Seed != 0 {
		w.Uint(`,"seed":`, v.Seed)
	}
	w.List(`,"nodes":`, len(v.Nodes), v.Nodes == nil, func(i int) { writeNodeView(w, &v.Nodes[i]) })
	w.List(`,"messages":`, len(v.Messages), v.Messages == nil, func(i int) { writeMessageView(w, &v.Messages[i]) })
	w.List(`,"cuts":`, len(v.Cuts), v.Cuts == nil, func(i int) {
		w.Int(`{"from":`, int64(v.Cuts[i].From))
		w.Int(`,"to":`, int64(v.Cuts[i].To))
		w.Raw(`}`)
	})
	if len(v.Groups) > 0 {
		w.IntGroups(`,"groups":`, v.Groups)
	}
	w.List(`,"events":`, len(v.Events), v.Events == nil, func(i int) { writeEventView(w, &v.Events[i]) })
	w.List(`,"violations":`, len(v.Violations), v.Violations == nil, func(i int) { writeViolation(w, &v.Violations[i]) })
	c := &v.Clients
	w.List(`,"clients":{"producers":`, len(c.Producers), c.Producers == nil, func(i int) { writeProducerView(w, &c.Producers[i]) })
	w.List(`,"consumers":`, len(c.Consumers), c.Consumers == nil, func(i int) { writeConsumerView(w, &c.Consumers[i]) })
	w.Raw(`}`)
	writeSettingsView(w, &v.Settings)
	if t := v.Timeline; t != nil {
		w.Int(`,"timeline":{"end_ms":`, t.EndMs)
		w.List(`,"checkpoints":`, len(t.Checkpoints), t.Checkpoints == nil, func(i int) { w.Int("", t.Checkpoints[i]) })
		w.List(`,"actions":`, len(t.Actions), t.Actions == nil, func(i int) { t.Actions[i].writeJSON(w) })
		w.Raw(`}`)
	}
	w.Raw(`}`)
}

func writeNodeView(w *minijson.Writer, n *NodeView) {
	w.Int(`{"id":`, int64(n.ID))
	w.String(`,"state":`, n.State)
	w.String(`,"role":`, n.Role)
	w.Uint(`,"term":`, n.Term)
	w.Int(`,"vote":`, int64(n.Vote))
	w.Int(`,"lead":`, int64(n.Lead))
	w.Uint(`,"commit":`, n.Commit)
	w.Uint(`,"applied":`, n.Applied)
	w.Uint(`,"stabled":`, n.Stabled)
	w.Uint(`,"last_index":`, n.LastIndex)
	w.Uint(`,"last_term":`, n.LastTerm)
	w.Int(`,"election_elapsed":`, int64(n.ElectionElapsed))
	w.Int(`,"election_timeout":`, int64(n.ElectionTimeout))
	if len(n.Votes) > 0 {
		// encoding/json writes a map's keys sorted.
		keys := make([]string, 0, len(n.Votes))
		for k := range n.Votes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		for i, k := range keys {
			key := ","
			if i == 0 {
				key = `,"votes":{`
			}
			w.String(key, k)
			w.Bool(":", n.Votes[k])
		}
		w.Raw(`}`)
	}
	if len(n.Progress) > 0 {
		w.List(`,"progress":`, len(n.Progress), false, func(i int) {
			p := &n.Progress[i]
			w.Int(`{"peer":`, int64(p.Peer))
			w.Uint(`,"match":`, p.Match)
			w.Uint(`,"next":`, p.Next)
			w.String(`,"state":`, p.State)
			w.Int(`,"inflight":`, int64(p.Inflight))
			w.Bool(`,"active":`, p.Active)
			w.Raw(`}`)
		})
	}
	if n.Transferee != 0 {
		w.Int(`,"transferee":`, int64(n.Transferee))
	}
	if n.Busy {
		w.Raw(`,"busy":true`)
	}
	w.Uint(`,"log_first":`, n.LogFirst)
	w.List(`,"log":`, len(n.Log), n.Log == nil, func(i int) { writeEntryView(w, &n.Log[i]) })
	if len(n.Truncated) > 0 {
		w.List(`,"truncated":`, len(n.Truncated), false, func(i int) { writeEntryView(w, &n.Truncated[i]) })
	}
	w.List(`,"segments":`, len(n.Segments), n.Segments == nil, func(i int) {
		s := &n.Segments[i]
		w.String(`{"name":`, s.Name)
		w.Int(`,"start":`, s.Start)
		w.Int(`,"size":`, s.Size)
		w.Int(`,"cap":`, s.Cap)
		w.Raw(`}`)
	})
	w.List(`,"topics":`, len(n.Topics), n.Topics == nil, func(i int) { writeTopicView(w, &n.Topics[i]) })
	if n.Address != "" {
		w.String(`,"address":`, n.Address)
	}
	if n.Pid != 0 {
		w.Int(`,"pid":`, int64(n.Pid))
	}
	if n.MsgRate != 0 {
		w.Float(`,"msg_rate":`, n.MsgRate)
	}
	if n.DataDir != "" {
		w.String(`,"data_dir":`, n.DataDir)
	}
	w.Raw(`}`)
}

func writeEntryView(w *minijson.Writer, e *EntryView) {
	w.Uint(`{"index":`, e.Index)
	w.Uint(`,"term":`, e.Term)
	w.String(`,"type":`, e.Type)
	w.Bool(`,"committed":`, e.Committed)
	w.Bool(`,"durable":`, e.Durable)
	w.Int(`,"pos":`, e.Pos)
	w.Int(`,"size":`, int64(e.Size))
	w.String(`,"summary":`, e.Summary)
	w.Raw(`}`)
}

// writeTopicView writes core/broker's view of a topic (its JSON tags).
func writeTopicView(w *minijson.Writer, t *broker.TopicView) {
	w.String(`{"name":`, t.Name)
	w.Uint(`,"len":`, t.Len)
	w.List(`,"recent":`, len(t.Recent), t.Recent == nil, func(i int) {
		r := &t.Recent[i]
		w.Uint(`{"queueOffset":`, r.QueueOffset)
		w.Uint(`,"index":`, r.Index)
		w.Uint(`,"term":`, r.Term)
		w.Int(`,"pos":`, r.Pos)
		w.Int(`,"size":`, int64(r.Size))
		w.Int(`,"tagHash":`, r.TagHash)
		if r.Tags != "" {
			w.String(`,"tags":`, r.Tags)
		}
		if r.Keys != "" {
			w.String(`,"keys":`, r.Keys)
		}
		if r.Producer != "" {
			w.String(`,"producer":`, r.Producer)
		}
		if r.Seq != 0 {
			w.Uint(`,"seq":`, r.Seq)
		}
		w.Int(`,"bodyLen":`, int64(r.BodyLen))
		w.Raw(`}`)
	})
	w.Raw(`}`)
}

func writeMessageView(w *minijson.Writer, m *MessageView) {
	w.Uint(`{"id":`, m.ID)
	w.Int(`,"from":`, int64(m.From))
	w.Int(`,"to":`, int64(m.To))
	w.String(`,"type":`, m.Type)
	w.Uint(`,"term":`, m.Term)
	w.Int(`,"sent_ms":`, m.SentMs)
	w.Int(`,"deliver_ms":`, m.DeliverMs)
	if m.Entries != 0 {
		w.Int(`,"entries":`, int64(m.Entries))
	}
	if m.Reject {
		w.Raw(`,"reject":true`)
	}
	if m.Dropped {
		w.Raw(`,"dropped":true`)
	}
	w.String(`,"summary":`, m.Summary)
	w.Raw(`}`)
}

func writeEventView(w *minijson.Writer, e *EventView) {
	w.Int(`{"time_ms":`, e.TimeMs)
	w.Int(`,"node":`, int64(e.Node))
	w.Uint(`,"term":`, e.Term)
	w.String(`,"kind":`, e.Kind)
	if e.Peer != 0 {
		w.Int(`,"peer":`, int64(e.Peer))
	}
	if e.Index != 0 {
		w.Uint(`,"index":`, e.Index)
	}
	if e.Detail != "" {
		w.String(`,"detail":`, e.Detail)
	}
	w.Raw(`}`)
}

func writeViolation(w *minijson.Writer, v *Violation) {
	w.Int(`{"time_ms":`, v.TimeMs)
	w.String(`,"rule":`, v.Rule)
	w.Ints(`,"brokers":`, v.Brokers)
	w.String(`,"text":`, v.Text)
	w.String(`,"event":`, v.Event)
	w.Raw(`}`)
}

func writeProducerView(w *minijson.Writer, p *ProducerView) {
	w.String(`{"id":`, p.ID)
	w.String(`,"topic":`, p.Topic)
	w.Int(`,"sent":`, int64(p.Sent))
	w.Int(`,"acked":`, int64(p.Acked))
	w.Int(`,"unknown":`, int64(p.Unknown))
	w.Int(`,"retries":`, int64(p.Retries))
	if p.Pending != "" {
		w.String(`,"pending":`, p.Pending)
	}
	if p.Last != "" {
		w.String(`,"last":`, p.Last)
	}
	w.Raw(`}`)
}

func writeConsumerView(w *minijson.Writer, c *ConsumerView) {
	w.String(`{"id":`, c.ID)
	w.String(`,"topic":`, c.Topic)
	w.Int(`,"node":`, int64(c.Node))
	w.Uint(`,"offset":`, c.Offset)
	w.Strings(`,"recent":`, c.Recent)
	w.Raw(`}`)
}

func writeSettingsView(w *minijson.Writer, s *SettingsView) {
	w.Int(`,"settings":{"nodes":`, int64(s.Nodes))
	w.Int(`,"tick_ms":`, int64(s.TickMs))
	w.Int(`,"latency_ms":`, int64(s.LatencyMs))
	w.Int(`,"jitter_ms":`, int64(s.JitterMs))
	w.Float(`,"loss":`, s.Loss)
	w.Int(`,"fsync_ms":`, int64(s.FsyncMs))
	w.Bool(`,"check_quorum":`, s.CheckQuorum)
	w.Bool(`,"pre_vote":`, s.PreVote)
	w.Bool(`,"up_to_date_check":`, s.UpToDateCheck)
	w.Bool(`,"current_term_commit":`, s.CurrentTermCommit)
	w.Bool(`,"persist_before_ack":`, s.PersistBeforeAck)
	w.Int(`,"segment_size":`, s.SegmentSize)
	w.Raw(`}`)
}
