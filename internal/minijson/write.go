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
// Writing: one file per shape, each field appended in struct order with its
// tag's name; omitempty fields only when not empty. Reading: a Decoder
// walks the document once; Object calls back with each key and the callee
// reads the value with String, Int, … or Skip.
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

// AppendInt appends n in decimal.
func AppendInt(dst []byte, n int64) []byte { return strconv.AppendInt(dst, n, 10) }

// AppendUint appends n in decimal.
func AppendUint(dst []byte, n uint64) []byte { return strconv.AppendUint(dst, n, 10) }

// AppendBool appends true or false.
func AppendBool(dst []byte, b bool) []byte { return strconv.AppendBool(dst, b) }

// AppendInts appends a []int: null when nil, as encoding/json does.
func AppendInts(dst []byte, s []int) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, n := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = strconv.AppendInt(dst, int64(n), 10)
	}
	return append(dst, ']')
}

// AppendIntGroups appends a [][]int (null when nil, and so is each nil group).
func AppendIntGroups(dst []byte, groups [][]int) []byte {
	if groups == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, g := range groups {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendInts(dst, g)
	}
	return append(dst, ']')
}

// AppendStrings appends a []string (null when nil).
func AppendStrings(dst []byte, s []string) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i, x := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = AppendString(dst, x)
	}
	return append(dst, ']')
}

// AppendList appends s as a JSON array whose elements elem appends: null
// when s is nil, [] when it is empty, as encoding/json does.
func AppendList[T any](dst []byte, s []T, elem func([]byte, *T) []byte) []byte {
	if s == nil {
		return append(dst, "null"...)
	}
	dst = append(dst, '[')
	for i := range s {
		if i > 0 {
			dst = append(dst, ',')
		}
		dst = elem(dst, &s[i])
	}
	return append(dst, ']')
}
