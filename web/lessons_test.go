package web_test

// Browser tests of the guided lessons: the lessons menu, the narration
// panel and its ticks, Next / Back, the goal's "Show me", the quiz, and a
// broken lesson file reported instead of played.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"dledgerlab/lessons"
)

// brokenLesson is a lesson file with an action the language does not have.
const brokenLesson = `id: broken
order: 99
title: {en: Broken, zh: 坏的}
intro: {en: A broken lesson., zh: 一节坏的课。}
steps:
  - say: {en: Fly., zh: 飞。}
    do:
      - fly to the moon
    expect:
      - leader
goal:
  say: {en: Nothing., zh: 无。}
  expect: [leader]
  solution: [wait 1s]
quiz: []
`

// serveBrokenLessons answers /lessons.json as web.Handler does when one of
// the files does not load: the lessons that did, and the loader's error.
func serveBrokenLessons(w http.ResponseWriter, r *http.Request) {
	all, _ := lessons.All()
	_, err := lessons.Parse("99-broken.yaml", []byte(brokenLesson))
	body := map[string]any{"lessons": all, "error": fmt.Sprint(err)}
	w.Header().Set("Content-Type", "application/json")
	json.NewEncoder(w).Encode(body)
}

// lessonChecks is a JS expression: "ok" once every check of the shown step
// has ticked, "failed: …" when one did not hold in time, else false.
const lessonChecks = `(() => {
	const cs = [...document.querySelectorAll('#lesson [data-check-state]')];
	const bad = cs.find(c => c.dataset.checkState === 'failed');
	if (bad) return 'failed: ' + bad.textContent;
	return cs.length > 0 && cs.every(c => c.dataset.checkState === 'ok') && 'ok';
})()`

// waitChecks waits until the shown step's checks have all ticked.
func (p *page) waitChecks(step int) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`document.querySelector('#lesson').dataset.step === '%d'`, step))
	var got string
	if err := json.Unmarshal(p.waitFor(lessonChecks), &got); err != nil || got != "ok" {
		var dbg any
		p.eval(`(() => { const f = dledgerLab.frame; return f.mode === 'controller'
			? {t: f.time_ms, checks: f.lesson && f.lesson.checks, group: f.group, clients: f.clients, ev: f.events.slice(-40).map(e => [e.at_ms, e.kind, e.broker, e.epoch, JSON.stringify(e.set || e.action || '')].join(' ')), brokers: f.brokers.map(b => [b.id, b.state, b.role, b.max_offset, b.confirm].join(' '))}
			: {t: f.time_ms, clients: f.clients, ev: f.events.slice(-40).map(e => [e.at_ms, e.node, e.kind, e.text].join(' ')), nodes: f.nodes.map(n => [n.id, n.state, n.role, n.term, n.last_index, n.commit].join(' '))} })()`, &dbg)
		dj, _ := json.MarshalIndent(dbg, "", " ")
		p.t.Logf("the page when the check failed: %s", dj)
		p.t.Fatalf("step %d: checks %q (%v)", step+1, got, err)
	}
	p.waitFor(`document.querySelector('#lesson').dataset.done === 'true'`)
}

// pausedStep checks that lesson page i (a step, or the goal) starts
// paused — the learner has not pressed Play, its Play button is shown, and
// the cluster's time stands still over ten animation frames — and returns
// that time.
func (p *page) pausedStep(i int) int64 {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`document.querySelector('#lesson').dataset.step === '%d' && dledgerLab.lesson && dledgerLab.lesson.step === %d && document.querySelector('#lesson').dataset.played === 'false'`, min(i, 99), i))
	var got struct {
		T0, T1  int64
		Playing bool
		Button  bool
	}
	p.eval(`(async () => {
		const t0 = dledgerLab.frame.time_ms;
		for (let i = 0; i < 10; i++) await new Promise((r) => requestAnimationFrame(r));
		const b = document.querySelector('#lesson [data-action="lesson-play"]');
		return {t0, t1: dledgerLab.frame.time_ms, playing: dledgerLab.playing, button: !!b && b.offsetParent !== null};
	})()`, &got)
	if got.T1 != got.T0 || got.Playing || !got.Button {
		p.t.Fatalf("lesson page %d does not start paused: time %d → %d, playing %v, Play button shown %v", i, got.T0, got.T1, got.Playing, got.Button)
	}
	return got.T0
}

