package sim

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/internal/jsonread"
)

// A mistake in the page's input is named in the error (the engine reads
// settings and actions with package jsonread).
func TestInputJSONErrorsNameTheField(t *testing.T) {
	var acts []Action
	assert.EqualError(t, jsonread.Into([]byte(`[{"kind":"crash","node":1},{"kind":"crash","node":"2"}]`), &acts),
		`[1].node: want an integer, got the string "2"`)
	c := DefaultConfig()
	assert.EqualError(t, jsonread.Into([]byte(`{"rules":{"commit_old_terms":"yes"}}`), &c),
		`rules.commit_old_terms: want true or false, got the string "yes"`)
	assert.EqualError(t, jsonread.Into([]byte(`{"groups":[[1,2],[3,"x"]]}`), &Action{}),
		`groups[1][1]: want an integer, got the string "x"`)
}

// Settings the page sends name only what differs: the rest keeps
// DefaultConfig's values.
func TestSettingsOverTheDefaults(t *testing.T) {
	c := DefaultConfig()
	require.NoError(t, jsonread.Into([]byte(`{"nodes":5,"rules":{"ack_before_persist":true}}`), &c))
	want := DefaultConfig()
	want.Nodes, want.Rules.AckBeforePersist = 5, true
	assert.Equal(t, want, c)
}

// BenchmarkViewJSON measures encoding a 7-broker frame with traffic, as the
// engine does once per animation frame.
func BenchmarkViewJSON(b *testing.B) {
	cfg := DefaultConfig()
	cfg.Nodes = 7
	s, err := New(cfg)
	require.NoError(b, err)
	_ = s.Do(Action{Kind: KindProducer, ID: "p1", Topic: "orders", Rate: 50})
	_ = s.Do(Action{Kind: KindConsumer, ID: "c1", Topic: "orders"})
	s.Advance(5000)
	v := s.View()
	b.ReportAllocs()
	var n int
	for b.Loop() {
		data, _ := json.Marshal(&v)
		n = len(data)
	}
	b.SetBytes(int64(n))
}
