package main

import (
	"fmt"
	"strconv"
	"strings"

	"dledgerlab/native/server"
)

func init() {
	register(command{name: "partition", summary: "cut a broker off from some peers (admin)", run: runPartition})
}

func runPartition(args []string) error {
	fs := newFlags("partition", "--addr host:port --peers 2,3 --admin-token T", `
Tells the broker at --addr to drop every message to and from the listed
peers: a network partition made by software, healed by 'dledgerlab heal'.
Cutting the leader off from everyone shows CheckQuorum: it stops
acknowledging, the others elect a new leader (brain split, 脑裂).`)
	cf := addClientFlags(fs, true)
	peers := fs.String("peers", "", "ids of the peers to cut off, comma-separated")
	if err := parse(fs, args); err != nil {
		return err
	}
	var ids []uint64
	for _, p := range strings.Split(*peers, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		id, err := strconv.ParseUint(p, 10, 64)
		if err != nil || id == 0 {
			return usagef("--peers: %q is not a broker id", p)
		}
		ids = append(ids, id)
	}
	if len(ids) == 0 {
		return usagef("--peers is required, e.g. --peers 2,3")
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	r, err := c.Admin(ctx, c.Addrs[0], "partition", server.AdminRequest{Peers: ids})
	if err != nil {
		return err
	}
	fmt.Printf("%s: cut off from %v\n", c.Addrs[0], r["partitioned"])
	return nil
}
