package guide

import (
	"fmt"
	"strings"

	"dledgerlab/core/sim"
)

// Label says what a check means in both languages, for the narration panel
// ("leader is not old within 3s" → "the leader is not old (within 3 s)" /
// "主节点不是 old（3 秒内）"). The check's own text stays the lesson file's
// language; the label is what a learner reads.
func (c Check) Label() Text {
	who := func(w Who) Text { return w.label("从节点") }
	role := map[string]Text{"leader": {"a leader", "主节点"}, "follower": {"a follower", "从节点"}, "candidate": {"a candidate", "候选者"}}
	term := func() string {
		if c.Name != "" {
			return c.Name
		}
		return fmt.Sprint(c.N)
	}
	where := func() Text {
		switch c.Where {
		case "majority":
			return Text{En: "a majority", Zh: "多数派"}
		case "all":
			return Text{En: "every broker", Zh: "所有 Broker"}
		}
		return who(c.Who)
	}
	w := who(c.Who)
	var l Text
	switch c.Kind {
	case "leader":
		l = Text{"a broker leads", "有 Broker 成为主节点"}
	case "no-leader":
		l = Text{"no broker leads", "没有主节点"}
	case "leader-count":
		l = Text{fmt.Sprintf("%d brokers call themselves leader", c.N), fmt.Sprintf("%d 台 Broker 自称主节点", c.N)}
	case "leader-is":
		l = Text{"the leader is " + w.En, "主节点是 " + w.Zh}
	case "leader-is-not":
		l = Text{"a leader other than " + w.En, "主节点不是 " + w.Zh}
	case "is-up":
		l = Text{w.En + " is up", w.Zh + " 在运行"}
	case "is-down":
		l = Text{w.En + " is down", w.Zh + " 已宕机"}
	case "role":
		l = Text{w.En + " is " + role[c.Role].En, w.Zh + " 是" + role[c.Role].Zh}
	case "term-is":
		l = Text{"the term is " + term(), "任期为 " + term()}
	case "term-gt":
		l = Text{"the term is above " + term(), "任期大于 " + term()}
	case "matches-leader":
		l = Text{w.En + "'s log matches the leader's", w.Zh + " 的日志与主节点一致"}
	case "installed-snapshot":
		l = Text{w.En + " installed the leader's snapshot", w.Zh + " 安装了主节点的快照"}
	case "acked":
		l = Text{fmt.Sprintf("at least %d messages acknowledged", c.N), fmt.Sprintf("至少 %d 条消息已确认", c.N)}
	case "group-delivered", "group-delivered-gt", "group-redelivered", "group-redelivered-gt":
		more, again, again2 := Text{}, "", ""
		if strings.HasSuffix(c.Kind, "-gt") {
			more = Text{"more than ", "超过"}
		}
		if strings.HasPrefix(c.Kind, "group-redelivered") {
			again, again2 = " again", "重复"
		}
		l = Text{fmt.Sprintf("group %s got %s%d messages%s", c.Group, more.En, c.N, again),
			fmt.Sprintf("消费组 %s %s收到%s %d 条消息", c.Group, again2, more.Zh, c.N)}
	case "topic-count":
		l = Text{fmt.Sprintf("%s holds %d messages on %s", c.Topic, c.N, w.En), fmt.Sprintf("%s 上的 %s 有 %d 条消息", w.Zh, c.Topic, c.N)}
	case "violation":
		l = Text{"the checkers found a broken rule", "检查器发现了违规"}
	case "no-violation":
		l = Text{"no rule is broken", "没有违反任何规则"}
	case "committed":
		x := where()
		l = Text{fmt.Sprintf("%q is committed on %s", c.Body, x.En), fmt.Sprintf("“%s” 已在%s上提交", c.Body, spaced(x.Zh))}
	case "uncommitted":
		l = Text{fmt.Sprintf("%q is uncommitted on %s", c.Body, w.En), fmt.Sprintf("“%s” 在%s上尚未提交", c.Body, spaced(w.Zh))}
	case "missing":
		l = Text{fmt.Sprintf("%s does not hold %q", w.En, c.Body), fmt.Sprintf("%s 上没有 “%s”", w.Zh, c.Body)}
	case "truncated":
		l = Text{fmt.Sprintf("%q was truncated on %s", c.Body, w.En), fmt.Sprintf("“%s” 在%s上被截断", c.Body, spaced(w.Zh))}
	default:
		l = Text{c.Text, c.Text}
	}
	if strings.Contains(" "+c.Text+" ", " within ") {
		s := float64(c.WithinMs) / 1000
		l.En += fmt.Sprintf(" (within %g s)", s)
		l.Zh += fmt.Sprintf("（%g 秒内）", s)
	}
	return l
}

