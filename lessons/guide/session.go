package guide

import (
	"fmt"

	"dledgerlab/core/sim"
)

// Session plays a lesson frame by frame, for the page's guided mode: the
// page calls Advance after each frame with the cluster's view and time, and
// performs the actions it returns; Session ticks the checks as they become
// true. Waits in a step's actions let the cluster run while the learner
// watches. The same checks, bounds and actions as Runner, without blocking.
type Session struct {
	L     *Lesson
	Names Bindings
	// Step is the current step; len(L.Steps) is the goal.
	Step int `json:"step"`
	// pc is the next action line of the step; waitUntil the time the
	// current wait ends; expectFrom the time the checks started.
	pc         int
	waitUntil  int64
	expectFrom int64
	started    bool
	// solving: the goal's solution is being performed ("show me").
	solving bool
	// Checks are the current step's checks and where they stand.
	Checks []CheckState `json:"checks"`
	// Err is set when an action could not be done (e.g. no leader yet).
	Err string `json:"error,omitempty"`
}

// CheckState is one check of the current step, as the narration panel
// shows it: pending, ticked, or failed after its bound.
type CheckState struct {
	Text   string `json:"text"`
	OK     bool   `json:"ok"`
	Failed bool   `json:"failed"`
	Why    string `json:"why,omitempty"`
}

// NewSession starts a lesson at its first step.
func NewSession(l *Lesson) *Session {
	s := &Session{L: l, Names: Bindings{}}
	s.Goto(0)
	return s
}

// Goto moves to step i (0..len(Steps); len(Steps) is the goal). The step's
// actions run from the next Advance on.
func (s *Session) Goto(i int) {
	s.Step = max(0, min(i, len(s.L.Steps)))
	s.pc, s.waitUntil, s.started, s.solving, s.Err = 0, 0, false, false, ""
	s.Checks = nil
	for _, e := range s.expects() {
		s.Checks = append(s.Checks, CheckState{Text: e.Text})
	}
}

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
	return s.started && s.pc >= len(s.actions())
}

// Advance performs what is due at time now and evaluates the checks
// against v. It returns the actions for the page to hand to the engine.
func (s *Session) Advance(now int64, v *sim.ClusterView) []sim.Action {
	r := &Runner{L: s.L, Names: s.Names}
	if !s.started {
		s.started, s.waitUntil = true, now
	}
	var out []sim.Action
	acts := s.actions()
	for s.pc < len(acts) && now >= s.waitUntil {
		line := acts[s.pc]
		a, err := ParseAction(line.Text, s.L.Cluster.Nodes)
		if err != nil {
			s.Err = fmt.Sprintf("line %d: %v", line.Line, err)
			return out
		}
		switch a.Kind {
		case "wait":
			s.waitUntil = now + a.Ms
		case "remember":
			if a.Term {
				s.Names[a.As] = int64(maxTerm(v))
			} else if id, err := r.resolve(a.Who, v); err == nil {
				s.Names[a.As] = int64(id)
			} else {
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
	if s.pc < len(acts) || len(out) > 0 {
		return out // checks start once the actions are done and applied
	}
	for i, line := range s.expects() {
		c, err := ParseCheck(line.Text, s.L.Cluster.Nodes)
		if err != nil {
			s.Checks[i] = CheckState{Text: line.Text, Failed: true, Why: err.Error()}
			continue
		}
		if s.Checks[i].OK {
			continue // a ticked check stays ticked
		}
		ok, why := r.Holds(c, v)
		s.Checks[i].OK = ok
		if !ok {
			s.Checks[i].Why = why
			// The goal waits for the learner; steps have their bounds.
			s.Checks[i].Failed = !s.isGoal() && now-s.expectFrom > c.WithinMs
		} else {
			s.Checks[i].Why, s.Checks[i].Failed = "", false
		}
	}
	return out
}

// ShowSolution performs the goal's solution from the next Advance on (the
// page's "show me" button). It does nothing before the goal.
func (s *Session) ShowSolution() {
	if s.isGoal() && !s.solving {
		s.solving, s.pc, s.started = true, 0, false
	}
}

// State is where a guided lesson stands, as the page's narration panel
// shows it: the "lesson" field of a frame.
type State struct {
	ID     string       `json:"id"`
	Step   int          `json:"step"`
	Steps  int          `json:"steps"`
	Done   bool         `json:"done"`
	Checks []CheckState `json:"checks"`
	Error  string       `json:"error,omitempty"`
}

// State returns where the session stands.
func (s *Session) State() State {
	return State{ID: s.L.ID, Step: s.Step, Steps: len(s.L.Steps), Done: s.Done(), Checks: s.Checks, Error: s.Err}
}
