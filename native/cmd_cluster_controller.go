package main

import (
	"context"
	"crypto/rand"
	"encoding/hex"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"strconv"
	"time"

	"dledgerlab/native/ctlbroker"
	"dledgerlab/native/proc"
)

// controllerClusterOptions are `dledgerlab cluster --mode controller`'s
// settings.
type controllerClusterOptions struct {
	dir, secret string
	// brokerTimeout is the controllers' --broker-timeout.
	brokerTimeout time.Duration
	unclean       bool
	allAck        bool
	minISR        int
}

// runControllerCluster starts 3 controllers and a broker group of 3
// brokers in Controller mode on this machine (free ports on 127.0.0.1),
// waits for a master, and stops them all at ctx's end. There is no live
// view of Controller mode yet.
func runControllerCluster(ctx context.Context, o controllerClusterOptions) error {
	if o.minISR < 1 || o.minISR > 3 {
		return usagef("--min-in-sync-replicas %d: want 1 to 3", o.minISR)
	}
	if o.brokerTimeout < time.Second || o.brokerTimeout > time.Hour {
		return usagef("--broker-timeout %v: want 1s to 1h (the brokers heartbeat every %v)", o.brokerTimeout, ctlbroker.DefaultHeartbeat)
	}
	if o.secret == "" {
		b := make([]byte, 16)
		rand.Read(b)
		o.secret = hex.EncodeToString(b)
	}
	bin, err := os.Executable()
	if err != nil {
		return err
	}
	if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return err
	}
	ctls, err := proc.NewControllers(bin, o.dir, 3, o.secret)
	if err != nil {
		return err
	}
	ctls.Extra = []string{"--broker-timeout", o.brokerTimeout.String()}
	if o.unclean {
		ctls.Extra = append(ctls.Extra, "--unclean")
	}
	brokers, err := proc.NewControllerBrokers(bin, o.dir, 3, o.secret, ctls)
	if err != nil {
		return err
	}
	brokers.Extra = append(brokers.Extra, "--all-ack="+strconv.FormatBool(o.allAck), "--min-in-sync-replicas", strconv.Itoa(o.minISR))
	stop := func() {
		brokers.StopAll()
		ctls.StopAll()
	}
	defer stop()
	fmt.Printf("Starting 3 controllers and a broker group of 3 (Controller mode) in %s …\n", o.dir)
	for _, c := range []*proc.Cluster{ctls, brokers} {
		if err := c.StartAll(); err != nil {
			return err
		}
	}
	for _, c := range []struct {
		what string
		c    *proc.Cluster
	}{{"controller", ctls}, {"broker", brokers}} {
		for _, n := range c.c.Nodes {
			fmt.Printf("  %-10s %d  peer %-21s API http://%-21s pid %-7d data %s  log %s\n",
				c.what, n.ID, n.PeerAddr, n.HTTPAddr, n.Pid(), n.Dir, n.LogPath)
		}
	}
	wctx, cancel := context.WithTimeout(ctx, 60*time.Second)
	defer cancel()
	var st ctlbroker.Status
	master := 0
	err = proc.WaitFor(wctx, "a master", func() bool {
		for _, n := range brokers.Nodes {
			if s, err := getBrokerStatus(wctx, n.HTTPAddr); err == nil && s.Role == "master" {
				master, st = n.ID, s
				return true
			}
		}
		return false
	})
	if err != nil {
		if ctx.Err() != nil {
			return nil
		}
		return fmt.Errorf("no master was elected (see the logs in %s): %w", o.dir, err)
	}
	fmt.Printf("Master: broker %d (master epoch %d, SyncStateSet %v)\n", master, st.MasterEpoch, st.SyncStateSet)
	fmt.Printf("Produce: curl -d '{\"body\":\"hello\"}' http://%s/v1/messages\n", brokers.Node(master).HTTPAddr)
	fmt.Println("Secret: kept in the environment of the processes; pass --secret or $DLEDGERLAB_SECRET to choose it.")
	fmt.Println("Ctrl-C stops every process.")
	<-ctx.Done()
	fmt.Println("Stopping the brokers and controllers …")
	stop()
	fmt.Printf("Stopped. The data stays in %s.\n", o.dir)
	return nil
}

func getBrokerStatus(ctx context.Context, addr string) (ctlbroker.Status, error) {
	var st ctlbroker.Status
	ctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/status", nil)
	if err != nil {
		return st, err
	}
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return st, err
	}
	defer resp.Body.Close()
	return st, json.NewDecoder(resp.Body).Decode(&st)
}
