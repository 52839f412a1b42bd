// Package web holds the playground page (plain HTML, CSS and JS modules, no
// build step) and the WebAssembly build of the simulator, embedded so that
// one binary serves everything (`dledgerlab play`, `dledgerlab cluster`),
// and writes the same page out as static files (`make site`).
package web

import (
	"bytes"
	"crypto/sha256"
	"embed"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net/http"
	"os"
	"path"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"
	"time"

	"dledgerlab/lessons"
	"dledgerlab/lessons/ctlguide"
)

//go:embed all:static
var static embed.FS

// The engine's files. `make wasm` builds them into web/static (they are not
// in git): the simulator compiled to WebAssembly, Go's loader for it, and
// the wasm's precompressed siblings with the SHA-256 of the wasm they were
// made from (internal/tools/precompress).
// There are two engines: DLedger mode's, which every learner downloads,
// and Controller mode's (wasm/controller), fetched only when the page
// switches to that mode.
const (
	engineWasm    = "dledgerlab.wasm"
	engineCtlWasm = "dledgerlab-controller.wasm"
	engineLoader  = "wasm_exec.js"
)

var engineWasms = []string{engineWasm, engineCtlWasm}

// codings are the precompressed siblings of the wasm, in the order they
// are preferred when a browser takes several equally.
var codings = []struct{ name, ext string }{{"br", ".br"}, {"gzip", ".gz"}}

// FS returns the page's files (index.html at the root).
func FS() fs.FS {
	sub, err := fs.Sub(static, "static")
	if err != nil {
		panic(err) // the embed pattern guarantees the folder
	}
	return sub
}

// MissingEngine names the engine's file that this binary was built
// without (as "web/static/dledgerlab.wasm"), or returns "" when the
// playground's engine is embedded. A plain `go build ./native` on a fresh
// checkout has the page but not the engine, which `make build` builds first.
func MissingEngine() string {
	return missingEngine(FS())
}

func missingEngine(fsys fs.FS) string {
	for _, name := range append(slices.Clone(engineWasms), engineLoader) {
		if _, err := fs.Stat(fsys, name); err != nil {
			return "web/static/" + name
		}
	}
	return ""
}

// Handler serves the page and /lessons.json. The wasm engine goes out with
// its MIME type, so browsers can stream-compile it, and precompressed
// (brotli, else gzip) to browsers that accept that: about a fifth of the
// bytes for a classroom sharing one network.
func Handler() http.Handler {
	return handler(FS())
}

// handler serves the page in page.
//
// Without siblings made from the embedded wasm (a wasm built by hand, not
// by `make wasm`), the wasm goes out uncompressed. Such a binary is a
// developer's own build, usually served to their own browser; compressing
// at run time as well would keep a second way to serve the engine and a
// compressed copy in memory for it.
func handler(page fs.FS) http.Handler {
	files := http.FileServer(http.FS(page))
	engines := map[string]engineInfo{}
	for _, name := range engineWasms {
		engines["/"+name] = readEngine(page, name)
	}
	lessonsBody := sync.OnceValue(func() []byte {
		body, _ := lessonsJSON() // a lesson that does not load is in the body
		return body
	})
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Cache-Control", "no-cache")
		switch r.URL.Path {
		case "/lessons.json":
			w.Header().Set("Content-Type", "application/json")
			w.Write(lessonsBody())
		default:
			if e, ok := engines[r.URL.Path]; ok {
				e.serve(w, r, page)
				return
			}
			files.ServeHTTP(w, r)
		}
	})
}

