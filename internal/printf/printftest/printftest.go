// Package printftest holds printf to fmt in tests: Install makes every
// message printf formats be compared with fmt's, and a difference panics
// with both.
package printftest

import (
	"flag"
	"fmt"
	"strings"

	"dledgerlab/internal/printf"
)

// Install turns the comparison on; call it from a test's init or TestMain.
// It stays off while benchmarks run (go test -bench), so that they measure
// printf alone.
func Install() { printf.Verify = Compare }

// Compare panics unless got is what fmt makes of format and args (%w, which
// only fmt.Errorf takes, is compared as %v).
func Compare(got, format string, args []any) {
	if benchmarking() {
		return
	}
	want := fmt.Sprintf(strings.ReplaceAll(format, "%w", "%v"), args...)
	if got != want {
		panic(fmt.Sprintf("printf and fmt differ on %q with %#v:\nprintf: %q\nfmt:    %q", format, args, got, want))
	}
}

// benchmarking reports whether -test.bench is set (flags are parsed by the
// time any test or benchmark formats a message).
func benchmarking() bool {
	f := flag.Lookup("test.bench")
	return f != nil && f.Value.String() != ""
}
