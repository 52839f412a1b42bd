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
	b = append(b, `{"mode":`...)
	b = minijson.AppendString(b, v.Mode)
	b = append(b, `,"time_ms":`...)
	b = minijson.AppendInt(b, v.TimeMs)
	if v.Seed != 0 {
		b = append(b, `,"seed":`...)
		b = minijson.AppendUint(b, v.Seed)
	}
	b = append(b, `,"nodes":`...)
	b = minijson.AppendList(b, v.Nodes, appendNodeView)
	b = append(b, `,"messages":`...)
	b = minijson.AppendList(b, v.Messages, appendMessageView)
	b = append(b, `,"cuts":`...)
	b = minijson.AppendList(b, v.Cuts, appendLink)
	if len(v.Groups) > 0 {
		b = append(b, `,"groups":`...)
		b = minijson.AppendIntGroups(b, v.Groups)
	}
	b = append(b, `,"events":`...)
	b = minijson.AppendList(b, v.Events, appendEventView)
	b = append(b, `,"violations":`...)
	b = minijson.AppendList(b, v.Violations, appendViolation)
	b = append(b, `,"clients":{"producers":`...)
	b = minijson.AppendList(b, v.Clients.Producers, appendProducerView)
	b = append(b, `,"consumers":`...)
	b = minijson.AppendList(b, v.Clients.Consumers, appendConsumerView)
	b = append(b, `},"settings":`...)
	b = appendSettingsView(b, &v.Settings)
	if v.Timeline != nil {
		b = append(b, `,"timeline":{"end_ms":`...)
		b = minijson.AppendInt(b, v.Timeline.EndMs)
		b = append(b, `,"checkpoints":`...)
		b = minijson.AppendList(b, v.Timeline.Checkpoints, func(b []byte, at *int64) []byte { return minijson.AppendInt(b, *at) })
		b = append(b, `,"actions":`...)
		b = minijson.AppendList(b, v.Timeline.Actions, func(b []byte, a *Action) []byte { return a.appendJSON(b) })
		b = append(b, '}')
	}
	return append(b, '}')
}

func appendNodeView(b []byte, n *NodeView) []byte {
	b = append(b, `{"id":`...)
	b = minijson.AppendInt(b, int64(n.ID))
	b = append(b, `,"state":`...)
	b = minijson.AppendString(b, n.State)
	b = append(b, `,"role":`...)
	b = minijson.AppendString(b, n.Role)
	b = append(b, `,"term":`...)
	b = minijson.AppendUint(b, n.Term)
	b = append(b, `,"vote":`...)
	b = minijson.AppendInt(b, int64(n.Vote))
	b = append(b, `,"lead":`...)
	b = minijson.AppendInt(b, int64(n.Lead))
	b = append(b, `,"commit":`...)
	b = minijson.AppendUint(b, n.Commit)
	b = append(b, `,"applied":`...)
	b = minijson.AppendUint(b, n.Applied)
	b = append(b, `,"stabled":`...)
	b = minijson.AppendUint(b, n.Stabled)
	b = append(b, `,"last_index":`...)
	b = minijson.AppendUint(b, n.LastIndex)
	b = append(b, `,"last_term":`...)
	b = minijson.AppendUint(b, n.LastTerm)
	b = append(b, `,"election_elapsed":`...)
	b = minijson.AppendInt(b, int64(n.ElectionElapsed))
	b = append(b, `,"election_timeout":`...)
	b = minijson.AppendInt(b, int64(n.ElectionTimeout))
	if len(n.Votes) > 0 {
		// encoding/json writes a map's keys sorted.
		keys := make([]string, 0, len(n.Votes))
		for k := range n.Votes {
			keys = append(keys, k)
		}
		slices.Sort(keys)
		b = append(b, `,"votes":{`...)
		for i, k := range keys {
			if i > 0 {
				b = append(b, ',')
			}
			b = minijson.AppendString(b, k)
			b = append(b, ':')
			b = minijson.AppendBool(b, n.Votes[k])
		}
		b = append(b, '}')
	}
	if len(n.Progress) > 0 {
		b = append(b, `,"progress":`...)
		b = minijson.AppendList(b, n.Progress, appendProgressView)
	}
	if n.Transferee != 0 {
		b = append(b, `,"transferee":`...)
		b = minijson.AppendInt(b, int64(n.Transferee))
	}
	if n.Busy {
		b = append(b, `,"busy":true`...)
	}
	b = append(b, `,"log_first":`...)
	b = minijson.AppendUint(b, n.LogFirst)
	b = append(b, `,"log":`...)
	b = minijson.AppendList(b, n.Log, appendEntryView)
	if len(n.Truncated) > 0 {
		b = append(b, `,"truncated":`...)
		b = minijson.AppendList(b, n.Truncated, appendEntryView)
	}
	b = append(b, `,"segments":`...)
	b = minijson.AppendList(b, n.Segments, appendSegmentView)
	b = append(b, `,"topics":`...)
	b = minijson.AppendList(b, n.Topics, appendTopicView)
	if n.Address != "" {
		b = append(b, `,"address":`...)
		b = minijson.AppendString(b, n.Address)
	}
	if n.Pid != 0 {
		b = append(b, `,"pid":`...)
		b = minijson.AppendInt(b, int64(n.Pid))
	}
	if n.MsgRate != 0 {
		b = append(b, `,"msg_rate":`...)
		b = minijson.AppendFloat(b, n.MsgRate)
	}
	if n.DataDir != "" {
		b = append(b, `,"data_dir":`...)
		b = minijson.AppendString(b, n.DataDir)
	}
	return append(b, '}')
}

