package jsonread

import (
	"encoding/json"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

type inner struct {
	A int `json:"a"`
}

type sample struct {
	N      int      `json:"n"`
	U      uint64   `json:"u"`
	Small  int8     `json:"small"`
	B      bool     `json:"b"`
	Str    string   `json:"str"`
	F      float64  `json:"f"`
	In     inner    `json:"in"`
	List   []inner  `json:"list"`
	Groups [][]int  `json:"groups"`
	Ints   []int    `json:"ints"`
	Names  []string `json:"names"`
	M      map[string]int
}

// Errors say where and what, in the words of the document.
func TestErrorsNameTheField(t *testing.T) {
	for doc, want := range map[string]string{
		`{"n":"3"}`:                   `n: want an integer, got the string "3"`,
		`{"n":1.5}`:                   `n: want an integer, got 1.5`,
		`{"in":{"a":true}}`:           `in.a: want an integer, got true`,
		`{"list":[{"a":1},{"a":[]}]}`: `list[1].a: want an integer, got an array`,
		`{"groups":[[1],[2,"x"]]}`:    `groups[1][1]: want an integer, got the string "x"`,
		`{"u":-1}`:                    `u: want an integer from 0 to 18446744073709551615, got -1`,
		`{"small":300}`:               `small: want an integer from -128 to 127, got 300`,
		`{"b":1}`:                     `b: want true or false, got 1`,
		`{"str":5}`:                   `str: want a string, got 5`,
		`{"f":"x"}`:                   `f: want a number, got the string "x"`,
		`{"ints":{}}`:                 `ints: want an array, got an object`,
		`{"names":["a",{"k":[1]},7]}`: `names[1]: want a string, got an object`,
		`{"names":["a","b",7]}`:       `names[2]: want a string, got 7`,
		`{"M":{"k":"v"}}`:             `M.k: want an integer, got the string "v"`,
		`{"str":"ok","in":{"a":1},"n":null,"list":[{"a":"1"}]}`: `list[0].a: want an integer, got the string "1"`,
		`[1]`:                        `want an object, got an array`,
		`{"n":1`:                     `unexpected end of JSON input`,
		``:                           `empty input: want a JSON value`,
		`{"n":x}`:                    `n: invalid character 'x' looking for beginning of value at byte 5`,
		`{"list":[{"a":1},{"a":-}]}`: `list[1].a: invalid character '}' in numeric literal at byte 23`,
		`{"n":1} x`:                  `data after the JSON value at byte 8`,
		`{"n":1} {}`:                 `data after the JSON value at byte 8`,
	} {
		var s sample
		err := Into([]byte(doc), &s)
		if assert.Error(t, err, doc) {
			assert.Equal(t, want, err.Error(), doc)
		}
		require.Error(t, json.Unmarshal([]byte(doc), &s), "encoding/json refuses %q too", doc)
	}
}

// Into reads what json.Unmarshal reads, with the same result.
func TestIntoIsUnmarshal(t *testing.T) {
	for _, doc := range []string{
		`{"n":3,"unknown":{"deep":[1,2,{"x":null}]},"STR":"case","list":[{"a":1}]}`,
		` {"groups":[[1,2],[3]],"f":1e3,"b":true} `,
		`{"n":null}`,
	} {
		a, b := sample{N: 7}, sample{N: 7}
		require.NoError(t, Into([]byte(doc), &a), doc)
		require.NoError(t, json.Unmarshal([]byte(doc), &b), doc)
		assert.Equal(t, b, a, doc)
	}
}

// Strict refuses a field the value does not have and says where it is.
func TestStrictNamesTheUnknownField(t *testing.T) {
	var s sample
	assert.EqualError(t, Strict([]byte(`{"in":{"a":1,"zz":2}}`), &s), `in: unknown field "zz"`)
	assert.EqualError(t, Strict([]byte(`{"list":[{"a":1},{"zz":2}]}`), &s), `list[1]: unknown field "zz"`)
	assert.EqualError(t, Strict([]byte(`{"zz":1}`), &s), `unknown field "zz"`)
	// The same name in two places: the message does not guess.
	assert.EqualError(t, Strict([]byte(`{"M":{"zz":1},"in":{"zz":2}}`), &s), `unknown field "zz"`)
	require.NoError(t, Into([]byte(`{"in":{"a":1,"zz":2}}`), &s))
}

// Whatever the document, decoding answers (an error or nil) and never
// panics, and a document json.Unmarshal accepts is accepted.
func FuzzInto(f *testing.F) {
	for _, doc := range []string{`{"n":"3"}`, `{"list":[{"a":1},{"a":[]}]}`, `{"groups":[[1],[2,"x"]]}`, `[1]`, `{"in":{"zz":1}}`, `{"n":1} x`} {
		f.Add([]byte(doc))
	}
	f.Fuzz(func(t *testing.T, doc []byte) {
		var a, b sample
		errA := Into(doc, &a)
		errB := json.Unmarshal(doc, &b)
		if (errA == nil) != (errB == nil) {
			t.Fatalf("%q: Into %v, json.Unmarshal %v", doc, errA, errB)
		}
		_ = Strict(doc, &a)
	})
}

// A part decoded on its own is named inside its document.
func TestUnder(t *testing.T) {
	var s sample
	assert.EqualError(t, Under("c", Into([]byte(`{"in":{"a":"1"}}`), &s)), `c.in.a: want an integer, got the string "1"`)
	assert.EqualError(t, Under("a", Into([]byte(`{"list":[1]}`), &s)), `a.list[0]: want an object, got 1`)
	var list []sample
	assert.EqualError(t, Under("a", Into([]byte(`[{},{"n":"x"}]`), &list)), `a[1].n: want an integer, got the string "x"`)
	assert.EqualError(t, Under("c", Into([]byte(`[]`), &s)), `c: want an object, got an array`)
}
