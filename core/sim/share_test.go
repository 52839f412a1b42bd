//go:build !js

package sim

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/internal/minijson/jsontest"
)

// (Share and Load are native only: in WebAssembly the page compresses.)

// A share string rebuilds the same run at the same moment.
func TestShareLoadReproducesRun(t *testing.T) {
	s := newSim(t, func(c *Config) { c.Nodes = 4; c.Seed = 1234 })
	s.Advance(500)
	do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: "share me"})
	s.Advance(300)
	do(t, s, Action{Kind: KindIsolate, Node: 1})
	s.Advance(777)
	share := s.Share()
	assert.Less(t, len(share), 400, "short enough for a URL fragment")
	s2, err := Load(share)
	require.NoError(t, err)
	a, _ := json.Marshal(s.View())
	b, _ := json.Marshal(s2.View())
	assert.JSONEq(t, string(a), string(b))

	for _, bad := range []string{"", "!!!", "aGVsbG8", share[:len(share)/2]} {
		_, err := Load(bad)
		assert.ErrorIs(t, err, ErrShare, "%q", bad)
	}
}

// sharedRun is a run with every kind of action the page sends.
func sharedRun(t *testing.T) *Sim {
	s := newSim(t, func(c *Config) {
		c.Nodes, c.Seed, c.Loss, c.Reorder = 5, 1<<60+7, 0.05, 0.125
		c.Rules.AckBeforePersist = true
	})
	for i, a := range []Action{
		{Kind: KindProducer, ID: "p1", Topic: "orders", Rate: 12.5},
		{Kind: KindConsumer, ID: "c1", Topic: "orders", Node: 2},
		{Kind: KindProduce, Topic: "t", Body: `<b>"é" & 主</b>` + "\u2028"},
		{Kind: KindPartition, Groups: [][]int{{1, 2}, {3, 4, 5}}, OneWay: true},
		{Kind: KindHeal},
		{Kind: KindLink, From: 1, To: 3, LatencyMs: 40, JitterMs: 7, Loss: 0.5, Dup: 1e-7, Reorder: 0.3},
		{Kind: KindRule, Rule: RulePreVote, On: false},
		{Kind: KindTrap, Rule: TrapCrashLeaderOnElection},
		{Kind: KindCrash, Node: 3},
		{Kind: KindDiskFlip, Node: 3, Offset: 9},
		{Kind: KindRestart, Node: 3},
	} {
		s.Advance(int64(100 + 37*i))
		_ = s.Do(a)
	}
	s.Advance(250)
	return s
}

// ShareJSON is what the previous encoding/json version wrote, byte for
// byte, so links keep their form (version 1) and their length.
func TestShareJSONIsEncodingJSON(t *testing.T) {
	s := sharedRun(t)
	require.NotEmpty(t, s.actions)
	want, err := json.Marshal(shared{Version: shareVersion, Config: s.cfg, Actions: s.actions, NowMs: s.st.now})
	require.NoError(t, err)
	assert.Equal(t, string(want), string(s.ShareJSON()))

	var full shared
	jsontest.Full(&full)
	s.cfg, s.actions = full.Config, full.Actions
	want, err = json.Marshal(shared{Version: shareVersion, Config: s.cfg, Actions: s.actions, NowMs: s.st.now})
	require.NoError(t, err)
	assert.Equal(t, string(want), string(s.ShareJSON()), "every field set")
}

// Links load whichever DEFLATE encoder made them: the page's
// CompressionStream, compress/flate at any level, stored blocks; and links
// made by the previous encoding/json version.
func TestLinksLoadWhateverDeflateMadeThem(t *testing.T) {
	s := sharedRun(t)
	want, _ := json.Marshal(s.View())
	old, err := json.Marshal(shared{Version: shareVersion, Config: s.cfg, Actions: s.actions, NowMs: s.st.now})
	require.NoError(t, err)
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.HuffmanOnly} {
		for _, payload := range [][]byte{s.ShareJSON(), old} {
			var buf bytes.Buffer
			w, _ := flate.NewWriter(&buf, level)
			w.Write(payload)
			w.Close()
			s2, err := Load(base64.RawURLEncoding.EncodeToString(buf.Bytes()))
			require.NoError(t, err, "level %d", level)
			got, _ := json.Marshal(s2.View())
			assert.JSONEq(t, string(want), string(got), "level %d", level)
		}
	}
	// The same run straight from its JSON (what the page hands the engine).
	s3, err := LoadJSON(s.ShareJSON())
	require.NoError(t, err)
	got, _ := json.Marshal(s3.View())
	assert.JSONEq(t, string(want), string(got))
}

// The link's JSON is read as a json.Decoder with DisallowUnknownFields
// reads it: the same values, or both refuse.
func TestShareJSONReadsAsEncodingJSON(t *testing.T) {
	good := string(sharedRun(t).ShareJSON())
	for _, doc := range []string{
		good, `{"v":1,"c":{"nodes":3},"a":[],"t":5}`, `{"v":1,"c":{"nodes":3},"a":null,"t":0}`, `{"V":1,"C":{"Nodes":3}}`,
		`{"v":1,"c":{"nodes":3,"rules":{"commitOldTerms":true}},"a":[{"kind":"heal","at":3}],"t":9}`,
		`{"v":1,"c":{"nodes":3},"x":1}`, `{"v":1,"c":{"nodes":3,"x":1}}`, `{"v":1,"c":{"rules":{"x":true}}}`,
		`{"v":1,"a":[{"kind":"heal","x":1}]}`, `{"v":"1"}`, `{"v":1,"t":1.5}`, `[]`, `{"v":1`,
		strings.Replace(good, `"t":`, `"t":"`, 1),
	} {
		var want shared
		var wantErr error
		if !json.Valid([]byte(doc)) {
			wantErr = json.Unmarshal([]byte(doc), &want)
		} else {
			dec := json.NewDecoder(strings.NewReader(doc))
			dec.DisallowUnknownFields()
			wantErr = dec.Decode(&want)
		}
		got, err := decodeShared([]byte(doc))
		if wantErr != nil {
			assert.Error(t, err, "%s: encoding/json says %v", doc, wantErr)
			continue
		}
		if assert.NoError(t, err, doc) {
			assert.Equal(t, want, got, doc)
		}
	}
}

// A bad link says what is wrong with it.
func TestLoadJSONErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"v":2,"c":{"nodes":3},"a":[],"t":0}`:                                              "version 2, this playground reads version 1",
		`{"v":1,"c":{"nodes":3,"colour":"red"},"a":[],"t":0}`:                               `c: unknown field "colour"`,
		`{"v":1,"c":{"nodes":3},"a":[{"kind":"crash","node":"1"}],"t":0}`:                   `a[0].node: want an integer, got the string "1"`,
		`{"v":1,"c":{"nodes":3},"a":[{"kind":"crash","node":9}],"t":0}`:                     "action 1: invalid action",
		`{"v":1,"c":{"nodes":30},"a":[],"t":0}`:                                             "nodes = 30",
		`{"v":1,"c":{"nodes":3},"a":[],"t":-5}`:                                             "time -5 ms is out of range",
		`{"v":1,"c":{"nodes":3},"a":[{"kind":"heal","at":9},{"kind":"heal","at":3}],"t":0}`: "action 2 at 3 ms comes before",
	} {
		_, err := LoadJSON([]byte(doc))
		require.ErrorIs(t, err, ErrShare, doc)
		assert.Contains(t, err.Error(), want, doc)
	}
	_, err := LoadJSON(bytes.Repeat([]byte(" "), maxShareJSON+1))
	assert.ErrorIs(t, err, ErrShare)
}
