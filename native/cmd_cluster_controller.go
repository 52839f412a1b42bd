package main

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"time"

	"dledgerlab/core/ctlsim"
	"dledgerlab/native/cluster"
	"dledgerlab/native/ctlbroker"
	"dledgerlab/native/proc"
	"dledgerlab/web"
)

// controllerClusterOptions are `dledgerlab cluster --mode controller`'s
// settings.
type controllerClusterOptions struct {
	dir, secret, adminToken string
	// addr is the live view's listen address.
	addr string
	// basePort is broker 1's peer port (0: the folder's, else 7001).
	basePort int
	// brokerTimeout is the controllers' --broker-timeout.
	brokerTimeout time.Duration
	unclean       bool
	allAck        bool
	minISR        int
}

// Controller mode's launcher layout: the broker group's 3 brokers, then
// the 3 controllers, on consecutive ports from the base port.
const (
	ctlClusterBrokers     = 3
	ctlClusterControllers = 3
)

// runControllerCluster starts 3 controllers and a broker group of 3
// brokers in Controller mode on this machine: broker i on peer port
// base+i-1, controller i on base+3+i-1, each HTTP port 1000 above. Like the
// DLedger-mode launcher it keeps cluster.json in the folder (mode, base
// port, secret, admin token) and checks every port first. It waits for a
// master, serves the live view on o.addr (the playground page in
// Controller mode watching and, with the admin token, driving the
// processes: package cluster's CtlLive) and stops them all at ctx's end.
// ctlClusterRun is a started Controller-mode cluster: its processes, the
// launcher's live view of them, and who was master when it was ready.
type ctlClusterRun struct {
	ctls, brokers *proc.Cluster
	live          *cluster.CtlLive
	folder        cluster.Folder
	master        int
	status        ctlbroker.Status
	logf          func(string, ...any)
	stopped       bool
}

// stop stops the live view and every process (once).
func (c *ctlClusterRun) stop() {
	if c.stopped {
		return
	}
	c.stopped = true
	if c.live != nil {
		c.live.Close()
	}
	c.brokers.StopAll()
	c.ctls.StopAll()
}

