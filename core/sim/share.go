package sim

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"encoding/json"
	"errors"
	"fmt"
	"io"
)

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

// Share packs (config, seed, actions, now) into a short URL-safe string.
func (s *Sim) Share() string {
	data, err := json.Marshal(shared{Version: shareVersion, Config: s.cfg, Actions: s.actions, NowMs: s.st.now})
	if err != nil {
		panic(fmt.Sprintf("encoding a share link: %v", err)) // only plain values inside
	}
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(data)
	w.Close()
	return base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

// Load rebuilds a run from a Share string and runs it to the shared moment.
func Load(share string) (*Sim, error) {
	raw, err := base64.RawURLEncoding.DecodeString(share)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url: %v", ErrShare, err)
	}
	r := flate.NewReader(bytes.NewReader(raw))
	data, err := io.ReadAll(io.LimitReader(r, 4<<20))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decompress: %v", ErrShare, err)
	}
	var sh shared
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sh); err != nil {
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
