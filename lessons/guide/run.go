package guide

import (
	"errors"
	"fmt"
	"maps"
	"slices"
	"strings"

	"dledgerlab/core/sim"
)

// Driver is a cluster a lesson runs against: the simulator (SimDriver), or
// real brokers (native/). Time is in milliseconds of the cluster's clock.
type Driver interface {
	// View is the cluster now, as the page draws it.
	View() (sim.ClusterView, error)
	// Do performs one resolved action.
	Do(a sim.Action) error
	// Wait lets ms pass (virtual time in the simulator, real time natively).
	Wait(ms int64) error
}

// Bindings are the names bound with "as" and "remember".
type Bindings map[string]int64

// Runner plays a lesson against a driver, step by step.
type Runner struct {
	L     *Lesson
	D     Driver
	Names Bindings
	// Log, if set, hears what happens ("do crash 2", "ok leader within 3s").
	Log func(format string, args ...any)
	// PollMs is how often checks are re-evaluated while waiting.
	PollMs int64
}

// NewRunner prepares r to play l on d.
func NewRunner(l *Lesson, d Driver) *Runner {
	return &Runner{L: l, D: d, Names: Bindings{}, PollMs: 20}
}

func (r *Runner) logf(format string, args ...any) {
	if r.Log != nil {
		r.Log(format, args...)
	}
}

// StepError says which step and line of a lesson failed, and why.
type StepError struct {
	File string
	Step int
	Line int
	Text string
	Err  error
}

func (e *StepError) Error() string {
	return fmt.Sprintf("%s:%d: step %d: %q: %v", e.File, e.Line, e.Step, e.Text, e.Err)
}

func (e *StepError) Unwrap() error { return e.Err }

// ErrCheckFailed is wrapped by a check that did not hold within its bound.
var ErrCheckFailed = errors.New("check did not hold")

// Run plays every step, then the goal's solution and checks.
func (r *Runner) Run() error {
	for i := range r.L.Steps {
		if err := r.RunStep(i); err != nil {
			return err
		}
	}
	return r.RunGoal()
}

// RunStep performs step i's actions, then waits for each of its checks.
func (r *Runner) RunStep(i int) error {
	s := r.L.Steps[i]
	for _, d := range s.Do {
		if err := r.DoLine(d); err != nil {
			return &StepError{File: r.L.File, Step: i + 1, Line: d.Line, Text: d.Text, Err: err}
		}
	}
	for _, e := range s.Expect {
		if err := r.Expect(e); err != nil {
			return &StepError{File: r.L.File, Step: i + 1, Line: e.Line, Text: e.Text, Err: err}
		}
	}
	return nil
}

// RunGoal binds the goal's start names, performs its solution and waits
// for its checks.
func (r *Runner) RunGoal() error {
	g := r.L.Goal
	for _, d := range append(slices.Clip(g.Start), g.Solution...) {
		if err := r.DoLine(d); err != nil {
			return &StepError{File: r.L.File, Step: len(r.L.Steps) + 1, Line: d.Line, Text: d.Text, Err: err}
		}
	}
	for _, e := range g.Expect {
		if err := r.Expect(e); err != nil {
			return &StepError{File: r.L.File, Step: len(r.L.Steps) + 1, Line: e.Line, Text: e.Text, Err: err}
		}
	}
	return nil
}

// DoLine performs one action line.
func (r *Runner) DoLine(l Line) error {
	a, err := ParseAction(l.Text, r.L.Cluster.Nodes)
	if err != nil {
		return err
	}
	r.logf("do %s", l.Text)
	if a.Kind == "wait" {
		return r.D.Wait(a.Ms)
	}
	v, err := r.settledView(a)
	if err != nil {
		return err
	}
	if a.Kind == "remember" {
		if a.Term {
			r.Names[a.As] = int64(maxTerm(&v))
			return nil
		}
		id, err := r.resolve(a.Who, &v)
		if err != nil {
			return err
		}
		r.Names[a.As] = int64(id)
		return nil
	}
	sa, bound, err := r.Resolve(a, &v)
	if err != nil {
		return err
	}
	if a.As != "" {
		r.Names[a.As] = int64(bound)
	}
	return r.D.Do(sa)
}

// roleWaitMs bounds how long an action that names a broker by its role
// ("crash follower") waits for a broker to have that role.
const roleWaitMs = 3000

