package web_test

// Accessibility tests (WCAG 2.1 AA): axe-core, vendored under
// testdata/axe-core and injected by the test (the page never loads it),
// checks every screen — the playground after 4 s of play, the help and
// lessons dialogs, an open lesson and its goal, the story's callouts and the
// live view — in English and 简体中文, at 1366×768 and 390×844. Then the
// keyboard alone walks the story to its end and a lesson to its goal, and
// the polite live region says each story beat once, in the page's language.

import (
	"encoding/json"
	"fmt"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"dledgerlab/internal/browsertest"
	"dledgerlab/lessons"
)

// axeScript is the vendored axe-core (its version and licence are in
// testdata/axe-core/README.md).
var axeScript = filepath.Join("testdata", "axe-core", "axe.min.js")

// axe runs axe-core's WCAG 2.1 A and AA rules on the page as it is now and
// fails the test on any violation, naming the rule, the elements and the
// help text.
func (p *page) axe(screen string) {
	p.t.Helper()
	vs, err := browsertest.Axe(p.ctx, axeScript)
	if err != nil {
		p.t.Fatalf("%s: %v", screen, err)
	}
	for _, v := range vs {
		p.t.Errorf("%s: %s", screen, v)
	}
}

// setLangStored chooses the page's language for the next load ("en" or "zh").
func (p *page) setLangStored(lang string) {
	p.eval(fmt.Sprintf(`localStorage.setItem('dledgerlab.lang', %q), true`, lang), nil)
}

// TestA11yAxe: no WCAG 2.1 A or AA rule fails on any screen, in either
// language, on a laptop or a phone.
func TestA11yAxe(t *testing.T) {
	base, _ := setup(t)
	sizes := []struct {
		name string
		w, h int64
	}{{"1366x768", 1366, 768}, {"390x844", 390, 844}}
	for _, sz := range sizes {
		for _, lang := range []string{"en", "zh"} {
			t.Run(sz.name+"-"+lang, func(t *testing.T) {
				p := openSized(t, base+"?play", sz.w, sz.h)
				defer p.eval(`localStorage.removeItem('dledgerlab.lang'), true`, nil)
				p.setLangStored(lang)
				at := func(screen string) string { return screen + " (" + sz.name + ", " + lang + ")" }
				load := func(url string) {
					if err := chromedp.Do(p.ctx, chromedp.Navigate(url)); err != nil {
						t.Fatal(err)
					}
					p.waitFor("window.dledgerLab && window.dledgerLab.frame && document.body.dataset.ready === 'true'")
				}
				load(base + "?play")
				wantLang := map[string]string{"en": "en", "zh": "zh-CN"}[lang]
				p.waitFor(fmt.Sprintf(`document.documentElement.lang === %q`, wantLang))

				// The playground after 4 s of play (paused there, so the
				// page holds still while axe reads it).
				p.choose(`[data-action="speed"]`, "5")
				p.waitFor(`dledgerLab.frame.time_ms > 4000 && dledgerLab.drawn`)
				p.click(`[data-action="play"]`)
				p.waitFor(`!dledgerLab.playing && dledgerLab.drawn`)
				p.axe(at("playground"))
				shot := func(screen string) { p.screenshot("a11y-" + sz.name + "-" + lang + "-" + screen + ".png") }
				shot("playground")

				// The help dialog; closing it gives the focus back to "?".
				p.click(`[data-action="help"]`)
				p.waitFor(`document.querySelector('#help').open`)
				p.axe(at("help dialog"))
				p.key(kb.Escape)
				p.waitFor(`!document.querySelector('#help').open && document.activeElement.dataset.action === 'help'`)

				// The lessons menu, then a lesson: a step played, then its goal.
				p.click(`[data-action="lessons"]`)
				p.waitFor(`document.querySelector('#lessons-menu').open && document.querySelector('[data-action="open-lesson"][data-lesson="tour"]') !== null`)
				p.axe(at("lessons menu"))
				p.click(`[data-action="open-lesson"][data-lesson="tour"]`)
				p.pausedStep(0)
				p.playStep(0)
				p.waitChecks(0)
				p.axe(at("lesson step"))
				shot("lesson")

				// The story's callouts: the first beat, and one further on.
				p.eval(`localStorage.removeItem('dledgerlab.played'), true`, nil)
				load(base)
				p.story()
				p.axe(at("story callout, first beat"))
				p.next("button")
				p.next("button")
				p.axe(at("story callout, a later beat"))
				shot("story")

				// The live view (a stand-in launcher serves its frames).
				load(base + "?live")
				p.waitFor(`dledgerLab.frame.nodes.length > 0 && dledgerLab.drawn`)
				p.axe(at("live view"))
				shot("live")
			})
		}
	}
}

