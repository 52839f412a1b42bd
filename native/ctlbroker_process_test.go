package main

// Process tests of `dledgerlab broker --mode controller`: three real
// controllers and a broker group of three real brokers on 127.0.0.1 (the
// binary TestMain built). Every wait polls for a condition; every test
// kills what it started.

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/controller"
	"dledgerlab/native/cluster"
	"dledgerlab/native/ctlbroker"
	"dledgerlab/native/proc"
	"dledgerlab/native/server"
)

// brokerCall sends one request to a Controller-mode broker and decodes its
// answer into ok (2xx) or its error body.
func brokerCall(ctx context.Context, addr, method, path string, body []byte, ok any) (int, server.ErrorBody, error) {
	ctx, cancel := context.WithTimeout(ctx, 10*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, method, "http://"+addr+path, bytes.NewReader(body))
	if err != nil {
		return 0, server.ErrorBody{}, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, server.ErrorBody{}, err
	}
	defer resp.Body.Close()
	b, err := io.ReadAll(resp.Body)
	if err != nil {
		return 0, server.ErrorBody{}, err
	}
	if resp.StatusCode >= 300 {
		var env struct{ Error server.ErrorBody }
		err := json.Unmarshal(b, &env)
		return resp.StatusCode, env.Error, err
	}
	return resp.StatusCode, server.ErrorBody{}, json.Unmarshal(b, ok)
}

func brokerStatus(ctx context.Context, n *proc.Node) (ctlbroker.Status, error) {
	var st ctlbroker.Status
	_, _, err := brokerCall(ctx, n.HTTPAddr, http.MethodGet, "/v1/status", nil, &st)
	return st, err
}

// ctlMaster returns the running broker that acts as master with the
// highest epoch, and its status.
func ctlMaster(ctx context.Context, c *proc.Cluster) (int, ctlbroker.Status) {
	id, best := 0, ctlbroker.Status{}
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		if st, err := brokerStatus(ctx, n); err == nil && st.Role == "master" && st.MasterEpoch >= best.MasterEpoch {
			id, best = n.ID, st
		}
	}
	return id, best
}

// readAll reads every message below the broker's confirm offset.
func readAll(ctx context.Context, n *proc.Node) ([]ctlbroker.Message, error) {
	var out []ctlbroker.Message
	for {
		var r ctlbroker.ReadResponse
		code, e, err := brokerCall(ctx, n.HTTPAddr, http.MethodGet, fmt.Sprintf("/v1/messages?offset=%d&max=100", len(out)), nil, &r)
		if err != nil || code != http.StatusOK {
			return out, fmt.Errorf("read broker %d: %d %v %v", n.ID, code, e, err)
		}
		if len(r.Messages) == 0 {
			return out, nil
		}
		out = append(out, r.Messages...)
	}
}

// produceCtl produces bodies prefix-0.. to broker id and requires each to be
// acknowledged.
func produceCtl(t *testing.T, ctx context.Context, n *proc.Node, prefix string, count int) map[int64]string {
	t.Helper()
	acked := map[int64]string{}
	for i := range count {
		body := fmt.Sprintf("%s-%d", prefix, i)
		var resp ctlbroker.ProduceResponse
		code, e, err := brokerCall(ctx, n.HTTPAddr, http.MethodPost, "/v1/messages", []byte(`{"body":"`+body+`"}`), &resp)
		require.NoError(t, err)
		require.Equal(t, http.StatusOK, code, "produce %s to broker %d: %+v", body, n.ID, e)
		acked[resp.Offset] = body
	}
	return acked
}

// waitFullSet waits for a master whose SyncStateSet holds all three
// brokers.
func waitFullSet(t *testing.T, ctx context.Context, c *proc.Cluster) (int, ctlbroker.Status) {
	t.Helper()
	var master int
	var st ctlbroker.Status
	require.NoError(t, proc.WaitFor(ctx, "a master whose SyncStateSet holds all three brokers", func() bool {
		master, st = ctlMaster(ctx, c)
		return master != 0 && slices.Equal(st.SyncStateSet, []controller.BrokerID{1, 2, 3})
	}))
	return master, st
}

func startControllerModeGroup(t *testing.T) (ctls, brokers *proc.Cluster) {
	t.Helper()
	ctls = startControllers(t)
	brokers, err := proc.NewControllerBrokers(binPath, t.TempDir(), 3, testSecret, ctls)
	require.NoError(t, err)
	brokers.Extra = append(brokers.Extra, "--controller-heartbeat", "100ms", "--ha-max-not-catchup", "3s")
	startAll(t, brokers, "broker")
	return ctls, brokers
}

