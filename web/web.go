// Package web holds the playground page (plain HTML, CSS and JS modules, no
// build step) and the WebAssembly build of the simulator, embedded so that
// one binary serves everything (`dledgerlab play`, `dledgerlab cluster`).
package web

import (
	"bytes"
	"compress/gzip"
	"embed"
	"encoding/json"
	"io/fs"
	"net/http"
	"strings"
	"sync"
	"time"

	"dledgerlab/lessons"
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
// browsers can stream-compile it, and gzipped when the browser accepts it
// (a quarter of the bytes for a classroom sharing one network).
func Handler() http.Handler {
	files := http.FileServer(http.FS(FS()))
	go gzippedWasm() // compress ahead of the first visitor
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		if r.URL.Path == "/lessons.json" {
			serveLessons(w)
			return
		}
		if r.URL.Path == "/dledgerlab.wasm" && acceptsGzip(r) {
			if gz := gzippedWasm(); gz != nil {
				w.Header().Set("Content-Type", "application/wasm")
				w.Header().Set("Content-Encoding", "gzip")
				w.Header().Set("Vary", "Accept-Encoding")
				http.ServeContent(w, r, "", time.Time{}, bytes.NewReader(gz))
				return
			}
		}
		files.ServeHTTP(w, r)
	})
}

// serveLessons answers the guided lessons as JSON (package lessons reads the
// YAML files; the page's guided mode plays them with package guide in the
// engine). A lesson file that does not load is reported, not hidden.
func serveLessons(w http.ResponseWriter) {
	all, err := lessons.All()
	w.Header().Set("Content-Type", "application/json")
	body := struct {
		Lessons []*lessons.Lesson `json:"lessons"`
		Error   string            `json:"error,omitempty"`
	}{Lessons: all}
	if err != nil {
		body.Error = err.Error()
	}
	if body.Lessons == nil {
		body.Lessons = []*lessons.Lesson{}
	}
	json.NewEncoder(w).Encode(body)
}

func acceptsGzip(r *http.Request) bool {
	for _, part := range strings.Split(r.Header.Get("Accept-Encoding"), ",") {
		if strings.TrimSpace(strings.SplitN(part, ";", 2)[0]) == "gzip" {
			return true
		}
	}
	return false
}

var (
	gzOnce sync.Once
	gzWasm []byte
)

// gzippedWasm compresses the embedded engine once; nil when it is absent
// (web/static/dledgerlab.wasm is built by `make wasm`).
func gzippedWasm() []byte {
	gzOnce.Do(func() {
		raw, err := fs.ReadFile(FS(), "dledgerlab.wasm")
		if err != nil {
			return
		}
		var buf bytes.Buffer
		zw, _ := gzip.NewWriterLevel(&buf, gzip.DefaultCompression)
		if _, err := zw.Write(raw); err != nil {
			return
		}
		if err := zw.Close(); err != nil {
			return
		}
		gzWasm = buf.Bytes()
	})
	return gzWasm
}
