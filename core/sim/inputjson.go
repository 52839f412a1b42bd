package sim

import "dledgerlab/internal/minijson"

// The JSON of a run's inputs — Config and Action, as share links carry them
// and the page sends them — written and read by hand, without reflection
// (see viewjson.go). Writing gives byte for byte what encoding/json.Marshal
// gives; reading accepts what json.Unmarshal accepts, with the same result
// (inputjson_test.go holds both to encoding/json).
//
// A field added to Config, core.Rules or Action must be added here too; the
// tests fail until it is.

// writeJSON writes c as json.Marshal(c) writes it.
func (c *Config) writeJSON(w *minijson.Writer) {
	w.Int(`{"nodes":`, int64(c.Nodes))
	w.Uint(`,"seed":`, c.Seed)
	for _, f := range []struct {
		key string
		n   int
	}{
		{`,"tick_ms":`, c.TickMs}, {`,"heartbeat_ticks":`, c.HeartbeatTicks},
		{`,"election_ticks_min":`, c.ElectionTicksMin}, {`,"election_ticks_max":`, c.ElectionTicksMax},
		{`,"max_push_entries":`, c.MaxPushEntries}, {`,"max_inflight":`, c.MaxInflight},
		{`,"latency_ms":`, c.LatencyMs}, {`,"jitter_ms":`, c.JitterMs},
	} {
		if f.n != 0 {
			w.Int(f.key, int64(f.n))
		}
	}
	writeProbabilities(w, c.Loss, c.Dup, c.Reorder)
	for _, f := range []struct {
		key string
		n   int64
	}{
		{`,"fsync_ms":`, int64(c.FsyncMs)}, {`,"client_latency_ms":`, int64(c.ClientLatencyMs)},
		{`,"produce_timeout_ms":`, int64(c.ProduceTimeoutMs)}, {`,"poll_ms":`, int64(c.PollMs)},
		{`,"segment_size":`, c.SegmentSize},
	} {
		if f.n != 0 {
			w.Int(f.key, f.n)
		}
	}
	if c.DisableCheckQuorum {
		w.Raw(`,"disable_check_quorum":true`)
	}
	if c.DisablePreVote {
		w.Raw(`,"disable_pre_vote":true`)
	}
	// core.Rules has no JSON tags: its fields go by their Go names.
	w.Bool(`,"rules":{"SkipUpToDateCheck":`, c.Rules.SkipUpToDateCheck)
	w.Bool(`,"CommitOldTerms":`, c.Rules.CommitOldTerms)
	w.Bool(`,"AckBeforePersist":`, c.Rules.AckBeforePersist)
	w.Raw(`}`)
	if c.CheckpointMs != 0 {
		w.Int(`,"checkpoint_ms":`, c.CheckpointMs)
	}
	if c.ViewLogEntries != 0 {
		w.Int(`,"view_log_entries":`, int64(c.ViewLogEntries))
	}
	if c.RecordHistory {
		w.Raw(`,"record_history":true`)
	}
	w.Raw(`}`)
}

// writeProbabilities writes the omitempty loss, dup and reorder fields
// that Config and Action share.
func writeProbabilities(w *minijson.Writer, loss, dup, reorder float64) {
	if loss != 0 {
		w.Float(`,"loss":`, loss)
	}
	if dup != 0 {
		w.Float(`,"dup":`, dup)
	}
	if reorder != 0 {
		w.Float(`,"reorder":`, reorder)
	}
}

