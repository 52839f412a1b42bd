//go:build js && wasm

// Command controller is the playground's engine for Controller mode
// (issue 20): it runs core/ctlsim — three controllers, a Raft group on
// core.Node, deciding the master of a broker group of three — in a Web
// Worker, and answers the page in ctlsim.View frames ("mode":
// "controller"). It answers the same calls as the DLedger-mode engine
// (wasm/), so the page's loop drives either; it is a separate file so that
// a learner who never opens Controller mode never downloads it
// (docs/BENCHMARKS.md has both engines' sizes).
//
// Exposed on globalThis.dledger (each returns a frame or {"error"}):
//
//	init(settingsJSON)          a new run (ctlsim.Settings; "" for the defaults)
//	load(shareJSON)             a run from a share link's JSON (ctlsim.LoadShare)
//	step(actionsJSON, advanceMs) actions now, then time; refused ones are
//	                            reported as {"error", "frame"}
//	seek(ms)                    rewind (by replay) or run forward
//	shareJSON()                 the run as a link carries it (the worker deflates it)
//	frame()                     the current frame
//	lesson(lessonJSON)          a guided lesson (ctlguide.Lesson from /lessons.json): a new run
//	lessonGoto(step) · lessonPlay() · lessonShowSolution() · lessonStop()
//
// During a lesson the frame has a "lesson" field (guide.State's shape, which
// the page's narration panel draws for both modes), and step lets the
// ctlguide.Session act and judge every 10 ms of cluster time.
package main

import (
	"bytes"
	"encoding/json"
	"strconv"
	"strings"
	"syscall/js"

	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/internal/jsbridge"
	"dledgerlab/internal/jsonread"
	"dledgerlab/lessons/ctlguide"
	"dledgerlab/lessons/guide"
)

// maxAdvanceMs bounds one step (ten virtual seconds), as in wasm/.
const maxAdvanceMs = 10_000

