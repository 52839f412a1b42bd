package server

// The HTTP API of a broker (ARCHITECTURE.md, "HTTP API of a native node").
// Every error is JSON: {"error": {"code": "...", "message": "..."}} with
// extra fields where they help the caller act (leader, leader_addr, outcome).

import (
	"bytes"
	"context"
	"crypto/subtle"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"log/slog"
	"maps"
	"net/http"
	"net/url"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"github.com/gorilla/websocket"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/sim"
	"dledgerlab/internal/jsonread"
)

// MaxRequestBytes bounds a request body: twice the largest encoded message
// (4 MiB; a body's JSON string may escape some of its bytes) plus room for
// the JSON around it. Whether the message fits is decided by its encoded
// size (MESSAGE_TOO_LARGE), not by this bound.
const MaxRequestBytes = 2*broker.DefaultMaxMessageBytes + 64<<10

// Consume answers are bounded in count and in bytes.
const (
	// MaxConsume caps the max parameter of a consume.
	MaxConsume = 1000
	// MaxConsumeBytes caps the CommitLog bytes of the messages one consume
	// answers (and its max_bytes parameter): a consume of 1000 messages of
	// 4 MiB answers fewer, with next_offset where to go on. The first
	// message is always answered, whatever its size.
	MaxConsumeBytes = 8 << 20
)

// Error codes.
const (
	CodeBadRequest    = "BAD_REQUEST"
	CodeBadMessage    = "BAD_MESSAGE"
	CodeTooLarge      = "TOO_LARGE"
	CodeMessageLarge  = "MESSAGE_TOO_LARGE"
	CodeSeqReused     = "SEQUENCE_REUSED"
	CodeNotLeader     = "NOT_LEADER"
	CodeTimeout       = "TIMEOUT"
	CodeLeaderChanged = "LEADER_CHANGED"
	CodeNotCommitted  = "NOT_COMMITTED"
	CodeTransferring  = "TRANSFERRING"
	CodeStale         = "STALE_SEQUENCE"
	CodeUnknownTopic  = "UNKNOWN_TOPIC"
	// CodeOffsetTooSmall: a consume below what the broker keeps: the
	// messages were deleted by retention, or came before the snapshot the
	// broker installed (RocketMQ's OFFSET_TOO_SMALL).
	CodeOffsetTooSmall = "OFFSET_TOO_SMALL"
	CodeNotFound       = "NOT_FOUND"
	CodeUnauthorized   = "UNAUTHORIZED"
	CodeForbidden      = "FORBIDDEN"
	CodeUnavailable    = "UNAVAILABLE"
	CodeInternal       = "INTERNAL"
)

// ErrorBody is the JSON error envelope's inner object.
type ErrorBody struct {
	Code    string `json:"code"`
	Message string `json:"message"`
	// Leader and LeaderAddr answer NOT_LEADER (0 and "" while no leader is
	// known).
	Leader     uint64 `json:"leader,omitempty"`
	LeaderAddr string `json:"leader_addr,omitempty"`
	// Outcome is "unknown" when the message may or may not be stored: retry
	// with the same producer and sequence.
	Outcome string `json:"outcome,omitempty"`
	// MinOffset answers OFFSET_TOO_SMALL: the queue's first offset, where
	// a consumer can go on (RocketMQ's nextBeginOffset in that answer).
	MinOffset uint64 `json:"min_offset,omitempty"`
}

// ProduceRequest is the body of POST /v1/topics/{topic}/messages.
type ProduceRequest struct {
	Body     string `json:"body"`
	Tags     string `json:"tags,omitempty"`
	Keys     string `json:"keys,omitempty"`
	Producer string `json:"producer,omitempty"`
	Seq      uint64 `json:"seq,omitempty"`
}

// BatchProduceRequest is the body of POST /v1/messages: up to
// MaxBatchMessages messages, to any topics, each one as in POST
// /v1/topics/{topic}/messages (its own producer and seq, deduplicated the
// same way). A client under load pays one request and one JSON document for
// many messages instead of one each; native/client batches concurrent
// produces this way (Client.Batch).
type BatchProduceRequest struct {
	Messages []BatchMessage `json:"messages"`
}

// BatchMessage is one message of a batch, with its topic.
type BatchMessage struct {
	Topic string `json:"topic"`
	ProduceRequest
}

// BatchProduceResponse answers a batch once every message in it has its
// answer: Results[i] is messages[i]'s.
type BatchProduceResponse struct {
	Results []BatchResult `json:"results"`
}

// BatchResult is one message's answer: Status is the HTTP status the
// single-message request would have had, with OK (200) or Error set.
type BatchResult struct {
	Status int              `json:"status"`
	OK     *ProduceResponse `json:"ok,omitempty"`
	Error  *ErrorBody       `json:"error,omitempty"`
}

