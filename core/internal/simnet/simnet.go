// Package simnet is the simulated network the two simulators share: core/sim
// (a DLedger broker group) and core/ctlsim (controllers and a broker group in
// Controller mode). Each directed link delays, loses, duplicates and
// reorders messages with draws from the run's seeded source; a link is FIFO
// like the TCP connections RocketMQ uses unless a draw lets a message
// overtake; cut links make partitions. It is pure: the caller owns the clock
// and the event queue, and asks Plan what becomes of each message it sends.
package simnet

import (
	"fmt"
	"maps"
	"slices"

	"dledgerlab/core/internal/xrand"
)

// LinkConf is one directed link's behaviour.
type LinkConf struct {
	LatencyMs int
	JitterMs  int
	Loss      float64
	Dup       float64
	// Reorder is the chance that a message may overtake earlier ones;
	// otherwise a link is FIFO.
	Reorder float64
}

// Link is a directed link between two nodes.
type Link struct {
	From int `json:"from"`
	To   int `json:"to"`
}

func (l Link) String() string { return fmt.Sprintf("%d→%d", l.From, l.To) }

// MaxNodes is the highest node id a Net serves.
const MaxNodes = 9

// Net is the network's state: the default link, links set apart, cut links
// and the last partition (for drawing).
type Net struct {
	Def   LinkConf
	Links map[Link]LinkConf
	Cut   map[Link]bool
	// Groups remembers the last partition, for drawing.
	Groups [][]int
	// last is the latest delivery time scheduled on each link (FIFO),
	// indexed by lastSlot.
	last [(MaxNodes + 1) * (MaxNodes + 1)]int64
}

func lastSlot(l Link) int { return l.From*(MaxNodes+1) + l.To }

// New returns a healed network whose links all behave as def.
func New(def LinkConf) Net {
	return Net{Def: def, Links: map[Link]LinkConf{}, Cut: map[Link]bool{}}
}

// Clone returns an independent copy.
func (nw Net) Clone() Net {
	c := nw
	c.Links = maps.Clone(nw.Links)
	c.Cut = maps.Clone(nw.Cut)
	c.Groups = slices.Clone(nw.Groups)
	return c
}

// Conf returns link l's behaviour.
func (nw *Net) Conf(l Link) LinkConf {
	if len(nw.Links) > 0 {
		if c, ok := nw.Links[l]; ok {
			return c
		}
	}
	return nw.Def
}

// Delivery is one copy of a sent message: when it arrives, and whether it
// is lost on the way (the caller still schedules it, so that a trace shows
// the drop at the time it would have arrived).
type Delivery struct {
	At   int64
	Lost bool
}

// Plan draws what becomes of one message sent on l at now: it fills out
// with one delivery, or two when the link duplicates it, and returns how
// many. The draws are, in order: duplication, then for each copy its
// jitter, whether it may overtake, whether it is lost.
func (nw *Net) Plan(r *xrand.Rand, now int64, l Link, out *[2]Delivery) int {
	c := nw.Conf(l)
	copies := 1
	if r.Chance(c.Dup) {
		copies = 2
	}
	for i := range copies {
		at := now + int64(c.LatencyMs+r.Intn(c.JitterMs+1))
		if !r.Chance(c.Reorder) {
			at = max(at, nw.last[lastSlot(l)])
			nw.last[lastSlot(l)] = at
		}
		out[i] = Delivery{At: at, Lost: r.Chance(c.Loss)}
	}
	return copies
}

// IsCut reports whether l is cut now.
func (nw *Net) IsCut(l Link) bool { return len(nw.Cut) > 0 && nw.Cut[l] }

// Partition cuts the links between groups (only from the first group when
// oneWay).
func (nw *Net) Partition(groups [][]int, oneWay bool) {
	for i, g := range groups {
		for j, h := range groups {
			if i == j || (oneWay && i != 0) {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					nw.Cut[Link{From: a, To: b}] = true
				}
			}
		}
	}
	nw.Groups = groups
}

// Isolate cuts node id off from nodes 1..n.
func (nw *Net) Isolate(id, n int) {
	var rest []int
	for o := 1; o <= n; o++ {
		if o != id {
			nw.Cut[Link{From: id, To: o}] = true
			nw.Cut[Link{From: o, To: id}] = true
			rest = append(rest, o)
		}
	}
	nw.Groups = [][]int{{id}, rest}
}

// Heal mends every cut link.
func (nw *Net) Heal() {
	nw.Cut = map[Link]bool{}
	nw.Groups = nil
}

// Cuts returns the cut links ordered by (From, To).
func (nw *Net) Cuts() []Link {
	// Ordered by (From, To) through a uint64 key: slices.Sort of uint64 is
	// in the engine anyway, a SortFunc over Link would add a copy of pdqsort
	// to the WebAssembly (see sortByID in core/sim/viewbuild.go).
	keys := make([]uint64, 0, len(nw.Cut))
	for l := range nw.Cut {
		keys = append(keys, uint64(l.From)<<32|uint64(uint32(l.To)))
	}
	slices.Sort(keys)
	out := make([]Link, len(keys))
	for i, k := range keys {
		out[i] = Link{From: int(k >> 32), To: int(uint32(k))}
	}
	return out
}
