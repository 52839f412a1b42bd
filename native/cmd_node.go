package main

import (
	"context"
	"fmt"
	"log/slog"
	"net/http"
	_ "net/http/pprof" // only served with --pprof
	"os"
	"os/signal"
	"syscall"
	"time"

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
	mf := addMemberFlags(fs, "broker")
	produceTimeout := fs.Duration("produce-timeout", server.DefaultProduceTimeout, "how long a produce waits for a quorum before answering TIMEOUT")
	segmentSize := fs.Int64("segment-size", 0, "CommitLog segment size in bytes (default 64 MiB)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	pprofAddr := fs.String("pprof", "", "serve net/http/pprof on this address (profiling; off by default)")
	fsyncDelay := fs.Duration("fsync-delay", 0, "an extra sleep after each fsync: a slow disk, to watch replication on fast SSDs")
	retainSegments := fs.Int("retain-segments", 0, "retention: when the CommitLog holds more segment files than this, snapshot the broker's state and delete the files before it (0: keep everything)")
	retainBytes := fs.Int64("retain-bytes", 0, "retention: when the CommitLog's segment files hold more bytes than this, snapshot and delete the files before it (0: keep everything; at least one segment)")
	offsetsFlag := fs.String("offsets", "local", "how consumer groups' offsets are kept: local (each broker its own, followers copy the leader's every --offset-sync: RocketMQ's DLedger mode) or replicated (each commit is a log entry); every broker of a group must use the same")
	offsetSync := fs.Duration("offset-sync", server.DefaultOffsetSync, "with --offsets local, how often a follower copies the leader's offsets")
	gm, err := mf.parse(fs, args)
	if err != nil {
		return err
	}
	if *produceTimeout <= 0 {
		return usagef("--produce-timeout %v must be positive", *produceTimeout)
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
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}

	srv, err := server.New(server.Config{
		GroupMember: gm,
		AdminToken:  mf.adminToken(), ProduceTimeout: *produceTimeout,
		SegmentSize: *segmentSize, Logger: log,
		FsyncDelay:     *fsyncDelay,
		RetainSegments: *retainSegments, RetainBytes: *retainBytes,
		Offsets: offsets, OffsetSync: *offsetSync,
	})
	if err != nil {
		return fmt.Errorf("broker %d refuses to start: %w", gm.ID, err)
	}
	if *pprofAddr != "" {
		go func() { log.Error("pprof server stopped", "err", http.ListenAndServe(*pprofAddr, nil)) }()
	}
	ctx, stop := signalContext(log)
	defer stop()
	return srv.Run(ctx)
}

// newLogger returns the process's logger (text on stderr at --log-level
// level), also made slog's default.
func newLogger(level string) (*slog.Logger, error) {
	var lvl slog.Level
	if err := lvl.UnmarshalText([]byte(level)); err != nil {
		return nil, usagef("--log-level %q: want debug, info, warn or error", level)
	}
	log := slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: lvl}))
	slog.SetDefault(log)
	return log, nil
}

// signalContext is done at SIGINT or SIGTERM; the process exits anyway if
// stopping takes longer than 10 s.
func signalContext(log *slog.Logger) (context.Context, context.CancelFunc) {
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	go func() {
		<-ctx.Done()
		log.Info("signal received; stopping", "grace", "2s")
		time.AfterFunc(10*time.Second, func() { log.Error("stop took too long; exiting"); os.Exit(1) })
	}()
	return ctx, stop
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
