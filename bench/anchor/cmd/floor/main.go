// Command floor measures the least one replicated commit can cost on this
// machine, with nothing but the commit's own steps: a producer process
// sends 256 bytes over loopback TCP to a leader process, which sends them on
// to each follower process and writes and fdatasyncs them itself; each
// follower writes and fdatasyncs them and answers; the leader answers the
// producer once its own fsync and a majority's answers are in (Raft §5.3
// with the leader's write in parallel, thesis §10.2.1). No log format, no
// terms, no JSON, no HTTP, one goroutine per connection and the fsync
// inline: what is left is the processes, the sockets, the disk and the Go
// runtime that dledgerlab's brokers also run on.
//
// It answers one question for docs/BENCHMARKS.md: how close the brokers'
// one-producer latency (`dledgerlab bench --producers 1`) is to what the
// machine allows. The processes get the same GOMAXPROCS share as the
// brokers (max(1, cores/brokers)) unless the environment sets it, and the
// files are written as the brokers' store writes them, into zeros written
// ahead.
//
//	floor [--brokers 3] [--size 256] [--duration 8s] [--dir D]
//
// The last line of output is one JSON summary.
package main

import (
	"encoding/binary"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"math"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"syscall"
	"time"
)

const zeroAhead = 1 << 20 // as dledgerlab's store.PreallocateBytes

func main() {
	role := flag.String("role", "", "internal: leader or follower")
	listen := flag.String("listen", "", "internal: address to listen on")
	peers := flag.String("followers", "", "internal: the followers' addresses, comma-separated")
	file := flag.String("file", "", "internal: the file to write")
	brokers := flag.Int("brokers", 3, "brokers: one leader and the rest followers")
	size := flag.Int("size", 256, "bytes per message")
	duration := flag.Duration("duration", 8*time.Second, "how long the producer sends")
	dir := flag.String("dir", "", "folder for the files (default: a temporary one)")
	flag.Parse()
	var err error
	switch *role {
	case "leader":
		err = leader(*listen, strings.Split(*peers, ","), *file, *brokers)
	case "follower":
		err = follower(*listen, *file)
	case "":
		err = run(*brokers, *size, *duration, *dir)
	default:
		err = fmt.Errorf("--role %q: want leader or follower", *role)
	}
	if err != nil {
		fmt.Fprintln(os.Stderr, "floor:", err)
		os.Exit(1)
	}
}

// log is an append-only file written into zeros written ahead.
type log struct {
	f           *os.File
	off, zeroed int64
	zeros       []byte
}

func openLog(path string) (*log, error) {
	f, err := os.OpenFile(path, os.O_RDWR|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return nil, err
	}
	return &log{f: f, zeros: make([]byte, zeroAhead)}, nil
}

// append writes b and fdatasyncs it.
func (l *log) append(b []byte) error {
	if _, err := l.f.WriteAt(b, l.off); err != nil {
		return err
	}
	l.off += int64(len(b))
	if l.off > l.zeroed {
		if _, err := l.f.WriteAt(l.zeros, l.off); err != nil {
			return err
		}
		l.zeroed = l.off + zeroAhead
	}
	return syscall.Fdatasync(int(l.f.Fd()))
}

// Frames are a 4-byte big-endian length and the bytes.
func readFrame(r io.Reader, buf []byte) ([]byte, error) {
	var h [4]byte
	if _, err := io.ReadFull(r, h[:]); err != nil {
		return nil, err
	}
	n := binary.BigEndian.Uint32(h[:])
	if int(n) > cap(buf) {
		buf = make([]byte, n)
	}
	buf = buf[:n]
	_, err := io.ReadFull(r, buf)
	return buf, err
}

func frame(b []byte) []byte {
	out := binary.BigEndian.AppendUint32(make([]byte, 0, 4+len(b)), uint32(len(b)))
	return append(out, b...)
}

func follower(listen, path string) error {
	l, err := openLog(path)
	if err != nil {
		return err
	}
	c, err := acceptOne(listen)
	if err != nil {
		return err
	}
	var buf []byte
	ack := []byte{1}
	for {
		if buf, err = readFrame(c, buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		if err := l.append(buf); err != nil {
			return err
		}
		if _, err := c.Write(ack); err != nil {
			return err
		}
	}
}

func leader(listen string, followers []string, path string, brokers int) error {
	l, err := openLog(path)
	if err != nil {
		return err
	}
	conns := make([]net.Conn, len(followers))
	for i, a := range followers {
		if conns[i], err = dial(a); err != nil {
			return err
		}
	}
	acks := make(chan int, 1024) // the follower that answered
	for i, c := range conns {
		go func() {
			var b [1]byte
			for {
				if _, err := io.ReadFull(c, b[:]); err != nil {
					return
				}
				acks <- i
			}
		}()
	}
	pc, err := acceptOne(listen)
	if err != nil {
		return err
	}
	need := brokers / 2              // followers' answers for a majority, the leader's own copy aside
	acked := make([]int, len(conns)) // messages each follower has answered for
	seq := 0
	var buf []byte
	answer := []byte{1}
	for {
		if buf, err = readFrame(pc, buf); err != nil {
			if errors.Is(err, io.EOF) {
				return nil
			}
			return err
		}
		fr := frame(buf)
		for _, c := range conns {
			if _, err := c.Write(fr); err != nil {
				return err
			}
		}
		if err := l.append(buf); err != nil {
			return err
		}
		seq++
		for {
			n := 0
			for _, a := range acked {
				if a >= seq {
					n++
				}
			}
			if n >= need {
				break
			}
			acked[<-acks]++
		}
		if _, err := pc.Write(answer); err != nil {
			return err
		}
	}
}

// acceptOne listens on addr and returns the first connection: a
// follower's from the leader, the leader's from the producer.
func acceptOne(addr string) (net.Conn, error) {
	ln, err := net.Listen("tcp", addr)
	if err != nil {
		return nil, err
	}
	defer ln.Close()
	return ln.Accept()
}

func dial(addr string) (net.Conn, error) {
	deadline := time.Now().Add(10 * time.Second)
	for {
		c, err := net.Dial("tcp", addr)
		if err == nil || time.Now().After(deadline) {
			return c, err
		}
		time.Sleep(10 * time.Millisecond)
	}
}

func freeAddr() (string, error) {
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", err
	}
	defer ln.Close()
	return ln.Addr().String(), nil
}

