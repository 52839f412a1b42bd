package server

import (
	"testing"
	"time"

	"github.com/stretchr/testify/assert"

	"dledgerlab/core"
)

// The live view's arrows: a slow link's messages are drawn slow, and of a
// stream of one kind on one link, one per third of a flight is kept, so
// that each dot drawn crosses the whole link.
func TestLiveArrowsFollowTheLink(t *testing.T) {
	s := &Server{}
	s.cfg.ID = 1
	hb := func(to core.NodeID) core.Message {
		return core.Message{Type: core.MsgHeartbeat, From: 1, To: to, Term: 3}
	}
	// Heartbeats to 2 every 50 ms for a second, on a healthy link.
	for now := int64(1000); now < 2000; now += 50 {
		s.noteSentAt(now, hb(2), false, 0)
	}
	got := s.recentSent(1950)
	if assert.Len(t, got, 3, "one per 200 ms of the 600 ms flight") {
		for _, m := range got {
			assert.Equal(t, int64(sentFlightMs), m.DeliverMs-m.SentMs)
		}
		assert.Equal(t, []int64{1400, 1600, 1800}, []int64{got[0].SentMs, got[1].SentMs, got[2].SentMs})
	}

	// A link with 2 s of latency: drawn taking 2 s, one kept per 666 ms or more.
	for now := int64(1000); now < 4000; now += 50 {
		s.noteSentAt(now, hb(3), false, 2*time.Second)
	}
	var to3 []int64
	for _, m := range s.recentSent(3950) {
		if m.To == 3 {
			assert.Equal(t, int64(2000), m.DeliverMs-m.SentMs)
			to3 = append(to3, m.SentMs)
		}
	}
	assert.Equal(t, []int64{2400, 3100, 3800}, to3, "spread over the link, the oldest near its end")

	// A dropped message and a refusal are not hidden behind ordinary ones.
	s.noteSentAt(3960, hb(2), true, 0)
	s.noteSentAt(3960, core.Message{Type: core.MsgPushResp, From: 1, To: 2, Reject: true}, false, 0)
	s.noteSentAt(3970, core.Message{Type: core.MsgPushResp, From: 1, To: 2}, false, 0)
	var dropped, refused, accepted int
	for _, m := range s.recentSent(3970) {
		switch {
		case m.Dropped:
			dropped++
		case m.Reject:
			refused++
		case m.Type == core.MsgPushResp.String():
			accepted++
		}
	}
	assert.Equal(t, []int{1, 1, 1}, []int{dropped, refused, accepted})

	// Delivered ones go.
	assert.Empty(t, s.recentSent(7000))
}
