package web_test

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
	"regexp"
	"strings"
	"testing"
	"testing/fstest"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/web"
)

func TestHandlerServesThePage(t *testing.T) {
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, name := range []string{"/", "/style.css", "/worker.js", "/js/main.js", "/js/cluster.js", "/js/logview.js", "/js/controls.js", "/js/i18n.js", "/js/timeline.js", "/js/panels.js", "/js/engine.js", "/js/lessons.js", "/js/live.js"} {
		resp, err := http.Get(srv.URL + name)
		require.NoError(t, err)
		resp.Body.Close()
		assert.Equal(t, http.StatusOK, resp.StatusCode, name)
	}
}

// standIn is a page with a stand-in engine and siblings whose bytes say
// which one was served (the handler does not decode them). stale makes the
// manifest name another wasm, as when the wasm is rebuilt by hand after
// `make wasm`.
func standIn(stale bool, siblings ...string) fstest.MapFS {
	wasm := []byte("\x00asm\x01\x00\x00\x00 stand-in engine")
	sum := sha256.Sum256(wasm)
	if stale {
		sum = sha256.Sum256([]byte("an older engine"))
	}
	page := fstest.MapFS{
		"index.html":             {Data: []byte("<!doctype html><title>DLedger Lab</title>")},
		"wasm_exec.js":           {Data: []byte("// loader\n")},
		"dledgerlab.wasm":        {Data: wasm},
		"dledgerlab.wasm.sha256": {Data: []byte(hex.EncodeToString(sum[:]) + "  dledgerlab.wasm\n")},
	}
	for _, ext := range siblings {
		page["dledgerlab.wasm"+ext] = &fstest.MapFile{Data: []byte("sibling " + ext)}
	}
	// Controller mode's engine, with its own siblings and manifest.
	ctl := []byte("\x00asm\x01\x00\x00\x00 stand-in controller-mode engine")
	ctlSum := sha256.Sum256(ctl)
	page["dledgerlab-controller.wasm"] = &fstest.MapFile{Data: ctl}
	page["dledgerlab-controller.wasm.gz"] = &fstest.MapFile{Data: []byte("controller sibling .gz")}
	page["dledgerlab-controller.wasm.sha256"] = &fstest.MapFile{Data: []byte(hex.EncodeToString(ctlSum[:]) + "  dledgerlab-controller.wasm\n")}
	return page
}

// getEngine asks for /dledgerlab.wasm with an Accept-Encoding header (none
// when header is "-") and returns the answer with its body as sent.
func getEngine(t *testing.T, srv *httptest.Server, method, header string, more ...string) (*http.Response, []byte) {
	t.Helper()
	req, err := http.NewRequest(method, srv.URL+"/dledgerlab.wasm", nil)
	require.NoError(t, err)
	if header != "-" {
		req.Header.Set("Accept-Encoding", header)
	}
	for i := 0; i+1 < len(more); i += 2 {
		req.Header.Set(more[i], more[i+1])
	}
	// A transport that neither asks for gzip nor decodes it.
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	body, err := io.ReadAll(resp.Body)
	require.NoError(t, err)
	return resp, body
}

// Controller mode's engine is served like the DLedger one, from its own
// siblings.
func TestHandlerServesTheControllerEngine(t *testing.T) {
	srv := httptest.NewServer(web.HandlerFor(standIn(false, ".br", ".gz")))
	defer srv.Close()
	req, err := http.NewRequest("GET", srv.URL+"/dledgerlab-controller.wasm", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "br, gzip")
	resp, err := (&http.Transport{DisableCompression: true}).RoundTrip(req)
	require.NoError(t, err)
	body, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	assert.Equal(t, 200, resp.StatusCode)
	assert.Equal(t, "application/wasm", resp.Header.Get("Content-Type"))
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"), "its only sibling")
	assert.Equal(t, "controller sibling .gz", string(body))
}