// playStep presses the shown step's Play button after checking that the
// step waits for it.
func (p *page) playStep(i int) {
	p.t.Helper()
	p.pausedStep(i)
	p.click(`#lesson [data-action="lesson-play"]`)
	p.waitFor(`document.querySelector('#lesson').dataset.played === 'true'`)
}

func (p *page) key(k string) {
	p.t.Helper()
	if err := chromedp.Do(p.ctx, chromedp.KeyEvent(k)); err != nil {
		p.t.Fatal(err)
	}
}

// TestGuidedLessonTour walks the tour lesson end to end in the guided mode:
// open it from the menu, watch each step's checks tick (going back once
// replays a step), reach the goal, let "Show me" reach it, read it in
// 简体中文, and answer the quiz, wrongly then rightly.
func TestGuidedLessonTour(t *testing.T) {
	tour, err := lessons.Find("tour")
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, "")
	p.eval(`localStorage.removeItem('dledgerlab.lang')`, nil)
	p.choose(`[data-action="speed"]`, "5")
	p.click(`[data-action="lessons"]`)
	p.waitFor(`document.querySelector('#lessons-menu').open && document.querySelector('[data-action="open-lesson"][data-lesson="tour"]') !== null`)
	// Every lesson runs here, in the simulator: no lesson is tagged as
	// "simulator only" in the browser (the tag belongs to the native tools).
	p.waitFor(`document.querySelectorAll('#lessons-list [data-action="open-lesson"]').length >= 10 && !/simulator only/.test(document.querySelector('#lessons-list').textContent)`)
	p.click(`[data-action="open-lesson"][data-lesson="tour"]`)
	p.waitFor(`!document.querySelector('#lessons-menu').open && !document.querySelector('#lesson').hidden && document.querySelector('#lesson').dataset.lessonId === 'tour'`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#lesson-title').textContent === %q`, tour.Title.En))
	p.waitFor(`document.querySelector('#lesson .lesson-intro').textContent.includes('RocketMQ')`)

	steps := len(tour.Steps)
	for i := 0; i < steps; i++ {
		p.waitFor(fmt.Sprintf(`document.querySelector('#lesson .lesson-say').textContent.includes(%q)`, strings.Fields(tour.Steps[i].Say.En)[1]))
		if i == 0 {
			p.screenshot("lesson-step1.png")
		}
		if i == 1 {
			p.pausedStep(i)
			p.key(" ") // the page's own Play (Space) plays the step too
		} else {
			p.playStep(i)
		}
		p.waitChecks(i)
		if i == 2 {
			p.screenshot("lesson-step3.png")
		}
		if i == 1 {
			// Back (b) replays step 1 from where it began; then on again.
			p.key("b")
			p.playStep(0)
			p.waitChecks(0)
			p.click(`[data-action="lesson-next"]`)
			p.playStep(1)
			p.waitChecks(1)
		}
		if i%2 == 0 {
			p.click(`[data-action="lesson-next"]`)
		} else {
			p.key("n") // the keyboard way
		}
	}

	// The goal waits for the learner; "Show me" performs the solution.
	p.waitFor(`document.querySelector('#lesson').dataset.page === 'goal' && document.querySelector('#lesson [data-check-state]') !== null`)
	var pending bool
	p.eval(`document.querySelector('#lesson [data-check-state]').dataset.checkState === 'pending'`, &pending)
	if !pending {
		t.Fatal("the goal's check holds before anyone acted")
	}
	p.pausedStep(steps)
	p.click(`[data-action="lesson-show-me"]`)
	p.waitFor(`document.querySelector('#lesson .lesson-do .do-line') !== null`) // the solution's lines are shown
	p.waitFor(`document.querySelector('#lesson [data-check-state]').dataset.checkState === 'ok' && document.querySelector('#lesson').dataset.done === 'true'`)
	// Going back forked the run: "hello" was sent once, "world" once.
	var sent int
	p.eval(`dledgerLab.frame.clients.producers.reduce((s, x) => s + x.sent, 0)`, &sent)
	if sent != 2 {
		t.Fatalf("%d messages sent, want 2 (hello, world): going back replayed the old future", sent)
	}

	// Switching the language re-renders the lesson's texts.
	p.click(`[data-action="lang"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#lesson-title').textContent === %q && document.querySelector('#lesson .lesson-say').textContent.includes(%q)`,
		tour.Title.Zh, strings.TrimSpace(tour.Goal.Say.Zh)))
	p.screenshot("lesson-goal-zh.png")
	p.click(`[data-action="lang"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#lesson-title').textContent === %q`, tour.Title.En))

	// The quiz: a wrong answer, then a right one, each with its why.
	p.key("n")
	p.waitFor(`document.querySelector('#lesson').dataset.page === 'quiz'`)
	q0 := tour.Quiz[0]
	wrong := (q0.Answer + 1) % len(q0.Choices)
	p.click(fmt.Sprintf(`[data-action="lesson-answer"][data-question="0"][data-choice="%d"]`, wrong))
	p.waitFor(fmt.Sprintf(`(() => { const w = document.querySelector('[data-question="0"] .quiz-why'); return w && w.dataset.answer === 'wrong' && w.textContent.includes(%q) })()`,
		strings.Fields(q0.Why.En)[0]))
	p.waitFor(fmt.Sprintf(`document.querySelector('[data-question="0"] [data-choice="%d"]').dataset.choiceState === 'right'`, q0.Answer))
	p.click(fmt.Sprintf(`[data-action="lesson-answer"][data-question="1"][data-choice="%d"]`, tour.Quiz[1].Answer))
	p.waitFor(`document.querySelector('[data-question="1"] .quiz-why').dataset.answer === 'right'`)
	p.screenshot("lesson-quiz.png")

	// Finishing leaves the guided mode; the run goes on as a playground.
	p.click(`[data-action="lesson-finish"]`)
	p.waitFor(`document.querySelector('#lesson').hidden && document.querySelector('#lessons-menu').open`)
	p.click(`[data-action="close-lessons"]`)
	var at int64
	p.eval(`dledgerLab.frame.time_ms`, &at)
	p.waitFor(fmt.Sprintf(`dledgerLab.frame.time_ms > %d && dledgerLab.frame.lesson === undefined`, at))
}

// TestBrokenLessonIsReported: when a lesson file does not load, the menu
// shows the loader's message (file, line, what was expected) and offers
// the lessons that did load.
func TestBrokenLessonIsReported(t *testing.T) {
	base, _ := setup(t)
	_, want := lessons.Parse("99-broken.yaml", []byte(brokenLesson))
	if want == nil {
		t.Fatal("the broken lesson loads")
	}
	p := openURL(t, base+"broken/?play")
	p.click(`[data-action="lessons"]`)
	p.waitFor(fmt.Sprintf(`(() => { const e = document.querySelector('#lessons-error'); return !e.hidden && e.textContent.includes(%q) })()`, want.Error()))
	p.waitFor(`document.querySelector('[data-action="open-lesson"][data-lesson="broken"]') === null && document.querySelector('[data-action="open-lesson"][data-lesson="tour"]') !== null`)
	p.screenshot("lesson-broken.png")
	p.click(`[data-action="close-lessons"]`)
	p.leader(0, 0) // the playground goes on
}
