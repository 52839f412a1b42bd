package guide

import (
	"fmt"
	"slices"
	"strconv"
	"strings"

	"dledgerlab/core/broker"
	"dledgerlab/core/sim"
)

// Who names a broker in a lesson: a number, "leader", "follower", or a name
// bound with "as".
type Who struct {
	ID   int    `json:"id,omitempty"`
	Role string `json:"role,omitempty"`
	Name string `json:"name,omitempty"`
}

func (w Who) String() string {
	switch {
	case w.ID != 0:
		return strconv.Itoa(w.ID)
	case w.Role != "":
		return w.Role
	}
	return w.Name
}

// Action is one parsed line of a step's do list.
type Action struct {
	// Kind is "wait", "remember" or one of sim's action kinds.
	Kind   string  `json:"kind"`
	Who    Who     `json:"who"`
	To     Who     `json:"to"`
	Groups [][]Who `json:"groups,omitempty"`
	// RestGroup is the index of the group written as "rest", or -1.
	RestGroup int     `json:"rest_group"`
	OneWay    bool    `json:"one_way,omitempty"`
	Ms        int64   `json:"ms,omitempty"`
	Topic     string  `json:"topic,omitempty"`
	Group     string  `json:"group,omitempty"`
	Body      string  `json:"body,omitempty"`
	Rate      float64 `json:"rate,omitempty"`
	Rule      string  `json:"rule,omitempty"`
	On        bool    `json:"on,omitempty"`
	LatencyMs int     `json:"latency_ms,omitempty"`
	JitterMs  int     `json:"jitter_ms,omitempty"`
	Loss      float64 `json:"loss,omitempty"`
	// As binds the broker acted on to a name; for remember, Term says the
	// name holds the current term.
	As   string `json:"as,omitempty"`
	Term bool   `json:"term,omitempty"`
	Text string `json:"text"`
}

// tokens splits a line on spaces, keeping "quoted text" whole.
func tokens(s string) ([]string, error) {
	var out []string
	for s = strings.TrimSpace(s); s != ""; s = strings.TrimSpace(s) {
		if s[0] == '"' {
			end := strings.IndexByte(s[1:], '"')
			if end < 0 {
				return nil, fmt.Errorf("unclosed quote in %q", s)
			}
			out = append(out, s[1:end+1])
			s = s[end+2:]
			continue
		}
		i := strings.IndexAny(s, " \t")
		if i < 0 {
			i = len(s)
		}
		out = append(out, s[:i])
		s = s[i:]
	}
	return out, nil
}

var reserved = []string{"leader", "follower", "rest", "as", "to", "from", "within", "term", "on", "off", "is", "all", "majority"}

func parseWho(s string, n int) (Who, error) {
	if id, err := strconv.Atoi(s); err == nil {
		if id < 1 || id > n {
			return Who{}, fmt.Errorf("broker %d is outside this lesson's cluster of %d", id, n)
		}
		return Who{ID: id}, nil
	}
	switch s {
	case "leader", "follower":
		return Who{Role: s}, nil
	case "":
		return Who{}, fmt.Errorf("a broker is missing (a number, leader, follower, or a name bound with as)")
	}
	if slices.Contains(reserved, s) || !isName(s) {
		return Who{}, fmt.Errorf("%q is not a broker (want a number, leader, follower, or a name bound with as)", s)
	}
	return Who{Name: s}, nil
}

func isName(s string) bool {
	for i, r := range s {
		if !(r == '_' || r >= 'a' && r <= 'z' || r >= 'A' && r <= 'Z' || i > 0 && r >= '0' && r <= '9') {
			return false
		}
	}
	return s != ""
}