// startControllerCluster starts 3 controllers and a broker group of 3,
// waits for a master and starts watching them (cluster.CtlLive). check,
// when not nil, runs after the ports are checked and before any process
// starts (the launcher takes its view's port there). On an error nothing
// is left running.
func startControllerCluster(ctx context.Context, o controllerClusterOptions, check func() (net.Listener, error)) (*ctlClusterRun, net.Listener, error) {
	if o.minISR < 1 || o.minISR > ctlClusterBrokers {
		return nil, nil, usagef("--min-in-sync-replicas %d: want 1 to %d", o.minISR, ctlClusterBrokers)
	}
	if o.brokerTimeout < time.Second || o.brokerTimeout > time.Hour {
		return nil, nil, usagef("--broker-timeout %v: want 1s to 1h (the brokers heartbeat every %v)", o.brokerTimeout, ctlbroker.DefaultHeartbeat)
	}
	bin, err := os.Executable()
	if err != nil {
		return nil, nil, err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return nil, nil, fmt.Errorf("cluster folder %s: %w", o.dir, err)
	}
	f, err := cluster.OpenFolder(cluster.Folder{Dir: o.dir, Mode: cluster.ModeController, Nodes: ctlClusterBrokers,
		BasePort: o.basePort, Secret: o.secret, AdminToken: o.adminToken})
	if err != nil {
		return nil, nil, err
	}
	if err := cluster.CheckBasePort(f.BasePort, ctlClusterBrokers+ctlClusterControllers, "3 brokers and 3 controllers"); err != nil {
		return nil, nil, err
	}
	ctls, err := proc.NewControllers(bin, o.dir, ctlClusterControllers, f.Secret)
	if err != nil {
		return nil, nil, err
	}
	ctls.AdminToken = f.AdminToken
	cluster.Place(ctls, "127.0.0.1", f.BasePort+ctlClusterBrokers)
	ctls.Extra = []string{"--broker-timeout", o.brokerTimeout.String()}
	if o.unclean {
		ctls.Extra = append(ctls.Extra, "--unclean")
	}
	brokers, err := proc.NewControllerBrokers(bin, o.dir, ctlClusterBrokers, f.Secret, ctls)
	if err != nil {
		return nil, nil, err
	}
	brokers.AdminToken = f.AdminToken
	cluster.Place(brokers, "127.0.0.1", f.BasePort)
	brokers.Extra = append(brokers.Extra, "--all-ack="+strconv.FormatBool(o.allAck), "--min-in-sync-replicas", strconv.Itoa(o.minISR))
	if err := cluster.CheckPorts("broker", brokers); err != nil {
		return nil, nil, err
	}
	if err := cluster.CheckPorts("controller", ctls); err != nil {
		return nil, nil, err
	}
	var ln net.Listener
	if check != nil {
		if ln, err = check(); err != nil {
			return nil, nil, err
		}
	}
	fail := func(err error) (*ctlClusterRun, net.Listener, error) {
		if ln != nil {
			ln.Close()
		}
		return nil, nil, err
	}
	if err := f.Save(); err != nil {
		return fail(err)
	}
	c := &ctlClusterRun{ctls: ctls, brokers: brokers, folder: f}
	ok := false
	defer func() {
		if !ok {
			c.stop()
		}
	}()
	fmt.Printf("Starting 3 controllers and a broker group of 3 (Controller mode) in %s …\n", o.dir)
	for _, c := range []*proc.Cluster{ctls, brokers} {
		if err := c.StartAll(); err != nil {
			return fail(err)
		}
	}
	for _, c := range []struct {
		what, short string
		c           *proc.Cluster
	}{{"controller", "c", ctls}, {"broker", "b", brokers}} {
		for _, n := range c.c.Nodes {
			fmt.Printf("  %-10s %d (%s%d)  peer %-21s API http://%-21s pid %-7d data %s  log %s\n",
				c.what, n.ID, c.short, n.ID, n.PeerAddr, n.HTTPAddr, n.Pid(), n.Dir, n.LogPath)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var st ctlbroker.Status
	master := 0
	err = proc.WaitFor(wctx, "a master", func() bool {
		for _, n := range brokers.Nodes {
			if s, err := getBrokerStatus(wctx, n.HTTPAddr); err == nil && s.Role == "master" {
				master, st = n.ID, s
				return true
			}
		}
		return false
	})
	if err != nil {
		if ctx.Err() != nil {
			return fail(nil)
		}
		return fail(fmt.Errorf("no master was elected (see the logs in %s): %w", o.dir, err))
	}
	logf := func(format string, a ...any) {
		fmt.Printf("%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
	c.live = cluster.NewCtl(cluster.CtlConfig{Controllers: ctls, Brokers: brokers, Group: "broker-a", AdminToken: f.AdminToken, Logf: logf,
		Settings: ctlsim.SettingsView{TickMs: int(ctlbroker.DefaultTick / time.Millisecond), MinInSyncReplicas: o.minISR,
			AllAckInSyncStateSet: o.allAck, EnableElectUncleanMaster: o.unclean,
			BrokerHeartbeatMs: int(ctlbroker.DefaultHeartbeat / time.Millisecond), BrokerTimeoutMs: int(o.brokerTimeout / time.Millisecond),
			HAMaxMsSlaveNotCatchup: int(ctlbroker.DefaultHAMaxNotCatchup / time.Millisecond)}})
	c.master, c.status, c.logf = master, st, logf
	ok = true
	return c, ln, nil
}

func runControllerCluster(ctx context.Context, o controllerClusterOptions) error {
	// The view's port before any process starts: a busy one fails first.
	check := func() (net.Listener, error) {
		ln, err := net.Listen("tcp", o.addr)
		if err != nil {
			return nil, fmt.Errorf("--addr %s cannot be used (%v): stop the program that holds it or choose another --addr", o.addr, errors.Unwrap(err))
		}
		return ln, nil
	}
	c, ln, err := startControllerCluster(ctx, o, check)
	if c == nil || err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return err
	}
	defer ln.Close()
	defer c.stop()
	live, brokers, f, master, st := c.live, c.brokers, c.folder, c.master, c.status
	logf := c.logf
	srv := &http.Server{Handler: live.Handler(web.Handler()), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	fmt.Printf("Master: broker %d (master epoch %d, SyncStateSet %v)\n", master, st.MasterEpoch, st.SyncStateSet)
	fmt.Printf("Produce: curl -d '{\"body\":\"hello\"}' http://%s/v1/messages\n", brokers.Node(master).HTTPAddr)
	fmt.Printf("Secret:      %s\nAdmin token: %s   (both kept in %s)\n", f.Secret, f.AdminToken, filepath.Join(o.dir, cluster.ConfigFile))
	fmt.Printf("Cut the master off: DLEDGERLAB_ADMIN_TOKEN=%s dledgerlab partition --addr %s --peers %s\n",
		f.AdminToken, brokers.Node(master).HTTPAddr, isolateIDs(master))
	fmt.Printf("Heal it:            DLEDGERLAB_ADMIN_TOKEN=%s dledgerlab heal --addr %s\n", f.AdminToken, brokers.Node(master).HTTPAddr)
	base := viewURL(ln.Addr().String())
	fmt.Printf("Live view (watch only):  %s\n", base)
	fmt.Printf("Live view (instructor):  %s#admin=%s\n", base, f.AdminToken)
	printLANViews(ln.Addr().String())
	fmt.Println("Ctrl-C stops every process.")
	select {
	case <-ctx.Done():
	case err := <-served:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("live view stopped: %v", err)
		}
	}
	fmt.Println("Stopping the brokers and controllers …")
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	c.stop()
	fmt.Printf("Stopped. The data stays in %s; run the same command again to continue.\n", o.dir)
	return nil
}

// isolateIDs names every other member of the launcher's Controller-mode
// cluster, as partition's --peers reads them, for broker id: the other
// brokers (b<id>) and every controller (c<id>).
func isolateIDs(id int) string {
	var ids []string
	for b := 1; b <= ctlClusterBrokers; b++ {
		if b != id {
			ids = append(ids, fmt.Sprintf("b%d", b))
		}
	}
	for c := 1; c <= ctlClusterControllers; c++ {
		ids = append(ids, fmt.Sprintf("c%d", c))
	}
	return strings.Join(ids, ",")
}

func getBrokerStatus(ctx context.Context, addr string) (ctlbroker.Status, error) {
	var st ctlbroker.Status
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
