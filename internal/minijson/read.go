package minijson

import (
	"strconv"
	"strings"
	"unicode/utf16"
	"unicode/utf8"
)

// maxDepth bounds nesting, as encoding/json's scanner does.
const maxDepth = 10000

// A Decoder reads one JSON document into Go values as json.Unmarshal
// would, one value at a time: the caller walks the document with Object
// and Array and reads each leaf with String, Int, Uint64, Float, Bool or
// Skip. The first error stops the walk and is the one every later call
// returns; it names where in the document it happened ("steps[2].do:").
type Decoder struct {
	data   []byte
	pos    int
	path   []string // the keys and [indexes] leading to the current value
	depth  int
	strict bool
	err    error
}

// NewDecoder returns a Decoder for data.
func NewDecoder(data []byte) *Decoder { return &Decoder{data: data} }

// DisallowUnknownFields makes UnknownField an error, as with
// json.Decoder.DisallowUnknownFields.
func (d *Decoder) DisallowUnknownFields() { d.strict = true }

// Error is what went wrong where: Path names the value ("cluster.nodes",
// "[1].groups[0]"; empty for the document itself).
type Error struct {
	Path string
	Msg  string
}

func (e *Error) Error() string {
	if e.Path == "" {
		return e.Msg
	}
	return e.Path + ": " + e.Msg
}

// fail records the first error, with the current path.
func (d *Decoder) fail(msg string) error {
	if d.err == nil {
		d.err = &Error{Path: strings.TrimPrefix(strings.Join(d.path, ""), "."), Msg: msg}
	}
	return d.err
}

// keep records err, from a callback, as the decoder's error (with the
// current path) unless it already is.
func (d *Decoder) keep(err error) error {
	if d.err == nil {
		d.fail(err.Error())
	}
	return d.err
}

func (d *Decoder) syntax(msg string) error {
	return d.fail(msg + " at byte " + strconv.Itoa(d.pos))
}

// End checks that nothing but white space follows the document.
func (d *Decoder) End() error {
	if d.err != nil {
		return d.err
	}
	if c, ok := d.peek(); ok {
		return d.syntax("invalid character " + quoteChar(c) + " after the end of the value")
	}
	return nil
}

// peek skips white space and returns the next byte (false at the end).
func (d *Decoder) peek() (byte, bool) {
	for d.pos < len(d.data) {
		switch c := d.data[d.pos]; c {
		case ' ', '\t', '\n', '\r':
			d.pos++
		default:
			return c, true
		}
	}
	return 0, false
}

// start returns the first byte of the next value, or fails.
func (d *Decoder) start() (byte, error) {
	if d.err != nil {
		return 0, d.err
	}
	c, ok := d.peek()
	if !ok {
		return 0, d.fail("unexpected end of JSON input")
	}
	return c, nil
}

// Object reads an object, calling field with each key; field must read
// the member's value (Skip, or UnknownField for a key it does not know).
// null is accepted and calls nothing, as encoding/json leaves a struct
// alone for null.
func (d *Decoder) Object(field func(key string) error) error {
	c, err := d.start()
	if err != nil {
		return err
	}
	if c != '{' {
		if c == 'n' {
			return d.literal("null")
		}
		return d.mismatch("an object")
	}
	if err := d.enter(); err != nil {
		return err
	}
	d.pos++
	for first := true; ; first = false {
		c, ok := d.peek()
		if !ok {
			return d.fail("unexpected end of JSON input")
		}
		if c == '}' && first {
			d.pos++
			break
		}
		if c != '"' {
			return d.syntax("invalid character " + quoteChar(c) + " looking for the beginning of an object key")
		}
		key, err := d.str()
		if err != nil {
			return err
		}
		if c, ok := d.peek(); !ok || c != ':' {
			if !ok {
				return d.fail("unexpected end of JSON input")
			}
			return d.syntax("invalid character " + quoteChar(c) + " after object key")
		}
		d.pos++
		d.push("." + key)
		if err := field(key); err != nil {
			return d.keep(err)
		}
		d.pop()
		c, ok = d.peek()
		if !ok {
			return d.fail("unexpected end of JSON input")
		}
		d.pos++
		if c == '}' {
			break
		}
		if c != ',' {
			d.pos--
			return d.syntax("invalid character " + quoteChar(c) + " after object key:value pair")
		}
	}
	d.depth--
	return nil
}

// UnknownField skips the value of a key the caller does not know, or
// fails after DisallowUnknownFields.
func (d *Decoder) UnknownField(key string) error {
	if d.strict {
		// The error names the object that has the field.
		last := d.path[len(d.path)-1]
		d.path = d.path[:len(d.path)-1]
		err := d.fail("unknown field " + strconv.Quote(key))
		d.path = append(d.path, last)
		return err
	}
	return d.Skip()
}

