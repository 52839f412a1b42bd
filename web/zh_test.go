package web_test

// The page in 简体中文 (issue 16): a run driven through the page's controls
// and every lesson read in Chinese show no English word outside the names
// that stay in English.

import (
	"encoding/json"
	"fmt"
	"os"
	"regexp"
	"slices"
	"strings"
	"testing"

	"github.com/chromedp/chromedp"

	"dledgerlab/lessons"
	"dledgerlab/lessons/ctlguide"
	"dledgerlab/lessons/guide"
)

// latinWord is one word in Latin script (with the digits, dots, dashes and
// underscores that can sit inside it).
var latinWord = regexp.MustCompile(`[A-Za-z][A-Za-z0-9_.\-']*`)

// keptInEnglish are the names a Chinese page writes in English: the
// product and protocol names, units, and the ids and bodies the test
// itself types (topic names, message bodies).
var keptInEnglish = []string{
	"Broker", "Brokers", "CommitLog", "ConsumeQueue", "DLedger", "Raft", "RocketMQ",
	"ms", "s", "KB", "MB", "B", "N", "RPC", "ack", "no-op", "ok",
	"PreVote", "CheckQuorum", "NOT_LEADER", "NOT_COMMITTED", "ERROR", "OK", "UNKNOWN", "TIMEOUT", // protocol names and answer codes
	"uncommitted", "committed", // the two words of the seed article, kept as the UI's labels
	"SEND_OK", "fsync", // RocketMQ's answer and the system call, as the seed article writes them
	"Topic", "DLedgerCommitLog", "DLedgerServer", // RocketMQ's and DLedger's own names
	"GiB", "KiB", "CPU",
	"Lab", "English", // the product's name; the language switch names the other language
	// Controller mode: RocketMQ's own names for its parts, states and switches.
	"Controller", "Master", "Slave", "SyncStateSet", "master", "epoch", "confirm", "offset", "HA", "broker-a",
	"minInSyncReplicas", "allAckInSyncStateSet", "enableElectUncleanMaster", "IN_SYNC_REPLICAS_NOT_ENOUGH",
	"alterSyncStateSet", "haMaxTimeSlaveNotCatchup", "NameServer",
}

// gloss is an English term in full-width parentheses right after its
// Chinese one — 任期（term）, 优先主节点（preferred leader） — kept for readers
// of the Raft paper and of DLedger's code.
var gloss = regexp.MustCompile(`（[A-Za-z][A-Za-z0-9_ /:.\-]*[：:；）]`)

// allowedWord says whether w may appear on a Chinese page: a kept name,
// a topic, body or producer id the page was given, or an id (t3 is term
// 3; a letter, maybe with digits, is a name a lesson gives a broker or a
// key to press: L, S2, n).
func allowedWord(w string, extra []string) bool {
	w = strings.TrimRight(w, ".-'")
	if slices.Contains(keptInEnglish, w) || slices.Contains(extra, w) {
		return true
	}
	return regexp.MustCompile(`^(t\d+|[A-Za-z]\d*)$`).MatchString(w)
}

// englishWords returns "where: word (in context)" for each word of texts
// that is not allowed.
func englishWords(where string, texts []string, extra []string) []string {
	var bad []string
	for _, s := range texts {
		s = gloss.ReplaceAllString(s, "（")
		for _, loc := range latinWord.FindAllStringIndex(s, -1) {
			w := s[loc[0]:loc[1]]
			if allowedWord(w, extra) {
				continue
			}
			from, to := max(0, loc[0]-30), min(len(s), loc[1]+30)
			bad = append(bad, fmt.Sprintf("%s: %q in …%s…", where, w, strings.ReplaceAll(s[from:to], "\n", " ")))
		}
	}
	return bad
}

// visibleTexts is a JavaScript expression: the text of every visible
// element matching sel, one string per element.
func visibleTexts(sel string) string {
	return fmt.Sprintf(`[...document.querySelectorAll(%q)].filter((e) => e.offsetParent !== null || e.getClientRects().length).map((e) => e.innerText || e.textContent)`, sel)
}

