package main

// Process tests: real dledgerlab brokers on 127.0.0.1, built once in
// TestMain, started and killed as separate processes. Every wait polls for a
// condition; every test kills what it started.

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/commitlog"
	"dledgerlab/native/client"
	"dledgerlab/native/proc"
	"dledgerlab/native/server"
)

var binPath string

func TestMain(m *testing.M) {
	dir, err := os.MkdirTemp("", "dledgerlab-test-bin-")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	binPath = filepath.Join(dir, "dledgerlab")
	// GOFLAGS from the environment (e.g. -race, -overlay) apply here too.
	out, err := exec.Command("go", "build", "-o", binPath, ".").CombinedOutput()
	if err != nil {
		fmt.Fprintf(os.Stderr, "building dledgerlab: %v\n%s", err, out)
		os.RemoveAll(dir)
		os.Exit(1)
	}
	code := m.Run()
	os.RemoveAll(dir)
	os.Exit(code)
}

const (
	testSecret = "test-secret"
	testToken  = "test-admin-token"
	// electionBound is the longest a group may take to elect a leader after
	// losing one: the largest election timeout (30 ticks of 10 ms), a
	// pre-vote and a vote round, plus slack for a busy 2-core CI machine.
	electionBound = 2 * time.Second
)

// startCluster starts n brokers and waits for a leader.
func startCluster(t *testing.T, n int, prepare ...func(*proc.Cluster)) *proc.Cluster {
	t.Helper()
	c, err := proc.New(binPath, t.TempDir(), n, testSecret, testToken)
	require.NoError(t, err)
	for _, p := range prepare {
		p(c)
	}
	startAll(t, c, "broker")
	return c
}

// startAll starts every process of c; at the end of the test it kills
// them, and if the test failed logs the end of each one's log (role names
// them: "broker", "controller").
func startAll(t *testing.T, c *proc.Cluster, role string) {
	t.Helper()
	t.Cleanup(func() {
		c.Close()
		if t.Failed() {
			for _, nd := range c.Nodes {
				t.Logf("---- log of %s %d ----\n%s", role, nd.ID, tail(nd.Log(), 60))
			}
		}
	})
	require.NoError(t, c.StartAll())
}

func tail(s string, lines int) string {
	ls := strings.Split(s, "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func ctxFor(t *testing.T, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func waitLeader(t *testing.T, c *proc.Cluster) int {
	t.Helper()
	id, err := c.WaitLeader(ctxFor(t, 15*time.Second))
	require.NoError(t, err)
	return id
}

// ack is one produce answered with success.
type ack struct {
	producer string
	seq      uint64
}

// produceN sends n messages from each of the producers p-0.. concurrently,
// in sequence per producer, and returns the successes.
func produceN(t *testing.T, cl *client.Client, topic string, producers, n int, prefix string) []ack {
	t.Helper()
	var mu sync.Mutex
	var acks []ack
	var wg sync.WaitGroup
	ctx := ctxFor(t, 60*time.Second)
	for p := range producers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("%s-%d", prefix, p)
			for seq := uint64(1); seq <= uint64(n); seq++ {
				_, err := cl.Produce(ctx, topic, server.ProduceRequest{Body: fmt.Sprintf("%s#%d", name, seq), Producer: name, Seq: seq})
				if !assert.NoError(t, err) {
					return
				}
				mu.Lock()
				acks = append(acks, ack{name, seq})
				mu.Unlock()
			}
		}()
	}
	wg.Wait()
	return acks
}

// waitConverged waits until the leader has committed everything in its log
// (a produce whose client gave up may still be in flight) and every running
// broker has applied all of it.
func waitConverged(t *testing.T, c *proc.Cluster) {
	t.Helper()
	ctx := ctxFor(t, 20*time.Second)
	require.NoError(t, proc.WaitFor(ctx, "every broker to apply everything the leader holds", func() bool {
		sts := c.Statuses(ctx)
		lead := c.Leader(ctx)
		if lead == 0 {
			return false
		}
		ls, ok := sts[lead]
		if !ok || ls.Commit != ls.LastIndex {
			return false
		}
		for _, n := range c.Nodes {
			st, ok := sts[n.ID]
			if n.Running() && (!ok || st.Applied != ls.LastIndex || st.Leader != uint64(lead)) {
				return false
			}
		}
		return true
	}))
}

