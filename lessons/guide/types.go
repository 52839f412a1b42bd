// Package guide is the part of the lessons that runs anywhere, WebAssembly
// included: the lesson types, the action and check language, and the runner
// that plays a lesson against a Driver (the simulator or real brokers).
// Package lessons (one level up) reads the YAML files into these types.
package guide

import "dledgerlab/core/sim"

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
	// Label is what the line does or checks, in both languages, for the
	// page. Action and Check are the line parsed (one of them). Prepare
	// fills all three when the lesson is loaded, so the page's engine runs
	// lessons without the parser (which keeps the engine small).
	Label  *Text   `json:"label,omitempty"`
	Action *Action `json:"action,omitempty"`
	Check  *Check  `json:"check,omitempty"`
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
	Say Text `yaml:"say" json:"say"`
	// Start binds the names the goal's checks use, at the moment the goal
	// begins (remember lines only), so the learner can reach the goal by
	// hand: "remember leader as now" before the learner acts.
	Start    []Line `yaml:"start" json:"start,omitempty"`
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