func TestControllerModeBrokersFailOverWithoutLosingAcknowledged(t *testing.T) {
	ctls, c := startControllerModeGroup(t)
	ctx := ctxFor(t, 120*time.Second)
	all := []controller.BrokerID{1, 2, 3}

	// A master is elected and brings both slaves into the SyncStateSet.
	old, st := waitFullSet(t, ctx, c)
	oldEpoch := st.MasterEpoch

	// Every produce is acknowledged once all three hold it.
	acked := produceCtl(t, ctx, c.Node(old), "before", 20)
	require.Len(t, acked, 20)
	st, err := brokerStatus(ctx, c.Node(old))
	require.NoError(t, err)
	assert.EqualValues(t, 20, st.ConfirmOffset)

	// A slave refuses writes, naming the master.
	slave := old%3 + 1
	code, e, err := brokerCall(ctx, c.Node(slave).HTTPAddr, http.MethodPost, "/v1/messages", []byte(`{"body":"x"}`), nil)
	require.NoError(t, err)
	assert.Equal(t, http.StatusMisdirectedRequest, code)
	assert.Equal(t, ctlbroker.CodeNotMaster, e.Code)
	assert.Equal(t, c.Node(old).HTTPAddr, e.LeaderAddr)

	// Both slaves freeze (SIGSTOP) for a moment: a write reaches the
	// master's CommitLog but is not acknowledged, since no slave answers.
	// Then kill -9 the master and let the slaves go on: the controllers
	// elect one of them. The write may have reached its socket before the
	// kill (then it survives) or not (then the old master must cut it).
	others := []int{old%3 + 1, (old+1)%3 + 1}
	for _, id := range others {
		require.NoError(t, syscall.Kill(c.Node(id).Pid(), syscall.SIGSTOP))
	}
	unacked := make(chan int, 1)
	go func() {
		code, _, _ := brokerCall(ctx, c.Node(old).HTTPAddr, http.MethodPost, "/v1/messages", []byte(`{"body":"unacknowledged"}`), &ctlbroker.ProduceResponse{})
		unacked <- code
	}()
	require.NoError(t, proc.WaitFor(ctx, "the write in the master's CommitLog, unacknowledged", func() bool {
		st, err := brokerStatus(ctx, c.Node(old))
		return err == nil && st.MaxOffset == 21 && st.ConfirmOffset == 20
	}))
	c.Node(old).Kill()
	for _, id := range others {
		require.NoError(t, syscall.Kill(c.Node(id).Pid(), syscall.SIGCONT))
	}
	assert.NotEqual(t, http.StatusOK, <-unacked, "a write no slave held was acknowledged")
	var lead int
	require.NoError(t, proc.WaitFor(ctx, "a new master of a newer epoch", func() bool {
		lead, st = ctlMaster(ctx, c)
		return lead != 0 && lead != old && st.MasterEpoch > oldEpoch
	}))
	g, err := ctlGroup(ctx, ctls, ctlLeader(ctx, ctls))
	require.NoError(t, err)
	assert.EqualValues(t, lead, g.Group.Master, "the controllers' master")

	// Every acknowledged message is readable from the new master.
	holdsAcked(t, ctx, c.Node(lead), acked)

	// Producing goes on.
	for off, body := range produceCtl(t, ctx, c.Node(lead), "after", 10) {
		acked[off] = body
	}

	// The old master restarts from its files, cuts the unacknowledged
	// write by its epoch file if the new master lacks it (their epochs
	// agree up to offset 20), and rejoins as a slave of the new epoch, its
	// CommitLog equal to the new master's; the set grows back to all three.
	require.NoError(t, c.Start(old))
	msgs := rejoinedAsSlave(t, ctx, c, old, lead, all, acked)
	s, err := brokerStatus(ctx, c.Node(old))
	require.NoError(t, err)
	m, err := brokerStatus(ctx, c.Node(lead))
	require.NoError(t, err)
	assert.Equal(t, m.Epochs, s.Epochs, "the restarted broker's epoch file is the master's")
	if msgs[20].Body != "unacknowledged" {
		assert.Regexp(t, `CommitLog truncated .* from=21 to=20`, c.Node(old).Log())
	}
}