type bridge struct {
	r *ctlsim.Run
	// g is the lesson being played on r, or nil; stepStart[i] is when
	// step i was last entered, so Back plays it again from there.
	g         *ctlguide.Session
	stepStart map[int]mark
	out       bytes.Buffer
	enc       *json.Encoder
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

// settings are init's: ctlsim.Settings, and the page's "mode".
type settings struct {
	Mode string `json:"mode"`
	ctlsim.Settings
}

func (b *bridge) init(args []js.Value) string {
	var set settings
	if arg := strings.TrimSpace(jsbridge.StringArg(args, 0)); arg != "" {
		if err := jsonread.Into([]byte(arg), &set); err != nil {
			return jsbridge.ErrorJSON("settings are not valid JSON: " + err.Error())
		}
	}
	if set.Mode != "" && set.Mode != "controller" {
		return jsbridge.ErrorJSON("this engine runs Controller mode, not " + jsbridge.Quote(set.Mode))
	}
	r, err := ctlsim.NewRun(set.Settings)
	if err != nil {
		return jsbridge.ErrorJSON(err.Error())
	}
	b.r, b.g = r, nil
	return b.frameJSON()
}

func (b *bridge) load(args []js.Value) string {
	r, err := ctlsim.LoadShare(jsbridge.BytesArg(args, 0))
	if err != nil {
		return jsbridge.ErrorJSON(err.Error())
	}
	b.r, b.g = r, nil
	return b.frameJSON()
}

func (b *bridge) step(args []js.Value) string {
	if b.r == nil {
		return jsbridge.ErrorJSON("the simulator is not started")
	}
	var errs []string
	if raw := strings.TrimSpace(jsbridge.StringArg(args, 0)); raw != "" {
		var actions []sim.Action
		if err := jsonread.Into([]byte(raw), &actions); err != nil {
			errs = append(errs, "actions are not valid JSON: "+err.Error())
		}
		for _, a := range actions {
			if err := b.r.Do(a); err != nil {
				errs = append(errs, err.Error())
			}
		}
	}
	ms := min(int64(jsbridge.NumberArg(args, 1)), maxAdvanceMs)
	switch {
	case b.g != nil:
		if ms > 0 && !b.g.Played() {
			b.g.Play() // time runs: the learner pressed Play, on the page or in the lesson
		}
		for _, err := range b.g.Run(b.r, max(ms, 0)) {
			errs = append(errs, err.Error())
		}
	case ms > 0:
		b.r.Advance(ms)
	}
	frame := b.frameJSON()
	if len(errs) > 0 {
		return `{"error":` + jsbridge.Quote(strings.Join(errs, "; ")) + `,"frame":` + frame + `}`
	}
	return frame
}

func (b *bridge) seek(args []js.Value) string {
	if b.r == nil {
		return jsbridge.ErrorJSON("the simulator is not started")
	}
	ms := int64(jsbridge.NumberArg(args, 0))
	if ms < 0 {
		return jsbridge.ErrorJSON("time " + strconv.FormatInt(ms, 10) + " ms is before the start of the run")
	}
	if err := b.r.SeekTo(ms); err != nil {
		return jsbridge.ErrorJSON(err.Error())
	}
	return b.frameJSON()
}

func (b *bridge) shareJSON(args []js.Value) string {
	if b.r == nil {
		return jsbridge.ErrorJSON("the simulator is not started")
	}
	data, err := json.Marshal(b.r.Share())
	if err != nil {
		return jsbridge.ErrorJSON(err.Error())
	}
	return string(data)
}

func (b *bridge) frame(args []js.Value) string {
	if b.r == nil {
		return jsbridge.ErrorJSON("the simulator is not started")
	}
	return b.frameJSON()
}

// mark is a moment of a run: its time and how many actions were recorded.
type mark struct {
	at      int64
	actions int
}

// frame is a ctlsim.View with, during a lesson, where it stands.
type frame struct {
	ctlsim.View
	Lesson *guide.State `json:"lesson,omitempty"`
}

// lesson starts a guided lesson: a new run with the lesson's settings.
func (b *bridge) lesson(args []js.Value) string {
	var l ctlguide.Lesson
	if err := jsonread.Into([]byte(jsbridge.StringArg(args, 0)), &l); err != nil {
		return jsbridge.ErrorJSON("the lesson is not valid JSON: " + err.Error())
	}
	if l.Mode != "controller" || len(l.Steps) == 0 {
		return jsbridge.ErrorJSON("lesson " + jsbridge.Quote(l.ID) + " is not a Controller-mode lesson with steps")
	}
	if err := ctlguide.Prepare(&l); err != nil {
		return jsbridge.ErrorJSON("lesson " + l.ID + ": " + err.Error())
	}
	r, err := ctlsim.NewRun(l.Cluster)
	if err != nil {
		return jsbridge.ErrorJSON("lesson " + l.ID + ": " + err.Error())
	}
	b.r, b.g = r, ctlguide.NewSession(&l)
	b.stepStart = map[int]mark{0: {}}
	return b.frameJSON()
}

// lessonGoto moves to a step (len(steps) is the goal); it waits for Play.
// Going back to a step already seen returns the run to where that step
// began, without what was done after it (ctlsim.Run.ForkAt), so the step
// plays again as it did; going forward continues from now.
func (b *bridge) lessonGoto(args []js.Value) string {
	if b.g == nil {
		return jsbridge.ErrorJSON("no lesson is running")
	}
	i := int(jsbridge.NumberArg(args, 0))
	if i > b.g.Step && !b.g.ActionsDone() && b.g.Step < len(b.g.L.Steps) {
		// Moving on before the step played: its actions happen now, so
		// the names it binds are there for the steps after it.
		b.g.Play()
		for k := 0; k < 100 && !b.g.ActionsDone(); k++ {
			b.g.Run(b.r, 100)
		}
	}
	if m, seen := b.stepStart[i]; seen && i <= b.g.Step && m.at <= b.r.Now() {
		if err := b.r.ForkAt(m.at, m.actions); err != nil {
			return jsbridge.ErrorJSON(err.Error())
		}
	}
	b.g.Goto(i)
	b.stepStart[b.g.Step] = mark{at: b.r.Now(), actions: b.r.Actions()}
	b.g.Act(b.r)
	return b.frameJSON()
}

func (b *bridge) lessonPlay(args []js.Value) string {
	if b.g == nil {
		return jsbridge.ErrorJSON("no lesson is running")
	}
	b.g.Play()
	b.g.Act(b.r)
	return b.frameJSON()
}

func (b *bridge) lessonShowSolution(args []js.Value) string {
	if b.g == nil {
		return jsbridge.ErrorJSON("no lesson is running")
	}
	b.g.ShowSolution()
	return b.frameJSON()
}

// lessonStop leaves the guided mode; the run goes on as a free playground.
func (b *bridge) lessonStop(args []js.Value) string {
	b.g = nil
	if b.r == nil {
		return jsbridge.ErrorJSON("the simulator is not started")
	}
	return b.frameJSON()
}

func (b *bridge) frameJSON() string {
	f := frame{View: b.r.View()}
	if b.g != nil {
		st := b.g.State()
		f.Lesson = &st
	}
	b.out.Reset()
	if err := b.enc.Encode(f); err != nil {
		return jsbridge.ErrorJSON("cannot write the frame: " + err.Error())
	}
	return string(bytes.TrimSuffix(b.out.Bytes(), []byte("\n")))
}
