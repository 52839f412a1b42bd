package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"sync"
	"sync/atomic"
	"syscall"
	"time"
)

// runHTTP starts o.nodes processes of this binary as `anchor node`, each a
// hashicorp/raft node behind a small HTTP API (node.go), and drives the
// producers over HTTP against the leader: the shape of dledgerlab bench,
// whose producers reach broker processes over HTTP too.
func runHTTP(ctx context.Context, o options, out io.Writer) (res result, err error) {
	res = result{System: "hashicorp/raft http", Brokers: o.nodes}
	exe, err := os.Executable()
	if err != nil {
		return res, err
	}
	addrs, err := freeAddrs(2 * o.nodes)
	if err != nil {
		return res, err
	}
	members := make([]member, o.nodes)
	for i := range members {
		members[i] = member{peer: peer{ID: fmt.Sprintf("node%d", i+1), Addr: addrs[2*i]}, HTTP: addrs[2*i+1]}
	}
	// The nodes are stopped however the run ends: on return (a SIGINT or
	// SIGTERM to the driver ends ctx, and so the run, early) and, should the
	// driver die, by the kernel (childAttr).
	g := &group{}
	defer g.stop()
	for _, m := range members {
		dir := filepath.Join(o.dir, m.ID)
		if err := os.MkdirAll(dir, 0o755); err != nil {
			return res, err
		}
		logf, err := os.Create(filepath.Join(dir, "node.log"))
		if err != nil {
			return res, err
		}
		cmd := exec.Command(exe, "node", "--id", m.ID, "--members", joinMembers(members), "--dir", dir)
		cmd.Stdout, cmd.Stderr = logf, logf
		cmd.SysProcAttr = childAttr()
		if err := g.start(cmd, logf); err != nil {
			return res, err
		}
	}

	hc := &http.Client{
		Timeout: sendTimeout,
		// The producers follow a 307 themselves, to remember the leader.
		CheckRedirect: func(*http.Request, []*http.Request) error { return http.ErrUseLastResponse },
		// As many idle connections per node as dledgerlab's client keeps.
		Transport: &http.Transport{MaxIdleConnsPerHost: 256, IdleConnTimeout: 30 * time.Second,
			DialContext: (&net.Dialer{Timeout: 2 * time.Second}).DialContext},
	}
	defer hc.CloseIdleConnections()
	lead, err := waitHTTPLeader(ctx, hc, members, 20*time.Second)
	if err != nil {
		return res, fmt.Errorf("%w; logs in %s", err, o.dir)
	}
	fmt.Fprintf(out, "cluster: %d hashicorp/raft node processes behind HTTP, leader at %s, data in %s\n", o.nodes, lead, o.dir)

	d := &httpDriver{hc: hc, members: members}
	d.leader.Store(&lead)
	sends := make([]sendFunc, o.producers)
	for i := range sends {
		sends[i] = d.send
	}
	err = measure(ctx, &res, sends, o.size, o.duration, out)
	return res, err
}

// group is the node processes of one run.
type group struct {
	mu      sync.Mutex
	cmds    []*exec.Cmd
	files   []*os.File
	stopped bool
}

func (g *group) start(cmd *exec.Cmd, logf *os.File) error {
	g.mu.Lock()
	defer g.mu.Unlock()
	g.files = append(g.files, logf)
	if err := cmd.Start(); err != nil {
		return err
	}
	g.cmds = append(g.cmds, cmd)
	return nil
}

// stop sends SIGTERM to every node, waits up to 3 s for each and kills
// those still running; it runs once.
func (g *group) stop() {
	g.mu.Lock()
	defer g.mu.Unlock()
	if g.stopped {
		return
	}
	g.stopped = true
	for _, c := range g.cmds {
		c.Process.Signal(syscall.SIGTERM)
	}
	for _, c := range g.cmds {
		done := make(chan struct{})
		go func() { c.Wait(); close(done) }()
		select {
		case <-done:
		case <-time.After(3 * time.Second):
			c.Process.Kill()
			<-done
		}
	}
	for _, f := range g.files {
		f.Close()
	}
}

// waitHTTPLeader asks each node's /status until one is leader and returns
// its HTTP address.
func waitHTTPLeader(ctx context.Context, hc *http.Client, members []member, d time.Duration) (string, error) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) && ctx.Err() == nil {
		for _, m := range members {
			actx, cancel := context.WithTimeout(ctx, time.Second)
			st, err := getStatus(actx, hc, m.HTTP)
			cancel()
			if err == nil && st.State == "Leader" {
				return m.HTTP, nil
			}
		}
		time.Sleep(20 * time.Millisecond)
	}
	if ctx.Err() != nil {
		return "", context.Cause(ctx)
	}
	return "", fmt.Errorf("%w: no node became leader within %v", errNoLeader, d)
}

func getStatus(ctx context.Context, hc *http.Client, addr string) (status, error) {
	var st status
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return st, fmt.Errorf("%s: %s", addr, resp.Status)
	}
	return st, json.NewDecoder(resp.Body).Decode(&st)
}

// httpDriver sends messages to the leader the producers share.
type httpDriver struct {
	hc      *http.Client
	members []member
	leader  atomic.Pointer[string]
}

// retryPause is the wait before asking again when no leader is known, as
// dledgerlab's client pauses.
const retryPause = 20 * time.Millisecond

// send posts msg to the leader until one answers 200, within sendTimeout:
// it follows a 307 to the leader it names, tries the next node when one
// does not answer, and pauses after a 503 (no leader yet).
func (d *httpDriver) send(msg []byte) error {
	ctx, cancel := context.WithTimeout(context.Background(), sendTimeout)
	defer cancel()
	addr := *d.leader.Load()
	for {
		code, loc, err := d.post(ctx, addr, msg)
		switch {
		case err == nil && code == http.StatusOK:
			if cur := d.leader.Load(); *cur != addr {
				d.leader.CompareAndSwap(cur, &addr)
			}
			return nil
		case ctx.Err() != nil:
			if err == nil {
				err = fmt.Errorf("HTTP %d from %s", code, addr)
			}
			return fmt.Errorf("no commit within %v: %w", sendTimeout, err)
		case err != nil:
			addr = d.next(addr) // no answer: another node
		case code == http.StatusTemporaryRedirect && loc != "" && loc != addr:
			addr = loc
		case code == http.StatusServiceUnavailable || code == http.StatusTemporaryRedirect:
			time.Sleep(retryPause)
		default:
			return fmt.Errorf("HTTP %d from %s", code, addr)
		}
	}
}

// post sends one POST /apply; loc is the host:port a 307 points to.
func (d *httpDriver) post(ctx context.Context, addr string, msg []byte) (code int, loc string, err error) {
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+addr+"/apply", bytes.NewReader(msg))
	if err != nil {
		return 0, "", err
	}
	req.Header.Set("Content-Type", "application/octet-stream")
	resp, err := d.hc.Do(req)
	if err != nil {
		return 0, "", err
	}
	// Drain the body so that the connection is reused.
	io.Copy(io.Discard, resp.Body)
	resp.Body.Close()
	if resp.StatusCode == http.StatusTemporaryRedirect {
		if u, perr := url.Parse(resp.Header.Get("Location")); perr == nil {
			loc = u.Host
		}
	}
	return resp.StatusCode, loc, nil
}

// next returns the node after addr (round robin).
func (d *httpDriver) next(addr string) string {
	for i, m := range d.members {
		if m.HTTP == addr {
			return d.members[(i+1)%len(d.members)].HTTP
		}
	}
	return d.members[0].HTTP
}