// parseMs reads 500ms or 2s.
func parseMs(s string) (int64, error) {
	var mult int64
	var num string
	switch {
	case strings.HasSuffix(s, "ms"):
		mult, num = 1, strings.TrimSuffix(s, "ms")
	case strings.HasSuffix(s, "s"):
		mult, num = 1000, strings.TrimSuffix(s, "s")
	default:
		return 0, fmt.Errorf("%q is not a duration (want 500ms or 2s)", s)
	}
	f, err := strconv.ParseFloat(num, 64)
	if err != nil || f < 0 || f > 600 && mult == 1000 || f > 600_000 {
		return 0, fmt.Errorf("%q is not a duration between 0 and 10 minutes", s)
	}
	return int64(f * float64(mult)), nil
}

func parsePercent(s string) (float64, error) {
	f, err := strconv.ParseFloat(strings.TrimSuffix(s, "%"), 64)
	if err != nil || !strings.HasSuffix(s, "%") || f < 0 || f > 100 {
		return 0, fmt.Errorf("%q is not a percentage (want 0%%..100%%)", s)
	}
	return f / 100, nil
}

// ParseAction reads one do line for a cluster of n brokers.
func ParseAction(line string, n int) (Action, error) {
	t, err := tokens(line)
	if err != nil {
		return Action{}, err
	}
	a := Action{Text: line, RestGroup: -1}
	if len(t) == 0 {
		return a, fmt.Errorf("empty action")
	}
	// A trailing "as NAME" binds the broker acted on.
	if k := len(t); k >= 3 && t[k-2] == "as" && t[0] != "remember" {
		if !isName(t[k-1]) || slices.Contains(reserved, t[k-1]) {
			return a, fmt.Errorf("%q cannot be a name", t[k-1])
		}
		a.As, t = t[k-1], t[:k-2]
	}
	want := func(k int, usage string) error {
		if len(t) != k {
			return fmt.Errorf("%q: want %q", line, usage)
		}
		return nil
	}
	who := func(i int) (Who, error) {
		if i >= len(t) {
			return parseWho("", n)
		}
		return parseWho(t[i], n)
	}
	a.Kind = t[0]
	switch a.Kind {
	case "wait":
		if err := want(2, "wait 500ms"); err != nil {
			return a, err
		}
		a.Ms, err = parseMs(t[1])
	case "crash", "restart", "pause", "resume", "isolate", "transfer", "campaign", "disk-flip":
		if err := want(2, a.Kind+" BROKER"); err != nil {
			return a, err
		}
		a.Who, err = who(1)
		if a.Kind == "disk-flip" {
			a.Kind = sim.KindDiskFlip
		}
	case "heal":
		err = want(1, "heal")
	case "partition":
		rest := t[1:]
		if len(rest) > 0 && rest[0] == "one-way" {
			a.OneWay, rest = true, rest[1:]
		}
		for _, g := range strings.Split(strings.Join(rest, ""), "|") {
			var group []Who
			if g == "rest" {
				if a.RestGroup >= 0 {
					return a, fmt.Errorf("%q: rest may appear once", line)
				}
				a.RestGroup = len(a.Groups)
			} else {
				for _, w := range strings.Split(g, ",") {
					x, err := parseWho(w, n)
					if err != nil {
						return a, fmt.Errorf("%q: %v", line, err)
					}
					group = append(group, x)
				}
			}
			a.Groups = append(a.Groups, group)
		}
		if len(a.Groups) < 2 {
			return a, fmt.Errorf("%q: want groups separated by |, e.g. partition leader | rest", line)
		}
	case "link":
		// link B->B loss 100% latency 200ms
		if len(t) < 4 {
			return a, fmt.Errorf("%q: want link 1->2 loss 100%% (or latency 200ms)", line)
		}
		ends := strings.Split(t[1], "->")
		if len(ends) != 2 {
			return a, fmt.Errorf("%q: want a link as FROM->TO", line)
		}
		if a.Who, err = parseWho(ends[0], n); err != nil {
			return a, err
		}
		if a.To, err = parseWho(ends[1], n); err != nil {
			return a, err
		}
		err = a.parseNet(t[2:])
	case "net":
		err = a.parseNet(t[1:])
	case "produce":
		// produce TOPIC BODY... [to B]
		if len(t) < 3 {
			return a, fmt.Errorf("%q: want produce TOPIC BODY [to BROKER]", line)
		}
		a.Topic = t[1]
		body := t[2:]
		if k := len(body); k >= 3 && body[k-2] == "to" {
			if a.To, err = parseWho(body[k-1], n); err != nil {
				return a, err
			}
			body = body[:k-2]
		}
		a.Body = strings.Join(body, " ")
	case "producer":
		if err := want(3, "producer TOPIC 20/s (or off)"); err != nil {
			return a, err
		}
		a.Topic = t[1]
		if t[2] != "off" {
			a.Rate, err = strconv.ParseFloat(strings.TrimSuffix(t[2], "/s"), 64)
			if err != nil || !strings.HasSuffix(t[2], "/s") || a.Rate <= 0 || a.Rate > 1000 {
				return a, fmt.Errorf("%q: want a rate like 20/s (up to 1000/s) or off", line)
			}
		}
	case "consume":
		a.Kind = sim.KindConsumer
		a.Topic = ""
		usage := fmt.Errorf("%q: want consume TOPIC [group GROUP] [from BROKER]", line)
		if len(t) < 2 {
			return a, usage
		}
		a.Topic = t[1]
		rest := t[2:]
		if len(rest) >= 2 && rest[0] == "group" {
			if err := broker.CheckGroup(rest[1]); err != nil {
				return a, fmt.Errorf("%q: %v", line, err)
			}
			a.Group, rest = rest[1], rest[2:]
		}
		switch {
		case len(rest) == 2 && rest[0] == "from":
			a.Who, err = parseWho(rest[1], n)
		case len(rest) != 0:
			return a, usage
		}
	case "rule":
		if err := want(3, "rule NAME on|off"); err != nil {
			return a, err
		}
		a.Rule = t[1]
		if !slices.Contains(sim.Rules, a.Rule) {
			return a, fmt.Errorf("unknown rule %q (known: %s)", a.Rule, strings.Join(sim.Rules, ", "))
		}
		switch t[2] {
		case "on":
			a.On = true
		case "off":
		default:
			return a, fmt.Errorf("%q: want on or off", line)
		}
	case "trap":
		if err := want(2, "trap NAME"); err != nil {
			return a, err
		}
		a.Rule = t[1]
		if !slices.Contains(sim.Traps, a.Rule) && a.Rule != sim.TrapNone {
			return a, fmt.Errorf("unknown trap %q (known: %s, none)", a.Rule, strings.Join(sim.Traps, ", "))
		}
	case "remember":
		// remember B as NAME / remember term as NAME
		if err := want(4, "remember BROKER as NAME (or remember term as NAME)"); err != nil {
			return a, err
		}
		if t[2] != "as" || !isName(t[3]) || slices.Contains(reserved, t[3]) {
			return a, fmt.Errorf("%q: want remember BROKER as NAME", line)
		}
		a.As = t[3]
		if t[1] == "term" {
			a.Term = true
		} else {
			a.Who, err = who(1)
		}
	default:
		return a, fmt.Errorf("unknown action %q (known: wait, crash, restart, pause, resume, isolate, partition, heal, link, net, produce, producer, consume, transfer, campaign, rule, disk-flip, trap, remember)", a.Kind)
	}
	return a, err
}

