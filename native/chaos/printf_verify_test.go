package chaos

import "dledgerlab/internal/printf/printftest"

// Every message printf formats in these tests is compared with fmt's.
func init() { printftest.Install() }
