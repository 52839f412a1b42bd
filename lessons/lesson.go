// Package lessons loads the guided lessons (one YAML file each, English and
// 简体中文) into guide.Lesson values, which package guide runs: against the
// simulator in go test and in the browser, and against real brokers through
// `dledgerlab lesson run --native`. README.md in this folder describes the
// format.
package lessons

import (
	"bytes"
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"path"
	"slices"
	"strings"

	"go.yaml.in/yaml/v3"

	"dledgerlab/core/sim"
	"dledgerlab/lessons/guide"
)

// The lesson types live in package guide, which WebAssembly can import
// without a YAML parser.
type (
	Lesson   = guide.Lesson
	Text     = guide.Text
	Step     = guide.Step
	Goal     = guide.Goal
	Question = guide.Question
	Line     = guide.Line
)

// The YAML shape of a lesson: like guide.Lesson, with lines that keep their
// line numbers.
type yLine struct{ guide.Line }

// UnmarshalYAML keeps the line number.
func (l *yLine) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want one action or check as text", n.Line)
	}
	l.Text, l.Line.Line = strings.TrimSpace(n.Value), n.Line
	return nil
}

type yStep struct {
	Say    Text    `yaml:"say"`
	Do     []yLine `yaml:"do"`
	Expect []yLine `yaml:"expect"`
}

type yLesson struct {
	ID      string     `yaml:"id"`
	Order   int        `yaml:"order"`
	Title   Text       `yaml:"title"`
	Cluster yaml.Node  `yaml:"cluster"`
	Intro   Text       `yaml:"intro"`
	Steps   []yStep    `yaml:"steps"`
	SimOnly bool       `yaml:"sim_only"`
	Quiz    []Question `yaml:"quiz"`
	Goal    struct {
		Say      Text    `yaml:"say"`
		Start    []yLine `yaml:"start"`
		Expect   []yLine `yaml:"expect"`
		Solution []yLine `yaml:"solution"`
	} `yaml:"goal"`
}

// decode reads a lesson file's YAML (unknown keys are errors); bad makes
// an error that names the file and a line.
func decode(name string, data []byte) (raw yLesson, doc *yaml.Node, bad func(int, string, ...any) error, err error) {
	bad = func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrLesson, name, line, fmt.Sprintf(format, args...))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return raw, nil, bad, fmt.Errorf("%w: %s: %v", ErrLesson, name, err)
	}
	if len(root.Content) == 0 {
		return raw, nil, bad, bad(1, "empty file")
	}
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	if err := dec.Decode(&raw); err != nil {
		return raw, nil, bad, fmt.Errorf("%w: %s: %v", ErrLesson, name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	return raw, root.Content[0], bad, nil
}

// steps are the lesson's steps, each with the line it starts at.
func (raw *yLesson) steps(doc *yaml.Node) []Step {
	var out []Step
	for _, st := range raw.Steps {
		out = append(out, Step{Say: st.Say, Do: lines(st.Do), Expect: lines(st.Expect)})
	}
	if steps := mappingValue(doc, "steps"); steps != nil {
		for i, s := range steps.Content {
			if i < len(out) {
				out[i].Line = s.Line
			}
		}
	}
	return out
}

func (raw *yLesson) goal() Goal {
	return Goal{Say: raw.Goal.Say, Start: lines(raw.Goal.Start), Expect: lines(raw.Goal.Expect), Solution: lines(raw.Goal.Solution)}
}

// lineOf returns where a top-level key of doc is written (1 if absent).
func lineOf(doc *yaml.Node) func(string) int {
	return func(key string) int {
		if v := mappingValue(doc, key); v != nil {
			return v.Line
		}
		return 1
	}
}

func lines(ys []yLine) []Line {
	out := make([]Line, len(ys))
	for i, y := range ys {
		out[i] = y.Line
	}
	return out
}

//go:embed *.yaml
var files embed.FS

// ErrLesson is wrapped by every error about a lesson file.
var ErrLesson = errors.New("bad lesson")

// Parse reads one lesson file. Errors name the file, the line and what was
// expected.
func Parse(name string, data []byte) (*Lesson, error) {
	raw, doc, bad, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	l := Lesson{ID: raw.ID, Order: raw.Order, Title: raw.Title, Intro: raw.Intro, SimOnly: raw.SimOnly, Quiz: raw.Quiz, File: name}
	l.Steps, l.Goal = raw.steps(doc), raw.goal()
	l.Cluster = sim.Config{Nodes: 3, Seed: 1}
	if raw.Cluster.Kind != 0 {
		if err := decodeCluster(&raw.Cluster, &l.Cluster); err != nil {
			return nil, bad(raw.Cluster.Line, "cluster: %v", err)
		}
	}
	if err := check(&l, bad, doc); err != nil {
		return nil, err
	}
	if err := guide.Prepare(&l); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLesson, name, err)
	}
	return &l, nil
}

