package commitlog

import (
	"bytes"
	"testing"

	"dledgerlab/core"
)

// benchBody is the body size of the benchmark entries: 1 KiB, a typical
// small broker message.
const benchBody = 1024

func BenchmarkEncode(b *testing.B) {
	e := core.Entry{Index: 1, Term: 1, Data: bytes.Repeat([]byte{'m'}, benchBody)}
	buf := make([]byte, 0, EncodedSize(benchBody))
	b.SetBytes(int64(EncodedSize(benchBody)))
	b.ReportAllocs()
	for b.Loop() {
		var err error
		buf, _, err = AppendEntry(buf[:0], e, 4096, 7)
		if err != nil {
			b.Fatal(err)
		}
	}
}

func BenchmarkDecode(b *testing.B) {
	enc, _, err := AppendEntry(nil, core.Entry{Index: 1, Term: 1, Data: bytes.Repeat([]byte{'m'}, benchBody)}, 4096, 7)
	if err != nil {
		b.Fatal(err)
	}
	b.SetBytes(int64(len(enc)))
	b.ReportAllocs()
	for b.Loop() {
		if _, _, err := DecodeEntry(enc, 4096); err != nil {
			b.Fatal(err)
		}
	}
}

// recoverBench is a 16 MiB log of 1 KiB entries in 4 MiB segments.
type recoverBench struct {
	segs  []Segment
	index []byte
	bytes int64
	opts  Options
}

func newRecoverBench(b *testing.B) recoverBench {
	opts := Options{SegmentSize: 4 << 20}
	m := NewMemStore(opts)
	body := bytes.Repeat([]byte{'m'}, benchBody)
	var es []core.Entry
	for i := uint64(1); m.End() < 16<<20-int64(EncodedSize(benchBody))-BlankSize; i++ {
		es = append(es[:0], core.Entry{Index: i, Term: 1 + i/1000, Data: body})
		if err := m.Append(es); err != nil {
			b.Fatal(err)
		}
	}
	m.Sync()
	rb := recoverBench{index: m.durable.index, opts: opts}
	for _, s := range m.durable.segs() {
		rb.segs = append(rb.segs, Segment{Start: s.start, Data: bytes.NewReader(s.buf), Size: int64(len(s.buf))})
		rb.bytes += int64(len(s.buf))
	}
	return rb
}

func BenchmarkRecover(b *testing.B) {
	rb := newRecoverBench(b)
	b.SetBytes(rb.bytes)
	b.ReportAllocs()
	for b.Loop() {
		_, rep, err := Recover(rb.segs, bytes.NewReader(rb.index), int64(len(rb.index)), rb.opts)
		if err != nil || !rep.Empty() {
			b.Fatal(err, rep)
		}
	}
}

// BenchmarkMemcpy copies as many bytes as BenchmarkRecover scans: the
// ceiling for any pass over the log in this run.
func BenchmarkMemcpy(b *testing.B) {
	rb := newRecoverBench(b)
	src := make([]byte, rb.bytes)
	dst := make([]byte, rb.bytes)
	b.SetBytes(rb.bytes)
	b.ReportAllocs()
	for b.Loop() {
		copy(dst, src)
	}
}