// MaxBatchMessages bounds the messages of one batch request (its body is
// bounded by MaxRequestBytes like any other).
const MaxBatchMessages = 1024

// ProduceResponse answers a committed produce.
type ProduceResponse struct {
	Index       uint64 `json:"index"`
	Term        uint64 `json:"term"`
	Topic       string `json:"topic"`
	QueueOffset uint64 `json:"queue_offset"`
	Duplicate   bool   `json:"duplicate,omitempty"`
}

// ConsumedMessage is one message of a consume answer.
type ConsumedMessage struct {
	QueueOffset uint64 `json:"queue_offset"`
	Index       uint64 `json:"index"`
	Term        uint64 `json:"term"`
	Pos         int64  `json:"pos"`
	Size        int32  `json:"size"`
	Body        string `json:"body"`
	Tags        string `json:"tags,omitempty"`
	Keys        string `json:"keys,omitempty"`
	Producer    string `json:"producer,omitempty"`
	Seq         uint64 `json:"seq,omitempty"`
}

// ConsumeResponse answers GET /v1/topics/{topic}/messages.
type ConsumeResponse struct {
	Topic      string            `json:"topic"`
	Messages   []ConsumedMessage `json:"messages"`
	NextOffset uint64            `json:"next_offset"`
}

// Status answers GET /v1/status.
type Status struct {
	ID         uint64   `json:"id"`
	Role       string   `json:"role"`
	Term       uint64   `json:"term"`
	Vote       uint64   `json:"vote"`
	Leader     uint64   `json:"leader"`
	LeaderAddr string   `json:"leader_addr,omitempty"`
	Commit     uint64   `json:"commit"`
	Applied    uint64   `json:"applied"`
	Stabled    uint64   `json:"stabled"`
	LastIndex  uint64   `json:"last_index"`
	LastTerm   uint64   `json:"last_term"`
	HTTPAddr   string   `json:"http_addr"`
	PeerAddr   string   `json:"peer_addr"`
	DataDir    string   `json:"data_dir"`
	Pid        int      `json:"pid"`
	UptimeMs   int64    `json:"uptime_ms"`
	Fsyncs     uint64   `json:"fsyncs"`
	Truncated  uint64   `json:"truncated_entries"`
	Cut        []uint64 `json:"partitioned,omitempty"`
	Pending    int      `json:"pending_produces"`
	MsgRate    float64  `json:"msg_rate"`
	Digest     string   `json:"digest,omitempty"`
	// SnapshotIndex is the entry the broker's log starts after (0: entry
	// 1); SnapshotsInstalled counts snapshots installed from a leader since
	// the broker started, Compactions the snapshots it took for retention.
	SnapshotIndex      uint64 `json:"snapshot_index,omitempty"`
	SnapshotsInstalled uint64 `json:"snapshots_installed,omitempty"`
	Compactions        uint64 `json:"compactions,omitempty"`
	// Queues are the topics' queues: the first offset kept (RocketMQ's
	// min offset: above 0 after a snapshot was installed) and the next.
	Queues []QueueStatus `json:"queues,omitempty"`
	// CheckQuorum and PreVote are the switches of POST /v1/admin/rules.
	CheckQuorum bool         `json:"check_quorum"`
	PreVote     bool         `json:"pre_vote"`
	Peers       []PeerStatus `json:"peers"`
}

// QueueStatus is one topic's queue in a Status.
type QueueStatus struct {
	Topic     string `json:"topic"`
	MinOffset uint64 `json:"min_offset"`
	MaxOffset uint64 `json:"max_offset"`
}

// PeerStatus is one peer in a Status.
type PeerStatus struct {
	ID        uint64 `json:"id"`
	PeerAddr  string `json:"peer_addr"`
	HTTPAddr  string `json:"http_addr"`
	Connected bool   `json:"connected"`
	// Match/Next/State/Active: the leader's view of the follower.
	Match    uint64 `json:"match,omitempty"`
	Next     uint64 `json:"next,omitempty"`
	State    string `json:"state,omitempty"`
	Active   bool   `json:"active,omitempty"`
	Sent     uint64 `json:"sent"`
	Received uint64 `json:"received"`
	Dropped  uint64 `json:"dropped"`
	Refused  uint64 `json:"refused"`
	// The outgoing link's shaping (POST /v1/admin/link).
	LatencyMs int64   `json:"latency_ms,omitempty"`
	JitterMs  int64   `json:"jitter_ms,omitempty"`
	Loss      float64 `json:"loss,omitempty"`
}

