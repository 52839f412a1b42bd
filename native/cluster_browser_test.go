package main

// Browser test of the live view: headless Chromium (as in web/'s playground
// tests) opens the page served by a real `dledgerlab cluster`, kills the
// leader from the page and sees the new leader drawn. Chromium comes from
// /usr/bin/chromium (or $CHROMIUM); without it the test skips, except under
// CI=true, where it fails.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/chromedp/chromedp"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/sim"
	"dledgerlab/internal/browsertest"
)

// liveTab is one browser tab on the live view.
type liveTab struct {
	t       *testing.T
	ctx     context.Context
	console browsertest.Console
}

func openLiveView(t *testing.T, url string) *liveTab {
	t.Helper()
	chromium := browsertest.Chromium()
	if chromium == "" {
		browsertest.SkipOrFail(t, browsertest.Missing("the live view browser test"))
	}
	alloc, cancelAlloc := browsertest.Allocator(chromium, t.TempDir())
	tab := &liveTab{t: t}
	ctx, cancel := chromedp.NewContext(alloc, chromedp.WithListener(tab.console.Listen))
	tab.ctx = ctx
	t.Cleanup(func() {
		cancel()
		cancelAlloc()
		tab.console.Fail(t)
	})
	require.NoError(t, chromedp.Do(ctx, chromedp.Navigate(url)))
	tab.waitFor(`window.dledgerLab && dledgerLab.frame && document.body.dataset.ready === 'true'`)
	return tab
}

// openWatchOnly opens l's live view without the admin token, waits for the
// leader to be drawn and checks that the control data-action=action is
// disabled: a watcher cannot act.
func openWatchOnly(t *testing.T, l *launcher, action string) *liveTab {
	t.Helper()
	watcher := openLiveView(t, l.url+"/")
	watcher.drawnLeader(0)
	var pe string
	watcher.eval(fmt.Sprintf(`getComputedStyle(document.querySelector('[data-action=%q]')).pointerEvents`, action), &pe)
	assert.Equal(t, "none", pe, "a watcher's %s control is disabled", action)
	return watcher
}

// axe runs axe-core's WCAG 2.1 A and AA rules (the copy vendored in web/)
// on the live view and fails the test on any violation.
func (p *liveTab) axe(screen string) {
	p.t.Helper()
	vs, err := browsertest.Axe(p.ctx, filepath.Join("..", "web", "testdata", "axe-core", "axe.min.js"))
	require.NoError(p.t, err, screen)
	for _, v := range vs {
		p.t.Errorf("%s: %s", screen, v)
	}
}

func (p *liveTab) waitFor(cond string) []byte {
	p.t.Helper()
	v, err := chromedp.Run(p.ctx, chromedp.Poll[[]byte](cond,
		chromedp.WithPollingInterval(20*time.Millisecond), chromedp.WithPollingTimeout(20*time.Second)))
	if err != nil {
		raw, _ := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte](`JSON.stringify({notice: window.dledgerLab && dledgerLab.lastNotice, nodes: window.dledgerLab && dledgerLab.frame && dledgerLab.frame.nodes.map(n => [n.id, n.live_state, n.role, n.term])})`))
		p.t.Fatalf("waiting for %s: %v (page: %s)", cond, err, raw)
	}
	return v
}

func (p *liveTab) eval(expr string, out any) {
	p.t.Helper()
	raw, err := chromedp.Run(p.ctx, chromedp.Evaluate[[]byte](expr))
	require.NoError(p.t, err, expr)
	if out != nil {
		require.NoError(p.t, json.Unmarshal(raw, out), "%s: %s", expr, raw)
	}
}

// drawnLeader waits for a leader drawn up that is not `not` and returns its id.
func (p *liveTab) drawnLeader(not int) int {
	p.t.Helper()
	raw := p.waitFor(fmt.Sprintf(`(() => {
		const gs = [...document.querySelectorAll('#cluster [data-node-id][data-role="leader"][data-state="up"]')];
		return gs.length === 1 && Number(gs[0].dataset.nodeId) !== %d ? Number(gs[0].dataset.nodeId) : false;
	})()`, not))
	var id int
	require.NoError(p.t, json.Unmarshal(raw, &id))
	return id
}

