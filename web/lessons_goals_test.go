package web_test

// TestLessonGoalsByHand: every lesson's "Try it yourself" goal is reached
// the way a learner reaches it — through the page's controls (broker
// buttons and keys, the partition and link controls, the rules, the
// producer form), never "Show me" — after playing each step with its Play
// button. Every step, and the goal, starts paused.

import (
	"context"
	"encoding/json"
	"fmt"
	"testing"

	"github.com/chromedp/chromedp"

	"dledgerlab/lessons"
)

// lessonName is the broker or term a name in the goal's checks stands for,
// as the panel shows it under the checks.
func (p *page) lessonName(name string) (broker int, term int64) {
	p.t.Helper()
	raw := p.waitFor(fmt.Sprintf(`(() => {
		const ns = dledgerLab.lesson && dledgerLab.lesson.names || [];
		const n = ns.find((x) => x.name === %q);
		const shown = document.querySelector('#lesson .lesson-names');
		return n && shown && !shown.hidden && shown.textContent.includes(%q) && [n.broker || 0, n.term || 0];
	})()`, name, name+" = "))
	var v [2]int64
	if err := json.Unmarshal(raw, &v); err != nil {
		p.t.Fatalf("name %s: %s: %v", name, raw, err)
	}
	return int(v[0]), v[1]
}

// typeInto types text into an input as a learner does: clear it, type.
func (p *page) typeInto(sel, text string) {
	p.t.Helper()
	ctx, cancel := context.WithTimeout(p.ctx, pollTimeout)
	defer cancel()
	p.eval(fmt.Sprintf(`(() => { const i = document.querySelector(%q); i.value = ''; i.focus(); return true })()`, sel), nil)
	if err := chromedp.Do(ctx, chromedp.SendKeys(chromedp.CSS(sel), text)); err != nil {
		p.t.Fatalf("type into %s: %v", sel, err)
	}
}

// produce sends one message with the producer form.
func (p *page) produce(topic, body string) {
	p.t.Helper()
	p.typeInto(`#produce-topic`, topic)
	p.typeInto(`#produce-body`, body)
	p.click(`[data-action="produce"]`)
}

// brokerKey selects broker id with a click on it in the picture and
// presses key (c crash, r restart, i isolate…), waiting for the selection
// first.
func (p *page) brokerKey(id int, key string) {
	p.t.Helper()
	p.click(fmt.Sprintf(`#cluster [data-node-id="%d"]`, id))
	p.waitFor(fmt.Sprintf(`document.querySelector('#sel-name').textContent.includes('%d')`, id))
	p.key(key)
}

// brokerIs waits until broker id is in state ("up", "crashed") and, if
// role is set, in that role.
func (p *page) brokerIs(id int, state, role string) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`(() => { const n = dledgerLab.frame.nodes.find((x) => x.id === %d); return n && n.state === %q && (%q === '' || n.role === %q) })()`, id, state, role, role))
}

// committedOn waits until the message body is committed on at least n brokers.
func (p *page) committedOn(body string, n int) {
	p.t.Helper()
	p.waitFor(fmt.Sprintf(`dledgerLab.frame.nodes.filter((x) => x.state === 'up' && (x.log || []).some((e) => e.committed && (e.summary || '').endsWith(': ' + %q))).length >= %d`, body, n))
}

// rule switches a rule with its checkbox in the rules panel.
func (p *page) rule(name string, on bool) {
	p.t.Helper()
	var checked bool
	p.eval(fmt.Sprintf(`document.querySelector('[data-rule=%q]').checked`, name), &checked)
	if checked == on {
		p.t.Fatalf("rule %s is already %v", name, on)
	}
	p.click(fmt.Sprintf(`[data-rule=%q]`, name))
	p.waitFor(fmt.Sprintf(`dledgerLab.frame.settings[%q] === %v`, name, on))
}

// crashed returns the brokers that are down now.
func (p *page) crashed() []int {
	p.t.Helper()
	var ids []int
	p.eval(`dledgerLab.frame.nodes.filter((x) => x.state === 'crashed').map((x) => x.id)`, &ids)
	return ids
}

