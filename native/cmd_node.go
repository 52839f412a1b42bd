package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // only served with --pprof
	"os"
	"os/signal"
	"path/filepath"
	"syscall"
	"time"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
	"dledgerlab/native/server"
)

func init() {
	register(command{name: "node", summary: "run one broker (a member of a Raft group)", run: runNode})
}

func runNode(args []string) error {
	fs := newFlags("node", "--id I --peers 1=host:port,2=… --secret S [flags]", `
Runs one broker: the replica, its CommitLog in --dir, peer links on its peer
port and the HTTP API on its HTTP port. Every broker of a group gets the same
--peers and --secret. Unless --http-peers says otherwise, a broker's HTTP port
is its peer port + 1000 (peer 127.0.0.1:7001 → API 127.0.0.1:8001).
SIGINT or SIGTERM stops it cleanly.`)
	id := fs.Uint64("id", 0, "this broker's id (1..N), one of --peers")
	peersFlag := fs.String("peers", "", "every broker's peer address: 1=host:port,2=host:port,…")
	httpFlag := fs.String("http", "", "HTTP listen address (default: this broker's address in --http-peers)")
	httpPeers := fs.String("http-peers", "", "every broker's HTTP address, id=host:port,… (default: peer port + 1000)")
	dir := fs.String("dir", "", "data folder (default data/broker-<id>)")
	secret := fs.String("secret", "", "cluster secret shared by every broker (default $DLEDGERLAB_SECRET; prefer the variable: every local user can read a command line with ps)")
	adminToken := fs.String("admin-token", "", "token for the admin API (default $DLEDGERLAB_ADMIN_TOKEN, preferred for the same reason; empty disables admin calls)")
	produceTimeout := fs.Duration("produce-timeout", server.DefaultProduceTimeout, "how long a produce waits for a quorum before answering TIMEOUT")
	segmentSize := fs.Int64("segment-size", 0, "CommitLog segment size in bytes (default 64 MiB)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (profiling; off by default)")
	heartbeat := fs.Duration("heartbeat", 50*time.Millisecond, "how often a leader sends heartbeats (a multiple of the 10ms tick)")
	electionMin := fs.Duration("election-min", 150*time.Millisecond, "shortest election timeout: a follower that hears no leader this long campaigns")
	electionMax := fs.Duration("election-max", 300*time.Millisecond, "longest election timeout; each timeout is drawn at random from [min, max] (equal: no randomness)")
	fsyncDelay := fs.Duration("fsync-delay", 0, "an extra sleep after each fsync: a slow disk, to watch replication on fast SSDs")
	retainSegments := fs.Int("retain-segments", 0, "retention: when the CommitLog holds more segment files than this, snapshot the broker's state and delete the files before it (0: keep everything)")
	retainBytes := fs.Int64("retain-bytes", 0, "retention: when the CommitLog's segment files hold more bytes than this, snapshot and delete the files before it (0: keep everything; at least one segment)")
	offsetsFlag := fs.String("offsets", "local", "how consumer groups' offsets are kept: local (each broker its own, followers copy the leader's every --offset-sync: RocketMQ's DLedger mode) or replicated (each commit is a log entry); every broker of a group must use the same")
	offsetSync := fs.Duration("offset-sync", server.DefaultOffsetSync, "with --offsets local, how often a follower copies the leader's offsets")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	peers, err := parsePeers("--peers", *peersFlag)
	if err != nil {
		return err
	}
	self := core.NodeID(*id)
	if _, ok := peers[self]; !ok || self == core.None {
		return usagef("--id %d is not one of --peers (%s)", *id, formatPeers(peers))
	}
	https := map[core.NodeID]string{}
	if *httpPeers != "" {
		if https, err = parsePeers("--http-peers", *httpPeers); err != nil {
			return err
		}
		for pid := range peers {
			if _, ok := https[pid]; !ok {
				return usagef("--http-peers has no address for broker %d", pid)
			}
		}
	} else {
		for pid, addr := range peers {
			if https[pid], err = httpOf(addr); err != nil {
				return usagef("--peers: broker %d: %v", pid, err)
			}
		}
	}
	if *httpFlag != "" {
		https[self] = *httpFlag
	}
	*secret = envOr(*secret, "DLEDGERLAB_SECRET")
	if *secret == "" {
		return usagef("--secret is required (or set DLEDGERLAB_SECRET): brokers prove to each other that they know it")
	}
	if *dir == "" {
		*dir = filepath.Join("data", fmt.Sprintf("broker-%d", *id))
	}
	if *produceTimeout <= 0 {
		return usagef("--produce-timeout %v must be positive", *produceTimeout)
	}
	ticks := func(flag string, d time.Duration) (int, error) {
		if d < server.DefaultTick || d%server.DefaultTick != 0 {
			return 0, usagef("%s %v: want a multiple of the %v tick (e.g. 150ms)", flag, d, server.DefaultTick)
		}
		return int(d / server.DefaultTick), nil
	}
	hbTicks, err := ticks("--heartbeat", *heartbeat)
	if err != nil {
		return err
	}
	minTicks, err := ticks("--election-min", *electionMin)
	if err != nil {
		return err
	}
	maxTicks, err := ticks("--election-max", *electionMax)
	if err != nil {
		return err
	}
	if minTicks <= hbTicks {
		return usagef("--election-min %v must be longer than --heartbeat %v (several heartbeats, or one late heartbeat starts an election)", *electionMin, *heartbeat)
	}
	if maxTicks < minTicks {
		return usagef("--election-max %v is shorter than --election-min %v", *electionMax, *electionMin)
	}
	offsets, err := broker.ParseOffsetMode(*offsetsFlag)
	if err != nil {
		return usagef("--offsets: %v", err)
	}
	if *offsetSync < 100*time.Millisecond || *offsetSync > time.Hour {
		return usagef("--offset-sync %v: want 100ms to 1h", *offsetSync)
	}
	if *fsyncDelay < 0 || *fsyncDelay > 10*time.Second {
		return usagef("--fsync-delay %v: want 0 to 10s", *fsyncDelay)
	}
	if err := checkRetention(*retainSegments, *retainBytes, *segmentSize); err != nil {
		return err
	}
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(*logLevel)); err != nil {
		return usagef("--log-level %q: want debug, info, warn or error", *logLevel)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(log)

	srv, err := server.New(server.Config{
		ID: self, Peers: peers, HTTP: https, Dir: *dir, Secret: *secret,
		AdminToken: envOr(*adminToken, "DLEDGERLAB_ADMIN_TOKEN"), ProduceTimeout: *produceTimeout,
		SegmentSize: *segmentSize, Logger: log,
		HeartbeatTicks: hbTicks, ElectionTicksMin: minTicks, ElectionTicksMax: maxTicks, FsyncDelay: *fsyncDelay,
		RetainSegments: *retainSegments, RetainBytes: *retainBytes,
		Offsets: offsets, OffsetSync: *offsetSync,
	})
	if err != nil {
		return fmt.Errorf("broker %d refuses to start: %w", self, err)
	}
	if *pprofAddr != "" {
		go func() { log.Error("pprof server stopped", "err", http.ListenAndServe(*pprofAddr, nil)) }()
	}
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	go func() {
		<-ctx.Done()
		log.Info("signal received; stopping", "grace", "2s")
		time.AfterFunc(10*time.Second, func() { log.Error("stop took too long; exiting"); os.Exit(1) })
	}()
	return srv.Run(ctx)
}

// checkRetention checks --retain-segments and --retain-bytes: 0 keeps
// everything; a byte limit below one segment could never be met, since
// the segment being written is never deleted.
func checkRetention(segments int, bytes, segmentSize int64) error {
	if segments < 0 {
		return usagef("--retain-segments %d: want 0 (keep every segment) or a number of segment files, e.g. 4", segments)
	}
	if bytes < 0 {
		return usagef("--retain-bytes %d: want 0 (keep everything) or a size in bytes, e.g. 1073741824", bytes)
	}
	if segmentSize <= 0 {
		segmentSize = commitlog.DefaultSegmentSize
	}
	if bytes > 0 && bytes < segmentSize {
		return usagef("--retain-bytes %d is less than one segment (%d bytes, --segment-size): the segment being written is never deleted; want at least %d", bytes, segmentSize, segmentSize)
	}
	return nil
}
