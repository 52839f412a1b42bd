package web_test

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/lessons"
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
	p.waitFor(shownInViewport(`#events`) + ` || (document.querySelector('#events').scrollIntoView({block: 'nearest'}), false)`) // as a learner scrolls to it
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
	// The link's moment is the one it names (the page plays on meanwhile).
	var at int64
	_, err := fmt.Sscanf(url[strings.LastIndex(url, "&t=")+3:], "%d", &at)
	require.NoError(t, err, url)
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
		// Every word in the picture is readable at this size (11 px or more
		// on screen, as TestPhoneLayout asks of DLedger mode's picture).
		var small []string
		p.eval(`[...document.querySelectorAll('#ctl-stage text')].filter((e) => e.getBoundingClientRect().height > 0 && e.textContent.trim())
			.map((e) => [parseFloat(getComputedStyle(e).fontSize) * e.getScreenCTM().a, e.textContent]).filter((x) => x[0] < 11).map((x) => x.join(' | '))`, &small)
		assert.Empty(t, small, "%s: words smaller than 11 px", size.name)
		for _, lang := range []string{"en", "zh"} {
			p.eval(fmt.Sprintf(`(document.documentElement.lang.startsWith('zh') ? 'zh' : 'en') === %q || (document.querySelector('[data-action="lang"]').click(), true)`, lang), nil)
			p.waitFor(fmt.Sprintf(`document.documentElement.lang.startsWith(%q)`, map[string]string{"en": "en", "zh": "zh"}[lang]))
			p.shot("controller-" + size.name + "-" + lang)
			var text string
			p.eval(`document.querySelector('#ctl-stage').textContent + document.querySelector('#ctl-logs').textContent`, &text)
			agreed := map[string]map[string]string{"desktop": {"en": "The controllers agreed", "zh": "Controller 达成一致"}, "phone": {"en": "Agreed: master", "zh": "一致认定"}}[size.name]
			assert.Contains(t, text, agreed[lang])
			if lang == "zh" {
				assert.Contains(t, text, "epoch 文件")
				assert.False(t, strings.Contains(text, agreed["en"]), "English left on the Chinese page")
			}
		}
		p.close()
	}
}

// ctlSelect selects a node of the Controller-mode drawing (a network id)
// by clicking it, as a learner does.
func (p *page) ctlSelect(node int) {
	p.t.Helper()
	p.click(fmt.Sprintf(`#ctl-stage [data-node="%d"]`, node))
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').getAttribute('aria-pressed') === 'true'`, node))
}

// ctlWho finds the network id a lesson line names, from what the page
// shows: a broker number, cN, master, slave, controller-leader, or a name
// the lesson panel lists.
func (p *page) ctlWho(w string) int {
	p.t.Helper()
	raw := p.waitFor(fmt.Sprintf(`(() => {
		const w = %q, f = dledgerLab.frame;
		if (/^[1-3]$/.test(w)) return 3 + Number(w);
		if (/^c[1-3]$/.test(w)) return Number(w.slice(1));
		if (w === 'master') { const g = document.querySelector('#ctl-stage [data-role="master"][data-state="up"]'); return g && f.group.master === Number(g.dataset.node) - 3 && Number(g.dataset.node); }
		if (w === 'slave') { const g = [...document.querySelectorAll('#ctl-stage [data-role="slave"][data-state="up"][data-in-set="true"]')][0]; return g && Number(g.dataset.node); }
		if (w === 'controller-leader') { const g = document.querySelector('#ctl-stage [data-node="1"][data-role="leader"], #ctl-stage [data-node="2"][data-role="leader"], #ctl-stage [data-node="3"][data-role="leader"]'); return g && Number(g.dataset.node); }
		const n = (dledgerLab.lesson && dledgerLab.lesson.names || []).find((x) => x.name === w);
		return n && 3 + n.broker;
	})()`, w))
	var node int
	require.NoError(p.t, json.Unmarshal(raw, &node))
	return node
}

