package ctlserver

// The controller's HTTP API (JSON; errors are native/server's envelope
// {"error": {"code", "message"}}):
//
//	POST /v1/brokers/register     {group, broker}: answers once the broker is a replica of its group
//	POST /v1/brokers/heartbeat    {group, broker, epoch, max_offset}: the group's state
//	POST /v1/alterSyncStateSet    {group, broker, master_epoch, sync_state_set_epoch, sync_state_set}
//	GET  /v1/groups/{group}       the group's state as this controller applied it, and who leads
//	GET  /v1/status               role, term, leader, commit, applied
//	POST /v1/admin/partition      {"controllers":[2,3],"brokers":[1]} (admin token):
//	                              drop the Raft traffic with those controllers,
//	                              refuse those brokers' requests unanswered
//	POST /v1/admin/heal           restore every link
//
// Only the leader answers brokers (core/controller.Controller.Handle); a
// follower answers 421 NOT_LEADER with the leader's id and HTTP address.
// GET is answered by every controller, from what it applied, saying who
// leads: a follower's answer may be behind the leader's. An
// alterSyncStateSet is answered once applied: 200 accepted, or 409 with why
// the state machine refused it (stale epochs, not the master); 503
// LEADER_CHANGED or 504 TIMEOUT when its outcome is unknown. Malformed or
// oversized bodies get 400 BAD_REQUEST or 413 TOO_LARGE saying what is
// wrong.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"time"
	"unicode"

	"dledgerlab/core"
	"dledgerlab/core/controller"
	"dledgerlab/native/server"
)

// MaxRequestBytes bounds a request body: a group name, a broker id and a
// SyncStateSet of at most MaxBrokers ids fit many times over.
const MaxRequestBytes = 16 << 10

// Request limits.
const (
	// MaxGroupName bounds a broker group's name (RocketMQ's broker names
	// are short identifiers).
	MaxGroupName = 127
	// MaxBrokers bounds a broker id and a SyncStateSet's length.
	MaxBrokers = 64
)

// BrokerRequest is the body of register and heartbeat.
type BrokerRequest struct {
	Group  string `json:"group"`
	Broker int    `json:"broker"`
	// Epoch and MaxOffset (heartbeat): the broker's last epoch and its
	// CommitLog end, which the election policy compares.
	Epoch     uint64 `json:"epoch,omitempty"`
	MaxOffset int64  `json:"max_offset,omitempty"`
}

// AlterRequest is the body of POST /v1/alterSyncStateSet: the master asks
// to change the set, with the master epoch and set epoch it builds on.
type AlterRequest struct {
	Group             string `json:"group"`
	Broker            int    `json:"broker"`
	MasterEpoch       uint64 `json:"master_epoch"`
	SyncStateSetEpoch uint64 `json:"sync_state_set_epoch"`
	SyncStateSet      []int  `json:"sync_state_set"`
}

// GroupResponse is a group's state with the controller that answered.
type GroupResponse struct {
	Group controller.Group `json:"group"`
	// Registered is false for a group no broker registered in.
	Registered bool `json:"registered"`
	// Accepted and Why answer an alterSyncStateSet: whether the change was
	// applied, and why not.
	Accepted bool   `json:"accepted,omitempty"`
	Why      string `json:"why,omitempty"`
	Status
}

// Status is what a controller says about itself.
type Status struct {
	Controller int    `json:"controller"`
	Role       string `json:"role"`
	Term       uint64 `json:"term"`
	// Leader is the controller this one knows leads (0: none known);
	// LeaderAddr its HTTP address.
	Leader     int    `json:"leader"`
	LeaderAddr string `json:"leader_addr,omitempty"`
	Commit     uint64 `json:"commit"`
	Applied    uint64 `json:"applied"`
	LastIndex  uint64 `json:"last_index"`
	// Partitioned and BrokersCut are the controllers and brokers a
	// partition cut this controller off from (POST /v1/admin/partition).
	Partitioned []uint64 `json:"partitioned,omitempty"`
	BrokersCut  []uint64 `json:"brokers_cut,omitempty"`
}

func (s *Server) httpServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/brokers/register", s.handleRegister)
	mux.HandleFunc("POST /v1/brokers/heartbeat", s.handleHeartbeat)
	mux.HandleFunc("POST /v1/alterSyncStateSet", s.handleAlter)
	mux.HandleFunc("GET /v1/groups/{group}", s.handleGroup)
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.HandleFunc("POST /v1/admin/{action}", server.AdminOnly(s.cfg.AdminToken, s.log, fmt.Sprintf("controller %d", s.cfg.ID), s.cutter().Handle))
	mux.HandleFunc("/", server.NotFound)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 10 * time.Second,
		WriteTimeout: s.cfg.AnswerTimeout + 10*time.Second, IdleTimeout: 2 * time.Minute}
}

