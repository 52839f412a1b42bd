// Package lessons loads the guided lessons (one YAML file each, English and
// 简体中文) and runs them: against the simulator in go test and in the
// browser, and against real brokers through `dledgerlab lesson run --native`.
// README.md in this folder describes the format.
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
)

//go:embed *.yaml
var files embed.FS

// Text is one text in both languages.
type Text struct {
	En string `yaml:"en" json:"en"`
	Zh string `yaml:"zh" json:"zh"`
}

// In returns the text in lang ("en" or "zh").
func (t Text) In(lang string) string {
	if lang == "zh" {
		return t.Zh
	}
	return t.En
}

// Line is one action or check, with where it was written.
type Line struct {
	Text string `json:"text"`
	Line int    `json:"line"`
}

// UnmarshalYAML keeps the line number.
func (l *Line) UnmarshalYAML(n *yaml.Node) error {
	if n.Kind != yaml.ScalarNode {
		return fmt.Errorf("line %d: want one action or check as text", n.Line)
	}
	l.Text, l.Line = strings.TrimSpace(n.Value), n.Line
	return nil
}

// Step is one part of the story: what to say, do, and expect.
type Step struct {
	Say    Text   `yaml:"say" json:"say"`
	Do     []Line `yaml:"do" json:"do"`
	Expect []Line `yaml:"expect" json:"expect"`
	// Line is where the step starts.
	Line int `yaml:"-" json:"line"`
}

// Goal is the "try it yourself" at the end.
type Goal struct {
	Say      Text   `yaml:"say" json:"say"`
	Expect   []Line `yaml:"expect" json:"expect"`
	Solution []Line `yaml:"solution" json:"solution"`
}

// Question is one quiz question.
type Question struct {
	Q       Text   `yaml:"q" json:"q"`
	Choices []Text `yaml:"choices" json:"choices"`
	Answer  int    `yaml:"answer" json:"answer"`
	Why     Text   `yaml:"why" json:"why"`
}

// Lesson is one lesson file.
type Lesson struct {
	ID      string     `yaml:"id" json:"id"`
	Order   int        `yaml:"order" json:"order"`
	Title   Text       `yaml:"title" json:"title"`
	Cluster sim.Config `yaml:"-" json:"cluster"`
	Intro   Text       `yaml:"intro" json:"intro"`
	Steps   []Step     `yaml:"steps" json:"steps"`
	Goal    Goal       `yaml:"goal" json:"goal"`
	Quiz    []Question `yaml:"quiz" json:"quiz"`
	// SimOnly marks lessons whose checks need the simulator (violations).
	SimOnly bool `yaml:"sim_only" json:"sim_only"`
	// File is the file name the lesson came from.
	File string `yaml:"-" json:"file"`
}

// ErrLesson is wrapped by every error about a lesson file.
var ErrLesson = errors.New("bad lesson")

// Parse reads one lesson file. Errors name the file, the line and what was
// expected.
func Parse(name string, data []byte) (*Lesson, error) {
	bad := func(line int, format string, args ...any) error {
		return fmt.Errorf("%w: %s:%d: %s", ErrLesson, name, line, fmt.Sprintf(format, args...))
	}
	var root yaml.Node
	if err := yaml.Unmarshal(data, &root); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLesson, name, err)
	}
	if len(root.Content) == 0 {
		return nil, bad(1, "empty file")
	}
	doc := root.Content[0]
	var l Lesson
	dec := yaml.NewDecoder(bytes.NewReader(data))
	dec.KnownFields(true)
	var raw struct {
		Lesson  `yaml:",inline"`
		Cluster yaml.Node `yaml:"cluster"`
	}
	if err := dec.Decode(&raw); err != nil {
		return nil, fmt.Errorf("%w: %s: %v", ErrLesson, name, strings.TrimPrefix(err.Error(), "yaml: "))
	}
	l = raw.Lesson
	l.File = name
	l.Cluster = sim.Config{Nodes: 3, Seed: 1}
	if raw.Cluster.Kind != 0 {
		if err := decodeCluster(&raw.Cluster, &l.Cluster); err != nil {
			return nil, bad(raw.Cluster.Line, "cluster: %v", err)
		}
	}
	// Step line numbers, for messages.
	if steps := mappingValue(doc, "steps"); steps != nil {
		for i, s := range steps.Content {
			if i < len(l.Steps) {
				l.Steps[i].Line = s.Line
			}
		}
	}
	if err := l.check(bad, doc); err != nil {
		return nil, err
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
		default:
			return fmt.Errorf("line %d: unknown setting %q (known: nodes, seed, latency_ms, jitter_ms, loss, fsync_ms, election_ticks_min, election_ticks_max, heartbeat_ticks, segment_size, produce_timeout_ms)", v.Line, k)
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
func (l *Lesson) check(bad func(int, string, ...any) error, doc *yaml.Node) error {
	line := func(key string) int {
		if v := mappingValue(doc, key); v != nil {
			return v.Line
		}
		return 1
	}
	if l.ID == "" {
		return bad(1, "missing id")
	}
	if err := bothLanguages(l.Title, "title"); err != nil {
		return bad(line("title"), "%v", err)
	}
	if err := bothLanguages(l.Intro, "intro"); err != nil {
		return bad(line("intro"), "%v", err)
	}
	if len(l.Steps) == 0 {
		return bad(line("steps"), "a lesson needs at least one step")
	}
	n := l.Cluster.Nodes
	for i, s := range l.Steps {
		if err := bothLanguages(s.Say, fmt.Sprintf("step %d's say", i+1)); err != nil {
			return bad(s.Line, "%v", err)
		}
		for _, d := range s.Do {
			if _, err := ParseAction(d.Text, n); err != nil {
				return bad(d.Line, "%v", err)
			}
		}
		for _, e := range s.Expect {
			if _, err := ParseCheck(e.Text, n); err != nil {
				return bad(e.Line, "%v", err)
			}
		}
	}
	if err := bothLanguages(l.Goal.Say, "goal's say"); err != nil {
		return bad(line("goal"), "%v", err)
	}
	if len(l.Goal.Expect) == 0 || len(l.Goal.Solution) == 0 {
		return bad(line("goal"), "a goal needs expect (what the page recognises) and solution (how a test reaches it)")
	}
	for _, e := range l.Goal.Expect {
		if _, err := ParseCheck(e.Text, n); err != nil {
			return bad(e.Line, "%v", err)
		}
	}
	for _, d := range l.Goal.Solution {
		if _, err := ParseAction(d.Text, n); err != nil {
			return bad(d.Line, "%v", err)
		}
	}
	if len(l.Quiz) < 2 {
		return bad(line("quiz"), "a lesson ends with two or three quiz questions, found %d", len(l.Quiz))
	}
	for i, q := range l.Quiz {
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
