package main

// Process tests of `dledgerlab controller`: three real controllers on
// 127.0.0.1 (the binary TestMain built), brokers played by the test
// through the HTTP API. Every wait polls for a condition; every test kills
// what it started.

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net/http"
	"regexp"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/controller"
	"dledgerlab/native/ctlserver"
	"dledgerlab/native/proc"
	"dledgerlab/native/server"
)

// testBrokerTimeout is the controllers' --broker-timeout in these tests.
const testBrokerTimeout = time.Second

// ctlAnswer is one answer of a controller: its status code and either the
// group state or the error.
type ctlAnswer struct {
	code  int
	group ctlserver.GroupResponse
	err   server.ErrorBody
}

// ctlCall sends one request to a controller's HTTP address (GET without
// body).
func ctlCall(ctx context.Context, addr, method, path string, body []byte) (ctlAnswer, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return ctlAnswer{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ctlAnswer{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return ctlAnswer{}, err
	}
	a := ctlAnswer{code: resp.StatusCode}
	if resp.StatusCode >= 400 && resp.StatusCode != http.StatusConflict {
		var env struct{ Error server.ErrorBody }
		err := json.Unmarshal(b, &env)
		a.err = env.Error
		return a, err
	}
	return a, json.Unmarshal(b, &a.group)
}

// ctlStatus returns a controller's /v1/status.
func ctlStatus(ctx context.Context, addr string) (ctlserver.Status, error) {
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, _ := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status", nil)
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return ctlserver.Status{}, err
	}
	defer resp.Body.Close()
	var st ctlserver.Status
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// ctlLeader returns the running controller that leads in the highest term
// and answers brokers, or 0.
func ctlLeader(ctx context.Context, c *proc.Cluster) int {
	lead, term := 0, uint64(0)
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		if st, err := ctlStatus(ctx, n.HTTPAddr); err == nil && st.Role == "leader" && st.Term >= term {
			lead, term = n.ID, st.Term
		}
	}
	return lead
}

