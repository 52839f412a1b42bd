package sim

import (
	"errors"
	"fmt"

	"dledgerlab/internal/minijson"
)

// A share link carries a run's inputs and a moment: the JSON of shared,
// compressed with raw DEFLATE (RFC 1951) and written in unpadded base64url
// (RFC 4648 §5). This file is the JSON half, pure and on every platform;
// sharelink.go adds the compression natively, while the page compresses in
// JavaScript (CompressionStream("deflate-raw"), web/static/worker.js), so
// the WebAssembly engine carries neither compress/flate nor encoding/json.
// Either side reads the other's links.

// shared is what a share link carries: the run's inputs and the moment.
type shared struct {
	Version int      `json:"v"`
	Config  Config   `json:"c"`
	Actions []Action `json:"a"`
	NowMs   int64    `json:"t"`
}

const shareVersion = 1

// ErrShare is wrapped by every error about a malformed share string.
var ErrShare = errors.New("malformed share link")

// maxShareJSON bounds a share link's uncompressed JSON.
const maxShareJSON = 4 << 20

// ShareJSON is the JSON a share link carries before compression: the
// config, seed, recorded actions and the current time, as
// {"v":1,"c":{…},"a":[…],"t":ms} (what json.Marshal writes for shared).
func (s *Sim) ShareJSON() []byte {
	var w minijson.Writer
	w.Int(`{"v":`, shareVersion)
	w.Raw(`,"c":`)
	s.cfg.writeJSON(&w)
	w.List(`,"a":`, len(s.actions), s.actions == nil, func(i int) { s.actions[i].writeJSON(&w) })
	w.Int(`,"t":`, s.st.now)
	w.Raw(`}`)
	return w.B
}

// LoadJSON rebuilds a run from ShareJSON's text and runs it to the shared
// moment. Every error wraps ErrShare and says what is wrong; unknown fields
// are errors, so a link from a newer playground is refused rather than
// half-read.
func LoadJSON(data []byte) (*Sim, error) {
	if len(data) > maxShareJSON {
		return nil, fmt.Errorf("%w: %d bytes of JSON is over the limit of %d", ErrShare, len(data), maxShareJSON)
	}
	sh, err := decodeShared(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShare, err)
	}
	if sh.Version != shareVersion {
		return nil, fmt.Errorf("%w: version %d, this playground reads version %d", ErrShare, sh.Version, shareVersion)
	}
	s, err := New(sh.Config)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShare, err)
	}
	var prev int64
	for i, a := range sh.Actions {
		if err := a.validate(s.cfg.Nodes); err != nil {
			return nil, fmt.Errorf("%w: action %d: %v", ErrShare, i+1, err)
		}
		if a.AtMs < prev {
			return nil, fmt.Errorf("%w: action %d at %d ms comes before the previous one at %d ms", ErrShare, i+1, a.AtMs, prev)
		}
		prev = a.AtMs
	}
	if sh.NowMs < 0 || sh.NowMs > 24*3600*1000 {
		return nil, fmt.Errorf("%w: time %d ms is out of range", ErrShare, sh.NowMs)
	}
	s.actions = sh.Actions
	s.runTo(max(sh.NowMs, prev))
	return s, nil
}

// decodeShared reads shared's JSON as a json.Decoder with
// DisallowUnknownFields would, and refuses anything after it.
func decodeShared(data []byte) (shared, error) {
	var sh shared
	d := minijson.NewDecoder(data)
	d.DisallowUnknownFields()
	err := d.Struct(
		"v", &sh.Version,
		"c", func() error { return sh.Config.DecodeJSON(d) },
		"a", func() error { return minijson.List(d, &sh.Actions, func(a *Action) error { return a.DecodeJSON(d) }) },
		"t", &sh.NowMs,
	)
	if err == nil {
		err = d.End()
	}
	return sh, err
}
