package guide

import (
	"fmt"
	"strings"
)

// Names in a lesson: "crash leader as old", "remember term as T" and a
// goal's start lines bind them; actions and checks use them. A name used
// before anything binds it is an error of the lesson file, found by
// CheckNames when the file is loaded (`dledgerlab lesson check`), never an
// error a learner meets in the page. The goal's checks may use only names
// bound by the steps or by the goal's own start lines: the solution binds
// nothing the learner's way to the goal has, because the learner does not
// play the solution.

// NameError is a name used before anything binds it, or used as the wrong
// kind of thing (a term name as a broker).
type NameError struct {
	Line int
	Msg  string
}

func (e *NameError) Error() string { return e.Msg }

// nameKind says what a name holds.
type nameKind int

const (
	brokerNameKind nameKind = iota + 1
	termNameKind
)

func (k nameKind) String() string {
	if k == termNameKind {
		return "a term (remember term as …)"
	}
	return "a broker"
}

// names is what has been bound so far, while walking a lesson in order.
type names map[string]nameKind

// CheckNames walks a parsed lesson in the order it plays — each step's
// actions, then its checks; then the goal's start lines, its checks, its
// solution — and returns the first use of a name that nothing binds before
// it. Lines that do not parse are left to the parser's own errors.
func CheckNames(l *Lesson) error {
	n := l.Cluster.Nodes
	bound := names{}
	for _, s := range l.Steps {
		for _, d := range s.Do {
			if err := bound.action(d, n, "earlier in this step or in an earlier step"); err != nil {
				return err
			}
		}
		for _, e := range s.Expect {
			if err := bound.check(e, n, "in this step's do or an earlier step"); err != nil {
				return err
			}
		}
	}
	for _, d := range l.Goal.Start {
		a, err := ParseAction(d.Text, n)
		if err != nil {
			continue
		}
		if a.Kind != "remember" {
			return &NameError{d.Line, fmt.Sprintf("%q: a goal's start lines only bind names (remember leader as NAME, remember term as NAME); the learner does the rest", d.Text)}
		}
		if err := bound.action(d, n, "in a step or earlier in the goal's start"); err != nil {
			return err
		}
	}
	for _, e := range l.Goal.Expect {
		if err := bound.check(e, n, "in the goal's start (e.g. remember leader as NAME), so that it is bound when the learner begins"); err != nil {
			return err
		}
	}
	sol := bound.clone()
	for _, d := range l.Goal.Solution {
		if err := sol.action(d, n, "in a step, the goal's start or earlier in the solution"); err != nil {
			return err
		}
	}
	return nil
}

func (b names) clone() names {
	c := names{}
	for k, v := range b {
		c[k] = v
	}
	return c
}

// use reports a name that is not bound, or bound as another kind.
func (b names) use(name string, want nameKind, l Line, where string) error {
	if name == "" {
		return nil
	}
	got, ok := b[name]
	switch {
	case !ok:
		return &NameError{l.Line, fmt.Sprintf("%q uses %s, which nothing binds before it: bind it %s", l.Text, name, where)}
	case got != want:
		return &NameError{l.Line, fmt.Sprintf("%q uses %s as %s, but it holds %s", l.Text, name, want, got)}
	}
	return nil
}

// action checks the names an action line uses, then binds its name.
func (b names) action(l Line, n int, where string) error {
	a, err := ParseAction(l.Text, n)
	if err != nil {
		return nil // the parser reports it
	}
	whos := []Who{a.Who, a.To}
	for _, g := range a.Groups {
		whos = append(whos, g...)
	}
	for _, w := range whos {
		if err := b.use(w.Name, brokerNameKind, l, where); err != nil {
			return err
		}
	}
	if a.As != "" {
		if a.Term {
			b[a.As] = termNameKind
		} else {
			b[a.As] = brokerNameKind
		}
	}
	return nil
}

// check checks the names a check line uses.
func (b names) check(l Line, n int, where string) error {
	c, err := ParseCheck(l.Text, n)
	if err != nil {
		return nil // the parser reports it
	}
	if err := b.use(c.Who.Name, brokerNameKind, l, where); err != nil {
		return err
	}
	return b.use(c.Name, termNameKind, l, where)
}

// Bound is one bound name as the narration panel shows it beside the
// checks that use it: "now = Broker 2", "T = term 3".
type Bound struct {
	Name   string `json:"name"`
	Broker int    `json:"broker,omitempty"`
	Term   int64  `json:"term,omitempty"`
}

// boundList lists the names in text (a check line), as they stand.
func boundList(text string, vals Bindings, terms map[string]bool) []Bound {
	var out []Bound
	toks, _ := tokens(text)
	if strings.HasPrefix(strings.TrimSpace(text), `"`) && len(toks) > 0 {
		toks = toks[1:] // a message body, not a name
	}
	seen := map[string]bool{}
	for _, tok := range toks {
		for _, w := range strings.FieldsFunc(tok, func(r rune) bool { return r == ',' || r == '|' || r == '>' || r == '-' }) {
			v, ok := vals[w]
			if !ok || seen[w] {
				continue
			}
			seen[w] = true
			if terms[w] {
				out = append(out, Bound{Name: w, Term: v})
			} else {
				out = append(out, Bound{Name: w, Broker: int(v)})
			}
		}
	}
	return out
}