func (a *Action) parseNet(t []string) error {
	if len(t) == 0 || len(t)%2 != 0 {
		return fmt.Errorf("%q: want pairs like latency 20ms jitter 10ms loss 5%%", a.Text)
	}
	for i := 0; i < len(t); i += 2 {
		var err error
		var ms int64
		switch t[i] {
		case "latency":
			ms, err = parseMs(t[i+1])
			a.LatencyMs = int(ms)
		case "jitter":
			ms, err = parseMs(t[i+1])
			a.JitterMs = int(ms)
		case "loss":
			a.Loss, err = parsePercent(t[i+1])
		default:
			return fmt.Errorf("%q: unknown setting %q (known: latency, jitter, loss)", a.Text, t[i])
		}
		if err != nil {
			return err
		}
	}
	return nil
}

// Check is one parsed expect line.
type Check struct {
	Kind string `json:"kind"`
	Who  Who    `json:"who"`
	// Where is "one" (Who), "majority" or "all" for entry checks.
	Where    string `json:"where,omitempty"`
	N        int64  `json:"n,omitempty"`
	Name     string `json:"name,omitempty"` // term > NAME
	Body     string `json:"body,omitempty"`
	Topic    string `json:"topic,omitempty"`
	Group    string `json:"group,omitempty"`
	Role     string `json:"role,omitempty"`
	WithinMs int64  `json:"within_ms"`
	Text     string `json:"text"`
}

