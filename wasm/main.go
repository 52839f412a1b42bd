//go:build js && wasm

// Command wasm is the playground's engine: it runs the seeded simulator
// (core/sim) inside a Web Worker and answers the page in ClusterView frames
// (ARCHITECTURE.md rule 2).
//
// Crossing between JavaScript and Go is expensive, so the page crosses about
// once per animation frame: it hands over a batch of actions and how many
// virtual milliseconds to run, and gets one JSON frame back. Every function
// returns a JSON string — a frame, or {"error": "..."} — and never throws
// into JavaScript, so bad input leaves the page usable.
//
// Exposed on globalThis.dledger:
//
//	init(configJSON | shareString) → frame | {"error"}
//	step(actionsJSON, advanceMs)    → frame | {"error", "frame"}
//	seek(ms)                        → frame | {"error"}
//	share()                         → {"share": "..."} | {"error"}
//	frame()                         → frame | {"error"}
package main

import (
	"encoding/json"
	"strconv"
	"strings"
	"syscall/js"

	"dledgerlab/core/sim"
)

// viewEvents is how many of the latest events a frame carries: the page
// lists the last few dozen, and every byte crosses into JavaScript.
const viewEvents = 60

// maxAdvanceMs bounds one step so a stalled tab that wakes up asks for a
// bounded amount of work (ten virtual seconds).
const maxAdvanceMs = 10_000

// bridge owns the one simulator of this worker. Invariant: every exported
// call leaves s either nil (before a successful init) or a usable run.
type bridge struct {
	s *sim.Sim
}

func main() {
	b := &bridge{}
	api := js.Global().Get("Object").New()
	api.Set("init", js.FuncOf(b.guard(b.init)))
	api.Set("step", js.FuncOf(b.guard(b.step)))
	api.Set("seek", js.FuncOf(b.guard(b.seek)))
	api.Set("share", js.FuncOf(b.guard(b.share)))
	api.Set("frame", js.FuncOf(b.guard(b.frame)))
	js.Global().Set("dledger", api)
	// Tell the page (or worker) the engine is ready.
	if ready := js.Global().Get("dledgerReady"); ready.Type() == js.TypeFunction {
		ready.Invoke()
	}
	select {} // keep the Go side alive for the callbacks
}

// guard turns a handler into a js.FuncOf body that always returns a string
// and converts a panic into {"error"} instead of killing the worker.
func (b *bridge) guard(h func(args []js.Value) string) func(js.Value, []js.Value) any {
	return func(_ js.Value, args []js.Value) (out any) {
		defer func() {
			if r := recover(); r != nil {
				msg := "internal error"
				switch v := r.(type) {
				case error:
					msg += ": " + v.Error()
				case string:
					msg += ": " + v
				}
				out = errorJSON(msg)
			}
		}()
		return h(args)
	}
}

// init starts a run from a JSON config (fields not given keep
// sim.DefaultConfig's values) or from a Share() string.
func (b *bridge) init(args []js.Value) string {
	arg := strings.TrimSpace(stringArg(args, 0))
	var (
		s   *sim.Sim
		err error
	)
	if arg == "" || strings.HasPrefix(arg, "{") {
		cfg := sim.DefaultConfig()
		if arg != "" {
			if err := json.Unmarshal([]byte(arg), &cfg); err != nil {
				return errorJSON("settings are not valid JSON: " + err.Error())
			}
		}
		s, err = sim.New(cfg)
	} else {
		s, err = sim.Load(arg)
	}
	if err != nil {
		return errorJSON(err.Error())
	}
	b.s = s
	return b.frameJSON()
}

// step applies a batch of actions at the current virtual time, then runs
// advanceMs virtual milliseconds. An invalid action is skipped (the
// simulator changes nothing for it) and reported next to the frame.
func (b *bridge) step(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	var errs []string
	if raw := strings.TrimSpace(stringArg(args, 0)); raw != "" && raw != "null" {
		var actions []sim.Action
		if err := json.Unmarshal([]byte(raw), &actions); err != nil {
			errs = append(errs, "actions are not valid JSON: "+err.Error())
		}
		for _, a := range actions {
			if err := b.s.Do(a); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	ms := int64(numberArg(args, 1))
	if ms > maxAdvanceMs {
		ms = maxAdvanceMs
	}
	if ms > 0 {
		b.s.Advance(ms)
	}
	frame := b.frameJSON()
	if len(errs) > 0 {
		return `{"error":` + quote(strings.Join(errs, "; ")) + `,"frame":` + frame + `}`
	}
	return frame
}

// seek rewinds (or fast-forwards) to a virtual time.
func (b *bridge) seek(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	ms := int64(numberArg(args, 0))
	if ms < 0 {
		return errorJSON("time " + strconv.FormatInt(ms, 10) + " ms is before the start of the run")
	}
	if err := b.s.SeekTo(ms); err != nil {
		return errorJSON(err.Error())
	}
	return b.frameJSON()
}

// share returns the run as a short URL-safe string.
func (b *bridge) share(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	return `{"share":` + quote(b.s.Share()) + `}`
}

// frame returns the current frame without changing anything.
func (b *bridge) frame(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	return b.frameJSON()
}

func (b *bridge) frameJSON() string {
	v := b.s.View()
	if n := len(v.Events); n > viewEvents {
		v.Events = v.Events[n-viewEvents:]
	}
	data, err := json.Marshal(v)
	if err != nil {
		return errorJSON("cannot encode the frame: " + err.Error())
	}
	return string(data)
}

func errorJSON(msg string) string { return `{"error":` + quote(msg) + `}` }

func quote(s string) string {
	data, err := json.Marshal(s)
	if err != nil {
		return `""`
	}
	return string(data)
}

// stringArg returns args[i] as a string ("" when missing or not a string).
func stringArg(args []js.Value, i int) string {
	if i >= len(args) || args[i].Type() != js.TypeString {
		return ""
	}
	return args[i].String()
}

// numberArg returns args[i] as a number (0 when missing, NaN or not a number).
func numberArg(args []js.Value, i int) float64 {
	if i >= len(args) {
		return 0
	}
	switch args[i].Type() {
	case js.TypeNumber:
		f := args[i].Float()
		if f != f {
			return 0
		}
		return f
	case js.TypeString:
		f, err := strconv.ParseFloat(args[i].String(), 64)
		if err != nil {
			return 0
		}
		return f
	}
	return 0
}
