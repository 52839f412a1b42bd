package sim

import "slices"

// eventQueue holds the scheduled events in (time, sequence) order. Events
// live by value in a slab (freed slots are reused); the queue orders small
// keys that point into it, so scheduling allocates nothing once the slab and
// the buckets have grown. Cloning copies the slab; the events' slices
// (message entries) are never changed once scheduled, so clones may share
// them.
//
// The keys sit in a timing wheel: almost every event is due within a few
// hundred virtual milliseconds (network, fsync, ticks), so an event due
// before base+wheelSize goes to the bucket of its millisecond, kept in
// sequence order, and the rest to a binary heap. Taking the next event is
// then a look at the first non-empty bucket from base and at the heap's top,
// instead of a heap operation on every event.
type eventQueue struct {
	slab []event
	free []int32
	// popped is the slot of the event last popped, freed at the next pop
	// so the event stays readable while it is processed (-1: none).
	popped int32
	// base is the time of the event last popped. Invariant: every queued
	// event is due at base or later, and one in the wheel before
	// base+wheelSize, in bucket at%wheelSize.
	base  int64
	wheel [wheelSize]bucket
	// inWheel counts the keys in the wheel; far is a heap of the others.
	inWheel int
	far     []qkey
	// next is the time of the earliest bucket with keys, when nextOK.
	next   int64
	nextOK bool
}

// wheelSize is how many milliseconds ahead the wheel reaches.
const wheelSize = 256

// bucket holds one millisecond's keys, in sequence order from head on.
type bucket struct {
	keys []qkey
	head int32
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
	c := *q
	c.slab = slices.Clone(q.slab)
	c.free = slices.Clone(q.free)
	c.far = slices.Clone(q.far)
	for i := range c.wheel {
		b := &q.wheel[i]
		c.wheel[i] = bucket{keys: slices.Clone(b.keys[b.head:])}
	}
	return c
}

// current is the event last popped, or nil.
func (q *eventQueue) current() *event {
	if q.popped < 0 {
		return nil
	}
	return &q.slab[q.popped]
}

func (q *eventQueue) len() int { return q.inWheel + len(q.far) }

// nextAt is the time of the earliest event; the queue must not be empty.
func (q *eventQueue) nextAt() int64 {
	if q.inWheel == 0 {
		return q.far[0].at
	}
	t := q.wheelNext()
	if len(q.far) > 0 && q.far[0].at < t {
		return q.far[0].at
	}
	return t
}

// wheelNext returns the time of the earliest bucket with keys; the wheel
// must not be empty.
func (q *eventQueue) wheelNext() int64 {
	if !q.nextOK {
		t := q.base
		for b := &q.wheel[t%wheelSize]; int(b.head) == len(b.keys); b = &q.wheel[t%wheelSize] {
			t++
		}
		q.next, q.nextOK = t, true
	}
	return q.next
}

// push adds e, whose at (not before the last popped event's) and seq are
// set.
func (q *eventQueue) push(e *event) {
	*q.pushNew(e.at, e.seq) = *e
}

// pushNew queues a zero event at (at, seq) and returns it for the caller to
// fill in before anything else touches the queue.
func (q *eventQueue) pushNew(at int64, seq uint64) *event {
	var slot int32
	if n := len(q.free); n > 0 {
		slot = q.free[n-1]
		q.free = q.free[:n-1]
		q.slab[slot] = event{at: at, seq: seq}
	} else {
		slot = int32(len(q.slab))
		q.slab = append(q.slab, event{at: at, seq: seq})
	}
	q.insert(qkey{at: at, seq: seq, slot: slot})
	return &q.slab[slot]
}

// insert files k in the wheel or, if it is far ahead, the heap.
func (q *eventQueue) insert(k qkey) {
	if k.at >= q.base+wheelSize {
		q.pushFar(k)
		return
	}
	b := &q.wheel[k.at%wheelSize]
	if int(b.head) == len(b.keys) {
		b.keys, b.head = b.keys[:0], 0
	}
	// Keys nearly always come in sequence order; the rare earlier one (a
	// produce timeout with a sequence number reserved when it was sent)
	// is inserted in its place.
	i := len(b.keys)
	for i > int(b.head) && b.keys[i-1].seq > k.seq {
		i--
	}
	if i == len(b.keys) {
		b.keys = append(b.keys, k)
	} else {
		b.keys = slices.Insert(b.keys, i, k)
	}
	q.inWheel++
	if q.nextOK && k.at < q.next {
		q.next = k.at
	}
}

// pop removes the earliest event and returns it; it stays valid until the
// next pop.
func (q *eventQueue) pop() *event {
	if q.popped >= 0 {
		q.free = append(q.free, q.popped)
	}
	var k qkey
	fromWheel := q.inWheel > 0
	if fromWheel {
		b := &q.wheel[q.wheelNext()%wheelSize]
		k = b.keys[b.head]
		if len(q.far) > 0 && q.far[0].less(k) {
			fromWheel = false
		} else {
			b.head++
			q.inWheel--
			if int(b.head) == len(b.keys) {
				q.nextOK = false
			}
		}
	}
	if !fromWheel {
		k = q.popFar()
	}
	q.base = k.at
	q.popped = k.slot
	return &q.slab[k.slot]
}

// each calls f for every queued event, in no particular order.
func (q *eventQueue) each(f func(e *event)) {
	for i := range q.wheel {
		b := &q.wheel[i]
		for _, k := range b.keys[b.head:] {
			f(&q.slab[k.slot])
		}
	}
	for _, k := range q.far {
		f(&q.slab[k.slot])
	}
}

func (q *eventQueue) pushFar(k qkey) {
	h := append(q.far, k)
	i := len(h) - 1
	for i > 0 {
		p := (i - 1) / 2
		if !k.less(h[p]) {
			break
		}
		h[i] = h[p]
		i = p
	}
	h[i] = k
	q.far = h
}

func (q *eventQueue) popFar() qkey {
	h := q.far
	top := h[0]
	n := len(h) - 1
	k := h[n]
	h = h[:n]
	if n > 0 {
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
	q.far = h
	return top
}
