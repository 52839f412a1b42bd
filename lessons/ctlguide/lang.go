// Package ctlguide plays the Controller-mode lessons (lessons/controller):
// the same shape as package guide's lessons — bilingual steps that say,
// do and expect, a goal and a quiz — on a core/ctlsim run, with a language
// made of Controller mode's own words: master and slave, the SyncStateSet,
// epochs, truncation. One Session plays a lesson in the page's guided
// mode and in go test. Like guide, it runs in WebAssembly (it has no YAML
// parser: package lessons reads the files).
package ctlguide

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"dledgerlab/core/ctlsim"
	"dledgerlab/lessons/guide"
)

// Lesson is one Controller-mode lesson file.
type Lesson struct {
	ID    string `json:"id"`
	Order int    `json:"order"`
	// Mode is "controller": the page plays the lesson in Controller mode.
	Mode    string           `json:"mode"`
	Title   guide.Text       `json:"title"`
	Cluster ctlsim.Settings  `json:"cluster"`
	Intro   guide.Text       `json:"intro"`
	Steps   []guide.Step     `json:"steps"`
	Goal    guide.Goal       `json:"goal"`
	Quiz    []guide.Question `json:"quiz"`
	File    string           `json:"file"`
	// SimOnly: the lesson needs the simulator — its seed decides which
	// broker is master, or a check needs the simulator's checkers — so
	// `lesson run --native` refuses it.
	SimOnly bool `json:"sim_only"`
}

// NeedsSimulator returns the first line of l that only the simulator can
// play, and why: a broker named by number (on real processes any broker
// may be master) or a check that the checker finds a loss.
func NeedsSimulator(l *Lesson) (line int, why string) {
	var lines []guide.Line
	for _, s := range l.Steps {
		lines = append(append(lines, s.Do...), s.Expect...)
	}
	lines = append(append(append(lines, l.Goal.Start...), l.Goal.Expect...), l.Goal.Solution...)
	byNumber := func(w Who) bool { return w.Node > ctlsim.Controllers }
	for _, x := range lines {
		if a, err := ParseAction(x.Text); err == nil && byNumber(a.Who) {
			return x.Line, fmt.Sprintf("%q names broker %d, which only the simulator's seed makes master or slave", x.Text, a.Who.Node-ctlsim.Controllers)
		}
		if c, err := ParseCheck(x.Text); err == nil {
			if byNumber(c.Who) {
				return x.Line, fmt.Sprintf("%q names broker %d, which only the simulator's seed makes master or slave", x.Text, c.Who.Node-ctlsim.Controllers)
			}
			if c.Kind == "violation" {
				return x.Line, fmt.Sprintf("%q needs the simulator's checkers", x.Text)
			}
		}
	}
	return 0, ""
}

// Who names a node in a lesson line: broker 1..3, controller c1..c3,
// "master" (the broker acting as master that the controllers elected),
// "slave" (a live slave in the SyncStateSet), "controller-leader", or a
// name bound with "remember … as".
type Who struct {
	Node int    `json:"node,omitempty"` // network id: controllers 1..3, brokers 4..6
	Role string `json:"role,omitempty"`
	Name string `json:"name,omitempty"`
}

var roles = []string{"master", "slave", "controller-leader"}

var reserved = append([]string{"as", "within", "is", "not", "in", "set", "has", "epoch", "above", "no", "from", "brokers", "off"}, roles...)

func parseWho(s string) (Who, error) {
	if id, err := strconv.Atoi(s); err == nil {
		if id < 1 || id > ctlsim.Brokers {
			return Who{}, fmt.Errorf("broker %d is not 1..%d", id, ctlsim.Brokers)
		}
		return Who{Node: ctlsim.BrokerNode(id)}, nil
	}
	if c, ok := strings.CutPrefix(s, "c"); ok {
		if id, err := strconv.Atoi(c); err == nil {
			if id < 1 || id > ctlsim.Controllers {
				return Who{}, fmt.Errorf("controller c%d is not c1..c%d", id, ctlsim.Controllers)
			}
			return Who{Node: id}, nil
		}
	}
	if slices.Contains(roles, s) {
		return Who{Role: s}, nil
	}
	if s == "" || slices.Contains(reserved, s) || !isName(s) {
		return Who{}, fmt.Errorf("%q is not a node (want 1..3 for a broker, c1..c3 for a controller, master, slave, controller-leader, or a name bound with remember)", s)
	}
	return Who{Name: s}, nil
}

