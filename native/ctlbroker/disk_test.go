package ctlbroker

import (
	"log/slog"
	"os"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/controller"
)

func reopen(t *testing.T, dir string) (*fileDisk, *controller.Disk) {
	t.Helper()
	fd, d, err := openDisk(dir, slog.New(slog.DiscardHandler))
	require.NoError(t, err)
	t.Cleanup(func() { fd.close() })
	return fd, d
}

func msgs(ss ...string) [][]byte {
	var out [][]byte
	for _, s := range ss {
		out = append(out, []byte(s))
	}
	return out
}

// What persist wrote is what opening reads: records, epoch file, state,
// pending set change; a truncation followed by new records too.
func TestDiskKeepsWhatPersistWrote(t *testing.T) {
	dir := t.TempDir()
	fd, d := reopen(t, dir)
	d.Log = msgs("a", "b", "c")
	d.Epochs = controller.EpochFile{{Epoch: 1, StartOffset: 0}}
	d.State = controller.Group{Name: "g", Replicas: []controller.BrokerID{1, 2, 3}, Master: 1, MasterEpoch: 1, SyncStateSet: []controller.BrokerID{1}, SyncStateSetEpoch: 1}
	d.Pending = &controller.AlterRequest{MasterEpoch: 1, SyncStateSetEpoch: 1, SyncStateSet: []controller.BrokerID{1, 2}}
	require.NoError(t, fd.persist(d, -1))
	fd.close()
	_, got := reopen(t, dir)
	assert.Equal(t, d, got)

	// Cut to one record and append two: the slave's handshake.
	fd2, d2 := reopen(t, dir)
	d2.Log = append(d2.Log[:1:1], msgs("x", "y")...)
	d2.Epochs = controller.EpochFile{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 1}}
	require.NoError(t, fd2.persist(d2, 1))
	fd2.close()
	_, got = reopen(t, dir)
	assert.Equal(t, msgs("a", "x", "y"), got.Log)
	assert.Equal(t, d2.Epochs, got.Epochs)
}

// A crash between the steps of persist: records meta.json does not count
// are cut (never acknowledged); a torn record is cut; a truncation whose
// meta.json was not written clips the epoch file.
func TestDiskRecoversFromACrashBetweenSteps(t *testing.T) {
	dir := t.TempDir()
	fd, d := reopen(t, dir)
	d.Log = msgs("a", "b")
	d.Epochs = controller.EpochFile{{Epoch: 1, StartOffset: 0}, {Epoch: 2, StartOffset: 1}}
	require.NoError(t, fd.persist(d, -1))
	meta, err := os.ReadFile(filepath.Join(dir, metaFile))
	require.NoError(t, err)
	d.Log = append(d.Log, msgs("c")...)
	require.NoError(t, fd.persist(d, -1))
	fd.close()

	// Records beyond meta.json's log_end, and a torn tail.
	require.NoError(t, os.WriteFile(filepath.Join(dir, metaFile), meta, 0o644))
	f, err := os.OpenFile(filepath.Join(dir, logFile), os.O_APPEND|os.O_WRONLY, 0)
	require.NoError(t, err)
	f.Write([]byte{9, 0, 0, 0, 1})
	f.Close()
	fd, d = reopen(t, dir)
	assert.Equal(t, msgs("a", "b"), d.Log)
	require.NoError(t, fd.persist(d, -1))
	fd.close()

	// The CommitLog cut to one record, meta.json still saying two.
	require.NoError(t, os.Truncate(filepath.Join(dir, logFile), recHeader+1))
	_, d = reopen(t, dir)
	assert.Equal(t, msgs("a"), d.Log)
	assert.Equal(t, controller.EpochFile{{Epoch: 1, StartOffset: 0}}, d.Epochs)
}
