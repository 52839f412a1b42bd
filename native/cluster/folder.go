package cluster

// The cluster folder both launchers keep (`cluster`, and `cluster --mode
// controller`): cluster.json records the mode, the size, the base port,
// the secret and the admin token, so the next run in the folder reuses
// them; the ports are checked before any process starts.

import (
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"

	"dledgerlab/native/proc"
)

// The launchers' modes, as cluster.json records them.
const (
	// ModeDLedger: brokers that replicate with Raft (`node`).
	ModeDLedger = "dledger"
	// ModeController: 3 controllers and a broker group of 3 in
	// RocketMQ's Controller mode (`controller`, `broker --mode controller`).
	ModeController = "controller"
)

// Folder is a launcher's cluster folder and what its cluster.json keeps.
type Folder struct {
	Dir string `json:"-"`
	// Mode is ModeDLedger or ModeController; a cluster.json without it is
	// of DLedger mode (written before Controller mode had one).
	Mode string `json:"mode,omitempty"`
	// Nodes is the number of brokers (in Controller mode, of the broker
	// group).
	Nodes      int    `json:"nodes"`
	BasePort   int    `json:"base_port"`
	Secret     string `json:"secret"`
	AdminToken string `json:"admin_token"`
}

// OpenFolder settles a launch's settings: want's non-zero fields (the
// flags) first, then the folder's cluster.json, then the defaults
// (DefaultBasePort, a generated secret and admin token). It refuses
// (ErrOtherCluster) a folder of another mode or another number of brokers,
// saying which flag or folder to use instead.
func OpenFolder(want Folder) (Folder, error) {
	var s Folder
	path := filepath.Join(want.Dir, ConfigFile)
	data, err := os.ReadFile(path)
	switch {
	case errors.Is(err, os.ErrNotExist):
		s.Mode = modeOnDisk(want.Dir)
	case err != nil:
		return s, fmt.Errorf("reading %s: %w", path, err)
	default:
		if err := json.Unmarshal(data, &s); err != nil {
			return s, fmt.Errorf("%s is damaged (%v): fix or delete it (the secret and admin token are in it)", path, err)
		}
		if s.Mode == "" {
			s.Mode = ModeDLedger
		}
	}
	if s.Mode != "" && s.Mode != want.Mode {
		return s, fmt.Errorf("%w: %s holds a %s-mode cluster, not a %s-mode one: run with --mode %s to reuse it, or choose another --dir",
			ErrOtherCluster, want.Dir, s.Mode, want.Mode, s.Mode)
	}
	if s.Nodes != 0 && s.Nodes != want.Nodes {
		return s, fmt.Errorf("%w: %s holds a cluster of %d brokers, not %d: run with --nodes %d to reuse its data, or choose another --dir",
			ErrOtherCluster, want.Dir, s.Nodes, want.Nodes, s.Nodes)
	}
	if n, maxID := groupOnDisk(want.Dir); n != 0 && n != want.Nodes {
		return s, fmt.Errorf("%w: the data folders in %s belong to a group of %d brokers, not %d: run with --nodes %d to reuse them, or choose another --dir",
			ErrOtherCluster, want.Dir, n, want.Nodes, n)
	} else if maxID > want.Nodes {
		return s, fmt.Errorf("%w: %s has a data folder for broker %d, more than --nodes %d: run with the cluster's size, or choose another --dir",
			ErrOtherCluster, want.Dir, maxID, want.Nodes)
	}
	f := want
	for _, v := range []struct {
		p          *string
		saved, gen string
	}{{&f.Secret, s.Secret, randomToken()}, {&f.AdminToken, s.AdminToken, randomToken()}} {
		if *v.p == "" {
			*v.p = v.saved
		}
		if *v.p == "" {
			*v.p = v.gen
		}
	}
	if f.BasePort == 0 {
		f.BasePort = s.BasePort
	}
	if f.BasePort == 0 {
		f.BasePort = DefaultBasePort
	}
	return f, nil
}

