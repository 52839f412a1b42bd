package web_test

// Browser tests of the story mode (web/static/js/story.js) and of the
// layout it needs: a first visit tells the seed's story beat by beat, with
// a callout on the picture; the picture, the callout and the CommitLog
// share the first screen at 1366×768. The learner's keys and buttons drive
// everything; every wait is a poll on a condition.
//
// With DLEDGERLAB_SHOTS=DIR, every beat is saved in English and 简体中文,
// at 1366×768 and at 390×844 (a phone).

import (
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"
	"github.com/chromedp/chromedp/kb"
)

// storyState is window.dledgerLab.story.
type storyState struct {
	Beat    string   `json:"beat"`
	Index   int      `json:"index"`
	Main    bool     `json:"main"`
	TimeMs  int64    `json:"time_ms"`
	Playing bool     `json:"playing"`
	IDs     []string `json:"ids"`
	All     []string `json:"all"`
	Ctx     map[string]any
}

// story waits until the story stands still at a beat (the callout drawn,
// the frame at the beat's moment) and returns where it is.
func (p *page) story() storyState {
	p.t.Helper()
	raw := p.waitFor(`(() => {
		const s = dledgerLab.story;
		if (!s || s.playing || !s.beat) return false;
		if (dledgerLab.frame.time_ms !== s.time_ms || !dledgerLab.drawn) return false;
		const box = document.querySelector('#story-callout');
		if (box.hidden || box.dataset.beat !== s.beat) return false;
		return JSON.stringify(s);
	})()`)
	var js string
	if err := json.Unmarshal(raw, &js); err != nil {
		p.t.Fatal(err)
	}
	var s storyState
	if err := json.Unmarshal([]byte(js), &s); err != nil {
		p.t.Fatal(err)
	}
	var full struct {
		Ctx map[string]any `json:"ctx"`
	}
	_ = json.Unmarshal([]byte(js), &full)
	s.Ctx = full.Ctx
	return s
}

// next presses Next (the key → or Space, or the button) and waits for the
// following beat.
func (p *page) next(how string) storyState {
	p.t.Helper()
	before := p.story()
	switch how {
	case "right":
		p.key(kb.ArrowRight)
	case "space":
		p.key(" ")
	default:
		p.click(`#story-callout [data-action="story-next"]`)
	}
	p.waitFor(fmt.Sprintf(`(() => { const s = dledgerLab.story; return s && s.index > %d && !s.playing })()`, before.Index))
	return p.story()
}

// inViewport is a JS expression: which of the picture, the callout, the
// CommitLog and the callout's target lie wholly inside the viewport.
const inViewport = `(() => {
	const inside = (el) => {
		if (!el) return false;
		const r = el.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight + 0.5 && r.right <= innerWidth + 0.5;
	};
	const ring = document.querySelector('#story-overlay .story-ring');
	return {
		picture: inside(document.querySelector('#cluster')),
		callout: inside(document.querySelector('#story-callout')),
		log: inside(document.querySelector('#logview .log-grid')),
		ring: !ring || inside(ring),
		where: 'scrollY ' + scrollY + ', viewport ' + innerWidth + '×' + innerHeight + ', callout ' + JSON.stringify(document.querySelector('#story-callout').getBoundingClientRect()),
	};
})()`

// assertInViewport checks that each of what ("picture", "callout",
// "log", "ring": the callout's target) is wholly on screen.
func (p *page) assertInViewport(beat string, what ...string) {
	p.t.Helper()
	var v map[string]any
	p.eval(inViewport, &v)
	for _, w := range what {
		if v[w] != true {
			p.t.Errorf("beat %s: the %s is not wholly inside the viewport (%v)", beat, w, v)
		}
	}
}

// desktop is everything a 1366×768 screen must show at every beat; on a
// phone the page scrolls so the callout and what it points at show.
var (
	desktop = []string{"picture", "callout", "log", "ring"}
	phone   = []string{"callout", "ring"}
)