// spaced puts spaces around a Latin name inside Chinese text ("在 Broker 2 上").
func spaced(s string) string {
	if s != "" && s[0] < 0x80 {
		return " " + s + " "
	}
	return s
}

// Label says what a do line does in both languages, for the panel's "the
// page does" list ("crash follower as F" → "crash a follower (call it F)" /
// "让一台从节点宕机（记作 F）"). The line's own text stays the lesson
// file's; the label is what a learner reads.
func (a Action) Label() Text {
	who := func(w Who) Text { return w.label("一台从节点") }
	w := who(a.Who)
	var l Text
	switch a.Kind {
	case "wait":
		s := float64(a.Ms) / 1000
		l = Text{fmt.Sprintf("wait %g s", s), fmt.Sprintf("等待 %g 秒", s)}
	case sim.KindCrash:
		l = Text{"crash " + w.En, "让" + spaced(w.Zh) + "宕机"}
	case sim.KindRestart:
		l = Text{"restart " + w.En, "重启" + spaced(w.Zh)}
	case sim.KindPause:
		l = Text{"pause " + w.En, "暂停" + spaced(w.Zh)}
	case sim.KindResume:
		l = Text{"resume " + w.En, "让" + spaced(w.Zh) + "继续运行"}
	case sim.KindIsolate:
		l = Text{"isolate " + w.En, "隔离" + spaced(w.Zh)}
	case sim.KindTransfer:
		l = Text{"hand leadership to " + w.En, "把领导权转移给" + spaced(w.Zh)}
	case sim.KindCampaign:
		l = Text{"make " + w.En + " time out now", "让" + spaced(w.Zh) + "立即超时"}
	case sim.KindDiskFlip:
		l = Text{"flip a byte on " + w.En + "'s disk", "翻转" + spaced(w.Zh) + "磁盘上的一个字节"}
	case sim.KindHeal:
		l = Text{"heal the network", "恢复网络"}
	case sim.KindPartition:
		var en, zh []string
		for i, g := range a.Groups {
			if i == a.RestGroup {
				en, zh = append(en, "the rest"), append(zh, "其余 Broker")
				continue
			}
			var ge, gz []string
			for _, x := range g {
				ge, gz = append(ge, who(x).En), append(gz, who(x).Zh)
			}
			en, zh = append(en, strings.Join(ge, ", ")), append(zh, strings.Join(gz, "、"))
		}
		l = Text{"split the network: " + strings.Join(en, " | "), "把网络分成：" + strings.Join(zh, " | ")}
		if a.OneWay {
			l.En += fmt.Sprintf(" (one way: only %s's messages are lost)", en[0])
			l.Zh += fmt.Sprintf("（单向：只丢 %s 发出的消息）", zh[0])
		}
	case "link", "net":
		var en, zh []string
		if a.LatencyMs != 0 {
			en, zh = append(en, fmt.Sprintf("latency %d ms", a.LatencyMs)), append(zh, fmt.Sprintf("延迟 %d 毫秒", a.LatencyMs))
		}
		if a.JitterMs != 0 {
			en, zh = append(en, fmt.Sprintf("jitter %d ms", a.JitterMs)), append(zh, fmt.Sprintf("抖动 %d 毫秒", a.JitterMs))
		}
		if a.Loss != 0 || len(en) == 0 {
			en, zh = append(en, fmt.Sprintf("loss %g%%", a.Loss*100)), append(zh, fmt.Sprintf("丢包 %g%%", a.Loss*100))
		}
		if a.Kind == "link" {
			to := who(a.To)
			l = Text{fmt.Sprintf("link %s → %s: %s", w.En, to.En, strings.Join(en, ", ")), fmt.Sprintf("%s → %s 的链路：%s", w.Zh, to.Zh, strings.Join(zh, "，"))}
		} else {
			l = Text{"every link: " + strings.Join(en, ", "), "所有链路：" + strings.Join(zh, "，")}
		}
	case sim.KindProduce:
		l = Text{fmt.Sprintf("send %q to %s", a.Body, a.Topic), fmt.Sprintf("向 %s 发送“%s”", a.Topic, a.Body)}
		if a.To != (Who{}) {
			to := who(a.To)
			l.En += " through " + to.En
			l.Zh += "（发给" + spaced(to.Zh) + "）"
		}
	case sim.KindProducer:
		if a.Rate == 0 {
			l = Text{"stop the producer of " + a.Topic, "停止向 " + a.Topic + " 发送的生产者"}
		} else {
			l = Text{fmt.Sprintf("a producer sends %g messages/s to %s", a.Rate, a.Topic), fmt.Sprintf("生产者每秒向 %s 发送 %g 条消息", a.Topic, a.Rate)}
		}
	case sim.KindConsumer:
		l = Text{"a consumer reads " + a.Topic, "消费者读取 " + a.Topic}
		if a.Group != "" {
			l = Text{"a consumer of group " + a.Group + " reads " + a.Topic, "消费组 " + a.Group + " 的消费者读取 " + a.Topic}
		}
		if a.Who != (Who{}) {
			l.En += " from " + w.En
			l.Zh += "（从" + spaced(w.Zh) + "）"
		}
	case sim.KindRule:
		name := ruleNames[a.Rule]
		if a.On {
			l = Text{"switch on " + name.En, "打开规则“" + name.Zh + "”"}
		} else {
			l = Text{"switch off " + name.En, "关闭规则“" + name.Zh + "”"}
		}
	case sim.KindTrap:
		l = trapNames[a.Rule]
	case "remember":
		if a.Term {
			l = Text{"remember the term as " + a.As, "记住当前任期，记作 " + a.As}
		} else {
			l = Text{"remember " + w.En + " as " + a.As, "记住" + spaced(w.Zh) + "，记作 " + a.As}
		}
		return l
	}
	if l == (Text{}) {
		return Text{a.Text, a.Text}
	}
	if a.As != "" {
		l.En += " (call it " + a.As + ")"
		l.Zh += "（记作 " + a.As + "）"
	}
	return l
}

