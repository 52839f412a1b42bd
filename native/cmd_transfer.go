package main

import (
	"errors"
	"fmt"

	"dledgerlab/native/client"
	"dledgerlab/native/server"
)

func init() {
	register(command{name: "transfer", summary: "hand leadership to another broker (admin)", run: runTransfer})
}

func runTransfer(args []string) error {
	fs := newFlags("transfer", "--addr host:port [--to ID] --admin-token T", `
Asks the leader to hand leadership to broker --to (default: the most
up-to-date follower). A follower's NOT_LEADER answer is followed to the leader.`)
	cf := addClientFlags(fs, true)
	to := fs.Uint64("to", 0, "id of the broker that should lead (0: the most up-to-date follower)")
	if err := parse(fs, args); err != nil {
		return err
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	addr := c.Addrs[0]
	for range 3 {
		r, err := c.Admin(ctx, addr, "transfer", server.AdminRequest{To: *to})
		var ae *client.APIError
		if errors.As(err, &ae) && ae.Code == server.CodeNotLeader && ae.LeaderAddr != "" {
			addr = ae.LeaderAddr
			continue
		}
		if err != nil {
			return err
		}
		fmt.Printf("%s: leadership transfer to broker %v started\n", addr, r["to"])
		return nil
	}
	return fmt.Errorf("could not reach the leader (last tried %s)", addr)
}