// pointsAt is a JS expression: the callout's arrow ends at the element
// sel (its ring is centred on it), and the callout box does not cover it
// and is at most maxGap px away from it.
func pointsAt(sel string, maxGap int) string {
	return fmt.Sprintf(`(() => {
		const el = document.querySelector(%q);
		const ring = document.querySelector('#story-overlay .story-ring:not(.other)');
		const arrow = document.querySelector('#story-overlay .story-arrow');
		if (!el || !ring || !arrow) return {ok: false, why: 'missing ' + [!el && 'target', !ring && 'ring', !arrow && 'arrow'].filter(Boolean).join(', ')};
		const r = el.getBoundingClientRect();
		const cx = r.left + r.width / 2 + scrollX, cy = r.top + r.height / 2 + scrollY;
		const rc = Math.hypot(Number(ring.getAttribute('cx')) - cx, Number(ring.getAttribute('cy')) - cy);
		const rad = Number(ring.getAttribute('r'));
		const end = Math.hypot(Number(arrow.getAttribute('x2')) - cx, Number(arrow.getAttribute('y2')) - cy);
		const b = document.querySelector('#story-callout').getBoundingClientRect();
		const cover = Math.max(0, Math.min(b.right, r.right) - Math.max(b.left, r.left)) * Math.max(0, Math.min(b.bottom, r.bottom) - Math.max(b.top, r.top));
		const gap = Math.hypot(Math.max(b.left - r.right, 0, r.left - b.right), Math.max(b.top - r.bottom, 0, r.top - b.bottom));
		return {ok: rc < 2 && end <= rad + 8 && cover === 0 && gap < %d, ringOff: rc, arrowEnd: end, rad, cover, gap};
	})()`, sel, maxGap)
}

func (p *page) assertPointsAt(beat, sel string, maxGap int) {
	p.t.Helper()
	var v struct {
		OK  bool   `json:"ok"`
		Why string `json:"why"`
	}
	var raw map[string]any
	p.eval(pointsAt(sel, maxGap), &raw)
	b, _ := json.Marshal(raw)
	_ = json.Unmarshal(b, &v)
	if !v.OK {
		p.t.Errorf("beat %s: the callout does not point at %s: %v", beat, sel, raw)
	}
}

// shot saves the viewport as DIR/name.png when DLEDGERLAB_SHOTS is set.
func (p *page) shot(name string) {
	p.t.Helper()
	dir := os.Getenv("DLEDGERLAB_SHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	if err != nil {
		p.t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644); err != nil {
		p.t.Fatal(err)
	}
}

// shotBoth saves the beat in English and in 简体中文 (the l key switches).
func (p *page) shotBoth(prefix string, n int, beat string) {
	p.t.Helper()
	if os.Getenv("DLEDGERLAB_SHOTS") == "" {
		return
	}
	name := fmt.Sprintf("%s-%02d-%s", prefix, n, beat)
	p.shot(name + "-en")
	p.key("l")
	p.waitFor(`document.documentElement.lang === 'zh-CN' && /[\u4e00-\u9fff]/.test(document.querySelector('#story-title').textContent)`)
	p.story()
	p.shot(name + "-zh")
	p.key("l")
	p.waitFor(`document.documentElement.lang === 'en'`)
	p.story()
}

// hanRe matches a Chinese character.
var hanRe = regexp.MustCompile(`\p{Han}`)

// firstVisit opens the page as someone who has never been here.
func firstVisit(t *testing.T, w, h int64) *page {
	t.Helper()
	base, _ := setup(t)
	p := openSized(t, base+"?play", w, h)
	p.eval(`localStorage.removeItem('dledgerlab.played'); localStorage.removeItem('dledgerlab.lang'); true`, nil)
	if err := chromedp.Do(p.ctx, chromedp.Navigate(base)); err != nil {
		t.Fatal(err)
	}
	p.waitFor("window.dledgerLab && window.dledgerLab.frame && document.body.dataset.ready === 'true'")
	return p
}

