package main

import (
	"context"
	"encoding/json"
	"flag"
	"os"
	"time"

	"dledgerlab/native/client"
)

// clientFlags are the flags every tool command shares.
type clientFlags struct {
	addrs   *string
	timeout *time.Duration
	token   *string
}

func addClientFlags(fs *flag.FlagSet, admin bool) *clientFlags {
	cf := &clientFlags{
		addrs:   fs.String("addr", "127.0.0.1:8001", "HTTP address of a broker, or several: host:port,host:port (NOT_LEADER answers are followed)"),
		timeout: fs.Duration("timeout", 10*time.Second, "give up after this long"),
	}
	if admin {
		cf.token = fs.String("admin-token", "", "the brokers' admin token (default $DLEDGERLAB_ADMIN_TOKEN)")
	}
	return cf
}

func (cf *clientFlags) client() (*client.Client, context.Context, context.CancelFunc, error) {
	addrs, err := splitAddrs("--addr", *cf.addrs)
	if err != nil {
		return nil, nil, nil, err
	}
	if *cf.timeout <= 0 {
		return nil, nil, nil, usagef("--timeout %v must be positive", *cf.timeout)
	}
	c := client.New(addrs)
	if cf.token != nil {
		c.AdminToken = envOr(*cf.token, "DLEDGERLAB_ADMIN_TOKEN")
		if c.AdminToken == "" {
			return nil, nil, nil, usagef("--admin-token is required (or set DLEDGERLAB_ADMIN_TOKEN)")
		}
	}
	ctx, cancel := context.WithTimeout(context.Background(), *cf.timeout)
	return c, ctx, cancel, nil
}

func printJSON(v any) {
	enc := json.NewEncoder(os.Stdout)
	enc.SetIndent("", "  ")
	enc.Encode(v)
}
