package web_test

// The playground as a static site (`make site`): web.WriteSite's folder,
// served by Go's plain file server under a sub-path, as a static host such
// as GitHub Pages would serve it. No project code answers the browser.

import (
	"fmt"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/chromedp/chromedp"

	"dledgerlab/lessons"
	"dledgerlab/web"
)

// requestLog records what a file server answered: "path status".
type requestLog struct {
	mu  sync.Mutex
	got []string
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (w *statusWriter) WriteHeader(code int) {
	w.status = code
	w.ResponseWriter.WriteHeader(code)
}

func (l *requestLog) wrap(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		sw := &statusWriter{ResponseWriter: w, status: http.StatusOK}
		h.ServeHTTP(sw, r)
		l.mu.Lock()
		l.got = append(l.got, fmt.Sprintf("%s %d", r.URL.Path, sw.status))
		l.mu.Unlock()
	})
}

func (l *requestLog) all() []string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return append([]string(nil), l.got...)
}

// TestStaticSiteFirstMinute: a learner's first minute on the static site.
// The page loads and the engine runs; a leader is elected and drawn on
// screen; the learner crashes it with the Crash button and another is
// elected; sends a message and sees it committed; opens a lesson from the
// Lessons menu (the lessons come from lessons.json). Every request stays
// under the sub-path and finds its file.
func TestStaticSiteFirstMinute(t *testing.T) {
	setup(t)
	dir := t.TempDir()
	if err := web.WriteSite(dir, os.DirFS(suite.engine)); err != nil {
		t.Fatal(err)
	}
	var log requestLog
	srv := httptest.NewServer(log.wrap(http.StripPrefix("/dledgerlab", http.FileServer(http.Dir(dir)))))
	defer srv.Close()

	p := openURL(t, srv.URL+"/dledgerlab/?play")
	p.choose(`[data-action="speed"]`, "2")
	id, term := p.leader(0, 0)
	// On screen, not just in the drawing.
	p.waitFor(fmt.Sprintf(`(() => {
		const r = document.querySelector('#cluster [data-node-id="%d"]').getBoundingClientRect();
		return r.width > 0 && r.top >= 0 && r.left >= 0 && r.bottom <= innerHeight && r.right <= innerWidth;
	})()`, id))
	p.waitFor(`document.querySelector('#badge').dataset.state === 'ok'`) // drawn from the engine's frames

	p.click(fmt.Sprintf(`#cluster [data-node-id="%d"]`, id))
	p.click(`[data-action="crash"]`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#cluster [data-node-id="%d"]').dataset.state === 'crashed'`, id))
	p.leader(id, term)

	p.eval(`document.querySelector('#produce-body').value = 'hello-static-site'`, nil)
	p.click(`[data-action="produce"]`)
	p.waitFor(entryCells("hello-static-site") + `.filter(c => c.committed).length >= 2`)

	tour, err := lessons.Find("tour")
	if err != nil {
		t.Fatal(err)
	}
	p.click(`[data-action="lessons"]`)
	p.waitFor(`document.querySelector('#lessons-menu').open && document.querySelector('#lessons-error').hidden`)
	p.click(`[data-action="open-lesson"][data-lesson="tour"]`)
	p.waitFor(fmt.Sprintf(`!document.querySelector('#lesson').hidden && document.querySelector('#lesson-title').textContent === %q`, tour.Title.En))
	p.waitFor(fmt.Sprintf(`document.querySelector('#lesson .lesson-say').textContent.includes(%q)`, strings.Fields(tour.Steps[0].Say.En)[1]))
	p.playStep(0) // the step waits for Play
	p.waitChecks(0)

	got := log.all()
	for _, want := range []string{"/dledgerlab/ 200", "/dledgerlab/dledgerlab.wasm 200", "/dledgerlab/wasm_exec.js 200", "/dledgerlab/lessons.json 200"} {
		if !contains(got, want) {
			t.Errorf("no request %q; the file server answered: %v", want, got)
		}
	}
	for _, r := range got {
		if !strings.HasPrefix(r, "/dledgerlab/") || !strings.HasSuffix(r, " 200") {
			t.Errorf("the page asked the static host for %s; all it answered: %v", r, got)
		}
	}

	if os.Getenv("DLEDGERLAB_SHOTS") != "" {
		p.screenshot("site-lesson.png")
		for _, s := range []struct {
			name string
			w, h int64
			zh   bool
		}{{"site-desktop.png", 1366, 768, false}, {"site-phone.png", 390, 844, false},
			{"site-desktop-zh.png", 1366, 768, true}, {"site-phone-zh.png", 390, 844, true}} {
			q := openURL(t, srv.URL+"/dledgerlab/?play")
			if err := chromedp.Do(q.ctx, chromedp.EmulateViewport(s.w, s.h)); err != nil {
				t.Fatal(err)
			}
			q.choose(`[data-action="speed"]`, "1")
			q.leader(0, 0)
			if s.zh {
				q.click(`[data-action="lang"]`)
				q.waitFor(`document.documentElement.lang === 'zh-CN'`)
			}
			buf, err := chromedp.Run(q.ctx, chromedp.CaptureScreenshot())
			if err != nil {
				t.Fatal(err)
			}
			if err := os.WriteFile(os.Getenv("DLEDGERLAB_SHOTS")+"/"+s.name, buf, 0o644); err != nil {
				t.Fatal(err)
			}
			q.eval(`localStorage.removeItem('dledgerlab.lang')`, nil)
		}
	}
}

// TestStaticSiteWithoutTheEngineSaysSo: a host that lacks the engine's
// file (a site copied in part) gets a notice that names the file and the
// host's answer.
func TestStaticSiteWithoutTheEngineSaysSo(t *testing.T) {
	_, browser := setup(t)
	dir := t.TempDir()
	if err := web.WriteSite(dir, os.DirFS(suite.engine)); err != nil {
		t.Fatal(err)
	}
	if err := os.Remove(filepath.Join(dir, "dledgerlab.wasm")); err != nil {
		t.Fatal(err)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	// A tab of its own: the browser logs the 404 as an error, as it should.
	ctx, cancel := chromedp.NewContext(browser)
	defer cancel()
	p := &page{t: t, ctx: ctx, cancel: cancel}
	if err := chromedp.Do(ctx, chromedp.Navigate(srv.URL+"/")); err != nil {
		t.Fatal(err)
	}
	p.waitFor(`!document.querySelector('#notice').hidden && document.querySelector('#notice-text').textContent.includes('dledgerlab.wasm: HTTP 404')`)
}

// TestBrowserTakesTheBrotliEngine: the embedded engine (what `dledgerlab
// play` serves) goes to Chromium as brotli, and Chromium runs it.
func TestBrowserTakesTheBrotliEngine(t *testing.T) {
	if web.MissingEngine() != "" {
		t.Skip("the engine is not embedded (run `make wasm` first)")
	}
	var mu sync.Mutex
	var encodings []string
	h := web.Handler()
	srv := httptest.NewServer(http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		h.ServeHTTP(w, r)
		if r.URL.Path == "/dledgerlab.wasm" {
			mu.Lock()
			encodings = append(encodings, w.Header().Get("Content-Encoding"))
			mu.Unlock()
		}
	}))
	defer srv.Close()
	p := openURL(t, srv.URL+"/?play")
	p.choose(`[data-action="speed"]`, "2")
	p.leader(0, 0)
	mu.Lock()
	defer mu.Unlock()
	if len(encodings) != 1 || encodings[0] != "br" {
		t.Fatalf("the engine went out with Content-Encoding %q, want one answer in br", encodings)
	}
}

func contains(list []string, s string) bool {
	for _, x := range list {
		if x == s {
			return true
		}
	}
	return false
}