// TestStoryFirstVisit: a first visit at 1366×768 starts the story, paused
// before anything happens. Next plays to the first candidate, where the
// callout points at that broker; on to the leader, then to the committed
// message, solid on a majority. At every beat the picture, the callout and
// the CommitLog are on screen. A returning visitor lands in the playground.
func TestStoryFirstVisit(t *testing.T) {
	p := firstVisit(t, 1366, 768)
	s := p.story()
	if s.Beat != "start" || s.TimeMs != 0 {
		t.Fatalf("a first visit starts at beat %q at %d ms, want the start at 0 ms", s.Beat, s.TimeMs)
	}
	var playing bool
	p.eval(`dledgerLab.playing`, &playing)
	if playing {
		t.Fatal("the simulation runs at the story's first beat; it should wait for the learner")
	}
	p.assertInViewport(s.Beat, desktop...)
	ways := []string{"right", "space", "button"}
	for k := 0; s.Beat != "candidate"; k++ {
		s = p.next(ways[k%3])
		p.assertInViewport(s.Beat, desktop...)
	}
	cand := int(s.Ctx["cand"].(float64))
	var role string
	p.eval(fmt.Sprintf(`document.querySelector('#cluster [data-node-id="%d"]').dataset.role`, cand), &role)
	if role != "candidate" {
		t.Fatalf("at the candidate beat broker %d is drawn as %q", cand, role)
	}
	p.assertPointsAt(s.Beat, fmt.Sprintf(`#cluster [data-node-id="%d"] .timer-track`, cand), 120)
	for s.Beat != "leader" {
		s = p.next("right")
		p.assertInViewport(s.Beat, desktop...)
	}
	lead := int(s.Ctx["lead"].(float64))
	p.eval(fmt.Sprintf(`document.querySelector('#cluster [data-node-id="%d"]').dataset.role`, lead), &role)
	if role != "leader" {
		t.Fatalf("at the leader beat broker %d is drawn as %q", lead, role)
	}
	p.assertPointsAt(s.Beat, fmt.Sprintf(`#cluster [data-node-id="%d"] .timer-track`, lead), 120)
	for s.Beat != "committed" {
		s = p.next("space")
		p.assertInViewport(s.Beat, desktop...)
	}
	// Solid on a majority: committed cells, filled with their term's colour.
	// (The log table redraws a moment after the picture: wait for it.)
	p.waitFor(`[...document.querySelectorAll('#logview .cells[data-log-node] > .e[data-committed="true"]')]
		.filter(e => (e.title || '').includes('hello') && getComputedStyle(e).backgroundColor !== 'rgb(255, 255, 255)').length >= 2`)
	// "What happened" names the story, not the learner, for its produce.
	p.waitFor(`(() => { const k = [...document.querySelectorAll('#events li[data-kind="action"]')].map(e => e.querySelector('b').textContent + ' ' + e.querySelector('.ev-kind').textContent);
		return k.length > 0 && k.every(x => x === 'Story acted'); })()`)
	i := int(s.Ctx["i"].(float64))
	p.assertPointsAt(s.Beat, fmt.Sprintf(`#logview .cells[data-log-node="%d"] > .e[data-index="%d"]`, lead, i), 400)

	// Back returns to the previous beat, the same moment as before.
	prev := s
	p.key(kb.ArrowLeft)
	p.waitFor(fmt.Sprintf(`dledgerLab.story && dledgerLab.story.index === %d`, s.Index-1))
	back := p.story()
	if back.Beat != "ack" {
		t.Fatalf("Back from the committed beat shows %q, want the ack", back.Beat)
	}
	s = p.next("right")
	if s.Beat != prev.Beat || s.TimeMs != prev.TimeMs {
		t.Fatalf("after Back, Next reaches %s at %d ms; first time it was %s at %d ms", s.Beat, s.TimeMs, prev.Beat, prev.TimeMs)
	}

	// A returning visitor lands in the free playground.
	if err := chromedp.Do(p.ctx, chromedp.Reload()); err != nil {
		t.Fatal(err)
	}
	p.waitFor("window.dledgerLab && window.dledgerLab.frame && document.body.dataset.ready === 'true'")
	p.waitFor(`dledgerLab.story === null && dledgerLab.playing && document.querySelector('#story-callout').hidden`)
}