// TestChineseHasNoEnglishLeft: in 中文 a run with a crash, a partition and a
// few produces (through the page's buttons and keys) shows its event list,
// producer panel, selected broker and notices in Chinese, and so does every
// lesson's every step, goal and quiz. Any Latin-script word outside the
// names that stay in English fails the test, listed with its context.
func TestChineseHasNoEnglishLeft(t *testing.T) {
	p := open(t, "")
	t.Cleanup(func() { p.eval(`localStorage.removeItem('dledgerlab.lang')`, nil) })
	p.click(`[data-action="lang"]`)
	p.waitFor(`document.documentElement.lang.startsWith('zh') || document.querySelector('#lang-toggle').textContent === 'English' || document.querySelector('#lang-toggle').textContent === 'EN'`)
	p.choose(`[data-action="speed"]`, "2")
	bodies := []string{"orders", "audit", "hello", "world", "lost", "steady", "p1", "p2"}

	lead, term := p.leader(0, 0)
	p.produce("orders", "hello")
	p.committedOn("hello", 3)
	p.brokerKey(lead, "c") // crash the leader
	p.brokerIs(lead, "crashed", "")
	p.key("c") // again: the simulator refuses, and the notice says why
	raw := p.waitFor(`!document.querySelector('#notice').hidden && document.querySelector('#notice-text').textContent`)
	var refusal string
	if err := json.Unmarshal(raw, &refusal); err != nil {
		t.Fatal(err)
	}
	lead2, term2 := p.leader(lead, term)
	p.produce("orders", "world")
	p.committedOn("world", 2)
	p.brokerKey(lead2, "i") // cut the new leader off: a partition
	p.waitFor(`dledgerLab.frame.groups && dledgerLab.frame.groups.length > 1`)
	p.choose(`#produce-node`, fmt.Sprint(lead2))
	p.produce("orders", "lost")
	p.brokerKey(lead, "r") // the first leader comes back, on the majority's side
	p.brokerIs(lead, "up", "")
	p.leader(lead2, term2)
	p.click(`[data-action="heal"]`)
	p.waitFor(`!dledgerLab.frame.groups || dledgerLab.frame.groups.length <= 1`)
	p.click(fmt.Sprintf(`#cluster [data-node-id="%d"]`, lead2))

	var ids []string
	p.eval(`dledgerLab.frame.clients.producers.map((x) => x.id)`, &ids)
	bodies = append(bodies, ids...)
	bad := englishWords("refusal notice", []string{refusal}, bodies)
	for _, part := range []struct{ where, sel string }{
		{"What happened", `#events li`},
		{"producer panel", `#clients .client`},
		{"selected broker", `#broker-title, #sel-info`},
		{"notice", `#notice-text`},
		{"the rest of the page", `body`},
	} {
		var texts []string
		p.eval(visibleTexts(part.sel), &texts)
		if part.where == "What happened" && len(texts) < 10 {
			t.Fatalf("only %d events shown: %q", len(texts), texts)
		}
		bad = append(bad, englishWords(part.where, texts, bodies)...)
	}
	p.shotSizes("zh-events", "#events-drawer")

	// Every lesson, every page: steps, goal, quiz.
	all, err := lessons.All()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range all {
		p.click(`[data-action="lessons"]`)
		p.waitFor(fmt.Sprintf(`document.querySelector('#lessons-menu').open && document.querySelector('[data-action="open-lesson"][data-lesson=%q]') !== null`, l.ID))
		var menu []string
		p.eval(visibleTexts(`#lessons-list li`), &menu)
		if l.ID == all[0].ID {
			bad = append(bad, englishWords("Lessons menu", menu, bodies)...)
		}
		bad = append(bad, p.lessonPagesEnglish(l.ID, append(slices.Clone(bodies), lessonNames(l)...), func(page int) {
			if l.ID == "election" && page == 0 {
				p.shotSizes("zh-lesson", "#lesson")
				// The numbered list of the intro stays a list.
				p.waitFor(`document.querySelectorAll('#lesson .lesson-intro ol > li').length === 4 && /^每台 Broker/.test(document.querySelector('#lesson .lesson-intro ol > li').textContent)`)
			}
		})...)
	}
	// Controller mode: the picture, the CommitLogs, the events and the
	// clients after a failover, then every Controller-mode lesson's pages.
	p.click(`[data-action="mode"][data-mode="controller"]`)
	p.waitFor(`dledgerLab.frame.mode === 'controller'`)
	p.choose(`[data-action="speed"]`, "5")
	p.click(`[data-action="ctl-producer"]`)
	old, _ := p.ctlMaster(0, 3)
	p.ctlSelect(3 + old)
	p.key("c")
	p.ctlMaster(old, 1)
	for _, part := range []struct{ where, sel string }{
		{"Controller mode: What happened", `#events li`},
		{"Controller mode: CommitLogs", `#ctl-logs`},
		{"Controller mode: the rest of the page", `body`},
	} {
		var texts []string
		p.eval(visibleTexts(part.sel)+`.concat([...document.querySelectorAll('#ctl-stage text')].map((e) => e.textContent))`, &texts)
		bad = append(bad, englishWords(part.where, texts, bodies)...)
	}
	ctl, err := lessons.Controller()
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range ctl {
		p.click(`[data-action="lessons"]`)
		bad = append(bad, p.lessonPagesEnglish(l.ID, append(slices.Clone(bodies), ctlLessonNames(l)...), nil)...)
	}
	p.click(`[data-action="mode"][data-mode="dledger"]`)
	p.waitFor(`dledgerLab.frame.mode === 'sim'`)

	// In English too the intro's steps are a list, not one paragraph.
	p.click(`[data-action="lang"]`)
	p.click(`[data-action="lessons"]`)
	p.click(`[data-action="open-lesson"][data-lesson="election"]`)
	p.waitFor(`document.querySelector('#lesson').dataset.lessonId === 'election' && document.querySelectorAll('#lesson .lesson-intro ol > li').length === 4 && /^Every broker/.test(document.querySelector('#lesson .lesson-intro ol > li').textContent)`)
	if len(bad) > 0 {
		t.Errorf("%d English words on the Chinese page:\n%s", len(bad), strings.Join(uniq(bad), "\n"))
	}
}

