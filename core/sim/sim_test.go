package sim

import (
	"crypto/sha256"
	"encoding/hex"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"path/filepath"
	"strings"

	"dledgerlab/core"
	"dledgerlab/core/internal/xrand"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

func newSim(t testing.TB, mod func(*Config)) *Sim {
	t.Helper()
	c := DefaultConfig()
	if mod != nil {
		mod(&c)
	}
	s, err := New(c)
	require.NoError(t, err)
	return s
}

// runUntil advances in 10 ms steps until cond holds, at most limitMs.
func runUntil(t testing.TB, s *Sim, limitMs int64, what string, cond func() bool) {
	t.Helper()
	for end := s.Now() + limitMs; s.Now() < end; {
		if cond() {
			return
		}
		s.Advance(10)
	}
	require.True(t, cond(), "after %d ms: %s", limitMs, what)
}

func do(t testing.TB, s *Sim, a Action) {
	t.Helper()
	require.NoError(t, s.Do(a))
}

func noViolations(t testing.TB, s *Sim) {
	t.Helper()
	require.Empty(t, s.Violations())
}

// The seed's story on the simulator: a leader is elected, a message is
// produced and committed on every broker; the leader crashes, another is
// elected with a higher term, and producers move to it.
func TestSeedStory(t *testing.T) {
	s := newSim(t, nil)
	runUntil(t, s, 2000, "a leader is elected", func() bool { l, _ := s.Leader(); return l != 0 })
	lead, term := s.Leader()
	assert.Equal(t, uint64(1), term, "the first election is term 1")

	do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: "hello"})
	runUntil(t, s, 2000, "the message is acknowledged", func() bool {
		return s.View().Clients.Producers[0].Acked == 1
	})
	s.Advance(200)
	for id := 1; id <= 3; id++ {
		st := s.Status(id)
		assert.Equal(t, st.LastIndex, st.Commit, "broker %d has it committed", id)
	}

	do(t, s, Action{Kind: KindCrash, Node: lead})
	runUntil(t, s, 3000, "a new leader", func() bool { l, _ := s.Leader(); return l != 0 && l != lead })
	_, term2 := s.Leader()
	assert.Greater(t, term2, term)

	do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: "after failover"})
	runUntil(t, s, 6000, "the producer found the new leader", func() bool {
		return s.View().Clients.Producers[0].Acked == 2
	})
	do(t, s, Action{Kind: KindRestart, Node: lead})
	runUntil(t, s, 2000, "the old leader catches up", func() bool {
		l, _ := s.Leader()
		return s.Status(lead).Commit == s.Status(l).Commit && s.Status(lead).Lead == uint64ID(l)
	})
	noViolations(t, s)
	assert.Empty(t, s.CheckFinal())
}

// The seed's brain split: the old leader in a minority cannot commit; after
// the heal its uncommitted entry is truncated.
func TestBrainSplitMinorityLeaderCannotCommit(t *testing.T) {
	s := newSim(t, func(c *Config) { c.Nodes = 5 })
	runUntil(t, s, 2000, "a leader", func() bool { l, _ := s.Leader(); return l != 0 })
	old, _ := s.Leader()
	s.Advance(200)
	var rest []int
	for id := 1; id <= 5; id++ {
		if id != old && len(rest) < 3 {
			rest = append(rest, id)
		}
	}
	minority := []int{old}
	for id := 1; id <= 5; id++ {
		if id != old && !contains(rest, id) {
			minority = append(minority, id)
		}
	}
	do(t, s, Action{Kind: KindPartition, Groups: [][]int{minority, rest}})
	do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: "to the minority", Node: old, ID: "stuck"})
	s.Advance(100)
	st := s.Status(old)
	require.Greater(t, st.LastIndex, st.Commit, "the minority leader appended but cannot commit")
	stuck := st.LastIndex
	runUntil(t, s, 3000, "the majority elects", func() bool {
		l, _ := s.Leader()
		return l != 0 && contains(rest, l)
	})
	assert.NotEqual(t, "leader", s.Status(old).Role.String(), "CheckQuorum stepped the old leader down")
	do(t, s, Action{Kind: KindProduce, Topic: "orders", Body: "to the majority", ID: "free"})
	runUntil(t, s, 3000, "the majority commits", func() bool {
		for _, p := range s.View().Clients.Producers {
			if p.ID == "free" {
				return p.Acked == 1
			}
		}
		return false
	})
	do(t, s, Action{Kind: KindHeal})
	runUntil(t, s, 3000, "the old leader follows", func() bool {
		l, _ := s.Leader()
		return s.Status(old).Lead == uint64ID(l) && s.Status(old).Commit == s.Status(l).Commit
	})
	v := s.View()
	var truncated bool
	for _, e := range v.Nodes[old-1].Truncated {
		truncated = truncated || e.Index == stuck
	}
	assert.True(t, truncated, "the minority's uncommitted entry was truncated")
	noViolations(t, s)
}

