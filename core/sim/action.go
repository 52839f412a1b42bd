package sim

import (
	"errors"
	"fmt"
	"slices"

	"dledgerlab/core"
	"dledgerlab/core/broker"
)

// Action is one thing a learner, a lesson or the chaos sweep does to the
// cluster. A run is a function of (Config, seed, actions): the simulator
// records every action with the virtual time it happened at, so a run can be
// rewound, replayed and shared.
type Action struct {
	// AtMs is the virtual time the action took effect (set when recorded).
	AtMs int64 `json:"at"`
	// Kind is one of the Kind* constants.
	Kind string `json:"kind"`
	// Node is the broker acted on (crash, restart, pause, resume, isolate,
	// transfer target, disk faults; for produce, the broker to send to, 0 =
	// the producer's guess of the leader; for consumer, the broker to read from).
	Node int `json:"node,omitempty"`
	// Groups split the brokers for a partition; every broker must appear once.
	Groups [][]int `json:"groups,omitempty"`
	// OneWay: only links from Groups[0] to the other groups are cut.
	OneWay bool `json:"one_way,omitempty"`
	// From/To name a directed link (KindLink); To = 0 with From = 0 sets
	// every link (KindNet does the same).
	From int `json:"from,omitempty"`
	To   int `json:"to,omitempty"`
	// Link and network settings.
	LatencyMs int     `json:"latency_ms,omitempty"`
	JitterMs  int     `json:"jitter_ms,omitempty"`
	Loss      float64 `json:"loss,omitempty"`
	Dup       float64 `json:"dup,omitempty"`
	Reorder   float64 `json:"reorder,omitempty"`
	// Produce / producer / consumer.
	Topic string `json:"topic,omitempty"`
	Body  string `json:"body,omitempty"`
	// Rate is a producer's messages per second (0 stops it).
	Rate float64 `json:"rate,omitempty"`
	// ID names a producer or consumer (default "p1", "c1").
	ID string `json:"id,omitempty"`
	// Group is a consumer's group (default: its ID). A group reads each
	// topic with one consumer (one queue per topic: RocketMQ's rebalance
	// gives a queue to one consumer of the group).
	Group string `json:"group,omitempty"`
	// Rule and On switch a rule (KindRule): one of the Rule* names.
	Rule string `json:"rule,omitempty"`
	On   bool   `json:"on,omitempty"`
	// Offset: for KindDiskFlip, which byte of the last segment's used part
	// (counted from its end, 1 = last byte; 0 = the middle of the last entry's
	// body).
	Offset int64 `json:"offset,omitempty"`
}

// Action kinds.
const (
	KindCrash     = "crash"     // stop a broker; what was not fsynced is lost
	KindRestart   = "restart"   // start a crashed broker from its disk (recovery scan)
	KindPause     = "pause"     // freeze a broker: no ticks, no delivery, state kept
	KindResume    = "resume"    // unfreeze a paused broker
	KindPartition = "partition" // cut links between Groups (OneWay: from Groups[0] only)
	KindIsolate   = "isolate"   // cut every link of Node
	KindHeal      = "heal"      // restore every link
	KindLink      = "link"      // set latency/jitter/loss of link From→To
	KindNet       = "net"       // set latency/jitter/loss/dup of every link
	KindProduce   = "produce"   // send one message (Topic, Body) through producer ID
	KindProducer  = "producer"  // start/stop a producer sending Rate messages/s to Topic
	KindConsumer  = "consumer"  // start a consumer reading Topic from broker Node
	KindTransfer  = "transfer"  // ask the leader to hand leadership to Node
	KindRule      = "rule"      // switch Rule on or off
	KindDiskFlip  = "disk_flip" // flip a byte in Node's last CommitLog segment (on disk)
	KindCampaign  = "campaign"  // make Node's election timer fire now (lessons)
	// KindTrap arms a fault that fires on an event rather than at a time
	// (Rule names which one; see the Trap* constants).
	KindTrap = "trap"
)

// Traps: adversarial crashes at the worst moment, as TigerBeetle's VOPR
// aims faults. Each fires once per arming.
const (
	// TrapCrashLeaderOnOldCommit crashes a leader the moment it counts an
	// entry of an earlier term as committed, before it sends anything more:
	// the worst moment of Figure 8. With §5.4.2's rule on it never fires.
	TrapCrashLeaderOnOldCommit = "crash_leader_on_old_commit"
	// TrapCrashLeaderOnElection crashes a new leader before its no-op
	// leaves, so its term's entry stays on its disk only (Figure 8's S5).
	TrapCrashLeaderOnElection = "crash_leader_on_election"
	// TrapIsolateLeaderOnElection cuts a new leader off the moment it wins:
	// its no-op reaches its own disk only.
	TrapIsolateLeaderOnElection = "isolate_leader_on_election"
	// TrapPowerLossOnCommit crashes a leader that just counted a commit,
	// together with every follower whose fsync is still running.
	TrapPowerLossOnCommit = "power_loss_on_commit"
)

// TrapNone disarms every armed trap.
const TrapNone = "none"

