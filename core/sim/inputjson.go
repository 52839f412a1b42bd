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

// appendJSON appends c as json.Marshal(c) writes it.
func (c *Config) appendJSON(b []byte) []byte {
	b = append(b, `{"nodes":`...)
	b = minijson.AppendInt(b, int64(c.Nodes))
	b = append(b, `,"seed":`...)
	b = minijson.AppendUint(b, c.Seed)
	b = appendIntField(b, `,"tick_ms":`, c.TickMs)
	b = appendIntField(b, `,"heartbeat_ticks":`, c.HeartbeatTicks)
	b = appendIntField(b, `,"election_ticks_min":`, c.ElectionTicksMin)
	b = appendIntField(b, `,"election_ticks_max":`, c.ElectionTicksMax)
	b = appendIntField(b, `,"max_push_entries":`, c.MaxPushEntries)
	b = appendIntField(b, `,"max_inflight":`, c.MaxInflight)
	b = appendIntField(b, `,"latency_ms":`, c.LatencyMs)
	b = appendIntField(b, `,"jitter_ms":`, c.JitterMs)
	b = appendFloatField(b, `,"loss":`, c.Loss)
	b = appendFloatField(b, `,"dup":`, c.Dup)
	b = appendFloatField(b, `,"reorder":`, c.Reorder)
	b = appendIntField(b, `,"fsync_ms":`, c.FsyncMs)
	b = appendIntField(b, `,"client_latency_ms":`, c.ClientLatencyMs)
	b = appendIntField(b, `,"produce_timeout_ms":`, c.ProduceTimeoutMs)
	b = appendIntField(b, `,"poll_ms":`, c.PollMs)
	b = appendInt64Field(b, `,"segment_size":`, c.SegmentSize)
	b = appendTrueField(b, `,"disable_check_quorum":true`, c.DisableCheckQuorum)
	b = appendTrueField(b, `,"disable_pre_vote":true`, c.DisablePreVote)
	// core.Rules has no JSON tags: its fields go by their Go names.
	b = append(b, `,"rules":{"SkipUpToDateCheck":`...)
	b = minijson.AppendBool(b, c.Rules.SkipUpToDateCheck)
	b = append(b, `,"CommitOldTerms":`...)
	b = minijson.AppendBool(b, c.Rules.CommitOldTerms)
	b = append(b, `,"AckBeforePersist":`...)
	b = minijson.AppendBool(b, c.Rules.AckBeforePersist)
	b = append(b, '}')
	b = appendInt64Field(b, `,"checkpoint_ms":`, c.CheckpointMs)
	b = appendIntField(b, `,"view_log_entries":`, c.ViewLogEntries)
	b = appendTrueField(b, `,"record_history":true`, c.RecordHistory)
	return append(b, '}')
}

// DecodeJSON reads a Config from d as json.Unmarshal does: fields the
// document does not name keep their values (start from DefaultConfig for
// the page's "only what differs" settings).
func (c *Config) DecodeJSON(d *minijson.Decoder) error {
	return d.Object(func(key string) error {
		switch minijson.Field(key, "nodes", "seed", "tick_ms", "heartbeat_ticks", "election_ticks_min", "election_ticks_max",
			"max_push_entries", "max_inflight", "latency_ms", "jitter_ms", "loss", "dup", "reorder", "fsync_ms",
			"client_latency_ms", "produce_timeout_ms", "poll_ms", "segment_size", "disable_check_quorum",
			"disable_pre_vote", "rules", "checkpoint_ms", "view_log_entries", "record_history") {
		case "nodes":
			return d.Int(&c.Nodes)
		case "seed":
			return d.Uint64(&c.Seed)
		case "tick_ms":
			return d.Int(&c.TickMs)
		case "heartbeat_ticks":
			return d.Int(&c.HeartbeatTicks)
		case "election_ticks_min":
			return d.Int(&c.ElectionTicksMin)
		case "election_ticks_max":
			return d.Int(&c.ElectionTicksMax)
		case "max_push_entries":
			return d.Int(&c.MaxPushEntries)
		case "max_inflight":
			return d.Int(&c.MaxInflight)
		case "latency_ms":
			return d.Int(&c.LatencyMs)
		case "jitter_ms":
			return d.Int(&c.JitterMs)
		case "loss":
			return d.Float(&c.Loss)
		case "dup":
			return d.Float(&c.Dup)
		case "reorder":
			return d.Float(&c.Reorder)
		case "fsync_ms":
			return d.Int(&c.FsyncMs)
		case "client_latency_ms":
			return d.Int(&c.ClientLatencyMs)
		case "produce_timeout_ms":
			return d.Int(&c.ProduceTimeoutMs)
		case "poll_ms":
			return d.Int(&c.PollMs)
		case "segment_size":
			return d.Int64(&c.SegmentSize)
		case "disable_check_quorum":
			return d.Bool(&c.DisableCheckQuorum)
		case "disable_pre_vote":
			return d.Bool(&c.DisablePreVote)
		case "rules":
			r := &c.Rules
			return d.Object(func(key string) error {
				switch minijson.Field(key, "SkipUpToDateCheck", "CommitOldTerms", "AckBeforePersist") {
				case "SkipUpToDateCheck":
					return d.Bool(&r.SkipUpToDateCheck)
				case "CommitOldTerms":
					return d.Bool(&r.CommitOldTerms)
				case "AckBeforePersist":
					return d.Bool(&r.AckBeforePersist)
				}
				return d.UnknownField(key)
			})
		case "checkpoint_ms":
			return d.Int64(&c.CheckpointMs)
		case "view_log_entries":
			return d.Int(&c.ViewLogEntries)
		case "record_history":
			return d.Bool(&c.RecordHistory)
		}
		return d.UnknownField(key)
	})
}