func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'A' && r <= 'Z' || r >= 'a' && r <= 'z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// Action is one parsed do line.
type Action struct {
	// Kind: wait, producer, produce, consume, crash, restart, pause,
	// resume, isolate, cut (from the other brokers), heal, remember.
	Kind string  `json:"kind"`
	Who  Who     `json:"who"`
	Ms   int64   `json:"ms,omitempty"`
	Rate float64 `json:"rate,omitempty"`
	// As: remember's name; Epoch: remember binds the master epoch.
	As    string `json:"as,omitempty"`
	Epoch bool   `json:"epoch,omitempty"`
}

// ParseAction reads one do line.
func ParseAction(line string) (Action, error) {
	t := strings.Fields(line)
	if len(t) == 0 {
		return Action{}, fmt.Errorf("empty action")
	}
	a := Action{Kind: t[0]}
	want := func(usage string, n int) error {
		if len(t) != n {
			return fmt.Errorf("%q: want %q", line, usage)
		}
		return nil
	}
	var err error
	switch a.Kind {
	case "wait":
		if err = want("wait 2s", 2); err == nil {
			a.Ms, err = parseMs(t[1])
		}
	case "producer":
		if err = want("producer 10/s (or off)", 2); err == nil && t[1] != "off" {
			a.Rate, err = strconv.ParseFloat(strings.TrimSuffix(t[1], "/s"), 64)
			if err != nil || !strings.HasSuffix(t[1], "/s") || a.Rate <= 0 || a.Rate > 1000 {
				err = fmt.Errorf("%q: want a rate like 10/s (up to 1000/s) or off", line)
			}
		}
	case "produce", "consume", "heal":
		err = want(a.Kind, 1)
	case "crash", "restart", "pause", "resume", "isolate":
		if err = want(a.Kind+" NODE", 2); err == nil {
			a.Who, err = parseWho(t[1])
		}
	case "cut":
		if err = want("cut BROKER from brokers", 4); err == nil && (t[2] != "from" || t[3] != "brokers") {
			err = fmt.Errorf("%q: want cut BROKER from brokers", line)
		}
		if err == nil {
			a.Who, err = parseWho(t[1])
		}
	case "remember":
		if err = want("remember NODE as NAME (or remember epoch as NAME)", 4); err == nil && t[2] != "as" {
			err = fmt.Errorf("%q: want remember NODE as NAME", line)
		}
		if err == nil {
			if !isName(t[3]) || slices.Contains(reserved, t[3]) {
				return a, fmt.Errorf("%q cannot be a name", t[3])
			}
			a.As = t[3]
			if t[1] == "epoch" {
				a.Epoch = true
			} else {
				a.Who, err = parseWho(t[1])
			}
		}
	default:
		err = fmt.Errorf("unknown action %q (known: wait, producer, produce, consume, crash, restart, pause, resume, isolate, cut, heal, remember)", a.Kind)
	}
	if err != nil && !strings.HasPrefix(err.Error(), strconv.Quote(line)) && !strings.HasPrefix(err.Error(), "unknown") {
		err = fmt.Errorf("%q: %v", line, err)
	}
	return a, err
}

// Check is one parsed expect line: what must become true, within Within
// milliseconds of being watched (0: now).
type Check struct {
	// Kind: master, master-is, slave, set-size, in-set, epoch-above,
	// refused, acked, truncated, violation, no-violation, no-master.
	Kind   string `json:"kind"`
	Who    Who    `json:"who"`
	Not    bool   `json:"not,omitempty"`
	N      int    `json:"n,omitempty"`
	Name   string `json:"name,omitempty"`
	Why    string `json:"why,omitempty"`
	Within int64  `json:"within"`
}