// Same inputs give the same ClusterView stream.
func TestDeterministicViewStream(t *testing.T) {
	run := func() []string {
		s := newSim(t, func(c *Config) { c.Nodes = 5; c.Loss = 0.05; c.Seed = 99 })
		var frames []string
		script := map[int]Action{
			30:  {Kind: KindProducer, Topic: "t", Rate: 20},
			80:  {Kind: KindCrash, Node: 1},
			120: {Kind: KindPartition, Groups: [][]int{{2, 3}, {1, 4, 5}}},
			160: {Kind: KindHeal},
			170: {Kind: KindRestart, Node: 1},
		}
		for i := range 250 {
			if a, ok := script[i]; ok {
				_ = s.Do(a) // crash may hit a down broker: same either way
			}
			s.Advance(16)
			b, err := json.Marshal(s.View())
			require.NoError(t, err)
			frames = append(frames, string(b))
		}
		return frames
	}
	a, b := run(), run()
	require.Equal(t, len(a), len(b))
	for i := range a {
		require.Equal(t, a[i], b[i], "frame %d differs", i)
	}
}

// Rewinding restores an earlier frame exactly; going forward again replays
// the recorded actions; a new action forks history.
func TestSeekRestoresEarlierFrames(t *testing.T) {
	s := newSim(t, func(c *Config) { c.Nodes = 5; c.CheckpointMs = 500 })
	frames := map[int64]string{}
	frame := func() string {
		v := s.View()
		v.Timeline = nil // the recording itself grows; the moment must not differ
		b, _ := json.Marshal(v)
		return string(b)
	}
	snap := func() { frames[s.Now()] = frame() }
	// A moment includes the actions done at it.
	s.Advance(700)
	do(t, s, Action{Kind: KindProducer, Topic: "t", Rate: 10})
	snap()
	s.Advance(1300)
	do(t, s, Action{Kind: KindCrash, Node: 2})
	snap()
	s.Advance(1234)
	snap()
	end := s.Now()
	for _, at := range []int64{700, 2000, end} {
		require.NoError(t, s.SeekTo(at))
		assert.JSONEq(t, frames[at], frame(), "frame at %d ms", at)
	}
	require.NoError(t, s.SeekTo(700))
	do(t, s, Action{Kind: KindCrash, Node: 3})
	acts := s.Actions()
	require.Len(t, acts, 2, "the recorded future (crash of broker 2) was dropped: history forked")
	assert.Equal(t, KindProducer, acts[0].Kind)
	assert.Equal(t, 3, acts[1].Node)
	assert.Error(t, s.SeekTo(-5))
}

// Bad input gives errors that say what is wrong and leaves the state alone.
func TestBadActionsAndSettings(t *testing.T) {
	s := newSim(t, nil)
	s.Advance(100)
	before, _ := json.Marshal(s.View())
	for _, a := range []Action{
		{Kind: "explode"},
		{Kind: KindCrash, Node: 7},
		{Kind: KindPartition, Groups: [][]int{{1, 2}}},
		{Kind: KindPartition, Groups: [][]int{{1, 2}, {2, 3}}},
		{Kind: KindNet, Loss: 1.5},
		{Kind: KindRule, Rule: "no_such_rule"},
		{Kind: KindRestart, Node: 1},
		{Kind: KindProduce},
	} {
		err := s.Do(a)
		assert.ErrorIs(t, err, ErrBadAction, "%+v", a)
	}
	after, _ := json.Marshal(s.View())
	assert.JSONEq(t, string(before), string(after))
	assert.Empty(t, s.Actions())

	for _, mod := range []func(*Config){
		func(c *Config) { c.Nodes = 10 },
		func(c *Config) { c.Loss = -1 },
		func(c *Config) { c.ElectionTicksMin = 2; c.HeartbeatTicks = 5 },
		func(c *Config) { c.SegmentSize = 3 },
	} {
		c := DefaultConfig()
		mod(&c)
		_, err := New(c)
		assert.ErrorIs(t, err, ErrConfig)
	}
}

func contains(s []int, x int) bool {
	for _, v := range s {
		if v == x {
			return true
		}
	}
	return false
}

func uint64ID(id int) coreNodeID { return coreNodeID(id) }

type coreNodeID = core.NodeID

