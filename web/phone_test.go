package web_test

import (
	"strings"
	"testing"
)

// On a phone (390×844) the playground is for learning too: every label in
// the picture is at least 11 px, the CommitLog comes right after the
// picture, and the control cards wait folded behind their headings below
// it (a heading opens its card).
func TestPhoneLayout(t *testing.T) {
	base, _ := setup(t)
	p := openSized(t, base+"?play", 390, 844)
	p.waitFor(`dledgerLab.frame && dledgerLab.frame.nodes.some((n) => n.role === 'leader')`)
	p.shot("phone-play-en")
	var m struct {
		Smallest   float64  `json:"smallest"`
		SmallText  string   `json:"smallText"`
		Order      []string `json:"order"`
		Folded     []string `json:"folded"`
		Open       []string `json:"open"`
		PictureBot float64  `json:"pictureBottom"`
		LogTop     float64  `json:"logTop"`
	}
	p.eval(`(() => {
		const texts = [...document.querySelectorAll('#cluster text')].filter((e) => e.getBoundingClientRect().height > 0 && e.textContent.trim());
		let smallest = 1e9, smallText = '';
		for (const e of texts) {
			const px = parseFloat(getComputedStyle(e).fontSize) * (e.getScreenCTM() ? e.getScreenCTM().a : 1);
			if (px < smallest) { smallest = px; smallText = e.textContent; }
		}
		const top = (sel) => { const el = document.querySelector(sel); return el ? el.getBoundingClientRect().top + scrollY : -1; };
		const cards = [...document.querySelectorAll('aside .card')];
		return {
			smallest, smallText,
			order: [...document.querySelectorAll('main > *')].filter((e) => e.offsetParent !== null).sort((a, b) => a.getBoundingClientRect().top - b.getBoundingClientRect().top).map((e) => e.id || e.className),
			folded: cards.filter((c) => c.classList.contains('folded') && c.getClientRects().length).map((c) => c.querySelector('h2') && c.querySelector('h2').textContent),
			open: cards.filter((c) => !c.classList.contains('folded')).map((c) => c.querySelector('h2') && c.querySelector('h2').textContent),
			pictureBottom: document.querySelector('#cluster').getBoundingClientRect().bottom + scrollY,
			logTop: top('.logs'),
		};
	})()`, &m)
	t.Logf("%+v", m)
	var small []string
	p.eval(`[...document.querySelectorAll('#cluster text')].filter((e) => e.getBoundingClientRect().height > 0 && e.textContent.trim()).map((e) => [parseFloat(getComputedStyle(e).fontSize) * e.getScreenCTM().a, e.getAttribute('class'), e.textContent]).filter((x) => x[0] < 11).map((x) => x.join(' | '))`, &small)
	t.Logf("small: %q", small)
	if m.Smallest < 11 {
		t.Errorf("the smallest label in the picture, %q, is %.1f px; want at least 11", m.SmallText, m.Smallest)
	}
	if len(m.Order) < 3 || m.Order[0] != "card stage" || !strings.HasPrefix(m.Order[1], "card logs") {
		t.Errorf("on a phone the picture, then the CommitLog, then the controls; the page has %q", m.Order)
	}
	if m.LogTop-m.PictureBot > 150 {
		t.Errorf("the CommitLog starts %.0f px below the picture", m.LogTop-m.PictureBot)
	}
	want := []string{"Network", "Producer and consumer", "Run and rules"}
	if len(m.Folded) != len(want) || m.Folded[0] != want[0] || m.Folded[1] != want[1] || m.Folded[2] != want[2] {
		t.Errorf("folded cards %q, want %q", m.Folded, want)
	}
	var hidden bool
	p.eval(`document.querySelector('#net-title ~ p').offsetParent === null && document.querySelector('#net-title').getAttribute('aria-expanded') === 'false'`, &hidden)
	if !hidden {
		t.Errorf("the Network card's content shows while folded")
	}
	// A tap on the heading opens the card; Enter on it folds it again.
	p.click("#net-title")
	p.waitFor(`document.querySelector('#net-title ~ p').offsetParent !== null && document.querySelector('#net-title').getAttribute('aria-expanded') === 'true'`)
	p.shot("phone-network-open-en")
	p.eval(`document.querySelector('#net-title').focus(), true`, nil)
	p.key("\r")
	p.waitFor(`document.querySelector('#net-title ~ p').offsetParent === null`)
	// 中文 too.
	p.key("l")
	p.waitFor(`document.documentElement.lang === 'zh-CN'`)
	p.shot("phone-play-zh")
	p.key("l") // leave the page in English for the tests after this one
	p.waitFor(`document.documentElement.lang === 'en'`)

	// A phone turned, or a window made narrow: the drawing widens to the
	// whole stage, then crops to the brokers again, labels still readable.
	viewBoxWidth := `document.querySelector('#cluster').viewBox.baseVal.width`
	var cropped float64
	p.eval(viewBoxWidth, &cropped)
	if cropped >= 640 {
		t.Errorf("on a phone the drawing is cropped to the brokers; its viewBox is %v wide", cropped)
	}
	p.resize(1366, 768)
	p.waitFor(viewBoxWidth + ` === 640`)
	p.resize(390, 844)
	p.waitFor(viewBoxWidth + ` < 640`)
	p.waitFor(`[...document.querySelectorAll('#cluster text')].filter((e) => e.getBoundingClientRect().height > 0 && e.textContent.trim())
		.every((e) => parseFloat(getComputedStyle(e).fontSize) * e.getScreenCTM().a >= 11)`)
}