// goalsByHand is, per lesson, what a learner does in the page to reach the
// goal once it is playing.
var goalsByHand = map[string]func(p *page){
	"tour": func(p *page) { p.produce("orders", "world") },
	"commitlog": func(p *page) {
		p.produce("audit", "first-entry")
	},
	"election": func(p *page) {
		now, _ := p.lessonName("now")
		p.brokerKey(now, "i") // cut the leader off
	},
	"split-votes": func(p *page) {
		_, before := p.lessonName("before")
		lead, _ := p.leader(0, 0)
		p.brokerKey(lead, "i")
		p.leader(lead, int(before))
		p.key("h") // heal
	},
	"heartbeats": func(p *page) {
		now, _ := p.lessonName("now")
		// Every link out of the leader loses everything: a one-way cut.
		p.choose(`#link-from`, fmt.Sprint(now))
		p.choose(`#link-to`, "0")
		p.typeInto(`#link-loss`, "100")
		p.click(`[data-action="link"]`)
	},
	"two-phase": func(p *page) {
		down := p.crashed()
		if len(down) < 2 {
			p.t.Fatalf("two-phase: want two brokers down at the goal, have %v", down)
		}
		p.brokerKey(down[0], "r") // one more broker makes a majority
	},
	"leader-crash": func(p *page) {
		p.brokerKey(2, "c")
		p.brokerIs(2, "crashed", "")
		p.leader(2, 0)
		p.produce("orders", "goal-write")
	},
	"brain-split": func(p *page) {
		cur, _ := p.lessonName("cur")
		p.brokerKey(cur, "i")
		p.leader(cur, 0)
		p.produce("orders", "goal-write")
	},
	"returning-node": func(p *page) {
		back, _ := p.lessonName("back")
		p.rule("pre_vote", true)
		p.brokerKey(back, "i")
		p.waitFor(`document.querySelector('#lesson [data-check-state]').dataset.checkState === 'ok'`) // back's timer ran out
		p.produce("orders", "goal-msg")
		p.committedOn("goal-msg", 2)
		p.key("h")
	},
	"why-rules-matter": func(p *page) {
		p.rule("up_to_date_check", true)
		p.produce("orders", "c")
	},
	"durability": func(p *page) {
		p.rule("persist_before_ack", true)
		p.produce("orders", "kept")
		p.committedOn("kept", 2)
		for id := 1; id <= 3; id++ {
			p.brokerKey(id, "c")
			p.brokerIs(id, "crashed", "")
		}
		for id := 1; id <= 3; id++ {
			p.brokerKey(id, "r")
			p.brokerIs(id, "up", "")
		}
	},
	"snapshot": func(p *page) {
		away, _ := p.lessonName("away")
		p.brokerKey(away, "c")
		p.brokerIs(away, "crashed", "")
		p.leader(away, 0)
		// Write until both running brokers compacted past what away holds;
		// each message is waited for (committed, or already compacted).
		for i := 1; ; i++ {
			body := fmt.Sprintf("by-hand-%d", i)
			p.produce("orders", body)
			raw := p.waitFor(fmt.Sprintf(`(() => { const ns = dledgerLab.frame.nodes, a = ns.find((x) => x.id === %d), up = ns.filter((x) => x.state === 'up');
				if (up.length === 2 && up.every((x) => (x.snapshot_index || 0) > a.last_index)) return 'past';
				return up.some((x) => (x.log || []).some((e) => e.committed && (e.summary || '').endsWith(': ' + %q))) && 'committed' })()`, away, body))
			if string(raw) == `"past"` {
				break
			}
			if i == 80 {
				p.t.Fatalf("snapshot: the running brokers never compacted past broker %d", away)
			}
		}
		p.brokerKey(away, "r")
	},
	"redelivery": func(p *page) {
		p.produce("orders", "d")
		p.produce("orders", "e")
	},
	"offsets-in-the-log": func(p *page) {
		p.produce("orders", "d")
		p.produce("orders", "e")
	},
	"same-faults": func(p *page) {
		// A is the broker the drawing shows down.
		var down []int
		p.eval(`[...document.querySelectorAll('#cluster [data-node-id][data-state="crashed"]')].map((g) => Number(g.dataset.nodeId))`, &down)
		if len(down) != 1 {
			p.t.Fatalf("want one broker down at the goal, the drawing shows %v", down)
		}
		p.brokerKey(down[0], "r")
		p.brokerIs(down[0], "up", "")
		p.produce("orders", "goal-write")
	},
	"leadership-transfer": func(p *page) {
		down, _ := p.lessonName("down")
		p.brokerKey(down, "r")
		p.brokerIs(down, "up", "follower")
		p.waitFor(fmt.Sprintf(`(() => { const ns = dledgerLab.frame.nodes, l = ns.find((x) => x.role === 'leader' && x.state === 'up'), n = ns.find((x) => x.id === %d);
			return l && n.last_index === l.last_index && n.commit === l.commit })()`, down))
		p.click(`[data-action="transfer"]`)
	},
}

