package main

// Process tests of `dledgerlab cluster` (the instructor's launcher): the
// launcher runs as its own process and starts real brokers; the tests read
// its merged view and act through its action endpoint like the page does.

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
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/sim"
	"dledgerlab/lessons"
	"dledgerlab/native/cluster"
	"dledgerlab/native/proc"
)

// launcher is a running `dledgerlab cluster` process.
type launcher struct {
	t     *testing.T
	cmd   *exec.Cmd
	dir   string
	url   string // http://127.0.0.1:port (no path)
	token string
	done  chan struct{}

	mu  sync.Mutex
	out bytes.Buffer
}

func (l *launcher) output() string {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.out.String()
}

// startLauncher runs `dledgerlab cluster` on free ports and waits until it
// prints the live view's address.
func startLauncher(t *testing.T, dir string, nodes int, extra ...string) *launcher {
	t.Helper()
	base, err := cluster.FreeBasePort("127.0.0.1", nodes)
	require.NoError(t, err)
	args := append([]string{"cluster", "--nodes", strconv.Itoa(nodes), "--dir", dir,
		"--base-port", strconv.Itoa(base), "--addr", "127.0.0.1:0"}, extra...)
	var logs []string
	for i := 1; i <= nodes; i++ {
		logs = append(logs, fmt.Sprintf("broker-%d.log", i))
	}
	return runLauncher(t, dir, args, logs)
}

// runLauncher runs the binary with args and waits until it prints the
// live view's address; on failure it shows its output and the logs named
// (in dir).
func runLauncher(t *testing.T, dir string, args, logs []string) *launcher {
	t.Helper()
	l := &launcher{t: t, dir: dir, done: make(chan struct{}), cmd: exec.Command(binPath, args...)}
	l.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	pr, pw := io.Pipe()
	l.cmd.Stdout, l.cmd.Stderr = pw, pw
	require.NoError(t, l.cmd.Start())
	urls := make(chan string, 1)
	go func() {
		sc := bufio.NewScanner(pr)
		for sc.Scan() {
			line := sc.Text()
			l.mu.Lock()
			l.out.WriteString(line + "\n")
			l.mu.Unlock()
			if u, ok := strings.CutPrefix(strings.TrimSpace(line), "Live view (watch only):"); ok {
				urls <- strings.TrimSuffix(strings.TrimSpace(u), "/?live")
			}
		}
	}()
	go func() { l.cmd.Wait(); pw.Close(); close(l.done) }()
	t.Cleanup(func() {
		l.cmd.Process.Kill() // its brokers die with it (Pdeathsig)
		<-l.done
		if t.Failed() {
			t.Logf("---- launcher output ----\n%s", l.output())
			for _, name := range logs {
				b, _ := os.ReadFile(filepath.Join(dir, name))
				t.Logf("---- %s ----\n%s", name, tail(string(b), 30))
			}
		}
	})
	select {
	case l.url = <-urls:
	case <-l.done:
		t.Fatalf("the launcher exited before serving the live view:\n%s", l.output())
	case <-time.After(30 * time.Second):
		t.Fatalf("the launcher printed no live view address in 30 s:\n%s", l.output())
	}
	var saved struct {
		AdminToken string `json:"admin_token"`
	}
	data, err := os.ReadFile(filepath.Join(dir, cluster.ConfigFile))
	require.NoError(t, err)
	require.NoError(t, json.Unmarshal(data, &saved))
	l.token = saved.AdminToken
	require.NotEmpty(t, l.token)
	require.Contains(t, l.output(), "Admin token: "+l.token)
	return l
}

// view reads one merged frame.
func (l *launcher) view() (sim.ClusterView, error) {
	var v sim.ClusterView
	resp, err := http.Get(l.url + "/v1/view")
	if err != nil {
		return v, err
	}
	defer resp.Body.Close()
	return v, json.NewDecoder(resp.Body).Decode(&v)
}

// act posts an action with token; returns the status and the body.
func (l *launcher) act(token string, a sim.Action) (int, string) {
	l.t.Helper()
	body, _ := json.Marshal(a)
	req, _ := http.NewRequest(http.MethodPost, l.url+"/v1/cluster/actions", bytes.NewReader(body))
	if token != "" {
		req.Header.Set("Authorization", "Bearer "+token)
	}
	resp, err := http.DefaultClient.Do(req)
	require.NoError(l.t, err)
	defer resp.Body.Close()
	b, _ := io.ReadAll(resp.Body)
	return resp.StatusCode, string(b)
}