// settledView returns the cluster now, or, when a's broker is named by a
// role nobody holds at this moment, as soon as somebody does (at most
// roleWaitMs later). Right after an election a broker that lost its own
// candidacy is a candidate until the winner's first heartbeat reaches it;
// in the simulator that is a few virtual milliseconds, between real
// processes on a loaded machine it can be longer.
func (r *Runner) settledView(a Action) (sim.ClusterView, error) {
	v, err := r.D.View()
	for waited := int64(0); err == nil && waited < roleWaitMs; waited += 100 {
		if _, rerr := r.resolve(a.Who, &v); !errors.Is(rerr, errNoRole) {
			break
		}
		if err = r.D.Wait(100); err != nil {
			break
		}
		v, err = r.D.View()
	}
	return v, err
}

// Resolve turns a lesson action into a simulator action for the cluster as
// it is now; bound is the broker a trailing "as NAME" names.
func (r *Runner) Resolve(a Action, v *sim.ClusterView) (sim.Action, int, error) {
	out := sim.Action{Kind: a.Kind}
	var err error
	switch a.Kind {
	case sim.KindCrash, sim.KindRestart, sim.KindPause, sim.KindResume, sim.KindIsolate, sim.KindTransfer, sim.KindCampaign, sim.KindDiskFlip:
		out.Node, err = r.resolve(a.Who, v)
		return out, out.Node, err
	case sim.KindHeal:
	case sim.KindPartition:
		named := map[int]bool{}
		for _, g := range a.Groups {
			var ids []int
			for _, w := range g {
				id, err := r.resolve(w, v)
				if err != nil {
					return out, 0, err
				}
				if named[id] {
					return out, 0, fmt.Errorf("broker %d is in two groups", id)
				}
				named[id] = true
				ids = append(ids, id)
			}
			out.Groups = append(out.Groups, ids)
		}
		if a.RestGroup >= 0 {
			var rest []int
			for _, n := range v.Nodes {
				if !named[n.ID] {
					rest = append(rest, n.ID)
				}
			}
			if len(rest) == 0 {
				return out, 0, fmt.Errorf("rest is empty: every broker is already named")
			}
			out.Groups[a.RestGroup] = rest
		}
		out.OneWay = a.OneWay
	case "link":
		out.Kind = sim.KindLink
		if out.From, err = r.resolve(a.Who, v); err != nil {
			return out, 0, err
		}
		if out.To, err = r.resolve(a.To, v); err != nil {
			return out, 0, err
		}
		out.LatencyMs, out.JitterMs, out.Loss = a.LatencyMs, a.JitterMs, a.Loss
	case "net":
		out.Kind = sim.KindNet
		out.LatencyMs, out.JitterMs, out.Loss = a.LatencyMs, a.JitterMs, a.Loss
	case sim.KindProduce:
		out.Topic, out.Body = a.Topic, a.Body
		if a.To != (Who{}) {
			out.Node, err = r.resolve(a.To, v)
			// A message to a named broker comes from its own producer, so
			// it does not queue behind the main producer's retries.
			out.ID = fmt.Sprintf("to-%d", out.Node)
		}
	case sim.KindProducer:
		out.Topic, out.Rate, out.ID = a.Topic, a.Rate, "steady-"+a.Topic
	case sim.KindConsumer:
		out.Topic, out.Group = a.Topic, a.Group
		if a.Group != "" {
			out.ID = "c-" + a.Group
		}
		if a.Who != (Who{}) {
			out.Node, err = r.resolve(a.Who, v)
		}
	case sim.KindRule:
		out.Rule, out.On = a.Rule, a.On
	case sim.KindTrap:
		out.Rule = a.Rule
	}
	return out, out.Node, err
}

// errNoRole is wrapped by resolve's errors when no broker holds the role
// named; its text is empty, so the message stays the role's own.
var errNoRole = errors.New("")

// resolve names the broker w means now.
func (r *Runner) resolve(w Who, v *sim.ClusterView) (int, error) {
	switch {
	case w.ID != 0:
		return w.ID, nil
	case w.Name != "":
		id, ok := r.Names[w.Name]
		if !ok {
			return 0, fmt.Errorf("%q was never bound (bind it with as %s or remember … as %s)", w.Name, w.Name, w.Name)
		}
		return int(id), nil
	case w.Role == "leader":
		if id := leaderOf(v); id != 0 {
			return id, nil
		}
		return 0, fmt.Errorf("no broker leads right now%w", errNoRole)
	case w.Role == "follower":
		lead := leaderOf(v)
		for _, n := range v.Nodes {
			if up(&n) && n.ID != lead && n.Role == "follower" {
				return n.ID, nil
			}
		}
		return 0, fmt.Errorf("no running follower%w", errNoRole)
	}
	return 0, fmt.Errorf("no broker named")
}