func run(brokers, size int, d time.Duration, dir string) error {
	if brokers < 1 {
		return fmt.Errorf("--brokers %d: want at least 1", brokers)
	}
	if dir == "" {
		tmp, err := os.MkdirTemp("", "floor-")
		if err != nil {
			return err
		}
		defer os.RemoveAll(tmp)
		dir = tmp
	}
	probe, err := probeDisk(filepath.Join(dir, "probe"), size, 2*time.Second)
	if err != nil {
		return err
	}
	self, err := os.Executable()
	if err != nil {
		return err
	}
	env := os.Environ()
	if _, set := os.LookupEnv("GOMAXPROCS"); !set {
		env = append(env, "GOMAXPROCS="+strconv.Itoa(max(1, runtime.NumCPU()/brokers)))
	}
	var procs []*exec.Cmd
	defer func() {
		for _, p := range procs {
			p.Process.Kill()
			p.Wait()
		}
	}()
	start := func(args ...string) error {
		c := exec.Command(self, args...)
		c.Env, c.Stderr = env, os.Stderr
		if err := c.Start(); err != nil {
			return err
		}
		procs = append(procs, c)
		return nil
	}
	var fAddrs []string
	for i := 1; i < brokers; i++ {
		a, err := freeAddr()
		if err != nil {
			return err
		}
		fAddrs = append(fAddrs, a)
		if err := start("--role", "follower", "--listen", a, "--file", filepath.Join(dir, fmt.Sprintf("follower-%d", i))); err != nil {
			return err
		}
	}
	lAddr, err := freeAddr()
	if err != nil {
		return err
	}
	if err := start("--role", "leader", "--listen", lAddr, "--followers", strings.Join(fAddrs, ","),
		"--file", filepath.Join(dir, "leader"), "--brokers", strconv.Itoa(brokers)); err != nil {
		return err
	}
	c, err := dial(lAddr)
	if err != nil {
		return err
	}
	defer c.Close()
	msg := frame(make([]byte, size))
	var lat []time.Duration
	var ans [1]byte
	began := time.Now()
	for time.Since(began) < d {
		t := time.Now()
		if _, err := c.Write(msg); err != nil {
			return err
		}
		if _, err := io.ReadFull(c, ans[:]); err != nil {
			return err
		}
		lat = append(lat, time.Since(t))
	}
	el := time.Since(began)
	res := map[string]any{
		"brokers": brokers, "size_bytes": size, "duration_s": d.Seconds(), "ops": len(lat),
		"ops_per_s": round(float64(len(lat))/el.Seconds(), 1),
		"p50_ms":    pct(lat, 50), "p99_ms": pct(lat, 99), "p999_ms": pct(lat, 99.9),
		"disk_fsync_p50_ms": probe[0], "disk_fsync_p99_ms": probe[1],
	}
	fmt.Printf("floor: %d brokers, 1 producer × %d B for %s: %d ops, %.0f ops/s, latency p50 %.2f ms, p99 %.2f ms (disk write+fdatasync p50 %.2f ms, p99 %.2f ms)\n",
		brokers, size, d, len(lat), res["ops_per_s"], res["p50_ms"], res["p99_ms"], probe[0], probe[1])
	return json.NewEncoder(os.Stdout).Encode(res)
}

// probeDisk is dledgerlab bench's disk probe: write+fdatasync of size
// bytes into zeros written ahead, for d; p50 and p99 in milliseconds.
func probeDisk(path string, size int, d time.Duration) ([2]float64, error) {
	l, err := openLog(path)
	if err != nil {
		return [2]float64{}, err
	}
	defer os.Remove(path)
	defer l.f.Close()
	buf := make([]byte, size)
	var lat []time.Duration
	for began := time.Now(); time.Since(began) < d; {
		t := time.Now()
		if err := l.append(buf); err != nil {
			return [2]float64{}, err
		}
		lat = append(lat, time.Since(t))
	}
	return [2]float64{pct(lat, 50), pct(lat, 99)}, nil
}

func pct(d []time.Duration, p float64) float64 {
	if len(d) == 0 {
		return 0
	}
	s := slices.Clone(d)
	slices.Sort(s)
	k := min(max(int(math.Ceil(p/100*float64(len(s))))-1, 0), len(s)-1)
	return round(float64(s[k].Microseconds())/1000, 2)
}

func round(x float64, places int) float64 {
	p := 1.0
	for range places {
		p *= 10
	}
	return float64(int64(x*p+0.5)) / p
}
