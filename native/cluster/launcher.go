package cluster

// The launcher: N broker processes of this binary on one machine, each a
// child process with its own data folder and log, and a Live over them.
//
//	<dir>/cluster.json       nodes, base port, secret, admin token (reused by the next run)
//	<dir>/broker-<id>/       the broker's data folder (CommitLog segments, index, term, members)
//	<dir>/broker-<id>.log    the broker's log
//
// Broker i listens on peer port base+i-1 and HTTP port base+i-1+1000 (the
// `dledgerlab node` convention).

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dledgerlab/native/client"
	"dledgerlab/native/proc"
)

// DefaultBasePort is broker 1's peer port unless told otherwise.
const DefaultBasePort = 7001

// HTTPPortOffset is the distance between a broker's peer and HTTP ports.
const HTTPPortOffset = 1000

// ConfigFile is the launcher's record in the cluster folder.
const ConfigFile = "cluster.json"

// Errors a caller (and a test) can tell apart; each is wrapped with which
// broker, port or folder, and what to do.
var (
	ErrPortInUse    = errors.New("port in use")
	ErrOtherCluster = errors.New("data folder belongs to another cluster")
	ErrNodeDown     = errors.New("broker did not come up")
	ErrNoLeader     = errors.New("no leader elected")
)

// Options configure a launch. Zero values take the folder's saved values,
// then the defaults.
type Options struct {
	Nodes int
	Dir   string
	// BasePort is broker 1's peer port (0: the folder's, else 7001).
	BasePort int
	// Host is the address the brokers listen on (default 127.0.0.1).
	Host       string
	Secret     string
	AdminToken string
	// Bin is the dledgerlab binary (default: this program).
	Bin string
	// Extra flags for every broker (e.g. --segment-size 4096).
	Extra []string
	// StartTimeout bounds the wait for every broker's API and a leader
	// (default 20 s).
	StartTimeout time.Duration
	// OffsetCommit is how often the live view's group consumers commit
	// their offsets (0: DefaultOffsetCommit).
	OffsetCommit time.Duration
	Logf         func(format string, args ...any)
}

// Launcher is a running local cluster.
type Launcher struct {
	// Opts are the options in effect (saved and generated values filled in).
	Opts   Options
	Procs  *proc.Cluster
	Live   *Live
	Leader int // the first leader
}

// Launch checks the folder and the ports, starts the brokers, waits for
// each one's API and for a leader. On any error nothing it started is left
// running.
func Launch(ctx context.Context, o Options) (*Launcher, error) {
	if o.Nodes < 1 || o.Nodes > 9 {
		return nil, fmt.Errorf("--nodes %d: a cluster has 1 to 9 brokers (3 or 5 make sense)", o.Nodes)
	}
	if o.Host == "" {
		o.Host = "127.0.0.1"
	}
	if o.StartTimeout <= 0 {
		o.StartTimeout = 20 * time.Second
	}
	if o.Bin == "" {
		bin, err := os.Executable()
		if err != nil {
			return nil, fmt.Errorf("finding this program to start brokers: %w", err)
		}
		o.Bin = bin
	}
	if err := os.MkdirAll(o.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("cluster folder %s: %w", o.Dir, err)
	}
	if err := o.fromFolder(); err != nil {
		return nil, err
	}
	if err := CheckBasePort(o.BasePort, o.Nodes, "brokers"); err != nil {
		return nil, err
	}
	pc := &proc.Cluster{Bin: o.Bin, Dir: o.Dir, Secret: o.Secret, AdminToken: o.AdminToken, Extra: o.Extra}
	var members []Member
	var addrs []string
	for i := 1; i <= o.Nodes; i++ {
		peer := o.BasePort + i - 1
		n := &proc.Node{ID: i,
			PeerAddr: net.JoinHostPort(o.Host, strconv.Itoa(peer)),
			HTTPAddr: net.JoinHostPort(o.Host, strconv.Itoa(peer+HTTPPortOffset)),
			Dir:      filepath.Join(o.Dir, fmt.Sprintf("broker-%d", i)),
			LogPath:  filepath.Join(o.Dir, fmt.Sprintf("broker-%d.log", i)),
		}
		pc.Nodes = append(pc.Nodes, n)
		members = append(members, Member{ID: i, HTTPAddr: n.HTTPAddr, DataDir: n.Dir})
		addrs = append(addrs, n.HTTPAddr)
	}
	pc.Client = client.New(addrs)
	pc.Client.AdminToken = o.AdminToken
	if err := CheckPorts("broker", pc); err != nil {
		return nil, err
	}
	if err := o.save(); err != nil {
		return nil, err
	}

	x := &Launcher{Opts: o, Procs: pc}
	ok := false
	defer func() {
		if !ok {
			pc.Close()
		}
	}()
	if err := pc.StartAll(); err != nil {
		return nil, err
	}
	ctx, cancel := context.WithTimeout(ctx, o.StartTimeout)
	defer cancel()
	for _, n := range pc.Nodes {
		if err := waitUp(ctx, pc, n); err != nil {
			return nil, err
		}
	}
	lead, err := pc.WaitLeader(ctx)
	if err != nil {
		return nil, fmt.Errorf("%w within %v: every broker answers but none won an election; the brokers' logs in %s say why", ErrNoLeader, o.StartTimeout, o.Dir)
	}
	x.Leader = lead
	x.Live = New(Config{Members: members, Procs: pc, AdminToken: o.AdminToken, Logf: o.Logf, OffsetCommit: o.OffsetCommit})
	ok = true
	return x, nil
}

