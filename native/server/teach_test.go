package server

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
)

// lonely starts broker 1 of a group of two whose broker 2 never starts: it
// has a peer to shape links to, and stays a follower or candidate.
func lonely(t *testing.T) string {
	t.Helper()
	return startBroker(t, map[core.NodeID][2]string{2: {"127.0.0.1:1", "127.0.0.1:2"}}, func(c *Config) {
		c.ProduceTimeout = 0
		c.ElectionTicksMin, c.ElectionTicksMax = 100, 100
	})
}

var tok = []string{"Authorization", "Bearer tok"}

func TestTeachingControlsBadInput(t *testing.T) {
	base := lonely(t)
	cases := []struct {
		name, path, body string
		hdr              []string
		status           int
		code, says       string
	}{
		{"campaign without token", "campaign", "", nil, 401, CodeUnauthorized, "admin token"},
		{"rules without token", "rules", `{"pre_vote":false}`, nil, 401, CodeUnauthorized, "admin token"},
		{"link without token", "link", `{"peer":2,"loss":1}`, nil, 401, CodeUnauthorized, "admin token"},
		{"link with wrong token", "link", `{"peer":2,"loss":1}`, []string{"X-Admin-Token", "nope"}, 403, CodeForbidden, "wrong admin token"},
		{"campaign with a body", "campaign", `{"node":2}`, tok, 400, CodeBadRequest, "unknown field"},
		{"rules without a switch", "rules", `{}`, tok, 400, CodeBadRequest, "at least one switch"},
		{"rules with a safety rule", "rules", `{"up_to_date_check":false}`, tok, 400, CodeBadRequest, "only the simulator"},
		{"rules with an unknown rule", "rules", `{"pre_votes":false}`, tok, 400, CodeBadRequest, "unknown rule"},
		{"rules not a bool", "rules", `{"pre_vote":"off"}`, tok, 400, CodeBadRequest, "true or false"},
		{"rules malformed", "rules", `{"pre_vote":`, tok, 400, CodeBadRequest, "malformed"},
		{"link without peer", "link", `{"loss":0.5}`, tok, 400, CodeBadRequest, "peer"},
		{"link to an unknown peer", "link", `{"peer":9,"loss":0.5}`, tok, 400, CodeBadRequest, "broker 9 is not another member"},
		{"link to itself", "link", `{"peer":1,"loss":0.5}`, tok, 400, CodeBadRequest, "broker 1 is not another member"},
		{"link loss above 1", "link", `{"peer":2,"loss":1.5}`, tok, 400, CodeBadRequest, "within 0..1"},
		{"link loss below 0", "link", `{"peer":2,"loss":-0.1}`, tok, 400, CodeBadRequest, "within 0..1"},
		{"link negative latency", "link", `{"peer":2,"latency_ms":-5}`, tok, 400, CodeBadRequest, "latency_ms"},
		{"link huge jitter", "link", `{"peer":2,"jitter_ms":3600000}`, tok, 400, CodeBadRequest, "jitter_ms"},
		{"link unknown field", "link", `{"peer":2,"dup":0.5}`, tok, 400, CodeBadRequest, "unknown field"},
		{"partition of controllers", "partition", `{"controllers":[1]}`, tok, 400, CodeBadRequest, "broker 1 runs in DLedger mode: it has no controllers"},
		{"partition of an unknown broker", "partition", `{"brokers":[9]}`, tok, 400, CodeBadRequest, "broker 9 is not another member of this group (brokers [1 2]; this is broker 1)"},
	}
	for _, tc := range cases {
		t.Run(tc.name, func(t *testing.T) {
			status, out := call(t, "POST", base+"/v1/admin/"+tc.path, tc.body, tc.hdr...)
			assert.Equal(t, tc.status, status, "%v", out)
			assert.Equal(t, tc.code, errCode(out), "%v", out)
			e, _ := out["error"].(map[string]any)
			assert.Contains(t, e["message"], tc.says)
		})
	}
}

func TestTeachingControls(t *testing.T) {
	base := lonely(t)
	var st Status
	require.NoError(t, getJSON(base+"/v1/status", &st))
	assert.True(t, st.CheckQuorum)
	assert.True(t, st.PreVote)
	term := st.Term

	// rules: a missing switch keeps its value.
	status, out := call(t, "POST", base+"/v1/admin/rules", `{"pre_vote":false}`, tok...)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, false, out["pre_vote"])
	assert.Equal(t, true, out["check_quorum"])
	status, out = call(t, "POST", base+"/v1/admin/rules", `{"check_quorum":false}`, tok...)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, false, out["pre_vote"])
	assert.Equal(t, false, out["check_quorum"])
	require.NoError(t, getJSON(base+"/v1/status", &st))
	assert.False(t, st.CheckQuorum)
	assert.False(t, st.PreVote)

	// campaign: a candidate in the next term at once (its peer never answers).
	status, out = call(t, "POST", base+"/v1/admin/campaign", "", tok...)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, true, out["campaigned"])
	assert.Equal(t, "candidate", out["role"])
	assert.Equal(t, float64(term+1), out["term"])

	// link: shaped, shown in the status, cleared by heal.
	status, out = call(t, "POST", base+"/v1/admin/link", `{"peer":2,"latency_ms":80,"jitter_ms":10,"loss":0.25}`, tok...)
	require.Equal(t, 200, status, "%v", out)
	assert.Equal(t, []any{map[string]any{"peer": float64(2), "latency_ms": float64(80), "jitter_ms": float64(10), "loss": 0.25}}, out["links"])
	require.NoError(t, getJSON(base+"/v1/status", &st))
	require.Len(t, st.Peers, 1)
	assert.Equal(t, int64(80), st.Peers[0].LatencyMs)
	assert.Equal(t, 0.25, st.Peers[0].Loss)
	status, out = call(t, "POST", base+"/v1/admin/heal", "", tok...)
	require.Equal(t, 200, status, "%v", out)
	var healed Status
	require.NoError(t, getJSON(base+"/v1/status", &healed))
	assert.Zero(t, healed.Peers[0].LatencyMs)
	assert.Zero(t, healed.Peers[0].Loss)
}