// DecodeJSON reads a Config from d as json.Unmarshal does: fields the
// document does not name keep their values (start from DefaultConfig for
// the page's "only what differs" settings).
func (c *Config) DecodeJSON(d *minijson.Decoder) error {
	r := &c.Rules
	return d.Struct(
		"nodes", &c.Nodes, "seed", &c.Seed, "tick_ms", &c.TickMs, "heartbeat_ticks", &c.HeartbeatTicks,
		"election_ticks_min", &c.ElectionTicksMin, "election_ticks_max", &c.ElectionTicksMax,
		"max_push_entries", &c.MaxPushEntries, "max_inflight", &c.MaxInflight,
		"latency_ms", &c.LatencyMs, "jitter_ms", &c.JitterMs, "loss", &c.Loss, "dup", &c.Dup, "reorder", &c.Reorder,
		"fsync_ms", &c.FsyncMs, "client_latency_ms", &c.ClientLatencyMs, "produce_timeout_ms", &c.ProduceTimeoutMs,
		"poll_ms", &c.PollMs, "segment_size", &c.SegmentSize,
		"disable_check_quorum", &c.DisableCheckQuorum, "disable_pre_vote", &c.DisablePreVote,
		"rules", func() error {
			// core.Rules has no JSON tags: its fields go by their Go names.
			return d.Struct(
				"SkipUpToDateCheck", &r.SkipUpToDateCheck, "CommitOldTerms", &r.CommitOldTerms, "AckBeforePersist", &r.AckBeforePersist,
			)
		},
		"checkpoint_ms", &c.CheckpointMs, "view_log_entries", &c.ViewLogEntries, "record_history", &c.RecordHistory,
	)
}

// writeJSON writes a as json.Marshal(a) writes it.
func (a *Action) writeJSON(w *minijson.Writer) {
	w.Int(`{"at":`, a.AtMs)
	w.String(`,"kind":`, a.Kind)
	if a.Node != 0 {
		w.Int(`,"node":`, int64(a.Node))
	}
	if len(a.Groups) > 0 {
		w.IntGroups(`,"groups":`, a.Groups)
	}
	if a.OneWay {
		w.Raw(`,"one_way":true`)
	}
	for _, f := range []struct {
		key string
		n   int
	}{{`,"from":`, a.From}, {`,"to":`, a.To}, {`,"latency_ms":`, a.LatencyMs}, {`,"jitter_ms":`, a.JitterMs}} {
		if f.n != 0 {
			w.Int(f.key, int64(f.n))
		}
	}
	writeProbabilities(w, a.Loss, a.Dup, a.Reorder)
	if a.Topic != "" {
		w.String(`,"topic":`, a.Topic)
	}
	if a.Body != "" {
		w.String(`,"body":`, a.Body)
	}
	if a.Rate != 0 {
		w.Float(`,"rate":`, a.Rate)
	}
	if a.ID != "" {
		w.String(`,"id":`, a.ID)
	}
	if a.Rule != "" {
		w.String(`,"rule":`, a.Rule)
	}
	if a.On {
		w.Raw(`,"on":true`)
	}
	if a.Offset != 0 {
		w.Int(`,"offset":`, a.Offset)
	}
	w.Raw(`}`)
}

// DecodeJSON reads an Action from d as json.Unmarshal does.
func (a *Action) DecodeJSON(d *minijson.Decoder) error {
	return d.Struct(
		"at", &a.AtMs, "kind", &a.Kind, "node", &a.Node,
		"groups", func() error {
			return minijson.List(d, &a.Groups, func(g *[]int) error { return minijson.List(d, g, d.Int) })
		},
		"one_way", &a.OneWay, "from", &a.From, "to", &a.To, "latency_ms", &a.LatencyMs, "jitter_ms", &a.JitterMs,
		"loss", &a.Loss, "dup", &a.Dup, "reorder", &a.Reorder, "topic", &a.Topic, "body", &a.Body,
		"rate", &a.Rate, "id", &a.ID, "rule", &a.Rule, "on", &a.On, "offset", &a.Offset,
	)
}

// DecodeActionsJSON reads a JSON array of actions (null: none), as
// json.Unmarshal into a []Action would.
func DecodeActionsJSON(data []byte) ([]Action, error) {
	var acts []Action
	d := minijson.NewDecoder(data)
	if err := minijson.List(d, &acts, func(a *Action) error { return a.DecodeJSON(d) }); err != nil {
		return nil, err
	}
	if err := d.End(); err != nil {
		return nil, err
	}
	return acts, nil
}