// Stop stops watching and stops every broker cleanly (SIGTERM, then
// SIGKILL after 10 s).
func (x *Launcher) Stop() {
	if x.Live != nil {
		x.Live.ResumeAll()
		x.Live.Close()
	}
	x.Procs.StopAll()
}

// fromFolder fills options from cluster.json (OpenFolder).
func (o *Options) fromFolder() error {
	f, err := OpenFolder(Folder{Dir: o.Dir, Mode: ModeDLedger, Nodes: o.Nodes, BasePort: o.BasePort, Secret: o.Secret, AdminToken: o.AdminToken})
	if err != nil {
		return err
	}
	o.BasePort, o.Secret, o.AdminToken = f.BasePort, f.Secret, f.AdminToken
	return nil
}

func (o *Options) save() error {
	return Folder{Dir: o.Dir, Mode: ModeDLedger, Nodes: o.Nodes, BasePort: o.BasePort, Secret: o.Secret, AdminToken: o.AdminToken}.Save()
}

// waitUp waits until broker n answers /v1/status; a broker whose process
// exits first is reported with the end of its log.
func waitUp(ctx context.Context, pc *proc.Cluster, n *proc.Node) error {
	for {
		if !n.Running() {
			return fmt.Errorf("%w: broker %d exited during start-up; the end of its log (%s):\n%s",
				ErrNodeDown, n.ID, n.LogPath, indent(tail(n.Log(), 8)))
		}
		cctx, cancel := context.WithTimeout(ctx, time.Second)
		_, err := pc.Client.Status(cctx, n.HTTPAddr)
		cancel()
		if err == nil {
			return nil
		}
		select {
		case <-ctx.Done():
			return fmt.Errorf("%w: broker %d (pid %d) does not answer on %s; its log is %s:\n%s",
				ErrNodeDown, n.ID, n.Pid(), n.HTTPAddr, n.LogPath, indent(tail(n.Log(), 8)))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

func tail(s string, lines int) string {
	ls := strings.Split(strings.TrimRight(s, "\n"), "\n")
	if len(ls) > lines {
		ls = ls[len(ls)-lines:]
	}
	return strings.Join(ls, "\n")
}

func indent(s string) string { return "    " + strings.ReplaceAll(s, "\n", "\n    ") }

func randomToken() string {
	b := make([]byte, 12)
	rand.Read(b)
	return hex.EncodeToString(b)
}
