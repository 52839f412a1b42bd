package store

import (
	"context"
	"fmt"
	"log/slog"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/commitlog"
)

// logRecorder keeps every record a logger receives, as "LEVEL message
// key=value …" lines.
type logRecorder struct {
	mu    sync.Mutex
	lines []string
}

func (r *logRecorder) Enabled(context.Context, slog.Level) bool { return true }
func (r *logRecorder) WithAttrs([]slog.Attr) slog.Handler       { return r }
func (r *logRecorder) WithGroup(string) slog.Handler            { return r }
func (r *logRecorder) Handle(_ context.Context, rec slog.Record) error {
	var b strings.Builder
	fmt.Fprintf(&b, "%s %s", rec.Level, rec.Message)
	rec.Attrs(func(a slog.Attr) bool {
		fmt.Fprintf(&b, " %s=%v", a.Key, a.Value)
		return true
	})
	r.mu.Lock()
	r.lines = append(r.lines, b.String())
	r.mu.Unlock()
	return nil
}

// openLogged opens dir with a recording logger.
func openLogged(t *testing.T, dir string) ([]string, error) {
	t.Helper()
	rec := &logRecorder{}
	o := smallOpts
	o.Logger = slog.New(rec)
	s, _, err := Open(dir, o)
	if err == nil {
		s.Close()
	}
	return rec.lines, err
}

// fiveEntries writes entries 1..5 and closes the store.
func fiveEntries(t *testing.T) (dir string, pos2 int64) {
	dir = t.TempDir()
	s := mustOpen(t, dir)
	_, err := s.Append(ents(1, 5, 1, 20))
	require.NoError(t, err)
	s.SetHardState(core.HardState{Term: 1, Vote: 1, Commit: 5})
	require.NoError(t, s.Sync())
	pos2, _, _ = s.Position(2)
	require.NoError(t, s.Close())
	return dir, pos2
}

// Recovery logs say what happened at the level a reader should take it
// at: a rebuilt index loses nothing (INFO), a torn tail is cut (WARN, with
// file, offset and bytes), damage before the tail refuses to start (ERROR,
// with file and offset). A clean open logs nothing.
func TestRecoveryLogLevels(t *testing.T) {
	t.Run("clean", func(t *testing.T) {
		dir, _ := fiveEntries(t)
		lines, err := openLogged(t, dir)
		require.NoError(t, err)
		assert.Empty(t, lines)
	})
	t.Run("index rebuilt", func(t *testing.T) {
		dir, _ := fiveEntries(t)
		require.NoError(t, os.Truncate(filepath.Join(dir, IndexFile), commitlog.IndexOffset(3)))
		lines, err := openLogged(t, dir)
		require.NoError(t, err)
		require.Len(t, lines, 1, "%q", lines)
		assert.True(t, strings.HasPrefix(lines[0], "INFO recovery rebuilt index records from the CommitLog file="+filepath.Join(dir, IndexFile)), lines[0])
	})
	t.Run("torn tail", func(t *testing.T) {
		dir, _ := fiveEntries(t)
		seg, end := tearTail(t, dir, []byte{0, 0, 0, 1, 0, 0, 0, 90, 0, 7}) // half a header
		lines, err := openLogged(t, dir)
		require.NoError(t, err)
		var warn []string
		for _, l := range lines {
			if strings.HasPrefix(l, "WARN") {
				warn = append(warn, l)
			} else {
				assert.True(t, strings.HasPrefix(l, "INFO "), "only the cut is a warning: %s", l)
			}
		}
		require.Len(t, warn, 1, "%q", lines)
		assert.Contains(t, warn[0], "WARN recovery cut a torn tail from the CommitLog file="+seg)
		assert.Contains(t, warn[0], fmt.Sprintf(" offset=%d bytes=10 ", end))
	})
	t.Run("damage before the tail", func(t *testing.T) {
		dir, pos := fiveEntries(t)
		seg := filepath.Join(dir, commitlog.SegmentName(0))
		b, err := os.ReadFile(seg)
		require.NoError(t, err)
		b[pos+commitlog.HeaderSize+3] ^= 0xFF
		require.NoError(t, os.WriteFile(seg, b, 0o644))
		lines, err := openLogged(t, dir)
		require.Error(t, err)
		require.Len(t, lines, 1, "%q", lines)
		assert.Contains(t, lines[0], "ERROR recovery refused to start: the CommitLog is damaged before its tail file="+seg)
		assert.Contains(t, lines[0], fmt.Sprintf(" offset=%d ", pos))
	})
}
