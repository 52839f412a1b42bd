package guide

import (
	"errors"
	"fmt"

	"dledgerlab/core/sim"
)

// Session plays a lesson frame by frame, for the page's guided mode. Each
// step starts paused: nothing of it happens until the learner presses Play
// (Play), and then its actions run and its checks tick as the cluster
// reaches them. The page either calls Advance after each frame with the
// cluster's view and time and performs the actions it returns, or lets Run
// drive the simulator, which also looks at the cluster every GridMs so a
// check is seen at the moment it holds, and slows time down at the moments
// the step is about (an election, a commit). The same checks, bounds and
// actions as Runner, without blocking.
type Session struct {
	L     *Lesson
	Names Bindings
	// terms marks the names that hold a term rather than a broker.
	terms map[string]bool
	// Step is the current step; len(L.Steps) is the goal.
	Step int `json:"step"`
	// pc is the next action line of the step; waitUntil the time the
	// current wait ends; expectFrom the time the check being watched
	// started to be watched.
	pc         int
	waitUntil  int64
	expectFrom int64
	started    bool
	// played: the learner pressed Play on this step (the goal's start
	// lines bind without it: the goal begins when it is shown).
	played bool
	// startPc is the next of the goal's start lines.
	startPc int
	// solving: the goal's solution is being performed ("show me").
	solving bool
	// Slow: the cluster is at a moment the step is about, and Run plays it
	// in slow motion. slowMs is how much cluster time this step has
	// already spent in slow motion (bounded by SlowMaxMs); budget is the
	// cluster time Run owes, in milliseconds.
	Slow   bool
	slowMs int64
	budget float64
	// Checks are the current step's checks and where they stand.
	Checks []CheckState `json:"checks"`
	// Err is set when an action could not be done (e.g. no leader yet).
	Err string `json:"error,omitempty"`
}

// GridMs is the finest step of Run: checks are looked at every GridMs of
// cluster time, so a moment as short as the 10 ms in which two brokers
// both lead is not skipped over at a high speed.
const GridMs = 10

// SlowMsPerRun is the most cluster time one Run plays during a slow-motion
// moment: at about one Run per animation frame, some 30 ms of cluster time
// per second, slower than any speed the page offers, so an election or a
// commit takes a second or two to watch. SlowMaxMs bounds a step's slow
// motion in cluster time, so a moment that lasts does not stall the page.
const (
	SlowMsPerRun = 0.5
	SlowMaxMs    = 150
)

// CheckState is one check of the current step, as the narration panel
// shows it: pending, ticked, or failed after its bound.
type CheckState struct {
	Text string `json:"text"`
	// Label is what the check means, in both languages.
	Label  Text `json:"label"`
	OK     bool `json:"ok"`
	Failed bool `json:"failed"`
	// Why says, while the check does not hold, what is there instead.
	Why Text `json:"why"`
}

// NewSession starts a lesson at its first step, paused.
func NewSession(l *Lesson) *Session {
	s := &Session{L: l, Names: Bindings{}, terms: map[string]bool{}}
	s.Goto(0)
	return s
}

// Goto moves to step i (0..len(Steps); len(Steps) is the goal). The step
// waits for Play; its actions run from the next Advance after it.
func (s *Session) Goto(i int) {
	s.Step = max(0, min(i, len(s.L.Steps)))
	s.pc, s.waitUntil, s.started, s.solving, s.Err = 0, 0, false, false, ""
	s.played, s.startPc, s.Slow, s.slowMs, s.budget = false, 0, false, 0, 0
	s.Checks = nil
	for _, e := range s.expects() {
		cs := CheckState{Text: e.Text}
		if e.Label != nil {
			cs.Label = *e.Label
		}
		s.Checks = append(s.Checks, cs)
	}
}

// Play lets the current step happen: its actions run and its checks are
// watched from the next Advance on.
func (s *Session) Play() { s.played = true }

// Played reports whether the learner has let the current step happen.
func (s *Session) Played() bool { return s.played }

func (s *Session) isGoal() bool { return s.Step >= len(s.L.Steps) }

func (s *Session) actions() []Line {
	if s.isGoal() {
		if s.solving {
			return s.L.Goal.Solution
		}
		return nil // the learner acts; ShowSolution shows how
	}
	return s.L.Steps[s.Step].Do
}

func (s *Session) expects() []Line {
	if s.isGoal() {
		return s.L.Goal.Expect
	}
	return s.L.Steps[s.Step].Expect
}

// Done reports whether every check of the current step has held.
func (s *Session) Done() bool {
	for _, c := range s.Checks {
		if !c.OK {
			return false
		}
	}
	return s.started && s.pc >= len(s.actions()) && s.startPc >= s.goalStart()
}

// ActionsDone reports whether the current step's actions have all run.
func (s *Session) ActionsDone() bool { return s.started && s.pc >= len(s.actions()) }