func appendProgressView(b []byte, p *ProgressView) []byte {
	b = append(b, `{"peer":`...)
	b = minijson.AppendInt(b, int64(p.Peer))
	b = append(b, `,"match":`...)
	b = minijson.AppendUint(b, p.Match)
	b = append(b, `,"next":`...)
	b = minijson.AppendUint(b, p.Next)
	b = append(b, `,"state":`...)
	b = minijson.AppendString(b, p.State)
	b = append(b, `,"inflight":`...)
	b = minijson.AppendInt(b, int64(p.Inflight))
	b = append(b, `,"active":`...)
	b = minijson.AppendBool(b, p.Active)
	return append(b, '}')
}

func appendEntryView(b []byte, e *EntryView) []byte {
	b = append(b, `{"index":`...)
	b = minijson.AppendUint(b, e.Index)
	b = append(b, `,"term":`...)
	b = minijson.AppendUint(b, e.Term)
	b = append(b, `,"type":`...)
	b = minijson.AppendString(b, e.Type)
	b = append(b, `,"committed":`...)
	b = minijson.AppendBool(b, e.Committed)
	b = append(b, `,"durable":`...)
	b = minijson.AppendBool(b, e.Durable)
	b = append(b, `,"pos":`...)
	b = minijson.AppendInt(b, e.Pos)
	b = append(b, `,"size":`...)
	b = minijson.AppendInt(b, int64(e.Size))
	b = append(b, `,"summary":`...)
	b = minijson.AppendString(b, e.Summary)
	return append(b, '}')
}

func appendSegmentView(b []byte, s *SegmentView) []byte {
	b = append(b, `{"name":`...)
	b = minijson.AppendString(b, s.Name)
	b = append(b, `,"start":`...)
	b = minijson.AppendInt(b, s.Start)
	b = append(b, `,"size":`...)
	b = minijson.AppendInt(b, s.Size)
	b = append(b, `,"cap":`...)
	b = minijson.AppendInt(b, s.Cap)
	return append(b, '}')
}

