package ctlguide

import (
	"errors"
	"fmt"
	"slices"
	"strings"

	"dledgerlab/core/controller"
	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/lessons/guide"
)

// World is what a Session plays a lesson on: the simulator (*ctlsim.Run)
// or real processes (dledgerlab lesson run --native). Now is the world's
// time in milliseconds; Advance lets ms pass (the simulator runs them, real
// processes are waited for); Checkers says whether View's violations come
// from the simulator's checkers (real processes have none).
type World interface {
	Now() int64
	View() ctlsim.View
	Do(a sim.Action) error
	Advance(ms int64)
	Checkers() bool
}

// GridMs is how often a Session looks at the run: checks are judged every
// 10 ms of cluster time, as package guide does.
const GridMs = 10

// waitForWhoMs is how long an action naming a role (the master, a slave)
// waits for the role before the step says so.
const waitForWhoMs = 3000

// Session plays a Controller-mode lesson on a ctlsim.Run. Each step starts
// paused; after Play its actions run in order (waits let time pass), then
// its checks are watched in order, each within its bound from when the one
// before it held, as package guide plays DLedger-mode lessons. The goal's
// checks are watched from the moment it is shown, without a bound: the
// learner reaches it by hand, or ShowSolution performs its solution.
type Session struct {
	L    *Lesson
	Step int
	// names bind a broker's network id, or (epochs) a master epoch.
	names  map[string]int64
	epochs map[string]bool

	played, started, solving bool
	pc                       int // next action line
	startPc                  int // next goal start line
	waitUntil                int64
	// The check being watched (cur), since when, and the counts it
	// compares with.
	parsed      []Check
	Checks      []guide.CheckState
	cur         int
	from        int64
	baseAcked   int
	baseRefused int
	// err says what an action waits for, since errSince.
	err      *guide.Text
	errSince int64
	// Log, when set, hears each action done and each check settled, in
	// Lang ("en" or "zh"): the terminal's narration (lesson run).
	Log  func(string)
	Lang string
}

func (s *Session) log(w World, mark string, t guide.Text) {
	if s.Log != nil {
		s.Log(fmt.Sprintf("[%6d ms] %s %s", w.Now(), mark, t.In(s.Lang)))
	}
}

// waitError is an action that cannot be done yet, said in both languages.
type waitError struct{ t guide.Text }

func (e *waitError) Error() string { return e.t.En }

func waitErr(en, zh string) error { return &waitError{pair(en, zh)} }

// NewSession starts a lesson at its first step, paused.
func NewSession(l *Lesson) *Session {
	s := &Session{L: l, names: map[string]int64{}, epochs: map[string]bool{}}
	s.Goto(0)
	return s
}

func (s *Session) isGoal() bool { return s.Step >= len(s.L.Steps) }

// Goto moves to step i (len(Steps) is the goal); it waits for Play.
func (s *Session) Goto(i int) {
	s.Step = max(0, min(i, len(s.L.Steps)))
	s.played, s.started, s.solving = false, false, false
	s.pc, s.startPc, s.waitUntil, s.err = 0, 0, 0, nil
	lines := s.expects()
	s.parsed = make([]Check, len(lines))
	s.Checks = make([]guide.CheckState, len(lines))
	for i, l := range lines {
		s.parsed[i], _ = ParseCheck(l.Text) // Prepare checked every line
		s.Checks[i] = guide.CheckState{Text: l.Text, Label: *l.Label}
	}
	s.cur, s.from = 0, -1
}

// Play lets the step's actions run.
func (s *Session) Play() { s.played = true }

// Played reports whether the step was let to run.
func (s *Session) Played() bool { return s.played }

// ShowSolution performs the goal's solution (the page's "Show me").
func (s *Session) ShowSolution() {
	if s.isGoal() {
		s.solving, s.pc, s.started, s.played = true, 0, false, true
	}
}

func (s *Session) actions() []guide.Line {
	if s.isGoal() {
		if s.solving {
			return s.L.Goal.Solution
		}
		return nil
	}
	return s.L.Steps[s.Step].Do
}

func (s *Session) expects() []guide.Line {
	if s.isGoal() {
		return s.L.Goal.Expect
	}
	return s.L.Steps[s.Step].Expect
}

// ActionsDone reports whether the step's actions have all run.
func (s *Session) ActionsDone() bool {
	return s.pc >= len(s.actions()) && (s.started || len(s.actions()) == 0)
}

// Settled reports whether every check of the step has held or failed.
func (s *Session) Settled() bool { return s.ActionsDone() && s.cur >= len(s.parsed) }

// Done reports whether every check of the current step has held.
func (s *Session) Done() bool {
	for _, c := range s.Checks {
		if !c.OK {
			return false
		}
	}
	return s.ActionsDone()
}

// Run lets ms of cluster time pass on r, acting and judging every GridMs.
func (s *Session) Run(w World, ms int64) []error {
	end := w.Now() + max(0, ms)
	var errs []error
	for {
		if err := s.tick(w); err != nil {
			errs = append(errs, err)
		}
		now := w.Now()
		if now >= end {
			return errs
		}
		w.Advance(min(GridMs, end-now))
	}
}

