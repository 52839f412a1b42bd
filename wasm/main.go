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
// Frames are written with encoding/json; settings, actions and lessons are
// read with internal/jsonread (encoding/json, with errors that name the
// field). Share links' DEFLATE and base64url are left to the worker
// (web/static/worker.js, CompressionStream), which keeps compress/flate out
// of the engine.
//
// Exposed on globalThis.dledger:
//
//	init(configJSON)                → frame | {"error"}
//	load(shareJSON)                 → frame | {"error"} (a link's JSON, inflated by the worker; string or Uint8Array)
//	step(actionsJSON, advanceMs)    → frame | {"error", "frame"}
//	seek(ms)                        → frame | {"error"}
//	shareJSON()                     → a link's JSON, {"v":2,…} (the worker deflates it) | {"error"}
//	frame()                         → frame | {"error"}
//	lesson(lessonJSON)              → frame with "lesson" | {"error"}
//	lessonGoto(step)                → frame with "lesson" | {"error"}
//	lessonPlay()                    → frame with "lesson" | {"error"}
//	lessonShowSolution()            → frame with "lesson" | {"error"}
//	lessonStop()                    → frame
//
// A lesson (guide.Lesson, as GET /lessons.json serves it) starts a new run
// with the lesson's cluster and a guide.Session. Each lesson step starts
// paused: its actions wait for lessonPlay, or for the first step that lets
// time pass (the page's own Play). While the lesson lasts, step lets the
// session drive the simulator (guide.Session.Run): it looks at the cluster
// every 10 ms of cluster time, performs the session's due actions, ticks
// its checks at the moment they hold, and plays the moments a step is
// about in slow motion. The frame's "lesson" field says where the lesson
// stands. So the page still crosses once per animation frame.
package main

import (
	"bytes"
	"encoding/json"
	"errors"
	"strconv"
	"strings"
	"syscall/js"

	"dledgerlab/core"
	"dledgerlab/core/sim"
	"dledgerlab/internal/jsbridge"
	"dledgerlab/internal/jsonread"
	"dledgerlab/lessons/guide"
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
	// g is the guided lesson being played on s, or nil. stepStart[i] is
	// where step i was last entered, so Back can play a step again from
	// where it began.
	g         *guide.Session
	stepStart map[int]mark
	// out is reused for each frame's JSON.
	out bytes.Buffer
	enc *json.Encoder
}

// mark is a moment of a run: its time and how many actions were recorded.
type mark struct {
	at      int64
	actions int
}

func main() {
	b := &bridge{}
	b.enc = json.NewEncoder(&b.out)
	jsbridge.Serve(map[string]jsbridge.Call{
		"init": b.init, "load": b.load, "step": b.step, "seek": b.seek,
		"shareJSON": b.shareJSON, "frame": b.frame,
		"lesson": b.lesson, "lessonGoto": b.lessonGoto, "lessonPlay": b.lessonPlay,
		"lessonShowSolution": b.lessonShowSolution, "lessonStop": b.lessonStop,
	})
}

// The crossing's helpers, shared with the Controller-mode engine.
var (
	errorJSON = jsbridge.ErrorJSON
	quote     = jsbridge.Quote
	stringArg = jsbridge.StringArg
	numberArg = jsbridge.NumberArg
)

// init starts a run from a JSON config (fields not given keep
// sim.DefaultConfig's values).
func (b *bridge) init(args []js.Value) string {
	cfg := sim.DefaultConfig()
	if arg := strings.TrimSpace(stringArg(args, 0)); arg != "" {
		if err := jsonread.Into([]byte(arg), &cfg); err != nil {
			return errorJSON("settings are not valid JSON: " + err.Error())
		}
	}
	s, err := sim.New(cfg)
	if err != nil {
		return errorJSON(err.Error())
	}
	b.s, b.g = s, nil
	return b.frameJSON()
}

// load starts a run from a share link's JSON (sim.LoadJSON), as a string
// or a Uint8Array: the worker has already decoded the link's base64url and
// inflated it.
func (b *bridge) load(args []js.Value) string {
	s, err := sim.LoadJSON(jsbridge.BytesArg(args, 0))
	if err != nil {
		return errorJSON(err.Error())
	}
	b.s, b.g = s, nil
	return b.frameJSON()
}

// step applies a batch of actions at the current virtual time, then runs
// advanceMs virtual milliseconds. An invalid action is skipped (the
// simulator changes nothing for it) and reported next to the frame. During
// a lesson the session then advances on the resulting frame.
func (b *bridge) step(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	var errs []string
	var refusals []refusalJSON // the refusals among errs, for the page's own words
	if raw := strings.TrimSpace(stringArg(args, 0)); raw != "" {
		// A batch that does not decode is refused whole.
		var actions []sim.Action
		if err := jsonread.Into([]byte(raw), &actions); err != nil {
			errs = append(errs, "actions are not valid JSON: "+err.Error())
		}
		for _, a := range actions {
			if err := b.s.Do(a); err != nil {
				errs = append(errs, err.Error())
				var r *sim.Refusal
				if errors.As(err, &r) {
					refusals = append(refusals, refusalJSON{r.Why, r.Args})
				}
			}
		}
	}
	ms := int64(numberArg(args, 1))
	if ms > maxAdvanceMs {
		ms = maxAdvanceMs
	}
	var frame string
	if b.g != nil {
		if ms > 0 && !b.g.Played() {
			b.g.Play() // time runs: the learner pressed Play, on the page or in the lesson
		}
		v, runErrs := b.g.Run(b.s, max(ms, 0)) // the lesson acts and judges as time passes
		for _, err := range runErrs {
			errs = append(errs, err.Error())
		}
		frame = b.lessonFrame(v)
	} else {
		if ms > 0 {
			b.s.Advance(ms)
		}
		frame = b.frameJSON()
	}
	if len(errs) > 0 {
		out := `{"error":` + quote(strings.Join(errs, "; "))
		if len(refusals) == len(errs) {
			r, _ := json.Marshal(refusals)
			out += `,"refusals":` + string(r)
		}
		return out + `,"frame":` + frame + `}`
	}
	return frame
}

