// Package printftest holds printf to fmt in tests: Install makes every
// message printf formats be compared with fmt's, and a difference panics
// with both.
package printftest

import (
	"fmt"
	"strings"

	"dledgerlab/internal/printf"
)

// Install turns the comparison on; call it from a test's init or TestMain.
func Install() { printf.Verify = Compare }

// Compare panics unless got is what fmt makes of format and args (%w, which
// only fmt.Errorf takes, is compared as %v).
func Compare(got, format string, args []any) {
	want := fmt.Sprintf(strings.ReplaceAll(format, "%w", "%v"), args...)
	if got != want {
		panic(fmt.Sprintf("printf and fmt differ on %q with %#v:\nprintf: %q\nfmt:    %q", format, args, got, want))
	}
}
