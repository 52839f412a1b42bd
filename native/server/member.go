package server

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/http"
	"os"
	"time"

	"dledgerlab/core"
	"dledgerlab/native/transport"
)

// Member is what a member process of a Raft group runs — a broker
// (Server) or a controller (package ctlserver) — for ListenMember and
// ServeMember, which both use: the parts around its runner.
type Member struct {
	// Role names the member in logs: "broker", "controller".
	Role  string
	Log   *slog.Logger
	Trans *transport.Transport
	HTTP  *http.Server
	// Run is the runner: it returns when ctx is done, or with the error
	// that stops the member.
	Run func(ctx context.Context) error
	// Stopped is closed once Run returned, before the HTTP server shuts
	// down, so that handlers waiting on the runner give up.
	Stopped chan struct{}
	// Close closes the member's store once nothing uses it.
	Close func() error
}

// Runner is a simple member's runner loop (a controller's, a
// Controller-mode broker's): it waits for a tick, a peer message or a
// call, hands it to the member, then runs After, whose error stops the
// loop; the loop returns nil when ctx is done.
type Runner struct {
	Tick   time.Duration
	Recv   <-chan core.Message
	Calls  <-chan func()
	OnTick func()
	OnPeer func(core.Message)
	After  func() error
	// Batch bounds the inputs handed to the member before one After
	// (0 or 1: one). After the input it waited for, the loop also takes
	// the peer messages and calls already waiting — those that arrived
	// while the last After ran, e.g. during its fsync — so that one After,
	// and one fsync, serves them all: group commit. After still runs
	// before anything those inputs produced is sent or answered.
	Batch int
}

// Run runs the loop until ctx is done or After fails.
func (r Runner) Run(ctx context.Context) error {
	ticker := time.NewTicker(r.Tick)
	defer ticker.Stop()
	for {
		select {
		case <-ctx.Done():
			return nil
		case <-ticker.C:
			r.OnTick()
		case m := <-r.Recv:
			r.OnPeer(m)
		case f := <-r.Calls:
			f()
		}
		r.takeWaiting()
		if err := r.After(); err != nil {
			return err
		}
	}
}

// takeWaiting hands the member up to Batch-1 more inputs that are
// already waiting, without waiting for any.
func (r Runner) takeWaiting() {
	for n := 1; n < r.Batch; n++ {
		select {
		case m := <-r.Recv:
			r.OnPeer(m)
		case f := <-r.Calls:
			f()
		default:
			return
		}
	}
}

// ListenMember opens a member's HTTP and peer listeners; on an error it
// calls closeStore, since the member will not run.
func ListenMember(peerAddr, httpAddr string, closeStore func() error) (peerLn, httpLn net.Listener, err error) {
	httpLn, err = net.Listen("tcp", httpAddr)
	if err != nil {
		closeStore()
		return nil, nil, fmt.Errorf("--http %s: %w", httpAddr, err)
	}
	peerLn, err = net.Listen("tcp", peerAddr)
	if err != nil {
		httpLn.Close()
		closeStore()
		return nil, nil, fmt.Errorf("peer port %s: %w", peerAddr, err)
	}
	return peerLn, httpLn, nil
}

// RunMember opens m's listeners on peerAddr and httpAddr (ListenMember)
// and serves m on them (ServeMember).
func RunMember(ctx context.Context, m Member, peerAddr, httpAddr string) error {
	peerLn, httpLn, err := ListenMember(peerAddr, httpAddr, m.Close)
	if err != nil {
		return err
	}
	return ServeMember(ctx, m, peerLn, httpLn)
}

// ServeMember serves peers on peerLn and m.HTTP on httpLn and runs m.Run
// until ctx is done or it fails, then stops cleanly: HTTP shuts down
// (2 s at most), the peer links close, the store closes.
func ServeMember(ctx context.Context, m Member, peerLn, httpLn net.Listener) error {
	ctx, cancel := context.WithCancel(ctx)
	defer cancel()
	if err := m.Trans.Serve(ctx, peerLn); err != nil {
		m.Close()
		return err
	}
	go func() {
		if err := m.HTTP.Serve(httpLn); err != nil && !errors.Is(err, http.ErrServerClosed) {
			m.Log.Error("http server stopped", "err", err)
			cancel()
		}
	}()
	m.Log.Info(m.Role+" running", "peer_addr", peerLn.Addr().String(), "http_addr", httpLn.Addr().String(), "pid", os.Getpid())
	err := m.Run(ctx)
	close(m.Stopped)
	sctx, scancel := context.WithTimeout(context.Background(), 2*time.Second)
	m.HTTP.Shutdown(sctx)
	scancel()
	m.Trans.Close()
	if cerr := m.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		m.Log.Error(m.Role+" stopped", "err", err)
	} else {
		m.Log.Info(m.Role + " stopped")
	}
	return err
}
