package main

import (
	"fmt"
	"strings"
	"time"

	"dledgerlab/native/ctlbroker"
	"dledgerlab/native/ctlserver"
)

func init() {
	register(command{name: "broker", summary: "run one broker of a Controller-mode broker group (--mode controller)", run: runBroker})
}

func runBroker(args []string) error {
	fs := newFlags("broker", "--mode controller --id I --peers 1=host:port,2=…,3=… --controllers 1=host:port,… [flags]", `
Runs one broker of a broker group in RocketMQ's Controller mode
(docs/CONTROLLER.md): its CommitLog, epoch file and group state in --dir,
the master's HA push and the slaves' acks over the peer links (every broker
gets the same --peers and secret, $DLEDGERLAB_SECRET or --secret), and
heartbeats and alterSyncStateSet to the controllers' HTTP API (--controllers,
started with dledgerlab controller). On its HTTP port (default: peer port +
1000):

  POST /v1/messages   {"body":"hello"}   answered once acknowledged
  GET  /v1/messages?offset=0&max=32      messages below the confirm offset
  GET  /v1/status
  POST /v1/admin/partition   {"brokers":[2,3],"controllers":[1,2,3]}   (admin token)
  POST /v1/admin/heal

A broker of DLedger mode is dledgerlab node. SIGINT or SIGTERM stops it
cleanly.`)
	mode := fs.String("mode", "controller", "the broker group's replication: controller (the only mode of this command; DLedger mode is dledgerlab node)")
	mf := addPeerFlags(fs, "broker")
	group := fs.String("group", "broker-a", "the broker group's name (RocketMQ's brokerName)")
	ctls := fs.String("controllers", "", "every controller's HTTP address: 1=host:port,2=host:port,… (an http:// prefix is allowed)")
	heartbeat := fs.Duration("controller-heartbeat", ctlbroker.DefaultHeartbeat, "how often to heartbeat the controller leader (brokerHeartbeatInterval); keep it well below the controllers' --broker-timeout")
	notCatchup := fs.Duration("ha-max-not-catchup", ctlbroker.DefaultHAMaxNotCatchup, "haMaxTimeSlaveNotCatchup: a SyncStateSet member not caught up for this long leaves the set")
	allAck := fs.Bool("all-ack", true, "allAckInSyncStateSet: acknowledge a write once every SyncStateSet member holds it (false: once the master holds it)")
	minISR := fs.Int("min-in-sync-replicas", 1, "minInSyncReplicas: with fewer SyncStateSet members the master refuses writes (IN_SYNC_REPLICAS_NOT_ENOUGH)")
	produceTimeout := fs.Duration("produce-timeout", ctlbroker.DefaultProduceTimeout, "how long a produce waits for its acknowledgement before answering TIMEOUT")
	fsyncDelay := fs.Duration("fsync-delay", 0, "an extra sleep after each CommitLog fsync: a slow disk, to watch produces that arrive meanwhile share the next fsync (group commit)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	gm, err := mf.parse(fs, args)
	if err != nil {
		return err
	}
	if *mode != "controller" {
		return usagef("--mode %q: this command runs Controller mode only (--mode controller); a DLedger-mode broker is dledgerlab node", *mode)
	}
	if strings.TrimSpace(*ctls) == "" {
		return usagef("--controllers is required, e.g. --controllers 1=127.0.0.1:9001,2=127.0.0.1:9002,3=127.0.0.1:9003")
	}
	var parts []string
	for _, p := range strings.Split(*ctls, ",") {
		id, addr, _ := strings.Cut(strings.TrimSpace(p), "=")
		parts = append(parts, id+"="+strings.TrimSuffix(strings.TrimPrefix(addr, "http://"), "/"))
	}
	addrs, err := parsePeers("--controllers", strings.Join(parts, ","))
	if err != nil {
		return err
	}
	controllers := map[int]string{}
	for id, a := range addrs {
		controllers[int(id)] = a
	}
	if *minISR < 1 || *minISR > len(gm.Peers) {
		return usagef("--min-in-sync-replicas %d: want 1 to %d (the brokers in --peers)", *minISR, len(gm.Peers))
	}
	for _, d := range []struct {
		flag string
		v    time.Duration
	}{{"--controller-heartbeat", *heartbeat}, {"--ha-max-not-catchup", *notCatchup}, {"--produce-timeout", *produceTimeout}} {
		if d.v < 10*time.Millisecond || d.v > time.Hour {
			return usagef("%s %v: want 10ms to 1h", d.flag, d.v)
		}
	}
	if *fsyncDelay < 0 || *fsyncDelay > 10*time.Second {
		return usagef("--fsync-delay %v: want 0 to 10s", *fsyncDelay)
	}
	if err := ctlserver.CheckGroup(*group); err != nil {
		return usagef("--group: %v", err)
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	srv, err := ctlbroker.New(ctlbroker.Config{GroupMember: gm, Group: *group, Controllers: controllers, Heartbeat: *heartbeat,
		HAMaxNotCatchup: *notCatchup, AllAck: *allAck, MinInSyncReplicas: *minISR, ProduceTimeout: *produceTimeout,
		FsyncDelay: *fsyncDelay, AdminToken: mf.adminToken(), Logger: log})
	if err != nil {
		return fmt.Errorf("broker %d refuses to start: %w", gm.ID, err)
	}
	ctx, stop := signalContext(log)
	defer stop()
	return srv.Run(ctx)
}