// appendJSON appends a as json.Marshal(a) writes it.
func (a *Action) appendJSON(b []byte) []byte {
	b = append(b, `{"at":`...)
	b = minijson.AppendInt(b, a.AtMs)
	b = append(b, `,"kind":`...)
	b = minijson.AppendString(b, a.Kind)
	b = appendIntField(b, `,"node":`, a.Node)
	if len(a.Groups) > 0 {
		b = append(b, `,"groups":`...)
		b = minijson.AppendIntGroups(b, a.Groups)
	}
	b = appendTrueField(b, `,"one_way":true`, a.OneWay)
	b = appendIntField(b, `,"from":`, a.From)
	b = appendIntField(b, `,"to":`, a.To)
	b = appendIntField(b, `,"latency_ms":`, a.LatencyMs)
	b = appendIntField(b, `,"jitter_ms":`, a.JitterMs)
	b = appendFloatField(b, `,"loss":`, a.Loss)
	b = appendFloatField(b, `,"dup":`, a.Dup)
	b = appendFloatField(b, `,"reorder":`, a.Reorder)
	b = appendStringField(b, `,"topic":`, a.Topic)
	b = appendStringField(b, `,"body":`, a.Body)
	b = appendFloatField(b, `,"rate":`, a.Rate)
	b = appendStringField(b, `,"id":`, a.ID)
	b = appendStringField(b, `,"rule":`, a.Rule)
	b = appendTrueField(b, `,"on":true`, a.On)
	b = appendInt64Field(b, `,"offset":`, a.Offset)
	return append(b, '}')
}

// DecodeJSON reads an Action from d as json.Unmarshal does.
func (a *Action) DecodeJSON(d *minijson.Decoder) error {
	return d.Object(func(key string) error {
		switch minijson.Field(key, "at", "kind", "node", "groups", "one_way", "from", "to", "latency_ms", "jitter_ms",
			"loss", "dup", "reorder", "topic", "body", "rate", "id", "rule", "on", "offset") {
		case "at":
			return d.Int64(&a.AtMs)
		case "kind":
			return d.String(&a.Kind)
		case "node":
			return d.Int(&a.Node)
		case "groups":
			return minijson.List(d, &a.Groups, func(g *[]int) error { return minijson.List(d, g, d.Int) })
		case "one_way":
			return d.Bool(&a.OneWay)
		case "from":
			return d.Int(&a.From)
		case "to":
			return d.Int(&a.To)
		case "latency_ms":
			return d.Int(&a.LatencyMs)
		case "jitter_ms":
			return d.Int(&a.JitterMs)
		case "loss":
			return d.Float(&a.Loss)
		case "dup":
			return d.Float(&a.Dup)
		case "reorder":
			return d.Float(&a.Reorder)
		case "topic":
			return d.String(&a.Topic)
		case "body":
			return d.String(&a.Body)
		case "rate":
			return d.Float(&a.Rate)
		case "id":
			return d.String(&a.ID)
		case "rule":
			return d.String(&a.Rule)
		case "on":
			return d.Bool(&a.On)
		case "offset":
			return d.Int64(&a.Offset)
		}
		return d.UnknownField(key)
	})
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

// Helpers for omitempty fields: each writes its key (with the leading
// comma) and value only when the value is not the zero value.

func appendIntField(b []byte, key string, n int) []byte {
	return appendInt64Field(b, key, int64(n))
}

func appendInt64Field(b []byte, key string, n int64) []byte {
	if n == 0 {
		return b
	}
	return minijson.AppendInt(append(b, key...), n)
}

func appendFloatField(b []byte, key string, f float64) []byte {
	if f == 0 {
		return b
	}
	return minijson.AppendFloat(append(b, key...), f)
}

func appendStringField(b []byte, key, s string) []byte {
	if s == "" {
		return b
	}
	return minijson.AppendString(append(b, key...), s)
}

// appendTrueField writes field (key and true) when on.
func appendTrueField(b []byte, field string, on bool) []byte {
	if !on {
		return b
	}
	return append(b, field...)
}
