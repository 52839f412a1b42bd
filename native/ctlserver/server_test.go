package ctlserver

import (
	"bytes"
	"context"
	"encoding/json"
	"io"
	"log/slog"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/controller"
	"dledgerlab/native/server"
)

// single starts a group of one controller in this process on dir, waits until it leads, and returns its HTTP address
// and a stop function that waits for it to end.
func single(t *testing.T, dir string, brokerTimeout time.Duration) (addr string, stop func()) {
	t.Helper()
	peerLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	httpLn, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	s, err := New(Config{
		GroupMember: server.GroupMember{ID: 1, Dir: dir, Secret: "s",
			Peers: map[core.NodeID]string{1: peerLn.Addr().String()}, HTTP: map[core.NodeID]string{1: httpLn.Addr().String()}},
		BrokerTimeout: brokerTimeout, Logger: slog.New(slog.NewTextHandler(io.Discard, nil)),
	})
	require.NoError(t, err)
	ctx, cancel := context.WithCancel(context.Background())
	done := make(chan error, 1)
	go func() { done <- s.Serve(ctx, peerLn, httpLn) }()
	stopped := false
	stop = func() {
		if !stopped {
			stopped = true
			cancel()
			assert.NoError(t, <-done)
		}
	}
	t.Cleanup(stop)
	addr = httpLn.Addr().String()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var st Status
		resp, err := http.Get("http://" + addr + "/v1/status")
		require.NoError(t, err)
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&st))
		resp.Body.Close()
		if st.Role == "leader" {
			return addr, stop
		}
		require.True(t, time.Now().Before(deadline), "the controller never led: %+v", st)
		time.Sleep(20 * time.Millisecond)
	}
}

// post sends body to path and decodes the answer into a GroupResponse.
func post(t *testing.T, addr, path string, body any) (int, GroupResponse) {
	t.Helper()
	b, err := json.Marshal(body)
	require.NoError(t, err)
	resp, err := http.Post("http://"+addr+path, "application/json", bytes.NewReader(b))
	require.NoError(t, err)
	defer resp.Body.Close()
	var g GroupResponse
	require.NoError(t, json.NewDecoder(resp.Body).Decode(&g))
	return resp.StatusCode, g
}