// DefaultWithinMs bounds a check written without "within".
const DefaultWithinMs = 3000

// ParseCheck reads one expect line for a cluster of n brokers.
func ParseCheck(line string, n int) (Check, error) {
	t, err := tokens(line)
	if err != nil {
		return Check{}, err
	}
	c := Check{Text: line, WithinMs: DefaultWithinMs}
	if k := len(t); k >= 2 && t[k-2] == "within" {
		if c.WithinMs, err = parseMs(t[k-1]); err != nil {
			return c, err
		}
		t = t[:k-2]
	}
	if len(t) == 0 {
		return c, fmt.Errorf("empty check")
	}
	usage := fmt.Errorf("unknown check %q (see lessons/README.md: leader, no leader, leader is B, leader count is N, B is up, role of B is R, term is N, \"BODY\" is committed on B, B matches leader, B installed a snapshot, TOPIC has N messages on B, group G delivered N, group G redelivered N, group G redelivered > N, violation, no violation, acked N)", line)
	joined := strings.Join(t, " ")
	quoted := strings.HasPrefix(strings.TrimSpace(line), "\"")
	switch {
	case joined == "leader":
		c.Kind = "leader"
	case joined == "no leader":
		c.Kind = "no-leader"
	case joined == "violation":
		c.Kind = "violation"
	case joined == "no violation":
		c.Kind = "no-violation"
	case len(t) == 3 && t[0] == "leader" && t[1] == "is":
		c.Kind = "leader-is"
		c.Who, err = parseWho(t[2], n)
	case len(t) == 4 && t[0] == "leader" && t[1] == "count" && t[2] == "is":
		c.Kind = "leader-count"
		if c.N, err = strconv.ParseInt(t[3], 10, 64); err != nil || c.N < 0 || c.N > int64(n) {
			return c, fmt.Errorf("%q: want a number of leaders from 0 to %d", line, n)
		}
	case len(t) == 4 && t[0] == "leader" && t[1] == "is" && t[2] == "not":
		c.Kind = "leader-is-not"
		c.Who, err = parseWho(t[3], n)
	case len(t) == 3 && t[1] == "is" && (t[2] == "up" || t[2] == "down") && !quoted:
		c.Kind = "is-" + t[2]
		c.Who, err = parseWho(t[0], n)
	case len(t) == 5 && t[0] == "role" && t[1] == "of" && t[3] == "is":
		c.Kind, c.Role = "role", t[4]
		if !slices.Contains([]string{"leader", "follower", "candidate"}, c.Role) {
			return c, fmt.Errorf("%q: a role is leader, follower or candidate", line)
		}
		c.Who, err = parseWho(t[2], n)
	case len(t) == 3 && t[0] == "term" && (t[1] == "is" || t[1] == ">"):
		c.Kind = "term-is"
		if t[1] == ">" {
			c.Kind = "term-gt"
		}
		if c.N, err = strconv.ParseInt(t[2], 10, 64); err != nil {
			if isName(t[2]) && !slices.Contains(reserved, t[2]) {
				c.Name, err = t[2], nil
			} else {
				return c, fmt.Errorf("%q: want a number or a name bound with remember term as NAME", line)
			}
		}
	case len(t) == 4 && t[1] == "installed" && t[2] == "a" && t[3] == "snapshot":
		c.Kind = "installed-snapshot"
		c.Who, err = parseWho(t[0], n)
	case len(t) == 3 && t[1] == "matches" && t[2] == "leader":
		c.Kind = "matches-leader"
		c.Who, err = parseWho(t[0], n)
	case len(t) == 2 && t[0] == "acked":
		c.Kind = "acked"
		c.N, err = strconv.ParseInt(t[1], 10, 64)
	case (len(t) == 4 || len(t) == 5 && t[3] == ">") && t[0] == "group" && (t[2] == "delivered" || t[2] == "redelivered"):
		// group G delivered N / group G redelivered > N
		c.Kind, c.Group = "group-"+t[2], t[1]
		if len(t) == 5 {
			c.Kind += "-gt"
		}
		if c.N, err = strconv.ParseInt(t[len(t)-1], 10, 64); err != nil || c.N < 0 {
			return c, fmt.Errorf("%q: want a number of messages", line)
		}
	case len(t) == 6 && t[1] == "has" && t[3] == "messages" && t[4] == "on":
		c.Kind, c.Topic = "topic-count", t[0]
		if c.N, err = strconv.ParseInt(t[2], 10, 64); err != nil {
			return c, fmt.Errorf("%q: want a number of messages", line)
		}
		c.Who, err = parseWho(t[5], n)
	case quoted && len(t) == 5 && (t[1] == "is" || t[1] == "was") && t[3] == "on":
		c.Body = t[0]
		switch t[1] + " " + t[2] {
		case "is committed":
			c.Kind = "committed"
		case "is uncommitted":
			c.Kind = "uncommitted"
		case "is missing":
			c.Kind = "missing"
		case "was truncated":
			c.Kind = "truncated"
		default:
			return c, usage
		}
		switch t[4] {
		case "majority", "all":
			c.Where = t[4]
			if c.Kind != "committed" {
				return c, fmt.Errorf("%q: on majority / on all only go with is committed", line)
			}
		default:
			c.Where = "one"
			c.Who, err = parseWho(t[4], n)
		}
	default:
		return c, usage
	}
	return c, err
}

