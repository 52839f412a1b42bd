package ctlbroker

// The broker's HTTP API (JSON; errors are native/server's envelope
// {"error": {"code", "message"}}):
//
//	POST /v1/messages            {"body": "..."}: answered once acknowledged
//	                             (every SyncStateSet member holds it with
//	                             allAckInSyncStateSet, the master alone
//	                             without), with its offset and epoch
//	GET  /v1/messages?offset=O&max=M   messages below the confirm offset
//	GET  /v1/status              role, group state, confirm and max offset;
//	                             ?log=N adds the CommitLog's last N entries
//	                             (N up to MaxStatusLog, bodies cut to
//	                             MaxStatusBody bytes): the live view's tail
//	POST /v1/admin/partition     {"brokers":[2,3],"controllers":[1,2,3]} (admin
//	                             token): drop the HA traffic with those brokers
//	                             and send those controllers nothing
//	POST /v1/admin/heal          restore every link
//
// A slave answers a produce 421 NOT_MASTER naming the master; a master
// whose SyncStateSet is smaller than minInSyncReplicas answers 503
// IN_SYNC_REPLICAS_NOT_ENOUGH; a master deposed before the write was
// acknowledged 503 LEADER_CHANGED, and one not acknowledged in time 504
// TIMEOUT (both: outcome unknown). Bad input gets 400, 404 or 413.

import (
	"errors"
	"fmt"
	"maps"
	"net/http"
	"slices"
	"strconv"
	"time"
	"unicode/utf8"

	"dledgerlab/core/controller"
	"dledgerlab/native/server"
)

// Error codes of this API beside native/server's.
const (
	// CodeNotMaster: only the master takes writes; leader and leader_addr
	// name the master this broker knows (0: none).
	CodeNotMaster = "NOT_MASTER"
	// CodeNotEnough is RocketMQ's IN_SYNC_REPLICAS_NOT_ENOUGH.
	CodeNotEnough = "IN_SYNC_REPLICAS_NOT_ENOUGH"
)

// MaxRead caps the max parameter of a read.
const MaxRead = 1000

// Limits of GET /v1/status?log=N: at most MaxStatusLog entries, each body
// cut to MaxStatusBody bytes (the live view draws a short label).
const (
	MaxStatusLog  = 100
	MaxStatusBody = 64
)

// ProduceRequest is the body of POST /v1/messages.
type ProduceRequest struct {
	Body string `json:"body"`
}

// ProduceResponse answers an acknowledged produce.
type ProduceResponse struct {
	Offset int64  `json:"offset"`
	Epoch  uint64 `json:"epoch"`
}

// Message is one message of a read.
type Message struct {
	Offset int64  `json:"offset"`
	Body   string `json:"body"`
}

// ReadResponse answers GET /v1/messages.
type ReadResponse struct {
	Messages      []Message `json:"messages"`
	NextOffset    int64     `json:"next_offset"`
	ConfirmOffset int64     `json:"confirm_offset"`
}

// Status is GET /v1/status.
type Status struct {
	Broker int    `json:"broker"`
	Group  string `json:"group"`
	Role   string `json:"role"`
	// Master, MasterEpoch, SyncStateSet, SyncStateSetEpoch and Replicas
	// are the newest group state the broker accepted.
	Master            int                      `json:"master"`
	MasterAddr        string                   `json:"master_addr,omitempty"`
	MasterEpoch       uint64                   `json:"master_epoch"`
	SyncStateSet      []controller.BrokerID    `json:"sync_state_set"`
	SyncStateSetEpoch uint64                   `json:"sync_state_set_epoch"`
	Replicas          []controller.BrokerID    `json:"replicas"`
	Pending           *controller.AlterRequest `json:"pending,omitempty"`
	Epochs            controller.EpochFile     `json:"epochs"`
	ConfirmOffset     int64                    `json:"confirm_offset"`
	MaxOffset         int64                    `json:"max_offset"`
	AllAck            bool                     `json:"all_ack_in_sync_state_set"`
	MinInSyncReplicas int                      `json:"min_in_sync_replicas"`
	// Fsyncs counts the CommitLog's fsyncs of new records since the
	// broker started: produces that arrive during one fsync share the
	// next, so under load it grows slower than max_offset.
	Fsyncs uint64 `json:"fsyncs"`
	// Partitioned and ControllersCut are the brokers and controllers a
	// partition cut this broker off from (POST /v1/admin/partition).
	Partitioned    []uint64 `json:"partitioned,omitempty"`
	ControllersCut []uint64 `json:"controllers_cut,omitempty"`
	// LogFirst and Log are the CommitLog's last entries, from offset
	// LogFirst on, when asked for with ?log=N (bodies cut to
	// MaxStatusBody bytes).
	LogFirst int64     `json:"log_first,omitempty"`
	Log      []Message `json:"log,omitempty"`
	// Truncated is the last time since the broker started that it cut
	// its CommitLog back to agree with the master's epoch file.
	Truncated *Truncation `json:"truncated,omitempty"`
}