// readBroker reads and checks a register or heartbeat body.
func readBroker(w http.ResponseWriter, r *http.Request) (BrokerRequest, bool) {
	var req BrokerRequest
	if !server.ReadJSON(w, r, &req, false, MaxRequestBytes, "a broker's request is a few fields") {
		return req, false
	}
	if err := checkMember(req.Group, req.Broker); err != nil {
		badRequest(w, err)
		return req, false
	}
	if req.MaxOffset < 0 {
		badRequest(w, fmt.Errorf("max_offset %d: want 0 or more", req.MaxOffset))
		return req, false
	}
	return req, true
}

// refuseCut answers a request of a broker a partition cut this controller
// off from (503, as if it never arrived: the broker asks again) and
// reports whether it did.
func (s *Server) refuseCut(w http.ResponseWriter, broker int) bool {
	if !s.brokerCut.Has(uint64(broker)) {
		return false
	}
	unavailable(w, fmt.Errorf("controller %d is cut off from broker %d by a partition (POST /v1/admin/partition); heal restores the link", s.cfg.ID, broker))
	return true
}

// cutter is the controller's partition and heal: the other controllers on
// the peer links, brokers by id (1 to MaxBrokers).
func (s *Server) cutter() server.Cutter {
	return server.Cutter{ID: s.cfg.ID, Peers: s.cfg.Peers, Role: "controller", Trans: s.trans,
		Other: "broker", Others: &s.brokerCut, Log: s.log,
		CheckOther: func(id uint64) error {
			if id < 1 || id > MaxBrokers {
				return fmt.Errorf("broker %d: want an id from 1 to %d", id, MaxBrokers)
			}
			return nil
		}}
}

func (s *Server) handleHeartbeat(w http.ResponseWriter, r *http.Request) {
	req, ok := readBroker(w, r)
	if !ok || s.refuseCut(w, req.Broker) {
		return
	}
	rep, ok := s.ask(w, r, controller.Request{Kind: controller.ReqHeartbeat, Group: req.Group,
		Broker: controller.BrokerID(req.Broker), Epoch: req.Epoch, MaxOffset: req.MaxOffset})
	if ok {
		s.writeGroup(w, r, rep.Group, rep.Accepted, rep.Why)
	}
}

// handleRegister heartbeats for the broker (its first heartbeat registers
// it, as in core/controller) until the controllers applied its
// registration, or the answer timeout.
func (s *Server) handleRegister(w http.ResponseWriter, r *http.Request) {
	req, ok := readBroker(w, r)
	if !ok || s.refuseCut(w, req.Broker) {
		return
	}
	b := controller.BrokerID(req.Broker)
	deadline := time.Now().Add(s.cfg.AnswerTimeout)
	for {
		rep, ok := s.ask(w, r, controller.Request{Kind: controller.ReqHeartbeat, Group: req.Group, Broker: b,
			Epoch: req.Epoch, MaxOffset: req.MaxOffset})
		if !ok {
			return
		}
		if slices.Contains(rep.Group.Replicas, b) {
			s.writeGroup(w, r, rep.Group, true, "registered")
			return
		}
		if time.Now().After(deadline) {
			server.WriteError(w, http.StatusGatewayTimeout, server.ErrorBody{Code: server.CodeTimeout,
				Message: fmt.Sprintf("broker %d of %s was not registered within %v; ask again", b, req.Group, s.cfg.AnswerTimeout)})
			return
		}
		select {
		case <-time.After(s.cfg.Tick):
		case <-r.Context().Done():
			return
		}
	}
}

func (s *Server) handleAlter(w http.ResponseWriter, r *http.Request) {
	var req AlterRequest
	if !server.ReadJSON(w, r, &req, false, MaxRequestBytes, "an alterSyncStateSet names at most 64 brokers") {
		return
	}
	if err := checkMember(req.Group, req.Broker); err != nil {
		badRequest(w, err)
		return
	}
	if s.refuseCut(w, req.Broker) {
		return
	}
	if len(req.SyncStateSet) == 0 || len(req.SyncStateSet) > MaxBrokers {
		badRequest(w, fmt.Errorf("sync_state_set has %d brokers: want 1 to %d, the master among them", len(req.SyncStateSet), MaxBrokers))
		return
	}
	set := make([]controller.BrokerID, len(req.SyncStateSet))
	for i, b := range req.SyncStateSet {
		if err := checkMember(req.Group, b); err != nil {
			badRequest(w, fmt.Errorf("sync_state_set: %w", err))
			return
		}
		set[i] = controller.BrokerID(b)
	}
	rep, ok := s.ask(w, r, controller.Request{Kind: controller.ReqAlterSyncStateSet, Group: req.Group,
		Broker: controller.BrokerID(req.Broker), MasterEpoch: req.MasterEpoch, SyncStateSetEpoch: req.SyncStateSetEpoch, SyncStateSet: set})
	if !ok {
		return
	}
	status := http.StatusOK
	if !rep.Accepted {
		// Refused by the state machine: stale epochs, not the master.
		status = http.StatusConflict
	}
	resp := s.groupResponse(r.Context(), rep.Group, rep.Accepted, rep.Why)
	server.WriteJSON(w, status, resp)
}