// Traps lists the trap names.
var Traps = []string{TrapCrashLeaderOnOldCommit, TrapCrashLeaderOnElection, TrapIsolateLeaderOnElection, TrapPowerLossOnCommit}

// Rule names for KindRule.
const (
	RuleCheckQuorum       = "check_quorum"
	RulePreVote           = "pre_vote"
	RuleUpToDateCheck     = "up_to_date_check"
	RuleCurrentTermCommit = "current_term_commit"
	RulePersistBeforeAck  = "persist_before_ack"
)

// Rules lists every rule name, in the order the page shows them.
var Rules = []string{RuleCheckQuorum, RulePreVote, RuleUpToDateCheck, RuleCurrentTermCommit, RulePersistBeforeAck}

// ErrBadAction is wrapped by every error about an invalid action.
var ErrBadAction = errors.New("invalid action")

func badAction(a Action, format string, args ...any) error {
	return fmt.Errorf("%w %q: %s", ErrBadAction, a.Kind, fmt.Sprintf(format, args...))
}

// Refusal is an action refused in the cluster's current state (a broker
// already down…): Why names the sentence with a stable key and Args holds
// its values, so the page can say it in the learner's language (as
// EventView's why and args). It wraps ErrBadAction.
type Refusal struct {
	Why  string
	Args core.Args
	err  error
}

func (r *Refusal) Error() string { return r.err.Error() }
func (r *Refusal) Unwrap() error { return r.err }

// refuse is badAction with a key and values for the page.
func refuse(a Action, why string, args core.Args, format string, fargs ...any) error {
	return &Refusal{Why: why, Args: args, err: badAction(a, format, fargs...)}
}

// validate checks a against a cluster of n brokers. It never changes state.
func (a Action) validate(n int) error {
	node := func(id int, what string) error {
		if id < 1 || id > n {
			return badAction(a, "%s %d is not a broker of this cluster (1..%d)", what, id, n)
		}
		return nil
	}
	prob := func(p float64, what string) error {
		if p < 0 || p > 1 || p != p {
			return badAction(a, "%s %v must be between 0 and 1", what, p)
		}
		return nil
	}
	switch a.Kind {
	case KindCrash, KindRestart, KindPause, KindResume, KindIsolate, KindTransfer, KindDiskFlip, KindCampaign:
		if err := node(a.Node, "broker"); err != nil {
			return err
		}
		if a.Kind == KindDiskFlip && a.Offset < 0 {
			return badAction(a, "offset %d must be >= 0", a.Offset)
		}
	case KindHeal:
	case KindPartition:
		if len(a.Groups) < 2 {
			return badAction(a, "a partition needs at least two groups, got %d", len(a.Groups))
		}
		seen := map[int]bool{}
		for _, g := range a.Groups {
			if len(g) == 0 {
				return badAction(a, "empty group")
			}
			for _, id := range g {
				if err := node(id, "broker"); err != nil {
					return err
				}
				if seen[id] {
					return badAction(a, "broker %d is in two groups", id)
				}
				seen[id] = true
			}
		}
	case KindLink, KindNet:
		if a.Kind == KindLink {
			if err := node(a.From, "from"); err != nil {
				return err
			}
			if err := node(a.To, "to"); err != nil {
				return err
			}
			if a.From == a.To {
				return badAction(a, "a link joins two different brokers")
			}
		}
		if a.LatencyMs < 0 || a.LatencyMs > 60_000 || a.JitterMs < 0 || a.JitterMs > 60_000 {
			return badAction(a, "latency %d ms and jitter %d ms must be within 0..60000", a.LatencyMs, a.JitterMs)
		}
		if err := prob(a.Loss, "loss"); err != nil {
			return err
		}
		if err := prob(a.Dup, "dup"); err != nil {
			return err
		}
		if err := prob(a.Reorder, "reorder"); err != nil {
			return err
		}
	case KindProduce, KindProducer, KindConsumer:
		if a.Topic == "" {
			return badAction(a, "topic is empty")
		}
		if a.Node != 0 {
			if err := node(a.Node, "broker"); err != nil {
				return err
			}
		}
		if a.Kind == KindProducer && (a.Rate < 0 || a.Rate > 1000 || a.Rate != a.Rate) {
			return badAction(a, "rate %v must be within 0..1000 messages per second", a.Rate)
		}
		if len(a.Body) > 4096 {
			return badAction(a, "body of %d bytes is over the playground's 4096", len(a.Body))
		}
		if a.Group != "" {
			if err := broker.CheckGroup(a.Group); err != nil {
				return badAction(a, "%v", err)
			}
		}
	case KindTrap:
		if !slices.Contains(Traps, a.Rule) && a.Rule != TrapNone {
			return badAction(a, "unknown trap %q (known: %v)", a.Rule, Traps)
		}
	case KindRule:
		if !slices.Contains(Rules, a.Rule) {
			return badAction(a, "unknown rule %q (known: %v)", a.Rule, Rules)
		}
	default:
		return badAction(a, "unknown kind (known: crash, restart, pause, resume, partition, isolate, heal, link, net, produce, producer, consumer, transfer, rule, disk_flip, campaign, trap)")
	}
	return nil
}