// TestLiveViewKillLeaderFromPage: the live view of a real 3-broker cluster
// draws the leader; the instructor selects it and presses Crash; the
// launcher kills its process and the page draws the new leader.
func TestLiveViewKillLeaderFromPage(t *testing.T) {
	l := startLauncher(t, t.TempDir(), 3)
	l.waitView("one leader", 15*time.Second, oneLeader)

	// A watcher without the token: the page draws, the controls are disabled.
	watcher := openWatchOnly(t, l, "crash")
	var live bool
	watcher.eval(`!!document.querySelector('[data-live="true"]') && dledgerLab.frame.mode === 'live'`, &live)
	assert.True(t, live, "the page is in live mode")
	// A first visit to the live view is not the simulator's story.
	var noStory bool
	watcher.eval(`dledgerLab.story === null && document.querySelector('#story-callout').hidden && document.querySelector('[data-action="story"]').hidden`, &noStory)
	assert.True(t, noStory, "the live view starts no story and offers none")
	watcher.axe("live view, watch only")

	// The instructor's tab (the URL the launcher prints).
	p := openLiveView(t, l.url+"/?live#admin="+l.token)
	var hash string
	p.eval(`location.hash`, &hash)
	assert.Empty(t, hash, "the token leaves the address bar")
	lead := p.drawnLeader(0)
	p.eval(fmt.Sprintf(`document.querySelector('#cluster [data-node-id="%d"]').dispatchEvent(new MouseEvent('click', {bubbles: true})), true`, lead), nil)
	p.waitFor(fmt.Sprintf(`document.querySelector('#sel-name').textContent.includes('%d') && !document.querySelector('[data-action="crash"]').disabled`, lead))
	p.eval(`document.querySelector('[data-action="crash"]').click(), true`, nil)

	p.waitFor(fmt.Sprintf(`document.querySelector('#cluster [data-node-id="%d"]').dataset.state === 'crashed' && dledgerLab.frame.nodes[%d].live_state === 'killed'`, lead, lead-1))
	// The card says what happened to the real process, not just "crashed".
	p.waitFor(fmt.Sprintf(`document.querySelector('#cluster [data-node-id="%d"]').textContent.includes('killed')`, lead))
	next := p.drawnLeader(lead)
	assert.NotEqual(t, lead, next)
	v := l.waitView("the launcher agrees", 5*time.Second, func(v sim.ClusterView) bool { return oneLeader(v) && leaders(v)[0] == next })
	assert.Equal(t, "killed", v.Nodes[lead-1].State)
	watcher.drawnLeader(lead) // the watcher sees it too
	p.axe("live view, instructor, a broker killed")
}

// The live view draws the real brokers' messages, and never shows a
// cluster that is gone: when the launcher
// stops, a banner says so and the picture turns grey within 2 s; when a
// launcher serves that address again, the page reconnects by itself. The
// instructor switches PreVote on the real brokers from the page (the
// safety rules stay in the simulator and are not offered).
func TestLiveViewSaysWhenTheLauncherStopsAndSwitchesRules(t *testing.T) {
	l := startLauncher(t, t.TempDir(), 3)
	l.waitView("one leader", 15*time.Second, oneLeader)
	p := openLiveView(t, l.url+"/?live#admin="+l.token)
	p.drawnLeader(0)
	// The real brokers' heartbeats are drawn as short-lived arrows.
	p.waitFor(`dledgerLab.frame.messages.some((m) => m.type === 'heartbeat') && document.querySelector('#cluster [data-msg-id]') !== null`)
	p.shot("live-messages-en")
	var banner bool
	p.eval(`document.querySelector('#live-lost').hidden && !document.documentElement.classList.contains('live-lost')`, &banner)
	assert.True(t, banner, "no banner while frames arrive")

	// Rules: only CheckQuorum and PreVote are offered on real brokers.
	var shown []string
	p.eval(`[...document.querySelectorAll('[data-rule]')].filter((b) => b.closest('label').offsetParent !== null).map((b) => b.dataset.rule)`, &shown)
	assert.Equal(t, []string{"check_quorum", "pre_vote"}, shown)
	p.eval(`document.querySelector('[data-rule="pre_vote"]').checked`, &banner)
	require.True(t, banner, "PreVote is on on the brokers")
	p.eval(`document.querySelector('[data-rule="pre_vote"]').click(), true`, nil)
	l.waitView("PreVote off on the brokers", 10*time.Second, func(v sim.ClusterView) bool { return !v.Settings.PreVote })
	p.waitFor(`!document.querySelector('[data-rule="pre_vote"]').checked && dledgerLab.frame.settings.pre_vote === false`)

	// The launcher stops (its brokers die with it).
	addr := strings.TrimPrefix(l.url, "http://")
	stopped := time.Now()
	require.NoError(t, l.cmd.Process.Kill())
	<-l.done
	p.waitFor(`!document.querySelector('#live-lost').hidden && document.querySelector('#live-lost').textContent.includes('No news from the cluster')`)
	assert.Less(t, time.Since(stopped), 2*time.Second, "the banner comes within 2 s")
	var filter string
	p.eval(`getComputedStyle(document.querySelector('#cluster')).filter`, &filter)
	assert.Contains(t, filter, "grayscale", "the picture is greyed")
	p.shot("live-lost-en")
	p.eval(`document.querySelector('#lang-toggle').click(), true`, nil)
	p.waitFor(`document.querySelector('#live-lost').textContent.includes('收不到集群的消息了')`)
	p.shot("live-lost-zh")
	p.eval(`document.querySelector('#lang-toggle').click(), true`, nil)

	// A launcher on the same address: the page reconnects by itself.
	again := startLauncher(t, t.TempDir(), 3, "--addr", addr)
	again.waitView("one leader", 15*time.Second, oneLeader)
	p.waitFor(`document.querySelector('#live-lost').hidden && !document.documentElement.classList.contains('live-lost')`)
	p.drawnLeader(0)
}