// consumeAll reads the whole topic from every running broker and checks
// they hold the same messages in the same order; it returns them.
func consumeAll(t *testing.T, c *proc.Cluster, topic string) []server.ConsumedMessage {
	t.Helper()
	var first []server.ConsumedMessage
	firstID := 0
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		got, err := c.Client.ConsumeAll(ctxFor(t, 20*time.Second), n.HTTPAddr, topic)
		require.NoError(t, err)
		if firstID == 0 {
			first, firstID = got, n.ID
			continue
		}
		require.Equal(t, len(first), len(got), "broker %d and broker %d hold different numbers of messages", firstID, n.ID)
		for i := range got {
			require.Equal(t, first[i], got[i], "message %d differs between broker %d and broker %d", i, firstID, n.ID)
		}
	}
	return first
}

// checkOncePerSeq asserts every ack is stored exactly once and nothing is
// stored twice.
func checkOncePerSeq(t *testing.T, msgs []server.ConsumedMessage, acks []ack) {
	t.Helper()
	count := map[ack]int{}
	for _, m := range msgs {
		count[ack{m.Producer, m.Seq}]++
	}
	for k, n := range count {
		assert.Equal(t, 1, n, "%s#%d is stored %d times", k.producer, k.seq, n)
	}
	for _, a := range acks {
		assert.Equal(t, 1, count[a], "acknowledged %s#%d is not stored", a.producer, a.seq)
	}
}

func TestThreeBrokersElectAndReplicateInOrder(t *testing.T) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	acks := produceN(t, c.Client, "orders", 10, 100, "p")
	require.Len(t, acks, 1000)
	waitConverged(t, c)
	msgs := consumeAll(t, c, "orders")
	require.Len(t, msgs, 1000)
	checkOncePerSeq(t, msgs, acks)
	for i, m := range msgs {
		assert.Equal(t, uint64(i), m.QueueOffset)
	}
}

func TestKillLeaderUnderLoadLosesNothingAcknowledged(t *testing.T) {
	c := startCluster(t, 3)
	lead := waitLeader(t, c)
	before := c.Statuses(ctxFor(t, 5*time.Second))[lead].Term

	var mu sync.Mutex
	var acks []ack
	ctx, stop := context.WithCancel(context.Background())
	defer stop()
	var wg sync.WaitGroup
	for p := range 4 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			name := fmt.Sprintf("load-%d", p)
			for seq := uint64(1); ctx.Err() == nil; seq++ {
				// Retry the same seq until it is stored: an unknown outcome
				// must not become a duplicate.
				rctx, cancel := context.WithTimeout(ctx, 20*time.Second)
				_, err := c.Client.Produce(rctx, "load", server.ProduceRequest{Body: "x", Producer: name, Seq: seq})
				cancel()
				if err != nil {
					return // the test stopped the load
				}
				mu.Lock()
				acks = append(acks, ack{name, seq})
				mu.Unlock()
			}
		}()
	}
	count := func() int { mu.Lock(); defer mu.Unlock(); return len(acks) }
	require.NoError(t, proc.WaitFor(ctxFor(t, 20*time.Second), "300 acknowledged produces", func() bool { return count() >= 300 }))

	killed := time.Now()
	c.Node(lead).Kill()
	newLead, err := c.WaitLeader(ctxFor(t, 10*time.Second))
	require.NoError(t, err)
	elected := time.Since(killed)
	assert.NotEqual(t, lead, newLead)
	assert.Less(t, elected, electionBound, "a new leader within the election bound")
	t.Logf("broker %d killed; broker %d leads after %v", lead, newLead, elected)
	assert.Greater(t, c.Statuses(ctxFor(t, 5*time.Second))[newLead].Term, before)

	atKill := count()
	require.NoError(t, proc.WaitFor(ctxFor(t, 20*time.Second), "200 more produces under the new leader", func() bool { return count() >= atKill+200 }))
	stop()
	wg.Wait()

	waitConverged(t, c)
	msgs := consumeAll(t, c, "load")
	checkOncePerSeq(t, msgs, acks)

	// The killed broker comes back with its data and catches up.
	require.NoError(t, c.Start(lead))
	waitConverged(t, c)
	consumeAll(t, c, "load")
}

