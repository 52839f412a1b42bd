package web_test

// Browser tests that every screen tells the truth (issue 16): the Network
// card's chips follow each frame, the timeline keeps the recorded future,
// every producer's state is shown, the words are right, and text on
// coloured cells is readable. The page is driven through its controls, as
// a learner would; every wait is a poll on a condition.

import (
	"fmt"
	"strings"
	"testing"
)

// chipMismatches is a JavaScript expression: where the Network card's chips
// disagree with the frame being shown (a chip's role or state, its group),
// or the drawing does, as a list of sentences.
const chipMismatches = `(() => {
	const f = dledgerLab.frame;
	const groups = f.groups && f.groups.length > 1 ? f.groups : [];
	const bad = [];
	for (const n of f.nodes) {
		const chip = document.querySelector('#groups [data-chip="' + n.id + '"]');
		if (!chip) { bad.push('broker ' + n.id + ': no chip'); continue; }
		const want = n.state === 'crashed' || n.state === 'refused' ? 'down' : n.role;
		const has = [...chip.classList].filter((c) => c.startsWith('role-')).join(' ');
		if (has !== 'role-' + want) bad.push('broker ' + n.id + ' is ' + want + ' (' + n.state + '), its chip ' + has);
		const g = Math.max(0, groups.findIndex((ids) => ids.includes(n.id)));
		const zone = Number(chip.closest('[data-group]').dataset.group);
		if (zone !== g) bad.push('broker ' + n.id + ' is in group ' + g + ', its chip in ' + zone);
		const b = document.querySelector('#cluster [data-node-id="' + n.id + '"]');
		if (!b || b.dataset.role !== n.role || b.dataset.state !== n.state) bad.push('broker ' + n.id + ': the drawing shows ' + (b && b.dataset.role + '/' + b.dataset.state));
	}
	const labels = [...document.querySelectorAll('#cluster .group-label')].length;
	if (labels !== groups.length) bad.push(groups.length + ' groups, ' + labels + ' drawn');
	return bad;
})()`

// chipColoursMatch is a JavaScript condition: every chip has the colour of
// its broker's shape in the drawing (computed styles; a pre-candidate's
// shape is a paler purple, so it is left out).
const chipColoursMatch = `(() => {
	for (const n of dledgerLab.frame.nodes) {
		if (n.role === 'pre-candidate') continue;
		const chip = document.querySelector('#groups [data-chip="' + n.id + '"]');
		const shape = document.querySelector('#cluster [data-node-id="' + n.id + '"] .shape');
		if (!chip || !shape || getComputedStyle(chip).backgroundColor !== getComputedStyle(shape).fill) return false;
	}
	return true;
})()`

// checkChips fails the test when a chip disagrees with the frame.
func (p *page) checkChips(when string) {
	p.t.Helper()
	var bad []string
	p.eval(chipMismatches, &bad)
	if len(bad) > 0 {
		p.t.Fatalf("%s: the chips disagree with the frame: %s", when, strings.Join(bad, "; "))
	}
	p.waitFor(chipColoursMatch)
}

// TestChipsFollowEveryFrame: the Network card's chips, from which learners
// pick "the leader" to cut off, show each frame's roles and groups: after
// the leader crashes, after a broker is isolated, and after a rewind.
func TestChipsFollowEveryFrame(t *testing.T) {
	p := open(t, "")
	p.choose(`[data-action="speed"]`, "2")
	old, term := p.leader(0, 0)
	var before int64
	p.eval(`dledgerLab.frame.time_ms`, &before)
	p.checkChips("first leader")

	p.click(fmt.Sprintf(`#cluster [data-node-id="%d"]`, old))
	p.click(`[data-action="crash"]`)
	p.waitFor(fmt.Sprintf(`dledgerLab.frame.nodes.find(n => n.id === %d).state === 'crashed'`, old))
	lead, _ := p.leader(old, term)
	p.checkChips("after the leader crashed")

	// Isolate the one follower left.
	var follower int
	p.eval(fmt.Sprintf(`dledgerLab.frame.nodes.find(n => n.id !== %d && n.id !== %d).id`, old, lead), &follower)
	p.click(fmt.Sprintf(`#cluster [data-node-id="%d"]`, follower))
	p.click(`[data-action="isolate"]`)
	p.waitFor(`(dledgerLab.frame.groups || []).length === 2 && !dledgerLab.moving`)
	p.waitFor(fmt.Sprintf(`document.querySelector('#groups [data-group="0"] [data-chip="%d"]') !== null`, follower))
	p.checkChips("after isolating a follower")
	p.screenshot("chips-isolated.png")

	// Rewind with the timeline to before the crash: one group, the old leader.
	p.eval(fmt.Sprintf(`(() => { const s = document.querySelector('[data-action="timeline"]'); s.value = '%d'; s.dispatchEvent(new Event('input')); s.dispatchEvent(new Event('change')); return true })()`, before), nil)
	p.waitFor(fmt.Sprintf(`dledgerLab.frame.time_ms === %d && !dledgerLab.playing`, before))
	p.waitFor(`!dledgerLab.moving`)
	p.checkChips("after rewinding")
	p.waitFor(fmt.Sprintf(`document.querySelector('#groups [data-group="0"] [data-chip="%d"].role-leader') !== null`, old))
}