// Expect waits until the check line holds, up to its bound.
func (r *Runner) Expect(l Line) error {
	c, err := ParseCheck(l.Text, r.L.Cluster.Nodes)
	if err != nil {
		return err
	}
	waited := int64(0)
	var gap leaderGap
	for {
		v, err := r.D.View()
		if err != nil {
			return err
		}
		ok, why := r.Holds(c, &v)
		if !ok && c.Kind == "no-leader" && gap.seen(&v) {
			ok = true
		}
		if ok {
			r.logf("ok %s (after %d ms)", l.Text, waited)
			return nil
		}
		if waited >= c.WithinMs {
			return fmt.Errorf("%w after %d ms: %s", ErrCheckFailed, waited, why.En)
		}
		step := min(r.PollMs, c.WithinMs-waited)
		if err := r.D.Wait(step); err != nil {
			return err
		}
		waited += step
	}
}

// leaderGap notices a moment without a leader that fell between two views.
// Real brokers send a frame every 250 ms (server.WatchInterval), and the
// gap between a leader stepping down and the next election can be as short
// as one election timeout (150 ms), so "no leader within 3s" also holds when
// the events since the first view show every leader of that view stepping
// down before anyone became leader again. In the simulator each poll sees
// the gap itself; this only catches what sampling misses.
type leaderGap struct {
	started bool
	since   int64        // the first view's time
	leaders map[int]bool // who led in the first view
}

func (g *leaderGap) seen(v *sim.ClusterView) bool {
	if !g.started {
		g.started, g.since, g.leaders = true, v.TimeMs, map[int]bool{}
		for _, n := range v.Nodes {
			if up(&n) && n.Role == "leader" {
				g.leaders[n.ID] = true
			}
		}
		return false
	}
	leaders := maps.Clone(g.leaders)
	for _, e := range v.Events { // sorted by time
		if e.TimeMs < g.since {
			continue
		}
		switch e.Kind {
		case "became-leader":
			leaders[e.Node] = true
		case "stepped-down", "became-follower", "became-candidate", "became-pre-candidate":
			if leaders[e.Node] {
				delete(leaders, e.Node)
				if len(leaders) == 0 {
					return true
				}
			}
		}
	}
	return false
}

