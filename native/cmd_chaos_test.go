package main

import (
	"encoding/json"
	"errors"
	"os/exec"
	"regexp"
	"strings"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// chaosCLI runs `dledgerlab chaos args…` and returns its output and exit
// code.
func chaosCLI(t *testing.T, args ...string) (string, int) {
	t.Helper()
	out, err := exec.Command(binPath, append([]string{"chaos"}, args...)...).CombinedOutput()
	var ee *exec.ExitError
	switch {
	case err == nil:
		return string(out), 0
	case errors.As(err, &ee):
		return string(out), ee.ExitCode()
	}
	t.Fatalf("chaos %v: %v", args, err)
	return "", 0
}

func lastJSON(t *testing.T, out string) map[string]any {
	t.Helper()
	lines := strings.Split(strings.TrimSpace(out), "\n")
	var sum map[string]any
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), &sum), out)
	return sum
}

func TestChaosCommandControllerMode(t *testing.T) {
	out, code := chaosCLI(t, "--mode", "controller", "--seeds", "4")
	require.Equal(t, 0, code, out)
	sum := lastJSON(t, out)
	assert.Equal(t, "controller", sum["mode"])
	assert.Equal(t, 4.0, sum["runs"])
	assert.Equal(t, 0.0, sum["violations"])
	assert.Equal(t, 0.0, sum["liveness_failures"])

	// Unclean elections lose acknowledged writes: each failure prints one
	// replay command, and the command replays it.
	out, code = chaosCLI(t, "--mode", "controller", "--unclean", "--seeds", "12")
	require.Equal(t, 1, code, out)
	sum = lastJSON(t, out)
	fails := regexp.MustCompile(`(?m)^FAIL seed (\d+) \((violation|liveness)\): .*\n  replay: (dledgerlab chaos .*)$`).FindAllStringSubmatch(out, -1)
	require.NotEmpty(t, fails, out)
	assert.Equal(t, sum["violations"].(float64)+sum["liveness_failures"].(float64), float64(len(fails)))
	replay := fails[0][3]
	assert.Equal(t, "dledgerlab chaos --mode controller --seeds 1 --first "+fails[0][1]+" --unclean -v", replay)
	again, code := chaosCLI(t, strings.Fields(replay)[2:]...)
	assert.Equal(t, 1, code)
	assert.Contains(t, again, "FAIL seed "+fails[0][1]+" (violation)")

	// All-ack off: the master acknowledges alone.
	out, code = chaosCLI(t, "--mode", "controller", "--all-ack=false", "--seeds", "6")
	assert.Equal(t, 1, code, out)
	assert.Contains(t, out, "--all-ack=false -v")

	for _, tc := range []struct {
		args []string
		want string
	}{
		{[]string{"--mode", "raft"}, `--mode "raft": want dledger or controller`},
		{[]string{"--mode", "controller", "--nodes", "5"}, "--nodes applies to --mode dledger only"},
		{[]string{"--mode", "controller", "--rule-off", "up_to_date_check"}, "--rule-off applies to --mode dledger only"},
		{[]string{"--unclean"}, "--unclean applies to --mode controller only"},
	} {
		out, code := chaosCLI(t, tc.args...)
		assert.Equal(t, 2, code, "%v: %s", tc.args, out)
		assert.Contains(t, out, tc.want)
	}

	// The default mode is the DLedger sweep, as before.
	out, code = chaosCLI(t, "--seeds", "1", "--nodes", "3", "--fault-ms", "3000", "--heal-ms", "2000")
	require.Equal(t, 0, code, out)
	sum = lastJSON(t, out)
	assert.Nil(t, sum["mode"])
	assert.Contains(t, sum, "linearizability_failures")
}
