package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/signal"
	"path/filepath"
	"strconv"
	"syscall"
	"time"

	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
	"dledgerlab/core/sim"
	"dledgerlab/lessons"
	"dledgerlab/lessons/guide"
	"dledgerlab/native/cluster"
	"dledgerlab/native/ctlserver"
	"dledgerlab/native/server"
	"dledgerlab/web"
)

func init() {
	register(command{name: "cluster", summary: "start N real brokers on this machine with a live view (Ctrl-C stops them)", run: runCluster})
	nativeLessonDriver = startLessonCluster
}

func runCluster(args []string) error {
	fs := newFlags("cluster", "[--nodes 3] [--dir D] [--base-port P] [--secret S] [--admin-token T] [--addr 127.0.0.1:8080]", `
Starts N broker processes of this program on this machine, each with its
own data folder and log in --dir, waits for a leader, and serves the live
view: the playground page watching (and, with the admin token, driving)
the real brokers. Ctrl-C stops every broker cleanly; the next run with the
same --dir reuses their CommitLogs. The secret and admin token are
generated on the first run and kept in <dir>/cluster.json.

Broker i listens on peer port P+i-1 and HTTP port P+i-1+1000.

With --mode controller it starts RocketMQ's Controller mode instead: a
broker group of 3 brokers (b1..b3, peer ports P..P+2) and 3 controllers
(c1..c3, peer ports P+3..P+5), HTTP ports 1000 above, the same folder
rules, and the live view in Controller mode on --addr: the page draws the
controllers, the group state they agreed on and each broker's CommitLog
and epoch file, and (with the admin token) crashes, restarts, pauses,
isolates and partitions them and produces and consumes. partition and heal
on the command line name them b<id> and c<id>.`)
	nodes := fs.Int("nodes", 3, "number of brokers (1..9)")
	dir := fs.String("dir", "dledgerlab-cluster", "cluster folder: broker-<id>/ data folders, broker-<id>.log, cluster.json")
	basePort := fs.Int("base-port", 0, "broker 1's peer port (default: the folder's last, else 7001)")
	secret := fs.String("secret", "", "cluster secret (default: $DLEDGERLAB_SECRET, the folder's, else generated)")
	adminToken := fs.String("admin-token", "", "admin token for the brokers and the live view's actions (default: $DLEDGERLAB_ADMIN_TOKEN, the folder's, else generated)")
	addr := fs.String("addr", "127.0.0.1:8080", "live view listen address (0.0.0.0:8080 for a classroom)")
	segmentSize := fs.Int64("segment-size", 0, "every broker's CommitLog segment size in bytes (default 64 MiB; small, e.g. 65536, to watch retention)")
	retainSegments := fs.Int("retain-segments", 0, "every broker's retention: snapshot and delete the segment files before it past this many (0: keep everything)")
	retainBytes := fs.Int64("retain-bytes", 0, "every broker's retention by size: snapshot and delete the segment files before it past this many bytes (0: keep everything)")
	offsets := fs.String("offsets", "local", "how the brokers keep consumer groups' offsets: local (RocketMQ's DLedger mode) or replicated (see dledgerlab node -h)")
	offsetSync := fs.Duration("offset-sync", server.DefaultOffsetSync, "with --offsets local, how often a follower copies the leader's offsets (RocketMQ's SlaveSynchronize)")
	mode := fs.String("mode", "dledger", "dledger (brokers replicate with Raft) or controller (3 controllers and a broker group of 3 in RocketMQ's Controller mode, docs/CONTROLLER.md, with its live view)")
	brokerTimeout := fs.Duration("broker-timeout", ctlserver.DefaultBrokerTimeout, "--mode controller: the controllers' --broker-timeout (a master not heard from this long is replaced)")
	unclean := fs.Bool("unclean", false, "--mode controller: the controllers' enableElectUncleanMaster")
	allAck := fs.Bool("all-ack", true, "--mode controller: the brokers' allAckInSyncStateSet")
	minISR := fs.Int("min-in-sync-replicas", 1, "--mode controller: the brokers' minInSyncReplicas")
	commitEvery := fs.Duration("commit-every", cluster.DefaultOffsetCommit, "how often a consumer the page starts with a group commits the group's offset (RocketMQ's persistConsumerOffsetInterval)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch *mode {
	case "dledger":
	case "controller":
		if fs.NArg() > 0 {
			return usagef("unexpected argument %q", fs.Arg(0))
		}
		ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
		defer stop()
		if *nodes != ctlClusterBrokers {
			return usagef("--nodes %d: --mode controller starts a broker group of %d brokers and %d controllers", *nodes, ctlClusterBrokers, ctlClusterControllers)
		}
		return runControllerCluster(ctx, controllerClusterOptions{dir: *dir, basePort: *basePort, addr: *addr,
			secret: envOr(*secret, "DLEDGERLAB_SECRET"), adminToken: envOr(*adminToken, "DLEDGERLAB_ADMIN_TOKEN"),
			brokerTimeout: *brokerTimeout, unclean: *unclean, allAck: *allAck, minISR: *minISR})
	default:
		return usagef("--mode %q: want dledger or controller", *mode)
	}
	if *commitEvery <= 0 {
		return usagef("--commit-every %v must be positive", *commitEvery)
	}
	if *offsetSync < 100*time.Millisecond || *offsetSync > time.Hour {
		return usagef("--offset-sync %v: want 100ms to 1h", *offsetSync)
	}
	if *segmentSize < 0 || (*segmentSize > 0 && *segmentSize < commitlog.MinSegmentSize) {
		return usagef("--segment-size %d: want 0 (64 MiB) or at least %d bytes", *segmentSize, commitlog.MinSegmentSize)
	}
	if err := checkRetention(*retainSegments, *retainBytes, *segmentSize); err != nil {
		return err
	}
	var extra []string
	if *segmentSize > 0 {
		extra = append(extra, "--segment-size", strconv.FormatInt(*segmentSize, 10))
	}
	extra = append(extra, retentionFlags(*retainSegments, *retainBytes)...)
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	if *nodes < 1 || *nodes > 9 {
		return usagef("--nodes %d: a cluster has 1 to 9 brokers", *nodes)
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()

	// The view's port first: a busy port fails before any broker starts.
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr %s cannot be used (%v): stop the program that holds it or choose another --addr", *addr, errors.Unwrap(err))
	}
	defer ln.Close()

	logf := func(format string, a ...any) {
		fmt.Printf("%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
	}
	fmt.Printf("Starting %d brokers in %s …\n", *nodes, *dir)
	if _, err := broker.ParseOffsetMode(*offsets); err != nil {
		return usagef("--offsets: %v", err)
	}
	x, err := cluster.Launch(ctx, cluster.Options{
		Nodes: *nodes, Dir: *dir, BasePort: *basePort,
		Secret: envOr(*secret, "DLEDGERLAB_SECRET"), AdminToken: envOr(*adminToken, "DLEDGERLAB_ADMIN_TOKEN"),
		Logf: logf, Extra: append(extra, "--offsets", *offsets, "--offset-sync", offsetSync.String()), OffsetCommit: *commitEvery,
	})
	if err != nil {
		return err
	}
	defer x.Stop()

	srv := &http.Server{Handler: x.Live.Handler(web.Handler()), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()

	o := x.Opts
	for _, n := range x.Procs.Nodes {
		fmt.Printf("  broker %d  peer %-21s API http://%-21s pid %-7d data %s  log %s\n",
			n.ID, n.PeerAddr, n.HTTPAddr, n.Pid(), n.Dir, n.LogPath)
	}
	fmt.Printf("Leader: broker %d\n", x.Leader)
	fmt.Printf("Secret:      %s\nAdmin token: %s   (both kept in %s)\n", o.Secret, o.AdminToken, filepath.Join(o.Dir, cluster.ConfigFile))
	base := viewURL(ln.Addr().String())
	fmt.Printf("Live view (watch only):  %s\n", base)
	fmt.Printf("Live view (instructor):  %s#admin=%s\n", base, o.AdminToken)
	printLANViews(ln.Addr().String())
	fmt.Println("Ctrl-C stops every broker.")

	select {
	case <-ctx.Done():
	case err := <-served:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			logf("live view stopped: %v", err)
		}
	}
	fmt.Println("Stopping the brokers …")
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	x.Stop()
	fmt.Printf("Stopped. The data stays in %s; run the same command again to continue.\n", o.Dir)
	return nil
}

// viewURL is the page's address on a listener's address (a wildcard host
// is shown as 127.0.0.1).
func viewURL(addr string) string {
	host, port, err := net.SplitHostPort(addr)
	if err != nil {
		return "http://" + addr + "/?live"
	}
	if ip := net.ParseIP(host); host == "" || ip != nil && ip.IsUnspecified() {
		host = "127.0.0.1"
	}
	return "http://" + net.JoinHostPort(host, port) + "/?live"
}

// printLANViews prints the view's address on each network interface when
// it listens on all of them (the students' address).
func printLANViews(addr string) {
	host, port, err := net.SplitHostPort(addr)
	if ip := net.ParseIP(host); err != nil || ip == nil || !ip.IsUnspecified() {
		return
	}
	ifaddrs, _ := net.InterfaceAddrs()
	for _, a := range ifaddrs {
		if ipn, ok := a.(*net.IPNet); ok && ipn.IP.To4() != nil && !ipn.IP.IsLoopback() {
			fmt.Printf("Students on the network: http://%s/?live\n", net.JoinHostPort(ipn.IP.String(), port))
		}
	}
}

// lessonTimingFlags are the broker flags for a lesson's timings: heartbeat
// and election timeouts (in the lesson's ticks) and the fsync time, which a
// real broker adds to its own fsync (--fsync-delay). Settings only the
// simulator has (its network's latency, loss, duplication, client latency,
// seed) are left out: a real cluster has its own.
func lessonTimingFlags(c sim.Config) []string {
	tick := time.Duration(max(c.TickMs, 0)) * time.Millisecond
	if tick == 0 {
		tick = server.DefaultTick
	}
	var out []string
	dur := func(flag string, ticks int) {
		if ticks > 0 {
			d := time.Duration(ticks) * tick
			d = (d + server.DefaultTick - 1) / server.DefaultTick * server.DefaultTick // a real broker ticks every 10 ms
			out = append(out, flag, d.String())
		}
	}
	dur("--heartbeat", c.HeartbeatTicks)
	minT, maxT := c.ElectionTicksMin, c.ElectionTicksMax
	if minT > 0 && maxT == 0 {
		maxT = max(minT, 30)
	}
	if maxT > 0 && minT == 0 {
		minT = min(maxT, 15)
	}
	dur("--election-min", minT)
	dur("--election-max", maxT)
	if c.FsyncMs > 0 {
		out = append(out, "--fsync-delay", (time.Duration(c.FsyncMs) * time.Millisecond).String())
	}
	if c.Offsets != "" {
		out = append(out, "--offsets", c.Offsets)
	}
	if c.OffsetSyncMs > 0 {
		out = append(out, "--offset-sync", (time.Duration(c.OffsetSyncMs) * time.Millisecond).String())
	}
	return out
}

// startLessonCluster is the native lesson runner's cluster: the lesson's
// number of brokers in a temporary folder on free ports, stopped and
// removed by the returned function.
func startLessonCluster(l *lessons.Lesson) (guide.Driver, func(), error) {
	dir, err := os.MkdirTemp("", "dledgerlab-lesson-")
	if err != nil {
		return nil, nil, err
	}
	base, err := cluster.FreeBasePort("127.0.0.1", l.Cluster.Nodes)
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, fmt.Errorf("no free ports for the lesson's brokers: %w", err)
	}
	var extra []string
	if l.Cluster.ProduceTimeoutMs > 0 {
		extra = append(extra, "--produce-timeout", (time.Duration(l.Cluster.ProduceTimeoutMs) * time.Millisecond).String())
	}
	if l.Cluster.SegmentSize > 0 {
		extra = append(extra, "--segment-size", strconv.FormatInt(max(l.Cluster.SegmentSize, commitlog.MinSegmentSize), 10))
	}
	if l.Cluster.SnapshotEvery > 0 {
		// The simulator snapshots every SnapshotEvery applied entries; a
		// real broker snapshots when its retention is passed: with one
		// segment kept, its last checkpoint becomes a snapshot once its
		// log holds a second segment.
		extra = append(extra, retentionFlags(1, 0)...)
	}
	extra = append(extra, lessonTimingFlags(l.Cluster)...)
	fmt.Printf("Starting %d real brokers in %s (ports %d…) %v …\n", l.Cluster.Nodes, dir, base, extra)
	x, err := cluster.Launch(context.Background(), cluster.Options{
		Nodes: l.Cluster.Nodes, Dir: dir, BasePort: base, Extra: extra,
		OffsetCommit: time.Duration(l.Cluster.OffsetCommitMs) * time.Millisecond,
		Logf:         func(format string, a ...any) { fmt.Printf("  [cluster] %s\n", fmt.Sprintf(format, a...)) },
	})
	if err != nil {
		os.RemoveAll(dir)
		return nil, nil, err
	}
	return cluster.Driver{L: x.Live}, func() {
		x.Stop()
		os.RemoveAll(dir)
	}, nil
}

// retentionFlags are the broker flags for a retention (0: none).
func retentionFlags(segments int, bytes int64) []string {
	var out []string
	if segments > 0 {
		out = append(out, "--retain-segments", strconv.Itoa(segments))
	}
	if bytes > 0 {
		out = append(out, "--retain-bytes", strconv.FormatInt(bytes, 10))
	}
	return out
}
