// Package chaos runs seeded simulator sweeps on every core and checks each
// run's client history for linearizability with porcupine
// (github.com/anishathalye/porcupine): the replicated queue must behave as
// one queue that every operation took effect in at one instant between its
// call and its return.
package chaos

import (
	"fmt"
	"strings"
	"time"

	"github.com/anishathalye/porcupine"

	"dledgerlab/core/sim"
)

// produceIn / produceOut and consumeIn / consumeOut are the operations of
// the model of one topic's queue.
type produceIn struct{ key string }
type produceOut struct {
	outcome string // ok, fail, unknown
	offset  uint64
}
type consumeIn struct{ offset uint64 }
type consumeOut struct{ key string }

// queueModel is the sequential specification of one topic: a list of
// messages, each stored once. A produce that answered ok stored its message
// at the offset it was told (now or by an earlier attempt with the same
// producer sequence); one that failed stored nothing; one whose outcome is
// unknown may or may not have stored it. A consume of offset O returns the
// message at O.
//
// A state is the queue written as ",p1#1,p2#1,…," so states compare with ==.
var queueModel = porcupine.NondeterministicModel{
	Partition: func(h []porcupine.Operation) [][]porcupine.Operation {
		byTopic := map[string][]porcupine.Operation{}
		var order []string
		for _, op := range h {
			t := op.Metadata.(string)
			if _, ok := byTopic[t]; !ok {
				order = append(order, t)
			}
			byTopic[t] = append(byTopic[t], op)
		}
		out := make([][]porcupine.Operation, 0, len(order))
		for _, t := range order {
			out = append(out, byTopic[t])
		}
		return out
	},
	Init: func() []interface{} { return []interface{}{","} },
	Step: func(state, input, output interface{}) []interface{} {
		q := state.(string)
		switch in := input.(type) {
		case produceIn:
			out := output.(produceOut)
			at := offsetOf(q, in.key)
			appended := q + in.key + ","
			switch out.outcome {
			case "ok":
				if at >= 0 && uint64(at) == out.offset {
					return []interface{}{q}
				}
				if at < 0 && uint64(strings.Count(q, ",")-1) == out.offset {
					return []interface{}{appended}
				}
				return nil
			case "fail":
				return []interface{}{q}
			default: // unknown
				if at >= 0 {
					return []interface{}{q}
				}
				return []interface{}{q, appended}
			}
		case consumeIn:
			out := output.(consumeOut)
			if keyAt(q, in.offset) == out.key {
				return []interface{}{q}
			}
			return nil
		}
		return nil
	},
	DescribeOperation: func(input, output interface{}) string {
		switch in := input.(type) {
		case produceIn:
			o := output.(produceOut)
			return fmt.Sprintf("produce %s → %s @%d", in.key, o.outcome, o.offset)
		case consumeIn:
			return fmt.Sprintf("consume @%d → %s", in.offset, output.(consumeOut).key)
		}
		return "?"
	},
}

// offsetOf returns key's position in q, or -1.
func offsetOf(q, key string) int {
	i := strings.Index(q, ","+key+",")
	if i < 0 {
		return -1
	}
	return strings.Count(q[:i], ",")
}

// keyAt returns the key at offset o, or "".
func keyAt(q string, o uint64) string {
	parts := strings.Split(strings.Trim(q, ","), ",")
	if q == "," || o >= uint64(len(parts)) {
		return ""
	}
	return parts[o]
}

// CheckHistory checks a run's client history. A checker that runs out of
// time answers Unknown, which callers must count as a failure.
func CheckHistory(history []sim.ClientOp, timeout time.Duration) porcupine.CheckResult {
	ops := make([]porcupine.Operation, 0, len(history))
	var end int64
	for _, h := range history {
		end = max(end, h.CallMs, h.ReturnMs)
	}
	clients := map[string]int{}
	for i, h := range history {
		id, ok := clients[h.Client]
		if !ok {
			id = len(clients)
			clients[h.Client] = id
		}
		key := fmt.Sprintf("%s#%d", h.Producer, h.Seq)
		op := porcupine.Operation{ClientId: id, Call: h.CallMs * 2, Return: h.ReturnMs * 2, Metadata: h.Topic}
		if h.ReturnMs < 0 {
			// Unknown outcome: it may take effect at any time after its call.
			op.Return = (end+1)*2 + int64(i)
		}
		switch h.Kind {
		case "produce":
			op.Input, op.Output = produceIn{key: key}, produceOut{outcome: h.Outcome, offset: h.Offset}
		case "consume":
			// A read is an instant; give it a sliver of width.
			op.Return = op.Call + 1
			op.Input, op.Output = consumeIn{offset: h.Offset}, consumeOut{key: key}
		default:
			continue
		}
		ops = append(ops, op)
	}
	return porcupine.CheckOperationsTimeout(queueModel.ToModel(), ops, timeout)
}