// TestStoryRunsToTheEnd plays the whole story with three seeds: every
// beat, in order, then Next leaves for the playground; no console errors.
// The first seed is also played in 简体中文 halfway, and with
// DLEDGERLAB_SHOTS every beat is saved in both languages, on a desktop and
// on a phone.
func TestStoryRunsToTheEnd(t *testing.T) {
	base, _ := setup(t)
	type run struct {
		seed int
		w, h int64
		shot string
	}
	runs := []run{{1, 1366, 768, "desktop"}, {2, 1366, 768, "desktop"}, {5, 1366, 768, ""}}
	if os.Getenv("DLEDGERLAB_SHOTS") != "" {
		runs = append(runs, run{1, 390, 844, "phone"})
		defer t.Logf("screenshots of every beat in %s", os.Getenv("DLEDGERLAB_SHOTS"))
	}
	for _, r := range runs {
		t.Run(fmt.Sprintf("seed%d-%dx%d", r.seed, r.w, r.h), func(t *testing.T) {
			p := openSized(t, fmt.Sprintf("%s?story=%d", base, r.seed), r.w, r.h)
			p.eval(`localStorage.removeItem('dledgerlab.lang'); true`, nil)
			s := p.story()
			var all []string
			p.eval(`dledgerLab.story.all`, &all)
			var seen []string
			for n := 0; ; n++ {
				if s.Main {
					seen = append(seen, s.Beat)
				}
				if r.w > 1000 {
					p.assertInViewport(s.Beat, desktop...)
				} else {
					p.assertInViewport(s.Beat, phone...)
				}
				if r.shot != "" {
					p.shotBoth(fmt.Sprintf("story-%s-seed%d", r.shot, r.seed), n, s.Beat)
				}
				if s.Beat == all[len(all)-1] {
					break
				}
				if n > 40 {
					t.Fatalf("the story did not end after %d beats: %v", n, seen)
				}
				if r.seed == 5 && (s.Beat == "produce" || s.Beat == "split") {
					// Back over a beat the story acted for (a produce; a split
					// and a produce), then Next: the same moment again, and
					// the story's actions are not done twice.
					p.key(kb.ArrowLeft)
					p.waitFor(fmt.Sprintf(`dledgerLab.story && dledgerLab.story.index === %d`, s.Index-1))
					p.story()
					again := p.next("right")
					if again.Beat != s.Beat || again.TimeMs != s.TimeMs {
						t.Fatalf("Back and Next from %s at %d ms reach %s at %d ms", s.Beat, s.TimeMs, again.Beat, again.TimeMs)
					}
					var acts int
					p.eval(`dledgerLab.frame.timeline.actions.length`, &acts)
					if want := map[string]int{"produce": 1, "split": 5}[s.Beat]; acts != want {
						t.Fatalf("after Back and Next at %s the run has %d actions, want %d", s.Beat, acts, want)
					}
				}
				s = p.next("right")
			}
			if strings.Join(seen, " ") != strings.Join(all, " ") {
				t.Fatalf("seed %d: beats %v, want every beat in order %v", r.seed, seen, all)
			}
			if r.seed == 1 {
				// In 简体中文 the callout speaks Chinese.
				p.key("l")
				p.waitFor(`document.documentElement.lang === 'zh-CN'`)
				var text string
				p.eval(`document.querySelector('#story-text').textContent`, &text)
				if !hanRe.MatchString(text) {
					t.Errorf("in 简体中文 the last beat says %q", text)
				}
				p.key("l")
				p.waitFor(`document.documentElement.lang === 'en'`)
			}
			// Next at the last beat leaves for the free playground.
			p.key(kb.ArrowRight)
			p.waitFor(`dledgerLab.story === null && dledgerLab.playing && !document.querySelector('#notice').hidden && document.querySelector('#story-callout').hidden`)
		})
	}
}

