package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// ctlMaster waits for an up master broker in the Controller-mode drawing
// other than not, whose SyncStateSet (as the controllers agreed it) has at
// least minSet members, and returns its id and the set.
func (p *page) ctlMaster(not, minSet int) (id int, set []int) {
	p.t.Helper()
	raw := p.waitFor(fmt.Sprintf(`(() => {
		const f = dledgerLab.frame;
		if (!f || f.mode !== 'controller') return false;
		const g = document.querySelector('#ctl-stage [data-role="master"][data-state="up"]');
		if (!g) return false;
		const id = Number(g.dataset.node) - 3;
		const set = f.group.sync_state_set || [];
		if (id === %d || f.group.master !== id || set.length < %d) return false;
		return [id, set];
	})()`, not, minSet))
	var v [2]json.RawMessage
	require.NoError(p.t, json.Unmarshal(raw, &v))
	require.NoError(p.t, json.Unmarshal(v[0], &id))
	require.NoError(p.t, json.Unmarshal(v[1], &set))
	return id, set
}

// shownInViewport is a JS expression: the element matching sel is shown and at
// least partly inside the viewport.
func shownInViewport(sel string) string {
	return fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e || !e.getClientRects().length) return false;
		const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
	})()`, sel)
}

// TestControllerModeSwitch: a learner switches the page to Controller mode
// with the mode switch, sees the controllers apart from the broker group,
// the group state and each broker's CommitLog, crashes the master through
// the page's controls and watches the controllers elect a new one from the
// SyncStateSet; the mode is in the address and in the share link, the
// switches start a run with them, and the switch goes back.
func TestControllerModeSwitch(t *testing.T) {
	p := open(t, "")
	p.eval(`localStorage.setItem('dledgerlab.lang', 'en')`, nil)
	p.click(`[data-action="mode"][data-mode="controller"]`)
	p.waitFor(`dledgerLab.frame.mode === 'controller' && location.hash === '#mode=controller' && document.body.dataset.mode === 'controller'`)
	p.waitFor(shownInViewport(`#ctl-stage`))
	p.waitFor(`!document.querySelector('#cluster').getClientRects().length`) // DLedger mode's drawing is hidden
	var pressed string
	p.eval(`document.querySelector('[data-action="mode"][data-mode="controller"]').getAttribute('aria-pressed')`, &pressed)
	assert.Equal(t, "true", pressed)
	p.eval(`document.querySelectorAll('#ctl-stage [data-node]').length`, new(int))

	p.choose(`[data-action="speed"]`, "5")
	p.click(`[data-action="ctl-producer"]`)
	old, set := p.ctlMaster(0, 3)
	p.waitFor(`document.querySelectorAll('#ctl-logs .cl-row .cl-cell.confirmed').length >= 3`)
	p.waitFor(shownInViewport(`#ctl-logs`) + ` || (document.querySelector('#ctl-logs').scrollIntoView(), false)`)
	var groupLine string
	p.eval(`document.querySelector('#ctl-stage').textContent`, &groupLine)
	assert.Contains(t, groupLine, fmt.Sprintf("master Broker %d", old))
	assert.Contains(t, groupLine, "SyncStateSet {1, 2, 3}")

	// Crash the master through the page: select it, press Crash.
	p.click(fmt.Sprintf(`#ctl-stage [data-node="%d"]`, 3+old))
	p.click(`[data-action="ctl-crash"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'crashed'`, 3+old))
	neu, _ := p.ctlMaster(old, 1)
	assert.Contains(t, set, neu, "the new master comes from the SyncStateSet")
	p.waitFor(fmt.Sprintf(`[...document.querySelectorAll('#events li')].some(li => li.textContent.includes('elected Broker %d master'))`, neu))
	p.waitFor(shownInViewport(`#events`))
	p.eval(`document.querySelector('#ctl-stage').textContent`, &groupLine)
	assert.Contains(t, groupLine, fmt.Sprintf("master Broker %d", neu))
	var violated string
	p.eval(`document.querySelector('#badge').dataset.state`, &violated)
	assert.Equal(t, "ok", violated, "nothing acknowledged was lost")
	p.screenshot("controller-mode-failover.png")

	// The share link opens Controller mode at the same moment.
	var url string
	p.eval(`dledgerLab.share()`, &url)
	require.Contains(t, url, "#mode=controller&run=")
	var at int64
	p.eval(`dledgerLab.frame.time_ms`, &at)
	q := openURL(t, url)
	q.waitFor(fmt.Sprintf(`dledgerLab.frame.mode === 'controller' && dledgerLab.frame.time_ms === %d && document.body.dataset.mode === 'controller'`, at))
	q.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'crashed'`, 3+old))
	q.close()

	// The switches take effect in a new run.
	p.choose(`#ctl-min-isr`, "2")
	p.click(`#ctl-unclean`)
	p.click(`[data-action="ctl-new-run"]`)
	p.waitFor(`dledgerLab.frame.settings.min_in_sync_replicas === 2 && dledgerLab.frame.settings.enable_elect_unclean_master && dledgerLab.frame.time_ms < 1000`)

	// And back to DLedger mode.
	p.click(`[data-action="mode"][data-mode="dledger"]`)
	p.waitFor(`dledgerLab.frame.mode === 'sim' && location.hash === '' && document.body.dataset.mode === 'dledger'`)
	p.waitFor(shownInViewport(`#cluster`))
	p.waitFor(`!document.querySelector('#ctl-stage').getClientRects().length`)
}

// TestControllerModeLooksRight saves Controller mode at a phone's and a
// desktop's size in both languages (with DLEDGERLAB_SHOTS), and checks the
// Chinese page says its parts in Chinese.
func TestControllerModeLooksRight(t *testing.T) {
	base, _ := setup(t)
	for _, size := range []struct {
		name string
		w, h int64
	}{{"desktop", 1366, 768}, {"phone", 390, 844}} {
		p := openSized(t, base+"?play#mode=controller", size.w, size.h)
		p.waitFor(`dledgerLab.frame.mode === 'controller'`)
		p.choose(`[data-action="speed"]`, "5")
		if size.name == "phone" {
			p.click(`#ctl-clients-title`) // the card waits folded on a phone
		}
		p.click(`[data-action="ctl-producer"]`)
		p.ctlMaster(0, 3)
		p.eval(`scrollTo(0, 0)`, nil) // the click scrolled to the producer card
		p.waitFor(shownInViewport(`#ctl-stage`))
		for _, lang := range []string{"en", "zh"} {
			p.eval(fmt.Sprintf(`(document.documentElement.lang.startsWith('zh') ? 'zh' : 'en') === %q || (document.querySelector('[data-action="lang"]').click(), true)`, lang), nil)
			p.waitFor(fmt.Sprintf(`document.documentElement.lang.startsWith(%q)`, map[string]string{"en": "en", "zh": "zh"}[lang]))
			p.shot("controller-" + size.name + "-" + lang)
			var text string
			p.eval(`document.querySelector('#ctl-stage').textContent + document.querySelector('#ctl-logs').textContent`, &text)
			if lang == "zh" {
				assert.Contains(t, text, "Controller 达成一致")
				assert.Contains(t, text, "epoch 文件")
				assert.False(t, strings.Contains(text, "The controllers agreed"), "English left on the Chinese page")
			} else {
				assert.Contains(t, text, "The controllers agreed")
			}
		}
		p.close()
	}
}
