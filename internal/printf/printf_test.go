package printf_test

import (
	"errors"
	"flag"
	"fmt"
	"io"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/internal/printf"
	"dledgerlab/internal/printf/printftest"
)

type str struct{}

func (str) String() string { return "stringer <&>" }

func TestMatchesFmt(t *testing.T) {
	err := errors.New("disk on fire")
	for _, c := range []struct {
		format string
		args   []any
	}{
		{"plain", nil},
		{"%d %d %d %d %d %d", []any{0, -7, int64(-1 << 63), uint64(1<<64 - 1), uint8(200), int32(-3)}},
		{"%020d|%5d|%-5d|%05d|%+d|%.3d|%x|%#x|%#08x|%X|%08x", []any{12345, 42, 42, -42, 7, 5, 255, 255, 255, 255, uint32(0xdeadbeef)}},
		{"%s|%q|%v|%10s|%-10s|%.2s|%x|%#q", []any{"héllo", "a\"b\n", "v", "right", "left", "truncate", "hi", "back`q"}},
		{"%s|%q|%v", []any{[]byte("bytes"), []byte("q\x00"), []byte{1, 2, 3}}},
		{"%q %q %q", []any{'x', byte('a'), rune(0x4e2d)}},
		{"%v %s %q %v", []any{err, err, err, nil}},
		{"%v %s %q", []any{str{}, str{}, str{}}},
		{"%t %v", []any{true, false}},
		{"%.0f %.1f %f %v %v %6.2f %g", []any{2.5, 0.05, 1.0 / 3, 1e21, 0.1, 3.14159, 100.0}},
		{"%v %d", []any{[]int{1, 2, 3}, []int{}}},
		{"%v", []any{[][]int{{1, 2}, {3}, {}}}},
		{"%v %s %v", []any{[]string{"a", "b c"}, []string{"x"}, []string(nil)}},
		{"100%% sure, %d%%", []any{50}},
		{"missing %d %s", []any{1}},
		{"extra %d", []any{1, 2, "x"}},
		{"%!", nil},
		{"中文 %s：%d", []any{"主", 3}},
	} {
		want := fmt.Sprintf(c.format, c.args...)
		assert.Equal(t, want, printf.Sprintf(c.format, c.args...), "%q", c.format)
		assert.Equal(t, want, string(printf.Appendf([]byte("x"), c.format, c.args...))[1:], "%q", c.format)
	}
	assert.Equal(t, fmt.Sprint("a", 1, 2, "b", "c", err, 3), printf.Sprint("a", 1, 2, "b", "c", err, 3))
}

func TestErrorfWraps(t *testing.T) {
	base := io.ErrUnexpectedEOF
	e := printf.Errorf("reading %s: %w", "seg", base)
	assert.Equal(t, fmt.Errorf("reading %s: %w", "seg", base).Error(), e.Error())
	assert.ErrorIs(t, e, base)
	two := printf.Errorf("%w and %w", base, io.EOF)
	assert.ErrorIs(t, two, base)
	assert.ErrorIs(t, two, io.EOF)
	assert.Equal(t, "no wrap 3", printf.Errorf("no wrap %d", 3).Error())
	assert.Nil(t, errors.Unwrap(printf.Errorf("no wrap %d", 3)))
	var fe *fieldErr
	assert.True(t, errors.As(printf.Errorf("at %d: %w", 4, &fieldErr{"f"}), &fe))
	assert.Equal(t, "f", fe.field)
}

type fieldErr struct{ field string }

func (e *fieldErr) Error() string { return "bad " + e.field }

func TestVerifyCatchesADifference(t *testing.T) {
	if f := flag.Lookup("test.bench"); f != nil && f.Value.String() != "" {
		t.Skip("the comparison is off while benchmarks run")
	}
	printftest.Install()
	defer func() { printf.Verify = nil }()
	type id uint64 // a named integer without String: printf cannot see it
	require.Panics(t, func() { printf.Sprintf("broker %d", id(3)) })
	require.NotPanics(t, func() { printf.Sprintf("broker %d", uint64(3)) })
}