// Holds evaluates a check against a view; when false, why says what is
// there instead, in both languages (the page shows it under the check).
func (r *Runner) Holds(c Check, v *sim.ClusterView) (ok bool, why Text) {
	lead := leaderOf(v)
	node := func() (*sim.NodeView, Text) {
		id, err := r.resolve(c.Who, v)
		if err != nil {
			return nil, resolveWhy(err)
		}
		for i := range v.Nodes {
			if v.Nodes[i].ID == id {
				return &v.Nodes[i], Text{}
			}
		}
		return nil, tf("broker %d is not in the view", "Broker %d 不在视图中", id)
	}
	switch c.Kind {
	case "leader":
		return lead != 0, Text{"no broker leads", "没有主节点"}
	case "no-leader":
		return lead == 0, tf("broker %d leads", "Broker %d 是主节点", lead)
	case "leader-count":
		var en, zh []string
		for _, n := range v.Nodes {
			if up(&n) && n.Role == "leader" {
				en = append(en, fmt.Sprintf("broker %d (term %d)", n.ID, n.Term))
				zh = append(zh, fmt.Sprintf("Broker %d（任期 %d）", n.ID, n.Term))
			}
		}
		if len(en) == 0 {
			return c.N == 0, Text{"no broker leads", "没有主节点"}
		}
		return int64(len(en)) == c.N, Text{fmt.Sprintf("%d lead: %s", len(en), strings.Join(en, ", ")),
			fmt.Sprintf("%d 台自称主节点：%s", len(zh), strings.Join(zh, "、"))}
	case "leader-is", "leader-is-not":
		id, err := r.resolve(c.Who, v)
		if err != nil {
			return false, resolveWhy(err)
		}
		why := Text{"the leader is " + brokerName(lead), fmt.Sprintf("主节点是 Broker %d", lead)}
		if lead == 0 {
			why = Text{"no broker leads", "没有主节点"}
		}
		if c.Kind == "leader-is" {
			return lead == id, why
		}
		return lead != 0 && lead != id, why
	case "is-up", "is-down":
		n, why := node()
		if n == nil {
			return false, why
		}
		return up(n) == (c.Kind == "is-up"), Text{fmt.Sprintf("broker %d is %s", n.ID, n.State), fmt.Sprintf("Broker %d %s", n.ID, stateZh(n.State))}
	case "role":
		n, why := node()
		if n == nil {
			return false, why
		}
		role := n.Role
		if role == "pre-candidate" {
			role = "candidate"
		}
		return up(n) && role == c.Role, Text{fmt.Sprintf("broker %d is %s (%s)", n.ID, n.Role, n.State),
			fmt.Sprintf("Broker %d 是%s（%s）", n.ID, roleZh(n.Role), stateZh(n.State))}
	case "term-is", "term-gt":
		want := c.N
		if c.Name != "" {
			t, ok := r.Names[c.Name]
			if !ok {
				return false, tf("%q was never bound (remember term as %s)", "名字 %q 未绑定（remember term as %s）", c.Name, c.Name)
			}
			want = t
		}
		t := int64(maxTerm(v))
		why := tf("the term is %d", "任期是 %d", t)
		if c.Kind == "term-is" {
			return t == want, why
		}
		return t > want, why
	case "matches-leader":
		n, why := node()
		if n == nil {
			return false, why
		}
		if lead == 0 {
			return false, Text{"no broker leads", "没有主节点"}
		}
		l := v.Nodes[lead-1]
		return up(n) && n.LastIndex == l.LastIndex && n.LastTerm == l.LastTerm && n.Commit == l.Commit,
			Text{fmt.Sprintf("broker %d has last %d@t%d commit %d; leader %d has last %d@t%d commit %d", n.ID, n.LastIndex, n.LastTerm, n.Commit, l.ID, l.LastIndex, l.LastTerm, l.Commit),
				fmt.Sprintf("Broker %d 最后条目 %d@任期%d，提交到 %d；主节点 %d 最后条目 %d@任期%d，提交到 %d", n.ID, n.LastIndex, n.LastTerm, n.Commit, l.ID, l.LastIndex, l.LastTerm, l.Commit)}
	case "installed-snapshot":
		n, why := node()
		if n == nil {
			return false, why
		}
		return up(n) && n.SnapshotsInstalled > 0, tf("broker %d installed %d snapshots since it started; its log starts after entry %d",
			"Broker %d 启动以来安装了 %d 个快照；它的日志从条目 %d 之后开始", n.ID, n.SnapshotsInstalled, n.SnapshotIndex)
	case "acked":
		total := 0
		for _, p := range v.Clients.Producers {
			total += p.Acked
		}
		return int64(total) >= c.N, tf("%d acknowledged", "已确认 %d 条", total)
	case "group-delivered", "group-redelivered", "group-delivered-gt", "group-redelivered-gt":
		got, found := 0, false
		for _, k := range v.Clients.Consumers {
			if k.Group == c.Group {
				found = true
				if strings.HasPrefix(c.Kind, "group-redelivered") {
					got += k.Redelivered
				} else {
					got += k.Delivered
				}
			}
		}
		if !found {
			return false, tf("group %s has no consumer", "消费组 %s 没有消费者", c.Group)
		}
		ok := int64(got) == c.N
		if strings.HasSuffix(c.Kind, "-gt") {
			ok = int64(got) > c.N
		}
		if strings.HasPrefix(c.Kind, "group-redelivered") {
			return ok, tf("group %s got %d messages again", "消费组 %s 重复收到 %d 条消息", c.Group, got)
		}
		return ok, tf("group %s got %d messages", "消费组 %s 收到 %d 条消息", c.Group, got)
	case "topic-count":
		n, why := node()
		if n == nil {
			return false, why
		}
		for _, t := range n.Topics {
			if t.Name == c.Topic {
				return int64(t.Len) == c.N, Text{fmt.Sprintf("%s has %d on broker %d", c.Topic, t.Len, n.ID), fmt.Sprintf("Broker %d 上的 %s 有 %d 条", n.ID, c.Topic, t.Len)}
			}
		}
		return c.N == 0, Text{fmt.Sprintf("broker %d has no topic %s", n.ID, c.Topic), fmt.Sprintf("Broker %d 上没有 Topic %s", n.ID, c.Topic)}
	case "violation":
		return len(v.Violations) > 0, Text{"the checkers found nothing", "检查器没有发现问题"}
	case "no-violation":
		if len(v.Violations) > 0 {
			return false, Text{v.Violations[0].Text, v.Violations[0].Text}
		}
		return true, Text{}
	case "committed", "uncommitted", "missing", "truncated":
		return r.entryHolds(c, v, node)
	}
	return false, Text{"unknown check", "未知的检查"}
}

// tf formats one reason in both languages with the same arguments.
func tf(en, zh string, args ...any) Text {
	return Text{fmt.Sprintf(en, args...), fmt.Sprintf(zh, args...)}
}