// Act acts and judges at the current moment, without letting time pass.
func (s *Session) Act(w World) error { return s.tick(w) }

func (s *Session) tick(w World) error {
	now := w.Now()
	var v *ctlsim.View
	view := func() *ctlsim.View {
		if v == nil {
			x := w.View()
			v = &x
		}
		return v
	}
	// The goal's start lines bind its names the moment it is shown.
	if s.isGoal() {
		for ; s.startPc < len(s.L.Goal.Start); s.startPc++ {
			a, _ := ParseAction(s.L.Goal.Start[s.startPc].Text)
			if err := s.do(w, a, view()); err != nil {
				return s.waiting(now, err)
			}
			v = nil
		}
	}
	if s.played || s.isGoal() && !s.solving {
		if !s.started && s.played {
			s.started = true
		}
		for acts := s.actions(); s.played && s.pc < len(acts) && now >= s.waitUntil; s.pc++ {
			a, _ := ParseAction(acts[s.pc].Text)
			if a.Kind == "wait" {
				s.waitUntil = now + a.Ms
				continue
			}
			if err := s.do(w, a, view()); err != nil {
				return s.waiting(now, err)
			}
			s.log(w, "→", *acts[s.pc].Label)
			v = nil
		}
		s.err = nil
	}
	if !s.ActionsDone() && !(s.isGoal() && !s.solving) {
		return nil
	}
	for s.cur < len(s.parsed) {
		if s.from < 0 {
			s.watch(view(), now)
		}
		c := s.parsed[s.cur]
		st := &s.Checks[s.cur]
		if c.Kind == "no-violation" && !w.Checkers() {
			// Real processes have no checker: said, not ticked as proven.
			st.OK, st.Why = true, tx("not checked on real processes: the simulator's checkers are not there", "真实进程上不检查：那里没有模拟器的检查器")
			s.log(w, "–", join(st.Label, tx(" (not checked on real processes)", "（真实进程上不检查）")))
			s.cur++
			s.from = -1
			continue
		}
		ok, why := s.holds(c, view(), now)
		st.Why = why
		if ok {
			st.OK, st.Why = true, guide.Text{}
			s.log(w, "✓", st.Label)
			s.cur++
			s.from = -1
			continue
		}
		if !s.isGoal() && now-s.from > c.Within {
			st.Failed = true
			s.log(w, "✗", st.Label)
			s.cur++
			s.from = -1
			continue
		}
		break
	}
	return nil
}

// watch starts watching the current check: its bound and baselines count
// from now.
func (s *Session) watch(v *ctlsim.View, now int64) {
	s.from = now
	s.baseAcked = v.Clients.Acked
	s.baseRefused = refused(v, s.parsed[s.cur].Why)
}

func refused(v *ctlsim.View, why string) int {
	n := 0
	for _, p := range v.Clients.Producers {
		n += p.Refused[why]
	}
	return n
}

func (s *Session) waiting(now int64, err error) error {
	if s.err == nil {
		s.errSince = now
	}
	t := tx("%s", "%s", err.Error())
	var w *waitError
	if errors.As(err, &w) {
		t = w.t
	}
	s.err = &t
	if now-s.errSince >= waitForWhoMs {
		return err
	}
	return nil
}

// resolve finds the network node w names now.
func (s *Session) resolve(w Who, v *ctlsim.View) (int, error) {
	switch {
	case w.Node > 0:
		return w.Node, nil
	case w.Name != "":
		n, ok := s.names[w.Name]
		if !ok || s.epochs[w.Name] {
			return 0, fmt.Errorf("%s names no node", w.Name)
		}
		return int(n), nil
	case w.Role == "master":
		if m := master(v); m > 0 {
			return ctlsim.BrokerNode(m), nil
		}
		return 0, waitErr("no master yet", "还没有 Master")
	case w.Role == "slave":
		for _, id := range v.Group.SyncStateSet {
			b := v.Brokers[int(id)-1]
			if up(b.State) && b.Role == "slave" {
				return b.Node, nil
			}
		}
		return 0, waitErr("no slave in the SyncStateSet yet", "SyncStateSet 中还没有 Slave")
	case w.Role == "controller-leader":
		for _, c := range v.Controllers {
			if up(c.State) && c.Role == "leader" {
				return c.ID, nil
			}
		}
		return 0, waitErr("the controllers have no leader yet", "Controller 还没有 Leader")
	}
	return 0, fmt.Errorf("no node named")
}

// up says whether a node runs: "up" in the simulator, "running" for a
// real process (the launcher's live view).
func up(state string) bool { return state == ctlsim.StateUp || state == "running" }

// master is the broker the controllers elected, once it acts as master
// (0 if none).
func master(v *ctlsim.View) int {
	m := int(v.Group.Master)
	if m == 0 {
		return 0
	}
	if b := v.Brokers[m-1]; up(b.State) && b.Role == "master" {
		return m
	}
	return 0
}

