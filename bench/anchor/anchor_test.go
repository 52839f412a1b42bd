package main

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"
)

// TestMain lets the http mode's test start node processes: the test binary
// re-executes itself as `node ...`, as the anchor binary does.
func TestMain(m *testing.M) {
	if len(os.Args) > 1 && os.Args[1] == "node" {
		if err := runNode(os.Args[2:]); err != nil {
			os.Stderr.WriteString("anchor node: " + err.Error() + "\n")
			os.Exit(1)
		}
		os.Exit(0)
	}
	os.Exit(m.Run())
}

// lastLine runs the command with args and decodes its last output line.
func lastLine(t *testing.T, args ...string) map[string]any {
	t.Helper()
	var out bytes.Buffer
	if err := run(args, &out); err != nil {
		t.Fatalf("run %v: %v\n%s", args, err, out.String())
	}
	lines := strings.Split(strings.TrimSpace(out.String()), "\n")
	var res map[string]any
	if err := json.Unmarshal([]byte(lines[len(lines)-1]), &res); err != nil {
		t.Fatalf("last line %q: %v", lines[len(lines)-1], err)
	}
	return res
}

// checkShape checks the fields the pairs table and recorded figures rely
// on, under dledgerlab bench's names.
func checkShape(t *testing.T, res map[string]any, system string, producers float64) {
	t.Helper()
	for _, k := range []string{"system", "brokers", "producers", "size_bytes", "duration_s", "ops", "errors", "ops_per_s", "p50_ms", "p99_ms", "p999_ms"} {
		if _, ok := res[k]; !ok {
			t.Errorf("no %q in %v", k, res)
		}
	}
	if res["system"] != system || res["brokers"] != 3.0 || res["producers"] != producers || res["size_bytes"] != 256.0 {
		t.Errorf("result %v: want system %q, 3 brokers, %v producers, 256 bytes", res, system, producers)
	}
	if ops, _ := res["ops"].(float64); ops <= 0 {
		t.Errorf("no operation committed: %v", res)
	}
	if ops, _ := res["ops_per_s"].(float64); ops <= 0 {
		t.Errorf("ops_per_s not positive: %v", res)
	}
	if p50, _ := res["p50_ms"].(float64); p50 <= 0 {
		t.Errorf("p50_ms not positive: %v", res)
	}
}

func TestInproc(t *testing.T) {
	dir := t.TempDir()
	res := lastLine(t, "--mode", "inproc", "--nodes", "3", "--producers", "2", "--size", "256", "--duration", "1s", "--dir", dir)
	checkShape(t, res, "hashicorp/raft inproc", 2)
}

func TestHTTP(t *testing.T) {
	if testing.Short() {
		t.Skip("starts three processes")
	}
	dir := t.TempDir()
	res := lastLine(t, "--mode", "http", "--nodes", "3", "--producers", "2", "--size", "256", "--duration", "1s", "--dir", dir)
	checkShape(t, res, "hashicorp/raft http", 2)
}

func TestFlagsAreChecked(t *testing.T) {
	for _, args := range [][]string{
		{"--mode", "grpc"},
		{"--nodes", "0"},
		{"--producers", "0"},
		{"--duration", "0s"},
		{"--size", "-1"},
		{"extra"},
	} {
		if err := run(args, &bytes.Buffer{}); err == nil {
			t.Errorf("run %v: no error", args)
		}
	}
}

func TestMembersRoundTrip(t *testing.T) {
	ms := []member{
		{peer: peer{ID: "node1", Addr: "127.0.0.1:1"}, HTTP: "127.0.0.1:2"},
		{peer: peer{ID: "node2", Addr: "127.0.0.1:3"}, HTTP: "127.0.0.1:4"},
	}
	got, err := parseMembers(joinMembers(ms))
	if err != nil || len(got) != 2 || got[1] != ms[1] {
		t.Fatalf("parseMembers(joinMembers) = %v, %v", got, err)
	}
	if _, err := parseMembers("node1=127.0.0.1:1"); err == nil {
		t.Error("a member without its HTTP address was accepted")
	}
}