// serve answers a request for the wasm with the best representation the
// request accepts. Ranges and HEAD are http.ServeContent's; a range is one
// of the bytes sent, compressed or not.
func (e engineInfo) serve(w http.ResponseWriter, r *http.Request, page fs.FS) {
	if e.sum == "" {
		http.NotFound(w, r)
		return
	}
	coding, ext := e.negotiate(r.Header.Get("Accept-Encoding"))
	f, err := page.Open(e.name + ext)
	if err != nil {
		http.Error(w, err.Error(), http.StatusInternalServerError)
		return
	}
	defer f.Close()
	content, ok := f.(io.ReadSeeker) // embedded files are
	if !ok {
		data, err := io.ReadAll(f)
		if err != nil {
			http.Error(w, err.Error(), http.StatusInternalServerError)
			return
		}
		content = bytes.NewReader(data)
	}
	h := w.Header()
	h.Set("Content-Type", "application/wasm")
	h.Set("Vary", "Accept-Encoding")
	// One tag per representation: a reload revalidates (no-cache) and gets
	// 304 Not Modified while the engine is the same.
	tag := e.sum[:16]
	if coding != "" {
		h.Set("Content-Encoding", coding)
		tag += "-" + coding
	}
	h.Set("ETag", strconv.Quote(tag))
	http.ServeContent(w, r, "", time.Time{}, content)
}

// engineInfo is what readEngine found of the wasm in a page's files.
type engineInfo struct {
	name string   // the wasm's file name
	sum  string   // hex SHA-256 of the wasm; "" when there is none
	have []string // the codings whose siblings were made from this wasm
}

// readEngine hashes the wasm name in fsys and keeps the siblings that the
// manifest (name.sha256, written after them) says were made from it.
func readEngine(fsys fs.FS, name string) engineInfo {
	info := engineInfo{name: name}
	f, err := fsys.Open(name)
	if err != nil {
		return info
	}
	defer f.Close()
	h := sha256.New()
	if _, err := io.Copy(h, f); err != nil {
		return info
	}
	info.sum = hex.EncodeToString(h.Sum(nil))
	manifest, err := fs.ReadFile(fsys, name+".sha256")
	if fields := strings.Fields(string(manifest)); err != nil || len(fields) == 0 || fields[0] != info.sum {
		return info
	}
	for _, c := range codings {
		if _, err := fs.Stat(fsys, name+c.ext); err == nil {
			info.have = append(info.have, c.name)
		}
	}
	return info
}

// negotiate picks the content coding of the wasm for an Accept-Encoding
// header (RFC 9110 §12.5.3): among the siblings there are, the one with
// the highest q-value, br before gzip on a tie, provided that q is above 0
// and not below the weight the header gives identity (by name or by "*",
// the weight of every coding it does not name). It returns the coding and
// its file extension, or "", "" for the plain file, which is also the
// answer when the header refuses everything.
func (e engineInfo) negotiate(header string) (coding, ext string) {
	q := map[string]float64{}
	for _, part := range strings.Split(header, ",") {
		params := strings.Split(part, ";")
		name := strings.ToLower(strings.TrimSpace(params[0]))
		if name == "x-gzip" {
			name = "gzip" // RFC 9110 §8.4.1.3: the same coding
		}
		if name == "" {
			continue
		}
		weight := 1.0
		for _, p := range params[1:] {
			k, v, _ := strings.Cut(p, "=")
			if strings.EqualFold(strings.TrimSpace(k), "q") {
				w, err := strconv.ParseFloat(strings.TrimSpace(v), 64)
				if err != nil || w < 0 || w > 1 {
					w = 0 // a malformed weight accepts nothing
				}
				weight = w
			}
		}
		if _, seen := q[name]; !seen {
			q[name] = weight
		}
	}
	weight := func(name string, otherwise float64) float64 {
		if w, ok := q[name]; ok {
			return w
		}
		if w, ok := q["*"]; ok {
			return w
		}
		return otherwise
	}
	best, bestQ := -1, 0.0
	for i, c := range codings {
		if !e.has(c.name) {
			continue
		}
		if w := weight(c.name, 0); w > bestQ {
			best, bestQ = i, w
		}
	}
	if best < 0 || bestQ < weight("identity", 0) {
		return "", ""
	}
	return codings[best].name, codings[best].ext
}

func (e engineInfo) has(coding string) bool {
	for _, c := range e.have {
		if c == coding {
			return true
		}
	}
	return false
}