// shot saves the viewport as DIR/name.png when DLEDGERLAB_SHOTS=DIR is set.
func (p *liveTab) shot(name string) {
	p.t.Helper()
	dir := os.Getenv("DLEDGERLAB_SHOTS")
	if dir == "" {
		return
	}
	buf, err := chromedp.Run(p.ctx, chromedp.CaptureScreenshot())
	require.NoError(p.t, err)
	require.NoError(p.t, os.WriteFile(filepath.Join(dir, name+".png"), buf, 0o644))
	p.t.Logf("screenshot %s", filepath.Join(dir, name+".png"))
}

// shots saves name at 1366×768 and 390×844, in English and in 中文 (the
// page's language button), when DLEDGERLAB_SHOTS is set; the tab is left
// at 1366×768 in the language it had.
func (p *liveTab) shots(name string) {
	p.t.Helper()
	if os.Getenv("DLEDGERLAB_SHOTS") == "" {
		return
	}
	for _, sz := range [][2]int64{{390, 844}, {1366, 768}} {
		_, err := chromedp.Run(p.ctx, chromedp.EmulateViewport(sz[0], sz[1]))
		require.NoError(p.t, err)
		for range 2 {
			var lang string
			p.eval(`document.documentElement.lang`, &lang)
			p.shot(fmt.Sprintf("%s-%dx%d-%s", name, sz[0], sz[1], lang))
			p.eval(`document.querySelector('#lang-toggle').click(), true`, nil)
		}
	}
}

// TestLiveViewConsumerGroupFromPage: the instructor starts a consumer of
// group billing with the page's Group field and Start consumer; the
// launcher's consumer reads from the real leader and commits there, and
// the Producer and consumer card shows the delivered count and the group's
// offset on the leader, in English and in 中文. When the leader is killed
// (offsets kept by each broker, the followers not yet synced), the card
// shows the messages delivered again.
func TestLiveViewConsumerGroupFromPage(t *testing.T) {
	l := startLauncher(t, t.TempDir(), 3, "--offsets", "local", "--offset-sync", "1h", "--commit-every", "200ms")
	v := l.waitView("one leader", 15*time.Second, oneLeader)
	lead := leaders(v)[0]
	for _, body := range []string{"a", "b", "c"} {
		code, resp := l.act(l.token, sim.Action{Kind: sim.KindProduce, Topic: "orders", Body: body})
		require.Equal(t, http.StatusOK, code, resp)
	}
	p := openLiveView(t, l.url+"/?live#admin="+l.token)
	p.drawnLeader(0)
	p.eval(`(() => {
		document.querySelector('#produce-topic').value = 'orders';
		document.querySelector('#consumer-group').value = 'billing';
		document.querySelector('#consumer-node').value = '0';
		document.querySelector('[data-action="consumer"]').click();
		return true;
	})()`, nil)
	card := `document.querySelector('#clients [data-consumer]')`
	inView := `(() => { const c = ` + card + `; if (!c) return false; c.scrollIntoView({block: 'center'});
		const r = c.getBoundingClientRect(); return r.top >= 0 && r.bottom <= innerHeight && r.width > 0; })()`
	p.waitFor(card + ` && ` + card + `.textContent.includes('of group billing') && ` + card + `.textContent.includes('3 delivered, 0 delivered again')`)
	p.waitFor(fmt.Sprintf(`%s.textContent.includes('from Broker %d') && %s.querySelector('.held[data-node="%d"]').textContent === 'B%d 3'`, card, lead, card, lead, lead))
	p.waitFor(inView)
	p.shot("live-group-en")
	p.eval(`document.querySelector('#lang-toggle').click(), true`, nil)
	p.waitFor(card + `.textContent.includes('消费组 billing 的消费者') && ` + card + `.textContent.includes('已投递 3 条，重复投递 0 条')`)
	p.eval(`document.querySelector('#lang-toggle').click(), true`, nil)

	code, resp := l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: lead})
	require.Equal(t, http.StatusOK, code, resp)
	p.waitFor(card + `.textContent.includes('3 delivered, 3 delivered again') && ` + card + `.querySelectorAll('code.redone').length === 3`)
	p.waitFor(inView)
	p.shot("live-group-again-en")
}