func (s *Server) handleGroup(w http.ResponseWriter, r *http.Request) {
	name := r.PathValue("group")
	if err := CheckGroup(name); err != nil {
		badRequest(w, err)
		return
	}
	var g controller.Group
	var registered bool
	if err := s.do(r.Context(), func() { g, registered = s.ctl.Group(name) }); err != nil {
		unavailable(w, err)
		return
	}
	resp := s.groupResponse(r.Context(), g, false, "")
	resp.Registered = registered
	server.WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	st, err := s.status(r.Context())
	if err != nil {
		unavailable(w, err)
		return
	}
	server.WriteJSON(w, http.StatusOK, st)
}

// ask hands req to the controller; on NOT_LEADER, a timeout or a stop it
// answers the HTTP request itself and reports false.
func (s *Server) ask(w http.ResponseWriter, r *http.Request, req controller.Request) (controller.Reply, bool) {
	rep, err := s.handle(r.Context(), req)
	switch {
	case errors.Is(err, errTimeout):
		server.WriteError(w, http.StatusGatewayTimeout, server.ErrorBody{Code: server.CodeTimeout, Outcome: "unknown",
			Message: fmt.Sprintf("%s was not applied within %v (an election may be under way); outcome unknown: ask again", req.Kind, s.cfg.AnswerTimeout)})
		return rep, false
	case errors.Is(err, errLeaderChanged):
		server.WriteError(w, http.StatusServiceUnavailable, server.ErrorBody{Code: server.CodeLeaderChanged, Outcome: "unknown",
			Message: fmt.Sprintf("controller %d stopped leading before %s was applied; outcome unknown: read the group's state, or ask the new leader again", s.cfg.ID, req.Kind)})
		return rep, false
	case err != nil:
		unavailable(w, err)
		return rep, false
	case rep.NotLeader:
		e := server.ErrorBody{Code: server.CodeNotLeader, Leader: uint64(rep.Leader)}
		if rep.Leader != 0 {
			e.LeaderAddr = s.cfg.HTTP[core.NodeID(rep.Leader)]
			e.Message = fmt.Sprintf("controller %d is not the leader; controller %d at %s is", s.cfg.ID, rep.Leader, e.LeaderAddr)
		} else {
			e.Message = fmt.Sprintf("controller %d does not answer brokers: no leader is known, or it has not applied what earlier leaders committed yet; retry shortly", s.cfg.ID)
		}
		server.WriteError(w, http.StatusMisdirectedRequest, e)
		return rep, false
	}
	return rep, true
}

func (s *Server) writeGroup(w http.ResponseWriter, r *http.Request, g controller.Group, accepted bool, why string) {
	resp := s.groupResponse(r.Context(), g, accepted, why)
	server.WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) groupResponse(ctx context.Context, g controller.Group, accepted bool, why string) GroupResponse {
	st, _ := s.status(ctx)
	if g.Replicas == nil {
		g.Replicas = []controller.BrokerID{}
	}
	if g.SyncStateSet == nil {
		g.SyncStateSet = []controller.BrokerID{}
	}
	return GroupResponse{Group: g, Registered: len(g.Replicas) > 0, Accepted: accepted, Why: why, Status: st}
}

// status reads the controller's status on the runner.
func (s *Server) status(ctx context.Context) (Status, error) {
	var st Status
	err := s.do(ctx, func() {
		ns := s.ctl.Node().Status()
		st = Status{Controller: int(s.cfg.ID), Role: ns.Role.String(), Term: ns.Term, Leader: int(ns.Lead),
			Commit: ns.Commit, Applied: s.ctl.Applied(), LastIndex: ns.LastIndex}
		if ns.Lead != 0 {
			st.LeaderAddr = s.cfg.HTTP[ns.Lead]
		}
	})
	if c := s.cutter(); len(c.Cuts()) > 0 || len(s.brokerCut.List()) > 0 {
		st.Partitioned, st.BrokersCut = c.Cuts(), s.brokerCut.List()
	}
	return st, err
}

// CheckGroup checks a broker group's name: 1 to MaxGroupName letters,
// digits, '-', '_' or '.'.
func CheckGroup(name string) error {
	if name == "" || len(name) > MaxGroupName {
		return fmt.Errorf("group %q: want a name of 1 to %d characters", name, MaxGroupName)
	}
	for _, c := range name {
		if c > unicode.MaxASCII || !(unicode.IsLetter(c) || unicode.IsDigit(c) || c == '-' || c == '_' || c == '.') {
			return fmt.Errorf("group %q: want letters, digits, '-', '_' or '.'", name)
		}
	}
	return nil
}

// checkMember checks a group name and a broker id.
func checkMember(group string, broker int) error {
	if err := CheckGroup(group); err != nil {
		return err
	}
	if broker < 1 || broker > MaxBrokers {
		return fmt.Errorf("broker %d: want an id from 1 to %d", broker, MaxBrokers)
	}
	return nil
}

func badRequest(w http.ResponseWriter, err error) {
	server.WriteError(w, http.StatusBadRequest, server.ErrorBody{Code: server.CodeBadRequest, Message: err.Error()})
}

func unavailable(w http.ResponseWriter, err error) {
	server.WriteError(w, http.StatusServiceUnavailable, server.ErrorBody{Code: server.CodeUnavailable, Message: err.Error()})
}
