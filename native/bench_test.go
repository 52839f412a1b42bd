package main

import (
	"encoding/json"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// benchSummary runs `dledgerlab bench args… --dir <temp>`, which must succeed,
// decodes the JSON summary on its last line into res and returns the whole
// output.
func benchSummary(t *testing.T, res any, args ...string) string {
	t.Helper()
	out, err := exec.Command(binPath, append(append([]string{"bench"}, args...), "--dir", t.TempDir())...).CombinedOutput()
	require.NoError(t, err, "%s", out)
	lines := strings.Split(strings.TrimSpace(string(out)), "\n")
	require.NoError(t, json.Unmarshal([]byte(lines[len(lines)-1]), res), "%s", out)
	return string(out)
}

// bench --messages N --restart samples every broker's memory at each
// tenth, reads the topic back and times a restart of the whole group; the
// last line is the JSON summary with those figures.
func TestBenchMessagesAndRestart(t *testing.T) {
	var res struct {
		Ops int `json:"ops"`
		Log struct {
			Messages int `json:"messages"`
			RSS      []struct {
				Messages  int                `json:"messages"`
				RssAnonMB map[string]float64 `json:"rss_anon_mb"`
			} `json:"rss"`
			Consume   float64 `json:"consume_msgs_per_s"`
			RestartMs float64 `json:"restart_to_first_commit_ms"`
		} `json:"log"`
	}
	out := benchSummary(t, &res, "--messages", "300", "--size", "64", "--producers", "4", "--restart")
	assert.GreaterOrEqual(t, res.Ops, 300)
	assert.Equal(t, 300, res.Log.Messages)
	require.Len(t, res.Log.RSS, 10, "a sample at every tenth")
	for i, s := range res.Log.RSS {
		assert.Equal(t, 30*(i+1), s.Messages)
		require.Len(t, s.RssAnonMB, 3)
		for id, mb := range s.RssAnonMB {
			assert.Positive(t, mb, "broker %s at %d messages", id, s.Messages)
		}
	}
	assert.Positive(t, res.Log.Consume)
	assert.Positive(t, res.Log.RestartMs)
	assert.Contains(t, out, "restart: SIGKILL of every broker → first produce committed after")
}

// bench with --duration reports the CPU time of the whole process tree
// per acknowledged message (the brokers it started and its producers), and
// the disk's own fsync latency it measured first.
// It says how the producers sent (--send), here over the produce stream.
func TestBenchReportsCPUPerMessage(t *testing.T) {
	var res struct {
		Ops         int     `json:"ops"`
		CPUUsPerMsg float64 `json:"cpu_us_per_msg"`
		FsyncP50    float64 `json:"disk_fsync_p50_ms"`
		FsyncP99    float64 `json:"disk_fsync_p99_ms"`
		RTTP50      float64 `json:"loopback_rtt_p50_ms"`
		RTTP99      float64 `json:"loopback_rtt_p99_ms"`
		TargetP50   float64 `json:"target_p50_ms"`
		Send        string  `json:"send"`
	}
	out := benchSummary(t, &res, "--duration", "1s", "--producers", "8", "--send", "stream")
	require.Positive(t, res.Ops)
	assert.Equal(t, "stream", res.Send)
	assert.Positive(t, res.CPUUsPerMsg, "%s", out)
	assert.Positive(t, res.FsyncP50, "%s", out)
	assert.GreaterOrEqual(t, res.FsyncP99, res.FsyncP50, "%s", out)
	assert.Positive(t, res.RTTP50, "%s", out)
	assert.GreaterOrEqual(t, res.RTTP99, res.RTTP50, "%s", out)
	assert.Zero(t, res.TargetP50, "the one-producer targets only with one producer: %s", out)
	assert.Contains(t, out, "µs per message, brokers and producers together")
}

// With one producer, bench works out the latency targets from its own
// probes and says whether the run met them.
func TestBenchOneProducerTargets(t *testing.T) {
	var res struct {
		FsyncP50  float64 `json:"disk_fsync_p50_ms"`
		FsyncP99  float64 `json:"disk_fsync_p99_ms"`
		RTTP50    float64 `json:"loopback_rtt_p50_ms"`
		TargetP50 float64 `json:"target_p50_ms"`
		TargetP99 float64 `json:"target_p99_ms"`
	}
	out := benchSummary(t, &res, "--duration", "1s", "--producers", "1")
	require.Positive(t, res.TargetP50, "%s", out)
	assert.InDelta(t, res.FsyncP50+res.RTTP50+0.3, res.TargetP50, 0.006, "%s", out)
	assert.InDelta(t, 2*res.FsyncP99, res.TargetP99, 0.006, "%s", out)
	assert.Regexp(t, `one-producer targets \(docs/BENCHMARKS.md\): p50 [0-9.]+ ms against ≤ [0-9.]+ .* (met|not met); p99 [0-9.]+ ms against ≤ [0-9.]+ .* (met|not met)`, out)
}

// cpuSeconds reads a process's CPU time from /proc, and grows as it works.
func TestCPUSecondsGrows(t *testing.T) {
	a := cpuSeconds(os.Getpid())
	require.GreaterOrEqual(t, a, 0.0)
	// Work until the kernel has counted a tick of it (10 ms), at most 10 s.
	for start := time.Now(); cpuSeconds(os.Getpid()) <= a && time.Since(start) < 10*time.Second; {
	}
	assert.Greater(t, cpuSeconds(os.Getpid()), a)
	assert.Equal(t, -1.0, cpuSeconds(-1), "no such process")
}
