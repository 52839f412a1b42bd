// Command anchor runs hashicorp/raft (with raft-boltdb/v2 stores) under the
// workload of `dledgerlab bench`, so that the lab's own figures have a
// well-known Raft implementation to be compared with on the same machine.
//
//	anchor --mode inproc --nodes 3 --producers 16 --size 256 --duration 10s
//	anchor --mode http   --nodes 3 --producers 16 --size 256 --duration 10s
//
// inproc runs every node in this process (real TCP between them on
// 127.0.0.1, real bolt files with fsync) and the producers call Apply on the
// leader directly. http starts each node as its own OS process (this binary
// again, as `anchor node ...`) serving POST /apply, and the producers send
// HTTP requests to the leader, as `dledgerlab bench` does to its brokers.
//
// The workload is the one of native/cmd_bench.go: C closed-loop producers,
// each sending one S-byte message and waiting until it is committed (a
// majority of the nodes fsynced it) before sending the next; half a second
// of warm-up, then D of measurement; latency percentiles by nearest rank.
// The last line of output is one JSON object of the same shape as the one
// `dledgerlab bench` prints, with "system" naming what was measured.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"os"
	"os/signal"
	"slices"
	"sync"
	"syscall"
	"time"
)

func main() {
	var err error
	if len(os.Args) > 1 && os.Args[1] == "node" {
		// The http mode's children: see node.go.
		err = runNode(os.Args[2:])
	} else {
		err = run(os.Args[1:], os.Stdout)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "anchor:", err)
		os.Exit(1)
	}
}

// result is the JSON summary, the last line of the output. Its fields are
// those of dledgerlab's benchResult that apply here, under the same names.
type result struct {
	System    string  `json:"system"`
	Brokers   int     `json:"brokers"`
	Producers int     `json:"producers"`
	SizeBytes int     `json:"size_bytes"`
	DurationS float64 `json:"duration_s"`
	Ops       int     `json:"ops"`
	Errors    int     `json:"errors"`
	OpsPerS   float64 `json:"ops_per_s"`
	P50Ms     float64 `json:"p50_ms"`
	P99Ms     float64 `json:"p99_ms"`
	P999Ms    float64 `json:"p999_ms"`
}

// options are the command's flags.
type options struct {
	mode      string
	nodes     int
	producers int
	size      int
	duration  time.Duration
	dir       string
}

// warmup is how long the load runs before measuring, as in dledgerlab
// bench: connections are open and the leader's batches formed.
const warmup = 500 * time.Millisecond

// sendTimeout bounds one message, retries included (dledgerlab bench gives
// each produce 30 s too).
const sendTimeout = 30 * time.Second

func run(args []string, out io.Writer) error {
	fs := flag.NewFlagSet("anchor", flag.ContinueOnError)
	var o options
	fs.StringVar(&o.mode, "mode", "inproc", "inproc (all nodes in this process) or http (one process per node, producers over HTTP)")
	fs.IntVar(&o.nodes, "nodes", 3, "raft nodes (the brokers of dledgerlab bench)")
	fs.IntVar(&o.producers, "producers", 1, "concurrent closed-loop producers")
	fs.IntVar(&o.size, "size", 256, "message size in bytes")
	fs.DurationVar(&o.duration, "duration", 10*time.Second, "how long to measure throughput")
	fs.StringVar(&o.dir, "dir", "", "data folder (default: a temporary folder, removed afterwards)")
	if err := fs.Parse(args); err != nil {
		return err
	}
	switch {
	case fs.NArg() > 0:
		return fmt.Errorf("unexpected arguments: %v", fs.Args())
	case o.mode != "inproc" && o.mode != "http":
		return fmt.Errorf("--mode %q: want inproc or http", o.mode)
	case o.nodes < 1:
		return fmt.Errorf("--nodes %d must be at least 1", o.nodes)
	case o.producers < 1:
		return fmt.Errorf("--producers %d must be at least 1", o.producers)
	case o.size < 0:
		return fmt.Errorf("--size %d must not be negative", o.size)
	case o.duration <= 0:
		return fmt.Errorf("--duration %v must be positive", o.duration)
	}
	if o.dir == "" {
		d, err := os.MkdirTemp("", "anchor-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		o.dir = d
	} else if err := os.MkdirAll(o.dir, 0o755); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	// SIGINT or SIGTERM ends the run early but through its cleanup: the
	// nodes are stopped and a temporary data folder is removed.
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	var (
		res result
		err error
	)
	if o.mode == "inproc" {
		res, err = runInproc(ctx, o, out)
	} else {
		res, err = runHTTP(ctx, o, out)
	}
	if err != nil {
		return err
	}
	b, err := json.Marshal(res)
	if err != nil {
		return err
	}
	_, err = fmt.Fprintln(out, string(b))
	return err
}

// sendFunc sends one message and returns once it is committed, or fails.
// Each producer has its own, called from one goroutine.
type sendFunc func(msg []byte) error

// measure runs one closed-loop producer per send function for warmup+d and
// fills the throughput and latency fields of res from the last d; it
// returns early, with ctx's error, when ctx ends.
func measure(ctx context.Context, res *result, sends []sendFunc, size int, d time.Duration, out io.Writer) error {
	msg := make([]byte, size)
	for i := range msg {
		msg[i] = 'x' // the body dledgerlab bench sends
	}
	var (
		mu   sync.Mutex
		lat  []time.Duration
		errs int
		stop = make(chan struct{})
		wg   sync.WaitGroup
	)
	for _, send := range sends {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				select {
				case <-stop:
					return
				default:
				}
				t0 := time.Now()
				err := send(msg)
				took := time.Since(t0)
				mu.Lock()
				if err != nil {
					errs++
				} else {
					lat = append(lat, took)
				}
				mu.Unlock()
			}
		}()
	}
	defer wg.Wait()
	defer close(stop)
	if !sleep(ctx, warmup) {
		return context.Cause(ctx)
	}
	mu.Lock()
	lat, errs = lat[:0], 0
	mu.Unlock()
	began := time.Now()
	if !sleep(ctx, d) {
		return context.Cause(ctx)
	}
	mu.Lock()
	got, nerr := slices.Clone(lat), errs
	mu.Unlock()
	elapsed := time.Since(began).Seconds()

	res.Producers, res.SizeBytes = len(sends), size
	res.DurationS = round(elapsed, 2)
	res.Ops, res.Errors = len(got), nerr
	res.OpsPerS = round(float64(len(got))/elapsed, 1)
	res.P50Ms, res.P99Ms, res.P999Ms = pct(got, 50), pct(got, 99), pct(got, 99.9)
	fmt.Fprintf(out, "load: %d producers × %d B for %.1fs: %d ops, %.0f ops/s, latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, errors %d\n",
		res.Producers, res.SizeBytes, elapsed, res.Ops, res.OpsPerS, res.P50Ms, res.P99Ms, res.P999Ms, nerr)
	return nil
}

// sleep waits d and reports true, or false as soon as ctx ends.
func sleep(ctx context.Context, d time.Duration) bool {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return true
	case <-ctx.Done():
		return false
	}
}

// pct returns the p-th percentile in milliseconds (nearest rank), as
// dledgerlab bench computes it.
func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	k = min(max(k, 0), len(s)-1)
	return round(float64(s[k].Microseconds())/1000, 2)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}

// errNoLeader is a send that found no leader to take it.
var errNoLeader = errors.New("no leader")