// waitView polls the merged view until cond holds.
func (l *launcher) waitView(what string, d time.Duration, cond func(v sim.ClusterView) bool) sim.ClusterView {
	l.t.Helper()
	var last sim.ClusterView
	err := proc.WaitFor(ctxFor(l.t, d), what, func() bool {
		v, err := l.view()
		if err != nil {
			return false
		}
		last = v
		return cond(v)
	})
	if err != nil {
		js, _ := json.Marshal(brief(last))
		l.t.Fatalf("%v; last view: %s", err, js)
	}
	return last
}

// brief is a view's nodes in a line each, for failure messages.
func brief(v sim.ClusterView) []string {
	var out []string
	for _, n := range v.Nodes {
		out = append(out, fmt.Sprintf("%d %s %s t%d last %d commit %d pid %d", n.ID, n.State, n.Role, n.Term, n.LastIndex, n.Commit, n.Pid))
	}
	return out
}

// leaders returns the running leaders of the view's highest term.
func leaders(v sim.ClusterView) []int {
	var term uint64
	for _, n := range v.Nodes {
		if n.State == "running" && n.Role == "leader" {
			term = max(term, n.Term)
		}
	}
	var out []int
	for _, n := range v.Nodes {
		if n.State == "running" && n.Role == "leader" && n.Term == term {
			out = append(out, n.ID)
		}
	}
	return out
}

func oneLeader(v sim.ClusterView) bool { return len(leaders(v)) == 1 }

func holds(n sim.NodeView, body string, committed bool) bool {
	for _, e := range n.Log {
		if strings.HasSuffix(e.Summary, ": "+body) && (!committed || e.Committed) {
			return true
		}
	}
	return false
}

// alive reports whether pid is a live process (not gone, not a zombie).
func alive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return syscall.Kill(pid, 0) == nil
	}
	// pid (comm) S …: the state follows the last ')'.
	s := string(b)
	i := strings.LastIndexByte(s, ')')
	return i < 0 || i+2 >= len(s) || s[i+2] != 'Z'
}