// With enableElectUncleanMaster, a master that acknowledged writes alone
// (its slaves dead, the set shrunk to itself) and then died is replaced by
// a broker that lacks them: those acknowledged writes are lost, and the
// old master, restarted, cuts them from its CommitLog by its epoch file.
func TestControllerModeUncleanElectionLosesAndOldMasterTruncates(t *testing.T) {
	ctls, err := proc.NewControllers(binPath, t.TempDir(), 3, testSecret)
	require.NoError(t, err)
	ctls.Extra = []string{"--broker-timeout", testBrokerTimeout.String(), "--unclean"}
	startAll(t, ctls, "controller")
	c, err := proc.NewControllerBrokers(binPath, t.TempDir(), 3, testSecret, ctls)
	require.NoError(t, err)
	c.Extra = append(c.Extra, "--controller-heartbeat", "100ms", "--ha-max-not-catchup", "1s")
	startAll(t, c, "broker")
	ctx := ctxFor(t, 120*time.Second)
	old, st := waitFullSet(t, ctx, c)
	oldEpoch := st.MasterEpoch
	acked := produceCtl(t, ctx, c.Node(old), "all-three", 5)

	// The slaves die; the master shrinks the set to itself and
	// acknowledges alone.
	others := []int{old%3 + 1, (old+1)%3 + 1}
	for _, id := range others {
		c.Node(id).Kill()
	}
	require.NoError(t, proc.WaitFor(ctx, "the set to shrink to the master", func() bool {
		st, err := brokerStatus(ctx, c.Node(old))
		return err == nil && len(st.SyncStateSet) == 1
	}))
	alone := produceCtl(t, ctx, c.Node(old), "alone", 3)

	// The master dies, the slaves come back: no set member is alive, so
	// the controllers elect one of them, uncleanly.
	c.Node(old).Kill()
	for _, id := range others {
		require.NoError(t, c.Start(id))
	}
	var lead int
	require.NoError(t, proc.WaitFor(ctx, "an unclean master of a newer epoch", func() bool {
		lead, st = ctlMaster(ctx, c)
		return lead != 0 && lead != old && st.MasterEpoch > oldEpoch
	}))
	msgs, err := readAll(ctx, c.Node(lead))
	require.NoError(t, err)
	for off, body := range acked {
		assert.Equal(t, body, msgs[off].Body, "offset %d, acknowledged by all three", off)
	}
	assert.Len(t, msgs, len(acked), "the unclean master lacks the writes acknowledged by the master alone: %v", alone)

	// The old master restarts, cuts what it alone held, and follows.
	require.NoError(t, c.Start(old))
	require.NoError(t, proc.WaitFor(ctx, "the old master to rejoin as a slave with the new master's CommitLog", func() bool {
		s, err := brokerStatus(ctx, c.Node(old))
		m, merr := brokerStatus(ctx, c.Node(lead))
		return err == nil && merr == nil && s.Role == "slave" && s.MasterEpoch == m.MasterEpoch && s.MaxOffset == m.MaxOffset
	}))
	assert.Regexp(t, fmt.Sprintf(`CommitLog truncated .* from=%d to=%d`, len(acked)+len(alone), len(acked)), c.Node(old).Log())
}

// Bad input gets a clear 4xx and stops nothing; with minInSyncReplicas 3 a
// master whose set lost a member refuses writes.
func TestControllerModeBrokerRefusesClearly(t *testing.T) {
	_, c := startControllerModeGroup(t)
	ctx := ctxFor(t, 90*time.Second)
	master, _ := waitFullSet(t, ctx, c)
	addr := c.Node(master).HTTPAddr
	for _, tc := range []struct {
		name, method, path, body string
		code                     int
		errCode, says            string
	}{
		{"not JSON", "POST", "/v1/messages", "{body", 400, server.CodeBadRequest, "malformed JSON"},
		{"unknown field", "POST", "/v1/messages", `{"boddy":"x"}`, 400, server.CodeBadRequest, `unknown field "boddy"`},
		{"empty body", "POST", "/v1/messages", `{"body":""}`, 400, server.CodeBadMessage, "body is empty"},
		{"too large", "POST", "/v1/messages", `{"body":"` + string(bytes.Repeat([]byte("a"), ctlbroker.MaxMessageBytes+1)) + `"}`, 413, server.CodeMessageLarge, "at most 262144"},
		{"bad offset", "GET", "/v1/messages?offset=-1", "", 400, server.CodeBadRequest, "want a number from 0"},
		{"bad max", "GET", "/v1/messages?max=0", "", 400, server.CodeBadRequest, "want 1 to 1000"},
		{"unknown parameter", "GET", "/v1/messages?ofset=1", "", 400, server.CodeBadRequest, `unknown parameter "ofset"`},
		{"no endpoint", "POST", "/v1/nothing", "{}", 404, server.CodeNotFound, "no endpoint POST /v1/nothing"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			code, e, err := brokerCall(ctx, addr, tc.method, tc.path, []byte(tc.body), nil)
			require.NoError(t, err)
			assert.Equal(t, tc.code, code)
			assert.Equal(t, tc.errCode, e.Code)
			assert.Contains(t, e.Message, tc.says)
		})
	}
	for _, n := range c.Nodes {
		assert.True(t, n.Running(), "broker %d is still running", n.ID)
	}
	produceCtl(t, ctx, c.Node(master), "ok", 1)
}