// AdminRequest is the body of the admin calls: peers to cut for partition,
// the target for transfer (0: the most up-to-date follower).
//
// Peers are members of the same kind as the one asked (brokers of its
// group for a broker, the other controllers for a controller). A member of
// Controller mode also talks to the other kind: Brokers and Controllers
// name members by kind (docs/CONTROLLER.md, "Partitions"). A DLedger-mode
// broker takes Brokers as Peers and refuses Controllers.
type AdminRequest struct {
	Peers       []uint64 `json:"peers,omitempty"`
	Brokers     []uint64 `json:"brokers,omitempty"`
	Controllers []uint64 `json:"controllers,omitempty"`
	To          uint64   `json:"to,omitempty"`
}

// PeersToCut checks the ids a partition names among a member's group: each
// must be another member of peers. role names the member's kind
// ("broker", "controller") in the error, which says which ids there are.
func PeersToCut(self core.NodeID, peers map[core.NodeID]string, role string, ids []uint64) ([]core.NodeID, error) {
	var out []core.NodeID
	for _, p := range ids {
		id := core.NodeID(p)
		if _, ok := peers[id]; !ok || id == self {
			return nil, fmt.Errorf("%s %d is not another member of this group (%ss %v; this is %s %d)",
				role, p, role, slices.Sorted(maps.Keys(peers)), role, self)
		}
		out = append(out, id)
	}
	return out, nil
}

// AdminOnly runs h only for a call with the admin token: 401 when missing,
// 403 when wrong (logged, never the token) or when the member (named by
// who, e.g. "broker 2") was started without one.
func AdminOnly(token string, log *slog.Logger, who string, h http.HandlerFunc) http.HandlerFunc {
	check := AdminCheck{
		Token:    token,
		Missing:  "admin calls need the admin token: Authorization: Bearer <token>",
		Disabled: who + " was started without --admin-token ($DLEDGERLAB_ADMIN_TOKEN): admin calls are disabled",
		Refused: func(r *http.Request) {
			log.Warn("admin call with a wrong token refused", "remote", r.RemoteAddr, "path", r.URL.Path)
		},
	}
	return func(w http.ResponseWriter, r *http.Request) {
		if check.Allow(w, r) {
			h(w, r)
		}
	}
}

func (s *Server) httpServer() *http.Server {
	mux := http.NewServeMux()
	mux.HandleFunc("POST /v1/topics/{topic}/messages", s.handleProduce)
	mux.HandleFunc("POST /v1/messages", s.handleProduceBatch)
	mux.HandleFunc("GET /v1/produce", s.handleProduceStream)
	mux.HandleFunc("GET /v1/topics/{topic}/messages", s.handleConsume)
	mux.HandleFunc("POST /v1/groups/{group}/offsets", s.handleCommitOffset)
	mux.HandleFunc("GET /v1/groups/{group}/offsets", s.handleFetchOffset)
	mux.HandleFunc("GET /v1/groups", s.handleGroups)
	mux.HandleFunc("GET /v1/status", s.handleStatus)
	mux.HandleFunc("GET /v1/watch", s.handleWatch)
	mux.HandleFunc("GET /v1/view", s.handleView)
	mux.HandleFunc("POST /v1/admin/{action}", s.admin(s.handleAdmin))
	mux.HandleFunc("POST /v1/admin/campaign", s.admin(s.handleCampaign))
	mux.HandleFunc("POST /v1/admin/rules", s.admin(s.handleRules))
	mux.HandleFunc("POST /v1/admin/link", s.admin(s.handleLink))
	mux.HandleFunc("/", NotFound)
	return &http.Server{Handler: cors(mux), ReadHeaderTimeout: 5 * time.Second,
		ReadTimeout: s.cfg.HTTPReadTimeout, WriteTimeout: s.cfg.HTTPWriteTimeout, IdleTimeout: s.cfg.HTTPIdleTimeout}
}

// NotFound answers 404 NOT_FOUND naming the method and path asked for.
func NotFound(w http.ResponseWriter, r *http.Request) {
	WriteError(w, http.StatusNotFound, ErrorBody{Code: CodeNotFound, Message: fmt.Sprintf("no endpoint %s %s", r.Method, r.URL.Path)})
}

// cors lets the live view, served from another port, call the API.
func cors(h http.Handler) http.Handler {
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		w.Header().Set("Access-Control-Allow-Origin", "*")
		if r.Method == http.MethodOptions {
			w.Header().Set("Access-Control-Allow-Methods", "GET, POST, OPTIONS")
			w.Header().Set("Access-Control-Allow-Headers", "Authorization, Content-Type, X-Admin-Token")
			w.WriteHeader(http.StatusNoContent)
			return
		}
		h.ServeHTTP(w, r)
	})
}

