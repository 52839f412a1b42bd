// Package printf formats messages the way fmt does, for the verbs and
// argument types the simulator's packages use, without fmt and the
// reflection it brings: the WebAssembly engine is about 150 KB smaller
// (gzipped) without them, and the core no longer reaches os through fmt.
//
// Verbs: %d %s %q %v %+v %x %f %w (Errorf) %%, with the flags '#', '0',
// '-', '+' and a width and precision. Arguments: the built-in integer,
// float, bool and string types, []byte, []int, []string, [][]int, error and
// fmt.Stringer-like values (a String method). A named type whose underlying
// type is a number or a string must be converted at the call (uint64(id)):
// without reflection it cannot be told apart; TestCallsUseSupportedTypes
// checks every call in the module for that.
//
// The output is fmt's, byte for byte: tests of the packages that use
// printf set Verify to compare each message with fmt's (printftest).
package printf

import (
	"errors"
	"strconv"
	"unicode/utf8"
)

// Verify, when set (by tests), is called with every message formatted and
// the format and arguments that made it.
var Verify func(got, format string, args []any)

// Stringer is fmt.Stringer.
type Stringer interface{ String() string }

// Sprintf formats according to format, as fmt.Sprintf does.
func Sprintf(format string, args ...any) string {
	var buf [128]byte // most messages fit: one allocation, the string
	s := string(appendf(buf[:0], format, args))
	if Verify != nil {
		Verify(s, format, args)
	}
	return s
}

// Appendf appends the formatted message to b, as fmt.Appendf does.
func Appendf(b []byte, format string, args ...any) []byte {
	n := len(b)
	b = appendf(b, format, args)
	if Verify != nil {
		Verify(string(b[n:]), format, args)
	}
	return b
}

// Sprint formats its operands with %v, adding spaces between operands when
// neither is a string, as fmt.Sprint does.
func Sprint(args ...any) string {
	var b []byte
	for i, a := range args {
		_, isStr := a.(string)
		if i > 0 && !isStr {
			if _, prevStr := args[i-1].(string); !prevStr {
				b = append(b, ' ')
			}
		}
		b = appendArg(b, a, spec{verb: 'v'})
	}
	return string(b)
}

// Errorf formats a message, as fmt.Errorf does: an operand of %w is
// wrapped (errors.Is and errors.As see it); %w is %v in the message.
func Errorf(format string, args ...any) error {
	msg := Sprintf(format, args...)
	var wrapped []error
	for i, v := range verbs(format) {
		if v == 'w' && i < len(args) {
			if err, ok := args[i].(error); ok {
				wrapped = append(wrapped, err)
			}
		}
	}
	switch len(wrapped) {
	case 0:
		return errors.New(msg)
	case 1:
		return &wrapError{msg: msg, err: wrapped[0]}
	}
	return &wrapErrors{msg: msg, errs: wrapped}
}

type wrapError struct {
	msg string
	err error
}

func (e *wrapError) Error() string { return e.msg }
func (e *wrapError) Unwrap() error { return e.err }

type wrapErrors struct {
	msg  string
	errs []error
}

func (e *wrapErrors) Error() string   { return e.msg }
func (e *wrapErrors) Unwrap() []error { return e.errs }

// spec is one verb with its flags.
type spec struct {
	verb             rune
	plus, sharp      bool
	zero, minus      bool
	width, prec      int
	hasWidth, hasPre bool
}

// verbs returns the verb of each operand of format, in order.
func verbs(format string) []rune {
	var out []rune
	for i := 0; i < len(format); i++ {
		if format[i] != '%' {
			continue
		}
		i++
		for i < len(format) && (format[i] == '+' || format[i] == '#' || format[i] == '0' || format[i] == '-' || format[i] == ' ' || format[i] == '.' || format[i] >= '1' && format[i] <= '9') {
			i++
		}
		if i < len(format) && format[i] != '%' {
			r, _ := utf8.DecodeRuneInString(format[i:])
			out = append(out, r)
		}
	}
	return out
}