// TestStoryLeavesWhenTheLearnerActs: crashing a broker mid-story ends the
// story with a sentence saying so, and the playground goes on from there;
// so does changing the speed, and Esc.
func TestStoryLeavesWhenTheLearnerActs(t *testing.T) {
	base, _ := setup(t)
	p := openSized(t, base+"?story=3", 1366, 768)
	s := p.story()
	for s.Beat != "leader" {
		s = p.next("right")
	}
	at := s.TimeMs
	p.click(`#cluster [data-node-id="1"]`)
	p.click(`[data-action="crash"]`)
	p.waitFor(`dledgerLab.story === null && document.querySelector('#notice-text').textContent.includes('Broker 1')`)
	p.waitFor(fmt.Sprintf(`dledgerLab.playing && dledgerLab.frame.time_ms > %d && dledgerLab.frame.nodes[0].state === 'crashed'`, at))
	// The Story button starts it again, from the beginning.
	p.click(`[data-action="story"]`)
	if s := p.story(); s.Beat != "start" || s.TimeMs != 0 {
		t.Fatalf("the Story button starts at %s (%d ms)", s.Beat, s.TimeMs)
	}
	// Changing the speed leaves too, and says so.
	p.choose(`[data-action="speed"]`, "1")
	p.waitFor(`dledgerLab.story === null && dledgerLab.playing && document.querySelector('#notice-text').textContent.includes('speed')`)
	// Esc leaves too.
	p.click(`[data-action="story"]`)
	p.story()
	p.key(kb.Escape)
	p.waitFor(`dledgerLab.story === null && dledgerLab.playing`)
}

// TestStoryTextsInBothLanguages: every beat (and each of its variants) has
// an English and a 简体中文 title and text, with the same placeholders.
func TestStoryTextsInBothLanguages(t *testing.T) {
	p := open(t, "")
	var texts map[string][]struct {
		Key string            `json:"key"`
		En  map[string]string `json:"en"`
		Zh  map[string]string `json:"zh"`
	}
	p.eval(`(async () => {
		const i18n = await import('./js/i18n.js');
		const story = await import('./js/story.js');
		const keys = story.storyKeys();
		const keep = i18n.currentLang();
		const out = {};
		for (const [beat, ks] of Object.entries(keys)) {
			out[beat] = ks.map((k) => {
				const one = (lang) => { i18n.setLang(lang); return {title: i18n.storyT(k + '.title'), text: i18n.storyT(k + '.text')}; };
				return {key: k, en: one('en'), zh: one('zh')};
			});
		}
		i18n.setLang(keep);
		return out;
	})()`, &texts)
	if len(texts) < 15 {
		t.Fatalf("only %d beats have texts", len(texts))
	}
	ph := regexp.MustCompile(`\{\w+\}`)
	for beat, variants := range texts {
		for _, v := range variants {
			for _, part := range []string{"title", "text"} {
				en, zh := v.En[part], v.Zh[part]
				if en == "" || en == v.Key+"."+part || zh == "" || zh == v.Key+"."+part {
					t.Errorf("beat %s (%s): no %s in both languages: en %q, zh %q", beat, v.Key, part, en, zh)
					continue
				}
				if en == zh || !hanRe.MatchString(zh) {
					t.Errorf("beat %s (%s): the 简体中文 %s is not Chinese: %q", beat, v.Key, part, zh)
				}
				pe, pz := ph.FindAllString(en, -1), ph.FindAllString(zh, -1)
				if strings.Join(uniq(pe), ",") != strings.Join(uniq(pz), ",") {
					t.Errorf("beat %s (%s) %s: placeholders differ: en %v, zh %v", beat, v.Key, part, pe, pz)
				}
			}
		}
	}
}

// uniq returns the distinct strings of xs, sorted.
func uniq(xs []string) []string {
	seen := map[string]bool{}
	var out []string
	for _, x := range xs {
		if !seen[x] {
			seen[x] = true
			out = append(out, x)
		}
	}
	for i := 1; i < len(out); i++ {
		for j := i; j > 0 && out[j] < out[j-1]; j-- {
			out[j], out[j-1] = out[j-1], out[j]
		}
	}
	return out
}

