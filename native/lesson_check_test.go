package main

import (
	"os/exec"
	"path/filepath"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// `dledgerlab lesson check` rejects a goal whose check uses a name that
// nothing binds before the learner begins (only its "Show me" solution
// binds it), naming the file and the line; the embedded lessons pass.
func TestLessonCheckRejectsAnUnboundName(t *testing.T) {
	bad := filepath.Join("testdata", "unbound-goal.yaml")
	out, err := exec.Command(binPath, "lesson", "check", bad).CombinedOutput()
	require.Error(t, err, "%s", out)
	assert.Contains(t, string(out), bad+`:20: "leader is not cur within 5s" uses cur, which nothing binds before it`)
	assert.Contains(t, string(out), "goal's start")

	good, err := filepath.Glob(filepath.Join("..", "lessons", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, good)
	out, err = exec.Command(binPath, append([]string{"lesson", "check"}, good...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)
}

// The Controller-mode lessons from the terminal: list shows them, check
// reads the files of lessons/controller/ as Controller-mode lessons, run
// narrates one on the simulator, and --native says it is not for them.
func TestLessonCommandControllerMode(t *testing.T) {
	out, err := exec.Command(binPath, "lesson", "list").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "ctl-elect-from-set")
	assert.Contains(t, string(out), "(Controller mode)")
	assert.Contains(t, string(out), "(Controller mode, simulator only)")

	files, err := filepath.Glob(filepath.Join("..", "lessons", "controller", "*.yaml"))
	require.NoError(t, err)
	require.NotEmpty(t, files)
	out, err = exec.Command(binPath, append([]string{"lesson", "check"}, files...)...).CombinedOutput()
	require.NoError(t, err, "%s", out)

	out, err = exec.Command(binPath, "lesson", "run", "ctl-elect-from-set").CombinedOutput()
	require.NoError(t, err, "%s", out)
	assert.Contains(t, string(out), "✓ the master is not M")
	assert.Contains(t, string(out), "lesson ctl-elect-from-set: every check held")

	out, err = exec.Command(binPath, "lesson", "run", "ctl-unclean", "--native").CombinedOutput()
	require.Error(t, err)
	assert.Contains(t, string(out), "lesson ctl-unclean needs the simulator")
}

// A Controller-mode lesson that names no broker by number runs on real
// processes: 3 controllers and a broker group of 3 started for it, the
// master crashed, a new one elected from the SyncStateSet, the old one
// back as a slave; the checks the simulator's checkers make are said as
// not checked.
func TestLessonRunNativeControllerMode(t *testing.T) {
	if testing.Short() {
		t.Skip("starts 6 processes")
	}
	out, err := exec.Command(binPath, "lesson", "run", "ctl-elect-from-set", "--native").CombinedOutput()
	require.NoError(t, err, "%s", out)
	for _, want := range []string{"✓ the master is not M", "✓ M follows the master as a slave", "– no acknowledged message is lost (not checked on real processes)", "lesson ctl-elect-from-set: every check held"} {
		assert.Contains(t, string(out), want)
	}
}