func TestLessonGoalsByHand(t *testing.T) {
	all, err := lessons.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			byHand := goalsByHand[l.ID]
			if byHand == nil {
				t.Fatalf("no way by hand to the goal of lesson %s: add one to goalsByHand", l.ID)
			}
			p := open(t, "")
			p.choose(`[data-action="speed"]`, "5")
			p.click(`[data-action="lessons"]`)
			p.click(fmt.Sprintf(`[data-action="open-lesson"][data-lesson=%q]`, l.ID))
			p.waitFor(fmt.Sprintf(`document.querySelector('#lesson').dataset.lessonId === %q`, l.ID))
			for i := range l.Steps {
				p.playStep(i)
				p.waitChecks(i)
				p.click(`[data-action="lesson-next"]`)
			}
			// The goal: paused until Play, then the learner's own moves.
			p.waitFor(`document.querySelector('#lesson').dataset.page === 'goal'`)
			p.playStep(len(l.Steps))
			byHand(p)
			p.waitFor(`document.querySelector('#lesson').dataset.done === 'true'`)
			var ticks []struct {
				State  string
				Inside bool
				Rect   map[string]float64
			}
			// Each tick is on screen: brought into view as a learner
			// scrolls, nothing covers it (a sticky header, a drawer).
			p.eval(`[...document.querySelectorAll('#lesson [data-check-state]')].map((c) => {
				c.scrollIntoView({block: 'center'});
				const r = c.getBoundingClientRect();
				const hit = document.elementFromPoint(r.left + Math.min(20, r.width / 2), r.top + r.height / 2);
				return {state: c.dataset.checkState, rect: {top: r.top, left: r.left, bottom: r.bottom, right: r.right, w: innerWidth, h: innerHeight},
					inside: r.width > 0 && r.height > 0 && r.top >= 0 && r.bottom <= innerHeight && r.left >= 0 && r.right <= innerWidth && !!hit && c.contains(hit)};
			})`, &ticks)
			if len(ticks) != len(l.Goal.Expect) {
				t.Fatalf("%d goal checks shown, the lesson has %d", len(ticks), len(l.Goal.Expect))
			}
			for i, c := range ticks {
				if c.State != "ok" || !c.Inside {
					t.Errorf("goal check %q: %s, in the viewport %v %v", l.Goal.Expect[i].Text, c.State, c.Inside, c.Rect)
				}
			}
			var solving bool
			p.eval(`document.querySelector('#lesson .lesson-do') !== null`, &solving)
			if solving {
				t.Error(`the goal was reached with "Show me"`)
			}
			if l.ID == "returning-node" || l.ID == "brain-split" {
				p.screenshot("goal-" + l.ID + ".png")
			}
		})
	}
}

// TestLessonStepBeforeAndAfterPlay: a lesson step at a laptop's and a
// phone's size, in English and 简体中文: before Play the step's Play button
// can be brought on screen and time stands still; after Play the election
// it is about plays in slow motion, marked as such. With DLEDGERLAB_SHOTS
// set it saves what the screen shows at each moment.
func TestLessonStepBeforeAndAfterPlay(t *testing.T) {
	for _, s := range []struct {
		name string
		w, h int64
		zh   bool
	}{{"desktop", 1366, 768, false}, {"phone", 390, 844, false}, {"desktop-zh", 1366, 768, true}, {"phone-zh", 390, 844, true}} {
		t.Run(s.name, func(t *testing.T) {
			p := open(t, "")
			t.Cleanup(func() { p.eval(`localStorage.removeItem('dledgerlab.lang')`, nil) })
			if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(s.w, s.h)); err != nil {
				t.Fatal(err)
			}
			if s.zh {
				p.click(`[data-action="lang"]`)
				p.waitFor(`document.documentElement.lang === 'zh-CN'`)
			}
			p.click(`[data-action="lessons"]`)
			p.click(`[data-action="open-lesson"][data-lesson="election"]`)
			p.playStep(0)
			p.waitChecks(0)
			p.click(`[data-action="lesson-next"]`)
			p.pausedStep(1)
			p.eval(`document.querySelector('#lesson [data-action="lesson-play"]').scrollIntoView({block: 'nearest'})`, nil)
			p.shot("lesson-" + s.name + "-before-play")
			p.click(`#lesson [data-action="lesson-play"]`)
			// The election the step is about, in slow motion.
			p.waitFor(`dledgerLab.lesson && dledgerLab.lesson.slow && !document.querySelector('#lesson .lesson-slow').hidden`)
			p.shot("lesson-" + s.name + "-slow-motion")
			p.waitChecks(1)
			p.eval(`document.querySelector('#lesson .lesson-done').scrollIntoView({block: 'nearest'})`, nil)
			p.shot("lesson-" + s.name + "-after-play")
		})
	}
}

// TestLessonStepsByKeyboard: with the keyboard alone a learner plays a
// step (Enter on its Play button), goes on (Enter again: the focus has
// moved to Next) and lands on the next step's Play button.
func TestLessonStepsByKeyboard(t *testing.T) {
	p := open(t, "")
	p.choose(`[data-action="speed"]`, "5")
	p.click(`[data-action="lessons"]`)
	p.click(`[data-action="open-lesson"][data-lesson="tour"]`)
	p.pausedStep(0)
	p.eval(`document.querySelector('#lesson [data-action="lesson-play"]').focus()`, nil) // where Tab brings it
	p.key("\r")
	p.waitChecks(0)
	p.waitFor(`document.activeElement && document.activeElement.dataset.action === 'lesson-next'`)
	p.key("\r")
	p.pausedStep(1)
	p.waitFor(`document.activeElement && document.activeElement.dataset.action === 'lesson-play'`)
	p.key("\r")
	p.waitChecks(1)
}
