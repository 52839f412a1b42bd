package ctlguide

import (
	"fmt"
	"strings"

	"dledgerlab/core/ctlsim"
)

// PlayAll plays l from its first step to its goal, as go test does: each
// step's actions, then its checks within their bounds; then the goal's
// solution until every goal check holds. It returns the run and the first
// failure, naming the step, the line and what was there instead.
func PlayAll(l *Lesson) (*ctlsim.Run, error) { return PlayWithPauses(l, 0) }

// Narrate plays l as PlayAll does, telling each step, action and check in
// lang through say (dledgerlab lesson run).
func Narrate(l *Lesson, lang string, say func(string)) error {
	r, err := ctlsim.NewRun(l.Cluster)
	if err != nil {
		return err
	}
	return NarrateOn(r, l, lang, say)
}

// NarrateOn is Narrate on any World (real processes: lesson run --native).
func NarrateOn(w World, l *Lesson, lang string, say func(string)) error {
	return PlayOn(w, l, 0, func(s *Session, i int) {
		s.Log, s.Lang = func(x string) { say("  " + x) }, lang
		if i < len(l.Steps) {
			say(fmt.Sprintf("\n%d. %s", i+1, strings.TrimSpace(l.Steps[i].Say.In(lang))))
		} else {
			say("\n" + strings.TrimSpace(l.Goal.Say.In(lang)))
		}
	})
}

// PlayWithPauses is PlayAll with pauseMs of cluster time between a step's
// checks and the next step, as in the page, where time runs on while the
// learner reads before pressing Next.
func PlayWithPauses(l *Lesson, pauseMs int64) (*ctlsim.Run, error) {
	r, err := ctlsim.NewRun(l.Cluster)
	if err != nil {
		return nil, err
	}
	return r, PlayOn(r, l, pauseMs, nil)
}

// PlayOn plays l on w, with pauseMs before each step after the first and
// before the goal; before, when set, is called as each step (i) or the
// goal (len(Steps)) begins.
func PlayOn(r World, l *Lesson, pauseMs int64, before func(*Session, int)) error {
	s := NewSession(l)
	for i := range l.Steps {
		if i > 0 {
			r.Advance(pauseMs)
		}
		s.Goto(i)
		if before != nil {
			before(s, i)
		}
		s.Play()
		if err := s.settle(r, stepBudget(l, i)); err != nil {
			return fmt.Errorf("step %d (line %d): %w", i+1, l.Steps[i].Line, err)
		}
	}
	r.Advance(pauseMs)
	s.Goto(len(l.Steps))
	if before != nil {
		before(s, len(l.Steps))
	}
	s.ShowSolution()
	if err := s.settle(r, 120_000); err != nil {
		return fmt.Errorf("goal: %w", err)
	}
	return nil
}

// stepBudget is the most cluster time a step may take: its waits, its
// checks' bounds, and the time an action may wait for a role.
func stepBudget(l *Lesson, i int) int64 {
	ms := int64(waitForWhoMs + 1000)
	for _, d := range l.Steps[i].Do {
		if a, _ := ParseAction(d.Text); a.Kind == "wait" {
			ms += a.Ms
		}
	}
	for _, e := range l.Steps[i].Expect {
		c, _ := ParseCheck(e.Text)
		ms += c.Within + GridMs
	}
	return ms
}

// settle runs the step until it is settled, at most budget ms.
func (s *Session) settle(r World, budget int64) error {
	end := r.Now() + budget
	for r.Now() < end {
		if errs := s.Run(r, 100); len(errs) > 0 {
			return errs[0]
		}
		for i, c := range s.Checks {
			if c.Failed {
				return fmt.Errorf("line %d: %s did not hold in time: %s", s.expects()[i].Line, c.Text, c.Why.En)
			}
		}
		if s.isGoal() && s.Done() || !s.isGoal() && s.Settled() {
			return nil
		}
	}
	for i, c := range s.Checks {
		if !c.OK {
			return fmt.Errorf("line %d: %s still does not hold after %d ms: %s", s.expects()[i].Line, c.Text, budget, c.Why.En)
		}
	}
	return fmt.Errorf("the actions did not finish in %d ms", budget)
}