// TestClusterLauncherStory is the classroom story on real processes:
// `dledgerlab cluster` starts 3 brokers; the merged live view shows one
// leader; killing the leader through the action endpoint brings a new
// leader; restart brings the old leader back as a follower with its data;
// Ctrl-C (SIGINT) leaves no broker running; a second run reuses the data.
func TestClusterLauncherStory(t *testing.T) {
	dir := t.TempDir()
	l := startLauncher(t, dir, 3)

	v := l.waitView("one leader in the merged view", 15*time.Second, func(v sim.ClusterView) bool {
		running := 0
		for _, n := range v.Nodes {
			if n.State == "running" {
				running++
			}
		}
		return running == 3 && oneLeader(v)
	})
	assert.Equal(t, "live", v.Mode)
	require.Len(t, v.Nodes, 3)
	for i, n := range v.Nodes {
		assert.Equal(t, i+1, n.ID, "nodes in id order")
		assert.NotZero(t, n.Pid)
		assert.Equal(t, filepath.Join(dir, fmt.Sprintf("broker-%d", n.ID)), n.DataDir)
		assert.NotEmpty(t, n.Segments, "CommitLog files of broker %d", n.ID)
		assert.NotEmpty(t, n.Address)
	}
	old := leaders(v)[0]

	// Watchers cannot act.
	code, body := l.act("", sim.Action{Kind: sim.KindCrash, Node: old})
	assert.Equal(t, http.StatusUnauthorized, code, body)
	assert.Contains(t, body, `"code":"UNAUTHORIZED"`)
	code, body = l.act("not-the-token", sim.Action{Kind: sim.KindCrash, Node: old})
	assert.Equal(t, http.StatusForbidden, code, body)
	assert.Contains(t, body, `"code":"FORBIDDEN"`)
	code, body = l.act(l.token, sim.Action{Kind: sim.KindRule, Rule: sim.RuleUpToDateCheck})
	assert.Equal(t, http.StatusBadRequest, code, body)
	assert.Contains(t, body, `"code":"UNSUPPORTED"`)
	assert.Contains(t, body, "safety rule")
	code, body = l.act(l.token, sim.Action{Kind: sim.KindLink, From: 1, To: 2, Loss: 2})
	assert.Equal(t, http.StatusBadRequest, code, body)
	assert.Contains(t, body, "loss 2 must be between 0 and 1")
	code, body = l.act(l.token, sim.Action{Kind: sim.KindCampaign, Node: 7})
	assert.Equal(t, http.StatusBadRequest, code, body)
	code, body = l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: 7})
	assert.Equal(t, http.StatusBadRequest, code, body)

	// The view tells the truth about the switches: off on every broker, off
	// in the picture; on again, on again.
	code, body = l.act(l.token, sim.Action{Kind: sim.KindRule, Rule: sim.RulePreVote, On: false})
	require.Equal(t, http.StatusOK, code, body)
	l.waitView("PreVote shown off after switching it off", 5*time.Second, func(v sim.ClusterView) bool {
		return !v.Settings.PreVote && v.Settings.CheckQuorum
	})
	code, body = l.act(l.token, sim.Action{Kind: sim.KindRule, Rule: sim.RulePreVote, On: true})
	require.Equal(t, http.StatusOK, code, body)
	l.waitView("PreVote shown on again", 5*time.Second, func(v sim.ClusterView) bool { return v.Settings.PreVote })

	// A message every broker stores, so the restarted broker can show it kept its data.
	code, body = l.act(l.token, sim.Action{Kind: sim.KindProduce, Topic: "orders", Body: "before-crash"})
	require.Equal(t, http.StatusOK, code, body)
	l.waitView("before-crash committed on all brokers and acknowledged", 10*time.Second, func(v sim.ClusterView) bool {
		for _, n := range v.Nodes {
			if !holds(n, "before-crash", true) {
				return false
			}
		}
		return len(v.Clients.Producers) == 1 && v.Clients.Producers[0].Acked == 1
	})

	// Kill the leader's process from the view.
	oldPid := v.Nodes[old-1].Pid
	code, body = l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: old})
	require.Equal(t, http.StatusOK, code, body)
	assert.False(t, alive(oldPid), "the old leader's process (pid %d) is gone", oldPid)
	v = l.waitView("a new leader after the kill", 10*time.Second, func(v sim.ClusterView) bool {
		return oneLeader(v) && leaders(v)[0] != old && v.Nodes[old-1].State == "killed"
	})
	newLead := leaders(v)[0]
	assert.Greater(t, v.Nodes[newLead-1].Term, v.Nodes[old-1].Term, "the new leader's term is higher")
	assert.True(t, holds(v.Nodes[old-1], "before-crash", true), "a killed broker still shows its last log")
	assert.NotEmpty(t, v.Nodes[old-1].Segments, "and its CommitLog files on disk")
	code, body = l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: old})
	assert.Equal(t, http.StatusConflict, code, "crashing a killed broker: %s", body)

	// Restart: back as a follower with its data.
	code, body = l.act(l.token, sim.Action{Kind: sim.KindRestart, Node: old})
	require.Equal(t, http.StatusOK, code, body)
	v = l.waitView("the old leader back as a follower with its data", 15*time.Second, func(v sim.ClusterView) bool {
		n := v.Nodes[old-1]
		return n.State == "running" && n.Role == "follower" && n.Pid != oldPid && holds(n, "before-crash", true) &&
			oneLeader(v) && n.LastIndex == v.Nodes[leaders(v)[0]-1].LastIndex
	})

	// Partition and heal through the brokers' admin API.
	lead := leaders(v)[0]
	code, body = l.act(l.token, sim.Action{Kind: sim.KindIsolate, Node: lead})
	require.Equal(t, http.StatusOK, code, body)
	l.waitView("the isolated leader drawn in its own group, a leader on the majority side", 15*time.Second, func(v sim.ClusterView) bool {
		ls := leaders(v)
		return len(v.Groups) == 2 && len(v.Cuts) > 0 && len(ls) == 1 && ls[0] != lead
	})
	code, body = l.act(l.token, sim.Action{Kind: sim.KindHeal})
	require.Equal(t, http.StatusOK, code, body)
	v = l.waitView("healed: no cuts, one leader, every broker running", 15*time.Second, func(v sim.ClusterView) bool {
		for _, n := range v.Nodes {
			if n.State != "running" {
				return false
			}
		}
		return len(v.Cuts) == 0 && v.Groups == nil && oneLeader(v)
	})
	var pids []int
	for _, n := range v.Nodes {
		pids = append(pids, n.Pid)
	}

	// Ctrl-C: every broker stops, none is left behind.
	require.NoError(t, l.cmd.Process.Signal(syscall.SIGINT))
	select {
	case <-l.done:
	case <-time.After(20 * time.Second):
		t.Fatal("the launcher did not exit within 20 s of SIGINT")
	}
	assert.Equal(t, 0, l.cmd.ProcessState.ExitCode(), l.output())
	for _, pid := range pids {
		assert.False(t, alive(pid), "broker process %d outlived the launcher", pid)
	}
	assert.Contains(t, l.output(), "Stopped.")

	// A second run reuses the data: the CommitLog survived.
	l2 := startLauncher(t, dir, 3)
	l2.waitView("the message is still committed after a second run", 15*time.Second, func(v sim.ClusterView) bool {
		for _, n := range v.Nodes {
			if !holds(n, "before-crash", true) {
				return false
			}
		}
		return oneLeader(v)
	})
}

