package commitlog

// Segments: the CommitLog is a list of fixed-size files (DLedger's
// MmapFileList of DefaultMmapFile), each named after the CommitLog position
// of its first byte. Entries never span two segments: when the next entry
// does not fit, the writer seals the segment with an end-of-segment marker
// (MmapFileList.preAppend) and starts the next one.

import (
	"encoding/binary"
	"fmt"
	"slices"

	"dledgerlab/core"
)

const (
	// DefaultSegmentSize is the segment size of a native store, 64 MiB.
	DefaultSegmentSize = 64 << 20
	// MinSegmentSize is the smallest segment accepted: room for an empty
	// entry and the end-of-segment marker, rounded up.
	MinSegmentSize = 64
	// MaxSegmentSize is the largest segment accepted (1 GiB, DLedger's
	// default data file size); offsets inside a segment fit in an int32.
	MaxSegmentSize = 1 << 30
	// DefaultMaxBodySize is the default body limit: core's one limit on an
	// entry's data, 4 MiB (also DLedger's per-thread entry buffer).
	DefaultMaxBodySize = core.DefaultMaxEntryBytes
	// MaxBodySizeLimit caps MaxBodySize so that sizes fit the int32 fields.
	MaxBodySizeLimit = MaxSegmentSize - HeaderSize - BlankSize
	// BlankSize is the size of the end-of-segment marker's header: magic and
	// length (MmapFileList.MIN_BLANK_LEN). Every segment keeps this much room
	// after its last entry so that the marker always fits.
	BlankSize = 8
	// SegmentNameLen is the length of a segment file name: 20 digits.
	SegmentNameLen = 20
)

// Options configures segment geometry and the body limit. The zero value
// means the native defaults; the simulator uses small segments (e.g. 4 KiB)
// so that learners see segments roll over.
type Options struct {
	// SegmentSize is the fixed capacity of every segment in bytes
	// (DLedgerConfig.mappedFileSizeForEntryData). 0 means DefaultSegmentSize.
	SegmentSize int64
	// MaxBodySize is the largest entry body in bytes. 0 means
	// DefaultMaxBodySize.
	MaxBodySize int
	// Preallocated tells Recover that segments are files created at full
	// size, so zeros after the last entry of the last segment are free space
	// rather than a zero-filled tail to report.
	Preallocated bool
}

// WithDefaults returns o with zero fields replaced by the defaults.
func (o Options) WithDefaults() Options {
	if o.SegmentSize == 0 {
		o.SegmentSize = DefaultSegmentSize
	}
	if o.MaxBodySize == 0 {
		o.MaxBodySize = DefaultMaxBodySize
	}
	return o
}

// Validate reports whether o (after WithDefaults) describes a usable log.
func (o Options) Validate() error {
	o = o.WithDefaults()
	if o.SegmentSize < MinSegmentSize || o.SegmentSize > MaxSegmentSize {
		return fmt.Errorf("%w: segment size %d outside [%d, %d]", ErrInvalid, o.SegmentSize, MinSegmentSize, MaxSegmentSize)
	}
	if o.MaxBodySize < 0 || o.MaxBodySize > MaxBodySizeLimit {
		return fmt.Errorf("%w: max body size %d outside [0, %d]", ErrInvalid, o.MaxBodySize, MaxBodySizeLimit)
	}
	return nil
}

func (o Options) codec() Codec { return Codec{MaxBodySize: o.MaxBodySize} }

// SegmentName returns the file name of the segment starting at CommitLog
// position start: 20 decimal digits, zero-padded (DLedgerUtils.offset2FileName,
// RocketMQ's UtilAll.offset2FileName), so names sort like positions.
func SegmentName(start int64) string { return fmt.Sprintf("%020d", start) }

// ParseSegmentName is the inverse of SegmentName. It accepts exactly 20
// decimal digits naming a non-negative int64.
func ParseSegmentName(name string) (int64, error) {
	if len(name) != SegmentNameLen {
		return 0, fmt.Errorf("%w: segment name %q is not %d digits", ErrInvalid, name, SegmentNameLen)
	}
	var v int64
	for i := 0; i < len(name); i++ {
		c := name[i]
		if c < '0' || c > '9' {
			return 0, fmt.Errorf("%w: segment name %q has a non-digit at %d", ErrInvalid, name, i)
		}
		d := int64(c - '0')
		if v > (1<<63-1-d)/10 {
			return 0, fmt.Errorf("%w: segment name %q overflows a position", ErrInvalid, name)
		}
		v = v*10 + d
	}
	return v, nil
}

// SegmentStart returns the start of the segment holding position pos.
func (o Options) SegmentStart(pos int64) int64 {
	s := o.WithDefaults().SegmentSize
	return pos - pos%s
}

// Fits reports whether an entry of size bytes may be written at offset off
// of a segment: it must leave BlankSize bytes for the end-of-segment marker.
func (o Options) Fits(off, size int64) bool {
	return off+size+BlankSize <= o.WithDefaults().SegmentSize
}

// MaxEntrySize returns the largest encoded entry a segment can hold.
func (o Options) MaxEntrySize() int64 { return o.WithDefaults().SegmentSize - BlankSize }

// AppendBlank appends the end-of-segment marker that fills the remaining
// bytes of a segment: MagicBlank, the remaining length, then zeros up to the
// segment's end. remaining must be at least BlankSize.
func AppendBlank(dst []byte, remaining int64) []byte {
	if remaining < BlankSize {
		panic(fmt.Sprintf("commitlog: end-of-segment marker needs %d bytes, %d remain", BlankSize, remaining))
	}
	n := len(dst)
	dst = slices.Grow(dst, int(remaining))[:n+int(remaining)]
	b := dst[n:]
	clear(b)
	binary.BigEndian.PutUint32(b[0:], uint32(MagicBlank))
	binary.BigEndian.PutUint32(b[4:], uint32(remaining))
	return dst
}

// SegmentInfo describes one segment for a UI.
type SegmentInfo struct {
	Name     string // SegmentName(Start)
	Start    int64  // CommitLog position of its first byte
	Used     int64  // bytes written (the capacity once sealed by a marker)
	Capacity int64  // Options.SegmentSize
}