func TestControllerModeMinInSyncReplicasRefusesWrites(t *testing.T) {
	ctls := startControllers(t)
	c, err := proc.NewControllerBrokers(binPath, t.TempDir(), 3, testSecret, ctls)
	require.NoError(t, err)
	c.Extra = append(c.Extra, "--controller-heartbeat", "100ms", "--ha-max-not-catchup", "1s", "--min-in-sync-replicas", "3")
	startAll(t, c, "broker")
	ctx := ctxFor(t, 90*time.Second)
	master, _ := waitFullSet(t, ctx, c)
	produceCtl(t, ctx, c.Node(master), "three", 3)

	// A slave dies: the master removes it from the set after
	// haMaxTimeSlaveNotCatchup and then refuses writes.
	c.Node(master%3 + 1).Kill()
	var code int
	var e server.ErrorBody
	require.NoError(t, proc.WaitFor(ctx, "the master to refuse writes with two in the set", func() bool {
		code, e, err = brokerCall(ctx, c.Node(master).HTTPAddr, http.MethodPost, "/v1/messages", []byte(`{"body":"two"}`), &ctlbroker.ProduceResponse{})
		return err == nil && code == http.StatusServiceUnavailable && e.Code == ctlbroker.CodeNotEnough
	}))
	assert.Contains(t, e.Message, "2 in the SyncStateSet, 3 wanted")
	st, err := brokerStatus(ctx, c.Node(master))
	require.NoError(t, err)
	assert.Len(t, st.SyncStateSet, 2)
}

// `dledgerlab cluster --mode controller` starts 3 controllers and 3
// brokers on the ports --base-port gives, keeps cluster.json in its folder,
// names the master, which takes a write; Ctrl-C stops them all. The next
// run in the folder reuses the saved ports; a busy port, a port out of
// range or a folder of DLedger mode is refused before anything starts.
func TestClusterControllerModeStartsAndStops(t *testing.T) {
	dir := t.TempDir()
	base, err := cluster.FreeBasePort("127.0.0.1", 6)
	require.NoError(t, err)
	cmd := exec.Command(binPath, "cluster", "--mode", "controller", "--dir", dir, "--base-port", strconv.Itoa(base), "--broker-timeout", "2s", "--addr", "127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	cmd.Stdout, cmd.Stderr = pw, pw
	require.NoError(t, cmd.Start())
	done := make(chan struct{})
	go func() { cmd.Wait(); pw.Close(); close(done) }()
	var mu sync.Mutex
	var out strings.Builder
	produceAt := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			mu.Lock()
			out.WriteString(sc.Text() + "\n")
			mu.Unlock()
			if m := regexp.MustCompile(`^Produce: curl .* http://(\S+)/v1/messages$`).FindStringSubmatch(sc.Text()); m != nil {
				produceAt <- m[1]
			}
		}
	}()
	output := func() string { mu.Lock(); defer mu.Unlock(); return out.String() }
	t.Cleanup(func() {
		cmd.Process.Kill()
		<-done
		if t.Failed() {
			t.Logf("---- launcher output ----\n%s", output())
		}
	})
	var addr string
	select {
	case addr = <-produceAt:
	case <-done:
		t.Fatalf("the launcher exited:\n%s", output())
	case <-time.After(60 * time.Second):
		t.Fatalf("no master named in 60 s:\n%s", output())
	}
	// Brokers on base..base+2, controllers on base+3..base+5, HTTP +1000.
	for i := range 3 {
		assert.Regexp(t, fmt.Sprintf(`broker +%d \(b%d\) +peer 127\.0\.0\.1:%d +API http://127\.0\.0\.1:%d `, i+1, i+1, base+i, base+i+1000), output())
		assert.Regexp(t, fmt.Sprintf(`controller +%d \(c%d\) +peer 127\.0\.0\.1:%d +API http://127\.0\.0\.1:%d `, i+1, i+1, base+3+i, base+3+i+1000), output())
	}
	ctx := ctxFor(t, 30*time.Second)
	var resp ctlbroker.ProduceResponse
	code, e, err := brokerCall(ctx, addr, http.MethodPost, "/v1/messages", []byte(`{"body":"hello"}`), &resp)
	require.NoError(t, err)
	require.Equal(t, http.StatusOK, code, "%+v", e)
	var pids []int
	for _, m := range regexp.MustCompile(`pid (\d+)`).FindAllStringSubmatch(output(), -1) {
		pid, _ := strconv.Atoi(m[1])
		pids = append(pids, pid)
	}
	require.Len(t, pids, 6, output())

	// cluster.json: the mode, the ports, the secret and the admin token,
	// readable by its owner only.
	path := filepath.Join(dir, cluster.ConfigFile)
	fi, err := os.Stat(path)
	require.NoError(t, err)
	assert.Equal(t, os.FileMode(0o600), fi.Mode().Perm())
	data, err := os.ReadFile(path)
	require.NoError(t, err)
	var saved cluster.Folder
	require.NoError(t, json.Unmarshal(data, &saved))
	assert.Equal(t, cluster.ModeController, saved.Mode)
	assert.Equal(t, 3, saved.Nodes)
	assert.Equal(t, base, saved.BasePort)
	require.NotEmpty(t, saved.Secret)
	require.NotEmpty(t, saved.AdminToken)
	assert.Contains(t, output(), "Admin token: "+saved.AdminToken)

	require.NoError(t, cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-done:
	case <-time.After(30 * time.Second):
		t.Fatal("the launcher did not exit within 30 s of SIGINT")
	}
	assert.Equal(t, 0, cmd.ProcessState.ExitCode(), output())
	for _, pid := range pids {
		assert.False(t, alive(pid), "process %d outlived the launcher", pid)
	}
	assert.Contains(t, output(), "Stopped.")

	refused := func(t *testing.T, args ...string) string {
		t.Helper()
		// A launcher that starts after all is killed, not waited for.
		ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
		defer cancel()
		cmd := exec.CommandContext(ctx, binPath, append([]string{"cluster"}, args...)...)
		cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
		out, err := cmd.CombinedOutput()
		require.Error(t, err, "%s", out)
		assert.Empty(t, processesUsing(dir), "nothing started")
		return string(out)
	}
	t.Run("the next run reuses the folder's ports and refuses a busy one", func(t *testing.T) {
		busy := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+4))
		ln, err := net.Listen("tcp", busy)
		require.NoError(t, err)
		defer ln.Close()
		out := refused(t, "--mode", "controller", "--dir", dir, "--addr", "127.0.0.1:0")
		assert.Contains(t, out, busy+" (controller 2's peer port) cannot be used")
		assert.Contains(t, out, "choose another --base-port")
	})
	t.Run("a base port out of range", func(t *testing.T) {
		out := refused(t, "--mode", "controller", "--dir", dir, "--base-port", "64531", "--addr", "127.0.0.1:0")
		assert.Contains(t, out, "--base-port 64531: the 3 brokers and 3 controllers need ports 64531..64536 and 65531..65536; choose a base port from 1024 to 64530")
	})
	t.Run("a folder of the other mode", func(t *testing.T) {
		out := refused(t, "--dir", dir, "--addr", "127.0.0.1:0")
		assert.Contains(t, out, "holds a controller-mode cluster, not a dledger-mode one: run with --mode controller")
		other := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(other, cluster.ConfigFile), []byte(`{"nodes":3,"base_port":7001,"secret":"s","admin_token":"t"}`), 0o600))
		out = refused(t, "--mode", "controller", "--dir", other, "--addr", "127.0.0.1:0")
		assert.Contains(t, out, "holds a dledger-mode cluster, not a controller-mode one: run with --mode dledger")
	})
}