// The engine goes out as the best precompressed sibling that the request
// accepts, with its Content-Encoding, and plain otherwise; every answer has
// the wasm MIME type and Vary: Accept-Encoding.
func TestHandlerNegotiatesTheEngineEncoding(t *testing.T) {
	srv := httptest.NewServer(web.HandlerFor(standIn(false, ".br", ".gz")))
	defer srv.Close()
	for _, c := range []struct{ header, coding string }{
		{"gzip, deflate, br, zstd", "br"}, // what browsers send
		{"br", "br"},
		{"BR;Q=1", "br"},
		{"gzip", "gzip"},
		{"x-gzip", "gzip"},
		{"deflate, gzip;q=0.8", "gzip"},
		{"br;q=0, gzip", "gzip"},       // br refused
		{"gzip;q=1, br;q=0.5", "gzip"}, // the higher weight wins
		{"br;q=0.5, gzip;q=0.5", "br"}, // a tie goes to br
		{"br;q=nonsense, gzip", "gzip"},
		{"*", "br"},
		{"*, br;q=0", "gzip"},
		{"gzip;q=0.5, identity", ""}, // identity preferred
		{"br;q=0.3, *;q=0.1", "br"},
		{"*;q=0", ""}, // nothing acceptable: the plain file
		{"identity", ""},
		{"deflate", ""},
		{"", ""},
		{"-", ""}, // no header
	} {
		resp, body := getEngine(t, srv, "GET", c.header)
		assert.Equal(t, http.StatusOK, resp.StatusCode, c.header)
		assert.Equal(t, c.coding, resp.Header.Get("Content-Encoding"), "Accept-Encoding: %q", c.header)
		assert.Equal(t, "application/wasm", resp.Header.Get("Content-Type"), c.header)
		assert.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"), c.header)
		want := map[string]string{"br": "sibling .br", "gzip": "sibling .gz", "": "\x00asm\x01\x00\x00\x00 stand-in engine"}[c.coding]
		assert.Equal(t, want, string(body), c.header)
	}

	// HEAD, a range of the encoded bytes, and a reload that revalidates.
	resp, body := getEngine(t, srv, "HEAD", "br")
	assert.Equal(t, "br", resp.Header.Get("Content-Encoding"))
	assert.Equal(t, http.StatusOK, resp.StatusCode)
	assert.Empty(t, body)
	resp, body = getEngine(t, srv, "GET", "br", "Range", "bytes=8-")
	assert.Equal(t, http.StatusPartialContent, resp.StatusCode)
	assert.Equal(t, ".br", string(body))
	resp, _ = getEngine(t, srv, "GET", "gzip")
	tag := resp.Header.Get("ETag")
	require.NotEmpty(t, tag)
	resp, body = getEngine(t, srv, "GET", "gzip", "If-None-Match", tag)
	assert.Equal(t, http.StatusNotModified, resp.StatusCode)
	assert.Empty(t, body)
	resp, _ = getEngine(t, srv, "GET", "br", "If-None-Match", tag)
	assert.Equal(t, http.StatusOK, resp.StatusCode, "the gzip answer's tag is not the brotli answer's")
}

// Siblings that are missing, or were not made from the embedded wasm (its
// SHA-256 is not the manifest's), are not served: the plain file is.
func TestHandlerServesOnlySiblingsOfThisWasm(t *testing.T) {
	for _, c := range []struct {
		name   string
		page   fstest.MapFS
		header string
		coding string
	}{
		{"no siblings", standIn(false), "gzip, br", ""},
		{"only gzip", standIn(false, ".gz"), "gzip, br", "gzip"},
		{"stale siblings", standIn(true, ".br", ".gz"), "gzip, br", ""},
		{"no manifest", func() fstest.MapFS { p := standIn(false, ".br", ".gz"); delete(p, "dledgerlab.wasm.sha256"); return p }(), "gzip, br", ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			srv := httptest.NewServer(web.HandlerFor(c.page))
			defer srv.Close()
			resp, body := getEngine(t, srv, "GET", c.header)
			assert.Equal(t, c.coding, resp.Header.Get("Content-Encoding"))
			assert.Equal(t, "application/wasm", resp.Header.Get("Content-Type"))
			if c.coding == "" {
				assert.Equal(t, c.page["dledgerlab.wasm"].Data, body)
			}
		})
	}
}

// The engine that `make wasm` built and embedded: its siblings decode to
// the wasm itself.
func TestHandlerServesTheBuiltEnginePrecompressed(t *testing.T) {
	raw, err := fs.ReadFile(web.FS(), "dledgerlab.wasm")
	if err != nil {
		t.Skip("web/static/dledgerlab.wasm is not embedded (run `make wasm` first)")
	}
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	for _, c := range []struct {
		header, coding string
		decode         func(io.Reader) (io.Reader, error)
	}{
		{"gzip, deflate, br", "br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }},
		{"gzip", "gzip", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }},
		{"identity", "", func(r io.Reader) (io.Reader, error) { return r, nil }},
	} {
		resp, body := getEngine(t, srv, "GET", c.header)
		require.Equal(t, c.coding, resp.Header.Get("Content-Encoding"), "Accept-Encoding: %s (were the siblings built by `make wasm`?)", c.header)
		assert.Equal(t, "Accept-Encoding", resp.Header.Get("Vary"))
		zr, err := c.decode(bytes.NewReader(body))
		require.NoError(t, err)
		got, err := io.ReadAll(zr)
		require.NoError(t, err)
		assert.True(t, bytes.Equal(raw, got), "%s: the answer decodes to %d bytes that are not the %d of the wasm", c.header, len(got), len(raw))
		if c.coding != "" {
			assert.Less(t, len(body), len(raw)/3, c.coding)
		}
	}
}

// MissingEngine names the engine's file that is not embedded.
func TestMissingEngine(t *testing.T) {
	page := standIn(false)
	assert.Empty(t, web.MissingEngineIn(page))
	delete(page, "wasm_exec.js")
	assert.Equal(t, "web/static/wasm_exec.js", web.MissingEngineIn(page))
	page["wasm_exec.js"] = &fstest.MapFile{Data: []byte("// loader\n")}
	delete(page, "dledgerlab-controller.wasm")
	assert.Equal(t, "web/static/dledgerlab-controller.wasm", web.MissingEngineIn(page))
	delete(page, "dledgerlab.wasm")
	assert.Equal(t, "web/static/dledgerlab.wasm", web.MissingEngineIn(page))
	_, err := fs.Stat(web.FS(), "dledgerlab.wasm")
	assert.Equal(t, err != nil, web.MissingEngine() != "", "MissingEngine and the embedded files agree")
}

