package web_test

// Accessibility tests (WCAG 2.1 AA): axe-core, vendored under
// testdata/axe-core and injected by the test (the page never loads it),
// checks every screen — the playground after 4 s of play, the help and
// lessons dialogs, an open lesson and its goal, the story's callouts and the
// live view — in English and 简体中文, at 1366×768 and 390×844. Then the
// keyboard alone walks the story to its end and a lesson to its goal, and
// the polite live region says each story beat once, in the page's language.

import (
	"fmt"
	"path/filepath"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"

	"dledgerlab/internal/browsertest"
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

				// The story's callouts: the first beat, and one further on.
				p.eval(`localStorage.removeItem('dledgerlab.played'), true`, nil)
				load(base)
				p.story()
				p.axe(at("story callout, first beat"))
				p.next("button")
				p.next("button")
				p.axe(at("story callout, a later beat"))

				// The live view (a stand-in launcher serves its frames).
				load(base + "?live")
				p.waitFor(`dledgerLab.frame.nodes.length > 0 && dledgerLab.drawn`)
				p.axe(at("live view"))
			})
		}
	}
}

// shortText is s cut for a failure message.
func shortText(s string) string {
	if len(s) > 120 {
		return s[:120] + "…"
	}
	return strings.TrimSpace(s)
}
