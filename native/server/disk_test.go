package server

import (
	"context"
	"errors"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/internal/syncbuf"
	"dledgerlab/native/store"
)

// A failed fsync stops the broker — the disk is no longer trusted — without
// calling fsync again (not even while closing), without acknowledging the
// write it was persisting, and with a log line that says what to check.
func TestFailedFsyncStopsTheBrokerWithoutRetrying(t *testing.T) {
	var failing atomic.Bool
	var afterFailure atomic.Int64
	var logs syncbuf.Buffer
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s, err := New(Config{
		GroupMember: GroupMember{ID: 1, Peers: map[core.NodeID]string{1: peerLn.Addr().String()}, HTTP: map[core.NodeID]string{1: httpLn.Addr().String()},
			Dir: t.TempDir(), Secret: "s"}, ProduceTimeout: time.Second,
		Logger: slog.New(slog.NewTextHandler(&logs, nil)),
		SyncFile: func(*os.File) error {
			if failing.Load() {
				afterFailure.Add(1)
				return errors.New("input/output error")
			}
			return nil
		},
	})
	require.NoError(t, err)
	done := make(chan error, 1)
	go func() { done <- s.Serve(context.Background(), peerLn, httpLn) }()
	base := "http://" + httpLn.Addr().String()
	require.Eventually(t, func() bool {
		var st Status
		return getJSON(base+"/v1/status", &st) == nil && st.Role == "leader"
	}, 10*time.Second, 10*time.Millisecond)

	failing.Store(true)
	resp, err := http.Post(base+"/v1/topics/orders/messages", "application/json", strings.NewReader(`{"body":"x"}`))
	if err == nil {
		assert.NotEqual(t, http.StatusOK, resp.StatusCode, "a write whose fsync failed is not acknowledged")
		resp.Body.Close()
	}
	select {
	case err = <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("the broker did not stop after a failed fsync")
	}
	require.ErrorIs(t, err, store.ErrSyncFailed)
	assert.Equal(t, int64(1), afterFailure.Load(), "fsync was called again after it failed")
	assert.Contains(t, logs.String(), "without calling fsync again")
	assert.Contains(t, logs.String(), "dmesg")
}
