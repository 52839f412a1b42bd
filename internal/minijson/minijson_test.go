package minijson

import (
	"bytes"
	"encoding/json"
	"math"
	"reflect"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// The writer's strings are json.Marshal's, byte for byte.
func TestAppendStringIsEncodingJSON(t *testing.T) {
	for _, s := range stringCorpus {
		want, err := json.Marshal(s)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(AppendString(nil, s)), "%q", s)
	}
}

func FuzzAppendString(f *testing.F) {
	for _, s := range stringCorpus {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		want, _ := json.Marshal(s)
		if got := AppendString(nil, s); !bytes.Equal(got, want) {
			t.Fatalf("%q: got %s, encoding/json %s", s, got, want)
		}
	})
}

var stringCorpus = []string{
	"", "plain", `quo"te`, `back\slash`, "tab\tnl\ncr\rbs\bff\f", "\x00\x01\x1f\x7f",
	"<script>&amp;</script>", "line\u2028para\u2029", "中文 Broker 主", "emoji 🎉",
	"bad \xff byte", "\xc3", "cut \xe4\xb8", "…", "\ufffd", "a/b", "\u00e9", "\U0010ffff",
}

// The writer's numbers are json.Marshal's, byte for byte.
func TestAppendFloatIsEncodingJSON(t *testing.T) {
	for _, f := range []float64{0, -0.0, 1, -1, 0.05, 0.1, 1.0 / 3, 1e-6, 9.99e-7, 1e-7, 1.5e-10, 1e20, 1e21, 123456789012345678901234.0,
		math.MaxFloat64, math.SmallestNonzeroFloat64, -2.5e-300, 100, 1e300, 12.75, 50, 0.000001234} {
		want, err := json.Marshal(f)
		require.NoError(t, err)
		assert.Equal(t, string(want), string(AppendFloat(nil, f)), "%v", f)
	}
	assert.Equal(t, "null", string(AppendFloat(nil, math.NaN())))
	assert.Equal(t, "null", string(AppendFloat(nil, math.Inf(-1))))
}

func TestWriterListsAreEncodingJSON(t *testing.T) {
	for _, v := range []any{[]int(nil), []int{}, []int{1, -2, 3}, [][]int(nil), [][]int{}, [][]int{{1}, nil, {}, {2, 3}},
		[]string(nil), []string{}, []string{"a", "<b>"}} {
		want, err := json.Marshal(v)
		require.NoError(t, err)
		var w Writer
		switch x := v.(type) {
		case []int:
			w.Ints("", x)
		case [][]int:
			w.IntGroups("", x)
		case []string:
			w.Strings("", x)
		}
		assert.Equal(t, string(want), string(w.B), "%#v", v)
	}
}

// sample has every kind of field the engine's inputs have.
type sample struct {
	Str    string   `json:"str"`
	N      int      `json:"n"`
	I64    int64    `json:"i64,omitempty"`
	U      uint64   `json:"u"`
	F      float64  `json:"f"`
	B      bool     `json:"b"`
	Ints   []int    `json:"ints"`
	Groups [][]int  `json:"groups"`
	Strs   []string `json:"strs"`
	In     inner    `json:"in"`
	List   []inner  `json:"list"`
	Plain  inner    // no tag: the Go name
}

type inner struct {
	A int    `json:"a"`
	S string `json:"s,omitempty"`
}

func (s *sample) decode(d *Decoder) error {
	return d.Struct(
		"str", &s.Str, "n", &s.N, "i64", &s.I64, "u", &s.U, "f", &s.F, "b", &s.B, "ints", &s.Ints,
		"groups", func() error { return List(d, &s.Groups, func(g *[]int) error { return List(d, g, d.Int) }) },
		"strs", func() error { return List(d, &s.Strs, d.String) },
		"in", func() error { return s.In.decode(d) },
		"list", func() error { return List(d, &s.List, func(x *inner) error { return x.decode(d) }) },
		"Plain", func() error { return s.Plain.decode(d) },
	)
}