// WriteJSON answers v as JSON with the given status. The broker's API and
// the cluster launcher's live view (package cluster) both answer with it.
func WriteJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// WriteError answers the JSON error envelope {"error": e}.
func WriteError(w http.ResponseWriter, status int, e ErrorBody) {
	WriteJSON(w, status, map[string]ErrorBody{"error": e})
}

// AdminCheck guards admin calls with a token, for the broker's
// /v1/admin/* and the live view's action endpoint. The caller names the
// token in the header Authorization: Bearer <token> or X-Admin-Token.
type AdminCheck struct {
	// Token is what a caller must name; empty refuses every call.
	Token string
	// Missing answers a call without a token (401 UNAUTHORIZED); Disabled
	// answers any call when Token is empty (403 FORBIDDEN).
	Missing, Disabled string
	// Refused, if set, hears a call with a wrong token (to log it; never
	// the token).
	Refused func(r *http.Request)
}

// Allow reports whether r names the token, comparing in constant time.
// When it does not, Allow has answered: 401 without a token, 403 with a
// wrong one or when Token is empty.
func (c AdminCheck) Allow(w http.ResponseWriter, r *http.Request) bool {
	tok := r.Header.Get("X-Admin-Token")
	if a := r.Header.Get("Authorization"); tok == "" && strings.HasPrefix(a, "Bearer ") {
		tok = strings.TrimPrefix(a, "Bearer ")
	}
	switch {
	case tok == "":
		WriteError(w, http.StatusUnauthorized, ErrorBody{Code: CodeUnauthorized, Message: c.Missing})
	case c.Token == "":
		WriteError(w, http.StatusForbidden, ErrorBody{Code: CodeForbidden, Message: c.Disabled})
	case subtle.ConstantTimeCompare([]byte(tok), []byte(c.Token)) != 1:
		if c.Refused != nil {
			c.Refused(r)
		}
		WriteError(w, http.StatusForbidden, ErrorBody{Code: CodeForbidden, Message: "wrong admin token"})
	default:
		return true
	}
	return false
}

// decodeBody reads a JSON body into v (DecodeJSON's rules), at most
// MaxRequestBytes, answering 400 or 413 itself.
func decodeBody(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool) bool {
	return ReadJSON(w, r, v, allowEmpty, MaxRequestBytes, bodyLimitHint)
}

// bodyLimitHint says why a broker's request body is bounded (formatted
// once, not on every request).
var bodyLimitHint = fmt.Sprintf("a message is at most %d bytes encoded", broker.DefaultMaxMessageBytes)

// ReadJSON reads a JSON body of at most limit bytes into v (DecodeJSON's
// rules), answering 400 BAD_REQUEST or 413 TOO_LARGE itself (the latter
// saying the limit and why: hint); it reports whether v was read. The
// broker's API and the controller's (package ctlserver) both read with it.
func ReadJSON(w http.ResponseWriter, r *http.Request, v any, allowEmpty bool, limit int64, hint string) bool {
	body, err := io.ReadAll(http.MaxBytesReader(w, r.Body, limit))
	if err != nil {
		var mbe *http.MaxBytesError
		if errors.As(err, &mbe) {
			WriteError(w, http.StatusRequestEntityTooLarge, ErrorBody{Code: CodeTooLarge,
				Message: fmt.Sprintf("request body is larger than %d bytes (%s)", mbe.Limit, hint)})
			return false
		}
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: "reading the request body: " + err.Error()})
		return false
	}
	if err := DecodeJSON(body, v, allowEmpty); err != nil {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: err.Error()})
		return false
	}
	return true
}

// DecodeJSON decodes one JSON value from body into v, refusing fields v does
// not have (a misspelt "boddy" would otherwise store an empty message) and
// anything after the value; an error names the field, as in
// "malformed JSON: seq: want an integer, got the string \"7\"". An empty body is an empty object when
// allowEmpty is set, and an error otherwise.
func DecodeJSON(body []byte, v any, allowEmpty bool) error {
	if len(bytes.TrimSpace(body)) == 0 {
		if !allowEmpty {
			return errors.New("malformed JSON: the request body is empty")
		}
		body = []byte("{}")
	}
	if err := jsonread.Strict(body, v); err != nil {
		return fmt.Errorf("malformed JSON: %w", err)
	}
	return nil
}

func (s *Server) handleProduce(w http.ResponseWriter, r *http.Request) {
	var req ProduceRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	p := &produceReq{
		msg:  broker.Message{Topic: r.PathValue("topic"), Tags: req.Tags, Keys: req.Keys, Body: []byte(req.Body), Producer: req.Producer, Seq: req.Seq},
		done: make(chan produceResult, 1),
	}
	select {
	case s.produces <- p:
	case <-s.stopped:
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: "the broker is stopping"})
		return
	case <-r.Context().Done():
		return
	}
	res := s.await(p)
	if res.err != nil {
		s.writeProduceError(w, res)
		return
	}
	WriteJSON(w, http.StatusOK, ProduceResponse{Index: res.res.Index, Term: res.res.Term, Topic: res.res.Topic,
		QueueOffset: res.res.QueueOffset, Duplicate: res.res.Duplicate})
}

