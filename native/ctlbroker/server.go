// Package ctlbroker is one broker of a Controller-mode broker group
// (docs/CONTROLLER.md) as a real process: core/controller's Broker run by
// one goroutine, the runner, with its disk in a folder (disk.go), the HA
// service's pushes and acks over native/transport's authenticated peer
// links (ha.go), heartbeats and alterSyncStateSet sent to the controllers'
// HTTP API (package ctlserver), and an HTTP API to produce, read and see
// the broker's status (http.go).
//
// Threading is native/server's: the runner alone touches the Broker and
// its disk; HTTP handlers, peer readers and the requests to the
// controllers reach it through channels. After each input the runner
// writes and fsyncs what the Broker changed on disk, then sends its
// messages and answers producers (ARCHITECTURE.md rule 4).
package ctlbroker

import (
	"bytes"
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"time"

	"dledgerlab/core"
	"dledgerlab/core/controller"
	"dledgerlab/native/ctlserver"
	"dledgerlab/native/server"
	"dledgerlab/native/transport"
)

// Defaults for Config's zero values.
const (
	DefaultTick            = server.DefaultTick
	DefaultHeartbeat       = 500 * time.Millisecond
	DefaultHAMaxNotCatchup = 15 * time.Second
	DefaultProduceTimeout  = server.DefaultProduceTimeout
	DefaultPush            = 50 * time.Millisecond
	// MaxMessageBytes bounds one message: a push carries at most
	// maxPushEntries of them, well within the transport's frame limit.
	MaxMessageBytes = 256 << 10
	maxPushEntries  = 32
)

// Config sets up one broker.
type Config struct {
	// GroupMember is who it is in its broker group (Peers, HTTP: every
	// broker's addresses), its data folder and the group's secret. Its
	// Raft timings are not used.
	server.GroupMember
	// Group is the broker group's name (RocketMQ's brokerName).
	Group string
	// Controllers maps every controller's id to its HTTP address.
	Controllers map[int]string
	Tick        time.Duration
	// Heartbeat is how often the broker heartbeats the controller leader
	// (brokerHeartbeatInterval).
	Heartbeat time.Duration
	// HAMaxNotCatchup is haMaxTimeSlaveNotCatchup.
	HAMaxNotCatchup time.Duration
	// Push is how often a master pushes to a slave that holds everything.
	Push time.Duration
	// AllAck is allAckInSyncStateSet; MinInSyncReplicas is
	// minInSyncReplicas.
	AllAck            bool
	MinInSyncReplicas int
	// ProduceTimeout: a produce not acknowledged in this long is answered
	// 504 TIMEOUT (outcome unknown).
	ProduceTimeout time.Duration
	// FsyncDelay is an extra sleep after each CommitLog fsync: a slow
	// disk, to watch group commit (and replication) on a fast one.
	FsyncDelay time.Duration
	// AdminToken guards POST /v1/admin/partition and heal (empty: admin
	// calls are disabled).
	AdminToken string
	Logger     *slog.Logger
}

// Server is a running broker.
type Server struct {
	cfg   Config
	log   *slog.Logger
	disk  *fileDisk
	mem   *controller.Disk
	b     *controller.Broker
	trans *transport.Transport
	hc    *http.Client

	calls   chan func()
	stopped chan struct{}

	// ctlCut holds the controllers a partition cut off: the runner sends
	// them no heartbeat or alterSyncStateSet. The other brokers are cut
	// in the transport (the HA push and acks).
	ctlCut server.CutSet

	// Owned by the runner: the produce requests waiting for their Ack,
	// and the last truncation since the broker started (for /v1/status).
	ticket    uint64
	waits     map[uint64]chan controller.Ack
	truncated *Truncation
}

