//go:build !js

package sim

import (
	"bytes"
	"compress/flate"
	"crypto/sha256"
	"encoding/base64"
	"encoding/hex"
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/internal/jsontest"
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

// Every field of the config and of every action survives a link, and a
// run whose rules are all on leaves "rules" out.
func TestShareJSONCarriesEveryField(t *testing.T) {
	var full shared
	jsontest.Full(&full)
	full.Version = shareVersion
	data, err := json.Marshal(full)
	require.NoError(t, err)
	cfg, acts, now, err := decodeShared(data)
	require.NoError(t, err)
	assert.Equal(t, full.Config, cfg)
	assert.Equal(t, full.Actions, acts)
	assert.Equal(t, full.NowMs, now)

	s := newSim(t, func(c *Config) { c.Nodes = 3 })
	assert.NotContains(t, string(s.ShareJSON()), `"rules"`)
	assert.Contains(t, string(sharedRun(t).ShareJSON()), `"rules":{"ack_before_persist":true}`)
}

// Links load whichever DEFLATE encoder made them: the page's
// CompressionStream, compress/flate at any level, stored blocks.
func TestLinksLoadWhateverDeflateMadeThem(t *testing.T) {
	s := sharedRun(t)
	want, _ := json.Marshal(s.View())
	for _, level := range []int{flate.NoCompression, flate.BestSpeed, flate.DefaultCompression, flate.HuffmanOnly} {
		var buf bytes.Buffer
		w, _ := flate.NewWriter(&buf, level)
		w.Write(s.ShareJSON())
		w.Close()
		s2, err := Load(base64.RawURLEncoding.EncodeToString(buf.Bytes()))
		require.NoError(t, err, "level %d", level)
		got, _ := json.Marshal(s2.View())
		assert.JSONEq(t, string(want), string(got), "level %d", level)
	}
	// The same run straight from its JSON (what the page hands the engine).
	s3, err := LoadJSON(s.ShareJSON())
	require.NoError(t, err)
	got, _ := json.Marshal(s3.View())
	assert.JSONEq(t, string(want), string(got))
}

// A link made by the version 1 playground (rules under their Go names)
// still loads, to the very frame it showed: testdata/share_v1.link is
// sharedRun's link as that version wrote it, and share_v1.view.sha256 the
// SHA-256 of the frame's JSON it loaded to. (The sum changed twice: when
// consumers gained their group fields and the settings the offsets mode
// (with those fields left out, the frame hashes to the sum the version 1
// playground showed, b8980a28…); and when a broker busy with an fsync
// began to send what need not wait for it (core.Node.Early): this link
// switches persist-before-ack off, and its early acks now leave during
// the fsync instead of after it.)
func TestVersion1LinksStillLoad(t *testing.T) {
	link, err := os.ReadFile(filepath.Join("testdata", "share_v1.link"))
	require.NoError(t, err)
	wantSum, err := os.ReadFile(filepath.Join("testdata", "share_v1.view.sha256"))
	require.NoError(t, err)
	s, err := Load(strings.TrimSpace(string(link)))
	require.NoError(t, err)
	assert.True(t, s.Config().Rules.AckBeforePersist, "the rule switched off in the link")
	frame, err := json.Marshal(s.View())
	require.NoError(t, err)
	sum := sha256.Sum256(frame)
	assert.Equal(t, strings.TrimSpace(string(wantSum)), hex.EncodeToString(sum[:]))
	// And the run it loads is the run today's link of the same inputs gives.
	now, err := LoadJSON(sharedRun(t).ShareJSON())
	require.NoError(t, err)
	again, _ := json.Marshal(now.View())
	assert.JSONEq(t, string(frame), string(again))
}

// The link's JSON is read strictly: values as encoding/json reads them,
// unknown fields and trailing data refused.
func TestShareJSONIsReadStrictly(t *testing.T) {
	good := string(sharedRun(t).ShareJSON())
	for doc, ok := range map[string]bool{
		good: true, `{"v":2,"c":{"nodes":3},"a":[],"t":5}`: true, `{"v":2,"c":{"nodes":3},"a":null,"t":0}`: true,
		`{"V":2,"C":{"Nodes":3}}`: true,
		`{"v":2,"c":{"nodes":3,"rules":{"commit_old_terms":true}},"a":[{"kind":"heal","at":3}],"t":9}`: true,
		`{"v":1,"c":{"nodes":3,"rules":{"commitOldTerms":true}},"a":[{"kind":"heal","at":3}],"t":9}`:   true,
		`{"v":2,"c":{"nodes":3},"x":1}`: false, `{"v":2,"c":{"nodes":3,"x":1}}`: false, `{"v":2,"c":{"rules":{"x":true}}}`: false,
		`{"v":2,"c":{"rules":{"CommitOldTerms":true}}}`: false, `{"v":1,"c":{"rules":{"commit_old_terms":true}}}`: false,
		`{"v":2,"c":{},"a":[{"kind":"heal","x":1}]}`: false, `{"v":"2"}`: false, `{"v":2,"t":1.5}`: false, `[]`: false, `{"v":2`: false,
		strings.Replace(good, `"t":`, `"t":"`, 1): false, good + " {}": false,
	} {
		_, _, _, err := decodeShared([]byte(doc))
		assert.Equal(t, ok, err == nil, "%s: %v", doc, err)
	}
	cfg, _, _, err := decodeShared([]byte(`{"v":1,"c":{"nodes":3,"rules":{"CommitOldTerms":true}}}`))
	require.NoError(t, err)
	assert.Equal(t, core.Rules{CommitOldTerms: true}, cfg.Rules)
}

// A bad link says what is wrong with it.
func TestLoadJSONErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"v":3,"c":{"nodes":3},"a":[],"t":0}`:                                              "version 3, this playground reads versions 1 and 2",
		`{"v":1,"c":{"nodes":3,"colour":"red"},"a":[],"t":0}`:                               `c: unknown field "colour"`,
		`{"v":2,"c":{"nodes":3,"rules":{"x":1}},"a":[],"t":0}`:                              `c.rules: unknown field "x"`,
		`{"v":2,"c":{"nodes":"3"},"a":[],"t":0}`:                                            `c.nodes: want an integer, got the string "3"`,
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
