// Package proc starts and stops local broker processes of the dledgerlab
// binary: the benchmark, the process tests and a local cluster launcher use
// it. Every broker is a child process with its own data folder, peer port
// and HTTP port on 127.0.0.1, and its log in <dir>/broker-<id>.log.
package proc

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"dledgerlab/native/client"
	"dledgerlab/native/server"
)

// Cluster is a group of local broker processes.
type Cluster struct {
	Bin        string // the dledgerlab binary
	Dir        string // holds broker-<id>/ data folders and broker-<id>.log
	Secret     string
	AdminToken string
	// Extra flags for every node (e.g. --produce-timeout 1s).
	Extra []string
	// Command is the dledgerlab command each process runs: "node" (the
	// default, a broker) or "controller" (NewControllers).
	Command string
	Nodes   []*Node
	// Client talks to every broker's HTTP address.
	Client *client.Client
}

// Node is one broker process.
type Node struct {
	ID       int
	PeerAddr string
	HTTPAddr string
	Dir      string
	LogPath  string
	// Secret overrides the cluster's secret for this broker (tests of a
	// peer that does not know it).
	Secret string

	mu   sync.Mutex
	cmd  *exec.Cmd
	done chan struct{}
	err  error // exit error once done
}

// New prepares (does not start) n brokers with free ports on 127.0.0.1.
func New(bin, dir string, n int, secret, adminToken string) (*Cluster, error) {
	ports, err := FreePorts(2 * n)
	if err != nil {
		return nil, err
	}
	c := &Cluster{Bin: bin, Dir: dir, Secret: secret, AdminToken: adminToken}
	var addrs []string
	for i := 1; i <= n; i++ {
		nd := &Node{ID: i,
			PeerAddr: "127.0.0.1:" + strconv.Itoa(ports[2*(i-1)]),
			HTTPAddr: "127.0.0.1:" + strconv.Itoa(ports[2*(i-1)+1]),
			Dir:      filepath.Join(dir, fmt.Sprintf("broker-%d", i)),
			LogPath:  filepath.Join(dir, fmt.Sprintf("broker-%d.log", i)),
		}
		c.Nodes = append(c.Nodes, nd)
		addrs = append(addrs, nd.HTTPAddr)
	}
	c.Client = client.New(addrs)
	c.Client.AdminToken = adminToken
	return c, nil
}

// NewControllers prepares (does not start) n controllers of Controller
// mode (`dledgerlab controller`), in controller-<id>/ with their logs in
// controller-<id>.log. Client is nil: controllers have their own API.
func NewControllers(bin, dir string, n int, secret string) (*Cluster, error) {
	c, err := New(bin, dir, n, secret, "")
	if err != nil {
		return nil, err
	}
	c.Command, c.Client = "controller", nil
	for _, nd := range c.Nodes {
		nd.Dir = filepath.Join(dir, fmt.Sprintf("controller-%d", nd.ID))
		nd.LogPath = filepath.Join(dir, fmt.Sprintf("controller-%d.log", nd.ID))
	}
	return c, nil
}

// NewControllerBrokers prepares (does not start) a broker group of n
// brokers in Controller mode (`dledgerlab broker --mode controller`) that
// heartbeat the controllers ctls, in broker-<id>/ with their logs in
// broker-<id>.log. Client is nil: these brokers have their own API.
func NewControllerBrokers(bin, dir string, n int, secret string, ctls *Cluster) (*Cluster, error) {
	c, err := New(bin, dir, n, secret, "")
	if err != nil {
		return nil, err
	}
	var addrs []string
	for _, nd := range ctls.Nodes {
		addrs = append(addrs, fmt.Sprintf("%d=%s", nd.ID, nd.HTTPAddr))
	}
	c.Command, c.Client = "broker", nil
	c.Extra = []string{"--mode", "controller", "--controllers", strings.Join(addrs, ",")}
	return c, nil
}