// TestClusterLauncherBadInput: a port in use, a folder of another cluster
// size and a broker that does not come up each give a message that names
// the port, folder or broker and what to do, and leave no process behind.
func TestClusterLauncherBadInput(t *testing.T) {
	launch := func(t *testing.T, dir string, base int) error {
		x, err := cluster.Launch(context.Background(), cluster.Options{Nodes: 3, Dir: dir, BasePort: base, Bin: binPath, StartTimeout: 10 * time.Second})
		if err == nil {
			x.Stop()
		}
		return err
	}
	t.Run("port in use", func(t *testing.T) {
		base, err := cluster.FreeBasePort("127.0.0.1", 3)
		require.NoError(t, err)
		busy := net.JoinHostPort("127.0.0.1", strconv.Itoa(base+1+cluster.HTTPPortOffset))
		ln, err := net.Listen("tcp", busy)
		require.NoError(t, err)
		defer ln.Close()
		dir := t.TempDir()
		err = launch(t, dir, base)
		require.ErrorIs(t, err, cluster.ErrPortInUse)
		assert.Contains(t, err.Error(), busy)
		assert.Contains(t, err.Error(), "broker 2's HTTP port")
		assert.Contains(t, err.Error(), "--base-port")
		assert.Empty(t, processesUsing(dir))
	})
	t.Run("folder of another size", func(t *testing.T) {
		dir := t.TempDir()
		require.NoError(t, os.WriteFile(filepath.Join(dir, cluster.ConfigFile), []byte(`{"nodes":5,"base_port":7001,"secret":"s","admin_token":"t"}`), 0o600))
		err := launch(t, dir, 0)
		require.ErrorIs(t, err, cluster.ErrOtherCluster)
		assert.Contains(t, err.Error(), "cluster of 5 brokers, not 3")
		assert.Contains(t, err.Error(), "--nodes 5")

		dir = t.TempDir()
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "broker-1"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "broker-1", "members"), []byte("broker 1 of group [1 2 3 4 5]\n"), 0o644))
		err = launch(t, dir, 0)
		require.ErrorIs(t, err, cluster.ErrOtherCluster)
		assert.Contains(t, err.Error(), "group of 5 brokers")
		assert.Empty(t, processesUsing(dir))
	})
	t.Run("a broker that does not come up", func(t *testing.T) {
		dir := t.TempDir()
		// Broker 2's folder says it is another broker: it refuses to start.
		require.NoError(t, os.MkdirAll(filepath.Join(dir, "broker-2"), 0o755))
		require.NoError(t, os.WriteFile(filepath.Join(dir, "broker-2", "members"), []byte("broker 3 of group [1 2 3]\n"), 0o644))
		base, err := cluster.FreeBasePort("127.0.0.1", 3)
		require.NoError(t, err)
		err = launch(t, dir, base)
		require.ErrorIs(t, err, cluster.ErrNodeDown)
		assert.Contains(t, err.Error(), "broker 2 exited during start-up")
		assert.Contains(t, err.Error(), "broker-2.log")
		assert.Contains(t, err.Error(), "belongs to broker 3", "the end of the broker's log says why")
		assert.Empty(t, processesUsing(dir), "the brokers that did start were stopped")
	})
	t.Run("busy live view address through the CLI", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		require.NoError(t, err)
		defer ln.Close()
		dir := t.TempDir()
		out, err := exec.Command(binPath, "cluster", "--dir", dir, "--addr", ln.Addr().String()).CombinedOutput()
		require.Error(t, err)
		assert.Contains(t, string(out), "--addr "+ln.Addr().String()+" cannot be used")
		assert.Empty(t, processesUsing(dir))
	})
	t.Run("consumer group timings", func(t *testing.T) {
		for _, tc := range []struct{ flag, value, says string }{
			{"--commit-every", "0s", "--commit-every 0s must be positive"},
			{"--offset-sync", "10ms", "--offset-sync 10ms: want 100ms to 1h"},
		} {
			dir := t.TempDir()
			out, err := exec.Command(binPath, "cluster", "--dir", dir, "--addr", "127.0.0.1:0", tc.flag, tc.value).CombinedOutput()
			require.Error(t, err)
			assert.Contains(t, string(out), tc.says)
			assert.Empty(t, processesUsing(dir), "no broker started")
		}
	})
}

