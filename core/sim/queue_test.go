package sim

import (
	"slices"
	"testing"

	"dledgerlab/core/internal/xrand"
)

// TestEventQueueOrder holds the timing wheel to the plain definition: events
// come out in (time, sequence) order, whatever mix of near, far, same-time
// and out-of-sequence pushes went in, and a clone goes on exactly like the
// original.
func TestEventQueueOrder(t *testing.T) {
	for seed := uint64(1); seed <= 50; seed++ {
		rng := xrand.New(seed)
		q := eventQueue{popped: -1}
		var ref []qkey // the reference: every queued key
		var now int64
		var seq uint64
		var reserved []uint64
		var clone *eventQueue
		var cloneRef []qkey
		check := func(q *eventQueue, ref []qkey) []qkey {
			slices.SortFunc(ref, func(a, b qkey) int {
				if a.less(b) {
					return -1
				}
				return 1
			})
			if q.len() != len(ref) {
				t.Fatalf("seed %d: len %d, want %d", seed, q.len(), len(ref))
			}
			if len(ref) == 0 {
				return ref
			}
			if got := q.nextAt(); got != ref[0].at {
				t.Fatalf("seed %d: nextAt %d, want %d", seed, got, ref[0].at)
			}
			e := q.pop()
			if e.at != ref[0].at || e.seq != ref[0].seq {
				t.Fatalf("seed %d: popped (%d, %d), want (%d, %d)", seed, e.at, e.seq, ref[0].at, ref[0].seq)
			}
			return ref[1:]
		}
		for step := range 3000 {
			switch r := rng.Intn(10); {
			case r < 5: // schedule: mostly near, sometimes far, often at now
				var d int64
				switch rng.Intn(4) {
				case 0:
					d = 0
				case 1:
					d = int64(rng.Intn(wheelSize * 3))
				default:
					d = int64(rng.Intn(40))
				}
				seq++
				if rng.Intn(8) == 0 {
					reserved = append(reserved, seq) // used later, out of order
					continue
				}
				e := event{at: now + d, seq: seq}
				q.push(&e)
				ref = append(ref, qkey{at: e.at, seq: e.seq})
			case r < 6 && len(reserved) > 0: // a reserved, older sequence number
				e := event{at: now + int64(rng.Intn(30)), seq: reserved[0]}
				reserved = reserved[1:]
				q.push(&e)
				ref = append(ref, qkey{at: e.at, seq: e.seq})
			default:
				if len(ref) > 0 {
					now = q.nextAt()
				}
				ref = check(&q, ref)
			}
			if step == 1500 {
				c := q.clone()
				clone, cloneRef = &c, slices.Clone(ref)
			}
		}
		for len(ref) > 0 {
			ref = check(&q, ref)
		}
		// The clone, drained from where it was taken, gives its own order.
		for len(cloneRef) > 0 {
			cloneRef = check(clone, cloneRef)
		}
	}
}
