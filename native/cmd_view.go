package main

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os/signal"
	"slices"
	"syscall"
	"time"

	"dledgerlab/core"
	"dledgerlab/native/cluster"
	"dledgerlab/web"
)

func init() {
	register(command{name: "view", summary: "serve the live view of brokers started elsewhere (dledgerlab node on each machine)", run: runView})
}

func runView(args []string) error {
	fs := newFlags("view", "--peers 1=host:port,2=… [--admin-token T] [--addr 127.0.0.1:8080]", `
Serves the live view of a cluster whose brokers were started with
'dledgerlab node' (on this or other machines): every broker's /v1/watch
stream merged into one picture. Give the same --peers as the brokers (their
HTTP ports are the peer ports + 1000 unless --http-peers says otherwise).
With --admin-token (the brokers' token) the page's controls act on the
brokers: crash (the broker's admin crash), partition, isolate, heal, a
link's latency and loss, transfer, produce and consume; restarting is done
on the broker's machine.`)
	peersFlag := fs.String("peers", "", "every broker's peer address: 1=host:port,2=host:port,…")
	httpPeers := fs.String("http-peers", "", "every broker's HTTP address, id=host:port,… (default: peer port + 1000)")
	adminToken := fs.String("admin-token", "", "the brokers' admin token (default $DLEDGERLAB_ADMIN_TOKEN; empty: watch only)")
	addr := fs.String("addr", "127.0.0.1:8080", "live view listen address (0.0.0.0:8080 for a classroom)")
	if err := parse(fs, args); err != nil {
		return err
	}
	if fs.NArg() > 0 {
		return usagef("unexpected argument %q", fs.Arg(0))
	}
	peers, err := parsePeers("--peers", *peersFlag)
	if err != nil {
		return err
	}
	https := map[core.NodeID]string{}
	if *httpPeers != "" {
		if https, err = parsePeers("--http-peers", *httpPeers); err != nil {
			return err
		}
	}
	ids := make([]core.NodeID, 0, len(peers))
	for id := range peers {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	var members []cluster.Member
	for i, id := range ids {
		if int(id) != i+1 {
			return usagef("--peers: brokers are numbered 1..%d without gaps; broker %d is missing", len(ids), i+1)
		}
		h, ok := https[id]
		if !ok {
			if *httpPeers != "" {
				return usagef("--http-peers has no address for broker %d", id)
			}
			if h, err = httpOf(peers[id]); err != nil {
				return usagef("--peers: broker %d: %v", id, err)
			}
		}
		members = append(members, cluster.Member{ID: int(id), HTTPAddr: h})
	}
	ln, err := net.Listen("tcp", *addr)
	if err != nil {
		return fmt.Errorf("--addr %s cannot be used (%v): stop the program that holds it or choose another --addr", *addr, errors.Unwrap(err))
	}
	defer ln.Close()
	ctx, stop := signal.NotifyContext(context.Background(), syscall.SIGINT, syscall.SIGTERM)
	defer stop()
	token := envOr(*adminToken, "DLEDGERLAB_ADMIN_TOKEN")
	live := cluster.New(cluster.Config{Members: members, AdminToken: token,
		Logf: func(format string, a ...any) {
			fmt.Printf("%s  %s\n", time.Now().Format("15:04:05.000"), fmt.Sprintf(format, a...))
		}})
	defer live.Close()
	srv := &http.Server{Handler: live.Handler(web.Handler()), ReadHeaderTimeout: 5 * time.Second}
	served := make(chan error, 1)
	go func() { served <- srv.Serve(ln) }()
	for _, m := range members {
		fmt.Printf("  broker %d  API http://%s\n", m.ID, m.HTTPAddr)
	}
	base := viewURL(ln.Addr().String())
	fmt.Printf("Live view (watch only):  %s\n", base)
	if token != "" {
		fmt.Printf("Live view (instructor):  %s#admin=%s\n", base, token)
	} else {
		fmt.Println("No --admin-token: the page can only watch.")
	}
	printLANViews(ln.Addr().String())
	select {
	case <-ctx.Done():
	case err := <-served:
		if err != nil && !errors.Is(err, http.ErrServerClosed) {
			return err
		}
	}
	sctx, cancel := context.WithTimeout(context.Background(), 2*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	return nil
}