// ctlPost posts body to the leader controller, following NOT_LEADER
// answers, until it answers something else or ctx ends.
func ctlPost(ctx context.Context, c *proc.Cluster, path string, body any) (ctlAnswer, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return ctlAnswer{}, err
	}
	for {
		if lead := ctlLeader(ctx, c); lead != 0 {
			a, err := ctlCall(ctx, c.Node(lead).HTTPAddr, http.MethodPost, path, b)
			if err == nil && a.code != http.StatusMisdirectedRequest && a.code != http.StatusGatewayTimeout {
				return a, nil
			}
		}
		select {
		case <-ctx.Done():
			return ctlAnswer{}, fmt.Errorf("POST %s: %w", path, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// ctlGroup returns group broker-a as controller id applied it.
func ctlGroup(ctx context.Context, c *proc.Cluster, id int) (ctlserver.GroupResponse, error) {
	a, err := ctlCall(ctx, c.Node(id).HTTPAddr, http.MethodGet, "/v1/groups/broker-a", nil)
	return a.group, err
}

// heartbeats plays three live brokers of group broker-a: each heartbeats
// the leader controller every 100 ms (a tenth of the broker timeout) until
// stop is called.
func heartbeats(c *proc.Cluster) (stop func()) {
	ctx, cancel := context.WithCancel(context.Background())
	var wg sync.WaitGroup
	for b := 1; b <= 3; b++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for ctx.Err() == nil {
				ctlPost(ctx, c, "/v1/brokers/heartbeat", ctlserver.BrokerRequest{Group: "broker-a", Broker: b})
				select {
				case <-ctx.Done():
				case <-time.After(100 * time.Millisecond):
				}
			}
		}()
	}
	return func() { cancel(); wg.Wait() }
}

func startControllers(t *testing.T) *proc.Cluster {
	t.Helper()
	c, err := proc.NewControllers(binPath, t.TempDir(), 3, testSecret)
	require.NoError(t, err)
	c.Extra = []string{"--broker-timeout", testBrokerTimeout.String()}
	startAll(t, c, "controller")
	return c
}

// sameState reports whether two answers hold the same replicated state of
// the group.
func sameState(a, b controller.Group) bool {
	return a.String() == b.String() && fmt.Sprint(a.Replicas) == fmt.Sprint(b.Replicas)
}

func TestControllersKeepGroupStateAcrossLeaderKill(t *testing.T) {
	c := startControllers(t)
	ctx := ctxFor(t, 60*time.Second)
	require.NoError(t, proc.WaitFor(ctx, "a controller leader", func() bool { return ctlLeader(ctx, c) != 0 }))

	// Three brokers register; while they heartbeat, the leader elects a
	// master among them once it has led for a broker timeout.
	for b := 1; b <= 3; b++ {
		a, err := ctlPost(ctx, c, "/v1/brokers/register", ctlserver.BrokerRequest{Group: "broker-a", Broker: b})
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, a.code, "register broker %d: %+v", b, a.err)
		assert.Contains(t, a.group.Group.Replicas, controller.BrokerID(b))
	}
	stop := heartbeats(c)
	defer stop()
	var g controller.Group
	require.NoError(t, proc.WaitFor(ctx, "a master elected", func() bool {
		a, err := ctlPost(ctx, c, "/v1/brokers/heartbeat", ctlserver.BrokerRequest{Group: "broker-a", Broker: 1})
		g = a.group.Group
		return err == nil && g.Master != controller.NoMaster && len(g.Replicas) == 3
	}))

	// The master brings every broker into the SyncStateSet; a request on
	// the old set epoch is then refused.
	alter := ctlserver.AlterRequest{Group: "broker-a", Broker: int(g.Master), MasterEpoch: g.MasterEpoch,
		SyncStateSetEpoch: g.SyncStateSetEpoch, SyncStateSet: []int{1, 2, 3}}
	a, err := ctlPost(ctx, c, "/v1/alterSyncStateSet", alter)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, a.code, "alterSyncStateSet: %s", a.group.Why)
	require.True(t, a.group.Accepted)
	want := a.group.Group
	assert.Equal(t, []controller.BrokerID{1, 2, 3}, want.SyncStateSet)
	assert.Equal(t, g.SyncStateSetEpoch+1, want.SyncStateSetEpoch)
	a, err = ctlPost(ctx, c, "/v1/alterSyncStateSet", alter)
	require.NoError(t, err)
	assert.Equal(t, http.StatusConflict, a.code)
	assert.False(t, a.group.Accepted)
	assert.Contains(t, a.group.Why, "set epoch")

	// Every controller applied it.
	require.NoError(t, proc.WaitFor(ctx, "every controller to apply the set change", func() bool {
		for _, n := range c.Nodes {
			if r, err := ctlGroup(ctx, c, n.ID); err != nil || !sameState(r.Group, want) {
				return false
			}
		}
		return true
	}))

	// kill -9 the controller leader: another is elected and serves the
	// same state, and keeps it for two broker timeouts (the brokers go on
	// heartbeating, so the master is alive and nobody is elected).
	old := ctlLeader(ctx, c)
	require.NotZero(t, old)
	c.Node(old).Kill()
	var lead int
	require.NoError(t, proc.WaitFor(ctx, "a new controller leader", func() bool {
		lead = ctlLeader(ctx, c)
		return lead != 0 && lead != old
	}))
	var r ctlserver.GroupResponse
	require.NoError(t, proc.WaitFor(ctx, "the new leader to answer brokers", func() bool {
		a, err := ctlPost(ctx, c, "/v1/brokers/heartbeat", ctlserver.BrokerRequest{Group: "broker-a", Broker: int(want.Master)})
		r = a.group
		return err == nil && a.code == http.StatusOK && r.Controller != old
	}))
	assert.True(t, sameState(r.Group, want), "after the kill: %v, before: %v", r.Group, want)
	hold := time.Now().Add(2 * testBrokerTimeout)
	for time.Now().Before(hold) {
		r, err := ctlGroup(ctx, c, lead)
		require.NoError(t, err)
		require.True(t, sameState(r.Group, want), "controller %d: %v, before the kill: %v", lead, r.Group, want)
		time.Sleep(50 * time.Millisecond)
	}

	// The new leader takes a set change; the restarted controller reads
	// its log from its files and catches up with what it missed.
	alter = ctlserver.AlterRequest{Group: "broker-a", Broker: int(want.Master), MasterEpoch: want.MasterEpoch,
		SyncStateSetEpoch: want.SyncStateSetEpoch, SyncStateSet: []int{int(want.Master)}}
	a, err = ctlPost(ctx, c, "/v1/alterSyncStateSet", alter)
	require.NoError(t, err)
	require.True(t, a.group.Accepted, "alterSyncStateSet after the kill: %s", a.group.Why)
	after := a.group.Group
	require.NoError(t, c.Start(old))
	require.NoError(t, proc.WaitFor(ctx, "the restarted controller to catch up", func() bool {
		r, err := ctlGroup(ctx, c, old)
		return err == nil && sameState(r.Group, after)
	}))
	m := regexp.MustCompile(`msg="controller opened".*last_index=(\d+)`).FindAllStringSubmatch(c.Node(old).Log(), -1)
	require.Len(t, m, 2, "two starts of controller %d", old)
	n, _ := strconv.Atoi(m[1][1])
	assert.Positive(t, n, "the restarted controller found its log in its files")
}

