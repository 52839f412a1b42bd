package store

import (
	"path/filepath"
	"syscall"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/commitlog"
)

// After a compaction the index records before the snapshot's entry give
// their disk blocks back (a hole in the file; the layout stays), and the
// store reopens and goes on as before.
func TestCompactFreesTheIndexBelowTheSnapshot(t *testing.T) {
	dir := t.TempDir()
	s := mustOpen(t, dir)
	const n = 3000 // 96 KB of index records
	_, err := s.Append(ents(1, n, 1, 8))
	require.NoError(t, err)
	require.NoError(t, s.Sync())
	path := filepath.Join(dir, commitlog.IndexFile)
	blocks := func() int64 {
		var st syscall.Stat_t
		require.NoError(t, syscall.Stat(path, &st))
		return st.Blocks * 512
	}
	before := blocks()
	require.GreaterOrEqual(t, before, int64(n*commitlog.IndexRecordSize))

	_, err = s.Compact(core.Snapshot{Index: n - 10, Term: 1, Data: []byte("state")})
	require.NoError(t, err)
	after := blocks()
	if after == before {
		t.Skipf("the filesystem under %s does not punch holes", dir)
	}
	assert.Less(t, after, int64(16<<10), "only the records from the snapshot on keep their blocks (%d bytes before)", before)
	require.NoError(t, s.Close())

	r := mustOpen(t, dir)
	assert.Equal(t, uint64(n), r.LastIndex())
	got, err := r.Entries(n-9, n+1)
	require.NoError(t, err)
	assert.Equal(t, ents(n-9, 10, 1, 8), got)
	_, err = r.Append(ents(n+1, 5, 2, 8))
	require.NoError(t, err)
	require.NoError(t, r.Sync())
}