func TestPartitionedLeaderStopsAcknowledgingAndIsRepairedAfterHeal(t *testing.T) {
	c := startCluster(t, 3)
	old := waitLeader(t, c)
	produceN(t, c.Client, "brain", 1, 10, "before")
	var others []uint64
	var majority []string
	for _, n := range c.Nodes {
		if n.ID != old {
			others = append(others, uint64(n.ID))
			majority = append(majority, n.HTTPAddr)
		}
	}
	oldAddr := c.Node(old).HTTPAddr
	ctx := ctxFor(t, 30*time.Second)

	_, err := c.Client.Admin(ctx, oldAddr, "partition", server.AdminRequest{Peers: others})
	require.NoError(t, err)

	// The old leader takes this write into its log but can never commit it.
	_, err = c.Client.ProduceTo(ctx, oldAddr, "brain", server.ProduceRequest{Body: "lost", Producer: "lost", Seq: 1})
	var ae *client.APIError
	require.True(t, errors.As(err, &ae), "the partitioned leader must not acknowledge: %v", err)
	// Proposed, then answered "outcome unknown" when CheckQuorum made it
	// step down (or when the quorum timeout fired first).
	require.Contains(t, []string{server.CodeTimeout, server.CodeLeaderChanged}, ae.Code, "answer: %v", ae)
	assert.Equal(t, "unknown", ae.Outcome)

	// CheckQuorum: the old leader steps down; the majority elects and commits.
	require.NoError(t, proc.WaitFor(ctx, "the old leader to step down", func() bool {
		st, err := c.Client.Status(ctx, oldAddr)
		return err == nil && st.Role != "leader"
	}))
	mc := client.New(majority)
	acks := produceN(t, mc, "brain", 1, 10, "after")
	require.Len(t, acks, 10)
	newLead := c.Leader(ctx)
	require.NotEqual(t, old, newLead)

	_, err = c.Client.Admin(ctx, oldAddr, "heal", server.AdminRequest{})
	require.NoError(t, err)
	waitConverged(t, c)
	st, err := c.Client.Status(ctx, oldAddr)
	require.NoError(t, err)
	assert.Equal(t, "follower", st.Role)
	assert.Equal(t, uint64(newLead), st.Leader)
	assert.GreaterOrEqual(t, st.Truncated, uint64(1), "the old leader's uncommitted entry was truncated")
	assert.Contains(t, c.Node(old).Log(), "truncated uncommitted entries")
	msgs := consumeAll(t, c, "brain")
	assert.Len(t, msgs, 20)
	for _, m := range msgs {
		assert.NotEqual(t, "lost", m.Producer, "an unacknowledged write of the old leader was committed")
	}
}

func TestRestartTornTailAndCorruption(t *testing.T) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	acks := produceN(t, c.Client, "durable", 4, 50, "d")
	waitConverged(t, c)

	t.Run("stop and restart every broker: everything committed is still there", func(t *testing.T) {
		c.StopAll()
		require.NoError(t, c.StartAll())
		waitLeader(t, c)
		waitConverged(t, c)
		msgs := consumeAll(t, c, "durable")
		require.Len(t, msgs, 200)
		checkOncePerSeq(t, msgs, acks)
	})

	t.Run("a torn tail is cut off and the broker rejoins", func(t *testing.T) {
		lead := c.Leader(ctxFor(t, 5*time.Second))
		victim := c.Nodes[lead%3] // a follower
		victim.Kill()
		seg := filepath.Join(victim.Dir, commitlog.SegmentName(0))
		f, err := os.OpenFile(seg, os.O_WRONLY, 0)
		require.NoError(t, err)
		// Half a header right after the last entry, in the zeros the
		// broker wrote ahead of it (store.PreallocateBytes).
		_, err = f.WriteAt([]byte{0, 0, 0, 1, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0, 9}, logEnd(t, seg))
		require.NoError(t, err)
		f.Close()
		require.NoError(t, c.Start(victim.ID))
		waitConverged(t, c)
		assert.Contains(t, victim.Log(), "recovery cut a torn tail")
		assert.Contains(t, victim.Log(), "bytes=15 ", "the torn bytes, not the zeros after them")
		require.Len(t, consumeAll(t, c, "durable"), 200)
	})

	t.Run("a flipped byte before the tail refuses to start, naming file and offset", func(t *testing.T) {
		lead := c.Leader(ctxFor(t, 5*time.Second))
		victim := c.Nodes[lead%3]
		victim.Stop()
		seg := filepath.Join(victim.Dir, commitlog.SegmentName(0))
		b, err := os.ReadFile(seg)
		require.NoError(t, err)
		b[logEnd(t, seg)/2] ^= 0xFF // in an entry, not in the zeros after them
		require.NoError(t, os.WriteFile(seg, b, 0o644))
		require.NoError(t, c.Start(victim.ID))
		err = victim.Wait(ctxFor(t, 10*time.Second))
		require.Error(t, err, "the broker must refuse to start")
		log := victim.Log()
		assert.Contains(t, log, "refuses to start")
		assert.Contains(t, log, seg)
		assert.Contains(t, log, "offset ")
	})
}

