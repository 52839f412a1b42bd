package server

// The teaching controls of the admin API: start an election now, switch
// CheckQuorum and PreVote, shape an outgoing link. They are real features
// of a broker, for an instructor showing what the simulator shows.

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"slices"
	"strings"
	"time"

	"dledgerlab/core"
	"dledgerlab/native/transport"
)

// CampaignResponse answers POST /v1/admin/campaign.
type CampaignResponse struct {
	OK     bool   `json:"ok"`
	Action string `json:"action"`
	// Campaigned is false when this broker already leads (a leader ignores
	// the call).
	Campaigned bool   `json:"campaigned"`
	Role       string `json:"role"`
	Term       uint64 `json:"term"`
}

// handleCampaign starts an election now, as if this broker's election timer
// had fired (core.Node.Campaign): it raises its term and asks for votes past
// the voters' lease.
func (s *Server) handleCampaign(w http.ResponseWriter, r *http.Request) {
	var req struct{}
	if !decodeBody(w, r, &req, true) {
		return
	}
	var resp CampaignResponse
	if err := s.do(r.Context(), func() {
		resp.Campaigned = s.raft.Role() != core.RoleLeader
		s.raft.Campaign()
		st := s.raft.Status()
		resp.Role, resp.Term = st.Role.String(), st.Term
	}); err != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: err.Error()})
		return
	}
	resp.OK, resp.Action = true, "campaign"
	if resp.Campaigned {
		s.log.Info("campaign requested through the admin API", "term", resp.Term)
	}
	WriteJSON(w, http.StatusOK, resp)
}

// RulesRequest is the body of POST /v1/admin/rules; a missing field keeps
// its switch.
type RulesRequest struct {
	CheckQuorum *bool `json:"check_quorum,omitempty"`
	PreVote     *bool `json:"pre_vote,omitempty"`
}

// RulesResponse answers POST /v1/admin/rules with the switches now.
type RulesResponse struct {
	OK          bool   `json:"ok"`
	Action      string `json:"action"`
	CheckQuorum bool   `json:"check_quorum"`
	PreVote     bool   `json:"pre_vote"`
}

// SafetyRules are the simulator's rule switches a real broker refuses: it
// always keeps them.
var SafetyRules = []string{"up_to_date_check", "current_term_commit", "persist_before_ack"}

func (s *Server) handleRules(w http.ResponseWriter, r *http.Request) {
	var raw map[string]json.RawMessage
	if !decodeBody(w, r, &raw, true) {
		return
	}
	for k := range raw {
		switch {
		case k == "check_quorum" || k == "pre_vote":
		case slices.Contains(SafetyRules, k):
			WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest,
				Message: fmt.Sprintf("%s is a safety rule: switching it off breaks Raft, so only the simulator (whose checkers catch the damage) can; a real broker always keeps it", k)})
			return
		default:
			WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest,
				Message: fmt.Sprintf(`unknown rule %q: a broker has the switches check_quorum and pre_vote, e.g. {"check_quorum": false}`, k)})
			return
		}
	}
	var req RulesRequest
	for k, v := range raw {
		var b bool
		if err := json.Unmarshal(v, &b); err != nil {
			WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("%s must be true or false, not %s", k, v)})
			return
		}
		if k == "check_quorum" {
			req.CheckQuorum = &b
		} else {
			req.PreVote = &b
		}
	}
	if req.CheckQuorum == nil && req.PreVote == nil {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: `rules needs at least one switch: {"check_quorum": true|false, "pre_vote": true|false}`})
		return
	}
	var resp RulesResponse
	if err := s.do(r.Context(), func() {
		if req.CheckQuorum != nil {
			s.checkQuorum = *req.CheckQuorum
		}
		if req.PreVote != nil {
			s.preVote = *req.PreVote
		}
		s.raft.SetSwitches(!s.checkQuorum, !s.preVote, core.Rules{})
		resp.CheckQuorum, resp.PreVote = s.checkQuorum, s.preVote
	}); err != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: err.Error()})
		return
	}
	resp.OK, resp.Action = true, "rules"
	s.log.Info("rules switched through the admin API", "check_quorum", resp.CheckQuorum, "pre_vote", resp.PreVote)
	WriteJSON(w, http.StatusOK, resp)
}

// LinkRequest is the body of POST /v1/admin/link: the shaping of this
// broker's outgoing link to Peer. All zero restores the link.
type LinkRequest struct {
	Peer      uint64  `json:"peer"`
	LatencyMs int64   `json:"latency_ms"`
	JitterMs  int64   `json:"jitter_ms"`
	Loss      float64 `json:"loss"`
}

// LinkResponse answers POST /v1/admin/link with every shaped link now.
type LinkResponse struct {
	OK     bool          `json:"ok"`
	Action string        `json:"action"`
	Links  []LinkRequest `json:"links"`
}

func (s *Server) handleLink(w http.ResponseWriter, r *http.Request) {
	var req LinkRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	id := core.NodeID(req.Peer)
	max := transport.MaxLinkDelay.Milliseconds()
	switch {
	case req.Peer == 0:
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: `link needs {"peer": N, "latency_ms": …, "jitter_ms": …, "loss": 0..1}: peer is the broker this broker's outgoing link goes to`})
		return
	case id == s.cfg.ID || s.cfg.Peers[id] == "":
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("broker %d is not another member of this group (%s)", req.Peer, s.otherPeers())})
		return
	case req.Loss < 0 || req.Loss > 1 || math.IsNaN(req.Loss):
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("loss %v must be within 0..1 (0.05 drops 5%% of the messages)", req.Loss)})
		return
	case req.LatencyMs < 0 || req.LatencyMs > max || req.JitterMs < 0 || req.JitterMs > max:
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("latency_ms %d and jitter_ms %d must be within 0..%d", req.LatencyMs, req.JitterMs, max)})
		return
	}
	f := transport.LinkFault{Latency: time.Duration(req.LatencyMs) * time.Millisecond, Jitter: time.Duration(req.JitterMs) * time.Millisecond, Loss: req.Loss}
	if err := s.trans.SetLink(id, f); err != nil {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: err.Error()})
		return
	}
	s.log.Info("link shaped through the admin API", "peer", req.Peer, "latency_ms", req.LatencyMs, "jitter_ms", req.JitterMs, "loss", req.Loss)
	resp := LinkResponse{OK: true, Action: "link", Links: []LinkRequest{}}
	links := s.trans.Links()
	ids := make([]core.NodeID, 0, len(links))
	for id := range links {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		l := links[id]
		resp.Links = append(resp.Links, LinkRequest{Peer: uint64(id), LatencyMs: l.Latency.Milliseconds(), JitterMs: l.Jitter.Milliseconds(), Loss: l.Loss})
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) otherPeers() string {
	var ids []string
	for id := range s.cfg.Peers {
		if id != s.cfg.ID {
			ids = append(ids, fmt.Sprint(uint64(id)))
		}
	}
	slices.Sort(ids)
	if len(ids) == 0 {
		return "it has no other member"
	}
	return "its other members: " + strings.Join(ids, ", ")
}