// tabTo presses Tab (with mods: Shift+Tab) until the focused element matches the CSS selector
// sel, and fails after max presses.
func (p *page) tabTo(sel string, max int, mods ...kb.Modifier) {
	p.t.Helper()
	is := fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel)
	for i := 0; i <= max; i++ {
		var ok bool
		p.eval(is, &ok)
		if ok {
			return
		}
		if err := chromedp.Do(p.ctx, chromedp.KeyEvent(kb.Tab, chromedp.KeyModifiers(mods...))); err != nil {
			p.t.Fatal(err)
		}
	}
	var at string
	p.eval(`document.activeElement ? document.activeElement.outerHTML.slice(0, 120) : ''`, &at)
	p.t.Fatalf("%d presses of Tab did not reach %s (the focus is on %s)", max, sel, at)
}

// focusIs waits until the focused element matches the CSS selector sel.
func (p *page) focusIs(sel string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`!!document.activeElement && document.activeElement.matches(%q)`, sel))
}

// announcement is one thing the live region said (dledgerLab.announced).
type announcement struct {
	Kind string  `json:"kind"`
	Text string  `json:"text"`
	Lang string  `json:"lang"`
	At   float64 `json:"at"`
}

// TestA11yStoryByKeyboardAndLiveRegion: in 简体中文, with Tab and Enter
// alone, a learner reaches the story's Next button and presses it to the
// end; the focus stays on Next at every beat and lands on Play / Pause when
// the story ends. The polite live region says each beat once — its title
// and text, in Chinese — and nothing else while the story lasts.
func TestA11yStoryByKeyboardAndLiveRegion(t *testing.T) {
	base, _ := setup(t)
	p := openSized(t, base+"?play", 1366, 768)
	defer p.eval(`localStorage.removeItem('dledgerlab.lang'), true`, nil)
	p.setLangStored("zh")
	if err := chromedp.Do(p.ctx, chromedp.Navigate(base+"?story=1")); err != nil {
		t.Fatal(err)
	}
	p.waitFor("window.dledgerLab && window.dledgerLab.frame && document.body.dataset.ready === 'true' && document.documentElement.lang === 'zh-CN'")
	s := p.story()
	var all []string
	p.eval(`dledgerLab.story.all`, &all)
	p.tabTo(`#cluster [data-node-id="1"]`, 40)
	p.screenshot("a11y-keyboard-broker-focused.png")
	p.tabTo(`#story-callout [data-action="story-next"]`, 40)
	p.screenshot("a11y-keyboard-story-next-focused.png")
	var titles []string
	for n := 0; ; n++ {
		var title string
		p.eval(`document.querySelector('#story-title').textContent`, &title)
		titles = append(titles, title)
		if s.Beat == all[len(all)-1] {
			break
		}
		if n > 40 {
			t.Fatalf("the story did not end after %d beats", n)
		}
		p.key(kb.Enter)
		p.waitFor(fmt.Sprintf(`(() => { const s = dledgerLab.story; return s && s.index > %d && !s.playing })()`, s.Index))
		s = p.story()
		p.focusIs(`#story-callout [data-action="story-next"]`)
	}
	var said []announcement
	p.eval(`dledgerLab.announced`, &said)
	if len(said) != len(titles) {
		t.Errorf("the live region said %d things over %d beats: %v", len(said), len(titles), said)
	}
	for i, a := range said {
		if i >= len(titles) {
			break
		}
		if a.Kind != "story" || a.Lang != "zh" || !strings.HasPrefix(a.Text, titles[i]) || !hanRe.MatchString(a.Text) {
			t.Errorf("beat %d (%s): the live region said %+v", i+1, titles[i], a)
		}
	}
	// Enter on Finish leaves the story; the keyboard is on Play / Pause.
	p.key(kb.Enter)
	p.waitFor(`dledgerLab.story === null && document.querySelector('#story-callout').hidden`)
	p.focusIs(`#play-btn`)
}