func (s *Session) goalStart() int {
	if s.isGoal() {
		return len(s.L.Goal.Start)
	}
	return 0
}

// bind performs a remember line: it binds a name to a broker or a term.
func (s *Session) bind(r *Runner, a Action, v *sim.ClusterView) error {
	if a.Term {
		s.Names[a.As], s.terms[a.As] = int64(maxTerm(v)), true
		return nil
	}
	id, err := r.resolve(a.Who, v)
	if err != nil {
		return err
	}
	s.Names[a.As] = int64(id)
	delete(s.terms, a.As)
	return nil
}

// Advance performs what is due at time now and evaluates the checks
// against v. It returns the actions for the page to hand to the engine.
// Before Play a step does nothing; the goal binds its start names.
func (s *Session) Advance(now int64, v *sim.ClusterView) []sim.Action {
	r := &Runner{L: s.L, Names: s.Names}
	// The goal's start lines bind its names the moment it is shown.
	for s.startPc < s.goalStart() {
		line := s.L.Goal.Start[s.startPc]
		a, err := line.action()
		if err == nil {
			err = s.bind(r, a, v)
		}
		if err != nil {
			s.Err = err.Error()
			return nil // e.g. no leader yet: try again next frame
		}
		s.Err = ""
		s.startPc++
	}
	if !s.played && !s.isGoal() && !s.solving {
		s.Slow = false
		return nil
	}
	if !s.started {
		s.started, s.waitUntil = true, now
	}
	var out []sim.Action
	acts := s.actions()
	for s.pc < len(acts) && now >= s.waitUntil {
		line := acts[s.pc]
		a, err := line.action()
		if err != nil {
			s.Err = fmt.Sprintf("line %d: %v", line.Line, err)
			return out
		}
		switch a.Kind {
		case "wait":
			s.waitUntil = now + a.Ms
		case "remember":
			if err := s.bind(r, a, v); err != nil {
				s.Err = err.Error()
				return out // try again next frame
			}
		default:
			sa, bound, err := r.Resolve(a, v)
			if err != nil {
				s.Err = err.Error()
				return out // e.g. no leader yet: try again next frame
			}
			if a.As != "" {
				s.Names[a.As] = int64(bound)
				delete(s.terms, a.As)
			}
			out = append(out, sa)
		}
		s.Err = ""
		s.pc++
		if s.pc == len(acts) {
			s.expectFrom = max(now, s.waitUntil)
		}
		if len(out) > 0 {
			break // the next action resolves against the view after this one
		}
	}
	if s.pc < len(acts) || len(out) > 0 || now < s.waitUntil {
		s.Slow = false
		return out // checks start once the actions are done and applied
	}
	// The checks tick in order, as Runner waits for them: each is watched
	// once the ones before it have held, for its own bound from then.
	for i, line := range s.expects() {
		if s.Checks[i].OK {
			continue // a ticked check stays ticked
		}
		c, err := line.check()
		if err != nil {
			s.Checks[i].Failed, s.Checks[i].Why = true, Text{err.Error(), err.Error()}
			break
		}
		ok, why := r.Holds(c, v)
		s.Checks[i].OK = ok
		if !ok {
			s.Checks[i].Why = why
			// The goal waits for the learner; steps have their bounds.
			s.Checks[i].Failed = !s.isGoal() && now-s.expectFrom > c.WithinMs
			break
		}
		s.Checks[i].Why, s.Checks[i].Failed = Text{}, false
		s.expectFrom = now // the next check's bound starts now
	}
	s.Slow = s.slowMs < SlowMaxMs && s.atMoment(v)
	return out
}

// atMoment reports whether the cluster is at the moment the check being
// watched is about: an election under way (a candidate) for a check on
// leaders, roles and terms; an entry the leader has not yet committed for
// a check on commits.
func (s *Session) atMoment(v *sim.ClusterView) bool {
	var election, commit bool
	for i, line := range s.expects() {
		if s.Checks[i].OK {
			continue
		}
		if s.Checks[i].Failed {
			return false
		}
		c, err := line.check()
		if err != nil {
			return false
		}
		switch c.Kind {
		case "leader", "leader-is", "leader-is-not", "leader-count", "term-is", "term-gt", "role":
			election = true
		case "committed", "acked", "topic-count", "matches-leader":
			commit = true
		}
		break
	}
	for _, n := range v.Nodes {
		if !up(&n) {
			continue
		}
		if election && (n.Role == "candidate" || n.Role == "pre-candidate") {
			return true
		}
		if commit && n.Role == "leader" && n.Commit < n.LastIndex {
			return true
		}
	}
	return false
}

// action and check are the line's parsed form (Prepare). The session does
// not parse: a lesson reaches it prepared (lessons.Load, or the JSON the
// page gets), and the page's engine carries no parser.
func (l Line) action() (Action, error) {
	if l.Action == nil {
		return Action{}, fmt.Errorf("line %d (%s) was not prepared: lessons are loaded with lessons.Load, which calls guide.Prepare", l.Line, l.Text)
	}
	return *l.Action, nil
}