// lessonsJSON is the body of /lessons.json: the guided lessons (package
// lessons reads the YAML files; the page's guided mode plays them with
// package guide in the engine, and Controller mode's with package
// ctlguide in that mode's engine). A lesson file that does not load is
// reported in the body's "error", not hidden, and returned as the error.
func lessonsJSON() ([]byte, error) {
	all, err := lessons.All()
	ctl, cerr := lessons.Controller()
	err = errors.Join(err, cerr)
	body := struct {
		Lessons []*lessons.Lesson `json:"lessons"`
		// Controller mode's lessons (package ctlguide), played by its engine.
		ControllerLessons []*ctlguide.Lesson `json:"controller_lessons"`
		Error             string             `json:"error,omitempty"`
	}{Lessons: all, ControllerLessons: ctl}
	if err != nil {
		body.Error = err.Error()
	}
	if body.Lessons == nil {
		body.Lessons = []*lessons.Lesson{}
	}
	if body.ControllerLessons == nil {
		body.ControllerLessons = []*ctlguide.Lesson{}
	}
	data, merr := json.Marshal(body)
	if merr != nil {
		return nil, merr
	}
	return append(data, '\n'), err
}

// WriteSite writes the playground as static files into dir, for any static
// host (`make site`): the page, lessons.json (what Handler answers at
// /lessons.json), and the engine's files from engine (FS() for the embedded
// ones): dledgerlab.wasm, wasm_exec.js and, when they were made from that
// wasm, its precompressed siblings. Every URL in the page is relative, so
// the site works from a sub-path too. dir must be absent or empty; a
// lesson that does not load, or an engine without its wasm, is an error.
func WriteSite(dir string, engine fs.FS) error {
	if entries, err := os.ReadDir(dir); err == nil && len(entries) > 0 {
		return fmt.Errorf("%s is not empty: the site goes into a new folder", dir)
	}
	if missing := missingEngine(engine); missing != "" {
		return fmt.Errorf("the playground's engine (%s) is missing; build it with: make wasm", path.Base(missing))
	}
	lessonsBody, err := lessonsJSON()
	if err != nil {
		return fmt.Errorf("lessons: %w", err)
	}
	isEngine := map[string]bool{engineLoader: true}
	for _, name := range engineWasms {
		isEngine[name], isEngine[name+".sha256"] = true, true
		for _, c := range codings {
			isEngine[name+c.ext] = true
		}
	}
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return err
	}
	err = fs.WalkDir(FS(), ".", func(name string, d fs.DirEntry, err error) error {
		if err != nil || name == "." {
			return err
		}
		if d.IsDir() {
			return os.Mkdir(filepath.Join(dir, filepath.FromSlash(name)), 0o755)
		}
		if isEngine[name] {
			return nil // from engine, below
		}
		return copyFile(dir, FS(), name)
	})
	if err != nil {
		return err
	}
	names := []string{engineLoader}
	for _, name := range engineWasms {
		names = append(names, name)
		if info := readEngine(engine, name); len(info.have) > 0 {
			for _, c := range codings {
				if info.has(c.name) {
					names = append(names, name+c.ext)
				}
			}
			names = append(names, name+".sha256")
		}
	}
	for _, name := range names {
		if err := copyFile(dir, engine, name); err != nil {
			return err
		}
	}
	return writeNew(filepath.Join(dir, "lessons.json"), bytes.NewReader(lessonsBody))
}

// copyFile copies fsys's file name into dir.
func copyFile(dir string, fsys fs.FS, name string) error {
	f, err := fsys.Open(name)
	if err != nil {
		return err
	}
	defer f.Close()
	return writeNew(filepath.Join(dir, filepath.FromSlash(name)), f)
}

// writeNew writes a file that must not exist yet.
func writeNew(name string, r io.Reader) error {
	out, err := os.OpenFile(name, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o644)
	if err != nil {
		return err
	}
	_, err = io.Copy(out, r)
	return errors.Join(err, out.Close())
}