// WriteSite writes the page, the engine with its siblings (when they are
// the wasm's) and the lessons that the handler serves, into a new folder.
func TestWriteSite(t *testing.T) {
	dir := filepath.Join(t.TempDir(), "site")
	engine := standIn(false, ".br", ".gz")
	require.NoError(t, web.WriteSite(dir, engine))
	for _, name := range []string{"index.html", "worker.js", "style.css", "js/main.js", "js/lessons.js", "dledgerlab.wasm.br", "dledgerlab.wasm.gz", "dledgerlab.wasm.sha256",
		"dledgerlab-controller.wasm.gz", "dledgerlab-controller.wasm.sha256"} {
		assert.FileExists(t, filepath.Join(dir, name))
	}
	for _, name := range []string{"dledgerlab.wasm", "dledgerlab-controller.wasm", "wasm_exec.js"} {
		got, err := os.ReadFile(filepath.Join(dir, name))
		require.NoError(t, err)
		assert.Equal(t, engine[name].Data, got, "%s comes from the engine given", name)
	}
	page, err := fs.ReadFile(web.FS(), "index.html")
	require.NoError(t, err)
	got, err := os.ReadFile(filepath.Join(dir, "index.html"))
	require.NoError(t, err)
	assert.Equal(t, page, got)

	srv := httptest.NewServer(web.Handler())
	defer srv.Close()
	resp, err := http.Get(srv.URL + "/lessons.json")
	require.NoError(t, err)
	served, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	require.NoError(t, err)
	written, err := os.ReadFile(filepath.Join(dir, "lessons.json"))
	require.NoError(t, err)
	assert.Equal(t, string(served), string(written), "lessons.json is what the handler serves")
	assert.Contains(t, string(written), `"id":"tour"`)
	assert.NotContains(t, string(written), `"error"`)

	err = web.WriteSite(dir, engine)
	assert.ErrorContains(t, err, "is not empty")

	stale := filepath.Join(t.TempDir(), "stale")
	require.NoError(t, web.WriteSite(stale, standIn(true, ".br", ".gz")))
	for _, name := range []string{"dledgerlab.wasm.br", "dledgerlab.wasm.gz", "dledgerlab.wasm.sha256"} {
		assert.NoFileExists(t, filepath.Join(stale, name), "siblings of another wasm are left out")
	}
	assert.FileExists(t, filepath.Join(stale, "dledgerlab.wasm"))

	noEngine := standIn(false)
	delete(noEngine, "dledgerlab.wasm")
	err = web.WriteSite(filepath.Join(t.TempDir(), "none"), noEngine)
	assert.EqualError(t, err, "the playground's engine (dledgerlab.wasm) is missing; build it with: make wasm")
}

// The browser tests build the engine as `make wasm` does, so what they test
// is what learners download.
func TestEngineFlagsMatchTheMakefile(t *testing.T) {
	data, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	words := func(name string) []string {
		var line string
		for _, l := range strings.Split(string(data), "\n") {
			if v, ok := strings.CutPrefix(l, name+" "); ok {
				if v, ok := strings.CutPrefix(strings.TrimSpace(v), ":="); ok {
					line = strings.TrimSpace(v)
				}
			}
		}
		require.NotEmpty(t, line, "the Makefile sets %s", name)
		// The shell's splitting, for the quoting the Makefile uses: "…" groups.
		var out []string
		for _, f := range regexp.MustCompile(`(?:[^\s"]|"[^"]*")+`).FindAllString(line, -1) {
			out = append(out, strings.ReplaceAll(f, `"`, ""))
		}
		return out
	}
	assert.Equal(t, words("WASM_FLAGS"), wasmBuildFlags)
	assert.Equal(t, words("WASM_ENV"), wasmBuildEnv)
}

// BenchmarkSimSpeedPlayground (core/sim) measures "the playground's steady
// traffic": the Steady producer at the rate the page starts it with. If the
// page's default changes, the benchmark and docs/BENCHMARKS.md must follow.
func TestSteadyProducerRateIsTheBenchmarkedOne(t *testing.T) {
	page, err := fs.ReadFile(web.FS(), "index.html")
	require.NoError(t, err)
	m := regexp.MustCompile(`<input id="producer-rate"[^>]* value="([^"]*)"`).FindSubmatch(page)
	require.NotNil(t, m, "index.html has no #producer-rate input with a value")
	assert.Equal(t, "5", string(m[1]), "the Steady producer's default rate changed: update BenchmarkSimSpeedPlayground's rate and docs/BENCHMARKS.md")
	controls, err := fs.ReadFile(web.FS(), "js/controls.js")
	require.NoError(t, err)
	assert.Contains(t, string(controls), `kind: 'producer', id: 'steady'`, "the Steady control starts the producer the benchmark names")
}