// TestA11yLessonByKeyboard: with key presses alone a learner opens the
// lessons menu, starts the tour, plays each step and goes on, plays the
// goal, types and produces "world" from the producer form, and reaches
// the goal; axe finds nothing on the goal page. Closing the lesson gives
// the focus back to the Lessons button.
func TestA11yLessonByKeyboard(t *testing.T) {
	tour, err := lessons.Find("tour")
	if err != nil {
		t.Fatal(err)
	}
	p := open(t, "")
	p.eval(`localStorage.removeItem('dledgerlab.lang'), document.activeElement.blur(), true`, nil)
	p.tabTo(`[data-action="lessons"]`, 10)
	p.key(kb.Enter)
	p.waitFor(`document.querySelector('#lessons-menu').open`)
	p.focusIs(`[data-action="open-lesson"][data-lesson="tour"]`)
	p.key(kb.Enter)
	p.waitFor(`!document.querySelector('#lesson').hidden && document.querySelector('#lesson').dataset.lessonId === 'tour'`)
	p.focusIs(`#lesson-title`)
	p.key("]") // faster: ] is a shortcut, like [ for slower
	p.key("]")
	p.key("]")
	p.tabTo(`#lesson [data-action="lesson-play"]`, 10)
	for i := range tour.Steps {
		p.focusIs(`#lesson [data-action="lesson-play"]`)
		p.key(kb.Enter)
		p.waitChecks(i)
		p.focusIs(`#lesson [data-action="lesson-next"]`)
		p.key(kb.Enter)
	}
	// The goal: play it, then produce "world" with the producer form.
	p.waitFor(`document.querySelector('#lesson').dataset.page === 'goal'`)
	p.focusIs(`#lesson [data-action="lesson-play"]`)
	p.key(kb.Enter)
	p.waitFor(`document.querySelector('#lesson').dataset.played === 'true'`)
	p.tabTo(`#produce-body`, 60)
	var old string
	p.eval(`document.activeElement.value`, &old)
	p.key(kb.End)
	for range old {
		p.key(kb.Backspace)
	}
	if err := chromedp.Do(p.ctx, chromedp.KeyEvent("world")); err != nil {
		t.Fatal(err)
	}
	p.waitFor(`document.querySelector('#produce-body').value === 'world'`)
	p.tabTo(`[data-action="produce"]`, 5)
	p.key(kb.Enter)
	p.waitFor(`document.querySelector('#lesson [data-check-state]').dataset.checkState === 'ok' && document.querySelector('#lesson').dataset.done === 'true'`)
	p.axe("lesson goal reached (1366x768 window, en)")
	var said []announcement
	p.eval(`dledgerLab.announced.filter(a => a.kind === 'lesson')`, &said)
	if len(said) != len(tour.Steps)+1 {
		t.Errorf("the live region said %d lesson texts for %d steps and a goal: %v", len(said), len(tour.Steps), said)
	}
	// Back up to the lesson's × with Shift+Tab, and close it.
	p.tabTo(`#lesson [data-action="lesson-close"]`, 80, kb.ModifierShift)
	p.key(kb.Enter)
	p.waitFor(`document.querySelector('#lesson').hidden`)
	p.focusIs(`[data-action="lessons"]`)
	// The menu, closed with Esc, gives the focus back to its opener.
	p.key(kb.Enter)
	p.waitFor(`document.querySelector('#lessons-menu').open`)
	p.key(kb.Escape)
	p.waitFor(`!document.querySelector('#lessons-menu').open`)
	p.focusIs(`[data-action="lessons"]`)
}