// Save writes cluster.json, readable by its owner only (it holds the
// secret and the admin token).
func (f Folder) Save() error {
	data, _ := json.MarshalIndent(f, "", "  ")
	path := filepath.Join(f.Dir, ConfigFile)
	if err := os.WriteFile(path, append(data, '\n'), 0o600); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	// WriteFile sets the mode only when it creates the file: an older
	// cluster.json may be readable by others.
	if err := os.Chmod(path, 0o600); err != nil {
		return fmt.Errorf("saving %s: %w", path, err)
	}
	return nil
}

// CheckBasePort refuses a --base-port whose n members (named by who, e.g.
// "brokers") would need a port beyond 65535: member i takes peer port
// base+i-1 and HTTP port base+i-1+HTTPPortOffset.
func CheckBasePort(base, n int, who string) error {
	if base < 1 || base+n-1+HTTPPortOffset > 65535 {
		return fmt.Errorf("--base-port %d: the %s need ports %d..%d and %d..%d; choose a base port from 1024 to %d",
			base, who, base, base+n-1, base+HTTPPortOffset, base+n-1+HTTPPortOffset, 65535-HTTPPortOffset-n+1)
	}
	return nil
}

// Place gives c's members the launcher's ports on host: member i listens
// on peer port base+i-1 and HTTP port base+i-1+HTTPPortOffset. Call it
// before anything copies the addresses (a broker group's --controllers).
func Place(c *proc.Cluster, host string, base int) {
	for i, n := range c.Nodes {
		n.PeerAddr = net.JoinHostPort(host, strconv.Itoa(base+i))
		n.HTTPAddr = net.JoinHostPort(host, strconv.Itoa(base+i+HTTPPortOffset))
	}
	if c.Client != nil {
		c.Client.Addrs = c.Client.Addrs[:0]
		for _, n := range c.Nodes {
			c.Client.Addrs = append(c.Client.Addrs, n.HTTPAddr)
		}
	}
}

// CheckPorts tries every port of c's members (named by what: "broker",
// "controller") before any starts, and refuses a busy one (ErrPortInUse)
// naming the member, the port and --base-port.
func CheckPorts(what string, c *proc.Cluster) error {
	for _, n := range c.Nodes {
		for _, p := range []struct{ addr, what string }{{n.PeerAddr, "peer"}, {n.HTTPAddr, "HTTP"}} {
			ln, err := net.Listen("tcp", p.addr)
			if err != nil {
				return fmt.Errorf("%w: %s (%s %d's %s port) cannot be used (%v): stop the program that holds it (a cluster still running from this folder?) or choose another --base-port",
					ErrPortInUse, p.addr, what, n.ID, p.what, errors.Unwrap(err))
			}
			ln.Close()
		}
	}
	return nil
}

var groupRE = regexp.MustCompile(`of group \[([0-9 ]*)\]`)

// groupOnDisk reads the group size from the brokers' members files (0 when
// there is none) and the highest broker-<id> folder: a folder of a
// 5-broker group must not be started as a 3-broker one.
func groupOnDisk(dir string) (size, maxID int) {
	dirs, _ := filepath.Glob(filepath.Join(dir, "broker-*"))
	for _, d := range dirs {
		fi, err := os.Stat(d)
		if err != nil || !fi.IsDir() {
			continue
		}
		if id, err := strconv.Atoi(strings.TrimPrefix(filepath.Base(d), "broker-")); err == nil {
			maxID = max(maxID, id)
		}
		if b, err := os.ReadFile(filepath.Join(d, "members")); err == nil {
			if g := groupRE.FindSubmatch(b); g != nil {
				size = max(size, len(strings.Fields(string(g[1]))))
			}
		}
	}
	return size, maxID
}

// modeOnDisk tells a folder's mode by its data folders when it has no
// cluster.json ("" when it holds none): controllers' folders, or a
// Controller-mode broker's meta.json, are Controller mode; a broker's term
// file is DLedger mode.
func modeOnDisk(dir string) string {
	if m, _ := filepath.Glob(filepath.Join(dir, "controller-*")); len(m) > 0 {
		return ModeController
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "broker-*", "meta.json")); len(m) > 0 {
		return ModeController
	}
	if m, _ := filepath.Glob(filepath.Join(dir, "broker-*", "term")); len(m) > 0 {
		return ModeDLedger
	}
	return ""
}