// await returns the runner's answer to a produce it took.
func (s *Server) await(p *produceReq) produceResult {
	select {
	case res := <-p.done:
		return res
	case <-s.stopped:
		// The runner answers every waiter before it stops; take that answer
		// if it is there.
		select {
		case res := <-p.done:
			return res
		default:
			return produceResult{err: fmt.Errorf("the broker is stopping: %w", broker.ErrOutcomeUnknown)}
		}
	}
}

// handleProduceBatch stores a batch (BatchProduceRequest): every message
// goes to the runner as its own produce, so a batch shares the Readys and
// fsyncs of whatever else is in flight, and each is answered as the
// single-message request would be, after commit. The answer leaves when
// the last message has its own.
func (s *Server) handleProduceBatch(w http.ResponseWriter, r *http.Request) {
	var req BatchProduceRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	if n := len(req.Messages); n == 0 || n > MaxBatchMessages {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest,
			Message: fmt.Sprintf("messages: a batch holds 1 to %d messages, this one %d", MaxBatchMessages, n)})
		return
	}
	ps := make([]*produceReq, len(req.Messages))
	for i, m := range req.Messages {
		ps[i] = m.produceReq()
	}
	sent := 0
	for _, p := range ps {
		select {
		case s.produces <- p:
			sent++
			continue
		case <-s.stopped:
		case <-r.Context().Done():
		}
		break
	}
	out := BatchProduceResponse{Results: make([]BatchResult, len(ps))}
	for i, p := range ps {
		var res produceResult
		if i >= sent {
			// Never handed to the runner: not stored, safe to retry.
			res.err = fmt.Errorf("the broker is stopping: %w", broker.ErrNotCommitted)
		} else {
			res = s.await(p)
		}
		out.Results[i] = s.batchResult(res)
	}
	WriteJSON(w, http.StatusOK, out)
}

// produceReq is the runner's produce of one message of a batch or stream.
func (m BatchMessage) produceReq() *produceReq {
	return &produceReq{
		msg:  broker.Message{Topic: m.Topic, Tags: m.Tags, Keys: m.Keys, Body: []byte(m.Body), Producer: m.Producer, Seq: m.Seq},
		done: make(chan produceResult, 1),
	}
}

// batchResult is one message's answer in a batch or on the stream: what
// the single-message request would have answered.
func (s *Server) batchResult(res produceResult) BatchResult {
	if res.err != nil {
		status, e := s.produceError(res)
		return BatchResult{Status: status, Error: &e}
	}
	return BatchResult{Status: http.StatusOK, OK: &ProduceResponse{Index: res.res.Index, Term: res.res.Term,
		Topic: res.res.Topic, QueueOffset: res.res.QueueOffset, Duplicate: res.res.Duplicate}}
}

func (s *Server) writeProduceError(w http.ResponseWriter, res produceResult) {
	status, e := s.produceError(res)
	WriteError(w, status, e)
}

// produceError is the HTTP status and error body of a produce that failed.
func (s *Server) produceError(res produceResult) (int, ErrorBody) {
	err := res.err
	msg := err.Error()
	switch {
	case errors.Is(err, core.ErrNotLeader) || errors.Is(err, broker.ErrNotLeader):
		e := ErrorBody{Code: CodeNotLeader, Leader: uint64(res.leader)}
		if res.leader != core.None {
			e.LeaderAddr = s.cfg.HTTP[res.leader]
			e.Message = fmt.Sprintf("broker %d is not the leader; broker %d at %s is", s.cfg.ID, res.leader, e.LeaderAddr)
		} else {
			e.Message = fmt.Sprintf("broker %d is not the leader and no leader is known yet (election in progress); retry shortly", s.cfg.ID)
		}
		return http.StatusMisdirectedRequest, e
	case errors.Is(err, core.ErrTransferring):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeTransferring, Message: "leadership transfer in progress; retry shortly"}
	case errors.Is(err, errLeaderChanged):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeLeaderChanged, Outcome: "unknown", Leader: uint64(res.leader),
			LeaderAddr: s.cfg.HTTP[res.leader],
			Message:    "the leader stepped down before the message committed; outcome unknown: retry with the same producer and seq"}
	case errors.Is(err, broker.ErrOutcomeUnknown):
		return http.StatusGatewayTimeout, ErrorBody{Code: CodeTimeout, Outcome: "unknown",
			Message: fmt.Sprintf("no quorum acknowledged the message within %v; outcome unknown: retry with the same producer and seq", s.cfg.ProduceTimeout)}
	case errors.Is(err, broker.ErrNotCommitted):
		return http.StatusServiceUnavailable, ErrorBody{Code: CodeNotCommitted, Message: msg + "; the message was not stored, retrying is safe"}
	case errors.Is(err, broker.ErrMessageTooLarge) || errors.Is(err, core.ErrEntryTooLarge):
		return http.StatusBadRequest, ErrorBody{Code: CodeMessageLarge, Message: msg}
	case errors.Is(err, broker.ErrStaleSequence):
		return http.StatusConflict, ErrorBody{Code: CodeStale, Message: msg}
	case errors.Is(err, broker.ErrSequenceReused):
		return http.StatusConflict, ErrorBody{Code: CodeSeqReused, Message: msg}
	case errors.Is(err, broker.ErrBadTopic) || errors.Is(err, broker.ErrBadMessage) || errors.Is(err, broker.ErrTooLarge):
		return http.StatusBadRequest, ErrorBody{Code: CodeBadMessage, Message: msg}
	default:
		return http.StatusInternalServerError, ErrorBody{Code: CodeInternal, Message: msg}
	}
}