func (s *Session) do(w World, a Action, v *ctlsim.View) error {
	switch a.Kind {
	case "remember":
		if a.Epoch {
			s.names[a.As], s.epochs[a.As] = int64(v.Group.MasterEpoch), true
			return nil
		}
		n, err := s.resolve(a.Who, v)
		if err != nil {
			return err
		}
		s.names[a.As], s.epochs[a.As] = int64(n), false
		return nil
	case "producer":
		return w.Do(sim.Action{Kind: ctlsim.KindProducer, ID: "p1", Rate: a.Rate})
	case "produce":
		return w.Do(sim.Action{Kind: ctlsim.KindProduce, ID: "p1"})
	case "consume":
		return w.Do(sim.Action{Kind: ctlsim.KindConsumer, ID: "c1"})
	case "heal":
		return w.Do(sim.Action{Kind: sim.KindHeal})
	}
	n, err := s.resolve(a.Who, v)
	if err != nil {
		return err
	}
	if a.Kind == "cut" {
		if n <= ctlsim.Controllers {
			return fmt.Errorf("cut: %d is a controller, not a broker", n)
		}
		var rest []int
		for id := 1; id <= ctlsim.Brokers; id++ {
			if b := ctlsim.BrokerNode(id); b != n {
				rest = append(rest, b)
			}
		}
		return w.Do(sim.Action{Kind: sim.KindPartition, Groups: [][]int{{n}, rest}})
	}
	return w.Do(sim.Action{Kind: a.Kind, Node: n})
}

// holds judges c on v; while it does not hold, why says what is there.
func (s *Session) holds(c Check, v *ctlsim.View, now int64) (bool, guide.Text) {
	g := v.Group
	m := master(v)
	node := func() (int, bool) {
		n, err := s.resolve(c.Who, v)
		return n, err == nil
	}
	masterNow := func() guide.Text {
		if m == 0 {
			return tx("no master now", "现在没有 Master")
		}
		return tx("the master is Broker %d (epoch %d)", "Master 是 Broker %d（epoch %d）", m, g.MasterEpoch)
	}
	setNow := func() guide.Text {
		return tx("the SyncStateSet is %v", "SyncStateSet 为 %v", g.SyncStateSet)
	}
	switch c.Kind {
	case "master":
		return m > 0, masterNow()
	case "no-master":
		return g.Master == 0, masterNow()
	case "master-is":
		n, ok := node()
		if !ok || m == 0 {
			return false, masterNow()
		}
		return (ctlsim.BrokerNode(m) == n) != c.Not, masterNow()
	case "slave":
		n, ok := node()
		if !ok || n <= ctlsim.Controllers {
			return false, guide.Text{}
		}
		b := v.Brokers[n-ctlsim.Controllers-1]
		return up(b.State) && b.Role == "slave", tx("Broker %d is %s (%s)", "Broker %d：%s（%s）", b.ID, b.Role, b.State)
	case "set-size":
		return len(g.SyncStateSet) == c.N, setNow()
	case "in-set":
		n, ok := node()
		if !ok || n <= ctlsim.Controllers {
			return false, setNow()
		}
		in := slices.Contains(g.SyncStateSet, brokerID(n))
		return in != c.Not, setNow()
	case "epoch-above":
		return int64(g.MasterEpoch) > s.names[c.Name], tx("the master epoch is %d", "master epoch 为 %d", g.MasterEpoch)
	case "refused":
		return refused(v, c.Why) > s.baseRefused, guide.Text{}
	case "acked":
		got := v.Clients.Acked - s.baseAcked
		return got >= c.N, tx("%d acknowledged so far", "目前已确认 %d 条", got)
	case "truncated":
		n, ok := node()
		if !ok || n <= ctlsim.Controllers {
			return false, guide.Text{}
		}
		t := v.Brokers[n-ctlsim.Controllers-1].Truncated
		return t != nil && t.AtMs >= s.from, guide.Text{}
	case "violation":
		return len(v.Violations) > 0, guide.Text{}
	case "no-violation":
		if len(v.Violations) > 0 {
			return false, tx("%s", "%s", v.Violations[0].Text)
		}
		return true, guide.Text{}
	}
	return false, guide.Text{}
}

// State is where the lesson stands, in package guide's shape (the page's
// narration panel draws both).
func (s *Session) State() guide.State {
	st := guide.State{ID: s.L.ID, Step: s.Step, Steps: len(s.L.Steps), Played: s.played, Done: s.Done(), Checks: s.Checks}
	if s.err != nil {
		e := pair(fmt.Sprintf("Waiting: %s", s.err.En), fmt.Sprintf("等待中：%s", s.err.Zh))
		st.Error = &e
	}
	for name, n := range s.names {
		if !s.epochs[name] && n > ctlsim.Controllers {
			st.Names = append(st.Names, guide.Bound{Name: name, Broker: int(n) - ctlsim.Controllers})
		}
	}
	slices.SortFunc(st.Names, func(a, b guide.Bound) int { return strings.Compare(a.Name, b.Name) })
	return st
}

func brokerID(node int) controller.BrokerID { return controller.BrokerID(node - ctlsim.Controllers) }