// ctlByHand performs one of a goal's solution lines through the page's
// controls: select the node, press the button; waits and the producer as
// the clients card offers them.
func (p *page) ctlByHand(line string) {
	p.t.Helper()
	f := strings.Fields(line)
	button := map[string]string{"crash": "ctl-crash", "restart": "ctl-restart", "pause": "ctl-pause", "resume": "ctl-resume", "isolate": "ctl-isolate", "cut": "ctl-cut-brokers"}
	switch {
	case button[f[0]] != "":
		node := p.ctlWho(f[1])
		p.ctlSelect(node)
		p.click(fmt.Sprintf(`[data-action=%q]`, button[f[0]]))
		// The next line sees what this one did, as a learner would.
		after := map[string]string{"crash": "n.dataset.state === 'crashed'", "restart": "n.dataset.state === 'up'", "pause": "n.dataset.state === 'paused'",
			"resume": "n.dataset.state === 'up'", "isolate": "dledgerLab.frame.cuts.length > 0", "cut": "dledgerLab.frame.cuts.length > 0"}[f[0]]
		p.waitFor(fmt.Sprintf(`(() => { const n = document.querySelector('#ctl-stage [data-node="%d"]'); return %s })()`, node, after))
	case f[0] == "heal":
		p.click(`[data-action="ctl-heal"]`)
	case f[0] == "produce":
		p.click(`[data-action="ctl-produce"]`)
	case f[0] == "consume":
		p.click(`[data-action="ctl-consumer"]`)
	case f[0] == "producer" && f[1] == "off":
		p.click(`[data-action="ctl-producer-stop"]`)
	case f[0] == "producer":
		p.typeInto(`#ctl-rate`, strings.TrimSuffix(f[1], "/s"))
		p.click(`[data-action="ctl-producer"]`)
	case f[0] == "wait":
		var now int64
		p.eval(`dledgerLab.frame.time_ms`, &now)
		ms := strings.TrimSuffix(f[1], "s")
		var sec float64
		_, err := fmt.Sscan(ms, &sec)
		require.NoError(p.t, err, line)
		p.waitFor(fmt.Sprintf(`dledgerLab.frame.time_ms >= %d`, now+int64(sec*1000)))
	default:
		p.t.Fatalf("no way by hand to %q", line)
	}
}

// TestControllerLessonGoalsByHand plays every Controller-mode lesson in the
// page as the DLedger-mode ones are played: opened from the menu (the page
// switches to Controller mode), each step's Play pressed and its checks
// ticked, then the goal reached by hand with the page's controls, doing
// what its solution does.
func TestControllerLessonGoalsByHand(t *testing.T) {
	all, err := lessons.Controller()
	require.NoError(t, err)
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			p := open(t, "")
			p.eval(`localStorage.setItem('dledgerlab.lang', 'en')`, nil)
			p.choose(`[data-action="speed"]`, "5")
			p.click(`[data-action="lessons"]`)
			p.click(fmt.Sprintf(`[data-action="open-lesson"][data-lesson=%q]`, l.ID))
			p.waitFor(fmt.Sprintf(`document.querySelector('#lesson').dataset.lessonId === %q && dledgerLab.frame.mode === 'controller' && location.hash === '#mode=controller'`, l.ID))
			for i := range l.Steps {
				p.playStep(i)
				p.waitChecks(i)
				p.click(`[data-action="lesson-next"]`)
			}
			p.waitFor(`document.querySelector('#lesson').dataset.page === 'goal'`)
			p.playStep(len(l.Steps))
			for _, s := range l.Goal.Solution {
				p.ctlByHand(s.Text)
			}
			// Done, or a minute of cluster time gone: then say where it stands.
			var start int64
			p.eval(`dledgerLab.frame.time_ms`, &start)
			p.waitFor(fmt.Sprintf(`document.querySelector('#lesson').dataset.done === 'true' || dledgerLab.frame.time_ms > %d`, start+60_000))
			var done string
			p.eval(`document.querySelector('#lesson').dataset.done`, &done)
			if done != "true" {
				var dbg any
				p.eval(`(() => { const f = dledgerLab.frame; return {t: f.time_ms, lesson: f.lesson, group: f.group, acked: f.clients.acked, brokers: f.brokers.map(b => [b.id, b.state, b.role].join(' '))} })()`, &dbg)
				t.Fatalf("the goal was not reached in a minute of cluster time: %v", dbg)
			}
			var solving bool
			p.eval(`document.querySelector('#lesson .lesson-do') !== null`, &solving)
			assert.False(t, solving, `the goal was reached with "Show me"`)
			if l.Order == 1 {
				p.screenshot("controller-lesson-goal.png")
			}
		})
	}
}

// Back in a Controller-mode lesson plays the step again from where it
// began: after step 3 crashed the master and the controllers elected
// another, going back to it brings the old master back up, and Play
// crashes it and ticks the checks again.
func TestControllerLessonBackReplaysTheStep(t *testing.T) {
	p := open(t, "")
	p.choose(`[data-action="speed"]`, "5")
	p.click(`[data-action="lessons"]`)
	p.click(`[data-action="open-lesson"][data-lesson="ctl-elect-from-set"]`)
	p.waitFor(`document.querySelector('#lesson').dataset.lessonId === 'ctl-elect-from-set' && dledgerLab.frame.mode === 'controller'`)
	for i := 0; i < 3; i++ {
		p.playStep(i)
		p.waitChecks(i)
		p.click(`[data-action="lesson-next"]`)
	}
	// Step 4 is shown, and the engine has answered for it (its checks drawn,
	// so the buttons below them stay where they are); the master of step 3
	// is down.
	p.pausedStep(3)
	var crashed []int
	p.eval(`[...document.querySelectorAll('#ctl-stage [data-state="crashed"]')].map((g) => Number(g.dataset.node))`, &crashed)
	require.Len(t, crashed, 1)
	p.click(`[data-action="lesson-back"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#lesson').dataset.step === '2' && document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'up'`, crashed[0]))
	p.playStep(2)
	p.waitChecks(2)
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'crashed'`, crashed[0]))
}
