package browsertest

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"strings"
	"time"

	"github.com/chromedp/chromedp"
)

// AxeTags are the rule tags of WCAG 2.1 level A and AA that the pages are
// checked against.
var AxeTags = []string{"wcag2a", "wcag2aa", "wcag21a", "wcag21aa"}

// AxeViolation is one rule that fails, with the elements that fail it.
type AxeViolation struct {
	ID     string `json:"id"`
	Impact string `json:"impact"`
	Help   string `json:"help"`
	URL    string `json:"helpUrl"`
	Nodes  []struct {
		Target  []any  `json:"target"`
		HTML    string `json:"html"`
		Summary string `json:"failureSummary"`
	} `json:"nodes"`
}

// String is the rule, its help text and each failing element with why.
func (v AxeViolation) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "%s (%s): %s\n  %s", v.ID, v.Impact, v.Help, v.URL)
	for _, n := range v.Nodes {
		html := n.HTML
		if len(html) > 200 {
			html = html[:200] + "…"
		}
		fmt.Fprintf(&b, "\n  - %v %s\n    %s", n.Target, html, strings.ReplaceAll(n.Summary, "\n", "\n    "))
	}
	return b.String()
}

// Axe injects the axe-core engine read from script (a vendored
// axe.min.js, never fetched from the network) into the tab of ctx unless
// it is there already, runs the rules tagged AxeTags on the whole
// document and returns the violations.
func Axe(ctx context.Context, script string) ([]AxeViolation, error) {
	has, err := chromedp.Run(ctx, chromedp.Evaluate[bool](`typeof window.axe === 'object'`))
	if err != nil {
		return nil, err
	}
	if !has {
		src, err := os.ReadFile(script)
		if err != nil {
			return nil, fmt.Errorf("axe-core: %w (it is vendored under web/testdata/axe-core)", err)
		}
		if _, err := chromedp.Run(ctx, chromedp.Evaluate[bool](string(src)+"\n;true")); err != nil {
			return nil, fmt.Errorf("inject axe-core: %w", err)
		}
	}
	// Colours are read when no transition is half-way (a button that has
	// just been enabled, say).
	if _, err := chromedp.Run(ctx, chromedp.Poll[bool](`document.getAnimations().every(a => a.playState !== 'running')`, chromedp.WithPollingTimeout(20*time.Second))); err != nil {
		return nil, fmt.Errorf("wait for transitions to end: %w", err)
	}
	tags, _ := json.Marshal(AxeTags)
	expr := `axe.run(document, {runOnly: {type: 'tag', values: ` + string(tags) + `}, resultTypes: ['violations']})
		.then(r => JSON.stringify(r.violations))`
	raw, err := chromedp.Run(ctx, chromedp.Evaluate[string](expr, chromedp.EvalAwaitPromise))
	if err != nil {
		return nil, fmt.Errorf("run axe-core: %w", err)
	}
	var out []AxeViolation
	if err := json.Unmarshal([]byte(raw), &out); err != nil {
		return nil, fmt.Errorf("axe-core results: %w", err)
	}
	return out, nil
}
