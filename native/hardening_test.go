package main

// Bad input against real brokers: one request, peer or file must not stop a
// group (issue: "no single request, peer or file may stop a group").

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/broker"
	"dledgerlab/core/sim"
	"dledgerlab/native/client"
	"dledgerlab/native/server"
)

// Sizes agree end to end: the largest message the broker accepts fits every
// CommitLog. Bodies of limit−1 and limit bytes are stored on all three
// brokers, limit+1 and a 4 MiB body (whose encoding is larger than 4 MiB)
// are refused with 400 MESSAGE_TOO_LARGE naming the limit, and every broker
// stays up and answers.
func TestOversizedMessagesStopNoBroker(t *testing.T) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	ctx := ctxFor(t, 60*time.Second)
	probe := broker.Message{Topic: "big", Producer: "p", Seq: 1}
	limit := broker.DefaultMaxMessageBytes - broker.EncodedLen(probe) // the largest body for these names
	cases := []struct {
		name string
		size int
		ok   bool
	}{
		{"limit-1", limit - 1, true},
		{"limit", limit, true},
		{"limit+1", limit + 1, false},
		{"a 4 MiB body", 4 << 20, false},
	}
	seq := uint64(0)
	for _, tc := range cases {
		seq++
		_, err := c.Client.Produce(ctx, probe.Topic, server.ProduceRequest{Body: strings.Repeat("x", tc.size), Producer: probe.Producer, Seq: seq})
		if tc.ok {
			require.NoError(t, err, tc.name)
		} else {
			var ae *client.APIError
			require.True(t, errors.As(err, &ae), "%s: %v", tc.name, err)
			assert.Equal(t, 400, ae.Status, tc.name)
			assert.Equal(t, server.CodeMessageLarge, ae.Code, tc.name)
			assert.Contains(t, ae.Message, fmt.Sprintf("over the limit of %d bytes", broker.DefaultMaxMessageBytes), tc.name)
			assert.Contains(t, ae.Message, fmt.Sprintf("the body can be at most %d bytes", limit), tc.name)
		}
		for _, n := range c.Nodes {
			require.True(t, n.Running(), "%s: broker %d exited:\n%s", tc.name, n.ID, tail(n.Log(), 20))
			_, err := c.Client.Status(ctx, n.HTTPAddr)
			require.NoError(t, err, "%s: broker %d does not answer", tc.name, n.ID)
		}
	}
	_, err := c.Client.Produce(ctx, probe.Topic, server.ProduceRequest{Body: "small", Producer: probe.Producer, Seq: seq + 1})
	require.NoError(t, err, "the group still takes writes")
	waitConverged(t, c)
	msgs := consumeAll(t, c, probe.Topic)
	require.Len(t, msgs, 3)
	assert.Len(t, msgs[0].Body, limit-1)
	assert.Len(t, msgs[1].Body, limit)
	assert.Equal(t, "small", msgs[2].Body)
}

// The launcher hands the cluster secret and the admin token to its brokers
// in their environment: a command line is readable by every local user (ps,
// /proc/PID/cmdline). Neither appears in a broker's log either, even after a
// refused admin call and a refused peer.
func TestSecretsStayOffCommandLinesAndLogs(t *testing.T) {
	if _, err := os.Stat("/proc/self/cmdline"); err != nil {
		t.Skip("needs /proc")
	}
	c := startCluster(t, 3)
	lead := waitLeader(t, c)
	ctx := ctxFor(t, 20*time.Second)
	for _, n := range c.Nodes {
		cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", n.Pid()))
		require.NoError(t, err)
		args := strings.ReplaceAll(string(cmdline), "\x00", " ")
		assert.Contains(t, args, "node --id", "broker %d", n.ID)
		assert.NotContains(t, args, testSecret, "broker %d's command line holds the cluster secret", n.ID)
		assert.NotContains(t, args, testToken, "broker %d's command line holds the admin token", n.ID)
	}
	wrong := client.New([]string{c.Node(lead).HTTPAddr})
	wrong.AdminToken = testToken + "-wrong"
	_, err := wrong.Admin(ctx, c.Node(lead).HTTPAddr, "heal", server.AdminRequest{})
	require.Error(t, err)
	_, err = c.Client.Produce(ctx, "orders", server.ProduceRequest{Body: "hello"})
	require.NoError(t, err)
	for _, n := range c.Nodes {
		log := n.Log()
		assert.NotContains(t, log, testSecret, "broker %d's log holds the cluster secret", n.ID)
		assert.NotContains(t, log, testToken, "broker %d's log holds the admin token", n.ID)
	}
}

// The live view tells the truth about the teaching switches: after POST
// /v1/admin/rules a broker's /v1/view frame and its /v1/status agree.
func TestViewAndStatusAgreeOnSwitches(t *testing.T) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	ctx := ctxFor(t, 20*time.Second)
	addr := c.Node(2).HTTPAddr
	for _, sw := range []map[string]bool{
		{"check_quorum": false},
		{"pre_vote": false},
		{"check_quorum": true, "pre_vote": true},
	} {
		_, err := c.Client.AdminCall(ctx, addr, "rules", sw)
		require.NoError(t, err)
		st, err := c.Client.Status(ctx, addr)
		require.NoError(t, err)
		var v sim.ClusterView
		require.NoError(t, getJSON(ctx, "http://"+addr+"/v1/view", &v))
		assert.Equal(t, st.CheckQuorum, v.Settings.CheckQuorum, "check_quorum after %v", sw)
		assert.Equal(t, st.PreVote, v.Settings.PreVote, "pre_vote after %v", sw)
		for name, on := range sw {
			want := map[string]bool{"check_quorum": st.CheckQuorum, "pre_vote": st.PreVote}[name]
			assert.Equal(t, on, want, "%s after %v", name, sw)
		}
	}
}

func getJSON(ctx context.Context, url string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("GET %s: %s", url, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(v)
}
