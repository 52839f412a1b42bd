package main

// Process tests of the Controller-mode live view: `dledgerlab cluster
// --mode controller` runs as its own process with 3 controllers and 3
// brokers; the tests read its /v1/watch frames (core/ctlsim.View, "live":
// true) and act through its action endpoint as the page does.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/url"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/controller"
	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/native/cluster"
)

// startCtlLauncher runs `dledgerlab cluster --mode controller` on free
// ports and waits until it prints the live view's address.
func startCtlLauncher(t *testing.T) *launcher {
	t.Helper()
	dir := t.TempDir()
	base, err := cluster.FreeBasePort("127.0.0.1", 6)
	require.NoError(t, err)
	args := []string{"cluster", "--mode", "controller", "--dir", dir, "--base-port", strconv.Itoa(base),
		"--addr", "127.0.0.1:0", "--broker-timeout", "2s"}
	var logs []string
	for i := 1; i <= 3; i++ {
		logs = append(logs, fmt.Sprintf("controller-%d.log", i), fmt.Sprintf("broker-%d.log", i))
	}
	return runLauncher(t, dir, args, logs)
}

// ctlWatch reads the launcher's /v1/watch frames.
type ctlWatch struct {
	t    *testing.T
	conn *websocket.Conn
	last ctlsim.View
}

func watchCtl(t *testing.T, l *launcher) *ctlWatch {
	t.Helper()
	u := url.URL{Scheme: "ws", Host: strings.TrimPrefix(l.url, "http://"), Path: "/v1/watch"}
	c, _, err := websocket.DefaultDialer.Dial(u.String(), nil)
	require.NoError(t, err)
	t.Cleanup(func() { c.Close() })
	return &ctlWatch{t: t, conn: c}
}

// until reads frames until cond holds for one, or d passes.
func (w *ctlWatch) until(what string, d time.Duration, cond func(v ctlsim.View) bool) ctlsim.View {
	w.t.Helper()
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		w.conn.SetReadDeadline(deadline)
		_, data, err := w.conn.ReadMessage()
		if err != nil {
			break
		}
		var v ctlsim.View
		require.NoError(w.t, json.Unmarshal(data, &v))
		w.last = v
		if cond(v) {
			return v
		}
	}
	out := ctlBrief(w.last)
	for _, e := range w.last.Events {
		out = append(out, fmt.Sprintf("event %+v", e))
	}
	js, _ := json.Marshal(out)
	w.t.Fatalf("no frame with %s within %v; last: %s", what, d, js)
	return w.last
}

// ctlBrief is a frame's processes in a line each, for failure messages.
func ctlBrief(v ctlsim.View) []string {
	out := []string{fmt.Sprintf("group %+v", v.Group)}
	for _, c := range v.Controllers {
		out = append(out, fmt.Sprintf("controller %d %s %s t%d", c.ID, c.State, c.Role, c.Term))
	}
	for _, b := range v.Brokers {
		var log []string
		for _, e := range b.Log {
			log = append(log, fmt.Sprintf("%d:%s@%d", e.Offset, e.Body, e.Epoch))
		}
		out = append(out, fmt.Sprintf("broker %d %s %s max %d confirm %d log %v epochs %v truncated %+v", b.ID, b.State, b.Role, b.MaxOffset, b.Confirm, log, b.Epochs, b.Truncated))
	}
	return out
}

// frameMaster is the master the frame's group names when that broker runs
// and says it is master (0: none).
func frameMaster(v ctlsim.View) int {
	m := int(v.Group.Master)
	if m < 1 || m > len(v.Brokers) {
		return 0
	}
	if b := v.Brokers[m-1]; b.State == "running" && b.Role == "master" {
		return m
	}
	return 0
}