// Truncation is a CommitLog cut back from From to To, when the broker
// took master epoch Epoch's epoch file.
type Truncation struct {
	From  int64  `json:"from"`
	To    int64  `json:"to"`
	Epoch uint64 `json:"epoch"`
}

func (s *Server) httpServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/messages", s.handleProduce)
	mux.HandleFunc("GET /v1/messages", s.handleRead)
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.HandleFunc("POST /v1/admin/{action}", server.AdminOnly(s.cfg.AdminToken, s.log, fmt.Sprintf("broker %d", s.cfg.ID), s.cutter().Handle))
	mux.HandleFunc("/", server.NotFound)
	return &http.Server{Handler: mux, ReadHeaderTimeout: 5 * time.Second, ReadTimeout: 30 * time.Second,
		WriteTimeout: s.cfg.ProduceTimeout + 30*time.Second, IdleTimeout: 2 * time.Minute}
}

func (s *Server) handleProduce(w http.ResponseWriter, r *http.Request) {
	var req ProduceRequest
	if !server.ReadJSON(w, r, &req, false, 2*MaxMessageBytes+1024, fmt.Sprintf("a message is at most %d bytes", MaxMessageBytes)) {
		return
	}
	switch {
	case req.Body == "":
		server.WriteError(w, http.StatusBadRequest, server.ErrorBody{Code: server.CodeBadMessage, Message: "body is empty: a message needs a body"})
		return
	case len(req.Body) > MaxMessageBytes:
		server.WriteError(w, http.StatusRequestEntityTooLarge, server.ErrorBody{Code: server.CodeMessageLarge,
			Message: fmt.Sprintf("body is %d bytes; a message is at most %d", len(req.Body), MaxMessageBytes)})
		return
	}
	ch := make(chan controller.Ack, 1)
	var err error
	var st controller.Group
	if derr := s.do(r.Context(), func() {
		s.ticket++
		if err = s.b.Produce(s.ticket, []byte(req.Body)); err == nil {
			s.waits[s.ticket] = ch
		}
		st = s.b.State()
	}); derr != nil {
		unavailable(w, derr)
		return
	}
	switch {
	case errors.Is(err, controller.ErrNotMaster):
		e := server.ErrorBody{Code: CodeNotMaster, Leader: uint64(st.Master)}
		if st.Master != controller.NoMaster && st.Master != controller.BrokerID(s.cfg.ID) {
			e.LeaderAddr = s.cfg.HTTP[coreID(st.Master)]
			e.Message = fmt.Sprintf("broker %d is not the master; broker %d at %s is (master epoch %d)", s.cfg.ID, st.Master, e.LeaderAddr, st.MasterEpoch)
		} else {
			e.Message = fmt.Sprintf("broker %d is not the master and knows of none yet; retry shortly", s.cfg.ID)
		}
		server.WriteError(w, http.StatusMisdirectedRequest, e)
		return
	case errors.Is(err, controller.ErrInSyncReplicasNotEnough):
		server.WriteError(w, http.StatusServiceUnavailable, server.ErrorBody{Code: CodeNotEnough, Message: err.Error()})
		return
	case err != nil:
		server.WriteError(w, http.StatusInternalServerError, server.ErrorBody{Code: server.CodeInternal, Message: err.Error()})
		return
	}
	t := time.NewTimer(s.cfg.ProduceTimeout)
	defer t.Stop()
	select {
	case a := <-ch:
		if a.Err != nil {
			server.WriteError(w, http.StatusServiceUnavailable, server.ErrorBody{Code: server.CodeLeaderChanged, Outcome: "unknown",
				Message: fmt.Sprintf("broker %d: %v (offset %d); outcome unknown: read the new master", s.cfg.ID, a.Err, a.Offset)})
			return
		}
		server.WriteJSON(w, http.StatusOK, ProduceResponse{Offset: a.Offset, Epoch: a.Epoch})
	case <-t.C:
		server.WriteError(w, http.StatusGatewayTimeout, server.ErrorBody{Code: server.CodeTimeout, Outcome: "unknown",
			Message: fmt.Sprintf("not acknowledged by the SyncStateSet within %v; outcome unknown", s.cfg.ProduceTimeout)})
	case <-s.stopped:
		unavailable(w, errStopped)
	case <-r.Context().Done():
	}
}

