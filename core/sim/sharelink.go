//go:build !js

package sim

import (
	"bytes"
	"compress/flate"
	"encoding/base64"
	"fmt"
	"io"
)

// Share links natively. The WebAssembly engine leaves this file out: the
// page compresses ShareJSON and decompresses links itself, in JavaScript,
// which keeps compress/flate out of the engine (share.go).

// Share packs (config, seed, actions, now) into a short URL-safe string:
// ShareJSON, compressed with raw DEFLATE, in unpadded base64url.
func (s *Sim) Share() string {
	var buf bytes.Buffer
	w, _ := flate.NewWriter(&buf, flate.BestCompression)
	w.Write(s.ShareJSON())
	w.Close()
	return base64.RawURLEncoding.EncodeToString(buf.Bytes())
}

// Load rebuilds a run from a Share string (or one the page made) and runs
// it to the shared moment.
func Load(share string) (*Sim, error) {
	raw, err := base64.RawURLEncoding.DecodeString(share)
	if err != nil {
		return nil, fmt.Errorf("%w: not base64url: %v", ErrShare, err)
	}
	r := flate.NewReader(bytes.NewReader(raw))
	data, err := io.ReadAll(io.LimitReader(r, maxShareJSON+1))
	if err != nil {
		return nil, fmt.Errorf("%w: cannot decompress: %v", ErrShare, err)
	}
	return LoadJSON(data)
}
