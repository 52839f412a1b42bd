// Command precompress writes the precompressed siblings of a file that
// browsers download, next to it: NAME.br (brotli, quality 11, the standard
// 4 MiB window; a 16 MiB one made the engine no smaller) and NAME.gz (gzip,
// best compression), then NAME.sha256, the SHA-256 of the file they were
// made from (in sha256sum's format). web.Handler and `make site` use the
// siblings only when that hash is the file's, so a file rebuilt by hand is
// never answered with an older file's compressed bytes. When the siblings
// are already those of the file, it does nothing (brotli's quality 11 takes
// about 15 s for the engine).
//
//	go run ./internal/tools/precompress web/static/dledgerlab.wasm
//
// `make wasm` runs it; it is a build tool, so the brotli encoder is in
// neither the wasm engine nor the dledgerlab binary.
package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"fmt"
	"io"
	"os"
	"path/filepath"

	"github.com/andybalholm/brotli"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" || os.Args[1][0] == '-' {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/tools/precompress FILE (writes FILE.br, FILE.gz and FILE.sha256)")
		os.Exit(2)
	}
	wrote, err := precompress(os.Args[1])
	if err != nil {
		fmt.Fprintf(os.Stderr, "precompress: %v\n", err)
		os.Exit(1)
	}
	if wrote {
		for _, ext := range []string{"", ".gz", ".br"} {
			if st, err := os.Stat(os.Args[1] + ext); err == nil {
				fmt.Printf("%-32s %9d bytes\n", filepath.Base(os.Args[1]+ext), st.Size())
			}
		}
	}
}

// precompress writes path's siblings unless they are already path's; it
// reports whether it wrote them.
func precompress(path string) (bool, error) {
	raw, err := os.ReadFile(path)
	if err != nil {
		return false, err
	}
	sum := sha256.Sum256(raw)
	manifest := []byte(hex.EncodeToString(sum[:]) + "  " + filepath.Base(path) + "\n")
	if upToDate(path, manifest) {
		return false, nil
	}
	// The manifest goes last, and every file is renamed into place: an
	// interrupted run leaves siblings that do not count as up to date.
	if err := os.Remove(path + ".sha256"); err != nil && !os.IsNotExist(err) {
		return false, err
	}
	br, err := compress(raw, func(w io.Writer) io.WriteCloser {
		return brotli.NewWriterOptions(w, brotli.WriterOptions{Quality: brotli.BestCompression, LGWin: 22})
	})
	if err != nil {
		return false, fmt.Errorf("brotli: %w", err)
	}
	gz, err := compress(raw, func(w io.Writer) io.WriteCloser {
		zw, _ := gzip.NewWriterLevel(w, gzip.BestCompression) // a valid level: no error
		return zw
	})
	if err != nil {
		return false, fmt.Errorf("gzip: %w", err)
	}
	for _, f := range []struct {
		ext  string
		data []byte
	}{{".br", br}, {".gz", gz}, {".sha256", manifest}} {
		if err := writeFile(path+f.ext, f.data); err != nil {
			return false, err
		}
	}
	return true, nil
}

// upToDate reports whether path's siblings were made from the bytes that
// manifest names.
func upToDate(path string, manifest []byte) bool {
	old, err := os.ReadFile(path + ".sha256")
	if err != nil || !bytes.Equal(old, manifest) {
		return false
	}
	for _, ext := range []string{".br", ".gz"} {
		if _, err := os.Stat(path + ext); err != nil {
			return false
		}
	}
	return true
}

func compress(raw []byte, newWriter func(io.Writer) io.WriteCloser) ([]byte, error) {
	var buf bytes.Buffer
	w := newWriter(&buf)
	if _, err := w.Write(raw); err != nil {
		return nil, err
	}
	if err := w.Close(); err != nil {
		return nil, err
	}
	return buf.Bytes(), nil
}

// writeFile writes data to a temporary file beside name and renames it
// into place.
func writeFile(name string, data []byte) error {
	f, err := os.CreateTemp(filepath.Dir(name), "."+filepath.Base(name)+".*")
	if err != nil {
		return err
	}
	_, err = f.Write(data)
	if cerr := f.Close(); err == nil {
		err = cerr
	}
	if err == nil {
		err = os.Chmod(f.Name(), 0o644)
	}
	if err == nil {
		err = os.Rename(f.Name(), name)
	}
	if err != nil {
		os.Remove(f.Name())
	}
	return err
}