func mappingValue(n *yaml.Node, key string) *yaml.Node {
	if n.Kind != yaml.MappingNode {
		return nil
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		if n.Content[i].Value == key {
			return n.Content[i+1]
		}
	}
	return nil
}

// decodeCluster reads simulator settings by their JSON names.
func decodeCluster(n *yaml.Node, c *sim.Config) error {
	if n.Kind != yaml.MappingNode {
		return fmt.Errorf("want settings such as nodes: 3")
	}
	for i := 0; i+1 < len(n.Content); i += 2 {
		k, v := n.Content[i].Value, n.Content[i+1]
		var err error
		switch k {
		case "nodes":
			err = v.Decode(&c.Nodes)
		case "seed":
			err = v.Decode(&c.Seed)
		case "latency_ms":
			err = v.Decode(&c.LatencyMs)
		case "jitter_ms":
			err = v.Decode(&c.JitterMs)
		case "loss":
			err = v.Decode(&c.Loss)
		case "fsync_ms":
			err = v.Decode(&c.FsyncMs)
		case "election_ticks_min":
			err = v.Decode(&c.ElectionTicksMin)
		case "election_ticks_max":
			err = v.Decode(&c.ElectionTicksMax)
		case "heartbeat_ticks":
			err = v.Decode(&c.HeartbeatTicks)
		case "segment_size":
			err = v.Decode(&c.SegmentSize)
		case "produce_timeout_ms":
			err = v.Decode(&c.ProduceTimeoutMs)
		case "max_push_entries":
			err = v.Decode(&c.MaxPushEntries)
		case "max_inflight":
			err = v.Decode(&c.MaxInflight)
		case "offsets":
			err = v.Decode(&c.Offsets)
		case "offset_commit_ms":
			err = v.Decode(&c.OffsetCommitMs)
		case "offset_sync_ms":
			err = v.Decode(&c.OffsetSyncMs)
		case "snapshot_every":
			err = v.Decode(&c.SnapshotEvery)
		default:
			return fmt.Errorf("line %d: unknown setting %q (known: nodes, seed, latency_ms, jitter_ms, loss, fsync_ms, election_ticks_min, election_ticks_max, heartbeat_ticks, segment_size, produce_timeout_ms, max_push_entries, max_inflight, offsets, offset_commit_ms, offset_sync_ms, snapshot_every)", v.Line, k)
		}
		if err != nil {
			return fmt.Errorf("line %d: %s: %v", v.Line, k, err)
		}
	}
	if _, err := sim.New(*c); err != nil {
		return err
	}
	return nil
}

// check validates a parsed lesson: texts in both languages, every action
// and check understood, brokers inside the cluster, quiz answers in range.
func check(l *Lesson, bad func(int, string, ...any) error, doc *yaml.Node) error {
	line := lineOf(doc)
	if err := checkTexts(l.ID, l.Title, l.Intro, l.Steps, l.Goal, l.Quiz, bad, line); err != nil {
		return err
	}
	n := l.Cluster.Nodes
	for _, s := range l.Steps {
		for _, d := range s.Do {
			if _, err := guide.ParseAction(d.Text, n); err != nil {
				return bad(d.Line, "%v", err)
			}
		}
		for _, e := range s.Expect {
			if _, err := guide.ParseCheck(e.Text, n); err != nil {
				return bad(e.Line, "%v", err)
			}
		}
	}
	for _, d := range l.Goal.Start {
		if _, err := guide.ParseAction(d.Text, n); err != nil {
			return bad(d.Line, "%v", err)
		}
	}
	for _, e := range l.Goal.Expect {
		if _, err := guide.ParseCheck(e.Text, n); err != nil {
			return bad(e.Line, "%v", err)
		}
	}
	for _, d := range l.Goal.Solution {
		if _, err := guide.ParseAction(d.Text, n); err != nil {
			return bad(d.Line, "%v", err)
		}
	}
	// Every name is bound before it is used, the goal's by its start
	// lines or the steps: a learner never meets "was never bound".
	var ne *guide.NameError
	if err := guide.CheckNames(l); errors.As(err, &ne) {
		return bad(ne.Line, "%s", ne.Msg)
	}
	return nil
}