func (x *inner) decode(d *Decoder) error {
	return d.Struct("a", &x.A, "s", &x.S)
}

// start is what both decoders decode into: null must leave it alone.
func start() sample {
	return sample{Str: "keep", N: 7, F: 0.5, B: true, In: inner{A: 1, S: "in"}, Ints: []int{9}}
}

// decodeBoth decodes data with minijson and with encoding/json.
func decodeBoth(data []byte, strict bool) (mine, theirs sample, mineErr, theirErr error) {
	mine, theirs = start(), start()
	d := NewDecoder(data)
	if strict {
		d.DisallowUnknownFields()
	}
	mineErr = mine.decode(d)
	if mineErr == nil {
		mineErr = d.End()
	}
	if !strict {
		theirErr = json.Unmarshal(data, &theirs)
	} else if !json.Valid(data) {
		theirErr = json.Unmarshal(data, &theirs)
	} else {
		dec := json.NewDecoder(bytes.NewReader(data))
		dec.DisallowUnknownFields()
		theirErr = dec.Decode(&theirs)
	}
	return
}

var docs = []string{
	`{}`, `null`, ` {"str":"x"} `, `{"str":null,"n":null,"f":null,"b":null,"in":null,"ints":null}`,
	`{"n":-0}`, `{"n":1.0}`, `{"n":1e2}`, `{"n":9223372036854775807}`, `{"n":9223372036854775808}`, `{"n":-9223372036854775808}`,
	`{"u":18446744073709551615}`, `{"u":18446744073709551616}`, `{"u":-1}`, `{"u":0}`,
	`{"f":1e400}`, `{"f":-1e-400}`, `{"f":0.05}`, `{"f":1E+2}`, `{"f":01}`, `{"f":-}`, `{"f":1.}`, `{"f":.5}`, `{"f":+1}`, `{"f":1e}`,
	`{"b":true}`, `{"b":false}`, `{"b":"true"}`, `{"b":tru}`, `{"b":nul}`,
	`{"str":"a\"b\\c\/d\b\f\n\r\t\u00e9\ud83c\udf89"}`, `{"str":"\ud83c"}`, `{"str":"\ud83cx"}`, `{"str":"\udf89\ud83c"}`,
	`{"str":"\ud83c\u0041"}`, `{"str":"\ud83c\uzzzz"}`, `{"str":"\u12"}`, `{"str":"\x"}`, `{"str":"\'"}`, "{\"str\":\"a\tb\"}",
	"{\"str\":\"\xff\xfe ok\"}", "{\"str\":\"\xe4\xb8\"}", `{"str":"unterminated`, `{"str":1}`, `{"str":{}}`, `{"str":[1]}`,
	`{"ints":[1,2,3]}`, `{"ints":[]}`, `{"ints":[1,]}`, `{"ints":[,1]}`, `{"ints":[1 2]}`, `{"ints":"1"}`, `{"ints":[1.5]}`,
	`{"groups":[[1,2],[3],[],null]}`, `{"groups":[[1,[2]]]}`, `{"strs":["a",null,"c"]}`,
	`{"in":{"a":2}}`, `{"in":{"s":"x","A":3}}`, `{"in":[]}`, `{"in":1}`, `{"list":[{"a":1},{"s":"t"},null]}`,
	`{"list":[{"a":1,"s":"x"}],"list":[{"a":5}]}`, `{"ints":[1,2],"ints":[3]}`, `{"n":1,"n":2}`,
	`{"STR":"fold"}`, `{"Str":"x","str":"exact"}`, `{"ſtr":"long s"}`, `{"plain":{"a":4}}`, `{"Plain":{"a":4}}`,
	`{"unknown":1}`, `{"unknown":{"deep":[1,{"x":null}]}}`, `{"unknown":[1,}`, `{"unknown":"\q"}`,
	`{"n":1}x`, `{"n":1} {}`, `{"n":1`, `{"n":1,}`, `{"n" 1}`, `{n:1}`, `{"n":}`, `[]`, `"str"`, `1`, ``, ` `,
	`{"a":1}`, `{"i64":-5}`, `{"str":"\u2028<&>"}`, "\n{\"n\":\r\n3\t}\n", `{"n":1}]`, `{,}`, `{"":1}`,
	`{"str":"` + strings.Repeat("x", 100) + `"}`, strings.Repeat("[", 20000) + strings.Repeat("]", 20000),
	`{"unknown":` + strings.Repeat("[", 10001) + strings.Repeat("]", 10001) + `}`,
}

