// Package ctlserver is one controller of RocketMQ's Controller mode as a
// real process: core/controller's Controller (a core.Node whose log holds
// the controllers' Ops) run by one goroutine, the runner, with its Raft log
// and hard state in a native/store folder, its peer links over
// native/transport's authenticated WebSocket frames, and a small HTTP API
// for brokers and people (http.go).
//
// Threading is native/server's: the runner alone touches the Controller and
// the store; HTTP handlers and peer readers reach it through channels. Each
// Ready is written and fsynced before its messages (votes,
// acknowledgements) leave and before its committed Ops are applied and
// answered (ARCHITECTURE.md rule 4); a controller's traffic is a few
// requests a second, so the fsync runs on the runner itself.
package ctlserver

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"time"

	"dledgerlab/core"
	"dledgerlab/core/controller"
	"dledgerlab/native/server"
	"dledgerlab/native/store"
	"dledgerlab/native/transport"
)

// Defaults for Config's zero values.
const (
	DefaultTick          = server.DefaultTick
	DefaultBrokerTimeout = 10 * time.Second
	DefaultAnswerTimeout = 3 * time.Second
)

// Config sets up one controller.
type Config struct {
	// GroupMember is who it is among the controllers (Peers, HTTP: every
	// controller's addresses), its data folder, the secret and the Raft
	// timings.
	server.GroupMember
	// Tick is the length of one core tick.
	Tick time.Duration
	// BrokerTimeout: a broker not heard from for this long is not alive
	// (RocketMQ's controller heartbeat timeout, 10 s by default).
	BrokerTimeout time.Duration
	// Unclean switches enableElectUncleanMaster on.
	Unclean bool
	// AnswerTimeout is how long a request waits for its Op to be applied.
	AnswerTimeout time.Duration
	// AdminToken guards POST /v1/admin/partition and heal (empty: admin
	// calls are disabled).
	AdminToken string
	Logger     *slog.Logger
}

// Server is a running controller.
type Server struct {
	cfg   Config
	log   *slog.Logger
	store *store.Store
	ctl   *controller.Controller
	trans *transport.Transport

	calls   chan func()
	stopped chan struct{}

	// brokerCut holds the brokers a partition cut off: their requests are
	// refused unanswered. The other controllers are cut in the transport.
	brokerCut server.CutSet

	// Owned by the runner: the requests waiting for their reply, by
	// (kind, group, broker), oldest first. Invariant: each was proposed as
	// one Op not applied yet, so the replies, which come in log order,
	// answer them in order. A request whose HTTP caller gave up stays
	// until its reply comes, or the queue would shift.
	waiting map[waitKey][]*pending
}

type waitKey struct {
	kind   controller.RequestKind
	group  string
	broker controller.BrokerID
}

// pending is one HTTP request waiting for the controller's reply.
type pending struct {
	done chan answer // buffered: the runner never blocks on it
}

// answer is a reply, or why there is none.
type answer struct {
	reply controller.Reply
	err   error
}

// New opens the data folder (the recovery scan of native/store) and builds
// the controller; its state is rebuilt by applying the log again.
func New(cfg Config) (*Server, error) {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.Tick, DefaultTick}, {&cfg.BrokerTimeout, DefaultBrokerTimeout}, {&cfg.AnswerTimeout, DefaultAnswerTimeout},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	log := cmp.Or(cfg.Logger, slog.Default()).With("controller", uint64(cfg.ID))
	if err := server.CheckMembers(cfg.Dir, "controller", cfg.ID, cfg.Peers); err != nil {
		return nil, err
	}
	tr, err := transport.New(transport.Config{ID: cfg.ID, Peers: cfg.Peers, Secret: []byte(cfg.Secret), Group: PeerGroup, Logger: log})
	if err != nil {
		return nil, err
	}
	// The controllers' log is a few hundred bytes an Op: small segments.
	st, _, err := store.Open(cfg.Dir, store.Options{SegmentSize: 1 << 20, Logger: log})
	if err != nil {
		return nil, err
	}
	ctl, err := controller.New(cfg.RaftConfig(st), controller.Options{
		BrokerTimeoutTicks: max(1, int(cfg.BrokerTimeout/cfg.Tick)), EnableElectUncleanMaster: cfg.Unclean,
	})
	if err != nil {
		st.Close()
		return nil, err
	}
	hs, _ := st.InitialState()
	log.Info("controller opened", "dir", cfg.Dir, "last_index", st.LastIndex(), "term", hs.Term, "commit", hs.Commit)
	return &Server{cfg: cfg, log: log, store: st, ctl: ctl, trans: tr,
		calls: make(chan func(), 64), stopped: make(chan struct{}), waiting: map[waitKey][]*pending{}}, nil
}

// Run listens on the controller's peer and HTTP addresses and serves until
// ctx is done (SIGINT or SIGTERM in the CLI).
func (s *Server) Run(ctx context.Context) error {
	return server.RunMember(ctx, s.member(), s.cfg.Peers[s.cfg.ID], s.cfg.HTTP[s.cfg.ID])
}

// Serve is Run on listeners the caller opened.
func (s *Server) Serve(ctx context.Context, peerLn, httpLn net.Listener) error {
	return server.ServeMember(ctx, s.member(), peerLn, httpLn)
}

func (s *Server) member() server.Member {
	return server.Member{Role: "controller", Log: s.log, Trans: s.trans, HTTP: s.httpServer(),
		Run: s.runLoop, Stopped: s.stopped, Close: s.store.Close}
}