// checkTexts validates what both modes' lessons share: an id, every text
// in both languages, a goal with expect and solution, quiz answers in
// range. line(key) is where a top-level key is written.
func checkTexts(id string, title, intro Text, steps []Step, goal Goal, quiz []Question, bad func(int, string, ...any) error, line func(string) int) error {
	if id == "" {
		return bad(1, "missing id")
	}
	if err := bothLanguages(title, "title"); err != nil {
		return bad(line("title"), "%v", err)
	}
	if err := bothLanguages(intro, "intro"); err != nil {
		return bad(line("intro"), "%v", err)
	}
	if len(steps) == 0 {
		return bad(line("steps"), "a lesson needs at least one step")
	}
	for i, s := range steps {
		if err := bothLanguages(s.Say, fmt.Sprintf("step %d's say", i+1)); err != nil {
			return bad(s.Line, "%v", err)
		}
	}
	if err := bothLanguages(goal.Say, "goal's say"); err != nil {
		return bad(line("goal"), "%v", err)
	}
	if len(goal.Expect) == 0 || len(goal.Solution) == 0 {
		return bad(line("goal"), "a goal needs expect (what the page recognises) and solution (how a test reaches it)")
	}
	if len(quiz) < 2 {
		return bad(line("quiz"), "a lesson ends with two or three quiz questions, found %d", len(quiz))
	}
	for i, q := range quiz {
		what := fmt.Sprintf("quiz question %d", i+1)
		if err := bothLanguages(q.Q, what); err != nil {
			return bad(line("quiz"), "%v", err)
		}
		if err := bothLanguages(q.Why, what+"'s why"); err != nil {
			return bad(line("quiz"), "%v", err)
		}
		if len(q.Choices) < 2 || q.Answer < 0 || q.Answer >= len(q.Choices) {
			return bad(line("quiz"), "%s: answer %d must index one of its %d choices (from 0)", what, q.Answer, len(q.Choices))
		}
		for j, c := range q.Choices {
			if err := bothLanguages(c, fmt.Sprintf("%s choice %d", what, j+1)); err != nil {
				return bad(line("quiz"), "%v", err)
			}
		}
	}
	return nil
}

func bothLanguages(t Text, what string) error {
	switch {
	case strings.TrimSpace(t.En) == "" && strings.TrimSpace(t.Zh) == "":
		return fmt.Errorf("%s is missing (want en and zh)", what)
	case strings.TrimSpace(t.En) == "":
		return fmt.Errorf("%s has no English text (en)", what)
	case strings.TrimSpace(t.Zh) == "":
		return fmt.Errorf("%s has no Chinese text (zh)", what)
	}
	return nil
}

// All loads every embedded lesson, in order.
func All() ([]*Lesson, error) {
	return LoadFS(files)
}

// LoadFS loads every *.yaml lesson in fsys, in order.
func LoadFS(fsys fs.FS) ([]*Lesson, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*Lesson
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		l, err := Parse(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *Lesson) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, errors.Join(errs...)
}

// Find returns the embedded lesson with id (or file name).
func Find(id string) (*Lesson, error) {
	all, err := All()
	for _, l := range all {
		if l.ID == id || l.File == id || strings.TrimSuffix(l.File, path.Ext(l.File)) == id {
			return l, nil
		}
	}
	if err != nil {
		return nil, err
	}
	return nil, fmt.Errorf("no lesson %q (dledgerlab lesson list shows them)", id)
}