// A document decodes to the same values as with json.Unmarshal, or both fail.
func TestDecoderIsEncodingJSON(t *testing.T) {
	for _, strict := range []bool{false, true} {
		for _, doc := range docs {
			mine, theirs, mineErr, theirErr := decodeBoth([]byte(doc), strict)
			if theirErr != nil {
				assert.Error(t, mineErr, "strict=%v %q: encoding/json says %v", strict, doc, theirErr)
				continue
			}
			if assert.NoError(t, mineErr, "strict=%v %q", strict, doc) {
				assert.True(t, reflect.DeepEqual(theirs, mine), "strict=%v %q:\nmine   %#v\ntheirs %#v", strict, doc, mine, theirs)
			}
		}
	}
}

func FuzzDecoderIsEncodingJSON(f *testing.F) {
	for _, doc := range docs {
		if len(doc) < 1000 {
			f.Add(doc, false)
		}
	}
	f.Fuzz(func(t *testing.T, doc string, strict bool) {
		mine, theirs, mineErr, theirErr := decodeBoth([]byte(doc), strict)
		if (mineErr == nil) != (theirErr == nil) {
			t.Fatalf("%q strict=%v: minijson %v, encoding/json %v", doc, strict, mineErr, theirErr)
		}
		if theirErr == nil && !reflect.DeepEqual(theirs, mine) {
			t.Fatalf("%q strict=%v:\nmine   %#v\ntheirs %#v", doc, strict, mine, theirs)
		}
	})
}

// Errors say where and what.
func TestDecoderErrorsNameTheField(t *testing.T) {
	for doc, want := range map[string]string{
		`{"n":"3"}`:                   `n: want an integer, got the string "3"`,
		`{"n":1.5}`:                   `n: want an integer, got 1.5`,
		`{"in":{"a":true}}`:           `in.a: want an integer, got true`,
		`{"list":[{"a":1},{"a":[]}]}`: `list[1].a: want an integer, got an array`,
		`{"groups":[[1],[2,"x"]]}`:    `groups[1][1]: want an integer, got the string "x"`,
		`{"u":-1}`:                    `u: want an integer from 0 to 18446744073709551615, got -1`,
		`{"b":1}`:                     `b: want true or false, got 1`,
		`{"str":5}`:                   `str: want a string, got 5`,
		`{"ints":{}}`:                 `ints: want an array, got an object`,
		`[1]`:                         `want an object, got an array`,
		`{"n":1`:                      `unexpected end of JSON input`,
		`{"n":x}`:                     `n: invalid character 'x' looking for the beginning of a value at byte 5`,
		`{"n":1} x`:                   `invalid character 'x' after the end of the value at byte 8`,
	} {
		var s sample
		d := NewDecoder([]byte(doc))
		err := s.decode(d)
		if err == nil {
			err = d.End()
		}
		if assert.Error(t, err, doc) {
			assert.Equal(t, want, err.Error(), doc)
		}
	}
	var s sample
	d := NewDecoder([]byte(`{"in":{"a":1,"zz":2}}`))
	d.DisallowUnknownFields()
	assert.EqualError(t, s.decode(d), `in: unknown field "zz"`)
}
