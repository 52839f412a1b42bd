package main

import (
	"fmt"
	"io"
	"slices"
	"strings"
	"text/tabwriter"
)

// The three systems a pair runs, in the order it runs them.
const (
	sysOurs   = "dledgerlab"
	sysInproc = "hashicorp/raft inproc"
	sysHTTP   = "hashicorp/raft http"
)

// sample is one run's figures.
type sample struct {
	Producers int
	Pair      int
	System    string
	OpsPerS   float64
	P50Ms     float64
	P99Ms     float64
}

// row is one producer count's line of the table: the median of each
// system's runs and the ratio of ours to each anchor within every pair
// (pairs where a run failed have no ratio).
type row struct {
	Producers                   int
	Ours, Inproc, HTTP          float64
	P99Ours, P99Inproc, P99HTTP float64
	VsInproc, VsHTTP            []float64 // ours/anchor, pair by pair
	MedVsInproc, MedVsHTTP      float64
}

// rows groups samples by producer count (in the order they first appear).
func rows(samples []sample) []row {
	var order []int
	by := map[int]map[int]map[string]sample{} // producers → pair → system
	for _, s := range samples {
		if by[s.Producers] == nil {
			by[s.Producers] = map[int]map[string]sample{}
			order = append(order, s.Producers)
		}
		if by[s.Producers][s.Pair] == nil {
			by[s.Producers][s.Pair] = map[string]sample{}
		}
		by[s.Producers][s.Pair][s.System] = s
	}
	var out []row
	for _, p := range order {
		r := row{Producers: p}
		ops := map[string][]float64{}
		p99 := map[string][]float64{}
		var pairs []int
		for k := range by[p] {
			pairs = append(pairs, k)
		}
		slices.Sort(pairs)
		for _, k := range pairs {
			run := by[p][k]
			for sys, s := range run {
				ops[sys] = append(ops[sys], s.OpsPerS)
				p99[sys] = append(p99[sys], s.P99Ms)
			}
			ours, ok := run[sysOurs]
			if !ok {
				continue
			}
			in, okIn := run[sysInproc]
			if okIn && in.OpsPerS > 0 {
				r.VsInproc = append(r.VsInproc, ours.OpsPerS/in.OpsPerS)
			}
			h, okH := run[sysHTTP]
			if okH && h.OpsPerS > 0 {
				r.VsHTTP = append(r.VsHTTP, ours.OpsPerS/h.OpsPerS)
			}
		}
		r.Ours, r.Inproc, r.HTTP = median(ops[sysOurs]), median(ops[sysInproc]), median(ops[sysHTTP])
		r.P99Ours, r.P99Inproc, r.P99HTTP = median(p99[sysOurs]), median(p99[sysInproc]), median(p99[sysHTTP])
		r.MedVsInproc, r.MedVsHTTP = median(r.VsInproc), median(r.VsHTTP)
		out = append(out, r)
	}
	return out
}

// median is the middle value (the mean of the two middle ones for an even
// count); 0 for none.
func median(xs []float64) float64 {
	if len(xs) == 0 {
		return 0
	}
	s := slices.Clone(xs)
	slices.Sort(s)
	if len(s)%2 == 1 {
		return s[len(s)/2]
	}
	return (s[len(s)/2-1] + s[len(s)/2]) / 2
}

// writeTable prints the rows: median ops/s of each system, the per-pair
// ratios ours/anchor and their median, then the median p99 latencies.
func writeTable(w io.Writer, rs []row) error {
	tw := tabwriter.NewWriter(w, 0, 0, 2, ' ', tabwriter.AlignRight)
	fmt.Fprintln(tw, "producers\tours ops/s\tinproc ops/s\thttp ops/s\tours/inproc (pairs)\tmedian\tours/http (pairs)\tmedian\tp99 ms ours\tinproc\thttp\t")
	for _, r := range rs {
		fmt.Fprintf(tw, "%d\t%.0f\t%.0f\t%.0f\t%s\t%.2f\t%s\t%.2f\t%.1f\t%.1f\t%.1f\t\n",
			r.Producers, r.Ours, r.Inproc, r.HTTP,
			ratios(r.VsInproc), r.MedVsInproc, ratios(r.VsHTTP), r.MedVsHTTP,
			r.P99Ours, r.P99Inproc, r.P99HTTP)
	}
	return tw.Flush()
}

func ratios(xs []float64) string {
	if len(xs) == 0 {
		return "-"
	}
	parts := make([]string, len(xs))
	for i, x := range xs {
		parts[i] = fmt.Sprintf("%.2f", x)
	}
	return strings.Join(parts, " ")
}