// ParseCheck reads one expect line.
func ParseCheck(line string) (Check, error) {
	t := strings.Fields(line)
	var c Check
	if k := len(t); k >= 2 && t[k-2] == "within" {
		ms, err := parseMs(t[k-1])
		if err != nil {
			return c, err
		}
		c.Within, t = ms, t[:k-2]
	}
	usage := fmt.Errorf("%q is not a check (see lessons/README.md, Controller mode)", line)
	var err error
	switch {
	case len(t) == 1 && t[0] == "master":
		c.Kind = "master"
	case len(t) >= 3 && t[0] == "master" && t[1] == "is":
		c.Kind = "master-is"
		rest := t[2:]
		if rest[0] == "not" {
			c.Not, rest = true, rest[1:]
		}
		if len(rest) != 1 {
			return c, usage
		}
		c.Who, err = parseWho(rest[0])
	case len(t) == 3 && t[1] == "is" && t[2] == "slave":
		c.Kind = "slave"
		c.Who, err = parseWho(t[0])
	case len(t) >= 3 && t[0] == "set" && t[1] == "has":
		c.Kind = "set-size"
		if c.N, err = strconv.Atoi(t[2]); err != nil || c.N < 1 || c.N > ctlsim.Brokers || len(t) > 4 || len(t) == 4 && t[3] != "members" {
			return c, fmt.Errorf("%q: want set has 1..%d members", line, ctlsim.Brokers)
		}
	case len(t) == 3 && t[1] == "in" && t[2] == "set", len(t) == 4 && t[1] == "not" && t[2] == "in" && t[3] == "set":
		c.Kind, c.Not = "in-set", len(t) == 4
		c.Who, err = parseWho(t[0])
	case len(t) == 3 && t[0] == "epoch" && t[1] == "above":
		c.Kind, c.Name = "epoch-above", t[2]
		if !isName(c.Name) {
			return c, fmt.Errorf("%q: %q is not a name", line, c.Name)
		}
	case len(t) == 2 && t[0] == "refused":
		c.Kind = "refused"
		switch t[1] {
		case "IN_SYNC_REPLICAS_NOT_ENOUGH":
			c.Why = "IN_SYNC_REPLICAS_NOT_ENOUGH"
		case "not-master":
			c.Why = "not the master"
		default:
			return c, fmt.Errorf("%q: want refused IN_SYNC_REPLICAS_NOT_ENOUGH or refused not-master", line)
		}
	case len(t) <= 2 && t[0] == "acked":
		c.Kind, c.N = "acked", 1
		if len(t) == 2 {
			if c.N, err = strconv.Atoi(t[1]); err != nil || c.N < 1 {
				return c, fmt.Errorf("%q: want acked or acked N (N ≥ 1 more acknowledged writes)", line)
			}
		}
	case len(t) == 2 && t[1] == "truncated":
		c.Kind = "truncated"
		c.Who, err = parseWho(t[0])
	case len(t) == 1 && t[0] == "violation":
		c.Kind = "violation"
	case len(t) == 2 && t[0] == "no" && (t[1] == "violation" || t[1] == "master"):
		c.Kind = "no-" + t[1]
	default:
		return c, usage
	}
	if err != nil {
		return c, fmt.Errorf("%q: %v", line, err)
	}
	return c, nil
}