// New opens the data folder and builds the broker on what it holds.
func New(cfg Config) (*Server, error) {
	for _, d := range []struct {
		v   *time.Duration
		def time.Duration
	}{
		{&cfg.Tick, DefaultTick}, {&cfg.Heartbeat, DefaultHeartbeat}, {&cfg.HAMaxNotCatchup, DefaultHAMaxNotCatchup},
		{&cfg.Push, DefaultPush}, {&cfg.ProduceTimeout, DefaultProduceTimeout},
	} {
		if *d.v <= 0 {
			*d.v = d.def
		}
	}
	log := cmp.Or(cfg.Logger, slog.Default()).With("broker", uint64(cfg.ID))
	if err := server.CheckMembers(cfg.Dir, "broker", cfg.ID, cfg.Peers); err != nil {
		return nil, err
	}
	if len(cfg.Controllers) == 0 {
		return nil, errors.New("no controllers")
	}
	tr, err := transport.New(transport.Config{ID: cfg.ID, Peers: cfg.Peers, Secret: []byte(cfg.Secret), Group: PeerGroup(cfg.Group), Logger: log})
	if err != nil {
		return nil, err
	}
	fd, mem, err := openDisk(cfg.Dir, log)
	if err != nil {
		return nil, err
	}
	fd.delay = cfg.FsyncDelay
	ticks := func(d time.Duration) int { return max(1, int(d/cfg.Tick)) }
	ctls := make([]int, 0, len(cfg.Controllers))
	for id := range cfg.Controllers {
		ctls = append(ctls, id)
	}
	slices.Sort(ctls)
	b, err := controller.NewBroker(controller.BrokerOptions{
		Group: cfg.Group, ID: controller.BrokerID(cfg.ID), Controllers: ctls,
		HeartbeatTicks: ticks(cfg.Heartbeat), HAMaxTicksSlaveNotCatchup: ticks(cfg.HAMaxNotCatchup),
		AllAckInSyncStateSet: cfg.AllAck, MinInSyncReplicas: cfg.MinInSyncReplicas,
		PushTicks: ticks(cfg.Push), MaxPushEntries: maxPushEntries, RetryTicks: ticks(cfg.Heartbeat),
	}, mem)
	if err != nil {
		fd.close()
		return nil, err
	}
	log.Info("broker opened", "dir", cfg.Dir, "max_offset", b.MaxOffset(), "epochs", fmt.Sprint(b.Epochs()), "state", b.State().String())
	return &Server{cfg: cfg, log: log, disk: fd, mem: mem, b: b, trans: tr,
		hc:    &http.Client{Timeout: max(time.Second, cfg.Heartbeat)},
		calls: make(chan func(), runnerBatch), stopped: make(chan struct{}), waits: map[uint64]chan controller.Ack{}}, nil
}

// Run listens on the broker's peer and HTTP addresses and serves until ctx
// is done.
func (s *Server) Run(ctx context.Context) error {
	return server.RunMember(ctx, server.Member{Role: "broker", Log: s.log, Trans: s.trans, HTTP: s.httpServer(),
		Run: s.runLoop, Stopped: s.stopped, Close: s.disk.close}, s.cfg.Peers[s.cfg.ID], s.cfg.HTTP[s.cfg.ID])
}

// runLoop is the runner: a tick, a peer message or a call goes to the
// Broker — with the peer messages and calls already waiting — then flush
// persists and sends what resulted.
func (s *Server) runLoop(ctx context.Context) error {
	return server.Runner{Tick: s.cfg.Tick, Recv: s.trans.Recv(), Calls: s.calls, OnTick: s.b.Tick,
		OnPeer: func(m core.Message) {
			ha, err := haFromMessage(m)
			if err != nil {
				s.log.Warn("dropping a peer message", "err", err)
				return
			}
			s.b.HandleHA(ha)
		},
		After: func() error { return s.flush(ctx) }, Batch: runnerBatch}.Run(ctx)
}

// runnerBatch is how many inputs the runner takes before one flush: the
// produces (and acks) that arrived during the last fsync share the next
// (group commit). A bound, so that a flood of inputs still flushes, and
// sends and answers, regularly.
const runnerBatch = 256

// flush writes what the Broker changed and fsyncs it, then sends its HA
// messages and controller requests and answers producers.
func (s *Server) flush(ctx context.Context) error {
	out := s.b.TakeOutput()
	cut := int64(-1)
	for _, ev := range out.Events {
		s.logEvent(ev)
		if ev.Kind == controller.EvTruncated {
			s.truncated = &Truncation{From: ev.From, To: ev.To, Epoch: ev.Epoch}
			if cut < 0 || ev.To < cut {
				cut = ev.To
			}
		}
	}
	if err := s.disk.persist(s.mem, cut); err != nil {
		return fmt.Errorf("persist: %w (nothing unsynced was sent or acknowledged)", err)
	}
	for _, m := range out.HA {
		s.trans.Send(haToMessage(m))
	}
	for _, r := range out.Requests {
		if s.ctlCut.Has(uint64(r.Controller)) {
			// Partitioned: lost on the way, as a request to an
			// unreachable controller is; the Broker asks again.
			continue
		}
		go s.ask(ctx, r)
	}
	for _, a := range out.Acks {
		if ch, ok := s.waits[a.Ticket]; ok {
			ch <- a
			delete(s.waits, a.Ticket)
		}
	}
	return nil
}