// Prepare parses every line of l for its cluster once: each do line gets
// its Action and each expect line its Check, both with their Label (a
// goal's checks without their "within" bound: the goal waits for the
// learner). Session runs prepared lines only; lessons.Load prepares.
func Prepare(l *Lesson) error {
	n := l.Cluster.Nodes
	do := func(ls []Line) error {
		for i := range ls {
			a, err := ParseAction(ls[i].Text, n)
			if err != nil {
				return fmt.Errorf("line %d: %w", ls[i].Line, err)
			}
			lb := a.Label()
			ls[i].Action, ls[i].Label = &a, &lb
		}
		return nil
	}
	expect := func(ls []Line, goal bool) error {
		for i := range ls {
			c, err := ParseCheck(ls[i].Text, n)
			if err != nil {
				return fmt.Errorf("line %d: %w", ls[i].Line, err)
			}
			if goal {
				c.Text, _, _ = strings.Cut(c.Text, " within ")
			}
			lb := c.Label()
			ls[i].Check, ls[i].Label = &c, &lb
		}
		return nil
	}
	for i := range l.Steps {
		if err := do(l.Steps[i].Do); err != nil {
			return err
		}
		if err := expect(l.Steps[i].Expect, false); err != nil {
			return err
		}
	}
	if err := do(l.Goal.Start); err != nil {
		return err
	}
	if err := do(l.Goal.Solution); err != nil {
		return err
	}
	return expect(l.Goal.Expect, true)
}
