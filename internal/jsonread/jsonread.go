// Package jsonread decodes JSON with encoding/json and says where a
// document is wrong in words a learner or an instructor reads: the path of
// the field, what it wants and what it found, as in
//
//	steps[0].do[0].line: want an integer, got the string "7"
//
// instead of encoding/json's "cannot unmarshal string into Go struct field
// Line.steps.do.line of type int". Decoding itself is encoding/json's; this
// package only finds the path again, by walking the document's tokens with
// json.Decoder up to the offset the error gives.
package jsonread

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"math"
	"reflect"
	"strconv"
	"strings"
)

// Into decodes one JSON value from data into v as json.Unmarshal does
// (fields v does not have are skipped, names match ignoring case, fields
// the document does not name keep their values) and refuses anything after
// the value.
func Into(data []byte, v any) error { return decode(data, v, false) }

// Strict is Into that also refuses fields v does not have, so a misspelt
// name is an error rather than a value silently left out.
func Strict(data []byte, v any) error { return decode(data, v, true) }

func decode(data []byte, v any, strict bool) error {
	dec := json.NewDecoder(bytes.NewReader(data))
	if strict {
		dec.DisallowUnknownFields()
	}
	if err := dec.Decode(v); err != nil {
		return describe(data, err)
	}
	if rest := bytes.TrimLeft(data[dec.InputOffset():], " \t\r\n"); len(rest) > 0 {
		return at("", fmt.Errorf("data after the JSON value at byte %d", len(data)-len(rest)))
	}
	return nil
}

// describe rewrites one of encoding/json's errors about data.
func describe(data []byte, err error) error {
	var typ *json.UnmarshalTypeError
	var syn *json.SyntaxError
	switch {
	case errors.Is(err, io.EOF):
		return at("", errors.New("empty input: want a JSON value"))
	case errors.Is(err, io.ErrUnexpectedEOF):
		return at("", errors.New("unexpected end of JSON input"))
	case errors.As(err, &typ):
		path, tok := walk(data, typ.Offset)
		return at(path, fmt.Errorf("want %s, got %s", want(typ.Type, tok), got(tok)))
	case errors.As(err, &syn):
		path, _ := walk(data, syn.Offset)
		msg := strings.TrimPrefix(syn.Error(), "json: ")
		return at(path, fmt.Errorf("%s at byte %d", msg, syn.Offset-1))
	}
	if name, ok := strings.CutPrefix(err.Error(), "json: unknown field "); ok {
		return at(keyPath(data, name), fmt.Errorf("unknown field %s", name))
	}
	return at("", err)
}

// Error is a decoding error and where in the document it is.
type Error struct {
	// Path names the member or element, as in steps[0].do[1].line; "" is
	// the whole document.
	Path string
	Err  error
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Err.Error()
	}
	return e.Path + ": " + e.Err.Error()
}

func (e *Error) Unwrap() error { return e.Err }

func at(path string, err error) error { return &Error{Path: path, Err: err} }

// Under names err's place in an enclosing document, for a part decoded on
// its own (a json.RawMessage): Under("c", err) turns "nodes: …" into
// "c.nodes: …".
func Under(parent string, err error) error {
	var e *Error
	if !errors.As(err, &e) {
		return &Error{Path: parent, Err: err}
	}
	path := parent
	switch {
	case e.Path == "":
	case strings.HasPrefix(e.Path, "["):
		path += e.Path
	default:
		path += "." + e.Path
	}
	return &Error{Path: path, Err: e.Err}
}

// frame is one open object or array on the way down to a value.
type frame struct {
	array   bool
	index   int    // the array element being read
	key     string // the object member being read
	wantKey bool
}

func pathOf(stack []frame) string {
	var b strings.Builder
	for _, f := range stack {
		switch {
		case f.array:
			b.WriteString("[" + strconv.Itoa(f.index) + "]")
		case f.wantKey: // no member started yet
		default:
			if b.Len() > 0 {
				b.WriteByte('.')
			}
			b.WriteString(f.key)
		}
	}
	return b.String()
}

