// Package web holds the playground page (plain HTML, CSS and JS modules, no
// build step) and the WebAssembly build of the simulator, embedded so that
// one binary serves everything (`dledgerlab play`, `dledgerlab cluster`).
package web

import (
	"embed"
	"io/fs"
	"net/http"
)

//go:embed all:static
var static embed.FS

// FS returns the page's files (index.html at the root).
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// Handler serves the page. The wasm file is served with its MIME type so
// browsers can stream-compile it.
func Handler() http.Handler {
	files := http.FileServer(http.FS(FS()))
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		files.ServeHTTP(w, r)
	})
}