// Array reads an array, calling elem with each index; elem must read the
// element. It reports whether the value was null instead (elem is then
// never called).
func (d *Decoder) Array(elem func(i int) error) (null bool, err error) {
	c, err := d.start()
	if err != nil {
		return false, err
	}
	if c != '[' {
		if c == 'n' {
			return true, d.literal("null")
		}
		return false, d.mismatch("an array")
	}
	if err := d.enter(); err != nil {
		return false, err
	}
	d.pos++
	for i := 0; ; i++ {
		c, ok := d.peek()
		if !ok {
			return false, d.fail("unexpected end of JSON input")
		}
		if c == ']' && i == 0 {
			d.pos++
			break
		}
		d.push("[" + strconv.Itoa(i) + "]")
		if err := elem(i); err != nil {
			return false, d.keep(err)
		}
		d.pop()
		c, ok = d.peek()
		if !ok {
			return false, d.fail("unexpected end of JSON input")
		}
		d.pos++
		if c == ']' {
			break
		}
		if c != ',' {
			d.pos--
			return false, d.syntax("invalid character " + quoteChar(c) + " after array element")
		}
	}
	d.depth--
	return false, nil
}

// List reads an array into *p as json.Unmarshal fills a slice: null makes
// it nil, [] makes it empty but not nil, and elements are decoded into the
// slice's existing ones while its capacity lasts; elem reads one element.
func List[T any](d *Decoder, p *[]T, elem func(*T) error) error {
	s := (*p)[:0]
	null, err := d.Array(func(i int) error {
		if i < cap(s) {
			s = s[:i+1]
		} else {
			var zero T
			s = append(s, zero)
		}
		return elem(&s[i])
	})
	switch {
	case err != nil:
		return err
	case null:
		*p = nil
	case len(s) == 0:
		*p = []T{}
	default:
		*p = s
	}
	return nil
}

// String reads a string into *p (null leaves *p alone).
func (d *Decoder) String(p *string) error {
	c, err := d.start()
	if err != nil {
		return err
	}
	switch c {
	case '"':
		s, err := d.str()
		if err == nil {
			*p = s
		}
		return err
	case 'n':
		return d.literal("null")
	}
	return d.mismatch("a string")
}

// Bool reads true or false into *p (null leaves *p alone).
func (d *Decoder) Bool(p *bool) error {
	c, err := d.start()
	if err != nil {
		return err
	}
	switch c {
	case 't':
		if err := d.literal("true"); err != nil {
			return err
		}
		*p = true
		return nil
	case 'f':
		if err := d.literal("false"); err != nil {
			return err
		}
		*p = false
		return nil
	case 'n':
		return d.literal("null")
	}
	return d.mismatch("true or false")
}

// number reads a number literal; null gives "" (and no error).
func (d *Decoder) number(want string) (string, error) {
	c, err := d.start()
	if err != nil {
		return "", err
	}
	if c == 'n' {
		return "", d.literal("null")
	}
	if c != '-' && (c < '0' || c > '9') {
		return "", d.mismatch(want)
	}
	return d.num()
}

// Int reads an integer into *p (null leaves *p alone). Like
// encoding/json, it refuses 1.5 and 1e3.
func (d *Decoder) Int(p *int) error {
	n := int64(*p)
	if err := d.Int64(&n); err != nil {
		return err
	}
	if int64(int(n)) != n {
		return d.fail("want an integer that fits an int, got " + strconv.FormatInt(n, 10))
	}
	*p = int(n)
	return nil
}

// Int64 reads an integer into *p (null leaves *p alone).
func (d *Decoder) Int64(p *int64) error {
	lit, err := d.number("an integer")
	if err != nil || lit == "" {
		return err
	}
	n, err := strconv.ParseInt(lit, 10, 64)
	if err != nil {
		return d.fail("want an integer, got " + lit)
	}
	*p = n
	return nil
}

// Uint64 reads a non-negative integer into *p (null leaves *p alone).
func (d *Decoder) Uint64(p *uint64) error {
	lit, err := d.number("an integer")
	if err != nil || lit == "" {
		return err
	}
	n, err := strconv.ParseUint(lit, 10, 64)
	if err != nil {
		return d.fail("want an integer from 0 to 18446744073709551615, got " + lit)
	}
	*p = n
	return nil
}

