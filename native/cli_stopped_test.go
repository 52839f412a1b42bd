package main

import (
	"fmt"
	"os/exec"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/native/server"
)

// The command-line tools keep working when one broker is stopped (Ctrl-Z,
// SIGSTOP) and it is the first address given: produce moves on to the next
// broker within its own 3 s deadline and the message is stored once;
// status shows the two others and names the silent one.
func TestCLIWorksWithTheLeaderStopped(t *testing.T) {
	c := startCluster(t, 3)
	waitLeader(t, c)
	// A first message settles who leads (a leader of the first moments may
	// still lose its place to a later candidate).
	_, err := c.Client.Produce(ctxFor(t, 10*time.Second), "warmup", server.ProduceRequest{Body: "x"})
	require.NoError(t, err)
	lead := waitLeader(t, c)
	stopped := c.Node(lead)
	addrs := []string{stopped.HTTPAddr}
	for _, n := range c.Nodes {
		if n.ID != lead {
			addrs = append(addrs, n.HTTPAddr)
		}
	}
	require.NoError(t, syscall.Kill(stopped.Pid(), syscall.SIGSTOP))
	resumed := false
	resume := func() {
		if !resumed {
			resumed = true
			syscall.Kill(stopped.Pid(), syscall.SIGCONT)
		}
	}
	t.Cleanup(resume)

	run := func(args ...string) (string, error) {
		var stderr strings.Builder
		cmd := exec.Command(binPath, args...)
		cmd.Stderr = &stderr
		out, err := cmd.Output()
		if err != nil {
			err = fmt.Errorf("%w: %s", err, stderr.String())
		}
		return string(out), err
	}
	addr := strings.Join(addrs, ",")
	out, err := run("produce", "--addr", addr, "--timeout", "3s", "--topic", "orders", "--producer", "class", "hello")
	require.NoError(t, err, "produce with the leader stopped:\n%s", out)
	assert.Contains(t, out, "stored orders@0")
	assert.NotContains(t, out, "via "+stopped.HTTPAddr)

	out, err = run("status", "--addr", addr, "--timeout", "3s")
	if assert.Error(t, err, "one broker did not answer") {
		assert.Contains(t, err.Error(), "the broker at "+stopped.HTTPAddr+" did not answer within 375ms")
	}
	lines := strings.Split(strings.TrimSpace(out), "\n")
	require.Len(t, lines, 4, "a header and a line per broker:\n%s", out)
	assert.Contains(t, lines[1], stopped.HTTPAddr)
	assert.Contains(t, lines[1], "unreachable: the broker at "+stopped.HTTPAddr+" did not answer within 375ms")
	for i, l := range lines[2:] {
		assert.Contains(t, l, addrs[i+1])
		assert.NotContains(t, l, "unreachable", "the brokers that answered are shown")
	}
	assert.True(t, strings.Contains(out, "leader"), "a new leader among the two:\n%s", out)

	// Back from SIGCONT, the old leader catches up; the message is stored once.
	resume()
	waitConverged(t, c)
	msgs := consumeAll(t, c, "orders")
	require.Len(t, msgs, 1)
	assert.Equal(t, "hello", msgs[0].Body)
}
