package web_test

import (
	"compress/gzip"
	"io"
	"io/fs"
	"net/http"
	"net/http/httptest"
	"os"
	"regexp"
	"strings"
	"testing"

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

// The engine goes out gzipped to browsers that take gzip, and plain to
// others; both decode to the same bytes with the wasm MIME type.
func TestHandlerGzipsTheEngine(t *testing.T) {
	raw, err := fs.ReadFile(web.FS(), "dledgerlab.wasm")
	if err != nil {
		t.Skip("web/static/dledgerlab.wasm is not embedded (run `make wasm` first)")
	}
	srv := httptest.NewServer(web.Handler())
	defer srv.Close()

	req, err := http.NewRequest("GET", srv.URL+"/dledgerlab.wasm", nil)
	require.NoError(t, err)
	req.Header.Set("Accept-Encoding", "gzip, deflate, br")
	resp, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp.Body.Close()
	assert.Equal(t, "gzip", resp.Header.Get("Content-Encoding"))
	assert.Equal(t, "application/wasm", resp.Header.Get("Content-Type"))
	zr, err := gzip.NewReader(resp.Body)
	require.NoError(t, err)
	got, err := io.ReadAll(zr)
	require.NoError(t, err)
	assert.Equal(t, raw, got)

	req.Header.Set("Accept-Encoding", "identity")
	resp2, err := http.DefaultTransport.RoundTrip(req)
	require.NoError(t, err)
	defer resp2.Body.Close()
	assert.Empty(t, resp2.Header.Get("Content-Encoding"))
	assert.True(t, strings.HasPrefix(resp2.Header.Get("Content-Type"), "application/wasm"))
	plain, err := io.ReadAll(resp2.Body)
	require.NoError(t, err)
	assert.Equal(t, len(raw), len(plain))
}

// The browser tests build the engine as `make wasm` does, so what they test
// is what learners download.
func TestEngineFlagsMatchTheMakefile(t *testing.T) {
	data, err := os.ReadFile("../Makefile")
	require.NoError(t, err)
	var line string
	for _, l := range strings.Split(string(data), "\n") {
		if v, ok := strings.CutPrefix(l, "WASM_FLAGS :="); ok {
			line = strings.TrimSpace(v)
		}
	}
	require.NotEmpty(t, line, "the Makefile sets WASM_FLAGS")
	// The shell's splitting, for the quoting the Makefile uses: "…" groups.
	var flags []string
	for _, f := range regexp.MustCompile(`(?:[^\s"]|"[^"]*")+`).FindAllString(line, -1) {
		flags = append(flags, strings.ReplaceAll(f, `"`, ""))
	}
	assert.Equal(t, flags, wasmBuildFlags)
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