func appendf(b []byte, format string, args []any) []byte {
	arg := 0
	for i := 0; i < len(format); {
		c := format[i]
		if c != '%' {
			j := i + 1
			for j < len(format) && format[j] != '%' {
				j++
			}
			b = append(b, format[i:j]...)
			i = j
			continue
		}
		i++
		var sp spec
	flags:
		for ; i < len(format); i++ {
			switch format[i] {
			case '+':
				sp.plus = true
			case '#':
				sp.sharp = true
			case '0':
				sp.zero = true
			case '-':
				sp.minus = true
			default:
				break flags
			}
		}
		for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
			sp.width, sp.hasWidth = sp.width*10+int(format[i]-'0'), true
		}
		if i < len(format) && format[i] == '.' {
			i++
			sp.hasPre = true
			for ; i < len(format) && format[i] >= '0' && format[i] <= '9'; i++ {
				sp.prec = sp.prec*10 + int(format[i]-'0')
			}
		}
		if i >= len(format) {
			b = append(b, "%!(NOVERB)"...)
			break
		}
		r, size := utf8.DecodeRuneInString(format[i:])
		i += size
		if r == '%' {
			b = append(b, '%')
			continue
		}
		sp.verb = r
		if arg >= len(args) {
			b = append(b, "%!"...)
			b = utf8.AppendRune(b, r)
			b = append(b, "(MISSING)"...)
			continue
		}
		b = appendArg(b, args[arg], sp)
		arg++
	}
	if arg < len(args) {
		b = append(b, "%!(EXTRA "...)
		for k, a := range args[arg:] {
			if k > 0 {
				b = append(b, ", "...)
			}
			b = append(b, typeName(a)...)
			b = append(b, '=')
			b = appendArg(b, a, spec{verb: 'v'})
		}
		b = append(b, ')')
	}
	return b
}

// appendArg formats one operand.
func appendArg(b []byte, a any, sp spec) []byte {
	if sp.verb == 'w' {
		sp.verb = 'v'
	}
	switch v := a.(type) {
	case nil:
		if sp.verb == 'v' {
			return pad(b, "<nil>", sp)
		}
		return append(b, "%!"+string(sp.verb)+"(<nil>)"...)
	case string:
		return appendString(b, v, sp)
	case []byte:
		if sp.verb == 'v' || sp.verb == 'd' {
			return appendInts(b, len(v), func(i int) int64 { return int64(v[i]) })
		}
		return appendString(b, string(v), sp)
	case bool:
		if sp.verb == 'v' || sp.verb == 't' {
			return pad(b, strconv.FormatBool(v), sp)
		}
	case int:
		return appendInt(b, int64(v), false, sp)
	case int8:
		return appendInt(b, int64(v), false, sp)
	case int16:
		return appendInt(b, int64(v), false, sp)
	case int32:
		return appendInt(b, int64(v), false, sp)
	case int64:
		return appendInt(b, v, false, sp)
	case uint:
		return appendInt(b, int64(v), true, sp)
	case uint8:
		return appendInt(b, int64(v), true, sp)
	case uint16:
		return appendInt(b, int64(v), true, sp)
	case uint32:
		return appendInt(b, int64(v), true, sp)
	case uint64:
		return appendInt(b, int64(v), true, sp)
	case uintptr:
		return appendInt(b, int64(v), true, sp)
	case float64:
		return appendFloat(b, v, 64, sp)
	case float32:
		return appendFloat(b, float64(v), 32, sp)
	case []int:
		if sp.verb == 'v' || sp.verb == 'd' {
			return appendInts(b, len(v), func(i int) int64 { return int64(v[i]) })
		}
	case []string:
		if sp.verb == 'v' || sp.verb == 's' {
			b = append(b, '[')
			for i, x := range v {
				if i > 0 {
					b = append(b, ' ')
				}
				b = append(b, x...)
			}
			return append(b, ']')
		}
	case [][]int:
		if sp.verb == 'v' || sp.verb == 'd' {
			b = append(b, '[')
			for i, g := range v {
				if i > 0 {
					b = append(b, ' ')
				}
				b = appendInts(b, len(g), func(i int) int64 { return int64(g[i]) })
			}
			return append(b, ']')
		}
	case error:
		switch sp.verb {
		case 'v', 's', 'q', 'x':
			return appendString(b, v.Error(), sp)
		}
	case Stringer:
		switch sp.verb {
		case 'v', 's', 'q', 'x':
			return appendString(b, v.String(), sp)
		}
	}
	return append(b, "%!"+string(sp.verb)+"("+typeName(a)+")"...)
}

// typeName names the operand's type where printf knows it.
func typeName(a any) string {
	switch a.(type) {
	case string:
		return "string"
	case int:
		return "int"
	case int64:
		return "int64"
	case uint64:
		return "uint64"
	case bool:
		return "bool"
	case float64:
		return "float64"
	}
	return "unsupported type"
}