// The same inputs give the same ClusterView stream on every platform: the
// digest of a scripted run's frames is pinned in testdata, and make test
// also runs this test compiled to WebAssembly (GOOS=js GOARCH=wasm).
// Regenerate after an intended change with: go test ./core/sim -run
// TestViewStreamDigest -update
func TestViewStreamDigest(t *testing.T) {
	got := viewStreamDigest(t)
	path := filepath.Join("testdata", "view_stream.sha256")
	if *update {
		require.NoError(t, os.MkdirAll("testdata", 0o755))
		require.NoError(t, os.WriteFile(path, []byte(got+"\n"), 0o644))
	}
	want, err := os.ReadFile(path)
	require.NoError(t, err)
	assert.Equal(t, strings.TrimSpace(string(want)), got, "the view stream changed (or differs on this platform)")
	// Replicas that keep almost nothing of their persisted log in memory,
	// reading it back from the CommitLog, give the very same frames.
	assert.Equal(t, got, viewStreamDigest(t, func(c *Config) { c.LogCacheBytes = 1 }), "with the log read back from the CommitLog")
}

// viewStreamDigest runs the digest's script and hashes every frame's JSON.
func viewStreamDigest(t *testing.T, opts ...func(*Config)) string {
	s := newSim(t, func(c *Config) {
		c.Nodes = 5
		c.Loss = 0.05
		c.Seed = 2026
		for _, o := range opts {
			o(c)
		}
	})
	h := sha256.New()
	script := map[int]Action{
		10: {Kind: KindProducer, Topic: "orders", Rate: 30},
		40: {Kind: KindCrash, Node: 2},
		70: {Kind: KindPartition, Groups: [][]int{{1, 3}, {2, 4, 5}}},
		90: {Kind: KindHeal},
		95: {Kind: KindRestart, Node: 2},
	}
	for i := range 150 {
		if a, ok := script[i]; ok {
			_ = s.Do(a)
		}
		s.Advance(20)
		b, err := json.Marshal(s.View())
		require.NoError(t, err)
		h.Write(b)
	}
	return hex.EncodeToString(h.Sum(nil))
}

var update = flag.Bool("update", false, "rewrite golden files")

// A checkpoint shares much of its memory with the running state (see the
// clone methods). Rewinding and replaying, again and again, must still give
// exactly the run that never rewound: frames, violations and client
// histories, with faults and with every rule off.
func TestRewindsReplayTheSameRun(t *testing.T) {
	damaged := 0
	for seed := uint64(1); seed <= 6; seed++ {
		cfg := DefaultConfig()
		cfg.Seed, cfg.Nodes, cfg.CheckpointMs = seed, 5, 300
		if seed%2 == 0 {
			cfg.Nodes = 3
			cfg.Rules = core.Rules{CommitOldTerms: true, AckBeforePersist: true, SkipUpToDateCheck: true}
			cfg.DisablePreVote, cfg.FsyncMs = true, 40
		}
		straight, err := New(cfg)
		require.NoError(t, err)
		rewound, err := New(cfg)
		require.NoError(t, err)
		r := xrand.New(seed)
		flipped := false
		for _, s := range []*Sim{straight, rewound} {
			do(t, s, Action{Kind: KindProducer, ID: "p1", Topic: "orders", Rate: 40})
			do(t, s, Action{Kind: KindProducer, ID: "p2", Topic: "orders", Rate: 25})
			do(t, s, Action{Kind: KindConsumer, ID: "c1", Topic: "orders", Node: 1})
		}
		for step := range 40 {
			d := int64(50 + r.Intn(400))
			straight.Advance(d)
			before := len(straight.Actions())
			if a, ok := straight.randomFault(&r, DefaultFaults(), &flipped); ok {
				_ = straight.Do(a)
			}
			rewound.Advance(d)
			for _, a := range straight.Actions()[before:] {
				do(t, rewound, a)
			}
			if step%3 == 2 {
				now := rewound.Now()
				require.NoError(t, rewound.SeekTo(now/3))
				require.NoError(t, rewound.SeekTo(now*2/3))
				require.NoError(t, rewound.SeekTo(now))
			}
			what := fmt.Sprintf("seed %d at %d ms", seed, straight.Now())
			vs, vr := straight.View(), rewound.View()
			vs.Timeline, vr.Timeline = nil, nil // the rewound run's timeline shows its checkpoints
			js, err := json.Marshal(&vs)
			require.NoError(t, err)
			jr, err := json.Marshal(&vr)
			require.NoError(t, err)
			require.Equal(t, string(js), string(jr), what)
			require.Equal(t, straight.History(), rewound.History(), what)
			require.Equal(t, straight.Violations(), rewound.Violations(), what)
		}
		damaged += len(straight.Violations())
	}
	assert.Positive(t, damaged, "with the rules off, the checkers found damage to compare")
}
