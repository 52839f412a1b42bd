package web_test

// The page's live mode on a Controller-mode launcher (`dledgerlab cluster
// --mode controller`), with a stand-in launcher: Controller mode's
// simulator makes the frames, dressed as native/cluster's CtlLive dresses
// the real processes' ("live": true, states "running", "killed", "paused",
// "restarting"), and takes the page's actions with the admin token. The
// real launcher is tested in native/ctllive_test.go.

import (
	"encoding/json"
	"fmt"
	"net/http"
	"net/http/httptest"
	"sync"
	"testing"
	"time"

	"github.com/gorilla/websocket"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/web"
)

const ctlFakeToken = "ctl-token"

// ctlFakeLauncher serves the page and a Controller-mode live view of a
// simulated run: frames 10 times a second, the run advancing 100 ms each,
// actions through POST /v1/cluster/actions. Node 2 (controller 2) is
// shown "restarting" (a process that does not answer yet).
func ctlFakeLauncher(t *testing.T) *httptest.Server {
	run, err := ctlsim.NewRun(ctlsim.Settings{Seed: 1})
	require.NoError(t, err)
	var mu sync.Mutex
	frame := func() ctlsim.View {
		mu.Lock()
		defer mu.Unlock()
		run.Advance(100)
		v := run.Sim().View()
		v.Live, v.Timeline.Actions = true, []ctlsim.TimelineMark{}
		dress := func(id int, st *string) {
			switch {
			case id == 2:
				*st = "restarting"
			case *st == ctlsim.StateUp:
				*st = "running"
			case *st == ctlsim.StateCrashed:
				*st = "killed"
			}
		}
		for i := range v.Controllers {
			dress(v.Controllers[i].ID, &v.Controllers[i].State)
		}
		for i := range v.Brokers {
			dress(v.Brokers[i].Node, &v.Brokers[i].State)
		}
		return v
	}
	mux := http.NewServeMux()
	up := websocket.Upgrader{}
	mux.HandleFunc("/v1/watch", func(w http.ResponseWriter, r *http.Request) {
		conn, err := up.Upgrade(w, r, nil)
		if err != nil {
			return
		}
		defer conn.Close()
		go func() {
			for {
				if _, _, err := conn.ReadMessage(); err != nil {
					return
				}
			}
		}()
		for {
			if err := conn.WriteJSON(frame()); err != nil {
				return
			}
			time.Sleep(100 * time.Millisecond) // a launcher's pace
		}
	})
	mux.HandleFunc("POST /v1/cluster/actions", func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("Authorization") != "Bearer "+ctlFakeToken {
			w.WriteHeader(http.StatusForbidden)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "FORBIDDEN", "message": "wrong admin token"}})
			return
		}
		var a sim.Action
		if err := json.NewDecoder(r.Body).Decode(&a); err != nil {
			w.WriteHeader(http.StatusBadRequest)
			return
		}
		mu.Lock()
		err := run.Do(a)
		mu.Unlock()
		if err != nil {
			w.WriteHeader(http.StatusConflict)
			json.NewEncoder(w).Encode(map[string]any{"error": map[string]string{"code": "CONFLICT", "message": err.Error()}})
			return
		}
		json.NewEncoder(w).Encode(map[string]any{"ok": true})
	})
	mux.Handle("/", web.Handler())
	srv := httptest.NewServer(mux)
	t.Cleanup(srv.Close)
	return srv
}

// TestControllerModeLiveDrawsTheLaunchersFrames: opened with ?live on a
// Controller-mode launcher, the page draws its frames in Controller mode
// (the simulator's mode switch, run form and lessons are gone), shows a
// process that does not answer yet as down, pauses a broker and crashes
// the master through its controls, and draws the new master.
func TestControllerModeLiveDrawsTheLaunchersFrames(t *testing.T) {
	setup(t) // skips without Chromium, as every browser test
	srv := ctlFakeLauncher(t)
	p := openURL(t, srv.URL+"/?live#admin="+ctlFakeToken)
	p.eval(`localStorage.setItem('dledgerlab.lang', 'en')`, nil)
	p.waitFor(`dledgerLab.mode === 'controller' && document.body.dataset.mode === 'controller' && dledgerLab.frame.live === true`)
	p.waitFor(shownInViewport(`#ctl-stage`))
	var hidden bool
	p.eval(`!document.querySelector('.mode-switch').getClientRects().length
		&& !document.querySelector('#ctl-seed').getClientRects().length
		&& !document.querySelector('[data-action="ctl-new-run"]').getClientRects().length
		&& !document.querySelector('[data-action="lessons"]').getClientRects().length
		&& !document.querySelector('[data-action="speed"]').getClientRects().length
		&& !document.querySelector('#ctl-link-from').getClientRects().length
		&& !document.querySelector('[data-action="ctl-link"]').getClientRects().length`, &hidden)
	assert.True(t, hidden, "the simulator's controls are hidden, and the Link row its processes do not take")
	// "restarting" is drawn down; the real state stays in live_state.
	p.waitFor(`document.querySelector('#ctl-stage [data-node="2"]').dataset.state === 'crashed' && dledgerLab.frame.controllers[1].live_state === 'restarting'`)
	old, _ := p.ctlMaster(0, 1)

	// Pause a slave, then crash the master, from the page's controls.
	slave := old%3 + 1
	p.click(fmt.Sprintf(`#ctl-stage [data-node="%d"]`, 3+slave))
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').getAttribute('aria-pressed') === 'true'`, 3+slave))
	p.click(`[data-action="ctl-pause"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'paused'`, 3+slave))
	p.click(`[data-action="ctl-resume"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'up'`, 3+slave))
	p.click(fmt.Sprintf(`#ctl-stage [data-node="%d"]`, 3+old))
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').getAttribute('aria-pressed') === 'true'`, 3+old))
	p.click(`[data-action="ctl-crash"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#ctl-stage [data-node="%d"]').dataset.state === 'crashed' && dledgerLab.frame.brokers[%d].live_state === 'killed'`, 3+old, old-1))
	next, _ := p.ctlMaster(old, 1)
	assert.NotEqual(t, old, next)

}
