package guide_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/internal/jsonread"
	"dledgerlab/lessons/guide"
)

// A lesson the page hands the engine that does not fit says where
// (the engine reads lessons with package jsonread).
func TestLessonJSONErrorsNameTheField(t *testing.T) {
	for doc, want := range map[string]string{
		`{"id":"x","steps":[{"do":[{"text":"crash leader","line":"7"}]}]}`: `steps[0].do[0].line: want an integer, got the string "7"`,
		`{"id":"x","cluster":{"nodes":"three"}}`:                           `cluster.nodes: want an integer, got the string "three"`,
		`{"id":"x","quiz":{}}`:                                             `quiz: want an array, got an object`,
		`{"id":"x"`:                                                        `unexpected end of JSON input`,
	} {
		var l guide.Lesson
		assert.EqualError(t, jsonread.Into([]byte(doc), &l), want, doc)
	}
	var l guide.Lesson
	require.NoError(t, jsonread.Into([]byte(`{"id":"x","unknown":{"a":[1]},"Order":3}`), &l), "unknown fields are skipped, names match ignoring case")
	assert.Equal(t, guide.Lesson{ID: "x", Order: 3}, l)
}

// Every field of a lesson survives the JSON the server writes and the
// engine reads.
func TestLessonJSONRoundTrip(t *testing.T) {
	var l guide.Lesson
	l.ID, l.Order = "x", 2
	l.Title = guide.Text{En: "Election", Zh: "选举"}
	l.Steps = []guide.Step{{Say: guide.Text{En: "a"}, Do: []guide.Line{{Text: "crash leader", Line: 7}}, Line: 6}}
	l.Cluster.Nodes, l.Cluster.Rules.CommitOldTerms = 5, true
	data, err := json.Marshal(&l)
	require.NoError(t, err)
	var back guide.Lesson
	require.NoError(t, jsonread.Into(data, &back))
	assert.Equal(t, l, back)
}