func (s *Server) handleConsume(w http.ResponseWriter, r *http.Request) {
	topic := r.PathValue("topic")
	q, err := ParseConsumeQuery(r.URL.RawQuery)
	if err != nil {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: err.Error()})
		return
	}
	var got []broker.Stored
	var minOffset uint64
	if derr := s.do(r.Context(), func() {
		got, err = s.bk.ConsumeUpTo(topic, q.Offset, q.Max, q.MaxBytes)
		if cq := s.bk.Queue(topic); cq != nil {
			minOffset = cq.MinOffset()
		}
	}); derr != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: derr.Error()})
		return
	}
	switch {
	case errors.Is(err, broker.ErrUnknownTopic):
		WriteError(w, http.StatusNotFound, ErrorBody{Code: CodeUnknownTopic, Message: fmt.Sprintf("topic %q has no messages on broker %d", topic, s.cfg.ID)})
		return
	case errors.Is(err, broker.ErrBadTopic):
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadMessage, Message: err.Error()})
		return
	case errors.Is(err, broker.ErrOffsetTooSmall) && len(got) == 0:
		WriteError(w, http.StatusGone, ErrorBody{Code: CodeOffsetTooSmall, Message: fmt.Sprintf("broker %d: %v", s.cfg.ID, err), MinOffset: minOffset})
		return
	case errors.Is(err, broker.ErrOffsetTooSmall):
		// The messages read before the first deleted one are answered.
	case err != nil:
		WriteError(w, http.StatusInternalServerError, ErrorBody{Code: CodeInternal, Message: err.Error()})
		return
	}
	resp := ConsumeResponse{Topic: topic, Messages: make([]ConsumedMessage, 0, len(got)), NextOffset: q.Offset}
	for _, m := range got {
		resp.Messages = append(resp.Messages, ConsumedMessage{QueueOffset: m.QueueOffset, Index: m.Index, Term: m.Term,
			Pos: m.Pos, Size: m.Size, Body: string(m.Message.Body), Tags: m.Message.Tags, Keys: m.Message.Keys,
			Producer: m.Message.Producer, Seq: m.Message.Seq})
		resp.NextOffset = m.QueueOffset + 1
	}
	WriteJSON(w, http.StatusOK, resp)
}

// ConsumeQuery is the query of GET /v1/topics/{topic}/messages.
type ConsumeQuery struct {
	// Offset is the first queue offset to read (offset=, default 0).
	Offset uint64
	// Max is how many messages at most (max=, 1..MaxConsume, default
	// broker.DefaultConsumeMax); MaxBytes how many CommitLog bytes at most
	// (max_bytes=, 1..MaxConsumeBytes, default MaxConsumeBytes).
	Max, MaxBytes int
}

// ParseConsumeQuery reads a consume's raw query string. Its errors name the
// parameter: an unknown or repeated one, or a value out of range.
func ParseConsumeQuery(raw string) (ConsumeQuery, error) {
	q := ConsumeQuery{Max: broker.DefaultConsumeMax, MaxBytes: MaxConsumeBytes}
	vals, err := url.ParseQuery(raw)
	if err != nil {
		return q, fmt.Errorf("query %q: %v", raw, err)
	}
	for _, name := range slices.Sorted(maps.Keys(vals)) {
		vs := vals[name]
		if len(vs) > 1 {
			return q, fmt.Errorf("parameter %s is given %d times; give it once", name, len(vs))
		}
		v := vs[0]
		switch name {
		case "offset":
			n, err := strconv.ParseUint(v, 10, 64)
			if err != nil {
				return q, fmt.Errorf("offset=%q is not a non-negative integer", v)
			}
			q.Offset = n
		case "max":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return q, fmt.Errorf("max=%q is not a positive integer", v)
			}
			q.Max = min(n, MaxConsume)
		case "max_bytes":
			n, err := strconv.Atoi(v)
			if err != nil || n < 1 {
				return q, fmt.Errorf("max_bytes=%q is not a positive integer", v)
			}
			q.MaxBytes = min(n, MaxConsumeBytes)
		default:
			return q, fmt.Errorf("unknown parameter %q (a consume takes offset, max and max_bytes)", name)
		}
	}
	return q, nil
}

