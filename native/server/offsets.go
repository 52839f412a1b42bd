package server

// Consumer groups' offsets on a real broker (issue 19), kept the two ways of
// broker.OffsetMode:
//
//   - local (RocketMQ's DLedger mode): the leader stores a commit in its own
//     table (checkpointed with the broker's state), and every OffsetSync a
//     follower copies the leader's table over HTTP, as a RocketMQ slave's
//     SlaveSynchronize.syncConsumerOffset pulls the master's
//     (broker/slave/SlaveSynchronize.java);
//   - replicated: a commit is an offset-commit entry in the log, answered
//     once it is committed and applied, so every broker holds it.
//
// POST /v1/groups/{group}/offsets {"topic", "offset"} commits (leader only);
// GET /v1/groups/{group}/offsets?topic=T answers this broker's offset;
// GET /v1/groups answers its whole table (what followers copy).

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"time"

	"dledgerlab/core"
	"dledgerlab/core/broker"
)

// DefaultOffsetSync is how often a follower copies the leader's offsets in
// the local mode.
const DefaultOffsetSync = 5 * time.Second

// OffsetCommitRequest is the body of POST /v1/groups/{group}/offsets.
type OffsetCommitRequest struct {
	Topic  string `json:"topic"`
	Offset uint64 `json:"offset"`
}

// OffsetResponse answers a commit and a fetch of one group's offset.
type OffsetResponse struct {
	Group  string `json:"group"`
	Topic  string `json:"topic"`
	Offset uint64 `json:"offset"`
	// Broker is the broker that answered; Mode how it keeps offsets.
	Broker uint64 `json:"broker"`
	Mode   string `json:"mode"`
	// Known is false when this broker holds no offset for the group (a
	// consumer then starts from the queue's first message).
	Known bool `json:"known"`
	// Index is the commit's log entry (replicated mode).
	Index uint64 `json:"index,omitempty"`
}

// OffsetTable answers GET /v1/groups: group → topic → offset.
type OffsetTable struct {
	Broker  uint64                       `json:"broker"`
	Offsets map[string]map[string]uint64 `json:"offsets"`
}

// offsetWait is a replicated commit waiting for its entry.
type offsetWait struct {
	term     uint64
	done     chan error // buffered
	deadline time.Time
}

func (s *Server) handleCommitOffset(w http.ResponseWriter, r *http.Request) {
	var req OffsetCommitRequest
	if !decodeBody(w, r, &req, false) {
		return
	}
	c := broker.OffsetCommit{Group: r.PathValue("group"), Topic: req.Topic, Offset: req.Offset}
	data, err := broker.EncodeOffsetCommit(c)
	if err != nil {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: err.Error()})
		return
	}
	var wait *offsetWait
	var index uint64
	var notLeader core.NodeID
	isLeader := true
	if derr := s.do(r.Context(), func() {
		st := s.raft.Status()
		if st.Role != core.RoleLeader {
			isLeader, notLeader = false, st.Lead
			return
		}
		if s.cfg.Offsets == broker.OffsetsLocal {
			s.bk.CommitOffset(c.Group, c.Topic, c.Offset)
			s.offsetsDirty = true
			return
		}
		var term uint64
		if index, term, err = s.raft.Propose(data); err == nil {
			wait = &offsetWait{term: term, done: make(chan error, 1), deadline: time.Now().Add(s.cfg.ProduceTimeout)}
			s.offsetWaits[index] = wait
		}
	}); derr != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: derr.Error()})
		return
	}
	if !isLeader {
		s.writeProduceError(w, produceResult{err: core.ErrNotLeader, leader: notLeader})
		return
	}
	if err != nil {
		s.writeProduceError(w, produceResult{err: err})
		return
	}
	if wait != nil {
		select {
		case err = <-wait.done:
		case <-s.stopped:
			err = fmt.Errorf("the broker is stopping: %w", broker.ErrOutcomeUnknown)
		case <-r.Context().Done():
			return
		}
		if err != nil {
			WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeLeaderChanged, Outcome: "unknown",
				Message: fmt.Sprintf("offset commit at entry %d: %v; commit again (a commit only sets the offset, so repeating it is safe)", index, err)})
			return
		}
	}
	WriteJSON(w, http.StatusOK, OffsetResponse{Group: c.Group, Topic: c.Topic, Offset: c.Offset, Broker: uint64(s.cfg.ID),
		Mode: s.cfg.Offsets.String(), Known: true, Index: index})
}