// The live view of a real Controller-mode cluster: its frames are
// ctlsim.Views saying they are live, with every controller and broker
// running, one controller leading and a master with the full
// SyncStateSet. The launcher's producer writes, its entries show up in
// the brokers' CommitLog tails, marked acked. Killing the master through
// the action endpoint shows it killed, and the controllers elect a new
// master from the SyncStateSet, which the frames show; the old master,
// restarted, rejoins as a slave. Bad actions and tokens are refused clearly.
func TestControllerModeLiveViewFollowsMasterKill(t *testing.T) {
	l := startCtlLauncher(t)
	w := watchCtl(t, l)
	var cfg map[string]any
	resp, err := http.Get(l.url + "/live-config.json")
	require.NoError(t, err)
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&cfg))
	resp.Body.Close()
	assert.Equal(t, "controller", cfg["mode"])

	v := w.until("a master and the full SyncStateSet", 30*time.Second, func(v ctlsim.View) bool {
		return frameMaster(v) > 0 && len(v.Group.SyncStateSet) == 3
	})
	assert.Equal(t, "controller", v.Mode)
	assert.True(t, v.Live)
	lead := 0
	for _, c := range v.Controllers {
		assert.Equal(t, "running", c.State, "controller %d", c.ID)
		if c.Role == "leader" {
			lead = c.ID
		}
	}
	assert.NotZero(t, lead, "a controller leads")
	for _, b := range v.Brokers {
		assert.Equal(t, "running", b.State, "broker %d", b.ID)
		assert.Equal(t, 3+b.ID, b.Node)
	}
	master, setBefore := frameMaster(v), slices.Clone(v.Group.SyncStateSet)

	// The launcher's producer: one message, acknowledged, in every tail.
	code, body := l.act(l.token, sim.Action{Kind: sim.KindProduce})
	require.Equal(t, http.StatusOK, code, body)
	w.until("p1#1 acked in every broker's CommitLog", 15*time.Second, func(v ctlsim.View) bool {
		for _, b := range v.Brokers {
			if !slices.ContainsFunc(b.Log, func(e ctlsim.EntryView) bool { return e.Body == "p1#1" && e.Acked && e.Epoch > 0 }) {
				return false
			}
		}
		return v.Clients.Acked == 1 && len(v.Clients.Producers) == 1
	})

	// Refused clearly: a wrong token, an id outside 1..6, a bad partition.
	code, _ = l.act("wrong", sim.Action{Kind: sim.KindCrash, Node: 4})
	assert.Equal(t, http.StatusForbidden, code)
	code, _ = l.act("", sim.Action{Kind: sim.KindCrash, Node: 4})
	assert.Equal(t, http.StatusUnauthorized, code)
	code, body = l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: 7})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "node 7 is not a network id of this cluster")
	code, body = l.act(l.token, sim.Action{Kind: sim.KindPartition, Groups: [][]int{{4}, {4, 5}}})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "broker 1 is in more than one group")
	code, body = l.act(l.token, sim.Action{Kind: sim.KindTransfer, Node: 1})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "UNSUPPORTED")

	// Kill the master's process: a new master from the SyncStateSet.
	code, body = l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: 3 + master})
	require.Equal(t, http.StatusOK, code, body)
	v = w.until("a new master from the SyncStateSet", 30*time.Second, func(v ctlsim.View) bool {
		m := frameMaster(v)
		return m > 0 && m != master && v.Brokers[master-1].State == "killed"
	})
	next := frameMaster(v)
	assert.Contains(t, setBefore, controller.BrokerID(next), "the new master comes from the SyncStateSet")
	assert.NotContains(t, v.Group.SyncStateSet, controller.BrokerID(master), "the dead master left the set")
	assert.Greater(t, v.Group.MasterEpoch, uint64(1))
	assert.True(t, slices.ContainsFunc(v.Events, func(e ctlsim.Event) bool {
		return e.Kind == ctlsim.EventElected && e.Broker == next
	}), "the frame's events say who was elected: %+v", v.Events)
	assert.True(t, slices.ContainsFunc(v.Events, func(e ctlsim.Event) bool {
		return e.Kind == ctlsim.EventAction && e.Action != nil && e.Action.Kind == sim.KindCrash && e.Action.Node == 3+master
	}), "and that the master was killed")
	assert.Contains(t, v.Brokers[master-1].Log[len(v.Brokers[master-1].Log)-1].Body, "p1#1", "a killed broker's CommitLog stays visible")

	// Restarted, the old master follows the new one.
	code, body = l.act(l.token, sim.Action{Kind: sim.KindRestart, Node: 3 + master})
	require.Equal(t, http.StatusOK, code, body)
	w.until("the old master running as a slave", 30*time.Second, func(v ctlsim.View) bool {
		b := v.Brokers[master-1]
		return b.State == "running" && b.Role == "slave" && int(b.Known.Master) == next
	})
}

