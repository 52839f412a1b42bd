// Command pairs runs `dledgerlab bench` and the anchor (hashicorp/raft, in
// process and over HTTP) alternately under the same workload and prints
// how our throughput compares: for each producer count, pairs of runs
//
//	dledgerlab bench, anchor --mode inproc, anchor --mode http, dledgerlab bench, …
//
// so that a slow stretch of the machine (another job, the disk's own
// flushing) weighs on every system alike; each ratio is taken within one
// pair. Every run's JSON line goes to --out as it comes, then a table
// prints the medians and the ratios. `make bench-native` runs it.
package main

import (
	"bufio"
	"bytes"
	"encoding/json"
	"flag"
	"fmt"
	"io"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"time"
)

func main() {
	if err := run(os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "pairs:", err)
		os.Exit(1)
	}
}

// record is one line of --out: which run, and the run's own JSON line.
type record struct {
	Time      string          `json:"time"`
	Pair      int             `json:"pair"`
	Producers int             `json:"producers"`
	System    string          `json:"system"`
	Result    json.RawMessage `json:"result,omitempty"`
	Error     string          `json:"error,omitempty"`
}

// figures are the fields of a run's JSON line that the table uses (both
// dledgerlab bench and the anchor print them under these names).
type figures struct {
	OpsPerS float64 `json:"ops_per_s"`
	P50Ms   float64 `json:"p50_ms"`
	P99Ms   float64 `json:"p99_ms"`
}

func run(args []string, stdout io.Writer) error {
	fs := flag.NewFlagSet("pairs", flag.ContinueOnError)
	ours := fs.String("dledgerlab", "../../bin/dledgerlab", "the dledgerlab binary")
	anchor := fs.String("anchor", "../../bin/anchor", "the anchor binary")
	producersFlag := fs.String("producers", "1 16 64 256", "producer counts, space- or comma-separated")
	pairs := fs.Int("pairs", 3, "pairs of runs per producer count")
	duration := fs.Duration("duration", 10*time.Second, "each run's measured duration")
	brokers := fs.Int("brokers", 3, "brokers (raft nodes) in every run")
	size := fs.Int("size", 256, "message size in bytes")
	out := fs.String("out", "", "append every run's JSON line to this file (default: none)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	producers, err := parseInts(*producersFlag)
	if err != nil {
		return fmt.Errorf("--producers: %w", err)
	}
	if *pairs < 1 {
		return fmt.Errorf("--pairs %d must be at least 1", *pairs)
	}
	var rec io.Writer = io.Discard
	if *out != "" {
		f, err := os.OpenFile(*out, os.O_CREATE|os.O_WRONLY|os.O_APPEND, 0o644)
		if err != nil {
			return err
		}
		defer f.Close()
		rec = f
	}
	common := []string{"--size", strconv.Itoa(*size), "--duration", duration.String()}
	var samples []sample
	failed := 0
	for _, p := range producers {
		for k := 1; k <= *pairs; k++ {
			for _, sys := range []string{sysOurs, sysInproc, sysHTTP} {
				var cmd *exec.Cmd
				pc := append([]string{"--producers", strconv.Itoa(p)}, common...)
				switch sys {
				case sysOurs:
					cmd = exec.Command(*ours, append([]string{"bench", "--brokers", strconv.Itoa(*brokers)}, pc...)...)
				case sysInproc:
					cmd = exec.Command(*anchor, append([]string{"--mode", "inproc", "--nodes", strconv.Itoa(*brokers)}, pc...)...)
				case sysHTTP:
					cmd = exec.Command(*anchor, append([]string{"--mode", "http", "--nodes", strconv.Itoa(*brokers)}, pc...)...)
				}
				r := record{Time: time.Now().UTC().Format(time.RFC3339), Pair: k, Producers: p, System: sys}
				line, err := lastJSONLine(cmd)
				var f figures
				if err == nil {
					err = json.Unmarshal(line, &f)
				}
				if err != nil {
					failed++
					r.Error = err.Error()
					fmt.Fprintf(stdout, "producers %d pair %d %s: FAILED: %v\n", p, k, sys, err)
				} else {
					r.Result = line
					samples = append(samples, sample{Producers: p, Pair: k, System: sys, OpsPerS: f.OpsPerS, P50Ms: f.P50Ms, P99Ms: f.P99Ms})
					fmt.Fprintf(stdout, "producers %d pair %d %-22s %8.0f ops/s  p50 %6.2f ms  p99 %6.2f ms\n", p, k, sys, f.OpsPerS, f.P50Ms, f.P99Ms)
				}
				b, _ := json.Marshal(r)
				if _, err := fmt.Fprintln(rec, string(b)); err != nil {
					return err
				}
			}
		}
	}
	fmt.Fprintf(stdout, "\n%d brokers, %d-byte messages, %v per run, %d pairs per producer count\n", *brokers, *size, *duration, *pairs)
	if err := writeTable(stdout, rows(samples)); err != nil {
		return err
	}
	if *out != "" {
		fmt.Fprintf(stdout, "runs recorded in %s\n", *out)
	}
	if failed > 0 {
		return fmt.Errorf("%d runs failed", failed)
	}
	return nil
}

// lastJSONLine runs cmd and returns the last line of its standard output,
// which must be a JSON object. Its standard error passes through.
func lastJSONLine(cmd *exec.Cmd) ([]byte, error) {
	var stdout bytes.Buffer
	cmd.Stdout = &stdout
	cmd.Stderr = os.Stderr
	if err := cmd.Run(); err != nil {
		return nil, fmt.Errorf("%s: %w", strings.Join(cmd.Args, " "), err)
	}
	var last []byte
	sc := bufio.NewScanner(&stdout)
	sc.Buffer(nil, 1<<20)
	for sc.Scan() {
		if l := bytes.TrimSpace(sc.Bytes()); len(l) > 0 {
			last = bytes.Clone(l)
		}
	}
	if !json.Valid(last) || len(last) == 0 || last[0] != '{' {
		return nil, fmt.Errorf("%s: the last line is not a JSON object: %q", strings.Join(cmd.Args, " "), last)
	}
	return last, nil
}

// parseInts reads "1 16 64" or "1,16,64".
func parseInts(s string) ([]int, error) {
	var out []int
	for f := range strings.FieldsFuncSeq(s, func(r rune) bool { return r == ',' || r == ' ' }) {
		n, err := strconv.Atoi(f)
		if err != nil || n < 1 {
			return nil, fmt.Errorf("%q is not a positive count", f)
		}
		out = append(out, n)
	}
	if len(out) == 0 {
		return nil, fmt.Errorf("no producer counts in %q", s)
	}
	return out, nil
}
