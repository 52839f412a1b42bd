package server

import (
	"encoding/json"
	"errors"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/broker"
)

// FuzzHTTPDecoders feeds the HTTP API's decoders what a client could send:
// a request body for every JSON endpoint and a consume's query string. None
// may panic; whatever decodes must survive a round trip, a consume query
// must land within its bounds, and a produce request that decodes is either
// prepared or refused with one of the broker's sentinel errors.
func FuzzHTTPDecoders(f *testing.F) {
	for _, seed := range []struct{ body, query string }{
		{`{"body":"hello","tags":"TagA","keys":"k1 k2","producer":"p1","seq":1}`, "offset=0&max=10"},
		{`{"peers":[2,3],"to":2}`, "max_bytes=4096"},
		{`{"check_quorum":false,"pre_vote":true}`, "offset=18446744073709551615"},
		{`{"peer":2,"latency_ms":80,"jitter_ms":10,"loss":0.05}`, "max=1001&offset=3"},
		{`{"body":"\u0000\ud800","seq":3}`, "ofset=1"},
		{``, "offset=1&offset=2"},
		{`{"body":"x"} {}`, "%zz"},
		{`[1,2,3]`, "max=-1"},
	} {
		f.Add([]byte(seed.body), seed.query)
	}
	b := broker.New(broker.Options{})
	f.Fuzz(func(t *testing.T, body []byte, query string) {
		var pr ProduceRequest
		if roundTrip(t, body, &pr) {
			msg := broker.Message{Topic: "orders", Tags: pr.Tags, Keys: pr.Keys, Body: []byte(pr.Body), Producer: pr.Producer, Seq: pr.Seq}
			if data, _, err := b.Prepare(msg); err != nil {
				assert.True(t, errors.Is(err, broker.ErrBadMessage) || errors.Is(err, broker.ErrTooLarge) || errors.Is(err, broker.ErrBadTopic),
					"Prepare of %+v: %v", pr, err)
			} else {
				assert.LessOrEqual(t, len(data), broker.DefaultMaxMessageBytes)
			}
		}
		roundTrip(t, body, &AdminRequest{})
		roundTrip(t, body, &LinkRequest{})
		roundTrip(t, body, &RulesRequest{})

		q, err := ParseConsumeQuery(query)
		if err != nil {
			assert.NotEmpty(t, err.Error())
			return
		}
		assert.True(t, q.Max >= 1 && q.Max <= MaxConsume, "max %d", q.Max)
		assert.True(t, q.MaxBytes >= 1 && q.MaxBytes <= MaxConsumeBytes, "max_bytes %d", q.MaxBytes)
	})
}

// roundTrip decodes body into v as a handler would and, if that works,
// checks that encoding v and decoding it again gives v back. It reports
// whether body decoded.
func roundTrip[T any](t *testing.T, body []byte, v *T) bool {
	t.Helper()
	if err := DecodeJSON(body, v, true); err != nil {
		require.Contains(t, err.Error(), "malformed JSON")
		return false
	}
	enc, err := json.Marshal(v)
	require.NoError(t, err)
	var again T
	require.NoError(t, DecodeJSON(enc, &again, false), "%s", enc)
	require.Equal(t, *v, again, "%s", enc)
	return true
}