// shotSizes saves the page at 1366×768 and at 390×844 with sel scrolled
// into view (when DLEDGERLAB_SHOTS is set), then gives the tab its own
// size back.
func (p *page) shotSizes(name, sel string) {
	p.t.Helper()
	if os.Getenv("DLEDGERLAB_SHOTS") == "" {
		return
	}
	var own [2]int64
	p.eval(`[innerWidth, innerHeight]`, &own)
	for _, sz := range [][2]int64{{1366, 768}, {390, 844}, own} {
		if err := chromedp.Do(p.ctx, chromedp.EmulateViewport(sz[0], sz[1])); err != nil {
			p.t.Fatal(err)
		}
		p.waitFor(fmt.Sprintf(`innerWidth === %d && (document.querySelector(%q).scrollIntoView({block: 'start'}), true)`, sz[0], sel))
		if sz != own {
			p.shot(fmt.Sprintf("%s-%dx%d", name, sz[0], sz[1]))
		}
	}
}

// lessonNames are the topics, bodies, consumer groups and broker names a
// lesson's lines use: they stay as written.
// lessonPagesEnglish opens lesson id from the open lessons menu, reads
// every page (steps, goal, quiz) with Next, and returns the English words
// on them that words does not allow; at(page) runs on each page. It ends
// the lesson and closes the menu.
func (p *page) lessonPagesEnglish(id string, words []string, at func(page int)) []string {
	p.t.Helper()
	var bad []string
	p.click(fmt.Sprintf(`[data-action="open-lesson"][data-lesson=%q]`, id))
	p.waitFor(fmt.Sprintf(`!document.querySelector('#lesson').hidden && document.querySelector('#lesson').dataset.lessonId === %q && document.querySelector('#lesson').dataset.page === 'step'`, id))
	for page := 0; ; page++ {
		raw := p.waitFor(fmt.Sprintf(`(() => { const r = document.querySelector('#lesson'); return r.dataset.step === '%d' && [r.dataset.page, r.innerText] })()`, page))
		var v [2]string
		if err := json.Unmarshal(raw, &v); err != nil {
			p.t.Fatal(err)
		}
		bad = append(bad, englishWords(fmt.Sprintf("lesson %s page %d (%s)", id, page, v[0]), []string{v[1]}, words)...)
		if at != nil {
			at(page)
		}
		if v[0] == "quiz" {
			break
		}
		// Next (the page is redrawn as the engine answers: press it
		// again until the page moved).
		p.waitFor(fmt.Sprintf(`(() => { const r = document.querySelector('#lesson'); if (r.dataset.step === '%d') return true; const b = r.querySelector('[data-action="lesson-next"]'); if (b) b.click(); return false })()`, page+1))
	}
	p.click(`[data-action="lesson-finish"]`)
	p.waitFor(`document.querySelector('#lesson').hidden && document.querySelector('#lessons-menu').open`)
	p.click(`[data-action="close-lessons"]`)
	p.waitFor(`!document.querySelector('#lessons-menu').open`)
	return bad
}

// ctlLessonNames are the names a Controller-mode lesson binds.
func ctlLessonNames(l *ctlguide.Lesson) []string {
	var out []string
	for _, lines := range [][]guide.Line{l.Goal.Start, l.Goal.Solution} {
		for _, line := range lines {
			if a, err := ctlguide.ParseAction(line.Text); err == nil && a.As != "" {
				out = append(out, a.As)
			}
		}
	}
	for _, s := range l.Steps {
		for _, line := range s.Do {
			if a, err := ctlguide.ParseAction(line.Text); err == nil && a.As != "" {
				out = append(out, a.As)
			}
		}
	}
	return out
}

func lessonNames(l *lessons.Lesson) []string {
	var out []string
	var lines []guide.Line
	for _, s := range l.Steps {
		lines = append(lines, s.Do...)
	}
	lines = append(append(lines, l.Goal.Start...), l.Goal.Solution...)
	for _, line := range lines {
		a, err := guide.ParseAction(line.Text, l.Cluster.Nodes)
		if err != nil {
			continue
		}
		out = append(out, latinWord.FindAllString(a.Topic+" "+a.Body+" "+a.As+" "+a.Group, -1)...)
	}
	return out
}
