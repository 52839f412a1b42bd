package sim

import (
	"encoding/json"
	"fmt"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core"
	"dledgerlab/core/internal/xrand"
	"dledgerlab/internal/minijson/jsontest"
)

// requireSameJSON checks that AppendJSON writes what json.Marshal writes.
func requireSameJSON(t *testing.T, v *ClusterView, what string) {
	t.Helper()
	want, err := json.Marshal(v)
	require.NoError(t, err)
	got := v.AppendJSON(nil)
	if string(got) == string(want) {
		return
	}
	i := 0
	for i < len(got) && i < len(want) && got[i] == want[i] {
		i++
	}
	from := max(0, i-80)
	t.Fatalf("%s: AppendJSON differs from json.Marshal at byte %d:\nAppendJSON   …%s\njson.Marshal …%s",
		what, i, got[from:min(len(got), i+80)], want[from:min(len(want), i+80)])
}

// Every field of a frame, set, empty or zero, is written as json.Marshal
// writes it: a field added to a view type and not to viewjson.go fails here.
func TestViewJSONCoversEveryField(t *testing.T) {
	var full, empty ClusterView
	jsontest.Full(&full)
	jsontest.Empty(&empty)
	requireSameJSON(t, &full, "every field set")
	requireSameJSON(t, &empty, "every slice and map empty")
	requireSameJSON(t, &ClusterView{}, "the zero frame")
	requireSameJSON(t, &ClusterView{Nodes: []NodeView{{}}, Timeline: &TimelineView{}}, "a zero broker and timeline")
}

// Frames of seeded runs with every kind of fault, rules switched off (so
// checkers find violations), traps, rewinds and messages whose bodies need
// escaping: AppendJSON writes each exactly as json.Marshal does.
func TestViewJSONIsEncodingJSONOnSeededRuns(t *testing.T) {
	bodies := []string{"hello", `<b>&"quoted"</b>`, "主 Broker 从", "line\u2028sep\u2029", "tab\tnew\nline", "bad \xff utf-8", "🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉🎉"}
	faults := DefaultFaults()
	faults.Trap = 2
	frames := 0
	// What the frames showed: the runs must reach every part of a frame.
	seen := map[string]bool{}
	marks := []string{`"truncated":`, `"votes":`, `"violations":[{`, `"dropped":true`, `"groups":`, `"reject":true`,
		`"busy":true`, `"progress":`, `"pending":`, `"last":`, `"state":"crashed"`, `"state":"paused"`, `"detail":`,
		`\u003c`, `\u0026`, `\u2028`, `\ufffd`, `"recent":["`, `"checkpoints":[`, `"one_way":true`}
	for seed := uint64(1); seed <= 6; seed++ {
		r := xrand.New(seed)
		cfg := DefaultConfig()
		cfg.Seed, cfg.Nodes = seed, 3+int(seed%4)
		cfg.Loss, cfg.Dup, cfg.Reorder = 0.05, 0.02, 0.1
		cfg.CheckpointMs = 700
		cfg.ViewLogEntries = 12
		if seed%2 == 0 {
			// Every rule off: the checkers find violations.
			cfg.Nodes = 3
			cfg.Rules = core.Rules{CommitOldTerms: true, AckBeforePersist: true, SkipUpToDateCheck: true}
			cfg.DisablePreVote = true
			cfg.FsyncMs = 40
		}
		s, err := New(cfg)
		require.NoError(t, err)
		_ = s.Do(Action{Kind: KindProducer, ID: "p1", Topic: "orders", Rate: 20})
		_ = s.Do(Action{Kind: KindConsumer, ID: "c1", Topic: "orders"})
		_ = s.Do(Action{Kind: KindConsumer, ID: "c<2>", Topic: "pay&ments", Node: 1})
		flipped := false
		for step := 0; step < 80; step++ {
			s.Advance(int64(20 + r.Intn(200)))
			switch r.Intn(6) {
			case 0:
				_ = s.Do(Action{Kind: KindProduce, ID: "p2", Topic: []string{"orders", "pay&ments"}[r.Intn(2)], Body: bodies[r.Intn(len(bodies))]})
			case 1, 3:
				if a, ok := s.randomFault(&r, faults, &flipped); ok {
					_ = s.Do(a)
				}
			case 2:
				if step%20 == 19 {
					require.NoError(t, s.SeekTo(s.Now()/2))
				}
			}
			v := s.View()
			requireSameJSON(t, &v, fmt.Sprintf("seed %d at %d ms", seed, s.Now()))
			frames++
			js := string(v.AppendJSON(nil))
			for _, m := range marks {
				seen[m] = seen[m] || strings.Contains(js, m)
			}
		}
	}
	t.Logf("%d frames compared", frames)
	for _, m := range marks {
		assert.True(t, seen[m], "no frame had %s", m)
	}
}

// BenchmarkViewJSON compares the hand-written frame JSON with encoding/json
// on a 7-broker frame with traffic.
func BenchmarkViewJSON(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Nodes = 7
	s, err := New(cfg)
	require.NoError(b, err)
	_ = s.Do(Action{Kind: KindProducer, ID: "p1", Topic: "orders", Rate: 50})
	_ = s.Do(Action{Kind: KindConsumer, ID: "c1", Topic: "orders"})
	s.Advance(5000)
	v := s.View()
	b.Run("AppendJSON", func(b *testing.B) {
		var buf []byte
		for b.Loop() {
			buf = v.AppendJSON(buf[:0])
		}
		b.SetBytes(int64(len(buf)))
	})
	b.Run("json.Marshal", func(b *testing.B) {
		var n int
		for b.Loop() {
			data, _ := json.Marshal(&v)
			n = len(data)
		}
		b.SetBytes(int64(n))
	})
}
