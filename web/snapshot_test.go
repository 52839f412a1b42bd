package web_test

import (
	"fmt"
	"strings"
	"testing"

	"dledgerlab/core/sim"
)

// A run with snapshots (Raft §7) opened from a share link: the broker that
// was down while the others compacted installs the leader's snapshot; the
// log view shows each broker's compacted prefix as hatched cells with the
// snapshot's mark, the event list says the snapshot was installed, in
// English and 简体中文.
func TestSnapshotIsDrawnInTheLog(t *testing.T) {
	cfg := sim.DefaultConfig()
	cfg.Seed, cfg.SnapshotEvery = 3, 8
	s, err := sim.New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	s.Advance(900)
	steps := []struct {
		a  sim.Action
		ms int64
	}{
		{sim.Action{Kind: sim.KindCrash, Node: 1}, 100},
		{sim.Action{Kind: sim.KindProducer, ID: "p1", Topic: "orders", Rate: 30}, 3000},
		{sim.Action{Kind: sim.KindRestart, Node: 1}, 1500},
	}
	for _, st := range steps {
		if err := s.Do(st.a); err != nil {
			t.Fatal(err)
		}
		s.Advance(st.ms)
	}
	at := int64(-1)
	for _, e := range s.View().Events {
		if e.Node == 1 && e.Kind == "snapshot-installed" && at < 0 {
			at = e.TimeMs
		}
	}
	if at < 0 || s.View().Nodes[0].SnapshotIndex == 0 {
		t.Fatalf("the run does not show broker 1 installing a snapshot (snapshot index %d)", s.View().Nodes[0].SnapshotIndex)
	}

	// The moment just after the install.
	p := open(t, fmt.Sprintf("#run=%s&t=%d", s.Share(), at+20))
	p.waitFor(fmt.Sprintf(`dledgerLab.frame.time_ms === %d && !dledgerLab.playing`, at+20))
	var lang string
	p.eval(`document.documentElement.lang`, &lang)
	if lang != "en" { // an earlier test left the page in 中文
		p.key("l")
		p.waitFor(`document.documentElement.lang === 'en'`)
	}
	p.waitFor(`document.querySelectorAll('#logview .e.compacted').length > 0 && document.querySelectorAll('#logview .e.snap-mark').length >= 1`)
	var title string
	p.eval(`document.querySelector('#logview .e.snap-mark').title`, &title)
	if want := "compacted into the snapshot at entry"; !strings.Contains(title, want) {
		t.Errorf("the snapshot mark says %q, want it to contain %q", title, want)
	}
	p.waitFor(`[...document.querySelectorAll('#events li, #events .ev, #events > *')].some((e) => e.textContent.includes("installed the leader's snapshot"))`)
	p.shot("snapshot-log-en")
	p.key("l")
	p.waitFor(`document.documentElement.lang === 'zh-CN' && document.querySelector('#logview .e.snap-mark').title.includes('快照')`)
	p.waitFor(`document.querySelector('#events').textContent.includes('装入了主节点的快照')`)
	p.shot("snapshot-log-zh")
	p.key("l") // leave the page in English for the tests after this one
	p.waitFor(`document.documentElement.lang === 'en'`)
}
