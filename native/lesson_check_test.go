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
