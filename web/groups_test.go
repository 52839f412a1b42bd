package web_test

import (
	"fmt"
	"strings"
	"testing"
)

// consumerRow is a JS expression for the text of the consumer's row in the
// Producer and consumer panel.
const consumerRow = `((document.querySelector('#clients [data-consumer]') || {}).textContent || '')`

// TestConsumerGroupPanel (issue 19): a learner picks how consumer offsets
// are kept, starts a consumer of group "billing", produces three messages,
// waits for the group's commit and crashes the leader. Kept by each broker
// (RocketMQ's DLedger mode), the new leader never had the group's offset:
// the three messages are delivered again, and the panel says so. In the log,
// the new leader resumes where the group committed: nothing again.
func TestConsumerGroupPanel(t *testing.T) {
	for _, mode := range []string{"local", "replicated"} {
		t.Run(mode, func(t *testing.T) {
			p := open(t, "")
			p.choose(`#cfg-offsets`, mode)
			p.click(`[data-action="new-run"]`)
			p.waitFor(fmt.Sprintf(`dledgerLab.frame.settings.offsets === %q`, mode))
			p.choose(`[data-action="speed"]`, "2")
			lead, term := p.leader(0, 0)
			for range 3 {
				p.click(`[data-action="produce"]`)
			}
			p.waitFor(`dledgerLab.frame.nodes.every(n => n.commit >= 4)`)
			p.choose(`[data-action="speed"]`, "0.5")
			p.click(`[data-action="consumer"]`) // group "billing", from the leader
			p.eval(`document.querySelector('#clients').scrollIntoView({block: 'center'})`, nil)
			p.waitFor(consumerRow + `.includes('3 delivered, 0 delivered again')`)
			// The group commits every 5 s of simulated time.
			p.waitFor(consumerRow + `.includes('committed 3')`)
			held := func(id int) string {
				var s string
				p.eval(fmt.Sprintf(`document.querySelector('#clients .held[data-node="%d"]').textContent`, id), &s)
				return s
			}
			if mode == "replicated" {
				p.waitFor(`[...document.querySelectorAll('#clients .held')].every(e => e.textContent.endsWith(' 3'))`)
			} else {
				for id := 1; id <= 3; id++ {
					if id != lead && held(id) != fmt.Sprintf("B%d –", id) {
						t.Fatalf("broker %d holds %q for the group before any sync", id, held(id))
					}
				}
			}
			p.click(fmt.Sprintf(`#cluster [data-node-id="%d"]`, lead))
			p.click(`[data-action="crash"]`)
			p.choose(`[data-action="speed"]`, "2")
			p.leader(lead, term)
			if mode == "local" {
				p.waitFor(consumerRow + `.includes('3 delivered, 3 delivered again')`)
				p.waitFor(`document.querySelectorAll('#clients code.redone').length === 3`)
				// The ConsumeQueue view marks the same offsets.
				p.waitFor(`document.querySelectorAll('.qtable .qrec.redone').length >= 3`)
				p.screenshot("groups-local-en.png")
				p.click(`[data-action="lang"]`)
				p.waitFor(consumerRow + `.includes('重复投递 3 条')`)
				p.screenshot("groups-local-zh.png")
				p.click(`[data-action="lang"]`)
				return
			}
			// Two simulated seconds after the new leader: still nothing again.
			var at int64
			p.eval(`dledgerLab.frame.time_ms`, &at)
			p.waitFor(fmt.Sprintf(`dledgerLab.frame.time_ms > %d`, at+2000))
			var row string
			p.eval(consumerRow, &row)
			if want := "3 delivered, 0 delivered again"; !strings.Contains(row, want) {
				t.Fatalf("the consumer's row says %q, want %q", row, want)
			}
			p.screenshot("groups-replicated-en.png")
		})
	}
}
