// Package minijson reads and writes JSON without reflection. It exists for
// the WebAssembly engine (wasm/): encoding/json's reflection-based encoder
// and decoder cost about 175 KB of the gzipped binary, while the engine
// needs only a few fixed shapes — ClusterView frames out; settings, actions
// and lessons in — which hand-written code covers with a few kilobytes.
//
// The contract is encoding/json's: what the Append functions write is byte
// for byte what json.Marshal writes for the same Go value, and a Decoder
// reads a document as json.Unmarshal reads it into the same Go types (keys
// matched exactly, then ignoring case; null leaves a number, string, bool
// or struct alone and makes a slice nil; unknown fields are skipped unless
// DisallowUnknownFields). The tests hold both sides to encoding/json, and
// each type's hand-written encoder and decoder is tested against it too.
//
// Writing: a Writer's methods append one member each (key and value);
// the caller writes a struct's fields in order with its tags' names, and an
// omitempty field only when it is not empty. Reading: a Decoder walks the
// document once; Object calls back with each key and the callee reads the
// value with String, Int, … or skips it with UnknownField.
package minijson

import (
	"math"
	"strconv"
	"unicode/utf8"
)

// AppendString appends s as a JSON string, escaped exactly as
// encoding/json escapes it: ", \ and control characters; <, > and & as
// \u003c, \u003e and \u0026 (HTML-safe); U+2028 and U+2029; and every
// invalid UTF-8 byte as \ufffd.
func AppendString(dst []byte, s string) []byte {
	const hex = "0123456789abcdef"
	dst = append(dst, '"')
	start := 0
	for i := 0; i < len(s); {
		if b := s[i]; b < utf8.RuneSelf {
			if b >= ' ' && b != '"' && b != '\\' && b != '<' && b != '>' && b != '&' {
				i++
				continue
			}
			dst = append(dst, s[start:i]...)
			switch b {
			case '\\', '"':
				dst = append(dst, '\\', b)
			case '\b':
				dst = append(dst, '\\', 'b')
			case '\f':
				dst = append(dst, '\\', 'f')
			case '\n':
				dst = append(dst, '\\', 'n')
			case '\r':
				dst = append(dst, '\\', 'r')
			case '\t':
				dst = append(dst, '\\', 't')
			default:
				dst = append(dst, '\\', 'u', '0', '0', hex[b>>4], hex[b&0xF])
			}
			i++
			start = i
			continue
		}
		c, size := utf8.DecodeRuneInString(s[i:])
		if c == utf8.RuneError && size == 1 {
			dst = append(dst, s[start:i]...)
			dst = append(dst, `\ufffd`...)
			i += size
			start = i
			continue
		}
		if c == '\u2028' || c == '\u2029' {
			dst = append(dst, s[start:i]...)
			dst = append(dst, '\\', 'u', '2', '0', '2', hex[c&0xF])
			i += size
			start = i
			continue
		}
		i += size
	}
	dst = append(dst, s[start:]...)
	return append(dst, '"')
}

// AppendFloat appends f as encoding/json writes a float64: the shortest
// decimal that reads back as f, in exponent form below 1e-6 and from 1e21
// on (as JavaScript prints numbers). JSON has no NaN or infinity, where
// json.Marshal fails; AppendFloat writes null for them.
func AppendFloat(dst []byte, f float64) []byte {
	if math.IsInf(f, 0) || math.IsNaN(f) {
		return append(dst, "null"...)
	}
	format := byte('f')
	if abs := math.Abs(f); abs != 0 && (abs < 1e-6 || abs >= 1e21) {
		format = 'e'
	}
	dst = strconv.AppendFloat(dst, f, format, -1, 64)
	if format == 'e' {
		// e-07 → e-7, as encoding/json does.
		if n := len(dst); n >= 4 && dst[n-4] == 'e' && dst[n-3] == '-' && dst[n-2] == '0' {
			dst[n-2] = dst[n-1]
			dst = dst[:n-1]
		}
	}
	return dst
}

// A Writer appends JSON to B one member at a time. Each method takes the
// member's key with its punctuation — `{"id":` for an object's first
// member, `,"id":` for the next ones, "" for an array element — and the
// value; Raw writes the rest (closing braces). The call sites read like the
// struct they write.
//
// The methods are kept out of line on purpose: in WebAssembly every
// inlined append or strconv fast path is several hundred bytes of code, and
// one call per member keeps the engine small (the speed difference is not
// measurable next to building the frame).
type Writer struct{ B []byte }

// Raw appends s as it is.
//
//go:noinline
func (w *Writer) Raw(s string) { w.B = append(w.B, s...) }

// String appends key and s as a JSON string.
//
//go:noinline
func (w *Writer) String(key, s string) { w.B = AppendString(append(w.B, key...), s) }

// Int appends key and n.
//
//go:noinline
func (w *Writer) Int(key string, n int64) { w.B = strconv.AppendInt(append(w.B, key...), n, 10) }

// Uint appends key and n.
//
//go:noinline
func (w *Writer) Uint(key string, n uint64) { w.B = strconv.AppendUint(append(w.B, key...), n, 10) }

// Float appends key and f (see AppendFloat).
//
//go:noinline
func (w *Writer) Float(key string, f float64) { w.B = AppendFloat(append(w.B, key...), f) }

// Bool appends key and true or false.
//
//go:noinline
func (w *Writer) Bool(key string, b bool) { w.B = strconv.AppendBool(append(w.B, key...), b) }

// List appends key and an array of n elements, each written by elem(i);
// null instead when null (a nil slice), as encoding/json writes nil.
//
//go:noinline
func (w *Writer) List(key string, n int, null bool, elem func(i int)) {
	w.B = append(w.B, key...)
	if null {
		w.B = append(w.B, "null"...)
		return
	}
	w.B = append(w.B, '[')
	for i := 0; i < n; i++ {
		if i > 0 {
			w.B = append(w.B, ',')
		}
		elem(i)
	}
	w.B = append(w.B, ']')
}

// Ints appends key and a []int (null when nil).
func (w *Writer) Ints(key string, s []int) {
	w.List(key, len(s), s == nil, func(i int) { w.Int("", int64(s[i])) })
}

// IntGroups appends key and a [][]int (null when nil, and so is each nil
// group).
func (w *Writer) IntGroups(key string, g [][]int) {
	w.List(key, len(g), g == nil, func(i int) { w.Ints("", g[i]) })
}

// Strings appends key and a []string (null when nil).
func (w *Writer) Strings(key string, s []string) {
	w.List(key, len(s), s == nil, func(i int) { w.String("", s[i]) })
}
