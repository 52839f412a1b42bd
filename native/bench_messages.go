package main

import (
	"bufio"
	"context"
	"fmt"
	"os"
	"slices"
	"strconv"
	"strings"
	"time"

	"dledgerlab/native/proc"
	"dledgerlab/native/server"
)

// messagesResult is what `bench --messages N` adds to the summary: how the
// brokers' memory grows with the log, how fast a whole topic reads back,
// and with --restart how long a group killed with SIGKILL takes to take a
// write again (issue 17's figures).
type messagesResult struct {
	Messages int         `json:"messages"`
	RSS      []rssSample `json:"rss"`
	// LoadS is how long the producers took to get them acknowledged.
	LoadS float64 `json:"load_s"`
	// ConsumeMsgsPerS reads the whole topic from offset 0 at the leader.
	ConsumeMsgsPerS float64 `json:"consume_msgs_per_s"`
	// RestartMs is from SIGKILL of every broker (then started again) to the
	// first produce committed.
	RestartMs float64 `json:"restart_to_first_commit_ms,omitempty"`
}

// rssSample is each broker's anonymous memory (RssAnon in
// /proc/PID/status: the heap and stacks, not file pages the kernel can
// drop) when the load had this many messages acknowledged.
type rssSample struct {
	Messages  int                `json:"messages"`
	RssAnonMB map[string]float64 `json:"rss_anon_mb"`
}

// runMessages drives the load until n messages are acknowledged, sampling
// memory every tenth, then reads the topic back and, with restart, kills
// and restarts the whole group.
func runMessages(c *proc.Cluster, l *load, n int, restart bool) (*messagesResult, error) {
	res := &messagesResult{Messages: n}
	began := time.Now()
	l.start()
	next := 1
	for next <= 10 {
		time.Sleep(50 * time.Millisecond)
		acked, errs := l.count()
		for next <= 10 && acked >= n*next/10 {
			s := rssSample{Messages: n * next / 10, RssAnonMB: map[string]float64{}}
			var parts []string
			for _, nd := range c.Nodes {
				mb := rssAnonMB(nd.Pid())
				s.RssAnonMB[strconv.Itoa(nd.ID)] = mb
				parts = append(parts, fmt.Sprintf("broker %d %.0f MB", nd.ID, mb))
			}
			res.RSS = append(res.RSS, s)
			fmt.Printf("%3d%%: %d messages acknowledged (%d errors); RssAnon %s\n", next*10, acked, errs, strings.Join(parts, ", "))
			next++
		}
	}
	l.stop()
	res.LoadS = round(time.Since(began).Seconds(), 2)

	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	lead, err := c.WaitLeader(ctx)
	if err != nil {
		return nil, err
	}
	began = time.Now()
	msgs, err := c.Client.ConsumeAll(ctx, c.Node(lead).HTTPAddr, "bench")
	if err != nil {
		return nil, fmt.Errorf("reading the topic back: %w", err)
	}
	res.ConsumeMsgsPerS = round(float64(len(msgs))/time.Since(began).Seconds(), 0)
	fmt.Printf("consume: %d messages from offset 0 at broker %d, %.0f messages/s\n", len(msgs), lead, res.ConsumeMsgsPerS)

	if restart {
		ms, err := restartAll(ctx, c)
		if err != nil {
			return nil, err
		}
		res.RestartMs = ms
		fmt.Printf("restart: SIGKILL of every broker → first produce committed after %.0f ms\n", ms)
	}
	return res, nil
}

// restartAll kills every broker with SIGKILL, starts them again and
// returns the milliseconds from the kill to the first committed produce.
func restartAll(ctx context.Context, c *proc.Cluster) (float64, error) {
	t0 := time.Now()
	for _, nd := range c.Nodes {
		nd.Kill()
	}
	if err := c.StartAll(); err != nil {
		return 0, err
	}
	req := server.ProduceRequest{Body: "after the restart", Producer: fmt.Sprintf("restart-%d", t0.UnixNano()), Seq: 1}
	for {
		actx, cancel := context.WithTimeout(ctx, 2*time.Second)
		_, err := c.Client.Produce(actx, "bench", req)
		cancel()
		if err == nil {
			return round(float64(time.Since(t0).Microseconds())/1000, 1), nil
		}
		if ctx.Err() != nil {
			return 0, fmt.Errorf("no produce committed after the restart: %w", err)
		}
	}
}

// rssAnonMB reads RssAnon of pid in MB (-1 where /proc does not say).
func rssAnonMB(pid int) float64 {
	f, err := os.Open(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		return -1
	}
	defer f.Close()
	sc := bufio.NewScanner(f)
	for sc.Scan() {
		if rest, ok := strings.CutPrefix(sc.Text(), "RssAnon:"); ok {
			fields := strings.Fields(rest)
			if len(fields) == 2 && fields[1] == "kB" {
				if kb, err := strconv.ParseFloat(fields[0], 64); err == nil {
					return round(kb/1024, 1)
				}
			}
		}
	}
	return -1
}

// maxRSS is the largest RssAnon of the last sample.
func (m *messagesResult) maxRSS() float64 {
	if len(m.RSS) == 0 {
		return 0
	}
	vals := make([]float64, 0, len(m.RSS[len(m.RSS)-1].RssAnonMB))
	for _, v := range m.RSS[len(m.RSS)-1].RssAnonMB {
		vals = append(vals, v)
	}
	return slices.Max(vals)
}

// cpuSeconds is the CPU time (user + system, all threads) pid has used,
// from /proc/PID/stat in clock ticks of 1/100 s (USER_HZ on Linux); -1
// where /proc does not say.
func cpuSeconds(pid int) float64 {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return -1
	}
	// The command name (field 2) is in parentheses and may hold spaces:
	// utime and stime are fields 14 and 15, the 12th and 13th after it.
	_, rest, ok := strings.Cut(string(b), ") ")
	fields := strings.Fields(rest)
	if !ok || len(fields) < 13 {
		return -1
	}
	utime, err1 := strconv.ParseFloat(fields[11], 64)
	stime, err2 := strconv.ParseFloat(fields[12], 64)
	if err1 != nil || err2 != nil {
		return -1
	}
	return (utime + stime) / 100
}

// treeCPU is the CPU time of this process (the producers and the client)
// and of pids (the brokers), -1 where one cannot be read.
func treeCPU(pids []int) float64 {
	tot := cpuSeconds(os.Getpid())
	for _, p := range pids {
		c := cpuSeconds(p)
		if c < 0 || tot < 0 {
			return -1
		}
		tot += c
	}
	return tot
}
