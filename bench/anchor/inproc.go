package main

import (
	"context"
	"errors"
	"fmt"
	"io"
	"path/filepath"
	"sync/atomic"
	"time"

	"github.com/hashicorp/raft"
)

// runInproc starts o.nodes raft nodes in this process, each with its own
// bolt file under o.dir and its own TCP transport on 127.0.0.1, and drives
// the producers through Apply on the leader. It measures the library alone:
// no HTTP, no process boundary between the producers and the leader.
func runInproc(ctx context.Context, o options, out io.Writer) (result, error) {
	res := result{System: "hashicorp/raft inproc", Brokers: o.nodes}
	addrs, err := freeAddrs(o.nodes)
	if err != nil {
		return res, err
	}
	peers := make([]peer, o.nodes)
	for i := range peers {
		peers[i] = peer{ID: fmt.Sprintf("node%d", i+1), Addr: addrs[i]}
	}
	var nodes []*node
	defer func() {
		// Every node stops raft before any transport closes, so that none
		// is still talking to a closed peer.
		for _, n := range nodes {
			n.silence()
		}
		for _, n := range nodes {
			n.raft.Shutdown().Error()
		}
		for _, n := range nodes {
			n.close()
		}
	}()
	for _, p := range peers {
		n, err := startNode(p, peers, filepath.Join(o.dir, p.ID))
		if err != nil {
			return res, err
		}
		nodes = append(nodes, n)
	}
	lead, err := waitLeader(ctx, nodes, 20*time.Second)
	if err != nil {
		return res, err
	}
	fmt.Fprintf(out, "cluster: %d hashicorp/raft nodes in this process, leader %s, data in %s\n", o.nodes, lead.id, o.dir)

	// The producers share the current leader; one that finds it deposed
	// looks for the new one and retries, as dledgerlab's client follows
	// NOT_LEADER, within the same sendTimeout.
	var leader atomic.Pointer[node]
	leader.Store(lead)
	sends := make([]sendFunc, o.producers)
	for i := range sends {
		sends[i] = func(msg []byte) error {
			deadline := time.Now().Add(sendTimeout)
			for {
				n := leader.Load()
				err := n.raft.Apply(msg, time.Until(deadline)).Error()
				if err == nil || !isLeadershipError(err) || time.Now().After(deadline) {
					return err
				}
				if l, lerr := waitLeader(ctx, nodes, time.Until(deadline)); lerr == nil {
					leader.CompareAndSwap(n, l)
				}
			}
		}
	}
	err = measure(ctx, &res, sends, o.size, o.duration, out)
	return res, err
}

// waitLeader returns the node that is leader, waiting up to d for one.
func waitLeader(ctx context.Context, nodes []*node, d time.Duration) (*node, error) {
	deadline := time.Now().Add(d)
	for {
		for _, n := range nodes {
			if n.raft.State() == raft.Leader {
				return n, nil
			}
		}
		if ctx.Err() != nil {
			return nil, context.Cause(ctx)
		}
		if time.Now().After(deadline) {
			return nil, errors.Join(errNoLeader, fmt.Errorf("none of %d nodes became leader within %v", len(nodes), d))
		}
		time.Sleep(10 * time.Millisecond)
	}
}
