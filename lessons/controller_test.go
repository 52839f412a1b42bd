package lessons_test

import (
	"fmt"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/lessons"
	"dledgerlab/lessons/ctlguide"
)

// Every Controller-mode lesson is a test, as the DLedger-mode ones are:
// each step's checks hold within their bounds in the simulator, and the
// goal's solution reaches the goal. A failure names the step and line.
func TestControllerLessons(t *testing.T) {
	all, err := lessons.Controller()
	require.NoError(t, err)
	require.NotEmpty(t, all)
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			if _, err := ctlguide.PlayAll(l); err != nil {
				t.Errorf("%s: %v\n  replay: go test ./lessons -run 'TestControllerLessons/%s$' -v", l.File, err, l.ID)
			}
			// In the page time runs on while the learner reads: the
			// lesson holds with a pause before each step too.
			for _, pause := range []int64{700, 2500, 6000} {
				if _, err := ctlguide.PlayWithPauses(l, pause); err != nil {
					t.Errorf("%s, with %d ms before each step: %v\n  replay: go test ./lessons -run 'TestControllerLessons/%s$' -v", l.File, pause, err, l.ID)
				}
			}
		})
	}
}

// A Controller-mode lesson file with a mistake is refused naming the file,
// the line and what is wrong.
func TestControllerLessonErrors(t *testing.T) {
	base := "id: x\ntitle: {en: T, zh: T}\nintro: {en: I, zh: I}\nsteps:\n  - say: {en: S, zh: S}\n    do:\n      - %s\n    expect:\n      - master within 5s\ngoal:\n  say: {en: G, zh: G}\n  expect: [master within 1s]\n  solution: [wait 1s]\nquiz:\n  - {q: {en: Q, zh: Q}, choices: [{en: a, zh: a}, {en: b, zh: b}], answer: 0, why: {en: W, zh: W}}\n  - {q: {en: Q, zh: Q}, choices: [{en: a, zh: a}, {en: b, zh: b}], answer: 1, why: {en: W, zh: W}}\n"
	for line, want := range map[string]string{
		"crash 4":        "x.yaml:7: \"crash 4\": broker 4 is not 1..3",
		"crash X":        "x.yaml:7: X is used before a remember line binds it",
		"fly master":     `x.yaml:7: unknown action "fly"`,
		"producer 5":     "want a rate like 10/s",
		"cut 2 from all": "want cut BROKER from brokers",
		"crash 2":        `x.yaml:7: "crash 2" names broker 2, which only the simulator's seed makes master or slave: mark the lesson sim_only: true`,
	} {
		_, err := lessons.ParseController("x.yaml", []byte(fmt.Sprintf(base, line)))
		if assert.Error(t, err, line) {
			assert.ErrorIs(t, err, lessons.ErrLesson)
			assert.Contains(t, err.Error(), want, line)
		}
	}
	ok, err := lessons.ParseController("x.yaml", []byte(fmt.Sprintf(base, "crash master")))
	require.NoError(t, err)
	assert.Equal(t, "controller", ok.Mode)
	assert.Equal(t, "crash the master", ok.Steps[0].Do[0].Label.En)
	assert.Equal(t, "让 Master 宕机", ok.Steps[0].Do[0].Label.Zh)
}