// runCLI runs the binary with the admin token in its environment and
// returns its output; it must succeed.
func runCLI(t *testing.T, args ...string) string {
	t.Helper()
	cmd := exec.Command(binPath, args...)
	cmd.Env = append(os.Environ(), "DLEDGERLAB_ADMIN_TOKEN="+testToken)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, "dledgerlab %v:\n%s", args, out)
	return string(out)
}

// adminCall posts body to a member's /v1/admin/action with token.
func adminCall(ctx context.Context, addr, action, token, body string) (int, server.ErrorBody, error) {
	ctx, cancel := context.WithTimeout(ctx, 5*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/v1/admin/"+action, strings.NewReader(body))
	if err != nil {
		return 0, server.ErrorBody{}, err
	}
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return 0, server.ErrorBody{}, err
	}
	defer resp.Body.Close()
	var env struct{ Error server.ErrorBody }
	json.NewDecoder(resp.Body).Decode(&env)
	return resp.StatusCode, env.Error, nil
}

// The master broker, cut off from the other brokers and every controller
// by `dledgerlab partition`, stops being heard: the controllers elect a new
// master from the SyncStateSet, while a write to the old one goes
// unacknowledged (no slave gets its push). After `dledgerlab heal` the old
// master hears of the new epoch, cuts the write nobody else has, and
// rejoins as a slave; no acknowledged message is lost. Then the controller
// leader, cut off from the other controllers, is replaced, and rejoins
// after heal with the same group state.
func TestControllerModePartitionedMasterIsReplacedAndRejoins(t *testing.T) {
	ctls, err := proc.NewControllers(binPath, t.TempDir(), 3, testSecret)
	require.NoError(t, err)
	ctls.AdminToken = testToken
	ctls.Extra = []string{"--broker-timeout", testBrokerTimeout.String()}
	startAll(t, ctls, "controller")
	c, err := proc.NewControllerBrokers(binPath, t.TempDir(), 3, testSecret, ctls)
	require.NoError(t, err)
	c.AdminToken = testToken
	c.Extra = append(c.Extra, "--controller-heartbeat", "100ms", "--ha-max-not-catchup", "3s", "--produce-timeout", "2s")
	startAll(t, c, "broker")
	ctx := ctxFor(t, 120*time.Second)
	all := []controller.BrokerID{1, 2, 3}

	old, st := waitFullSet(t, ctx, c)
	oldEpoch := st.MasterEpoch
	acked := produceCtl(t, ctx, c.Node(old), "before", 10)

	t.Run("bad admin calls are refused, naming what and where", func(t *testing.T) {
		b, ctl := c.Node(old).HTTPAddr, ctls.Node(1).HTTPAddr
		for _, tc := range []struct {
			name, addr, action, token, body string
			code                            int
			errCode, says                   string
		}{
			{"no token", b, "partition", "", `{"brokers":[2]}`, 401, server.CodeUnauthorized, "admin calls need the admin token"},
			{"wrong token", b, "partition", "nope", `{"brokers":[2]}`, 403, server.CodeForbidden, "wrong admin token"},
			{"wrong token, controller", ctl, "heal", "nope", ``, 403, server.CodeForbidden, "wrong admin token"},
			{"unknown broker", b, "partition", testToken, `{"brokers":[9]}`, 400, server.CodeBadRequest,
				fmt.Sprintf("broker %d: broker 9 is not another member of this group (brokers [1 2 3]; this is broker %d)", old, old)},
			{"itself", b, "partition", testToken, fmt.Sprintf(`{"peers":[%d]}`, old), 400, server.CodeBadRequest, fmt.Sprintf("broker %d is not another member", old)},
			{"unknown controller", b, "partition", testToken, `{"controllers":[7]}`, 400, server.CodeBadRequest, "controller 7 is not one of --controllers (controllers [1 2 3])"},
			{"unknown controller, controller", ctl, "partition", testToken, `{"controllers":[4]}`, 400, server.CodeBadRequest,
				"controller 1: controller 4 is not another member of this group (controllers [1 2 3]; this is controller 1)"},
			{"broker id out of range, controller", ctl, "partition", testToken, `{"brokers":[65]}`, 400, server.CodeBadRequest, "broker 65: want an id from 1 to 64"},
			{"nothing to cut", b, "partition", testToken, `{}`, 400, server.CodeBadRequest, "partition needs the members to cut off"},
			{"unknown field", b, "partition", testToken, `{"peer":[2]}`, 400, server.CodeBadRequest, `unknown field "peer"`},
			{"unknown action", ctl, "crash", testToken, ``, 404, server.CodeNotFound, `unknown admin action "crash" of a controller (partition, heal)`},
		} {
			t.Run(tc.name, func(t *testing.T) {
				code, e, err := adminCall(ctx, tc.addr, tc.action, tc.token, tc.body)
				require.NoError(t, err)
				assert.Equal(t, tc.code, code)
				assert.Equal(t, tc.errCode, e.Code)
				assert.Contains(t, e.Message, tc.says)
			})
		}
		cmd := exec.Command(binPath, "partition", "--addr", b, "--peers", "b2,x3", "--admin-token", testToken)
		out, err := cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), `--peers: "x3" is not an id`)
		cmd = exec.Command(binPath, "partition", "--addr", b, "--peers", "c9", "--admin-token", testToken)
		out, err = cmd.CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "controller 9 is not one of --controllers")
		assert.Contains(t, string(out), b, "the error names the broker asked")
		st, err := brokerStatus(ctx, c.Node(old))
		require.NoError(t, err)
		assert.Empty(t, st.Partitioned, "nothing was cut")
		assert.Empty(t, st.ControllersCut)
	})

	// Cut the master off from everything.
	out := runCLI(t, "partition", "--addr", c.Node(old).HTTPAddr, "--peers", isolateIDs(old))
	assert.Contains(t, out, "controllers [1 2 3]")
	st, err = brokerStatus(ctx, c.Node(old))
	require.NoError(t, err)
	assert.Len(t, st.Partitioned, 2)
	assert.Equal(t, []uint64{1, 2, 3}, st.ControllersCut)

	// A write to the isolated master reaches its CommitLog only.
	isolated := make(chan int, 1)
	go func() {
		code, _, _ := brokerCall(ctx, c.Node(old).HTTPAddr, http.MethodPost, "/v1/messages", []byte(`{"body":"isolated"}`), &ctlbroker.ProduceResponse{})
		isolated <- code
	}()
	require.NoError(t, proc.WaitFor(ctx, "the isolated write in the old master's CommitLog", func() bool {
		st, err := brokerStatus(ctx, c.Node(old))
		return err == nil && st.MaxOffset == 11
	}))

	// The controllers stop hearing it and elect a slave of the set.
	var lead int
	require.NoError(t, proc.WaitFor(ctx, "a new master of a newer epoch", func() bool {
		lead, st = ctlMaster(ctx, c)
		return lead != 0 && lead != old && st.MasterEpoch > oldEpoch
	}))
	g, err := ctlGroup(ctx, ctls, ctlLeader(ctx, ctls))
	require.NoError(t, err)
	assert.EqualValues(t, lead, g.Group.Master, "the controllers' master")
	assert.NotEqual(t, http.StatusOK, <-isolated, "a write no slave held was acknowledged")
	holdsAcked(t, ctx, c.Node(lead), acked)
	for off, body := range produceCtl(t, ctx, c.Node(lead), "after", 5) {
		acked[off] = body
	}

	// Heal: the old master learns the new epoch, cuts the isolated write
	// and follows; the set grows back to all three.
	out = runCLI(t, "heal", "--addr", c.Node(old).HTTPAddr)
	assert.Contains(t, out, "healed")
	rejoinedAsSlave(t, ctx, c, old, lead, all, acked)
	assert.Regexp(t, `CommitLog truncated .* from=11 to=10`, c.Node(old).Log())
	s, err := brokerStatus(ctx, c.Node(old))
	require.NoError(t, err)
	assert.Empty(t, s.Partitioned)
	assert.Empty(t, s.ControllersCut)

	// The controller leader, cut off from the other controllers, is
	// replaced in a newer term; after heal it follows with the same state.
	cl := ctlLeader(ctx, ctls)
	require.NotZero(t, cl)
	before, err := ctlStatus(ctx, ctls.Node(cl).HTTPAddr)
	require.NoError(t, err)
	var others []string
	for id := 1; id <= 3; id++ {
		if id != cl {
			others = append(others, "c"+strconv.Itoa(id))
		}
	}
	runCLI(t, "partition", "--addr", ctls.Node(cl).HTTPAddr, "--peers", strings.Join(others, ","))
	var nl int
	require.NoError(t, proc.WaitFor(ctx, "another controller to lead in a newer term", func() bool {
		for _, n := range ctls.Nodes {
			if st, err := ctlStatus(ctx, n.HTTPAddr); err == nil && n.ID != cl && st.Role == "leader" && st.Term > before.Term {
				nl = n.ID
				return true
			}
		}
		return false
	}))
	runCLI(t, "heal", "--addr", ctls.Node(cl).HTTPAddr)
	require.NoError(t, proc.WaitFor(ctx, "the old controller leader to follow with the new leader's group state", func() bool {
		a, err := ctlGroup(ctx, ctls, cl)
		b, berr := ctlGroup(ctx, ctls, nl)
		return err == nil && berr == nil && a.Role == "follower" && a.Leader == b.Leader && b.Leader != 0 &&
			a.Applied == b.Applied && sameState(a.Group, b.Group)
	}))
	// The brokers go on through the new controller leader.
	for off, body := range produceCtl(t, ctx, c.Node(lead), "last", 3) {
		acked[off] = body
	}
}