func TestPeerWithWrongSecretIsRefused(t *testing.T) {
	c := startCluster(t, 3, func(c *proc.Cluster) { c.Node(1).Secret = "not-the-secret" })
	ctx := ctxFor(t, 15*time.Second)
	require.NoError(t, proc.WaitFor(ctx, "brokers 2 and 3 to refuse broker 1", func() bool {
		return strings.Contains(c.Node(2).Log(), "peer refused") && strings.Contains(c.Node(3).Log(), "peer refused")
	}))
	assert.Contains(t, c.Node(2).Log(), "does not match this broker's cluster secret")
	lead := waitLeader(t, c)
	assert.NotEqual(t, 1, lead)
	produceN(t, client.New([]string{c.Node(2).HTTPAddr, c.Node(3).HTTPAddr}), "t", 1, 5, "p")
	st, err := c.Client.Status(ctx, c.Node(1).HTTPAddr)
	require.NoError(t, err)
	assert.Equal(t, uint64(0), st.Commit, "the refused broker never received an entry")
	assert.NotEqual(t, "leader", st.Role)
}

func TestAdminCallsNeedTheToken(t *testing.T) {
	c := startCluster(t, 1)
	waitLeader(t, c)
	ctx := ctxFor(t, 10*time.Second)
	addr := c.Node(1).HTTPAddr
	for _, tc := range []struct {
		name, token string
		status      int
		code        string
	}{
		{"missing token", "", 401, server.CodeUnauthorized},
		{"wrong token", "guess", 403, server.CodeForbidden},
	} {
		t.Run(tc.name, func(t *testing.T) {
			cl := client.New([]string{addr})
			cl.AdminToken = tc.token
			for _, action := range []string{"partition", "heal", "transfer", "crash"} {
				_, err := cl.Admin(ctx, addr, action, server.AdminRequest{Peers: []uint64{2}})
				var ae *client.APIError
				require.True(t, errors.As(err, &ae), "%s: %v", action, err)
				assert.Equal(t, tc.status, ae.Status, action)
				assert.Equal(t, tc.code, ae.Code, action)
			}
		})
	}
	assert.True(t, c.Node(1).Running(), "the refused crash call did nothing")

	cl := client.New([]string{addr})
	cl.AdminToken = testToken
	_, err := cl.Admin(ctx, addr, "crash", server.AdminRequest{})
	require.NoError(t, err)
	err = c.Node(1).Wait(ctx)
	var ee *exec.ExitError
	require.True(t, errors.As(err, &ee), "the broker exits abruptly: %v", err)
	assert.Contains(t, ee.Error(), "killed")
}