// inViewport is a JS expression: the element matching sel is shown and at
// least partly inside the viewport.
func inViewport(sel string) string {
	return fmt.Sprintf(`(() => {
		const e = document.querySelector(%q);
		if (!e || !e.getClientRects().length) return false;
		const r = e.getBoundingClientRect();
		return r.width > 0 && r.height > 0 && r.bottom > 0 && r.top < innerHeight && r.right > 0 && r.left < innerWidth;
	})()`, sel)
}

// drawnCtlMaster waits for an up master drawn on #ctl-stage (in the
// viewport) other than broker not, that the drawn group state names, and
// returns its broker id.
func (p *liveTab) drawnCtlMaster(not int) int {
	p.t.Helper()
	raw := p.waitFor(fmt.Sprintf(`(() => {
		const f = dledgerLab.frame;
		if (!f || f.mode !== 'controller') return false;
		const gs = [...document.querySelectorAll('#ctl-stage [data-role="master"][data-state="up"]')];
		if (gs.length !== 1) return false;
		const r = gs[0].getBoundingClientRect();
		if (!(r.width > 0 && r.bottom > 0 && r.top < innerHeight)) return false;
		const id = Number(gs[0].dataset.node) - 3;
		return id !== %d && f.group.master === id && document.querySelector('#ctl-stage').textContent.includes('Broker ' + id) && id;
	})()`, not))
	var id int
	require.NoError(p.t, json.Unmarshal(raw, &id))
	return id
}

