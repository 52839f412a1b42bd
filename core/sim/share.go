package sim

import (
	"encoding/json"
	"errors"
	"fmt"

	"dledgerlab/core"
	"dledgerlab/internal/jsonread"
)

// A share link carries a run's inputs and a moment: the JSON of shared,
// compressed with raw DEFLATE (RFC 1951) and written in unpadded base64url
// (RFC 4648 §5). This file is the JSON half, pure and on every platform;
// sharelink.go adds the compression natively, while the page compresses in
// JavaScript (CompressionStream("deflate-raw"), web/static/worker.js), so
// the WebAssembly engine carries no compress/flate. Either side reads the
// other's links.

// shared is what a share link carries: the run's inputs and the moment.
type shared struct {
	Version int      `json:"v"`
	Config  Config   `json:"c"`
	Actions []Action `json:"a"`
	NowMs   int64    `json:"t"`
}

// shareVersion is the format links are written in. Version 1 wrote the
// switched-off safety rules under their Go names ("rules":
// {"SkipUpToDateCheck":false,…}); version 2 uses core.Rules' JSON names
// and leaves "rules" out when every rule is on. Both are read.
const shareVersion = 2

// configV1 reads a version 1 link's config: its "rules" member, at the
// outer level, hides Config's own.
type configV1 struct {
	Config
	Rules struct {
		SkipUpToDateCheck bool `json:"SkipUpToDateCheck"`
		CommitOldTerms    bool `json:"CommitOldTerms"`
		AckBeforePersist  bool `json:"AckBeforePersist"`
	} `json:"rules"`
}

// ErrShare is wrapped by every error about a malformed share string.
var ErrShare = errors.New("malformed share link")

// maxShareJSON bounds a share link's uncompressed JSON.
const maxShareJSON = 4 << 20

// ShareJSON is the JSON a share link carries before compression: the
// config, seed, recorded actions and the current time, as
// {"v":2,"c":{…},"a":[…],"t":ms}.
func (s *Sim) ShareJSON() []byte {
	data, err := json.Marshal(shared{Version: shareVersion, Config: s.cfg, Actions: s.actions, NowMs: s.st.now})
	if err != nil {
		panic(err) // numbers, strings and bools always marshal
	}
	return data
}

// LoadJSON rebuilds a run from ShareJSON's text and runs it to the shared
// moment. Every error wraps ErrShare and says what is wrong; unknown fields
// are errors, so a link from a newer playground is refused rather than
// half-read.
func LoadJSON(data []byte) (*Sim, error) {
	if len(data) > maxShareJSON {
		return nil, fmt.Errorf("%w: %d bytes of JSON is over the limit of %d", ErrShare, len(data), maxShareJSON)
	}
	cfg, acts, nowMs, err := decodeShared(data)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShare, err)
	}
	s, err := New(cfg)
	if err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShare, err)
	}
	var prev int64
	for i, a := range acts {
		if err := a.validate(s.cfg.Nodes); err != nil {
			return nil, fmt.Errorf("%w: action %d: %v", ErrShare, i+1, err)
		}
		if a.AtMs < prev {
			return nil, fmt.Errorf("%w: action %d at %d ms comes before the previous one at %d ms", ErrShare, i+1, a.AtMs, prev)
		}
		prev = a.AtMs
	}
	if nowMs < 0 || nowMs > 24*3600*1000 {
		return nil, fmt.Errorf("%w: time %d ms is out of range", ErrShare, nowMs)
	}
	s.actions = acts
	s.runTo(max(nowMs, prev))
	return s, nil
}

// sharedIn is shared as it is read: the version first, then the rest by
// the version's rules.
type sharedIn struct {
	Version int             `json:"v"`
	Config  json.RawMessage `json:"c"`
	Actions json.RawMessage `json:"a"`
	NowMs   int64           `json:"t"`
}

// decodeShared reads a link's JSON strictly: unknown fields are errors (a
// link from a newer playground is refused rather than half-read), and
// nothing may follow it.
func decodeShared(data []byte) (cfg Config, acts []Action, nowMs int64, err error) {
	var sh sharedIn
	if err := jsonread.Strict(data, &sh); err != nil {
		return cfg, nil, 0, err
	}
	switch sh.Version {
	case 1:
		var old configV1
		if err := jsonread.Strict(sh.Config, &old); err != nil {
			return cfg, nil, 0, jsonread.Under("c", err)
		}
		cfg = old.Config
		cfg.Rules = core.Rules(old.Rules)
	case shareVersion:
		if err := jsonread.Strict(sh.Config, &cfg); err != nil {
			return cfg, nil, 0, jsonread.Under("c", err)
		}
	default:
		return cfg, nil, 0, fmt.Errorf("version %d, this playground reads versions 1 and %d", sh.Version, shareVersion)
	}
	if len(sh.Actions) > 0 {
		if err := jsonread.Strict(sh.Actions, &acts); err != nil {
			return cfg, nil, 0, jsonread.Under("a", err)
		}
	}
	return cfg, acts, sh.NowMs, nil
}