// ruleNames are the simulator's rules as the page names them.
var ruleNames = map[string]Text{
	sim.RuleCheckQuorum:       {"CheckQuorum", "CheckQuorum"},
	sim.RulePreVote:           {"PreVote", "PreVote"},
	sim.RuleUpToDateCheck:     {"vote only for an up-to-date log (§5.4.1)", "只投票给日志足够新的候选者（§5.4.1）"},
	sim.RuleCurrentTermCommit: {"commit only by counting in the current term (§5.4.2)", "只在当前任期内按副本数提交（§5.4.2）"},
	sim.RulePersistBeforeAck:  {"persist before acknowledging", "先落盘再确认"},
}

// trapNames say what each trap does when it is armed.
var trapNames = map[string]Text{
	sim.TrapCrashLeaderOnOldCommit:  {"arm a trap: a leader crashes the moment it counts an entry of an earlier term as committed", "布下陷阱：主节点一把旧任期的日志算作已提交就宕机"},
	sim.TrapCrashLeaderOnElection:   {"arm a trap: a new leader crashes before its no-op leaves", "布下陷阱：新主节点的空日志（no-op）还没发出，它就宕机"},
	sim.TrapIsolateLeaderOnElection: {"arm a trap: a new leader is cut off the moment it wins", "布下陷阱：新主节点一当选就被隔离"},
	sim.TrapPowerLossOnCommit:       {"arm a trap: a leader that just committed crashes, with every follower whose fsync is still running", "布下陷阱：主节点刚提交就宕机，仍在 fsync 的从节点也一起宕机"},
	sim.TrapNone:                    {"disarm the traps", "撤掉陷阱"},
}

// label names w in both languages: its broker, the leader, a follower (in
// Chinese as follower, which reads differently in a check and in an
// action), or the name it was bound to.
func (w Who) label(follower string) Text {
	switch {
	case w.ID != 0:
		s := fmt.Sprintf("Broker %d", w.ID)
		return Text{En: s, Zh: s}
	case w.Role == "leader":
		return Text{En: "the leader", Zh: "主节点"}
	case w.Role == "follower":
		return Text{En: "a follower", Zh: follower}
	}
	return Text{En: w.Name, Zh: w.Name}
}