func (s *Server) handleRead(w http.ResponseWriter, r *http.Request) {
	q := r.URL.Query()
	for k := range q {
		if k != "offset" && k != "max" {
			badRequest(w, fmt.Errorf("unknown parameter %q: want offset and max", k))
			return
		}
	}
	offset, max := int64(0), 32
	if v := q.Get("offset"); v != "" {
		o, err := strconv.ParseInt(v, 10, 64)
		if err != nil || o < 0 {
			badRequest(w, fmt.Errorf("offset %q: want a number from 0", v))
			return
		}
		offset = o
	}
	if v := q.Get("max"); v != "" {
		m, err := strconv.Atoi(v)
		if err != nil || m < 1 || m > MaxRead {
			badRequest(w, fmt.Errorf("max %q: want 1 to %d", v, MaxRead))
			return
		}
		max = m
	}
	var data [][]byte
	var err error
	resp := ReadResponse{Messages: []Message{}, NextOffset: offset}
	if derr := s.do(r.Context(), func() {
		data, err = s.b.Read(offset, max)
		resp.ConfirmOffset = s.b.ConfirmOffset()
	}); derr != nil {
		unavailable(w, derr)
		return
	}
	if err != nil {
		unavailable(w, fmt.Errorf("broker %d has not heard from a controller leader since it started, or follows no master; retry shortly", s.cfg.ID))
		return
	}
	for i, d := range data {
		resp.Messages = append(resp.Messages, Message{Offset: offset + int64(i), Body: string(d)})
	}
	resp.NextOffset = offset + int64(len(data))
	server.WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	tail := 0
	if v := r.URL.Query().Get("log"); v != "" {
		n, err := strconv.Atoi(v)
		if err != nil || n < 0 || n > MaxStatusLog {
			badRequest(w, fmt.Errorf("log %q: want 0 to %d entries", v, MaxStatusLog))
			return
		}
		tail = n
	}
	var st Status
	if err := s.do(r.Context(), func() {
		g := s.b.State()
		st = Status{Broker: int(s.cfg.ID), Group: s.cfg.Group, Role: s.b.Role().String(), Master: int(g.Master),
			MasterEpoch: g.MasterEpoch, SyncStateSet: g.SyncStateSet, SyncStateSetEpoch: g.SyncStateSetEpoch,
			Replicas: g.Replicas, Pending: s.b.Pending(), Epochs: s.b.Epochs(), ConfirmOffset: s.b.ConfirmOffset(),
			MaxOffset: s.b.MaxOffset(), AllAck: s.cfg.AllAck, MinInSyncReplicas: s.cfg.MinInSyncReplicas, Fsyncs: s.disk.fsyncs.Load(), Truncated: s.truncated}
		if tail > 0 {
			st.LogFirst = max(0, st.MaxOffset-int64(tail))
			st.Log = []Message{}
			for off := st.LogFirst; off < st.MaxOffset; off++ {
				data, _ := s.b.Entry(off)
				st.Log = append(st.Log, Message{Offset: off, Body: cutBody(data)})
			}
		}
	}); err != nil {
		unavailable(w, err)
		return
	}
	if c := s.cutter(); len(c.Cuts()) > 0 || len(s.ctlCut.List()) > 0 {
		st.Partitioned, st.ControllersCut = c.Cuts(), s.ctlCut.List()
	}
	if st.Master != 0 {
		st.MasterAddr = s.cfg.HTTP[coreID(controller.BrokerID(st.Master))]
	}
	if st.SyncStateSet == nil {
		st.SyncStateSet = []controller.BrokerID{}
	}
	if st.Replicas == nil {
		st.Replicas = []controller.BrokerID{}
	}
	if st.Epochs == nil {
		st.Epochs = controller.EpochFile{}
	}
	server.WriteJSON(w, http.StatusOK, st)
}

// cutter is the broker's partition and heal: the other brokers on the
// peer links, the controllers by the ids in --controllers.
func (s *Server) cutter() server.Cutter {
	return server.Cutter{ID: s.cfg.ID, Peers: s.cfg.Peers, Role: "broker", Trans: s.trans,
		Other: "controller", Others: &s.ctlCut, Log: s.log,
		CheckOther: func(id uint64) error {
			if _, ok := s.cfg.Controllers[int(id)]; !ok {
				return fmt.Errorf("controller %d is not one of --controllers (controllers %v)", id, slices.Sorted(maps.Keys(s.cfg.Controllers)))
			}
			return nil
		}}
}

// cutBody is a message's body cut to MaxStatusBody bytes, on a rune
// boundary.
func cutBody(data []byte) string {
	if len(data) <= MaxStatusBody {
		return string(data)
	}
	n := MaxStatusBody
	for n > 0 && !utf8.RuneStart(data[n]) {
		n--
	}
	return string(data[:n]) + "…"
}

func badRequest(w http.ResponseWriter, err error) {
	server.WriteError(w, http.StatusBadRequest, server.ErrorBody{Code: server.CodeBadRequest, Message: err.Error()})
}

func unavailable(w http.ResponseWriter, err error) {
	server.WriteError(w, http.StatusServiceUnavailable, server.ErrorBody{Code: server.CodeUnavailable, Message: err.Error()})
}
