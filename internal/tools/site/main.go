// Command site writes the playground as static files for any static host:
// the page, lessons.json and the engine that this program was built with
// (web/static, as `make wasm` left it). `make site` runs it after `make
// wasm`:
//
//	go run ./internal/tools/site site
//
// The folder must be absent or empty.
package main

import (
	"fmt"
	"io/fs"
	"os"
	"path/filepath"

	"dledgerlab/web"
)

func main() {
	if len(os.Args) != 2 || os.Args[1] == "" || os.Args[1][0] == '-' {
		fmt.Fprintln(os.Stderr, "usage: go run ./internal/tools/site DIR (a new or empty folder)")
		os.Exit(2)
	}
	dir := os.Args[1]
	if err := web.WriteSite(dir, web.FS()); err != nil {
		fmt.Fprintf(os.Stderr, "site: %v\n", err)
		os.Exit(1)
	}
	var files, size int64
	filepath.WalkDir(dir, func(_ string, d fs.DirEntry, err error) error {
		if err == nil && !d.IsDir() {
			if info, err := d.Info(); err == nil {
				files++
				size += info.Size()
			}
		}
		return nil
	})
	fmt.Printf("the playground as static files: %s/ (%d files, %d bytes); copy it to any static host\n", filepath.Clean(dir), files, size)
}