// Produces that arrive together share the master's fsyncs (group commit):
// 64 at once are all answered, with 64 distinct offsets, in fewer
// CommitLog fsyncs than messages; and each was on disk before it was
// acknowledged: kill -9 of every broker at once, with another 64 in
// flight, loses none of those acknowledged.
func TestControllerModeConcurrentProducesShareFsyncsAndSurviveKill(t *testing.T) {
	ctls := startControllers(t)
	c, err := proc.NewControllerBrokers(binPath, t.TempDir(), 3, testSecret, ctls)
	require.NoError(t, err)
	// A slow disk (20 ms an fsync), so that the produces arrive while
	// the first one's fsync runs, whatever this machine's disk.
	c.Extra = append(c.Extra, "--controller-heartbeat", "100ms", "--ha-max-not-catchup", "3s", "--fsync-delay", "20ms")
	startAll(t, c, "broker")
	ctx := ctxFor(t, 120*time.Second)
	master, before := waitFullSet(t, ctx, c)

	const n = 64
	type result struct {
		body string
		code int
		resp ctlbroker.ProduceResponse
		e    server.ErrorBody
		err  error
	}
	// produceTogether sends n produces at once; their answers come on
	// the channel returned.
	produceTogether := func(prefix string) <-chan result {
		results := make(chan result, n)
		start := make(chan struct{})
		for i := range n {
			go func() {
				r := result{body: fmt.Sprintf("%s-%d", prefix, i)}
				<-start
				r.code, r.e, r.err = brokerCall(ctx, c.Node(master).HTTPAddr, http.MethodPost, "/v1/messages", []byte(`{"body":"`+r.body+`"}`), &r.resp)
				results <- r
			}()
		}
		close(start)
		return results
	}
	acked := map[int64]string{}
	results := produceTogether("together")
	for range n {
		r := <-results
		require.NoError(t, r.err)
		require.Equal(t, http.StatusOK, r.code, "%s: %+v", r.body, r.e)
		require.NotContains(t, acked, r.resp.Offset, "two produces answered with offset %d", r.resp.Offset)
		acked[r.resp.Offset] = r.body
	}
	after, err := brokerStatus(ctx, c.Node(master))
	require.NoError(t, err)
	require.EqualValues(t, before.MaxOffset+n, after.MaxOffset)
	fsyncs := after.Fsyncs - before.Fsyncs
	t.Logf("%d produces, %d CommitLog fsyncs on the master", n, fsyncs)
	assert.Less(t, fsyncs, uint64(n), "the produces did not share fsyncs")

	// Another 64 at once; as soon as one is acknowledged, every broker
	// dies (kill -9) with the others in flight. Each acknowledged one
	// was written and fsynced by all three before its answer.
	results = produceTogether("killed")
	answered := 0
	for r := range results {
		answered++
		if r.err == nil && r.code == http.StatusOK {
			require.NotContains(t, acked, r.resp.Offset, "two produces answered with offset %d", r.resp.Offset)
			acked[r.resp.Offset] = r.body
			break
		}
		require.Less(t, answered, n, "none of the second 64 was acknowledged")
	}
	// Every broker dies at once; nothing acknowledged was only in memory.
	for _, nd := range c.Nodes {
		require.NoError(t, syscall.Kill(nd.Pid(), syscall.SIGKILL))
	}
	for _, nd := range c.Nodes {
		nd.Wait(ctx)
	}
	for range n - answered {
		if r := <-results; r.err == nil && r.code == http.StatusOK {
			require.NotContains(t, acked, r.resp.Offset, "two produces answered with offset %d", r.resp.Offset)
			acked[r.resp.Offset] = r.body
		}
	}
	t.Logf("%d acknowledged in all before the kill", len(acked))
	for _, nd := range c.Nodes {
		require.NoError(t, c.Start(nd.ID))
	}
	lead, _ := waitFullSet(t, ctx, c)
	require.NoError(t, proc.WaitFor(ctx, "the restarted master to confirm what it holds", func() bool {
		st, err := brokerStatus(ctx, c.Node(lead))
		return err == nil && st.ConfirmOffset >= st.MaxOffset && st.MaxOffset >= after.MaxOffset+1
	}))
	msgs, err := readAll(ctx, c.Node(lead))
	require.NoError(t, err)
	for off, body := range acked {
		require.Greater(t, int64(len(msgs)), off, "broker %d lacks offset %d after kill -9", lead, off)
		assert.Equal(t, body, msgs[off].Body, "offset %d", off)
	}
}