// appendTopicView writes core/broker's view of a topic (its JSON tags).
func appendTopicView(b []byte, t *broker.TopicView) []byte {
	b = append(b, `{"name":`...)
	b = minijson.AppendString(b, t.Name)
	b = append(b, `,"len":`...)
	b = minijson.AppendUint(b, t.Len)
	b = append(b, `,"recent":`...)
	b = minijson.AppendList(b, t.Recent, appendRecordView)
	return append(b, '}')
}

func appendRecordView(b []byte, r *broker.RecordView) []byte {
	b = append(b, `{"queueOffset":`...)
	b = minijson.AppendUint(b, r.QueueOffset)
	b = append(b, `,"index":`...)
	b = minijson.AppendUint(b, r.Index)
	b = append(b, `,"term":`...)
	b = minijson.AppendUint(b, r.Term)
	b = append(b, `,"pos":`...)
	b = minijson.AppendInt(b, r.Pos)
	b = append(b, `,"size":`...)
	b = minijson.AppendInt(b, int64(r.Size))
	b = append(b, `,"tagHash":`...)
	b = minijson.AppendInt(b, r.TagHash)
	if r.Tags != "" {
		b = append(b, `,"tags":`...)
		b = minijson.AppendString(b, r.Tags)
	}
	if r.Keys != "" {
		b = append(b, `,"keys":`...)
		b = minijson.AppendString(b, r.Keys)
	}
	if r.Producer != "" {
		b = append(b, `,"producer":`...)
		b = minijson.AppendString(b, r.Producer)
	}
	if r.Seq != 0 {
		b = append(b, `,"seq":`...)
		b = minijson.AppendUint(b, r.Seq)
	}
	b = append(b, `,"bodyLen":`...)
	b = minijson.AppendInt(b, int64(r.BodyLen))
	return append(b, '}')
}

func appendMessageView(b []byte, m *MessageView) []byte {
	b = append(b, `{"id":`...)
	b = minijson.AppendUint(b, m.ID)
	b = append(b, `,"from":`...)
	b = minijson.AppendInt(b, int64(m.From))
	b = append(b, `,"to":`...)
	b = minijson.AppendInt(b, int64(m.To))
	b = append(b, `,"type":`...)
	b = minijson.AppendString(b, m.Type)
	b = append(b, `,"term":`...)
	b = minijson.AppendUint(b, m.Term)
	b = append(b, `,"sent_ms":`...)
	b = minijson.AppendInt(b, m.SentMs)
	b = append(b, `,"deliver_ms":`...)
	b = minijson.AppendInt(b, m.DeliverMs)
	if m.Entries != 0 {
		b = append(b, `,"entries":`...)
		b = minijson.AppendInt(b, int64(m.Entries))
	}
	if m.Reject {
		b = append(b, `,"reject":true`...)
	}
	if m.Dropped {
		b = append(b, `,"dropped":true`...)
	}
	b = append(b, `,"summary":`...)
	b = minijson.AppendString(b, m.Summary)
	return append(b, '}')
}

func appendLink(b []byte, l *Link) []byte {
	b = append(b, `{"from":`...)
	b = minijson.AppendInt(b, int64(l.From))
	b = append(b, `,"to":`...)
	b = minijson.AppendInt(b, int64(l.To))
	return append(b, '}')
}

func appendEventView(b []byte, e *EventView) []byte {
	b = append(b, `{"time_ms":`...)
	b = minijson.AppendInt(b, e.TimeMs)
	b = append(b, `,"node":`...)
	b = minijson.AppendInt(b, int64(e.Node))
	b = append(b, `,"term":`...)
	b = minijson.AppendUint(b, e.Term)
	b = append(b, `,"kind":`...)
	b = minijson.AppendString(b, e.Kind)
	if e.Peer != 0 {
		b = append(b, `,"peer":`...)
		b = minijson.AppendInt(b, int64(e.Peer))
	}
	if e.Index != 0 {
		b = append(b, `,"index":`...)
		b = minijson.AppendUint(b, e.Index)
	}
	if e.Detail != "" {
		b = append(b, `,"detail":`...)
		b = minijson.AppendString(b, e.Detail)
	}
	return append(b, '}')
}