// walk reads data's tokens until the one that ends at offset (the end of a
// scalar, or just after an opening { or [, as encoding/json reports it) and
// returns its path and the token. On a syntax error it stops there, with
// the path of the value being read.
func walk(data []byte, offset int64) (string, json.Token) {
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.UseNumber()
	var stack []frame
	for {
		tok, err := dec.Token()
		if err != nil {
			return pathOf(stack), nil
		}
		top := len(stack) - 1
		if top >= 0 && !stack[top].array && stack[top].wantKey {
			if d, ok := tok.(json.Delim); ok && d == '}' {
				stack = stack[:top]
				markDone(stack)
				continue
			}
			stack[top].key, stack[top].wantKey = fmt.Sprint(tok), false
			continue
		}
		if d, ok := tok.(json.Delim); ok && (d == ']' || d == '}') {
			stack = stack[:top]
			markDone(stack)
			continue
		}
		if top >= 0 && stack[top].array {
			stack[top].index++
		}
		if dec.InputOffset() >= offset {
			return pathOf(stack), tok
		}
		switch tok {
		case json.Delim('['):
			stack = append(stack, frame{array: true, index: -1})
		case json.Delim('{'):
			stack = append(stack, frame{wantKey: true})
		default:
			markDone(stack)
		}
	}
}

// markDone records that the innermost container's current value is read.
func markDone(stack []frame) {
	if n := len(stack); n > 0 && !stack[n-1].array {
		stack[n-1].wantKey = true
	}
}

// keyPath is the path of the object holding the member named by quoted
// (as encoding/json quotes it), when the document has exactly one such
// member; "" otherwise.
func keyPath(data []byte, quoted string) string {
	name, err := strconv.Unquote(quoted)
	if err != nil {
		return ""
	}
	dec := json.NewDecoder(bytes.NewReader(data))
	var stack []frame
	found, path := 0, ""
	for {
		tok, err := dec.Token()
		if err != nil {
			break
		}
		top := len(stack) - 1
		if d, ok := tok.(json.Delim); ok {
			switch d {
			case '[', '{':
				if top >= 0 && stack[top].array {
					stack[top].index++
				}
				stack = append(stack, frame{array: d == '[', index: -1, wantKey: d == '{'})
			default:
				stack = stack[:top]
				markDone(stack)
			}
			continue
		}
		if top >= 0 && !stack[top].array && stack[top].wantKey {
			if tok == name {
				found++
				path = pathOf(stack) // the object's path: its member is not started yet
			}
			stack[top].key, stack[top].wantKey = fmt.Sprint(tok), false
			continue
		}
		if top >= 0 && stack[top].array {
			stack[top].index++
		}
		markDone(stack)
	}
	if found != 1 {
		return ""
	}
	return path
}

// want says what a Go type accepts, in JSON's words.
func want(t reflect.Type, tok json.Token) string {
	if t == nil {
		return "another value"
	}
	switch t.Kind() {
	case reflect.Bool:
		return "true or false"
	case reflect.String:
		return "a string"
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		if n, ok := tok.(json.Number); ok && isInteger(n) {
			lo := int64(-1) << (t.Bits() - 1)
			return fmt.Sprintf("an integer from %d to %d", lo, -(lo + 1))
		}
		return "an integer"
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64, reflect.Uintptr:
		if n, ok := tok.(json.Number); ok && isInteger(n) {
			return fmt.Sprintf("an integer from 0 to %d", uint64(math.MaxUint64)>>(64-t.Bits()))
		}
		return "an integer"
	case reflect.Float32, reflect.Float64:
		return "a number"
	case reflect.Slice, reflect.Array:
		return "an array"
	case reflect.Struct, reflect.Map:
		return "an object"
	}
	return "a " + t.String()
}

func isInteger(n json.Number) bool { return !strings.ContainsAny(string(n), ".eE") }

// got describes a token that was found.
func got(tok json.Token) string {
	switch v := tok.(type) {
	case string:
		return "the string " + strconv.Quote(v)
	case json.Number:
		return string(v)
	case bool:
		return strconv.FormatBool(v)
	case nil:
		return "null"
	case json.Delim:
		if v == '[' {
			return "an array"
		}
		return "an object"
	}
	return fmt.Sprint(tok)
}
