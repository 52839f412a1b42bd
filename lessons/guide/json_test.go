package guide_test

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/internal/minijson/jsontest"
	"dledgerlab/lessons"
	"dledgerlab/lessons/guide"
)

// Every lesson, as GET /lessons.json serves it, reads back as
// json.Unmarshal reads it; so do lessons with every field set or empty.
func TestLessonJSONReadsAsEncodingJSON(t *testing.T) {
	all, err := lessons.All()
	require.NoError(t, err)
	var full, empty guide.Lesson
	jsontest.Full(&full)
	jsontest.Empty(&empty)
	all = append(all, &full, &empty, &guide.Lesson{})
	for _, l := range all {
		data, err := json.Marshal(l)
		require.NoError(t, err)
		var want guide.Lesson
		require.NoError(t, json.Unmarshal(data, &want))
		got, err := guide.DecodeLessonJSON(data)
		require.NoError(t, err, l.ID)
		assert.Equal(t, want, got, l.ID)
	}
}

func TestLessonJSONErrors(t *testing.T) {
	for doc, want := range map[string]string{
		`{"id":"x","steps":[{"do":[{"text":"crash leader","line":"7"}]}]}`: `steps[0].do[0].line: want an integer, got the string "7"`,
		`{"id":"x","cluster":{"nodes":"three"}}`:                           `cluster.nodes: want an integer, got the string "three"`,
		`{"id":"x","quiz":{}}`:                                             `quiz: want an array, got an object`,
		`{"id":"x"`:                                                        `unexpected end of JSON input`,
	} {
		var l guide.Lesson
		require.Error(t, json.Unmarshal([]byte(doc), &l), "encoding/json refuses %s too", doc)
		_, err := guide.DecodeLessonJSON([]byte(doc))
		assert.EqualError(t, err, want, doc)
	}
	l, err := guide.DecodeLessonJSON([]byte(`{"id":"x","unknown":{"a":[1]},"Order":3}`))
	require.NoError(t, err, "unknown fields are skipped, names match ignoring case")
	assert.Equal(t, guide.Lesson{ID: "x", Order: 3}, l)
}

// A frame's "lesson" field is written as json.Marshal writes State.
func TestStateJSONIsEncodingJSON(t *testing.T) {
	var full, empty guide.State
	jsontest.Full(&full)
	jsontest.Empty(&empty)
	for _, st := range []guide.State{full, empty, {}} {
		want, err := json.Marshal(st)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(st.AppendJSON(nil)))
	}
}