// Float reads a number into *p (null leaves *p alone).
func (d *Decoder) Float(p *float64) error {
	lit, err := d.number("a number")
	if err != nil || lit == "" {
		return err
	}
	f, err := strconv.ParseFloat(lit, 64)
	if err != nil {
		return d.fail("number " + lit + " is out of range")
	}
	*p = f
	return nil
}

// Skip reads any value and throws it away (it must still be valid JSON).
func (d *Decoder) Skip() error {
	c, err := d.start()
	if err != nil {
		return err
	}
	switch {
	case c == '{':
		return d.Object(func(string) error { return d.Skip() })
	case c == '[':
		_, err := d.Array(func(int) error { return d.Skip() })
		return err
	case c == '"':
		_, err := d.str()
		return err
	case c == 't':
		return d.literal("true")
	case c == 'f':
		return d.literal("false")
	case c == 'n':
		return d.literal("null")
	case c == '-' || '0' <= c && c <= '9':
		_, err := d.num()
		return err
	}
	return d.syntax("invalid character " + quoteChar(c) + " looking for the beginning of a value")
}

// mismatch fails on a value of the wrong type, after checking that it is
// at least valid JSON (a syntax error is reported as such).
func (d *Decoder) mismatch(want string) error {
	at := d.pos
	if err := d.Skip(); err != nil {
		return err
	}
	got := string(d.data[at:d.pos])
	switch got[0] {
	case '{':
		got = "an object"
	case '[':
		got = "an array"
	case '"':
		if len(got) > 40 {
			got = strings.ToValidUTF8(got[:36], "") + `…"`
		}
		got = "the string " + got
	}
	d.pos = at
	return d.fail("want " + want + ", got " + got)
}

func (d *Decoder) enter() error {
	d.depth++
	if d.depth > maxDepth {
		return d.fail("nested too deeply")
	}
	return nil
}

func (d *Decoder) push(s string) { d.path = append(d.path, s) }
func (d *Decoder) pop()          { d.path = d.path[:len(d.path)-1] }

// literal consumes true, false or null.
func (d *Decoder) literal(word string) error {
	for i := 0; i < len(word); i++ {
		if d.pos >= len(d.data) {
			return d.fail("unexpected end of JSON input")
		}
		if d.data[d.pos] != word[i] {
			return d.syntax("invalid character " + quoteChar(d.data[d.pos]) + " in literal " + word)
		}
		d.pos++
	}
	return nil
}

// num consumes a number: -?(0|[1-9][0-9]*)(\.[0-9]+)?([eE][+-]?[0-9]+)?
func (d *Decoder) num() (string, error) {
	start := d.pos
	digits := func() int {
		n := 0
		for d.pos < len(d.data) && '0' <= d.data[d.pos] && d.data[d.pos] <= '9' {
			d.pos++
			n++
		}
		return n
	}
	bad := func(in string) (string, error) {
		if d.pos >= len(d.data) {
			return "", d.fail("unexpected end of JSON input")
		}
		return "", d.syntax("invalid character " + quoteChar(d.data[d.pos]) + " in " + in)
	}
	if d.pos < len(d.data) && d.data[d.pos] == '-' {
		d.pos++
	}
	if d.pos < len(d.data) && d.data[d.pos] == '0' {
		d.pos++
	} else if digits() == 0 {
		return bad("numeric literal")
	}
	if d.pos < len(d.data) && d.data[d.pos] == '.' {
		d.pos++
		if digits() == 0 {
			return bad("numeric literal")
		}
	}
	if d.pos < len(d.data) && (d.data[d.pos] == 'e' || d.data[d.pos] == 'E') {
		d.pos++
		if d.pos < len(d.data) && (d.data[d.pos] == '+' || d.data[d.pos] == '-') {
			d.pos++
		}
		if digits() == 0 {
			return bad("exponent of numeric literal")
		}
	}
	return string(d.data[start:d.pos]), nil
}

