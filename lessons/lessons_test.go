package lessons

import (
	"errors"
	"fmt"
	"slices"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/lessons/guide"
)

// Every lesson is a test: its steps' checks and its goal hold on the
// simulator, within their bounds.
func TestLessons(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	require.NotEmpty(t, all)
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			d, err := guide.NewSimDriver(l)
			require.NoError(t, err)
			r := guide.NewRunner(l, d)
			var log []string
			r.Log = func(format string, args ...any) {
				log = append(log, fmt.Sprintf("%6d ms  ", d.S.Now())+fmt.Sprintf(format, args...))
			}
			if err := r.Run(); err != nil {
				t.Fatalf("%v\n%s\nreplay in the playground: #%s", err, strings.Join(log, "\n"), d.S.Share())
			}
			if !l.SimOnly {
				assert.Empty(t, d.S.Violations(), "a lesson for real brokers must not break a rule")
			}
		})
	}
}

// Both languages are complete for every lesson (the loader rejects a
// missing text; this test states it over the embedded files).
func TestLessonsAreBilingual(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	for _, l := range all {
		texts := []Text{l.Title, l.Intro, l.Goal.Say}
		for _, s := range l.Steps {
			texts = append(texts, s.Say)
		}
		for _, q := range l.Quiz {
			texts = append(texts, q.Q, q.Why)
			texts = append(texts, q.Choices...)
		}
		for _, x := range texts {
			assert.NotEmpty(t, strings.TrimSpace(x.En), "%s: a text has no English", l.File)
			assert.NotEmpty(t, strings.TrimSpace(x.Zh), "%s: a text has no Chinese", l.File)
		}
	}
}

// Bad lesson files are rejected with the line and what was expected.
func TestBadLessonsNameTheLine(t *testing.T) {
	good := `id: x
title: {en: T, zh: 题}
intro: {en: I, zh: 介}
steps:
  - say: {en: S, zh: 说}
    do:
      - crash leader
    expect:
      - leader within 2s
goal:
  say: {en: G, zh: 目}
  expect: [leader]
  solution: [wait 1s]
quiz:
  - {q: {en: Q, zh: 问}, choices: [{en: a, zh: 甲}, {en: b, zh: 乙}], answer: 0, why: {en: W, zh: 因}}
  - {q: {en: Q, zh: 问}, choices: [{en: a, zh: 甲}, {en: b, zh: 乙}], answer: 1, why: {en: W, zh: 因}}
`
	_, err := Parse("good.yaml", []byte(good))
	require.NoError(t, err)
	cases := []struct {
		name, from, to, want string
	}{
		{"unknown action", "crash leader", "explode leader", "good.yaml:7: unknown action \"explode\""},
		{"broker outside the cluster", "crash leader", "crash 9", "good.yaml:7: broker 9 is outside"},
		{"malformed condition", "leader within 2s", "leader within soon", "good.yaml:9: \"soon\" is not a duration"},
		{"unknown check", "leader within 2s", "leader sings", "good.yaml:9: unknown check"},
		{"missing Chinese", "say: {en: S, zh: 说}", "say: {en: S}", "good.yaml:5: step 1's say has no Chinese"},
		{"unknown field", "id: x", "id: x\ncolour: red", "field colour not found"},
		{"answer out of range", "answer: 1", "answer: 5", "answer 5 must index"},
	}
	for _, tc := range cases {
		_, err := Parse("good.yaml", []byte(strings.Replace(good, tc.from, tc.to, 1)))
		require.Error(t, err, tc.name)
		assert.True(t, errors.Is(err, ErrLesson), tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
}

// A name used before anything binds it is an error of the lesson file, with
// its line: in a step, in the goal's checks (the learner does not play the
// solution, so a name only the solution binds is never bound for them), or
// a term name used as a broker. A goal's start line binds it in time.
func TestUnboundNamesNameTheLine(t *testing.T) {
	base := `id: x
title: {en: T, zh: 题}
intro: {en: I, zh: 介}
steps:
  - say: {en: S, zh: 说}
    do:
      - remember term as T
      - crash leader as old
    expect:
      - old is down
goal:
  say: {en: G, zh: 目}
  expect:
    - leader is not cur
  solution:
    - remember leader as cur
    - isolate cur
quiz:
  - {q: {en: Q, zh: 问}, choices: [{en: a, zh: 甲}, {en: b, zh: 乙}], answer: 0, why: {en: W, zh: 因}}
  - {q: {en: Q, zh: 问}, choices: [{en: a, zh: 甲}, {en: b, zh: 乙}], answer: 1, why: {en: W, zh: 因}}
`
	_, err := Parse("names.yaml", []byte(base))
	require.Error(t, err)
	assert.True(t, errors.Is(err, ErrLesson))
	assert.Contains(t, err.Error(), `names.yaml:14: "leader is not cur" uses cur, which nothing binds before it: bind it in the goal's start`)

	fixed := strings.Replace(base, "  expect:\n    - leader is not cur", "  start:\n    - remember leader as cur\n  expect:\n    - leader is not cur", 1)
	l, err := Parse("names.yaml", []byte(fixed))
	require.NoError(t, err)
	require.Len(t, l.Goal.Start, 1)
	assert.Equal(t, "remember leader as cur", l.Goal.Start[0].Text)
	assert.Equal(t, 14, l.Goal.Start[0].Line)
	require.NotNil(t, l.Goal.Start[0].Action, "prepared: the page's engine does not parse")
	assert.Equal(t, "cur", l.Goal.Start[0].Action.As)

	cases := []struct{ name, from, to, want string }{
		{"a step uses a name before its step binds it", "      - old is down", "      - new is down", `names.yaml:10: "new is down" uses new`},
		{"an action uses a name bound later", "      - remember term as T\n", "      - restart old\n      - remember term as T\n", `names.yaml:7: "restart old" uses old`},
		{"a term used as a broker", "      - old is down", "      - T is down", `uses T as a broker, but it holds a term`},
		{"a start line that acts", "  start:\n    - remember leader as cur", "  start:\n    - isolate leader as cur", `a goal's start lines only bind names`},
	}
	for _, tc := range cases {
		_, err := Parse("names.yaml", []byte(strings.Replace(fixed, tc.from, tc.to, 1)))
		require.Error(t, err, tc.name)
		assert.Contains(t, err.Error(), tc.want, tc.name)
	}
}

// Every check of every lesson reads as a sentence in both languages in the
// narration panel (its label), not as the lesson file's code.
func TestCheckLabelsAreBilingual(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	for _, l := range all {
		lines := slices.Clone(l.Goal.Expect)
		for _, s := range l.Steps {
			lines = append(lines, s.Expect...)
		}
		for _, line := range lines {
			c, err := guide.ParseCheck(line.Text, l.Cluster.Nodes)
			require.NoError(t, err)
			lb := c.Label()
			assert.NotEqual(t, guide.Text{En: line.Text, Zh: line.Text}, lb, "%s:%d: no label", l.File, line.Line)
			assert.NotContains(t, lb.En+lb.Zh, "%!", "%s:%d", l.File, line.Line)
			assert.Regexp(t, `\p{Han}`, lb.Zh, "%s:%d: %q has no Chinese label", l.File, line.Line, line.Text)
		}
	}
}