func (s *Server) handleFetchOffset(w http.ResponseWriter, r *http.Request) {
	group, topic := r.PathValue("group"), r.URL.Query().Get("topic")
	if err := broker.CheckGroup(group); err != nil {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: err.Error()})
		return
	}
	if topic == "" {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: "the query needs topic=NAME"})
		return
	}
	resp := OffsetResponse{Group: group, Topic: topic, Broker: uint64(s.cfg.ID), Mode: s.cfg.Offsets.String()}
	current := true
	if derr := s.do(r.Context(), func() {
		current = s.offsetsCurrent()
		resp.Offset, resp.Known = s.bk.LookupOffset(group, topic)
	}); derr != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: derr.Error()})
		return
	}
	if !current {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable,
			Message: fmt.Sprintf("broker %d leads a new term and has not yet applied an entry of it, so it may lack commits the previous leader got committed (Raft §8); retry shortly", s.cfg.ID)})
		return
	}
	WriteJSON(w, http.StatusOK, resp)
}

func (s *Server) handleGroups(w http.ResponseWriter, r *http.Request) {
	var t OffsetTable
	if derr := s.do(r.Context(), func() { t = OffsetTable{Broker: uint64(s.cfg.ID), Offsets: s.bk.Offsets()} }); derr != nil {
		WriteError(w, http.StatusServiceUnavailable, ErrorBody{Code: CodeUnavailable, Message: derr.Error()})
		return
	}
	WriteJSON(w, http.StatusOK, t)
}

// offsetsCurrent says whether this broker's replicated offsets include
// every committed commit: a leader only once it applied an entry of its own
// term. Local offsets are what they are.
func (s *Server) offsetsCurrent() bool {
	if s.cfg.Offsets == broker.OffsetsLocal || s.raft.Role() != core.RoleLeader {
		return true
	}
	return s.raft.LeadsWithCurrentState(s.bk.AppliedIndex())
}

// offsetApplied answers the replicated commit waiting for entry index, if
// any (runner only).
func (s *Server) offsetApplied(index, term uint64) {
	w := s.offsetWaits[index]
	if w == nil {
		return
	}
	delete(s.offsetWaits, index)
	if w.term != term {
		w.done <- fmt.Errorf("entry %d was replaced by another leader's: %w", index, broker.ErrNotCommitted)
		return
	}
	w.done <- nil
}

// failOffsetWaits answers every waiting commit with err (runner only), or
// only those past their deadline when now is not zero.
func (s *Server) failOffsetWaits(err error, now time.Time) {
	for idx, w := range s.offsetWaits {
		if now.IsZero() || now.After(w.deadline) {
			delete(s.offsetWaits, idx)
			w.done <- err
		}
	}
}

// syncOffsetsLoop is the local mode's follower side: every OffsetSync it
// copies the leader's table (SlaveSynchronize.syncConsumerOffset).
func (s *Server) syncOffsetsLoop(ctx context.Context) {
	if s.cfg.Offsets != broker.OffsetsLocal {
		return
	}
	t := time.NewTicker(s.cfg.OffsetSync)
	defer t.Stop()
	hc := &http.Client{Timeout: 2 * time.Second}
	for {
		select {
		case <-ctx.Done():
			return
		case <-s.stopped:
			return
		case <-t.C:
		}
		var lead core.NodeID
		var role core.Role
		if s.do(ctx, func() { st := s.raft.Status(); lead, role = st.Lead, st.Role }) != nil {
			return
		}
		if role != core.RoleFollower || lead == core.None || s.cfg.HTTP[lead] == "" {
			continue
		}
		table, err := fetchOffsets(ctx, hc, s.cfg.HTTP[lead])
		if err != nil {
			s.log.Debug("offset sync from the leader failed; next try in one period", "leader", uint64(lead), "err", err)
			continue
		}
		if s.do(ctx, func() { s.bk.SyncOffsets(table.Offsets); s.offsetsDirty = true }) != nil {
			return
		}
	}
}

func fetchOffsets(ctx context.Context, hc *http.Client, addr string) (OffsetTable, error) {
	var t OffsetTable
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+"/v1/groups", nil)
	if err != nil {
		return t, err
	}
	resp, err := hc.Do(req)
	if err != nil {
		return t, err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return t, fmt.Errorf("GET /v1/groups on %s: %s", addr, resp.Status)
	}
	body, err := io.ReadAll(io.LimitReader(resp.Body, 16<<20))
	if err != nil {
		return t, err
	}
	if err := DecodeJSON(body, &t, false); err != nil {
		return t, fmt.Errorf("GET /v1/groups on %s: %w", addr, err)
	}
	return t, nil
}