// TestA11yReducedMotion: with prefers-reduced-motion: reduce, a message in
// flight stands still on its link until it is delivered, and brokers jump
// to their groups at a split instead of gliding; the state still updates
// (a leader is elected, the clock runs, the split happens).
func TestA11yReducedMotion(t *testing.T) {
	base, _ := setup(t)
	p := openSized(t, base+"?play", 1366, 768)
	p.stillMotion()
	if err := chromedp.Do(p.ctx, chromedp.Navigate(base+"?play")); err != nil {
		t.Fatal(err)
	}
	p.waitFor("window.dledgerLab && window.dledgerLab.frame && document.body.dataset.ready === 'true' && matchMedia('(prefers-reduced-motion: reduce)').matches")
	// A message in flight, seen at two moments: the same place.
	raw := p.waitFor(`(() => {
		const m = document.querySelector('#cluster .msg[data-msg-id]');
		return m && [m.dataset.msgId, m.getAttribute('transform'), dledgerLab.frame.time_ms];
	})()`)
	var seen [3]any
	if err := json.Unmarshal(raw, &seen); err != nil {
		t.Fatal(err)
	}
	var still []any
	p.eval(fmt.Sprintf(`(async () => {
		const id = %q, t0 = %v;
		for (;;) {
			await new Promise((r) => requestAnimationFrame(r));
			const m = document.querySelector('#cluster .msg[data-msg-id="' + id + '"]');
			if (!m) return ['delivered before time moved on'];
			if (dledgerLab.frame.time_ms > t0) return [m.getAttribute('transform'), dledgerLab.frame.time_ms];
		}
	})()`, seen[0], seen[2]), &still)
	if len(still) == 2 && still[0] != seen[1] {
		t.Errorf("message %v moved from %v (at %v ms) to %v (at %v ms)", seen[0], seen[1], seen[2], still[0], still[1])
	}
	// The state goes on: a leader, then a split by keyboard; the brokers
	// are in their groups at once.
	p.choose(`[data-action="speed"]`, "2")
	lead, _ := p.leader(0, 0)
	p.eval(`document.activeElement.blur(), true`, nil)
	p.key(fmt.Sprint(lead))
	p.key("g")
	p.key("s")
	p.waitFor(`(dledgerLab.frame.groups || []).length === 2`)
	var moving bool
	p.eval(`new Promise((r) => requestAnimationFrame(() => r(dledgerLab.moving)))`, &moving)
	if moving {
		t.Error("with reduced motion the brokers glide to their groups")
	}
}