// FreePorts returns n TCP ports that were free on 127.0.0.1 a moment ago.
func FreePorts(n int) ([]int, error) {
	var lns []net.Listener
	defer func() {
		for _, ln := range lns {
			ln.Close()
		}
	}()
	var out []int
	for range n {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			return nil, err
		}
		lns = append(lns, ln)
		out = append(out, ln.Addr().(*net.TCPAddr).Port)
	}
	return out, nil
}

// Node returns broker id.
func (c *Cluster) Node(id int) *Node { return c.Nodes[id-1] }

// Args returns the command line of broker id. It holds no secret: argv is
// visible to every local user (ps, /proc/PID/cmdline), so the cluster
// secret and the admin token go to the child in its environment (Env),
// which only its own user can read.
func (c *Cluster) Args(id int) []string {
	var peers, https []string
	for _, n := range c.Nodes {
		peers = append(peers, fmt.Sprintf("%d=%s", n.ID, n.PeerAddr))
		https = append(https, fmt.Sprintf("%d=%s", n.ID, n.HTTPAddr))
	}
	n := c.Node(id)
	cmd := c.Command
	if cmd == "" {
		cmd = "node"
	}
	args := []string{cmd, "--id", strconv.Itoa(id), "--peers", strings.Join(peers, ","),
		"--http-peers", strings.Join(https, ","), "--dir", n.Dir}
	return append(args, c.Extra...)
}

// Env returns the environment of broker id: this process's, plus the
// cluster secret and the admin token (DLEDGERLAB_SECRET,
// DLEDGERLAB_ADMIN_TOKEN), which `dledgerlab node` reads when its flags
// are not given, and each broker's share of the machine's cores
// (GOMAXPROCS, see CoreShare) unless this process's environment sets it.
func (c *Cluster) Env(id int) []string {
	secret := c.Secret
	if n := c.Node(id); n.Secret != "" {
		secret = n.Secret
	}
	env := append(os.Environ(), "DLEDGERLAB_SECRET="+secret, "DLEDGERLAB_ADMIN_TOKEN="+c.AdminToken)
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(CoreShare(runtime.NumCPU(), len(c.Nodes))))
	}
	return env
}

// CoreShare is how many cores each of n brokers on a machine with cpus
// cores may use (its GOMAXPROCS): an equal share, at least one. By
// default every Go process takes all the cores, so n brokers on one
// machine would run n×cpus schedulers' worth of threads that wake and spin
// looking for work on cores the other brokers need; Go itself sizes
// GOMAXPROCS to a container's CPU limit for the same reason. Measured in
// docs/BENCHMARKS.md ("Brokers on one machine share its cores").
func CoreShare(cpus, n int) int {
	return max(1, cpus/max(1, n))
}

// StartAll starts every broker.
func (c *Cluster) StartAll() error {
	for _, n := range c.Nodes {
		if err := c.Start(n.ID); err != nil {
			return err
		}
	}
	return nil
}

// Start starts broker id (again, after a kill or stop: same data folder).
func (c *Cluster) Start(id int) error {
	n := c.Node(id)
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd != nil {
		select {
		case <-n.done:
		default:
			return fmt.Errorf("broker %d is already running (pid %d)", id, n.cmd.Process.Pid)
		}
	}
	logf, err := os.OpenFile(n.LogPath, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
	if err != nil {
		return err
	}
	cmd := exec.Command(c.Bin, c.Args(id)...)
	cmd.Env = c.Env(id)
	cmd.Stdout, cmd.Stderr = logf, logf
	cmd.SysProcAttr = sysProcAttr()
	if err := cmd.Start(); err != nil {
		logf.Close()
		return fmt.Errorf("start broker %d: %w", id, err)
	}
	n.cmd, n.done, n.err = cmd, make(chan struct{}), nil
	done := n.done
	go func() {
		err := cmd.Wait()
		logf.Close()
		n.mu.Lock()
		n.err = err
		n.mu.Unlock()
		close(done)
	}()
	return nil
}

// Pid returns the process id, 0 if never started.
func (n *Node) Pid() int {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return 0
	}
	return n.cmd.Process.Pid
}