func (s *Server) handleStatus(w http.ResponseWriter, r *http.Request) {
	var st Status
	if err := s.do(r.Context(), func() { st = s.status(r.URL.Query().Has("digest")) }); err != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: err.Error()})
		return
	}
	WriteJSON(w, http.StatusOK, st)
}

// status runs on the runner.
func (s *Server) status(digest bool) Status {
	rs := s.raft.Status()
	st := Status{
		ID: uint64(s.cfg.ID), Role: rs.Role.String(), Term: rs.Term, Vote: uint64(rs.Vote), Leader: uint64(rs.Lead),
		Commit: rs.Commit, Applied: rs.Applied, Stabled: rs.Stabled, LastIndex: rs.LastIndex, LastTerm: rs.LastTerm,
		HTTPAddr: s.cfg.HTTP[s.cfg.ID], PeerAddr: s.cfg.Peers[s.cfg.ID], DataDir: s.cfg.Dir, Pid: os.Getpid(),
		UptimeMs: time.Since(s.started).Milliseconds(), Fsyncs: s.store.Fsyncs(), Truncated: s.nTrunc,
		Pending: len(s.waiters), MsgRate: s.rate.perSecond(), CheckQuorum: s.checkQuorum, PreVote: s.preVote,
		SnapshotIndex: s.raft.LastSnapshot().Index, SnapshotsInstalled: s.installed, Compactions: s.compactions,
	}
	if rs.Lead != core.None {
		st.LeaderAddr = s.cfg.HTTP[rs.Lead]
	}
	for _, name := range s.bk.TopicNames() {
		q := s.bk.Queue(name)
		st.Queues = append(st.Queues, QueueStatus{Topic: name, MinOffset: q.MinOffset(), MaxOffset: q.Len()})
	}
	if digest {
		st.Digest = s.bk.Digest()
	}
	for _, id := range s.trans.Cuts() {
		st.Cut = append(st.Cut, uint64(id))
	}
	for _, ps := range s.trans.Stats() {
		p := PeerStatus{ID: uint64(ps.ID), PeerAddr: ps.Addr, HTTPAddr: s.cfg.HTTP[ps.ID], Connected: ps.Connected,
			Sent: ps.Sent, Received: ps.Received, Dropped: ps.Dropped, Refused: ps.Refused,
			LatencyMs: ps.Link.Latency.Milliseconds(), JitterMs: ps.Link.Jitter.Milliseconds(), Loss: ps.Link.Loss}
		if pr, ok := rs.Progress[ps.ID]; ok {
			p.Match, p.Next, p.State, p.Active = pr.Match, pr.Next, pr.State.String(), pr.RecentActive
		}
		st.Peers = append(st.Peers, p)
	}
	return st
}

// admin runs h only for a call with the admin token (AdminOnly).
func (s *Server) admin(h http.HandlerFunc) http.HandlerFunc {
	return AdminOnly(s.cfg.AdminToken, s.log, fmt.Sprintf("broker %d", s.cfg.ID), h)
}

