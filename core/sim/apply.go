package sim

import (
	"cmp"
	"fmt"

	"dledgerlab/core"
)

// precheck reports why a cannot be done in the current state (a broker that is
// already down, a transfer with no leader…). It changes nothing.
func (st *state) precheck(a Action) error {
	var n *simNode
	if a.Node >= 1 && a.Node <= len(st.nodes) {
		n = st.nodes[a.Node-1]
	}
	switch a.Kind {
	case KindCrash:
		if n.state != stateUp && n.state != statePaused {
			return refuse(a, "already-down", core.NewArgs("node", a.Node), "broker %d is already down", a.Node)
		}
	case KindRestart:
		if n.state != stateCrashed && n.state != stateRefused {
			return refuse(a, "still-running", core.NewArgs("node", a.Node), "broker %d is running; crash it first", a.Node)
		}
	case KindPause:
		if n.state != stateUp {
			return refuse(a, "not-running", core.NewArgs("node", a.Node, "state", n.state), "broker %d is %s, not running", a.Node, n.state)
		}
	case KindResume:
		if n.state != statePaused {
			return refuse(a, "not-paused", core.NewArgs("node", a.Node), "broker %d is not paused", a.Node)
		}
	case KindCampaign:
		if n.state != stateUp {
			return refuse(a, "not-running", core.NewArgs("node", a.Node, "state", n.state), "broker %d is %s", a.Node, n.state)
		}
	case KindConsumer:
		group := a.Group
		if group == "" {
			group = a.ID
		}
		for _, k := range st.clients.consumers {
			if k.id != a.ID && k.group == group && group != "" && k.topic == a.Topic {
				return refuse(a, "group-has-reader", core.NewArgs("group", group, "topic", a.Topic, "id", k.id),
					"consumer %s of group %s already reads %s: a group reads a queue with one consumer", k.id, group, a.Topic)
			}
		}
	case KindTransfer:
		if st.leader() == nil {
			return refuse(a, "no-leader", nil, "no broker leads right now; wait for an election")
		}
	case KindDiskFlip:
		if n.store.DurableEnd() == 0 {
			return refuse(a, "empty-disk", core.NewArgs("node", a.Node), "broker %d has nothing on disk yet", a.Node)
		}
	}
	return nil
}

// apply makes a take effect now. a was validated and checked when it was
// first done; on replay it is applied as it was.
func (st *state) apply(a Action) {
	st.catchUpAll()
	st.applied++
	st.cur, st.curAction = nil, "action: "+a.describe()
	st.simEvent(a.Node, "action", "act-"+a.Kind, a.Args(), a.describe())
	var n *simNode
	if a.Node >= 1 && a.Node <= len(st.nodes) {
		n = st.nodes[a.Node-1]
	}
	switch a.Kind {
	case KindCrash:
		if n.state == stateUp || n.state == statePaused {
			st.crash(n)
		}
	case KindRestart:
		if n.state == stateCrashed || n.state == stateRefused {
			st.restart(n)
			st.drain(n)
		}
	case KindPause:
		if n.state == stateUp {
			n.state = statePaused
		}
	case KindResume:
		if n.state == statePaused {
			n.state = stateUp
			if n.fsyncDone {
				st.finishReady(n)
			}
			st.drain(n)
		}
	case KindPartition:
		st.net.Partition(a.Groups, a.OneWay)
	case KindIsolate:
		st.net.Isolate(a.Node, len(st.nodes))
	case KindHeal:
		st.net.Heal()
	case KindLink:
		st.net.Links[Link{From: a.From, To: a.To}] = linkConf{LatencyMs: a.LatencyMs, JitterMs: a.JitterMs, Loss: a.Loss, Dup: a.Dup, Reorder: a.Reorder}
	case KindNet:
		st.net.Def = linkConf{LatencyMs: a.LatencyMs, JitterMs: a.JitterMs, Loss: a.Loss, Dup: a.Dup, Reorder: a.Reorder}
		clear(st.net.Links)
	case KindProduce:
		st.clients.produce(st, a)
	case KindProducer:
		st.clients.setProducer(st, a)
	case KindConsumer:
		st.clients.addConsumer(st, a)
	case KindTransfer:
		if l := st.leader(); l != nil {
			_ = l.node.TransferLeadership(core.NodeID(a.Node))
			st.drain(l)
		}
	case KindCampaign:
		if n.state == stateUp {
			n.node.Campaign()
			st.drain(n)
		}
	case KindRule:
		st.setRule(a.Rule, a.On)
	case KindTrap:
		if st.traps == nil || a.Rule == TrapNone {
			st.traps = map[string]int{}
		}
		if a.Rule != TrapNone {
			st.traps[a.Rule]++
		}
	case KindDiskFlip:
		st.diskFlip(n, a.Offset)
	}
}

func (st *state) leader() *simNode {
	var lead *simNode
	var term uint64
	for _, n := range st.nodes {
		if n.state == stateUp {
			if n.node.Role() == core.RoleLeader && n.node.Term() >= term {
				lead, term = n, n.node.Term()
			}
		}
	}
	return lead
}