func appendViolation(b []byte, v *Violation) []byte {
	b = append(b, `{"time_ms":`...)
	b = minijson.AppendInt(b, v.TimeMs)
	b = append(b, `,"rule":`...)
	b = minijson.AppendString(b, v.Rule)
	b = append(b, `,"brokers":`...)
	b = minijson.AppendInts(b, v.Brokers)
	b = append(b, `,"text":`...)
	b = minijson.AppendString(b, v.Text)
	b = append(b, `,"event":`...)
	b = minijson.AppendString(b, v.Event)
	return append(b, '}')
}

func appendProducerView(b []byte, p *ProducerView) []byte {
	b = append(b, `{"id":`...)
	b = minijson.AppendString(b, p.ID)
	b = append(b, `,"topic":`...)
	b = minijson.AppendString(b, p.Topic)
	b = append(b, `,"sent":`...)
	b = minijson.AppendInt(b, int64(p.Sent))
	b = append(b, `,"acked":`...)
	b = minijson.AppendInt(b, int64(p.Acked))
	b = append(b, `,"unknown":`...)
	b = minijson.AppendInt(b, int64(p.Unknown))
	b = append(b, `,"retries":`...)
	b = minijson.AppendInt(b, int64(p.Retries))
	if p.Pending != "" {
		b = append(b, `,"pending":`...)
		b = minijson.AppendString(b, p.Pending)
	}
	if p.Last != "" {
		b = append(b, `,"last":`...)
		b = minijson.AppendString(b, p.Last)
	}
	return append(b, '}')
}

func appendConsumerView(b []byte, c *ConsumerView) []byte {
	b = append(b, `{"id":`...)
	b = minijson.AppendString(b, c.ID)
	b = append(b, `,"topic":`...)
	b = minijson.AppendString(b, c.Topic)
	b = append(b, `,"node":`...)
	b = minijson.AppendInt(b, int64(c.Node))
	b = append(b, `,"offset":`...)
	b = minijson.AppendUint(b, c.Offset)
	b = append(b, `,"recent":`...)
	b = minijson.AppendStrings(b, c.Recent)
	return append(b, '}')
}

func appendSettingsView(b []byte, s *SettingsView) []byte {
	b = append(b, `{"nodes":`...)
	b = minijson.AppendInt(b, int64(s.Nodes))
	b = append(b, `,"tick_ms":`...)
	b = minijson.AppendInt(b, int64(s.TickMs))
	b = append(b, `,"latency_ms":`...)
	b = minijson.AppendInt(b, int64(s.LatencyMs))
	b = append(b, `,"jitter_ms":`...)
	b = minijson.AppendInt(b, int64(s.JitterMs))
	b = append(b, `,"loss":`...)
	b = minijson.AppendFloat(b, s.Loss)
	b = append(b, `,"fsync_ms":`...)
	b = minijson.AppendInt(b, int64(s.FsyncMs))
	b = append(b, `,"check_quorum":`...)
	b = minijson.AppendBool(b, s.CheckQuorum)
	b = append(b, `,"pre_vote":`...)
	b = minijson.AppendBool(b, s.PreVote)
	b = append(b, `,"up_to_date_check":`...)
	b = minijson.AppendBool(b, s.UpToDateCheck)
	b = append(b, `,"current_term_commit":`...)
	b = minijson.AppendBool(b, s.CurrentTermCommit)
	b = append(b, `,"persist_before_ack":`...)
	b = minijson.AppendBool(b, s.PersistBeforeAck)
	b = append(b, `,"segment_size":`...)
	b = minijson.AppendInt(b, s.SegmentSize)
	return append(b, '}')
}