// TestLayoutLogUnderPicture: at 1366×768 the CommitLog sits right under the
// picture and both fit the first screen; its cells are at least 18 px and
// tell committed (solid) from uncommitted (hollow) at a glance; "What
// happened" is beside the picture; no card stretches into an empty gap.
// On a phone (390×844) nothing is wider than the screen.
func TestLayoutLogUnderPicture(t *testing.T) {
	base, _ := setup(t)
	p := openSized(t, base+"?play", 1366, 768)
	p.choose(`[data-action="speed"]`, "2")
	p.leader(0, 0)
	p.eval(`document.querySelector('#produce-body').value = 'layout'`, nil)
	p.click(`[data-action="produce"]`)
	p.waitFor(entryCells("layout") + `.filter(c => c.committed).length === 3`)
	p.eval(`scrollTo(0, 0); true`, nil) // the click scrolled to the Produce button
	p.waitFor(`scrollY === 0 && dledgerLab.drawn`)
	var v struct {
		Gap         float64 `json:"gap"`
		Picture     bool    `json:"picture"`
		Log         bool    `json:"log"`
		Events      bool    `json:"events"`
		EventsSide  bool    `json:"eventsSide"`
		CellW       float64 `json:"cellW"`
		CellH       float64 `json:"cellH"`
		Solid       string  `json:"solid"`
		Hollow      string  `json:"hollow"`
		StageBottom float64 `json:"stageBottom"`
	}
	p.eval(`(() => {
		const inside = (el) => { const r = el.getBoundingClientRect(); return r.width > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth; };
		const stage = document.querySelector('.stage').getBoundingClientRect();
		const logs = document.querySelector('.logs').getBoundingClientRect();
		const cell = document.querySelector('#logview .cells[data-log-node] > .e.committed').getBoundingClientRect();
		const ev = document.querySelector('.events').getBoundingClientRect();
		const pic = document.querySelector('#cluster').getBoundingClientRect();
		return {
			gap: logs.top - stage.bottom, picture: inside(document.querySelector('#cluster')), log: inside(document.querySelector('#logview .log-grid')),
			events: inside(document.querySelector('#events-title')), eventsSide: ev.left >= pic.right,
			cellW: cell.width, cellH: cell.height, stageBottom: stage.bottom,
			solid: getComputedStyle(document.querySelector('#logview .e.committed')).backgroundColor,
			hollow: getComputedStyle(document.querySelector('.legend .e-demo:not(.committed)')).backgroundColor,
		};
	})()`, &v)
	if v.Gap < 0 || v.Gap > 16 {
		t.Errorf("the CommitLog starts %.0f px below the picture's card; want it right under (≤ 16 px)", v.Gap)
	}
	if !v.Picture || !v.Log {
		t.Errorf("at 1366×768 the picture (%v) and the CommitLog (%v) are not both on the first screen", v.Picture, v.Log)
	}
	if !v.Events || !v.EventsSide {
		t.Errorf("\"What happened\" is not beside the picture on the first screen (visible %v, beside %v)", v.Events, v.EventsSide)
	}
	if v.CellW < 18 || v.CellH < 18 {
		t.Errorf("log cells are %.0f×%.0f px; want at least 18 px", v.CellW, v.CellH)
	}
	if v.Solid == v.Hollow || v.Solid == "rgb(255, 255, 255)" {
		t.Errorf("committed cells (%s) look like uncommitted ones (%s)", v.Solid, v.Hollow)
	}
	p.shot("layout-desktop")

	phone := openSized(t, base+"?play", 390, 844)
	var w struct {
		Scroll  float64 `json:"scroll"`
		Picture bool    `json:"picture"`
		Width   float64 `json:"width"`
	}
	phone.eval(`(() => { const r = document.querySelector('#cluster').getBoundingClientRect();
		return {scroll: document.documentElement.scrollWidth, picture: r.top >= 0 && r.bottom <= innerHeight && r.width > 300, width: r.width}; })()`, &w)
	if w.Scroll > 390 {
		t.Errorf("on a 390 px phone the page is %.0f px wide", w.Scroll)
	}
	if !w.Picture {
		t.Errorf("on a phone the picture (%.0f px wide) is not on the first screen", w.Width)
	}
	phone.shot("layout-phone")
}