func TestControllerRefusesBadRequestsClearly(t *testing.T) {
	c := startControllers(t)
	ctx := ctxFor(t, 30*time.Second)
	var lead int
	require.NoError(t, proc.WaitFor(ctx, "a controller leader", func() bool { lead = ctlLeader(ctx, c); return lead != 0 }))
	addr := c.Node(lead).HTTPAddr
	for _, tc := range []struct {
		name, path, body string
		code             int
		errCode, says    string
	}{
		{"not JSON", "/v1/brokers/heartbeat", "{group", 400, server.CodeBadRequest, "malformed JSON"},
		{"unknown field", "/v1/brokers/register", `{"group":"g","broker":1,"brokr":2}`, 400, server.CodeBadRequest, `unknown field "brokr"`},
		{"no group", "/v1/brokers/register", `{"broker":1}`, 400, server.CodeBadRequest, "want a name of 1 to"},
		{"bad group", "/v1/brokers/heartbeat", `{"group":"a b","broker":1}`, 400, server.CodeBadRequest, "want letters, digits"},
		{"broker 0", "/v1/brokers/register", `{"group":"g","broker":0}`, 400, server.CodeBadRequest, "want an id from 1"},
		{"empty set", "/v1/alterSyncStateSet", `{"group":"g","broker":1,"master_epoch":1,"sync_state_set_epoch":1,"sync_state_set":[]}`, 400, server.CodeBadRequest, "sync_state_set has 0 brokers"},
		{"oversized", "/v1/brokers/heartbeat", `{"group":"` + strings.Repeat("a", ctlserver.MaxRequestBytes) + `"}`, 413, server.CodeTooLarge, "larger than 16384 bytes"},
		{"no endpoint", "/v1/nothing", `{}`, 404, server.CodeNotFound, "no endpoint POST /v1/nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			a, err := ctlCall(ctx, addr, http.MethodPost, tc.path, []byte(tc.body))
			require.NoError(t, err)
			assert.Equal(t, tc.code, a.code)
			assert.Equal(t, tc.errCode, a.err.Code)
			assert.Contains(t, a.err.Message, tc.says)
		})
	}
	// A follower names the leader; the leader still answers.
	follower := lead%3 + 1
	a, err := ctlCall(ctx, c.Node(follower).HTTPAddr, http.MethodPost, "/v1/brokers/heartbeat", []byte(`{"group":"g","broker":1}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusMisdirectedRequest, a.code)
	assert.Equal(t, server.CodeNotLeader, a.err.Code)
	assert.Equal(t, addr, a.err.LeaderAddr)
	a, err = ctlCall(ctx, addr, http.MethodPost, "/v1/brokers/register", []byte(`{"group":"g","broker":1}`))
	require.NoError(t, err)
	assert.Equal(t, http.StatusOK, a.code)
	for _, n := range c.Nodes {
		assert.True(t, n.Running(), "controller %d is still running", n.ID)
	}
}

// One secret serves every process of a classroom, so the peer handshake
// also proves the group: a DLedger-mode broker whose --peers names a
// controller's address is refused by name on both sides, and the
// controllers keep their leader. (Brokers 1 and 2 run; "broker 3" is
// controller 3's peer address. The lower id dials, so both brokers dial it.)
func TestBrokerGivenAControllersAddressIsRefusedByName(t *testing.T) {
	ctls := startControllers(t)
	ctx := ctxFor(t, 60*time.Second)
	require.NoError(t, proc.WaitFor(ctx, "a controller leader", func() bool { return ctlLeader(ctx, ctls) != 0 }))

	c, err := proc.New(binPath, t.TempDir(), 3, testSecret, "")
	require.NoError(t, err)
	c.Nodes[2].PeerAddr = ctls.Node(3).PeerAddr
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			for _, id := range []int{1, 2} {
				t.Logf("---- log of broker %d ----\n%s", id, tail(c.Node(id).Log(), 40))
			}
			t.Logf("---- log of controller 3 ----\n%s", tail(ctls.Node(3).Log(), 40))
		}
	})
	require.NoError(t, c.Start(1))
	require.NoError(t, c.Start(2))

	refused := func(log string) bool {
		return strings.Contains(log, "answers as a member of") && strings.Contains(log, "controllers") &&
			strings.Contains(log, "dledger brokers") && strings.Contains(log, "check --peers")
	}
	require.NoError(t, proc.WaitFor(ctx, "both brokers refusing controller 3 by name", func() bool {
		return refused(c.Node(1).Log()) && refused(c.Node(2).Log())
	}))
	require.NoError(t, proc.WaitFor(ctx, "controller 3 logging why", func() bool {
		log := ctls.Node(3).Log()
		return strings.Contains(log, "refused our hello") && strings.Contains(log, "dialed this member of")
	}))
	// The two brokers still form a majority of their group of three.
	_, err = c.WaitLeader(ctx)
	require.NoError(t, err)
	assert.NotZero(t, ctlLeader(ctx, ctls), "the controllers lost their leader")
}
