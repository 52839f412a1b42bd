package guide

import (
	"fmt"
	"strings"
)

// Label says what a check means in both languages, for the narration panel
// ("leader is not old within 3s" → "the leader is not old (within 3 s)" /
// "主节点不是 old（3 秒内）"). The check's own text stays the lesson file's
// language; the label is what a learner reads.
func (c Check) Label() Text {
	who := func(w Who) Text {
		switch {
		case w.ID != 0:
			s := fmt.Sprintf("Broker %d", w.ID)
			return Text{En: s, Zh: s}
		case w.Role == "leader":
			return Text{En: "the leader", Zh: "主节点"}
		case w.Role == "follower":
			return Text{En: "a follower", Zh: "从节点"}
		}
		return Text{En: w.Name, Zh: w.Name}
	}
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
	case "acked":
		l = Text{fmt.Sprintf("at least %d messages acknowledged", c.N), fmt.Sprintf("至少 %d 条消息已确认", c.N)}
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