// processesUsing lists live processes whose command line mentions dir.
func processesUsing(dir string) []string {
	ents, _ := os.ReadDir("/proc")
	var out []string
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || !alive(pid) {
			continue
		}
		b, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && strings.Contains(string(b), dir) {
			out = append(out, strings.ReplaceAll(string(b), "\x00", " "))
		}
	}
	return out
}

// TestLessonsNative plays every lesson that is not simulator-only on real
// brokers, one after the other: `dledgerlab lesson run NAME --native`
// starts a cluster shaped for the lesson on free ports and removes it.
func TestLessonsNative(t *testing.T) {
	all, err := lessons.All()
	require.NoError(t, err)
	for _, l := range all {
		if l.SimOnly {
			continue
		}
		t.Run(l.ID, func(t *testing.T) {
			ctx := ctxFor(t, 60*time.Second)
			cmd := exec.CommandContext(ctx, binPath, "lesson", "run", l.ID, "--native")
			cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
			out, err := cmd.CombinedOutput()
			require.NoError(t, err, "%s", out)
			assert.Contains(t, string(out), "lesson "+l.ID+": every check held")
			assert.Contains(t, string(out), "real brokers")
			if m := regexp.MustCompile(`real brokers in (\S+) `).FindSubmatch(out); m != nil {
				_, err := os.Stat(string(m[1]))
				assert.True(t, os.IsNotExist(err), "the lesson's cluster folder %s is removed", m[1])
				assert.Empty(t, processesUsing(string(m[1])), "no broker of the lesson is left running")
			}
		})
	}
}

// TestViewOfBrokersStartedElsewhere: `dledgerlab view --peers …` merges the
// streams of brokers it did not start (the several-machines set-up); with
// the admin token its Crash asks the broker to kill itself, and the view
// draws the broker killed and the new leader.
func TestViewOfBrokersStartedElsewhere(t *testing.T) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	var peers, https []string
	for _, n := range c.Nodes {
		peers = append(peers, fmt.Sprintf("%d=%s", n.ID, n.PeerAddr))
		https = append(https, fmt.Sprintf("%d=%s", n.ID, n.HTTPAddr))
	}
	cmd := exec.Command(binPath, "view", "--peers", strings.Join(peers, ","), "--http-peers", strings.Join(https, ","),
		"--admin-token", testToken, "--addr", "127.0.0.1:0")
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	stdout, err := cmd.StdoutPipe()
	require.NoError(t, err)
	require.NoError(t, cmd.Start())
	t.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	l := &launcher{t: t, token: testToken}
	sc := bufio.NewScanner(stdout)
	for sc.Scan() {
		if u, ok := strings.CutPrefix(strings.TrimSpace(sc.Text()), "Live view (watch only):"); ok {
			l.url = strings.TrimSuffix(strings.TrimSpace(u), "/?live")
			break
		}
	}
	require.NotEmpty(t, l.url, "view printed its address")
	go io.Copy(io.Discard, stdout)

	v := l.waitView("one leader", 10*time.Second, func(v sim.ClusterView) bool {
		return oneLeader(v) && v.Nodes[0].State == "running" && v.Nodes[1].State == "running" && v.Nodes[2].State == "running"
	})
	old := leaders(v)[0]
	code, body := l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: old})
	require.Equal(t, http.StatusOK, code, body)
	l.waitView("the old leader killed, a new leader", 10*time.Second, func(v sim.ClusterView) bool {
		return v.Nodes[old-1].State == "killed" && oneLeader(v) && leaders(v)[0] != old
	})
	code, body = l.act(l.token, sim.Action{Kind: sim.KindRestart, Node: old})
	assert.Equal(t, http.StatusBadRequest, code)
	assert.Contains(t, body, "start it there again")
}