// str consumes a string and returns its value, unescaped as encoding/json
// does: a lone or broken surrogate and every invalid UTF-8 byte become
// U+FFFD; a control character is a syntax error.
func (d *Decoder) str() (string, error) {
	d.pos++ // the opening quote
	start := d.pos
	// Fast path: nothing to unescape or replace.
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		if c == '"' {
			d.pos++
			return string(d.data[start : d.pos-1]), nil
		}
		if c == '\\' || c < ' ' {
			break
		}
		if c < utf8.RuneSelf {
			d.pos++
			continue
		}
		r, size := utf8.DecodeRune(d.data[d.pos:])
		if r == utf8.RuneError && size == 1 {
			break
		}
		d.pos += size
	}
	out := append([]byte(nil), d.data[start:d.pos]...)
	for d.pos < len(d.data) {
		c := d.data[d.pos]
		switch {
		case c == '"':
			d.pos++
			return string(out), nil
		case c < ' ':
			return "", d.syntax("invalid character " + quoteChar(c) + " in string literal")
		case c == '\\':
			d.pos++
			if d.pos >= len(d.data) {
				return "", d.fail("unexpected end of JSON input")
			}
			switch e := d.data[d.pos]; e {
			case '"', '\\', '/':
				out = append(out, e)
			case 'b':
				out = append(out, '\b')
			case 'f':
				out = append(out, '\f')
			case 'n':
				out = append(out, '\n')
			case 'r':
				out = append(out, '\r')
			case 't':
				out = append(out, '\t')
			case 'u':
				r, n := d.hex4(d.pos + 1)
				if n < 4 {
					d.pos += 1 + n
					if d.pos >= len(d.data) {
						return "", d.fail("unexpected end of JSON input")
					}
					return "", d.syntax("invalid character " + quoteChar(d.data[d.pos]) + " in \\u hexadecimal character escape")
				}
				d.pos += 4
				if utf16.IsSurrogate(r) {
					// A pair only if a \u escape follows and it completes one.
					r2 := rune(-1)
					if d.pos+2 < len(d.data) && d.data[d.pos+1] == '\\' && d.data[d.pos+2] == 'u' {
						if x, n := d.hex4(d.pos + 3); n == 4 {
							r2 = x
						}
					}
					if dec := utf16.DecodeRune(r, r2); dec != utf8.RuneError {
						d.pos += 6
						r = dec
					} else {
						r = utf8.RuneError
					}
				}
				out = utf8.AppendRune(out, r)
			default:
				return "", d.syntax("invalid character " + quoteChar(e) + " in string escape code")
			}
			d.pos++
		case c < utf8.RuneSelf:
			out = append(out, c)
			d.pos++
		default:
			r, size := utf8.DecodeRune(d.data[d.pos:])
			out = utf8.AppendRune(out, r) // RuneError for an invalid byte
			d.pos += size
		}
	}
	return "", d.fail("unexpected end of JSON input")
}

// hex4 reads the four hex digits of a \u escape starting at i; n < 4 is
// how many were there before the first byte that is not one.
func (d *Decoder) hex4(i int) (r rune, n int) {
	for ; n < 4 && i+n < len(d.data); n++ {
		c := d.data[i+n]
		switch {
		case '0' <= c && c <= '9':
			c -= '0'
		case 'a' <= c && c <= 'f':
			c -= 'a' - 10
		case 'A' <= c && c <= 'F':
			c -= 'A' - 10
		default:
			return r, n
		}
		r = r*16 + rune(c)
	}
	return r, n
}

func quoteChar(c byte) string {
	if c == '\'' {
		return `'\''`
	}
	if c == '"' {
		return `'"'`
	}
	return strconv.QuoteRune(rune(c))
}

// Struct reads an object into a struct's fields, given as name,
// destination pairs (as log/slog takes key-value pairs). A destination is
// a *string, *int, *int64, *uint64, *float64, *bool or *[]int, or a
// func() error that reads the value itself (a nested object, a list). It
// reads as json.Unmarshal reads into a struct: a key selects the field of
// that name, or else the first whose name matches ignoring case; a key no
// field has is UnknownField; null reads nothing.
//
//go:noinline
func (d *Decoder) Struct(fields ...any) error {
	if len(fields)%2 != 0 {
		panic("minijson: Struct needs name, destination pairs")
	}
	return d.Object(func(key string) error {
		into := match(key, fields)
		switch p := into.(type) {
		case nil:
			return d.UnknownField(key)
		case *string:
			return d.String(p)
		case *int:
			return d.Int(p)
		case *int64:
			return d.Int64(p)
		case *uint64:
			return d.Uint64(p)
		case *float64:
			return d.Float(p)
		case *bool:
			return d.Bool(p)
		case *[]int:
			return List(d, p, d.Int)
		case func() error:
			return p()
		}
		panic("minijson: field " + key + " has a destination of an unsupported type")
	})
}

// match returns the destination of the field key selects: the one named
// key, or else the first whose name matches it ignoring case (encoding/json's
// rule); nil if none does.
func match(key string, fields []any) any {
	for i := 0; i < len(fields); i += 2 {
		if fields[i].(string) == key {
			return fields[i+1]
		}
	}
	for i := 0; i < len(fields); i += 2 {
		if strings.EqualFold(fields[i].(string), key) {
			return fields[i+1]
		}
	}
	return nil
}