// Running reports whether the process is alive.
func (n *Node) Running() bool {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.cmd == nil {
		return false
	}
	select {
	case <-n.done:
		return false
	default:
		return true
	}
}

// Wait waits for the process to exit and returns its exit error.
func (n *Node) Wait(ctx context.Context) error {
	n.mu.Lock()
	done := n.done
	n.mu.Unlock()
	if done == nil {
		return errors.New("never started")
	}
	select {
	case <-done:
	case <-ctx.Done():
		return ctx.Err()
	}
	n.mu.Lock()
	defer n.mu.Unlock()
	return n.err
}

// Kill sends SIGKILL (kill -9) and waits for the exit.
func (n *Node) Kill() { n.signal(syscall.SIGKILL, 0) }

// Stop sends SIGTERM and waits up to 10 s for a clean exit, then kills.
func (n *Node) Stop() { n.signal(syscall.SIGTERM, 10*time.Second) }

func (n *Node) signal(sig syscall.Signal, grace time.Duration) {
	n.mu.Lock()
	cmd, done := n.cmd, n.done
	n.mu.Unlock()
	if cmd == nil {
		return
	}
	select {
	case <-done:
		return
	default:
	}
	cmd.Process.Signal(sig)
	if grace > 0 {
		select {
		case <-done:
			return
		case <-time.After(grace):
			cmd.Process.Kill()
		}
	}
	<-done
}

// Log returns the broker's log so far.
func (n *Node) Log() string {
	b, _ := os.ReadFile(n.LogPath)
	return string(b)
}

// Close kills every broker still running.
func (c *Cluster) Close() {
	for _, n := range c.Nodes {
		n.Kill()
	}
}

// StopAll stops every broker cleanly (SIGTERM).
func (c *Cluster) StopAll() {
	var wg sync.WaitGroup
	for _, n := range c.Nodes {
		wg.Add(1)
		go func() { defer wg.Done(); n.Stop() }()
	}
	wg.Wait()
}

// Statuses asks every running broker for its status; unreachable ones are
// Pids returns the process ids of the brokers that are running.
func (c *Cluster) Pids() []int {
	var out []int
	for _, n := range c.Nodes {
		if p := n.Pid(); p != 0 && n.Running() {
			out = append(out, p)
		}
	}
	return out
}

// left out.
func (c *Cluster) Statuses(ctx context.Context) map[int]server.Status {
	out := map[int]server.Status{}
	for _, n := range c.Nodes {
		if !n.Running() {
			continue
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		st, err := c.Client.Status(cctx, n.HTTPAddr)
		cancel()
		if err == nil {
			out[n.ID] = st
		}
	}
	return out
}

// Leader returns the id of the running broker that is leader in the highest
// term, or 0.
func (c *Cluster) Leader(ctx context.Context) int {
	sts := c.Statuses(ctx)
	lead, term := 0, uint64(0)
	for id, st := range sts {
		if st.Role == "leader" && st.Term >= term {
			lead, term = id, st.Term
		}
	}
	return lead
}

// WaitLeader polls until a leader exists or ctx ends.
func (c *Cluster) WaitLeader(ctx context.Context) (int, error) {
	for {
		if id := c.Leader(ctx); id != 0 {
			return id, nil
		}
		select {
		case <-ctx.Done():
			return 0, fmt.Errorf("no leader elected: %w", ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// WaitFor polls cond every 20 ms until it holds or ctx ends.
func WaitFor(ctx context.Context, what string, cond func() bool) error {
	for !cond() {
		select {
		case <-ctx.Done():
			return fmt.Errorf("waiting for %s: %w", what, ctx.Err())
		case <-time.After(20 * time.Millisecond):
		}
	}
	return nil
}