// waitGroup heartbeats for brokers every 20 ms until cond holds of the
// group's state.
func waitGroup(t *testing.T, addr string, brokers []int, cond func(controller.Group) bool) controller.Group {
	t.Helper()
	deadline := time.Now().Add(10 * time.Second)
	for {
		var g GroupResponse
		for _, b := range brokers {
			_, g = post(t, addr, "/v1/brokers/heartbeat", BrokerRequest{Group: "broker-a", Broker: b})
		}
		if cond(g.Group) {
			return g.Group
		}
		require.True(t, time.Now().Before(deadline), "the group never got there: %v", g.Group)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestSingleControllerElectsAltersAndRestartsFromItsLog(t *testing.T) {
	dir := t.TempDir()
	addr, stop := single(t, dir, 200*time.Millisecond)
	code, g := post(t, addr, "/v1/brokers/register", BrokerRequest{Group: "broker-a", Broker: 1})
	require.Equal(t, http.StatusOK, code)
	assert.True(t, g.Registered)
	assert.Equal(t, "leader", g.Role)
	code, _ = post(t, addr, "/v1/brokers/register", BrokerRequest{Group: "broker-a", Broker: 2})
	require.Equal(t, http.StatusOK, code)

	// Both keep heartbeating (a master not heard for the 200 ms timeout
	// would be replaced); a master is elected: the lower id, since both
	// report the same epoch and offset.
	hbCtx, hbStop := context.WithCancel(context.Background())
	hbDone := make(chan struct{})
	go func() {
		defer close(hbDone)
		for hbCtx.Err() == nil {
			for _, b := range []string{"1", "2"} {
				if resp, err := http.Post("http://"+addr+"/v1/brokers/heartbeat", "application/json",
					bytes.NewReader([]byte(`{"group":"broker-a","broker":`+b+`}`))); err == nil {
					resp.Body.Close()
				}
			}
			time.Sleep(20 * time.Millisecond)
		}
	}()
	got := waitGroup(t, addr, []int{1, 2}, func(g controller.Group) bool { return g.Master != controller.NoMaster })
	assert.Equal(t, controller.BrokerID(1), got.Master)

	// Two set changes on the same epochs: the first is applied, the second
	// refused as stale, in the order they were asked.
	alter := AlterRequest{Group: "broker-a", Broker: 1, MasterEpoch: got.MasterEpoch, SyncStateSetEpoch: got.SyncStateSetEpoch, SyncStateSet: []int{1, 2}}
	code, g = post(t, addr, "/v1/alterSyncStateSet", alter)
	require.Equal(t, http.StatusOK, code, g.Why)
	assert.True(t, g.Accepted)
	want := g.Group
	assert.Equal(t, []controller.BrokerID{1, 2}, want.SyncStateSet)
	code, g = post(t, addr, "/v1/alterSyncStateSet", alter)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, g.Why, "set epoch")
	// Two changes asked at once on the same epochs are both proposed (each
	// passes the check against the state applied so far); the one applied
	// first wins, the other is refused when applied, and each request
	// gets its own answer.
	codes := make(chan int, 2)
	sets := make(chan []controller.BrokerID, 2)
	for _, set := range [][]int{{1}, {1, 2}} {
		go func() {
			a := AlterRequest{Group: "broker-a", Broker: 1, MasterEpoch: want.MasterEpoch, SyncStateSetEpoch: want.SyncStateSetEpoch, SyncStateSet: set}
			code, g := post(t, addr, "/v1/alterSyncStateSet", a)
			codes <- code
			if code == http.StatusOK {
				sets <- g.Group.SyncStateSet
			}
		}()
	}
	got1, got2 := <-codes, <-codes
	assert.ElementsMatch(t, []int{http.StatusOK, http.StatusConflict}, []int{got1, got2})
	winner := <-sets
	code, g = post(t, addr, "/v1/brokers/heartbeat", BrokerRequest{Group: "broker-a", Broker: 1})
	require.Equal(t, http.StatusOK, code)
	assert.Equal(t, winner, g.Group.SyncStateSet, "the accepted answer carries the set that was applied")
	assert.Equal(t, want.SyncStateSetEpoch+1, g.Group.SyncStateSetEpoch)
	want = g.Group
	// Not the master.
	alter.Broker, alter.SyncStateSetEpoch = 2, want.SyncStateSetEpoch
	code, g = post(t, addr, "/v1/alterSyncStateSet", alter)
	assert.Equal(t, http.StatusConflict, code)
	assert.Contains(t, g.Why, "not the master")

	// A restart rebuilds the state from the log in the folder.
	hbStop()
	<-hbDone
	stop()
	addr, _ = single(t, dir, time.Hour) // nobody heartbeats now: judge nobody
	deadline := time.Now().Add(10 * time.Second)
	for {
		resp, err := http.Get("http://" + addr + "/v1/groups/broker-a")
		require.NoError(t, err)
		var r GroupResponse
		require.NoError(t, json.NewDecoder(resp.Body).Decode(&r))
		resp.Body.Close()
		if r.Group.String() == want.String() {
			break
		}
		require.True(t, time.Now().Before(deadline), "state not rebuilt: %v, want %v", r.Group, want)
		time.Sleep(20 * time.Millisecond)
	}
}

func TestDataFolderOfABrokerIsRefused(t *testing.T) {
	dir := t.TempDir()
	require.NoError(t, server.CheckMembers(dir, "broker", 1, map[core.NodeID]string{1: "127.0.0.1:1"}))
	_, err := New(Config{GroupMember: server.GroupMember{ID: 1, Dir: dir, Secret: "s",
		Peers: map[core.NodeID]string{1: "127.0.0.1:1"}, HTTP: map[core.NodeID]string{1: "127.0.0.1:2"}}})
	require.Error(t, err)
	assert.Contains(t, err.Error(), "belongs to broker 1 of group [1], but this is controller 1 of group [1]")
}