func TestCLIFlagErrorsNameTheFlag(t *testing.T) {
	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"node", "--id", "x"}, "-id"},
		{[]string{"node", "--id", "1"}, "--peers"},
		{[]string{"node", "--id", "4", "--peers", "1=127.0.0.1:1,2=127.0.0.1:2", "--secret", "s"}, "--id 4"},
		{[]string{"node", "--id", "1", "--peers", "1=nohostport"}, "--peers"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001"}, "--secret"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--election-min", "40ms"}, "--election-min"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--election-max", "100ms"}, "--election-max"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--heartbeat", "15ms"}, "--heartbeat"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--fsync-delay", "-1s"}, "--fsync-delay"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--retain-segments", "-1"}, "--retain-segments"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--retain-bytes", "-5"}, "--retain-bytes"},
		{[]string{"node", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--segment-size", "4096", "--retain-bytes", "100"}, "less than one segment"},
		{[]string{"cluster", "--retain-segments", "-2"}, "--retain-segments"},
		{[]string{"controller", "--id", "1"}, "--peers"},
		{[]string{"controller", "--id", "4", "--peers", "1=127.0.0.1:1,2=127.0.0.1:2,3=127.0.0.1:3"}, "--id 4"},
		{[]string{"controller", "--id", "1", "--peers", "1=127.0.0.1:7001", "--http-peers", "2=127.0.0.1:8002"}, "--http-peers has no address for controller 1"},
		{[]string{"controller", "--id", "1", "--peers", "1=127.0.0.1:7001", "--secret", "s", "--broker-timeout", "1ms"}, "--broker-timeout"},
		{[]string{"produce", "--addr", "127.0.0.1:1"}, "--topic"},
		{[]string{"consume", "--topic", "t", "--max", "0"}, "--max"},
		{[]string{"partition", "--admin-token", "t", "--peers", "a"}, "--peers"},
		{[]string{"bench", "--producers", "0"}, "--producers"},
		{[]string{"bench", "--restart"}, "--restart needs --messages"},
		{[]string{"bench", "--send", "pipe"}, `--send "pipe": want batch, stream or single`},
		{[]string{"bench", "--messages", "10", "--failover", "1"}, "--messages"},
		{[]string{"nosuchcommand"}, "unknown command"},
	} {
		t.Run(strings.Join(tc.args, " "), func(t *testing.T) {
			out, err := exec.Command(binPath, tc.args...).CombinedOutput()
			var ee *exec.ExitError
			require.True(t, errors.As(err, &ee), "exit status: %v\n%s", err, out)
			assert.Equal(t, 2, ee.ExitCode())
			assert.Contains(t, string(out), tc.want)
		})
	}
	for _, cmd := range []string{"node", "controller", "produce", "consume", "status", "partition", "heal", "transfer", "bench", "play"} {
		out, err := exec.Command(binPath, cmd, "--help").CombinedOutput()
		assert.NoError(t, err, cmd)
		assert.Contains(t, string(out), "Usage: dledgerlab "+cmd, cmd)
	}
}

func TestDataFolderOfAnotherBrokerIsRefused(t *testing.T) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	c.Node(1).Stop()
	// Start broker 2's folder as broker 1.
	args := append(slices.Clip(c.Args(1)), "--dir", c.Node(2).Dir) // the last --dir wins
	cmd := exec.Command(binPath, args...)
	cmd.Env = c.Env(1)
	out, err := cmd.CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "belongs to broker 2 of group [1 2 3]")
}

func TestQuorumTimeoutAnswersOutcomeUnknownAndTheRetryIsStoredOnce(t *testing.T) {
	c := startCluster(t, 3, func(c *proc.Cluster) { c.Extra = []string{"--produce-timeout", "30ms"} })
	old := waitLeader(t, c)
	oldAddr := c.Node(old).HTTPAddr
	ctx := ctxFor(t, 30*time.Second)
	var others []uint64
	for _, n := range c.Nodes {
		if n.ID != old {
			others = append(others, uint64(n.ID))
		}
	}
	_, err := c.Client.Admin(ctx, oldAddr, "partition", server.AdminRequest{Peers: others})
	require.NoError(t, err)
	req := server.ProduceRequest{Body: "maybe", Producer: "retry", Seq: 1}
	_, err = c.Client.ProduceTo(ctx, oldAddr, "retry", req)
	var ae *client.APIError
	require.True(t, errors.As(err, &ae), "%v", err)
	assert.Equal(t, 504, ae.Status)
	assert.Equal(t, server.CodeTimeout, ae.Code)
	assert.Equal(t, "unknown", ae.Outcome)
	assert.Contains(t, ae.Message, "outcome unknown")

	_, err = c.Client.Admin(ctx, oldAddr, "heal", server.AdminRequest{})
	require.NoError(t, err)
	// The producer retries the same seq until it is stored.
	_, err = c.Client.Produce(ctx, "retry", req)
	require.NoError(t, err)
	_, err = c.Client.Produce(ctx, "retry", req)
	require.NoError(t, err)
	waitConverged(t, c)
	msgs := consumeAll(t, c, "retry")
	checkOncePerSeq(t, msgs, []ack{{"retry", 1}})
}

// logEnd returns where the entries of the CommitLog's only segment seg end
// (a stopped broker's; the bytes after it are zeros written ahead), as
// recovery finds it, without changing the file.
func logEnd(t *testing.T, seg string) int64 {
	t.Helper()
	f, err := os.Open(seg)
	require.NoError(t, err)
	defer f.Close()
	st, err := f.Stat()
	require.NoError(t, err)
	rec, _, err := commitlog.Recover([]commitlog.Segment{{Data: f, Size: st.Size()}}, nil, 0, commitlog.Options{Preallocated: true})
	require.NoError(t, err)
	return rec.End // segment 0 starts at position 0
}