// resolveWhy is why a broker could not be named right now.
func resolveWhy(err error) Text {
	msg := err.Error()
	switch {
	case strings.HasPrefix(msg, "no broker leads"):
		return Text{msg, "此刻没有主节点"}
	case strings.HasPrefix(msg, "no running follower"):
		return Text{msg, "没有运行中的从节点"}
	}
	return Text{msg, msg}
}

func roleZh(role string) string {
	switch role {
	case "leader":
		return "主节点"
	case "follower":
		return "从节点"
	case "candidate":
		return "候选者"
	case "pre-candidate":
		return "预候选者"
	}
	return role
}

func stateZh(state string) string {
	switch state {
	case "up", "running":
		return "运行中"
	case "crashed":
		return "已宕机"
	case "paused":
		return "已冻结"
	}
	return state
}

func (r *Runner) entryHolds(c Check, v *sim.ClusterView, node func() (*sim.NodeView, Text)) (bool, Text) {
	find := func(n *sim.NodeView) *sim.EntryView {
		for i := len(n.Log) - 1; i >= 0; i-- {
			if carries(n.Log[i].Summary, c.Body) {
				return &n.Log[i]
			}
		}
		return nil
	}
	if c.Where == "majority" || c.Where == "all" {
		count := 0
		for i := range v.Nodes {
			if e := find(&v.Nodes[i]); e != nil && e.Committed {
				count++
			}
		}
		need := len(v.Nodes)/2 + 1
		if c.Where == "all" {
			need = len(v.Nodes)
		}
		return count >= need, tf("committed on %d of %d brokers", "已在 %d / %d 台 Broker 上提交", count, len(v.Nodes))
	}
	n, why := node()
	if n == nil {
		return false, why
	}
	e := find(n)
	lacks := tf("broker %d does not hold %q", "Broker %d 上没有 “%s”", n.ID, c.Body)
	switch c.Kind {
	case "committed":
		if e == nil {
			return false, lacks
		}
		return e.Committed, tf("entry %d on broker %d is uncommitted", "Broker %[2]d 上的条目 %[1]d 尚未提交", e.Index, n.ID)
	case "uncommitted":
		if e == nil {
			return false, lacks
		}
		return !e.Committed, tf("entry %d on broker %d is committed", "Broker %[2]d 上的条目 %[1]d 已提交", e.Index, n.ID)
	case "missing":
		if e != nil {
			return false, tf("broker %d holds %q as entry %d", "Broker %d 上有 “%s”，是条目 %d", n.ID, c.Body, e.Index)
		}
		return true, Text{}
	default: // truncated
		for _, t := range n.Truncated {
			if carries(t.Summary, c.Body) {
				return true, Text{}
			}
		}
		return false, tf("broker %d has not truncated %q", "Broker %d 还没有截断 “%s”", n.ID, c.Body)
	}
}

// carries reports whether an entry summary ("topic: body") carries body.
func carries(summary, body string) bool {
	_, b, ok := strings.Cut(summary, ": ")
	return ok && (b == body || strings.HasSuffix(b, "…") && strings.HasPrefix(body, strings.TrimSuffix(b, "…")))
}

func up(n *sim.NodeView) bool { return n.State == "up" || n.State == "running" }

// leaderOf returns the running broker that leads in the highest term.
func leaderOf(v *sim.ClusterView) int {
	id, term := 0, uint64(0)
	for _, n := range v.Nodes {
		if up(&n) && n.Role == "leader" && n.Term >= term {
			id, term = n.ID, n.Term
		}
	}
	return id
}

func maxTerm(v *sim.ClusterView) uint64 {
	var t uint64
	for _, n := range v.Nodes {
		if up(&n) {
			t = max(t, n.Term)
		}
	}
	return t
}

func brokerName(id int) string {
	if id == 0 {
		return "nobody"
	}
	return fmt.Sprintf("broker %d", id)
}

// SimDriver runs a lesson on the simulator.
type SimDriver struct{ S *sim.Sim }

// NewSimDriver starts the lesson's simulated cluster.
func NewSimDriver(l *Lesson) (*SimDriver, error) {
	s, err := sim.New(l.Cluster)
	if err != nil {
		return nil, err
	}
	return &SimDriver{S: s}, nil
}

// View implements Driver.
func (d *SimDriver) View() (sim.ClusterView, error) { return d.S.View(), nil }

// Do implements Driver.
func (d *SimDriver) Do(a sim.Action) error { return d.S.Do(a) }

// Wait implements Driver.
func (d *SimDriver) Wait(ms int64) error {
	d.S.Advance(ms)
	return nil
}
