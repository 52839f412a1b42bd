package main

import (
	"context"
	"encoding/json"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"runtime/pprof"
	"slices"
	"strings"
	"sync"
	"sync/atomic"
	"time"

	"dledgerlab/native/client"
	"dledgerlab/native/proc"
	"dledgerlab/native/server"
	"dledgerlab/native/store"
)

func init() {
	register(command{name: "bench", summary: "benchmark a local 3-broker cluster: throughput, latency, failover", run: runBench})
}

// benchResult is the JSON summary, the last line of the output.
type benchResult struct {
	Brokers         int     `json:"brokers"`
	Producers       int     `json:"producers"`
	Send            string  `json:"send"`
	SizeBytes       int     `json:"size_bytes"`
	DurationS       float64 `json:"duration_s"`
	Ops             int     `json:"ops"`
	Errors          int     `json:"errors"`
	OpsPerS         float64 `json:"ops_per_s"`
	P50Ms           float64 `json:"p50_ms"`
	P99Ms           float64 `json:"p99_ms"`
	P999Ms          float64 `json:"p999_ms"`
	LeaderFsyncsPS  float64 `json:"leader_fsyncs_per_s"`
	ClusterFsyncsPS float64 `json:"cluster_fsyncs_per_s"`
	DiskFsyncsPS    float64 `json:"disk_fsyncs_per_s"`
	DiskFsyncP50Ms  float64 `json:"disk_fsync_p50_ms"`
	DiskFsyncP99Ms  float64 `json:"disk_fsync_p99_ms"`
	// LoopbackRTTP50Ms and P99 are a round trip of one message over a TCP
	// connection on 127.0.0.1 (probeLoopback), measured before the brokers
	// start.
	LoopbackRTTP50Ms float64 `json:"loopback_rtt_p50_ms"`
	LoopbackRTTP99Ms float64 `json:"loopback_rtt_p99_ms"`
	// TargetP50Ms and TargetP99Ms are the one-producer latency targets of
	// docs/BENCHMARKS.md, from this run's probes: p50 ≤ one fsync + one
	// loopback round trip + 0.3 ms, p99 ≤ 2 × the disk's fsync p99. Only
	// with --producers 1.
	TargetP50Ms float64 `json:"target_p50_ms,omitempty"`
	TargetP99Ms float64 `json:"target_p99_ms,omitempty"`
	// CPUUsPerMsg is the CPU time of the whole process tree (the brokers
	// this command started, and its own producers) per acknowledged
	// message while measuring; absent for --addr or without /proc.
	CPUUsPerMsg float64         `json:"cpu_us_per_msg,omitempty"`
	Failover    *failoverResult `json:"failover,omitempty"`
	Log         *messagesResult `json:"log,omitempty"`
}

type failoverResult struct {
	Kills     int       `json:"kills"`
	P50Ms     float64   `json:"p50_ms"`
	P99Ms     float64   `json:"p99_ms"`
	SamplesMs []float64 `json:"samples_ms"`
}

