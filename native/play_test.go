package main

// `dledgerlab play` and the engine: a binary built with a plain
// `go build ./native` on a fresh checkout has the page but not the wasm
// engine (`make wasm` builds it into web/static, and git ignores it). These
// tests build such binaries with an overlay that shows web/static as a
// fresh checkout has it, whatever `make wasm` left there.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// builtFiles are the files in web/static that git ignores (the ones `make
// wasm` writes), from the repository's .gitignore.
func builtFiles(t *testing.T) []string {
	t.Helper()
	data, err := os.ReadFile("../.gitignore")
	require.NoError(t, err)
	var names []string
	for _, line := range strings.Split(string(data), "\n") {
		if name, ok := strings.CutPrefix(strings.TrimSpace(line), "/web/static/"); ok {
			names = append(names, name)
		}
	}
	require.Contains(t, names, "dledgerlab.wasm", ".gitignore lists the engine")
	return names
}

// buildFresh builds ./native as `go build` does on a fresh checkout, plus
// the stand-in files in add (name in web/static → content), and returns
// the binary.
func buildFresh(t *testing.T, add map[string]string) string {
	t.Helper()
	dir := t.TempDir()
	static, err := filepath.Abs("../web/static")
	require.NoError(t, err)
	replace := map[string]string{}
	for _, name := range builtFiles(t) {
		replace[filepath.Join(static, name)] = "" // absent
	}
	for name, content := range add {
		file := filepath.Join(dir, name)
		require.NoError(t, os.WriteFile(file, []byte(content), 0o644))
		replace[filepath.Join(static, name)] = file
	}
	overlay, err := json.Marshal(map[string]any{"Replace": replace})
	require.NoError(t, err)
	require.NoError(t, os.WriteFile(filepath.Join(dir, "overlay.json"), overlay, 0o644))
	bin := filepath.Join(dir, "dledgerlab")
	// GOFLAGS from the environment (e.g. -race) apply here too.
	out, err := exec.Command("go", "build", "-overlay", filepath.Join(dir, "overlay.json"), "-o", bin, ".").CombinedOutput()
	require.NoError(t, err, "go build:\n%s", out)
	return bin
}

// TestPlayRefusesWithoutTheEngine: `dledgerlab play` from a plain
// `go build ./native` says in one line what is missing and how to build
// it, and exits with 1, instead of serving a page whose engine never loads.
func TestPlayRefusesWithoutTheEngine(t *testing.T) {
	bin := buildFresh(t, nil)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	cmd := exec.CommandContext(ctx, bin, "play", "--addr", "127.0.0.1:0")
	var stdout, stderr bytes.Buffer
	cmd.Stdout, cmd.Stderr = &stdout, &stderr
	err := cmd.Run()
	require.NoError(t, ctx.Err(), "play served instead of refusing; it printed: %s", stdout.String())
	var exit *exec.ExitError
	require.True(t, errors.As(err, &exit), "play exited with %v", err)
	assert.Equal(t, 1, exit.ExitCode())
	assert.Equal(t, "dledgerlab play: the playground's engine (web/static/dledgerlab.wasm) is not in this binary; build with: make build\n", stderr.String())
	assert.Empty(t, stdout.String())
}

// TestPlayServesTheEngine: with the engine's files in the binary (here
// stand-ins), play prints its URL and serves the page and the engine.
func TestPlayServesTheEngine(t *testing.T) {
	const wasm = "\x00asm\x01\x00\x00\x00 stand-in engine"
	const ctlWasm = "\x00asm\x01\x00\x00\x00 stand-in controller-mode engine"
	bin := buildFresh(t, map[string]string{"dledgerlab.wasm": wasm, "dledgerlab-controller.wasm": ctlWasm, "wasm_exec.js": "// stand-in loader\n"})
	cmd := exec.Command(bin, "play", "--addr", "127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	var stderr bytes.Buffer
	cmd.Stderr = &stderr
	require.NoError(t, cmd.Start())
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
	})
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(stdout)
		for sc.Scan() {
			if u, ok := strings.CutPrefix(sc.Text(), "DLedger Lab playground: "); ok {
				urls <- u
			}
		}
		close(urls)
	}()
	var url string
	select {
	case u, ok := <-urls:
		require.True(t, ok, "play exited without printing its URL: %s", stderr.String())
		url = u
	case <-time.After(30 * time.Second):
		t.Fatalf("play printed no URL in 30 s: %s", stderr.String())
	}
	for path, want := range map[string]string{"": "<title>DLedger Lab</title>", "dledgerlab.wasm": wasm, "dledgerlab-controller.wasm": ctlWasm} {
		resp, err := http.Get(url + path)
		require.NoError(t, err)
		body, err := io.ReadAll(resp.Body)
		resp.Body.Close()
		require.NoError(t, err)
		assert.Equal(t, http.StatusOK, resp.StatusCode, path)
		assert.Contains(t, string(body), want, path)
	}
}
