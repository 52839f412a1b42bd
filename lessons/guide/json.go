package guide

import "dledgerlab/internal/minijson"

// Lessons and lesson state as JSON without encoding/json, for the
// WebAssembly engine (see package minijson): the page hands the engine a
// lesson as GET /lessons.json serves it, and gets the lesson's state back
// in every frame. json_test.go holds both to encoding/json.

// DecodeLessonJSON reads one lesson as json.Unmarshal would read it into a
// Lesson (unknown fields are skipped).
func DecodeLessonJSON(data []byte) (Lesson, error) {
	var l Lesson
	d := minijson.NewDecoder(data)
	err := l.decodeJSON(d)
	if err == nil {
		err = d.End()
	}
	return l, err
}

func (l *Lesson) decodeJSON(d *minijson.Decoder) error {
	return d.Struct(
		"id", &l.ID, "order", &l.Order,
		"title", func() error { return l.Title.decodeJSON(d) },
		"cluster", func() error { return l.Cluster.DecodeJSON(d) },
		"intro", func() error { return l.Intro.decodeJSON(d) },
		"steps", func() error {
			return minijson.List(d, &l.Steps, func(s *Step) error {
				return d.Struct(
					"say", func() error { return s.Say.decodeJSON(d) },
					"do", func() error { return decodeLines(d, &s.Do) },
					"expect", func() error { return decodeLines(d, &s.Expect) },
					"line", &s.Line,
				)
			})
		},
		"goal", func() error {
			g := &l.Goal
			return d.Struct(
				"say", func() error { return g.Say.decodeJSON(d) },
				"expect", func() error { return decodeLines(d, &g.Expect) },
				"solution", func() error { return decodeLines(d, &g.Solution) },
			)
		},
		"quiz", func() error {
			return minijson.List(d, &l.Quiz, func(q *Question) error {
				return d.Struct(
					"q", func() error { return q.Q.decodeJSON(d) },
					"choices", func() error { return minijson.List(d, &q.Choices, func(t *Text) error { return t.decodeJSON(d) }) },
					"answer", &q.Answer,
					"why", func() error { return q.Why.decodeJSON(d) },
				)
			})
		},
		"sim_only", &l.SimOnly, "file", &l.File,
	)
}

func (t *Text) decodeJSON(d *minijson.Decoder) error {
	return d.Struct("en", &t.En, "zh", &t.Zh)
}

func decodeLines(d *minijson.Decoder, p *[]Line) error {
	return minijson.List(d, p, func(l *Line) error {
		return d.Struct("text", &l.Text, "line", &l.Line)
	})
}

// State is where a guided lesson stands, as the page's narration panel
// shows it: the "lesson" field of a frame.
type State struct {
	ID     string       `json:"id"`
	Step   int          `json:"step"`
	Steps  int          `json:"steps"`
	Done   bool         `json:"done"`
	Checks []CheckState `json:"checks"`
	Error  string       `json:"error,omitempty"`
}

// State returns where the session stands.
func (s *Session) State() State {
	return State{ID: s.L.ID, Step: s.Step, Steps: len(s.L.Steps), Done: s.Done(), Checks: s.Checks, Error: s.Err}
}

// AppendJSON appends st as json.Marshal(st) writes it.
func (st *State) AppendJSON(b []byte) []byte {
	w := minijson.Writer{B: b}
	w.String(`{"id":`, st.ID)
	w.Int(`,"step":`, int64(st.Step))
	w.Int(`,"steps":`, int64(st.Steps))
	w.Bool(`,"done":`, st.Done)
	w.List(`,"checks":`, len(st.Checks), st.Checks == nil, func(i int) {
		c := &st.Checks[i]
		w.String(`{"text":`, c.Text)
		w.Bool(`,"ok":`, c.OK)
		w.Bool(`,"failed":`, c.Failed)
		if c.Why != "" {
			w.String(`,"why":`, c.Why)
		}
		w.Raw(`}`)
	})
	if st.Error != "" {
		w.String(`,"error":`, st.Error)
	}
	w.Raw(`}`)
	return w.B
}