func (l Line) check() (Check, error) {
	if l.Check == nil {
		return Check{}, fmt.Errorf("line %d (%s) was not prepared: lessons are loaded with lessons.Load, which calls guide.Prepare", l.Line, l.Text)
	}
	return *l.Check, nil
}

// Clock is the simulator as Run drives it (*sim.Sim).
type Clock interface {
	Now() int64
	View() sim.ClusterView
	Do(a sim.Action) error
	Advance(ms int64)
}

// Run lets ms of cluster time pass on c, at most GridMs at a time,
// advancing the session after each slice: its due actions are performed,
// its checks are judged at the moment they hold. While the session is at a
// slow-motion moment, this Run plays at most SlowMsPerRun of cluster time
// (the rest of ms is dropped, not owed), so the moment plays slowly
// whatever the learner's speed. It returns the view after the last slice
// and the errors of actions the simulator refused.
func (s *Session) Run(c Clock, ms int64) (sim.ClusterView, []error) {
	var errs []error
	view := func() sim.ClusterView {
		v, e := s.Act(c)
		errs = append(errs, e...)
		return v
	}
	v := view()
	add := float64(max(ms, 0))
	if s.Slow {
		add = min(add, SlowMsPerRun)
	}
	s.budget += add
	for {
		step := min(GridMs, int64(s.budget))
		if step <= 0 {
			break
		}
		wasSlow := s.Slow
		c.Advance(step)
		s.budget -= float64(step)
		if wasSlow {
			s.slowMs += step
		}
		v = view()
		if s.Slow && !wasSlow {
			s.budget = min(s.budget, SlowMsPerRun) // the moment began: the rest of this Run is slow
		}
	}
	if len(errs) > 0 && s.Err == "" {
		s.Err = errors.Join(errs...).Error()
	}
	return v, errs
}

// Act performs on c everything of the session that is due at c's time,
// one action after the other at the same moment (each resolved against the
// view after the one before, as Runner does), and judges the checks. It
// returns the view after it and the errors of actions c refused.
func (s *Session) Act(c Clock) (sim.ClusterView, []error) {
	var errs []error
	v := c.View()
	for {
		acts := s.Advance(c.Now(), &v)
		if len(acts) == 0 {
			return v, errs
		}
		for _, a := range acts {
			if err := c.Do(a); err != nil {
				errs = append(errs, err)
			}
		}
		v = c.View() // show what the actions did, and resolve the next against it
	}
}

// Finish plays the rest of the current step's actions on c at once (the
// learner moved on before they had all run), so that the names they bind
// are there for the steps after. It gives up after limitMs of cluster time.
func (s *Session) Finish(c Clock, limitMs int64) {
	s.Play()
	for t := int64(0); !s.ActionsDone() && t <= limitMs; t += GridMs {
		v := c.View()
		for _, a := range s.Advance(c.Now(), &v) {
			_ = c.Do(a) // refused actions change nothing, as in Run
		}
		if !s.ActionsDone() {
			c.Advance(GridMs)
		}
	}
}

// ShowSolution performs the goal's solution from the next Advance on (the
// page's "show me" button). It does nothing before the goal.
func (s *Session) ShowSolution() {
	if s.isGoal() && !s.solving {
		s.solving, s.pc, s.started, s.played = true, 0, false, true
	}
}

// State is where a guided lesson stands, as the page's narration panel
// shows it: the "lesson" field of a frame.
type State struct {
	ID    string `json:"id"`
	Step  int    `json:"step"`
	Steps int    `json:"steps"`
	// Played: the step's actions run (the learner pressed Play); before,
	// the step waits and the page shows its Play button.
	Played bool `json:"played"`
	Done   bool `json:"done"`
	// Slow: the page is showing a moment in slow motion.
	Slow   bool         `json:"slow,omitempty"`
	Checks []CheckState `json:"checks"`
	// Names are the names the checks use, as they are bound now.
	Names []Bound `json:"names,omitempty"`
	// Error says what an action waits for (no leader yet), in both
	// languages.
	Error *Text `json:"error,omitempty"`
}

// State returns where the session stands.
func (s *Session) State() State {
	st := State{ID: s.L.ID, Step: s.Step, Steps: len(s.L.Steps), Played: s.played,
		Done: s.Done(), Slow: s.Slow, Checks: s.Checks}
	if s.Err != "" {
		e := resolveWhy(errors.New(s.Err))
		st.Error = &e
	}
	seen := map[string]bool{}
	for _, c := range s.Checks {
		for _, b := range boundList(c.Text, s.Names, s.terms) {
			if !seen[b.Name] {
				seen[b.Name] = true
				st.Names = append(st.Names, b)
			}
		}
	}
	return st
}