// parseMs reads 500ms or 2s (up to ten minutes).
func parseMs(s string) (int64, error) {
	mult, num := int64(1000), strings.TrimSuffix(s, "s")
	if strings.HasSuffix(s, "ms") {
		mult, num = 1, strings.TrimSuffix(s, "ms")
	} else if !strings.HasSuffix(s, "s") {
		return 0, fmt.Errorf("%q is not a duration (want 500ms or 2s)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if ms := f * float64(mult); err != nil || ms < 0 || ms > 600_000 {
		return 0, fmt.Errorf("%q is not a duration between 0 and 10 minutes", s)
	}
	return int64(f * float64(mult)), nil
}

// Prepare checks every line of l and gives it its label in both
// languages (what the page shows). Names must be bound before use.
func Prepare(l *Lesson) error {
	bound := map[string]bool{}
	do := func(lines []guide.Line) error {
		for i := range lines {
			a, err := ParseAction(lines[i].Text)
			if err != nil {
				return fmt.Errorf("line %d: %v", lines[i].Line, err)
			}
			if a.Who.Name != "" && !bound[a.Who.Name] {
				return fmt.Errorf("line %d: %s is used before a remember line binds it", lines[i].Line, a.Who.Name)
			}
			if a.As != "" {
				bound[a.As] = true
			}
			lb := actionLabel(a)
			lines[i].Label = &lb
		}
		return nil
	}
	expect := func(lines []guide.Line) error {
		for i := range lines {
			c, err := ParseCheck(lines[i].Text)
			if err != nil {
				return fmt.Errorf("line %d: %v", lines[i].Line, err)
			}
			for _, n := range []string{c.Who.Name, c.Name} {
				if n != "" && !bound[n] {
					return fmt.Errorf("line %d: %s is used before a remember line binds it", lines[i].Line, n)
				}
			}
			lb := checkLabel(c)
			lines[i].Label = &lb
		}
		return nil
	}
	for i := range l.Steps {
		if err := do(l.Steps[i].Do); err != nil {
			return err
		}
		if err := expect(l.Steps[i].Expect); err != nil {
			return err
		}
	}
	for _, lines := range [][]guide.Line{l.Goal.Start, l.Goal.Solution} {
		if err := do(lines); err != nil {
			return err
		}
	}
	return expect(l.Goal.Expect)
}

func tx(en, zh string, args ...any) guide.Text {
	return guide.Text{En: fmt.Sprintf(en, args...), Zh: fmt.Sprintf(zh, args...)}
}

// whoText names w in both languages.
func whoText(w Who) guide.Text {
	switch {
	case w.Node > ctlsim.Controllers:
		return tx("Broker %d", "Broker %d", w.Node-ctlsim.Controllers)
	case w.Node > 0:
		return tx("Controller %d", "Controller %d", w.Node)
	case w.Role == "master":
		return tx("the master", "Master")
	case w.Role == "slave":
		return tx("a slave in the SyncStateSet", "SyncStateSet 中的一个 Slave")
	case w.Role == "controller-leader":
		return tx("the controllers' leader", "Controller 的领导者")
	}
	return tx("%s", "%s", w.Name)
}

func secs(ms int64) guide.Text {
	if ms == 0 {
		return guide.Text{}
	}
	s := strconv.FormatFloat(float64(ms)/1000, 'f', -1, 64)
	return tx(" (within %s s)", "（%s 秒内）", s)
}

func join(parts ...guide.Text) guide.Text {
	var out guide.Text
	for _, p := range parts {
		out.En += p.En
		out.Zh += p.Zh
	}
	return out
}

func actionLabel(a Action) guide.Text {
	w := whoText(a.Who)
	switch a.Kind {
	case "wait":
		return tx("wait %s s", "等待 %s 秒", strconv.FormatFloat(float64(a.Ms)/1000, 'f', -1, 64))
	case "producer":
		if a.Rate == 0 {
			return tx("stop the producer", "停止生产者")
		}
		return tx("start a producer sending %g messages/s", "启动生产者，每秒发送 %g 条消息", a.Rate)
	case "produce":
		return tx("send one message", "发送一条消息")
	case "consume":
		return tx("start a consumer", "启动一个消费者")
	case "crash":
		return pair(fmt.Sprintf("crash %s", w.En), fmt.Sprintf("让 %s 宕机", w.Zh))
	case "restart":
		return pair(fmt.Sprintf("restart %s", w.En), fmt.Sprintf("重启 %s", w.Zh))
	case "pause":
		return pair(fmt.Sprintf("pause %s", w.En), fmt.Sprintf("暂停 %s", w.Zh))
	case "resume":
		return pair(fmt.Sprintf("resume %s", w.En), fmt.Sprintf("恢复 %s", w.Zh))
	case "isolate":
		return pair(fmt.Sprintf("cut every link of %s", w.En), fmt.Sprintf("切断 %s 的所有链路", w.Zh))
	case "cut":
		return pair(fmt.Sprintf("cut %s off the other brokers (it still reaches the controllers)", w.En), fmt.Sprintf("切断 %s 与其他 Broker 的链路（它仍能连到 Controller）", w.Zh))
	case "heal":
		return tx("heal the network", "恢复网络")
	case "remember":
		if a.Epoch {
			return tx("remember the master epoch as %s", "把当前 master epoch 记为 %s", a.As)
		}
		return pair(fmt.Sprintf("call %s %s", w.En, a.As), fmt.Sprintf("把 %s 记为 %s", w.Zh, a.As))
	}
	return tx("%s", "%s", a.Kind)
}

func checkLabel(c Check) guide.Text {
	w := whoText(c.Who)
	var t guide.Text
	switch c.Kind {
	case "master":
		t = tx("the controllers elect a master and it takes the role", "Controller 选出 Master，它接任该角色")
	case "master-is":
		if c.Not {
			t = pair(fmt.Sprintf("the master is not %s", w.En), fmt.Sprintf("Master 不是 %s", w.Zh))
		} else {
			t = pair(fmt.Sprintf("the master is %s", w.En), fmt.Sprintf("Master 是 %s", w.Zh))
		}
	case "slave":
		t = pair(fmt.Sprintf("%s follows the master as a slave", w.En), fmt.Sprintf("%s 作为 Slave 跟随 Master", w.Zh))
	case "set-size":
		if c.N == 1 {
			t = tx("the SyncStateSet holds only the master", "SyncStateSet 中只剩 Master")
		} else {
			t = tx("the SyncStateSet has %d members", "SyncStateSet 有 %d 个成员", c.N)
		}
	case "in-set":
		if c.Not {
			t = pair(fmt.Sprintf("%s is not in the SyncStateSet", w.En), fmt.Sprintf("%s 不在 SyncStateSet 中", w.Zh))
		} else {
			t = pair(fmt.Sprintf("%s is in the SyncStateSet", w.En), fmt.Sprintf("%s 在 SyncStateSet 中", w.Zh))
		}
	case "epoch-above":
		t = tx("the master epoch is above %s", "master epoch 大于 %s", c.Name)
	case "refused":
		if c.Why == "not the master" {
			t = tx("a write is refused: not the master", "一次写入被拒绝：不是 Master")
		} else {
			t = tx("a write is refused with IN_SYNC_REPLICAS_NOT_ENOUGH", "一次写入被拒绝：IN_SYNC_REPLICAS_NOT_ENOUGH")
		}
	case "acked":
		if c.N == 1 {
			t = tx("a write is acknowledged", "有写入被确认")
		} else {
			t = tx("%d more writes are acknowledged", "又有 %d 条写入被确认", c.N)
		}
	case "truncated":
		t = pair(fmt.Sprintf("%s cuts its CommitLog back", w.En), fmt.Sprintf("%s 截断自己的 CommitLog", w.Zh))
	case "violation":
		t = tx("the checker finds an acknowledged message lost", "检查器发现一条已确认的消息丢失")
	case "no-violation":
		t = tx("no acknowledged message is lost", "没有已确认的消息丢失")
	case "no-master":
		t = tx("the group has no master", "组里没有 Master")
	}
	return join(t, secs(c.Within))
}

// pair is a text from its two languages.
func pair(en, zh string) guide.Text { return guide.Text{En: en, Zh: zh} }
