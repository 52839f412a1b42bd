package sim

import "slices"

// eventQueue holds the scheduled events in (time, sequence) order. Events
// live by value in a slab (freed slots are reused), and a binary heap of
// small keys orders them, so scheduling allocates nothing once the slab
// has grown. Cloning copies the slab; the events' slices (message entries)
// are never changed once scheduled, so clones may share them.
type eventQueue struct {
	slab []event
	free []int32
	heap []qkey
	// popped is the slot of the event last popped, freed at the next pop
	// so the event stays readable while it is processed (-1: none).
	popped int32
}

type qkey struct {
	at   int64
	seq  uint64
	slot int32
}

func (a qkey) less(b qkey) bool {
	if a.at != b.at {
		return a.at < b.at
	}
	return a.seq < b.seq
}

func (q *eventQueue) clone() eventQueue {
	return eventQueue{slab: slices.Clone(q.slab), free: slices.Clone(q.free), heap: slices.Clone(q.heap), popped: q.popped}
}

// current is the event last popped, or nil.
func (q *eventQueue) current() *event {
	if q.popped < 0 {
		return nil
	}
	return &q.slab[q.popped]
}

func (q *eventQueue) len() int { return len(q.heap) }

// nextAt is the time of the earliest event; the queue must not be empty.
func (q *eventQueue) nextAt() int64 { return q.heap[0].at }

// push adds e, whose at and seq are set.
func (q *eventQueue) push(e *event) {
	var slot int32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
		q.slab[slot] = *e
	} else {
		slot = int32(len(q.slab))
		q.slab = append(q.slab, *e)
	}
	h := append(q.heap, qkey{at: e.at, seq: e.seq, slot: slot})
	// sift up
	i := len(h) - 1
	k := h[i]
	for i > 0 {
		p := (i - 1) / 2
		if !k.less(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = k
	q.heap = h
}

// pop removes the earliest event and returns it; it stays valid until the
// next pop.
func (q *eventQueue) pop() *event {
	if q.popped >= 0 {
		q.free = append(q.free, q.popped)
	}
	h := q.heap
	slot := h[0].slot
	n := len(h) - 1
	k := h[n]
	h = h[:n]
	if n > 0 {
		// sift down
		i := 0
		for {
			c := 2*i + 1
			if c >= n {
				break
			}
			if c+1 < n && h[c+1].less(h[c]) {
				c++
			}
			if !h[c].less(k) {
				break
			}
			h[i] = h[c]
			i = c
		}
		h[i] = k
	}
	q.heap = h
	q.popped = slot
	return &q.slab[slot]
}

// each calls f for every queued event, in no particular order.
func (q *eventQueue) each(f func(e *event)) {
	for _, k := range q.heap {
		f(&q.slab[k.slot])
	}
}