// rejoinedAsSlave waits until broker old follows lead as a slave of its
// epoch with the same CommitLog and the set holds all; it checks every
// acknowledged write is on old and returns lead's CommitLog.
func rejoinedAsSlave(t *testing.T, ctx context.Context, c *proc.Cluster, old, lead int, all []controller.BrokerID, acked map[int64]string) []ctlbroker.Message {
	t.Helper()
	require.NoError(t, proc.WaitFor(ctx, "the old master to rejoin as a slave and the set to hold all three", func() bool {
		s, err := brokerStatus(ctx, c.Node(old))
		m, merr := brokerStatus(ctx, c.Node(lead))
		return err == nil && merr == nil && s.Role == "slave" && s.MasterEpoch == m.MasterEpoch &&
			s.MaxOffset == m.MaxOffset && slices.Equal(m.SyncStateSet, all) && s.ConfirmOffset == m.MaxOffset
	}))
	back, err := readAll(ctx, c.Node(old))
	require.NoError(t, err)
	msgs, err := readAll(ctx, c.Node(lead))
	require.NoError(t, err)
	assert.Equal(t, msgs, back, "the old master's CommitLog is the new master's")
	for off, body := range acked {
		assert.Equal(t, body, back[off].Body, "offset %d on the old master", off)
	}
	return msgs
}

// holdsAcked reads node's whole CommitLog, checks every acknowledged
// write is at its offset, and returns the CommitLog.
func holdsAcked(t *testing.T, ctx context.Context, node *proc.Node, acked map[int64]string) []ctlbroker.Message {
	t.Helper()
	msgs, err := readAll(ctx, node)
	require.NoError(t, err)
	for off, body := range acked {
		require.Greater(t, int64(len(msgs)), off, "the new master lacks offset %d", off)
		assert.Equal(t, body, msgs[off].Body, "offset %d", off)
	}
	return msgs
}