func (st *state) setRule(rule string, on bool) {
	sw := &st.switches
	switch rule {
	case RuleCheckQuorum:
		sw.DisableCheckQuorum = !on
	case RulePreVote:
		sw.DisablePreVote = !on
	case RuleUpToDateCheck:
		sw.Rules.SkipUpToDateCheck = !on
	case RuleCurrentTermCommit:
		sw.Rules.CommitOldTerms = !on
	case RulePersistBeforeAck:
		sw.Rules.AckBeforePersist = !on
	}
	st.damaged = st.damaged || st.effectiveRules().Any()
	// A rule switched back on after Config switched it off stays off:
	// Config is the run's baseline; actions only switch rules off again.
	for _, n := range st.nodes {
		if n.node != nil {
			n.node.SetSwitches(st.switches.DisableCheckQuorum || st.cfg.DisableCheckQuorum,
				st.switches.DisablePreVote || st.cfg.DisablePreVote, st.effectiveRules())
		}
	}
}

// diskFlip flips a byte of what n has on disk, in its last segment: the
// damage shows when the broker restarts and the recovery scan reads it.
func (st *state) diskFlip(n *simNode, offset int64) {
	end := n.store.DurableEnd()
	pos := end / 2
	if offset > 0 {
		pos = max(0, end-offset)
	} else if last := n.store.DurableLastIndex(); last > 0 {
		if p, size, ok := n.store.Position(last); ok {
			pos = p + int64(size) - 1 // the last byte of the last entry's body
		}
	}
	if segs := n.store.Segments(); len(segs) > 0 {
		pos = max(pos, segs[len(segs)-1].Start)
	}
	pos = min(pos, end-1)
	if err := n.store.FlipByte(pos); err != nil {
		st.simEvent(n.id, "disk-fault", "", nil, "could not flip: "+err.Error())
		return
	}
	st.simEvent(n.id, "disk-fault", "flipped", core.NewArgs("pos", pos), fmt.Sprintf("flipped the byte at CommitLog position %d", pos))
}

// Args are the values of the action's description by name, for the page's
// own words: an action's event has why "act-" + Kind and these args (the
// simulator's, and the live launcher's).
func (a Action) Args() core.Args {
	switch a.Kind {
	case KindCrash, KindRestart, KindPause, KindResume, KindIsolate, KindCampaign, KindTransfer, KindDiskFlip:
		return core.NewArgs("node", a.Node)
	case KindPartition:
		return core.NewArgs("groups", fmt.Sprint(a.Groups), "oneWay", a.OneWay)
	case KindLink:
		return core.NewArgs("from", a.From, "to", a.To, "latency", a.LatencyMs, "jitter", a.JitterMs, "loss", fmt.Sprintf("%.0f", a.Loss*100))
	case KindNet:
		return core.NewArgs("latency", a.LatencyMs, "jitter", a.JitterMs, "loss", fmt.Sprintf("%.0f", a.Loss*100), "dup", fmt.Sprintf("%.0f", a.Dup*100))
	case KindProduce:
		return core.NewArgs("body", a.Body, "topic", a.Topic)
	case KindProducer:
		return core.NewArgs("id", a.ID, "rate", fmt.Sprintf("%.1f", a.Rate), "topic", a.Topic)
	case KindConsumer:
		return core.NewArgs("id", a.ID, "topic", a.Topic, "node", a.Node, "group", cmp.Or(a.Group, a.ID))
	case KindRule:
		return core.NewArgs("rule", a.Rule, "on", a.On)
	case KindTrap:
		return core.NewArgs("trap", a.Rule)
	}
	return nil
}

func (a Action) describe() string {
	switch a.Kind {
	case KindCrash, KindRestart, KindPause, KindResume, KindIsolate, KindCampaign:
		return fmt.Sprintf("%s broker %d", a.Kind, a.Node)
	case KindPartition:
		s := fmt.Sprintf("partition %v", a.Groups)
		if a.OneWay {
			s += " (one way)"
		}
		return s
	case KindHeal:
		return "heal the network"
	case KindLink:
		return fmt.Sprintf("link %d→%d: %d±%d ms, loss %.0f%%", a.From, a.To, a.LatencyMs, a.JitterMs, a.Loss*100)
	case KindNet:
		return fmt.Sprintf("every link: %d±%d ms, loss %.0f%%, dup %.0f%%", a.LatencyMs, a.JitterMs, a.Loss*100, a.Dup*100)
	case KindProduce:
		return fmt.Sprintf("produce %q to %s", a.Body, a.Topic)
	case KindProducer:
		return fmt.Sprintf("producer %s: %.1f msg/s to %s", a.ID, a.Rate, a.Topic)
	case KindConsumer:
		from := "the leader"
		if a.Node != 0 {
			from = fmt.Sprintf("broker %d", a.Node)
		}
		return fmt.Sprintf("consumer %s of group %s reads %s from %s", a.ID, cmp.Or(a.Group, a.ID), a.Topic, from)
	case KindTransfer:
		return fmt.Sprintf("transfer leadership to broker %d", a.Node)
	case KindRule:
		state := "off"
		if a.On {
			state = "on"
		}
		return fmt.Sprintf("rule %s %s", a.Rule, state)
	case KindDiskFlip:
		return fmt.Sprintf("flip a byte on broker %d's disk", a.Node)
	case KindTrap:
		return "arm trap " + a.Rule
	}
	return a.Kind
}
