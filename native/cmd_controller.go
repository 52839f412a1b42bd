package main

import (
	"fmt"
	"time"

	"dledgerlab/native/ctlserver"
)

func init() {
	register(command{name: "controller", summary: "run one controller of Controller mode (a member of the controllers' Raft group)", run: runController})
}

func runController(args []string) error {
	fs := newFlags("controller", "--id I --peers 1=host:port,2=…,3=… --secret S [flags]", `
Runs one controller of RocketMQ's Controller mode (docs/CONTROLLER.md): a
member of the controllers' Raft group, whose log holds the broker groups'
state (master, master epoch, SyncStateSet, set epoch), kept in --dir. Peer
links on its peer port; on its HTTP port brokers register, heartbeat and
ask alterSyncStateSet, and anyone can read a group's state:

  POST /v1/brokers/register   {"group":"broker-a","broker":1}
  POST /v1/brokers/heartbeat  {"group":"broker-a","broker":1,"epoch":1,"max_offset":42}
  POST /v1/alterSyncStateSet  {"group":"broker-a","broker":1,"master_epoch":1,"sync_state_set_epoch":1,"sync_state_set":[1,2]}
  GET  /v1/groups/broker-a    GET /v1/status
  POST /v1/admin/partition    {"controllers":[2,3],"brokers":[1]}   (admin token)
  POST /v1/admin/heal

Only the leader answers brokers; the others answer 421 NOT_LEADER with the
leader's address. Every controller gets the same --peers and secret
($DLEDGERLAB_SECRET, or --secret). Unless --http-peers says otherwise, a
controller's HTTP port is its peer port + 1000. SIGINT or SIGTERM stops it
cleanly.`)
	mf := addMemberFlags(fs, "controller")
	brokerTimeout := fs.Duration("broker-timeout", ctlserver.DefaultBrokerTimeout, "a broker not heard from for this long is not alive; a master not alive is replaced")
	unclean := fs.Bool("unclean", false, "enableElectUncleanMaster: when no SyncStateSet member is alive, elect any live replica (acknowledged messages can be lost)")
	logLevel := fs.String("log-level", "info", "debug, info, warn or error")
	gm, err := mf.parse(fs, args)
	if err != nil {
		return err
	}
	if *brokerTimeout < 100*time.Millisecond || *brokerTimeout > time.Hour {
		return usagef("--broker-timeout %v: want 100ms to 1h", *brokerTimeout)
	}
	log, err := newLogger(*logLevel)
	if err != nil {
		return err
	}
	srv, err := ctlserver.New(ctlserver.Config{
		GroupMember: gm, Logger: log, BrokerTimeout: *brokerTimeout, Unclean: *unclean, AdminToken: mf.adminToken(),
	})
	if err != nil {
		return fmt.Errorf("controller %d refuses to start: %w", gm.ID, err)
	}
	ctx, stop := signalContext(log)
	defer stop()
	return srv.Run(ctx)
}
