package main

import (
	"bytes"
	"compress/gzip"
	"crypto/sha256"
	"encoding/hex"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/andybalholm/brotli"
	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func decoded(t *testing.T, name string, open func(io.Reader) (io.Reader, error)) []byte {
	t.Helper()
	f, err := os.Open(name)
	require.NoError(t, err)
	defer f.Close()
	r, err := open(f)
	require.NoError(t, err)
	data, err := io.ReadAll(r)
	require.NoError(t, err)
	return data
}

// The siblings decode to the file, the manifest is sha256sum's line for
// it, and a second run with the same file writes nothing.
func TestPrecompress(t *testing.T) {
	name := filepath.Join(t.TempDir(), "engine.wasm")
	check := func(content []byte) {
		t.Helper()
		assert.Equal(t, content, decoded(t, name+".br", func(r io.Reader) (io.Reader, error) { return brotli.NewReader(r), nil }))
		assert.Equal(t, content, decoded(t, name+".gz", func(r io.Reader) (io.Reader, error) { return gzip.NewReader(r) }))
		sum := sha256.Sum256(content)
		manifest, err := os.ReadFile(name + ".sha256")
		require.NoError(t, err)
		assert.Equal(t, hex.EncodeToString(sum[:])+"  engine.wasm\n", string(manifest))
	}
	first := bytes.Repeat([]byte("\x00asm a stand-in for the engine, repeated "), 5000)
	require.NoError(t, os.WriteFile(name, first, 0o644))
	wrote, err := precompress(name)
	require.NoError(t, err)
	assert.True(t, wrote)
	check(first)
	br, err := os.Stat(name + ".br")
	require.NoError(t, err)
	assert.Less(t, br.Size(), int64(len(first)/20))

	wrote, err = precompress(name)
	require.NoError(t, err)
	assert.False(t, wrote, "the siblings are already the file's")

	second := append(first, "rebuilt"...)
	require.NoError(t, os.WriteFile(name, second, 0o644))
	wrote, err = precompress(name)
	require.NoError(t, err)
	assert.True(t, wrote)
	check(second)

	require.NoError(t, os.Remove(name+".gz"))
	wrote, err = precompress(name)
	require.NoError(t, err)
	assert.True(t, wrote, "a missing sibling is written again")
	check(second)

	_, err = precompress(filepath.Join(t.TempDir(), "absent.wasm"))
	assert.ErrorIs(t, err, os.ErrNotExist)
}

// The brotli encoder is a build tool's dependency: neither the wasm engine
// nor the dledgerlab binary links it.
func TestBrotliIsOnlyABuildTool(t *testing.T) {
	for _, c := range []struct {
		pkg, has string // has: a dependency it does have
		env      []string
	}{
		{"dledgerlab/native", "dledgerlab/web", nil},
		{"dledgerlab/wasm", "dledgerlab/core/sim", []string{"GOOS=js", "GOARCH=wasm"}},
	} {
		cmd := exec.Command("go", "list", "-deps", c.pkg)
		cmd.Env = append(os.Environ(), c.env...)
		out, err := cmd.Output()
		require.NoError(t, err, "go list -deps %s", c.pkg)
		assert.NotContains(t, strings.Fields(string(out)), "github.com/andybalholm/brotli", c.pkg)
		assert.Contains(t, strings.Fields(string(out)), c.has, c.pkg)
	}
}
