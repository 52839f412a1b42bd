package main

import (
	"fmt"
	"strconv"
	"strings"

	"dledgerlab/native/server"
)

func init() {
	register(command{name: "partition", summary: "cut a broker or controller off from some members (admin)", run: runPartition})
}

func runPartition(args []string) error {
	fs := newFlags("partition", "--addr host:port --peers 2,3 --admin-token T", `
Tells the broker (or controller) at --addr to drop every message to and
from the listed members: a network partition made by software, healed by
'dledgerlab heal'. Cutting the leader off from everyone shows CheckQuorum:
it stops acknowledging, the others elect a new leader (brain split, 脑裂).

In Controller mode (dledgerlab cluster --mode controller) a member talks to
brokers and controllers, which have ids of their own: name them b<id> and
c<id>. A bare id is a member of the same kind as the one at --addr. To cut
the master broker 1 off from everything:

  dledgerlab partition --addr <broker 1's HTTP address> --peers b2,b3,c1,c2,c3

A broker cut off from a controller sends it no heartbeat or
alterSyncStateSet; a controller cut off from a broker refuses its requests.`)
	cf := addClientFlags(fs, true)
	peers := fs.String("peers", "", "ids of the members to cut off, comma-separated: 2 (same kind), b2 (broker 2), c1 (controller 1)")
	if err := parse(fs, args); err != nil {
		return err
	}
	req, err := parseCut(*peers)
	if err != nil {
		return err
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	r, err := c.Admin(ctx, c.Addrs[0], "partition", req)
	if err != nil {
		return err
	}
	fmt.Printf("%s: cut off from %v", c.Addrs[0], r["partitioned"])
	for _, k := range []string{"brokers_cut", "controllers_cut"} {
		if v, ok := r[k]; ok {
			fmt.Printf(", %s %v", strings.TrimSuffix(k, "_cut"), v)
		}
	}
	fmt.Println()
	return nil
}

// parseCut reads partition's --peers: bare ids (the same kind as the member
// asked), b<id> (brokers) and c<id> (controllers).
func parseCut(s string) (server.AdminRequest, error) {
	var req server.AdminRequest
	for _, p := range strings.Split(s, ",") {
		if p = strings.TrimSpace(p); p == "" {
			continue
		}
		list, num := &req.Peers, p
		switch {
		case strings.HasPrefix(p, "b"):
			list, num = &req.Brokers, p[1:]
		case strings.HasPrefix(p, "c"):
			list, num = &req.Controllers, p[1:]
		}
		id, err := strconv.ParseUint(num, 10, 64)
		if err != nil || id == 0 {
			return req, usagef("--peers: %q is not an id: want 2 (same kind), b2 (broker 2) or c2 (controller 2)", p)
		}
		*list = append(*list, id)
	}
	if len(req.Peers)+len(req.Brokers)+len(req.Controllers) == 0 {
		return req, usagef("--peers is required, e.g. --peers 2,3 (or b2,b3,c1,c2,c3 in Controller mode)")
	}
	return req, nil
}
