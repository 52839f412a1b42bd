//go:build !unix

package cluster

import "net/http"

func signalStop(pid int, stop bool) error {
	return &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported, Message: "pause and resume need SIGSTOP/SIGCONT (Linux, macOS)"}
}