// The page on `dledgerlab cluster --mode controller`: it draws the real
// controllers and brokers in Controller mode (the mode switch and the
// simulator's controls are gone: the cluster runs in one mode), a watcher
// without the token cannot act; the instructor selects the master, presses
// Crash, sees it drawn crashed (its process killed) and the new master the
// controllers elected from the SyncStateSet.
func TestControllerModeLivePageCrashesMaster(t *testing.T) {
	l := startCtlLauncher(t)
	w := watchCtl(t, l)
	w.until("a master and the full SyncStateSet", 30*time.Second, func(v ctlsim.View) bool {
		return frameMaster(v) > 0 && len(v.Group.SyncStateSet) == 3
	})

	watcher := openLiveView(t, l.url+"/")
	watcher.eval(`localStorage.setItem('dledgerlab.lang', 'en')`, nil)
	watcher.drawnCtlMaster(0)
	var pe string
	watcher.eval(`getComputedStyle(document.querySelector('[data-action="ctl-crash"]')).pointerEvents`, &pe)
	assert.Equal(t, "none", pe, "a watcher's Crash button is disabled")

	p := openLiveView(t, l.url+"/?live#admin="+l.token)
	p.eval(`localStorage.setItem('dledgerlab.lang', 'en')`, nil)
	p.waitFor(`dledgerLab.mode === 'controller' && document.body.dataset.mode === 'controller' && dledgerLab.frame.live === true`)
	p.waitFor(inViewport(`#ctl-stage`))
	var hidden bool
	p.eval(`!document.querySelector('.mode-switch').getClientRects().length
		&& !document.querySelector('[data-action="ctl-new-run"]').getClientRects().length
		&& !document.querySelector('#ctl-seed').getClientRects().length
		&& !document.querySelector('[data-action="lessons"]').getClientRects().length
		&& !document.querySelector('#cluster').getClientRects().length`, &hidden)
	assert.True(t, hidden, "the mode switch, the run form, lessons and DLedger mode's drawing are hidden")
	// Every controller and broker is drawn, up; one controller leads.
	p.waitFor(`(() => {
		const ns = [...document.querySelectorAll('#ctl-stage [data-node]')];
		return ns.length === 6 && ns.every((n) => n.dataset.state === 'up')
			&& ns.filter((n) => Number(n.dataset.node) <= 3 && n.dataset.role === 'leader').length === 1
			&& ns.filter((n) => Number(n.dataset.node) > 3 && n.dataset.role === 'slave').length === 2;
	})()`)
	master := p.drawnCtlMaster(0)

	node := 3 + master
	p.eval(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dispatchEvent(new MouseEvent('click', {bubbles: true})), true`, node), nil)
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').getAttribute('aria-pressed') === 'true'`, node))
	p.eval(`document.querySelector('[data-action="ctl-crash"]').click(), true`, nil)
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'crashed'
		&& dledgerLab.frame.brokers[%d].live_state === 'killed'`, node, master-1))
	next := p.drawnCtlMaster(master)
	assert.NotEqual(t, master, next)
	v := w.until("the launcher agrees", 10*time.Second, func(v ctlsim.View) bool { return frameMaster(v) == next })
	assert.Equal(t, "killed", v.Brokers[master-1].State)
	watcher.drawnCtlMaster(master) // the watcher sees it too
	var notice string
	p.eval(`dledgerLab.lastNotice || ''`, &notice)
	assert.Empty(t, notice, "no action was refused")
}

// Brain split on real processes, seen in the live view: the master,
// isolated from the page's action, takes a write nobody else gets (not
// acked); the controllers elect another master; after heal the old master
// follows the new epoch and cuts that write, and the frame shows the cut
// entry (as the launcher saw it before) and the truncation event.
func TestControllerModeLiveViewShowsTruncation(t *testing.T) {
	l := startCtlLauncher(t)
	w := watchCtl(t, l)
	v := w.until("a master and the full SyncStateSet", 30*time.Second, func(v ctlsim.View) bool {
		return frameMaster(v) > 0 && len(v.Group.SyncStateSet) == 3
	})
	old := frameMaster(v)
	code, body := l.act(l.token, sim.Action{Kind: sim.KindProduce})
	require.Equal(t, http.StatusOK, code, body)
	w.until("p1#1 acked on every broker", 15*time.Second, func(v ctlsim.View) bool {
		for _, b := range v.Brokers {
			if b.MaxOffset != 1 || len(b.Log) != 1 || !b.Log[0].Acked {
				return false
			}
		}
		return true
	})

	code, body = l.act(l.token, sim.Action{Kind: sim.KindIsolate, Node: 3 + old})
	require.Equal(t, http.StatusOK, code, body)
	v = w.until("the isolation drawn as cuts", 5*time.Second, func(v ctlsim.View) bool { return len(v.Cuts) == 10 })
	assert.Contains(t, v.Cuts, sim.Link{From: 3 + old, To: 1})
	code, body = l.act(l.token, sim.Action{Kind: sim.KindProduce})
	require.Equal(t, http.StatusOK, code, body)
	w.until("p1#2 in the isolated master's CommitLog only, not acked", 10*time.Second, func(v ctlsim.View) bool {
		b := v.Brokers[old-1]
		return b.MaxOffset == 2 && b.Log[1].Body == "p1#2" && !b.Log[1].Acked
	})
	// Heal only once the new master knows it: a slave that has not heard
	// of its election yet still takes the old master's push after heal,
	// and nothing is cut.
	v = w.until("another master elected, and knowing it", 30*time.Second, func(v ctlsim.View) bool {
		m := frameMaster(v)
		return m != 0 && m != old && v.Group.MasterEpoch > 1 && v.Brokers[m-1].Known.MasterEpoch == v.Group.MasterEpoch
	})
	next := frameMaster(v)

	code, body = l.act(l.token, sim.Action{Kind: sim.KindHeal})
	require.Equal(t, http.StatusOK, code, body)
	v = w.until("the old master a slave, its write cut", 30*time.Second, func(v ctlsim.View) bool {
		b := v.Brokers[old-1]
		return b.Role == "slave" && int(b.Known.Master) == next && b.Truncated != nil && len(v.Cuts) == 0
	})
	tr := v.Brokers[old-1].Truncated
	assert.Equal(t, int64(2), tr.From)
	assert.Equal(t, int64(1), tr.To)
	assert.Equal(t, 0, tr.Acked, "the cut write was never acknowledged")
	require.Len(t, tr.Entries, 1)
	assert.Equal(t, "p1#2", tr.Entries[0].Body)
	assert.True(t, slices.ContainsFunc(v.Events, func(e ctlsim.Event) bool {
		return e.Kind == ctlsim.EventTruncated && e.Broker == old && e.From == 2 && e.To == 1
	}), "the truncation is an event: %+v", v.Events)
}