func runBench(args []string) error {
	fs := newFlags("bench", "[--producers C] [--size S] [--duration D] [--failover K] [--messages N [--restart]] [--send stream|batch|single]", `
Starts a local cluster of 3 broker processes (this binary, fsync on, data in
a temporary folder), drives C concurrent producers of S-byte messages for D
and prints throughput, latency percentiles and fsyncs per second. It first
measures the disk's own rate of write+fsync as the floor to compare against,
and a round trip over loopback TCP; with one producer it says whether the
latency met the targets these two give (docs/BENCHMARKS.md). With
--failover K it then kills the leader (SIGKILL) K times under the same
load and reports the time from each kill to the first successful produce
committed by a new leader. With --messages N it instead sends until N
messages are acknowledged, printing each broker's anonymous memory (RssAnon)
at every tenth, then reads the whole topic back from offset 0, and with
--restart kills every broker (SIGKILL), starts them again and reports the
time to the first committed produce. The last line of output is one JSON
object.`)
	producers := fs.Int("producers", 1, "concurrent producers")
	size := fs.Int("size", 256, "message body size in bytes")
	duration := fs.Duration("duration", 10*time.Second, "how long to measure throughput")
	failover := fs.Int("failover", 0, "kill the leader this many times under load")
	brokers := fs.Int("brokers", 3, "brokers in the cluster")
	dir := fs.String("dir", "", "data folder (default: a temporary folder, removed afterwards)")
	bin := fs.String("bin", "", "dledgerlab binary for the brokers (default: this one)")
	addrFlag := fs.String("addr", "", "drive an existing cluster at these HTTP addresses instead of starting one (no --failover)")
	messages := fs.Int("messages", 0, "send until this many messages are acknowledged, sampling memory (instead of --duration)")
	restart := fs.Bool("restart", false, "with --messages: then SIGKILL every broker, restart them and time the first commit")
	cpuProfile := fs.String("cpuprofile", "", "write a CPU profile of this command (its producers, not the brokers: they take --pprof) to this file")
	send := fs.String("send", "stream", "how producers reach the leader: stream (one pipelined WebSocket per broker, GET /v1/produce), batch (producers running at once share POST /v1/messages requests) or single (one POST per message)")
	if err := parse(fs, args); err != nil {
		return err
	}
	switch {
	case *send != "batch" && *send != "stream" && *send != "single":
		return usagef("--send %q: want batch, stream or single", *send)
	case *producers < 1:
		return usagef("--producers %d must be at least 1", *producers)
	case *size < 0 || *size > server.MaxRequestBytes/2:
		return usagef("--size %d must be in 0..%d", *size, server.MaxRequestBytes/2)
	case *duration <= 0:
		return usagef("--duration %v must be positive", *duration)
	case *failover < 0:
		return usagef("--failover %d must not be negative", *failover)
	case *brokers < 1:
		return usagef("--brokers %d must be at least 1", *brokers)
	case *messages < 0:
		return usagef("--messages %d must not be negative", *messages)
	case *restart && *messages == 0:
		return usagef("--restart needs --messages")
	case *messages > 0 && (*failover > 0 || *addrFlag != ""):
		return usagef("--messages measures brokers this command starts, without --failover: drop --failover and --addr")
	}
	if *cpuProfile != "" {
		f, err := os.Create(*cpuProfile)
		if err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer f.Close()
		if err := pprof.StartCPUProfile(f); err != nil {
			return fmt.Errorf("--cpuprofile: %w", err)
		}
		defer pprof.StopCPUProfile()
	}
	if *addrFlag != "" {
		if *failover > 0 {
			return usagef("--failover needs brokers this command starts: drop --addr")
		}
		addrs, err := splitAddrs("--addr", *addrFlag)
		if err != nil {
			return err
		}
		return benchExternal(addrs, *producers, *size, *duration, *send)
	}
	if *bin == "" {
		exe, err := os.Executable()
		if err != nil {
			return err
		}
		*bin = exe
	}
	if *dir == "" {
		d, err := os.MkdirTemp("", "dledgerlab-bench-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(d)
		*dir = d
	} else if err := os.MkdirAll(*dir, 0o755); err != nil {
		return fmt.Errorf("--dir: %w", err)
	}
	res := benchResult{Brokers: *brokers, Producers: *producers, Send: *send, SizeBytes: *size}

	disk, err := probeDisk(*dir, *size, 2*time.Second)
	if err != nil {
		return fmt.Errorf("measuring the disk: %w", err)
	}
	res.DiskFsyncsPS, res.DiskFsyncP50Ms, res.DiskFsyncP99Ms = disk.PerS, disk.P50, disk.P99
	fmt.Printf("disk: %.0f write+fdatasync/s of %d bytes in %s, p50 %.2f ms, p99 %.2f ms (the floor: one fsync per commit)\n", disk.PerS, *size, *dir, disk.P50, disk.P99)
	rtt, err := probeLoopback(*size, time.Second)
	if err != nil {
		return fmt.Errorf("measuring loopback: %w", err)
	}
	res.LoopbackRTTP50Ms, res.LoopbackRTTP99Ms = rtt.P50, rtt.P99
	fmt.Printf("loopback: a %d-byte message and its answer over TCP on 127.0.0.1, p50 %.3f ms, p99 %.3f ms\n", *size, rtt.P50, rtt.P99)

	c, err := proc.New(*bin, *dir, *brokers, "bench-secret", "bench-admin")
	if err != nil {
		return err
	}
	defer c.Close()
	if err := c.StartAll(); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	lead, err := c.WaitLeader(ctx)
	cancel()
	if err != nil {
		return fmt.Errorf("%w; logs in %s", err, *dir)
	}
	fmt.Printf("cluster: %d brokers, leader %d, data in %s\n", *brokers, lead, *dir)
	c.Client.Batch, c.Client.Stream = *send == "batch", *send == "stream"

	l := newLoad(c.Client, *producers, *size)
	defer l.stop()
	if *messages > 0 {
		lr, err := runMessages(c, l, *messages, *restart)
		if err != nil {
			return fmt.Errorf("%w; logs in %s", err, *dir)
		}
		res.Log = lr
		lat, errs := l.snapshot()
		res.DurationS, res.Ops, res.Errors = lr.LoadS, len(lat), errs
		res.OpsPerS = round(float64(len(lat))/lr.LoadS, 1)
		res.P50Ms, res.P99Ms, res.P999Ms = pct(lat, 50), pct(lat, 99), pct(lat, 99.9)
		fmt.Printf("memory: largest RssAnon %.0f MB after %d messages\n", lr.maxRSS(), lr.Messages)
		b, _ := json.Marshal(res)
		fmt.Println(string(b))
		return nil
	}
	l.start()
	measure(&res, l, c.Client, c.Statuses, c.Pids, *duration)
	if *failover > 0 {
		fo := &failoverResult{Kills: *failover}
		for k := 1; k <= *failover; k++ {
			ms, err := l.failover(c)
			if err != nil {
				return fmt.Errorf("failover %d: %w; logs in %s", k, err, *dir)
			}
			fo.SamplesMs = append(fo.SamplesMs, ms)
			fmt.Printf("failover %d: first produce committed by the new leader %.0f ms after the kill\n", k, ms)
		}
		s := slices.Clone(fo.SamplesMs)
		fo.P50Ms, fo.P99Ms = pct(toDur(s), 50), pct(toDur(s), 99)
		res.Failover = fo
		fmt.Printf("failover: %d kills, kill → first successful produce p50 %.0f ms, p99 %.0f ms\n", fo.Kills, fo.P50Ms, fo.P99Ms)
	}
	l.stop()
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return nil
}

// measure runs the steady-state phase and fills res; it returns the leader.
func measure(res *benchResult, l *load, cl *client.Client, statuses func(context.Context) map[int]server.Status, pids func() []int, d time.Duration) int {
	// Warm up connections and the leader's batches before measuring.
	time.Sleep(500 * time.Millisecond)
	fsyncs := func() (map[int]uint64, int) {
		out, lead := map[int]uint64{}, 0
		for id, st := range statuses(context.Background()) {
			out[id] = st.Fsyncs
			if st.Role == "leader" {
				lead = id
			}
		}
		return out, lead
	}
	cpu := func() float64 {
		if pids == nil {
			return -1
		}
		return treeCPU(pids())
	}
	before, _ := fsyncs()
	cpu0 := cpu()
	l.reset()
	began := time.Now()
	time.Sleep(d)
	lat, errs := l.snapshot()
	elapsed := time.Since(began).Seconds()
	cpu1 := cpu()
	after, lead := fsyncs()
	if cpu0 >= 0 && cpu1 >= 0 && len(lat) > 0 {
		res.CPUUsPerMsg = round((cpu1-cpu0)/float64(len(lat))*1e6, 1)
	}
	res.DurationS = round(elapsed, 2)
	res.Ops, res.Errors = len(lat), errs
	res.OpsPerS = round(float64(len(lat))/elapsed, 1)
	res.P50Ms, res.P99Ms, res.P999Ms = pct(lat, 50), pct(lat, 99), pct(lat, 99.9)
	res.LeaderFsyncsPS = round(float64(after[lead]-before[lead])/elapsed, 1)
	var tot uint64
	for id := range after {
		tot += after[id] - before[id]
	}
	res.ClusterFsyncsPS = round(float64(tot)/elapsed, 1)
	fmt.Printf("load: %d producers × %d B for %.1fs: %d ops, %.0f ops/s, latency p50 %.2f ms, p99 %.2f ms, p99.9 %.2f ms, errors %d\n",
		res.Producers, res.SizeBytes, elapsed, res.Ops, res.OpsPerS, res.P50Ms, res.P99Ms, res.P999Ms, errs)
	fmt.Printf("fsyncs: leader %.0f/s, all brokers %.0f/s (disk alone: %.0f/s)\n", res.LeaderFsyncsPS, res.ClusterFsyncsPS, res.DiskFsyncsPS)
	if res.CPUUsPerMsg > 0 {
		fmt.Printf("cpu: %.0f µs per message, brokers and producers together\n", res.CPUUsPerMsg)
	}
	if res.Producers == 1 && res.DiskFsyncP50Ms > 0 {
		res.TargetP50Ms = round(res.DiskFsyncP50Ms+res.LoopbackRTTP50Ms+0.3, 2)
		res.TargetP99Ms = round(2*res.DiskFsyncP99Ms, 2)
		fmt.Printf("one-producer targets (docs/BENCHMARKS.md): p50 %.2f ms against ≤ %.2f (fsync p50 + loopback p50 + 0.3) %s; p99 %.2f ms against ≤ %.2f (2 × fsync p99) %s\n",
			res.P50Ms, res.TargetP50Ms, metMark(res.P50Ms <= res.TargetP50Ms), res.P99Ms, res.TargetP99Ms, metMark(res.P99Ms <= res.TargetP99Ms))
	}
	return lead
}

func metMark(ok bool) string {
	if ok {
		return "met"
	}
	return "not met"
}

// benchExternal drives brokers this command did not start.
func benchExternal(addrs []string, producers, size int, d time.Duration, send string) error {
	cl := client.New(addrs)
	cl.Batch, cl.Stream = send == "batch", send == "stream"
	statuses := func(ctx context.Context) map[int]server.Status {
		out := map[int]server.Status{}
		for _, a := range addrs {
			if st, err := cl.Status(ctx, a); err == nil {
				out[int(st.ID)] = st
			}
		}
		return out
	}
	res := benchResult{Brokers: len(addrs), Producers: producers, Send: send, SizeBytes: size}
	fmt.Printf("cluster: %d brokers at %s (disk rate not measured: they may be remote)\n", len(addrs), strings.Join(addrs, ","))
	l := newLoad(cl, producers, size)
	l.start()
	measure(&res, l, cl, statuses, nil, d)
	l.stop()
	b, _ := json.Marshal(res)
	fmt.Println(string(b))
	return nil
}

// load is C producers sending as fast as their answers come back.
type load struct {
	c        *client.Client
	n, size  int
	ctx      context.Context
	cancel   context.CancelFunc
	wg       sync.WaitGroup
	mu       sync.Mutex
	lat      []time.Duration
	errs     int
	watch    atomic.Pointer[failWatch]
	stopOnce sync.Once
}

// failWatch records the first success in a term above killedTerm.
type failWatch struct {
	killedTerm uint64
	first      chan time.Time
	once       sync.Once
}

func newLoad(c *client.Client, n, size int) *load {
	l := &load{c: c, n: n, size: size}
	l.ctx, l.cancel = context.WithCancel(context.Background())
	return l
}

func (l *load) start() {
	body := strings.Repeat("x", l.size)
	stamp := time.Now().UnixNano()
	for i := range l.n {
		l.wg.Add(1)
		go func() {
			defer l.wg.Done()
			req := server.ProduceRequest{Body: body, Producer: fmt.Sprintf("bench-%d-%d", stamp, i)}
			for seq := uint64(1); l.ctx.Err() == nil; seq++ {
				req.Seq = seq
				t0 := time.Now()
				// No deadline of its own: the client bounds each attempt and
				// retries until the load stops (a context per message costs
				// the client a timer and a registration with l.ctx).
				r, err := l.c.Produce(l.ctx, "bench", req)
				d := time.Since(t0)
				if l.ctx.Err() != nil {
					return
				}
				l.mu.Lock()
				if err != nil {
					l.errs++
				} else {
					l.lat = append(l.lat, d)
				}
				l.mu.Unlock()
				if w := l.watch.Load(); err == nil && w != nil && r.Term > w.killedTerm {
					w.once.Do(func() { w.first <- time.Now() })
				}
			}
		}()
	}
}

func (l *load) reset() {
	l.mu.Lock()
	l.lat, l.errs = l.lat[:0], 0
	l.mu.Unlock()
}

func (l *load) snapshot() ([]time.Duration, int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return slices.Clone(l.lat), l.errs
}

// count returns how many produces succeeded and failed so far.
func (l *load) count() (acked, errs int) {
	l.mu.Lock()
	defer l.mu.Unlock()
	return len(l.lat), l.errs
}

func (l *load) stop() {
	l.stopOnce.Do(func() {
		l.cancel()
		l.wg.Wait()
	})
}

// failover kills the leader under load, returns milliseconds from the kill
// to the first produce committed in a later term, restarts the killed broker
// and waits until it has caught up.
func (l *load) failover(c *proc.Cluster) (float64, error) {
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	time.Sleep(time.Second) // steady load before the kill
	sts := c.Statuses(ctx)
	lead := 0
	var term uint64
	for id, st := range sts {
		if st.Role == "leader" && st.Term >= term {
			lead, term = id, st.Term
		}
	}
	if lead == 0 {
		return 0, fmt.Errorf("no leader to kill")
	}
	w := &failWatch{killedTerm: term, first: make(chan time.Time, 1)}
	l.watch.Store(w)
	defer l.watch.Store(nil)
	t0 := time.Now()
	c.Node(lead).Kill()
	var ms float64
	select {
	case t := <-w.first:
		ms = float64(t.Sub(t0).Microseconds()) / 1000
	case <-ctx.Done():
		return 0, fmt.Errorf("no produce succeeded within 30 s of killing broker %d", lead)
	}
	if err := c.Start(lead); err != nil {
		return 0, err
	}
	err := proc.WaitFor(ctx, fmt.Sprintf("broker %d to rejoin", lead), func() bool {
		sts := c.Statuses(ctx)
		me, ok := sts[lead]
		return ok && me.Leader != 0 && me.Applied+1000 >= sts[int(me.Leader)].Commit
	})
	return round(ms, 1), err
}

// probe is how often an operation ran in a loop, and its latency.
type probe struct {
	PerS     float64
	P50, P99 float64 // milliseconds
}

// probeLoop runs op again and again for d and returns its rate and
// latency, the percentiles rounded to places decimals of a millisecond.
func probeLoop(d time.Duration, places int, op func() error) (probe, error) {
	var lat []time.Duration
	began := time.Now()
	for time.Since(began) < d {
		t := time.Now()
		if err := op(); err != nil {
			return probe{}, err
		}
		lat = append(lat, time.Since(t))
	}
	return probe{
		PerS: round(float64(len(lat))/time.Since(began).Seconds(), 1),
		P50:  percentile(lat, 50, places), P99: percentile(lat, 99, places),
	}, nil
}

// probeDisk measures write+fdatasync of size bytes in a loop on a temp
// file in dir for d: what one broker's group commit cannot beat, and the
// fsync latency the issue 18 targets compare the 1-producer latency with.
// It writes as the store does, into zeros written ahead (store.ZeroAhead).
func probeDisk(dir string, size int, d time.Duration) (probe, error) {
	f, err := os.CreateTemp(dir, "fsync-probe-")
	if err != nil {
		return probe{}, err
	}
	defer os.Remove(f.Name())
	defer f.Close()
	buf := make([]byte, max(size, 1))
	var off, zeroed int64
	return probeLoop(d, 2, func() error {
		if _, err := f.WriteAt(buf, off); err != nil {
			return err
		}
		off += int64(len(buf))
		if zeroed, err = store.ZeroAhead(f, off, zeroed, math.MaxInt64); err != nil {
			return err
		}
		return store.SyncData(f)
	})
}

// probeLoopback measures round trips of a size-byte message and a 1-byte
// answer over one TCP connection on 127.0.0.1, for d: the "one loopback
// round trip" of the one-producer latency target (to the microsecond: it
// is tens of them). Both ends are in this process.
func probeLoopback(size int, d time.Duration) (probe, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return probe{}, err
	}
	defer ln.Close()
	go func() {
		c, err := ln.Accept()
		if err != nil {
			return
		}
		defer c.Close()
		buf := make([]byte, max(size, 1))
		for {
			if _, err := io.ReadFull(c, buf); err != nil {
				return
			}
			if _, err := c.Write(buf[:1]); err != nil {
				return
			}
		}
	}()
	c, err := net.Dial("tcp", ln.Addr().String())
	if err != nil {
		return probe{}, err
	}
	defer c.Close()
	msg, ans := make([]byte, max(size, 1)), make([]byte, 1)
	return probeLoop(d, 3, func() error {
		if _, err := c.Write(msg); err != nil {
			return err
		}
		_, err := io.ReadFull(c, ans)
		return err
	})
}

func toDur(ms []float64) []time.Duration {
	out := make([]time.Duration, len(ms))
	for i, m := range ms {
		out[i] = time.Duration(m * float64(time.Millisecond))
	}
	return out
}

// pct returns the p-th percentile in milliseconds (nearest rank).
func pct(d []time.Duration, p float64) float64 { return percentile(d, p, 2) }

// percentile returns the p-th percentile of d in milliseconds (nearest
// rank), rounded to places decimals.
func percentile(d []time.Duration, p float64, places int) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := int(math.Ceil(p/100*float64(len(s)))) - 1
	k = min(max(k, 0), len(s)-1)
	return round(float64(s[k].Microseconds())/1000, places)
}

func round(x float64, digits int) float64 {
	p := math.Pow(10, float64(digits))
	return math.Round(x*p) / p
}
