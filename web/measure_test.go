package web_test

import (
	"io/fs"
	"net/http/httptest"
	"os"
	"testing"

	"github.com/chromedp/chromedp"

	"dledgerlab/web"
)

// TestMeasure reports the playground's figures in headless Chromium: time
// from navigation to the first drawn frame, and the main thread's per-frame
// work (parse + draw) at p95 with 7 brokers and steady traffic. It runs only
// with DLEDGERLAB_MEASURE=1; DLEDGERLAB_SHOTS=dir also saves screenshots.
//
//	DLEDGERLAB_MEASURE=1 go test ./web -run TestMeasure -v -count=1
func TestMeasure(t *testing.T) {
	if os.Getenv("DLEDGERLAB_MEASURE") != "1" {
		t.Skip("set DLEDGERLAB_MEASURE=1 to measure")
	}
	for i := 0; i < 3; i++ {
		p := open(t, "")
		var first float64
		p.eval(`dledgerLab.firstFrameMs`, &first)
		t.Logf("navigation → first drawn frame, load %d: %.0f ms", i+1, first)
		p.close()
	}

	// The same through web.Handler() alone (the embedded engine, which
	// `dledgerlab play` serves brotli-compressed to Chromium), when
	// `make wasm` ran before the build.
	if _, err := fs.Stat(web.FS(), "dledgerlab.wasm"); err == nil {
		srv := httptest.NewServer(web.Handler())
		defer srv.Close()
		for i := 0; i < 3; i++ {
			p := openURL(t, srv.URL+"/?play")
			var first float64
			p.eval(`dledgerLab.firstFrameMs`, &first)
			t.Logf("web.Handler (precompressed): navigation → first drawn frame, load %d: %.0f ms", i+1, first)
			p.close()
		}
	}

	p := open(t, "")
	p.choose(`[data-action="speed"]`, "1")
	p.leader(0, 0)
	p.eval(`document.querySelector('#produce-body').value = 'hello'`, nil)
	p.click(`[data-action="produce"]`)
	p.click(`#cluster [data-node-id="1"]`)
	p.choose(`[data-action="speed"]`, "0.1")
	p.waitFor(`dledgerLab.frame.time_ms > 0 && dledgerLab.frame.messages.length >= 2`)
	p.screenshot("three-brokers.png")

	p.eval(`document.querySelector('#cfg-nodes').value = '7'`, nil)
	p.click(`[data-action="new-run"]`)
	p.waitFor(`dledgerLab.frame.nodes.length === 7`)
	p.choose(`[data-action="speed"]`, "1")
	p.leader(0, 0)
	p.eval(`document.querySelector('#producer-rate').value = '50'`, nil)
	p.click(`[data-action="producer"]`)
	p.click(`[data-action="consumer"]`)
	p.waitFor(`dledgerLab.frame.nodes.some(n => n.commit > 20)`)
	p.eval(`dledgerLab.resetPerf()`, nil)
	p.waitFor(`dledgerLab.perf().samples >= 300`)
	var perf struct {
		P50     float64            `json:"p50"`
		P95     float64            `json:"p95"`
		Max     float64            `json:"max"`
		GoP95   float64            `json:"goP95"`
		Samples int                `json:"samples"`
		FPS     float64            `json:"fps"`
		Views   map[string]float64 `json:"views"`
	}
	p.eval(`dledgerLab.perf()`, &perf)
	var frameBytes int
	p.eval(`JSON.stringify(dledgerLab.frame).length`, &frameBytes)
	t.Logf("7 brokers, 50 msg/s, speed 1×, %d frames at %.0f frames/s, %d-byte frames: main-thread work per frame (parse + draw) p50 %.2f ms, p95 %.2f ms, max %.2f ms; in the worker (Go step + View + JSON) p95 %.2f ms",
		perf.Samples, perf.FPS, frameBytes, perf.P50, perf.P95, perf.Max, perf.GoP95)
	t.Logf("main-thread ms per view over those frames: %v", perf.Views)
	p.screenshot("seven-brokers.png")

	p.click(`[data-action="lang"]`)
	p.click(`#groups [data-chip="1"]`)
	p.click(`#groups [data-chip="2"]`)
	p.click(`[data-action="partition"]`)
	p.waitFor(`(dledgerLab.frame.groups || []).length === 2`)
	p.waitFor(`document.querySelector('#cluster .group-box') !== null`)
	p.choose(`[data-action="speed"]`, "0.1")
	p.screenshot("partition-zh.png")
	p.click(`[data-action="lang"]`)

	if os.Getenv("DLEDGERLAB_SHOTS") != "" {
		phone := open(t, "")
		if err := chromedp.Do(phone.ctx, chromedp.EmulateViewport(420, 900)); err != nil {
			t.Fatal(err)
		}
		phone.choose(`[data-action="speed"]`, "1")
		phone.leader(0, 0)
		phone.click(`[data-action="help"]`)
		phone.waitFor(`document.querySelector('#help').open`)
		phone.screenshot("narrow-help.png")
	}
}