func (s *Server) handleAdmin(w http.ResponseWriter, r *http.Request) {
	var req AdminRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	action := r.PathValue("action")
	switch action {
	case "partition":
		if len(req.Controllers) > 0 {
			WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf(
				"broker %d runs in DLedger mode: it has no controllers to cut off (controllers %v; c<id> names a controller of Controller mode)", s.cfg.ID, req.Controllers)})
			return
		}
		peers := append(slices.Clone(req.Peers), req.Brokers...)
		if len(peers) == 0 {
			WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: `partition needs {"peers": [ids to cut off]}`})
			return
		}
		ids, err := PeersToCut(s.cfg.ID, s.cfg.Peers, "broker", peers)
		if err != nil {
			WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: err.Error()})
			return
		}
		s.trans.Cut(ids)
		s.log.Info("partition: links cut", "peers", peers)
	case "heal":
		s.trans.Heal()
		s.log.Info("partition healed; links restored (no latency, no loss)")
	case "transfer":
		var err error
		var to core.NodeID
		if derr := s.do(r.Context(), func() {
			to = core.NodeID(req.To)
			if to == core.None {
				to = s.bestFollower()
			}
			err = s.raft.TransferLeadership(to)
		}); derr != nil {
			err = derr
		}
		switch {
		case errors.Is(err, core.ErrNotLeader):
			st := s.statusLead()
			WriteError(w, http.StatusMisdirectedRequest, ErrorBody{Code: CodeNotLeader, Leader: uint64(st), LeaderAddr: s.cfg.HTTP[st],
				Message: "only the leader can transfer leadership"})
			return
		case err != nil:
			WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: err.Error()})
			return
		}
		s.log.Info("leadership transfer requested", "to", uint64(to))
		req.To = uint64(to)
	case "crash":
		s.log.Warn("crash requested through the admin API: exiting without cleanup")
		WriteJSON(w, http.StatusAccepted, map[string]any{"ok": true, "action": "crash"})
		if f, ok := w.(http.Flusher); ok {
			f.Flush()
		}
		go func() {
			time.Sleep(50 * time.Millisecond) // let the answer leave
			crash()
		}()
		return
	default:
		WriteError(w, http.StatusNotFound, ErrorBody{Code: CodeNotFound, Message: fmt.Sprintf("unknown admin action %q (partition, heal, transfer, crash, campaign, rules, link)", action)})
		return
	}
	cuts := []uint64{}
	for _, id := range s.trans.Cuts() {
		cuts = append(cuts, uint64(id))
	}
	WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "action": action, "partitioned": cuts, "to": req.To})
}

// bestFollower picks the follower with the highest match index (runner).
func (s *Server) bestFollower() core.NodeID {
	rs := s.raft.Status()
	best, bestMatch := core.None, uint64(0)
	ids := make([]core.NodeID, 0, len(rs.Progress))
	for id := range rs.Progress {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if id != s.cfg.ID && (best == core.None || rs.Progress[id].Match > bestMatch) {
			best, bestMatch = id, rs.Progress[id].Match
		}
	}
	if best == core.None {
		return s.cfg.ID // not the leader: TransferLeadership says so
	}
	return best
}

func (s *Server) statusLead() core.NodeID {
	var lead core.NodeID
	s.do(context.Background(), func() { lead = s.raft.Lead() })
	return lead
}

var upgrader = websocket.Upgrader{
	// The stream is read-only and public, like GET /v1/status; the live
	// view is served from another port.
	CheckOrigin: func(*http.Request) bool { return true },
}

// WatchInterval is how often /v1/watch sends a frame.
const WatchInterval = 250 * time.Millisecond

func (s *Server) handleWatch(w http.ResponseWriter, r *http.Request) {
	StreamViews(w, r, s.stopped, "broker stopping", func() (sim.ClusterView, error) {
		var v sim.ClusterView
		err := s.do(r.Context(), func() { v = s.view() })
		return v, err // encoded off the runner: view() shares nothing with it
	})
}

// StreamViews answers a WebSocket upgrade with a frame from next (a
// ClusterView, or Controller mode's ctlsim.View) every WatchInterval, until
// the viewer leaves, next fails or done closes (then it says bye). The
// broker's /v1/watch and the cluster launchers' merged ones use it.
func StreamViews[V any](w http.ResponseWriter, r *http.Request, done <-chan struct{}, bye string, next func() (V, error)) {
	c, err := upgrader.Upgrade(w, r, nil)
	if err != nil {
		return
	}
	defer c.Close()
	gone := make(chan struct{})
	go func() { // read (and discard) to notice the viewer leaving
		defer close(gone)
		for {
			if _, _, err := c.NextReader(); err != nil {
				return
			}
		}
	}()
	goodbye := func() {
		c.WriteControl(websocket.CloseMessage, websocket.FormatCloseMessage(websocket.CloseGoingAway, bye), time.Now().Add(time.Second))
	}
	t := time.NewTicker(WatchInterval)
	defer t.Stop()
	for {
		v, err := next()
		if err != nil {
			goodbye()
			return
		}
		frame, err := json.Marshal(v)
		if err != nil {
			return
		}
		c.SetWriteDeadline(time.Now().Add(5 * time.Second))
		if err := c.WriteMessage(websocket.TextMessage, frame); err != nil {
			return
		}
		select {
		case <-t.C:
		case <-gone:
			return
		case <-done:
			goodbye()
			return
		}
	}
}

// handleView answers one ClusterView frame over plain HTTP (for tools and
// tests that do not speak WebSocket).
func (s *Server) handleView(w http.ResponseWriter, r *http.Request) {
	var v sim.ClusterView
	if err := s.do(r.Context(), func() { v = s.view() }); err != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: err.Error()})
		return
	}
	WriteJSON(w, http.StatusOK, v)
}