// runLoop is the runner: it waits for a tick, a peer message or a call,
// hands it to the controller, and executes every Ready that results.
func (s *Server) runLoop(ctx context.Context) error {
	return server.Runner{Tick: s.cfg.Tick, Recv: s.trans.Recv(), Calls: s.calls,
		OnTick: s.ctl.Tick, OnPeer: s.ctl.Step, After: s.handleReadies}.Run(ctx)
}

// handleReadies executes the controller's Readys in the order core
// requires: eager pushes leave; the entries and hard state are written and
// fsynced; then the messages leave and the committed Ops are applied
// (Advance). Replies to brokers go to the requests waiting for them.
func (s *Server) handleReadies() error {
	for s.ctl.HasReady() {
		rd := s.ctl.Ready()
		for _, m := range rd.Eager {
			s.trans.Send(m)
		}
		if !rd.Snapshot.IsZero() {
			// Controllers never compact their log, so no leader sends one.
			return fmt.Errorf("controller %d: got a snapshot at entry %d; controllers keep their whole log", s.cfg.ID, rd.Snapshot.Index)
		}
		if len(rd.Entries) > 0 {
			if _, err := s.store.Append(rd.Entries); err != nil {
				return fmt.Errorf("append entries %d..%d: %w", rd.Entries[0].Index, rd.Entries[len(rd.Entries)-1].Index, err)
			}
		}
		if rd.HardStateChanged {
			s.store.SetHardState(rd.HardState)
		}
		if len(rd.Entries) > 0 || rd.HardStateChanged {
			if err := s.store.Sync(); err != nil {
				return fmt.Errorf("persist: %w (nothing unsynced was acknowledged)", err)
			}
		}
		for _, m := range rd.Messages {
			s.trans.Send(m)
		}
		for _, ev := range rd.Events {
			logEvent(s.log, ev)
		}
		s.ctl.Advance(rd)
		s.route(s.ctl.TakeReplies())
	}
	if s.ctl.Node().Role() != core.RoleLeader && len(s.waiting) > 0 {
		// A deposed leader forgets what it proposed: its answers go
		// unsent, and the Ops may still be applied under the next leader.
		// Tell the waiting brokers at once.
		for _, ps := range s.waiting {
			for _, p := range ps {
				p.done <- answer{err: errLeaderChanged}
			}
		}
		clear(s.waiting)
	}
	return nil
}

// route hands replies to the requests waiting for them.
func (s *Server) route(rs []controller.Reply) {
	for _, r := range rs {
		k := waitKey{r.Kind, r.Group.Name, r.To}
		ps := s.waiting[k]
		if len(ps) == 0 {
			continue // a deposed leader answered it (handleReadies)
		}
		ps[0].done <- answer{reply: r}
		if len(ps) == 1 {
			delete(s.waiting, k)
		} else {
			s.waiting[k] = ps[1:]
		}
	}
}

// handle passes a broker's request to the controller on the runner and
// returns its reply: at once for a heartbeat, a refusal or NOT_LEADER; once
// the Op is applied for an alterSyncStateSet the controller proposed.
func (s *Server) handle(ctx context.Context, req controller.Request) (controller.Reply, error) {
	p := &pending{done: make(chan answer, 1)}
	k := waitKey{req.Kind, req.Group, req.Broker}
	err := s.do(ctx, func() {
		req.Controller = int(s.cfg.ID)
		before := s.ctl.Node().Status().LastIndex
		s.ctl.Handle(req)
		rs := s.ctl.TakeReplies()
		switch {
		case len(rs) > 0:
			p.done <- answer{reply: rs[0]}
			s.route(rs[1:])
		case s.ctl.Node().Status().LastIndex == before:
			// The replica refused the proposal (a leadership transfer;
			// controllers start none): no reply will come.
			p.done <- answer{err: errNotProposed}
		default:
			s.waiting[k] = append(s.waiting[k], p)
		}
	})
	if err != nil {
		return controller.Reply{}, err
	}
	t := time.NewTimer(s.cfg.AnswerTimeout)
	defer t.Stop()
	select {
	case a := <-p.done:
		return a.reply, a.err
	case <-s.stopped:
		return controller.Reply{}, errStopped
	case <-t.C:
		return controller.Reply{}, errTimeout
	case <-ctx.Done():
		return controller.Reply{}, ctx.Err()
	}
}

var (
	errStopped = errors.New("controller is stopping")
	errTimeout = errors.New("the request's Op was not applied in time")
	// errNotProposed: the replica took no proposal; nothing changed.
	errNotProposed = errors.New("the controller could not propose the request's Op now; nothing changed, ask again")
	// errLeaderChanged: the controller stopped leading before the Op was
	// applied; it may still be, under the next leader.
	errLeaderChanged = errors.New("the controller stopped leading before the request's Op was applied")
)

// do runs f on the runner goroutine and waits for it.
func (s *Server) do(ctx context.Context, f func()) error {
	return server.RunOn(ctx, s.calls, s.stopped, errStopped, f)
}

// logEvent logs the Raft events a person running controllers wants to see.
func logEvent(log *slog.Logger, ev core.Event) {
	lvl := slog.LevelDebug
	switch ev.Kind {
	case core.EventBecameLeader, core.EventSteppedDown, core.EventTruncated, core.EventBecameCandidate:
		lvl = slog.LevelInfo
	}
	log.Log(context.Background(), lvl, ev.Kind.String(), "term", ev.Term, "peer", uint64(ev.Peer), "index", ev.Index, "detail", ev.Detail)
}

// PeerGroup is the group controllers prove at the peer handshake
// (transport.Config.Group): a broker given a controller's address in its
// --peers is refused by name, even with the same secret.
const PeerGroup = "controllers"
