package main

import (
	"fmt"

	"dledgerlab/native/server"
)

func init() {
	register(command{name: "heal", summary: "restore every link of brokers or controllers cut by partition (admin)", run: runHeal})
}

func runHeal(args []string) error {
	fs := newFlags("heal", "--addr host:port[,host:port…] --admin-token T", `
Restores every link of each broker (or, in Controller mode, controller) in
--addr: to its peers and, in Controller mode, to the other kind.`)
	cf := addClientFlags(fs, true)
	if err := parse(fs, args); err != nil {
		return err
	}
	c, ctx, cancel, err := cf.client()
	if err != nil {
		return err
	}
	defer cancel()
	for _, addr := range c.Addrs {
		if _, err := c.Admin(ctx, addr, "heal", server.AdminRequest{}); err != nil {
			return err
		}
		fmt.Printf("%s: healed\n", addr)
	}
	return nil
}