// TestLiveViewLinkFaultFromPage: the Network card's Link row, the
// simulator's control, works on real brokers. The instructor makes every
// link out of the real leader drop all it carries (from the leader to all,
// loss 100 %, Apply); the followers stop hearing it and elect another
// leader, which the page draws with crosses where its messages are dropped,
// and What happened says what was done. All →
// all with loss 0 puts every link back, and the old leader follows again.
// A watcher without the token sees the row disabled.
func TestLiveViewLinkFaultFromPage(t *testing.T) {
	l := startLauncher(t, t.TempDir(), 3)
	l.waitView("one leader", 15*time.Second, oneLeader)

	openWatchOnly(t, l, "link")

	p := openLiveView(t, l.url+"/?live#admin="+l.token)
	lead := p.drawnLeader(0)
	// apply fills the Link row and presses Apply, in view, as an instructor does.
	apply := func(from, to, latency, loss int) {
		p.t.Helper()
		p.waitFor(`(() => { const b = document.querySelector('[data-action="link"]'); b.scrollIntoView({block: 'center'});
			const r = b.getBoundingClientRect(); return r.width > 0 && r.top >= 0 && r.bottom <= innerHeight && getComputedStyle(b).pointerEvents !== 'none'; })()`)
		p.eval(fmt.Sprintf(`(() => {
			const set = (sel, v) => { const e = document.querySelector(sel); e.value = String(v); e.dispatchEvent(new Event('change', {bubbles: true})); };
			set('#link-from', %d); set('#link-to', %d); set('#link-latency', %d); set('#link-loss', %d);
			document.querySelector('[data-action="link"]').click();
			return true; })()`, from, to, latency, loss), nil)
	}
	apply(lead, 0, 0, 100)
	// What the leader sends now is dropped at once: the picture shows
	// crosses on its links, not messages that never arrive.
	p.waitFor(fmt.Sprintf(`[...dledgerLab.frame.messages].some((m) => m.from === %d && m.dropped) && document.querySelectorAll('#cluster g.drop').length > 0`, lead))
	next := p.drawnLeader(lead)
	assert.NotEqual(t, lead, next)
	// What happened lists the real links set, in view.
	p.waitFor(fmt.Sprintf(`(() => { const li = [...document.querySelectorAll('#events li')].find((e) => e.textContent.includes('link %d→') && e.textContent.includes('loss 100%%'));
		if (!li) return false; li.scrollIntoView({block: 'center'}); const r = li.getBoundingClientRect(); return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight; })()`, lead))
	p.shots("live-link-fault")
	v := l.waitView("the launcher agrees", 5*time.Second, func(v sim.ClusterView) bool { return oneLeader(v) && leaders(v)[0] == next })
	assert.Equal(t, "running", v.Nodes[lead-1].State, "the old leader's process still runs: only its links drop")

	apply(0, 0, 0, 0)
	p.waitFor(`[...document.querySelectorAll('#events li')].some((e) => e.textContent.includes('every link: latency 0 ms, jitter 0 ms, loss 0%'))`)
	v = l.waitView("the old leader following again", 10*time.Second, func(v sim.ClusterView) bool {
		return oneLeader(v) && v.Nodes[lead-1].Role == "follower" && v.Nodes[lead-1].Term == v.Nodes[leaders(v)[0]-1].Term
	})

	// A slow link is drawn slow: the old leader's answers to the leader,
	// held 900 ms by the link, take 900 ms on screen (others 0.6 s), and
	// the note under the picture says how dots are paced.
	apply(lead, leaders(v)[0], 900, 0)
	p.waitFor(fmt.Sprintf(`(() => { const m = dledgerLab.frame.messages.find((m) => m.from === %d && m.to === %d && m.deliver_ms - m.sent_ms >= 900);
		return m !== undefined && document.querySelector('#cluster [data-msg-id="' + m.id + '"]') !== null; })()`, lead, leaders(v)[0]))
	p.waitFor(`(() => { const n = document.querySelector('#live-dots'); n.scrollIntoView({block: 'center'}); const r = n.getBoundingClientRect();
		return r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && n.textContent.includes('or the link’s latency when you set a longer one'); })()`)
	p.shots("live-slow-link")
	apply(0, 0, 0, 0)
	p.axe("live view, instructor, links shaped")
}