func appendString(b []byte, s string, sp spec) []byte {
	plain := !sp.hasWidth && !sp.hasPre
	switch sp.verb {
	case 'v', 's':
		if plain {
			return append(b, s...)
		}
		if sp.hasPre && sp.prec < utf8.RuneCountInString(s) {
			n := 0
			for i := range s {
				if n == sp.prec {
					s = s[:i]
					break
				}
				n++
			}
		}
		return pad(b, s, sp)
	case 'q':
		if sp.sharp && strconv.CanBackquote(s) {
			return pad(b, "`"+s+"`", sp)
		}
		if sp.plus {
			return pad(b, strconv.QuoteToASCII(s), sp)
		}
		if plain {
			return strconv.AppendQuote(b, s)
		}
		return pad(b, strconv.Quote(s), sp)
	case 'x':
		const hex = "0123456789abcdef"
		var h []byte
		if sp.sharp {
			h = append(h, "0x"...)
		}
		for i := 0; i < len(s); i++ {
			h = append(h, hex[s[i]>>4], hex[s[i]&15])
		}
		return pad(b, string(h), sp)
	}
	return append(b, "%!"+string(sp.verb)+"(string="+s+")"...)
}

func appendInt(b []byte, v int64, unsigned bool, sp spec) []byte {
	if (sp.verb == 'd' || sp.verb == 'v') && !sp.hasWidth && !sp.hasPre && !sp.plus {
		if unsigned {
			return strconv.AppendUint(b, uint64(v), 10)
		}
		return strconv.AppendInt(b, v, 10)
	}
	var digits string
	neg := false
	switch sp.verb {
	case 'd', 'v':
		if unsigned {
			digits = strconv.FormatUint(uint64(v), 10)
		} else {
			digits = strconv.FormatInt(v, 10)
			if v < 0 {
				neg, digits = true, digits[1:]
			}
		}
	case 'x', 'X':
		if unsigned {
			digits = strconv.FormatUint(uint64(v), 16)
		} else {
			digits = strconv.FormatInt(v, 16)
			if v < 0 {
				neg, digits = true, digits[1:]
			}
		}
		if sp.verb == 'X' {
			up := []byte(digits)
			for i, c := range up {
				if c >= 'a' && c <= 'f' {
					up[i] = c - 'a' + 'A'
				}
			}
			digits = string(up)
		}
	case 'q', 'c':
		r := rune(v)
		if sp.verb == 'c' {
			return pad(b, string(r), sp)
		}
		return pad(b, strconv.QuoteRune(r), sp)
	default:
		return append(b, "%!"+string(sp.verb)+"(int="+strconv.FormatInt(v, 10)+")"...)
	}
	if sp.hasPre {
		for len(digits) < sp.prec {
			digits = "0" + digits
		}
		if sp.prec == 0 && digits == "0" {
			digits = ""
		}
	}
	sign := ""
	switch {
	case neg:
		sign = "-"
	case sp.plus:
		sign = "+"
	}
	if sp.zero && !sp.minus && !sp.hasPre && sp.hasWidth {
		// fmt counts the sign in the width but not a 0x prefix.
		for len(sign)+len(digits) < sp.width {
			digits = "0" + digits
		}
	}
	if sp.sharp && (sp.verb == 'x' || sp.verb == 'X') {
		sign += "0" + string(sp.verb)
	}
	return pad(b, sign+digits, sp)
}

func appendInts(b []byte, n int, at func(int) int64) []byte {
	b = append(b, '[')
	for i := range n {
		if i > 0 {
			b = append(b, ' ')
		}
		b = strconv.AppendInt(b, at(i), 10)
	}
	return append(b, ']')
}

func appendFloat(b []byte, v float64, bits int, sp spec) []byte {
	var s string
	switch sp.verb {
	case 'f', 'F':
		prec := 6
		if sp.hasPre {
			prec = sp.prec
		}
		s = strconv.FormatFloat(v, 'f', prec, bits)
	case 'v', 'g':
		prec := -1
		if sp.hasPre {
			prec = sp.prec
		}
		s = strconv.FormatFloat(v, 'g', prec, bits)
	default:
		return append(b, "%!"+string(sp.verb)+"(float64="+strconv.FormatFloat(v, 'g', -1, bits)+")"...)
	}
	if sp.plus && v >= 0 {
		s = "+" + s
	}
	if sp.zero && !sp.minus && sp.hasWidth {
		neg := len(s) > 0 && (s[0] == '-' || s[0] == '+')
		sign := ""
		if neg {
			sign, s = s[:1], s[1:]
		}
		for len(sign)+len(s) < sp.width {
			s = "0" + s
		}
		s = sign + s
	}
	return pad(b, s, sp)
}

// pad writes s padded with spaces to the spec's width.
func pad(b []byte, s string, sp spec) []byte {
	n := sp.width - utf8.RuneCountInString(s)
	if !sp.hasWidth || n <= 0 {
		return append(b, s...)
	}
	if sp.minus {
		b = append(b, s...)
		for range n {
			b = append(b, ' ')
		}
		return b
	}
	for range n {
		b = append(b, ' ')
	}
	return append(b, s...)
}