// refusalJSON is a sim.Refusal for the page: its key and values.
type refusalJSON struct {
	Why  string    `json:"why"`
	Args core.Args `json:"args,omitempty"`
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

// shareJSON returns the JSON a share link carries; the worker compresses
// it into the link (sim.Share does the same natively).
func (b *bridge) shareJSON(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	return string(b.s.ShareJSON())
}

// frame returns the current frame without changing anything.
func (b *bridge) frame(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	return b.frameJSON()
}

// lesson starts a guided lesson: a new run with the lesson's cluster.
func (b *bridge) lesson(args []js.Value) string {
	var l guide.Lesson
	if err := jsonread.Into([]byte(stringArg(args, 0)), &l); err != nil {
		return errorJSON("the lesson is not valid JSON: " + err.Error())
	}
	if len(l.Steps) == 0 {
		return errorJSON("the lesson " + quote(l.ID) + " has no steps")
	}
	s, err := sim.New(l.Cluster)
	if err != nil {
		return errorJSON("lesson " + l.ID + ": " + err.Error())
	}
	b.s, b.g = s, guide.NewSession(&l)
	b.stepStart = map[int]mark{0: {}}
	return b.frameJSON()
}

// lessonGoto moves the lesson to a step (len(steps) is the goal). Going
// back to a step already seen returns the run to where that step began,
// without what was done after it, so the step plays again as it did; going
// forward continues from now.
func (b *bridge) lessonGoto(args []js.Value) string {
	if b.g == nil {
		return errorJSON("no lesson is running")
	}
	i := int(numberArg(args, 0))
	if i > b.g.Step && !b.g.ActionsDone() && b.g.Step < len(b.g.L.Steps) {
		// The learner moves on before the step has played: its actions
		// run now, so the names it binds are there for the steps after.
		b.g.Finish(b.s, maxAdvanceMs)
	}
	if m, seen := b.stepStart[i]; seen && i <= b.g.Step && m.at <= b.s.Now() {
		s, err := forkAt(b.s, m)
		if err != nil {
			return errorJSON(err.Error())
		}
		b.s = s
	}
	b.g.Goto(i)
	b.stepStart[b.g.Step] = mark{at: b.s.Now(), actions: len(b.s.Actions())}
	return b.guideFrame() // the step waits for Play; the goal binds its names now
}

// lessonPlay lets the current step happen (the lesson's Play button): its
// actions run and its checks are watched as time passes.
func (b *bridge) lessonPlay(args []js.Value) string {
	if b.g == nil {
		return errorJSON("no lesson is running")
	}
	b.g.Play()
	return b.guideFrame()
}

// forkAt rebuilds s as it was at m: the same config and the actions
// recorded before m, run to m's time. Unlike SeekTo, which keeps the
// recorded future and replays it, the fork has no future.
func forkAt(s *sim.Sim, m mark) (*sim.Sim, error) {
	acts := s.Actions()
	f, err := sim.New(s.Config())
	if err != nil {
		return nil, err
	}
	for _, a := range acts[:min(m.actions, len(acts))] {
		if err := f.SeekTo(a.AtMs); err != nil {
			return nil, err
		}
		if err := f.Do(a); err != nil {
			return nil, err
		}
	}
	return f, f.SeekTo(m.at)
}

// lessonShowSolution performs the goal's solution (the "Show me" button).
func (b *bridge) lessonShowSolution(args []js.Value) string {
	if b.g == nil {
		return errorJSON("no lesson is running")
	}
	b.g.ShowSolution()
	return b.frameJSON()
}

// lessonStop leaves the guided mode; the run goes on as a free playground.
func (b *bridge) lessonStop(args []js.Value) string {
	if b.s == nil {
		return errorJSON("the simulator is not started")
	}
	b.g = nil
	return b.frameJSON()
}

// guideFrame advances the lesson on the current view: its due actions are
// performed, and its checks are judged on the frame that is returned.
func (b *bridge) guideFrame() string {
	v, errs := b.g.Act(b.s)
	if len(errs) > 0 && b.g.Err == "" {
		b.g.Err = errors.Join(errs...).Error()
	}
	return b.lessonFrame(v)
}

// frame is what the page draws: a ClusterView, with a "lesson" field
// during a lesson.
type frame struct {
	*sim.ClusterView
	Lesson *guide.State `json:"lesson,omitempty"`
}

// lessonFrame is v's frame, with where the lesson stands during a lesson.
func (b *bridge) lessonFrame(v sim.ClusterView) string {
	if n := len(v.Events); n > viewEvents {
		v.Events = v.Events[n-viewEvents:]
	}
	f := frame{ClusterView: &v}
	if b.g != nil {
		st := b.g.State()
		f.Lesson = &st
	}
	b.out.Reset()
	if err := b.enc.Encode(f); err != nil {
		return errorJSON("cannot write the frame: " + err.Error())
	}
	return string(bytes.TrimSuffix(b.out.Bytes(), []byte("\n")))
}

// frameJSON is the current frame (with the lesson's state during a lesson).
func (b *bridge) frameJSON() string { return b.lessonFrame(b.s.View()) }