func (s *Server) logEvent(ev controller.Event) {
	switch ev.Kind {
	case controller.EvBecameMaster:
		s.log.Info("became master", "epoch", ev.Epoch, "max_offset", s.b.MaxOffset())
	case controller.EvBecameSlave:
		s.log.Info("became slave", "epoch", ev.Epoch, "master", uint64(s.b.State().Master))
	case controller.EvDeposed:
		s.log.Info("deposed: a newer master epoch exists", "epoch", ev.Epoch)
	case controller.EvTruncated:
		s.log.Info("CommitLog truncated to agree with the master's epoch file", "epoch", ev.Epoch, "from", ev.From, "to", ev.To)
	case controller.EvAlter:
		s.log.Info("asking alterSyncStateSet", "set_epoch", ev.Epoch, "set", fmt.Sprint(ev.Set))
	case controller.EvSetChanged:
		s.log.Info("SyncStateSet changed", "set_epoch", ev.Epoch, "set", fmt.Sprint(ev.Set))
	}
}

// ask sends r to its controller's HTTP API and hands the Broker the
// answer: the group's state, or NOT_LEADER naming the leader. A request
// that fails or times out gets no answer (the Broker asks the next
// controller at its next heartbeat).
func (s *Server) ask(ctx context.Context, r controller.Request) {
	path, body := "/v1/brokers/heartbeat", any(ctlserver.BrokerRequest{Group: r.Group, Broker: int(r.Broker), Epoch: r.Epoch, MaxOffset: r.MaxOffset})
	if r.Kind == controller.ReqAlterSyncStateSet {
		set := make([]int, len(r.SyncStateSet))
		for i, b := range r.SyncStateSet {
			set[i] = int(b)
		}
		path, body = "/v1/alterSyncStateSet", ctlserver.AlterRequest{Group: r.Group, Broker: int(r.Broker),
			MasterEpoch: r.MasterEpoch, SyncStateSetEpoch: r.SyncStateSetEpoch, SyncStateSet: set}
	}
	rep, err := s.post(ctx, r.Controller, path, body)
	if err != nil {
		s.log.Debug("controller did not answer", "controller", r.Controller, "request", r.Kind.String(), "err", err)
		return
	}
	rep.Kind, rep.Controller, rep.To = r.Kind, r.Controller, r.Broker
	server.RunOn(ctx, s.calls, s.stopped, errStopped, func() { s.b.HandleReply(rep) })
}

// post sends one request to controller id and turns its answer into a
// controller.Reply.
func (s *Server) post(ctx context.Context, id int, path string, body any) (controller.Reply, error) {
	b, err := json.Marshal(body)
	if err != nil {
		return controller.Reply{}, err
	}
	req, err := http.NewRequestWithContext(ctx, http.MethodPost, "http://"+s.cfg.Controllers[id]+path, bytes.NewReader(b))
	if err != nil {
		return controller.Reply{}, err
	}
	req.Header.Set("Content-Type", "application/json")
	resp, err := s.hc.Do(req)
	if err != nil {
		return controller.Reply{}, err
	}
	defer resp.Body.Close()
	data, err := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	if err != nil {
		return controller.Reply{}, err
	}
	switch resp.StatusCode {
	case http.StatusOK, http.StatusConflict:
		var g ctlserver.GroupResponse
		if err := json.Unmarshal(data, &g); err != nil {
			return controller.Reply{}, fmt.Errorf("controller %d: %w", id, err)
		}
		return controller.Reply{Accepted: g.Accepted, Why: g.Why, Group: g.Group}, nil
	case http.StatusMisdirectedRequest:
		var env struct{ Error server.ErrorBody }
		if err := json.Unmarshal(data, &env); err != nil {
			return controller.Reply{}, fmt.Errorf("controller %d: %w", id, err)
		}
		return controller.Reply{NotLeader: true, Leader: int(env.Error.Leader)}, nil
	}
	return controller.Reply{}, fmt.Errorf("controller %d answered %s: %s", id, resp.Status, bytes.TrimSpace(data))
}

var errStopped = errors.New("broker is stopping")

// do runs f on the runner goroutine and waits for it.
func (s *Server) do(ctx context.Context, f func()) error {
	return server.RunOn(ctx, s.calls, s.stopped, errStopped, f)
}

// coreID is a broker's id on the peer links.
func coreID(b controller.BrokerID) core.NodeID { return core.NodeID(b) }

// PeerGroup is the group the brokers of broker group name prove at the
// peer handshake (transport.Config.Group): a broker of another group, a
// controller or a DLedger-mode broker given one of their addresses is
// refused by name, even with the same secret. CheckGroup keeps a name
// short enough (transport.MaxGroupBytes).
func PeerGroup(name string) string { return "broker group " + name }
