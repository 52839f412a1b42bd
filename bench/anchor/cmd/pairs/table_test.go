package main

import (
	"bytes"
	"math"
	"strings"
	"testing"
)

func TestMedian(t *testing.T) {
	for _, c := range []struct {
		in   []float64
		want float64
	}{
		{nil, 0},
		{[]float64{3}, 3},
		{[]float64{5, 1, 3}, 3},
		{[]float64{4, 1, 3, 2}, 2.5},
	} {
		if got := median(c.in); got != c.want {
			t.Errorf("median(%v) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestRowsRatiosArePerPair(t *testing.T) {
	var samples []sample
	add := func(p, pair int, sys string, ops float64) {
		samples = append(samples, sample{Producers: p, Pair: pair, System: sys, OpsPerS: ops, P99Ms: ops / 100})
	}
	// 16 producers: three pairs, the machine slower in pair 2 for everyone.
	add(16, 1, sysOurs, 1000)
	add(16, 1, sysInproc, 2000)
	add(16, 1, sysHTTP, 500)
	add(16, 2, sysOurs, 600)
	add(16, 2, sysInproc, 1000)
	add(16, 2, sysHTTP, 400)
	add(16, 3, sysOurs, 900)
	add(16, 3, sysInproc, 1500)
	add(16, 3, sysHTTP, 300)
	// 1 producer: the http run of pair 2 failed, so that pair has no
	// ours/http ratio.
	add(1, 1, sysOurs, 100)
	add(1, 1, sysInproc, 200)
	add(1, 1, sysHTTP, 100)
	add(1, 2, sysOurs, 120)
	add(1, 2, sysInproc, 200)

	rs := rows(samples)
	if len(rs) != 2 || rs[0].Producers != 16 || rs[1].Producers != 1 {
		t.Fatalf("rows: %+v, want 16 then 1 producers", rs)
	}
	r := rs[0]
	near := func(name string, got, want float64) {
		t.Helper()
		if math.Abs(got-want) > 1e-9 {
			t.Errorf("%s = %v, want %v", name, got, want)
		}
	}
	near("ours median", r.Ours, 900)
	near("inproc median", r.Inproc, 1500)
	near("http median", r.HTTP, 400)
	near("p99 ours median", r.P99Ours, 9)
	wantIn := []float64{0.5, 0.6, 0.6}
	wantH := []float64{2, 1.5, 3}
	for i := range wantIn {
		near("ours/inproc pair", r.VsInproc[i], wantIn[i])
		near("ours/http pair", r.VsHTTP[i], wantH[i])
	}
	// The median of the pair ratios, not the ratio of the medians
	// (900/1500 = 0.6 here by chance; 900/400 = 2.25 is not 2).
	near("median ours/inproc", r.MedVsInproc, 0.6)
	near("median ours/http", r.MedVsHTTP, 2)

	one := rs[1]
	if len(one.VsInproc) != 2 || len(one.VsHTTP) != 1 {
		t.Fatalf("1 producer: ratios %v and %v, want 2 and 1", one.VsInproc, one.VsHTTP)
	}
	near("1 producer median ours/inproc", one.MedVsInproc, 0.55)
	near("1 producer median ours/http", one.MedVsHTTP, 1)

	var buf bytes.Buffer
	if err := writeTable(&buf, rs); err != nil {
		t.Fatal(err)
	}
	lines := strings.Split(strings.TrimSpace(buf.String()), "\n")
	if len(lines) != 3 {
		t.Fatalf("table has %d lines, want a header and 2 rows:\n%s", len(lines), buf.String())
	}
	for _, want := range []string{"0.50 0.60 0.60", "2.00 1.50 3.00", "0.55"} {
		if !strings.Contains(buf.String(), want) {
			t.Errorf("table lacks %q:\n%s", want, buf.String())
		}
	}
}

func TestParseInts(t *testing.T) {
	got, err := parseInts("1 16,64  256")
	if err != nil || len(got) != 4 || got[0] != 1 || got[3] != 256 {
		t.Fatalf("parseInts = %v, %v", got, err)
	}
	for _, bad := range []string{"", "0", "x", "-3"} {
		if _, err := parseInts(bad); err == nil {
			t.Errorf("parseInts(%q) accepted", bad)
		}
	}
}
