package server

// Partitions of Controller mode's processes (docs/CONTROLLER.md,
// "Partitions"): POST /v1/admin/partition and /v1/admin/heal on a
// controller (package ctlserver) or a Controller-mode broker (package
// ctlbroker). Such a member talks to two kinds of members: its own kind
// over the peer links (brokers push and ack, controllers run Raft), and
// the other kind over HTTP (a broker heartbeats the controllers, a
// controller answers the brokers). A partition cuts both: the peer links
// through the transport's block list, as a DLedger-mode broker's
// partition does, and the other kind's traffic through a CutSet the
// member consults.

import (
	"fmt"
	"log/slog"
	"maps"
	"net/http"
	"slices"
	"sync"

	"dledgerlab/core"
	"dledgerlab/native/transport"
)

// CutSet is the set of the other kind's members cut off; safe for
// concurrent use.
type CutSet struct {
	mu sync.Mutex
	m  map[uint64]bool
}

// Add cuts ids off.
func (c *CutSet) Add(ids []uint64) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.m == nil {
		c.m = map[uint64]bool{}
	}
	for _, id := range ids {
		c.m[id] = true
	}
}

// Clear restores every member.
func (c *CutSet) Clear() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.m)
}

// Has reports whether id is cut off.
func (c *CutSet) Has(id uint64) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.m[id]
}

// List returns the ids cut off, sorted (never nil).
func (c *CutSet) List() []uint64 {
	c.mu.Lock()
	defer c.mu.Unlock()
	return append([]uint64{}, slices.Sorted(maps.Keys(c.m))...)
}

// Cutter serves POST /v1/admin/{partition,heal} for a member of
// Controller mode.
type Cutter struct {
	// ID, Peers and Role are the member, its group (same kind: its peer
	// links) and its kind: "broker" or "controller".
	ID    core.NodeID
	Peers map[core.NodeID]string
	Role  string
	Trans *transport.Transport
	// Other is the other kind ("controller" for a broker), Others the
	// set of them cut off, CheckOther refuses an id that names none of
	// them (saying which there are).
	Other      string
	Others     *CutSet
	CheckOther func(id uint64) error
	Log        *slog.Logger
}

// Handle serves one admin call: partition (AdminRequest: Peers are the
// member's own kind; Brokers and Controllers name either kind) or heal;
// any other action is 404 naming the two.
func (c Cutter) Handle(w http.ResponseWriter, r *http.Request) {
	var req AdminRequest
	if !decodeBody(w, r, &req, true) {
		return
	}
	same, other := append(slices.Clone(req.Peers), req.Brokers...), req.Controllers
	if c.Role == "controller" {
		same, other = append(slices.Clone(req.Peers), req.Controllers...), req.Brokers
	}
	bad := func(err error) {
		WriteError(w, http.StatusBadRequest, ErrorBody{Code: CodeBadRequest, Message: fmt.Sprintf("%s %d: %v", c.Role, c.ID, err)})
	}
	switch action := r.PathValue("action"); action {
	case "partition":
		if len(same) == 0 && len(other) == 0 {
			bad(fmt.Errorf(`partition needs the members to cut off: {"%ss": [ids], "%ss": [ids]}`, c.Role, c.Other))
			return
		}
		ids, err := PeersToCut(c.ID, c.Peers, c.Role, same)
		if err != nil {
			bad(err)
			return
		}
		for _, id := range other {
			if err := c.CheckOther(id); err != nil {
				bad(err)
				return
			}
		}
		c.Trans.Cut(ids)
		c.Others.Add(other)
		c.Log.Info("partition: links cut", c.Role+"s", fmt.Sprint(same), c.Other+"s", fmt.Sprint(other))
	case "heal":
		if len(same) > 0 || len(other) > 0 {
			bad(fmt.Errorf("heal restores every link and takes no ids"))
			return
		}
		c.Trans.Heal()
		c.Others.Clear()
		c.Log.Info("partition healed; links restored")
	default:
		WriteError(w, http.StatusNotFound, ErrorBody{Code: CodeNotFound, Message: fmt.Sprintf("unknown admin action %q of a %s (partition, heal)", action, c.Role)})
		return
	}
	WriteJSON(w, http.StatusOK, map[string]any{"ok": true, "action": r.PathValue("action"),
		"partitioned": c.Cuts(), c.Other + "s_cut": c.Others.List()})
}

// Cuts returns the member's own kind cut off, sorted (never nil).
func (c Cutter) Cuts() []uint64 {
	out := []uint64{}
	for _, id := range c.Trans.Cuts() {
		out = append(out, uint64(id))
	}
	return out
}