// TestA11yAxeMoreStates: the states TestA11yAxe passes by — the story's
// callout while it plays to the next beat, a lesson's quiz answered, the
// badge red with a broken invariant, the phone's control cards opened —
// break no WCAG 2.1 A or AA rule either.
func TestA11yAxeMoreStates(t *testing.T) {
	base, _ := setup(t)
	p := openSized(t, base+"?story=1", 1366, 768)
	p.story()
	p.click(`#story-callout [data-action="story-next"]`)
	p.waitFor(`dledgerLab.story && dledgerLab.story.playing && document.querySelector('#story-callout').classList.contains('playing')`)
	p.axe("story callout while it plays")

	tour, err := lessons.Find("tour")
	if err != nil {
		t.Fatal(err)
	}
	p = open(t, "")
	p.choose(`[data-action="speed"]`, "5")
	p.click(`[data-action="lessons"]`)
	p.click(`[data-action="open-lesson"][data-lesson="tour"]`)
	for i := range tour.Steps {
		p.playStep(i)
		p.waitChecks(i)
		p.click(`#lesson [data-action="lesson-next"]`)
	}
	p.waitFor(`document.querySelector('#lesson').dataset.page === 'goal'`)
	p.key("n")
	p.waitFor(`document.querySelector('#lesson').dataset.page === 'quiz'`)
	q0 := tour.Quiz[0]
	p.click(fmt.Sprintf(`[data-action="lesson-answer"][data-question="0"][data-choice="%d"]`, (q0.Answer+1)%len(q0.Choices)))
	p.waitFor(`document.querySelector('[data-question="0"] .quiz-why') !== null`)
	p.axe("lesson quiz, answered wrongly")

	p = openSized(t, base+"?play", 390, 844)
	for _, h := range []string{"#net-title", "#clients-title", "#settings-title"} {
		p.click(h)
	}
	p.waitFor(`[...document.querySelectorAll('.card.folded')].filter((c) => c.getClientRects().length).length === 0`)
	p.axe("phone, every card opened")

	// Controller mode, with a master elected and a node selected, paused.
	for _, sz := range [][2]int64{{1366, 768}, {390, 844}} {
		p = openSized(t, base+"?play#mode=controller", sz[0], sz[1])
		p.waitFor(`dledgerLab.frame.mode === 'controller'`)
		p.choose(`[data-action="speed"]`, "5")
		if sz[0] < 400 {
			p.click(`#ctl-clients-title`)
		}
		p.click(`[data-action="ctl-producer"]`)
		m, _ := p.ctlMaster(0, 3)
		p.ctlSelect(3 + m)
		p.click(`[data-action="play"]`)
		p.waitFor(`!dledgerLab.playing`)
		p.axe(fmt.Sprintf("Controller mode (%d×%d)", sz[0], sz[1]))
	}

	// Last: lostAckRun skips the test when the simulator finds the loss only at its final check.
	if share, end := lostAckRun(t); share != "" {
		p = open(t, fmt.Sprintf("#run=%s&t=%d", share, end))
		p.waitFor(`document.querySelector('#badge').dataset.state === 'violated' && dledgerLab.drawn`)
		p.axe("badge with a broken invariant")
	}
}

// TestA11yLiveRegionIsCalm: in the playground the live region says who
// leads and how far entries are committed in short sentences, at most one
// every 5 s, and never the raw event stream; the event list itself is not
// live. A crashed leader's successor is said.
func TestA11yLiveRegionIsCalm(t *testing.T) {
	p := open(t, "")
	p.eval(`localStorage.removeItem('dledgerlab.lang'), true`, nil)
	p.choose(`[data-action="speed"]`, "2")
	old, _ := p.leader(0, 0)
	p.waitFor(fmt.Sprintf(`dledgerLab.announced.some(a => a.text === 'Broker %d is the leader, term ' + dledgerLab.frame.nodes[%d].term + '.')`, old, old-1))
	// A steady producer commits entry after entry; then the leader crashes.
	p.click(`[data-action="producer"]`)
	p.waitFor(`dledgerLab.announced.some(a => /^Committed up to entry \d+\.$/.test(a.text) || / Committed up to entry \d+\.$/.test(a.text))`)
	p.eval(`document.activeElement.blur(), true`, nil)
	p.key(fmt.Sprint(old))
	p.key("c")
	lead, _ := p.leader(old, 0)
	p.waitFor(fmt.Sprintf(`dledgerLab.announced.some(a => a.text.startsWith('Broker %d is the leader'))`, lead))
	var said []announcement
	p.eval(`dledgerLab.announced`, &said)
	var events []string
	p.eval(`dledgerLab.frame.events.map(e => e.kind)`, &events)
	sentence := regexp.MustCompile(`^(Broker \d+ is the leader, term \d+\.|No leader now\.)?( ?Committed up to entry \d+\.)?$`)
	for i, a := range said {
		if a.Kind != "status" || !sentence.MatchString(a.Text) {
			t.Errorf("the live region said %+v: not a short sentence about the leader or commits", a)
		}
		if i > 0 && a.At-said[i-1].At < 4990 {
			t.Errorf("the live region spoke twice within %.0f ms: %q then %q", a.At-said[i-1].At, said[i-1].Text, a.Text)
		}
	}
	t.Logf("the live region said: %v", said)
	if len(said) > 10 {
		t.Errorf("the live region said %d things for %d events: %v", len(said), len(events), said)
	}
	var live string
	p.eval(`document.querySelector('#events').getAttribute('aria-live')`, &live)
	if live != "off" {
		t.Errorf("the event list is aria-live=%q", live)
	}
}
