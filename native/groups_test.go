package main

import (
	"fmt"
	"net/http"
	"os/exec"
	"regexp"
	"strconv"
	"strings"
	"testing"
	"time"

	"dledgerlab/core/sim"
	"dledgerlab/internal/syncbuf"
	"dledgerlab/native/client"
	"dledgerlab/native/proc"
	"dledgerlab/native/server"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"
)

// consumeGroup runs `dledgerlab consume --group` against every broker of
// c and returns the queue offsets it printed, whether marked again, and
// its output.
func consumeGroup(t *testing.T, c *proc.Cluster, group string) (offsets []uint64, out string) {
	t.Helper()
	b, err := exec.Command(binPath, "consume", "--topic", "orders", "--group", group, "--max", "100",
		"--addr", strings.Join(c.Client.Addrs, ","), "--timeout", "20s").CombinedOutput()
	require.NoError(t, err, "%s", b)
	for _, m := range regexp.MustCompile(`(?m)^orders@(\d+) `).FindAllStringSubmatch(string(b), -1) {
		o, _ := strconv.ParseUint(m[1], 10, 64)
		offsets = append(offsets, o)
	}
	return offsets, string(b)
}

// TestConsumerGroupAcrossFailover (issue 19): a group reads ten messages
// and commits; the leader is killed (SIGKILL) before the followers' next
// offset sync; the group reads again from the new leader. Kept by each
// broker (RocketMQ's DLedger mode), the new leader has no offset for the
// group: all ten again. Replicated, it resumes at ten: nothing again. No
// message is ever skipped.
func TestConsumerGroupAcrossFailover(t *testing.T) {
	for _, tc := range []struct{ name, mode, sync string }{
		{"local", "local", "1h"},
		{"replicated", "replicated", "1h"},
		// The followers copy the leader's offsets every 200 ms: once they
		// have, a failover resumes where the group committed here too.
		{"local-synced", "local", "200ms"},
	} {
		mode := tc.mode
		t.Run(tc.name, func(t *testing.T) {
			c := startCluster(t, 3, func(c *proc.Cluster) {
				c.Extra = []string{"--offsets", mode, "--offset-sync", tc.sync}
			})
			lead := waitLeader(t, c)
			ctx := ctxFor(t, 30*time.Second)
			for i := range 10 {
				_, err := c.Client.Produce(ctx, "orders", server.ProduceRequest{Body: fmt.Sprintf("m%d", i), Producer: "p", Seq: uint64(i + 1)})
				require.NoError(t, err)
			}
			first, out := consumeGroup(t, c, "billing")
			require.Equal(t, []uint64{0, 1, 2, 3, 4, 5, 6, 7, 8, 9}, first, out)
			assert.Contains(t, out, "committed offset 10")
			if tc.name != "local" {
				// The commit is an entry, or synced: wait until every broker
				// has it.
				for _, n := range c.Nodes {
					require.Eventually(t, func() bool {
						r, err := c.Client.FetchOffset(ctx, n.HTTPAddr, "billing", "orders")
						return err == nil && r.Offset == 10
					}, 10*time.Second, 20*time.Millisecond, "broker %d has the group's offset", n.ID)
				}
			}
			// A commit to a follower is refused with the leader's address;
			// a bad group name says what is wrong.
			follower := c.Node(lead%3 + 1)
			_, err := c.Client.CommitOffset(ctx, follower.HTTPAddr, "billing", "orders", 3)
			var ae *client.APIError
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, server.CodeNotLeader, ae.Code)
			assert.Equal(t, c.Node(lead).HTTPAddr, ae.LeaderAddr)
			_, err = c.Client.CommitOffset(ctx, c.Node(lead).HTTPAddr, "bad group", "orders", 3)
			require.ErrorAs(t, err, &ae)
			assert.Equal(t, server.CodeBadRequest, ae.Code)
			assert.Contains(t, ae.Message, "group")

			c.Node(lead).Kill()
			require.NotEqual(t, lead, waitLeader(t, c))

			again, out := consumeGroup(t, c, "billing")
			if tc.name == "local" {
				assert.Equal(t, first, again, "the new leader had no offset for the group: everything again\n%s", out)
				assert.Contains(t, out, "the first message (broker has no offset for the group)")
			} else {
				assert.Empty(t, again, "the new leader resumes where the group committed\n%s", out)
				assert.Contains(t, out, "at offset 10")
			}
			assert.Contains(t, out, "committed offset 10")
		})
	}
}

// TestConsumerGroupReadingThroughFailover (issue 19): one `consume --group
// --follow` process reads while the leader is killed and goes on with the
// new leader. Every message is read (none skipped); the ones read twice are
// those the mode predicts: with local offsets all ten before the kill (the
// new leader never got the group's offset), replicated none (the group's
// commit was applied everywhere before the kill).
func TestConsumerGroupReadingThroughFailover(t *testing.T) {
	for _, mode := range []string{"local", "replicated"} {
		t.Run(mode, func(t *testing.T) {
			c := startCluster(t, 3, func(c *proc.Cluster) {
				c.Extra = []string{"--offsets", mode, "--offset-sync", "1h"}
			})
			lead := waitLeader(t, c)
			ctx := ctxFor(t, 60*time.Second)
			produce := func(from, to int) {
				for i := from; i < to; i++ {
					_, err := c.Client.Produce(ctx, "orders", server.ProduceRequest{Body: fmt.Sprintf("m%d", i), Producer: "p", Seq: uint64(i + 1)})
					require.NoError(t, err)
				}
			}
			produce(0, 10)
			var out syncbuf.Buffer
			cmd := exec.Command(binPath, "consume", "--topic", "orders", "--group", "billing", "--follow", "3s", "--commit-every", "100ms",
				"--max", "1000", "--timeout", "60s", "--addr", strings.Join(c.Client.Addrs, ","))
			cmd.Stdout, cmd.Stderr = &out, &out
			require.NoError(t, cmd.Start())
			exited := make(chan error, 1)
			go func() { exited <- cmd.Wait() }()
			t.Cleanup(func() { cmd.Process.Kill() })

			// The group has read the ten and committed offset 10: on the
			// leader (local), or on every broker (replicated).
			committed := func(n *proc.Node) bool {
				r, err := c.Client.FetchOffset(ctx, n.HTTPAddr, "billing", "orders")
				return err == nil && r.Offset == 10
			}
			require.Eventually(t, func() bool { return committed(c.Node(lead)) }, 20*time.Second, 20*time.Millisecond, "%s", out.String())
			if mode == "replicated" {
				for _, n := range c.Nodes {
					require.Eventually(t, func() bool { return committed(n) }, 10*time.Second, 20*time.Millisecond)
				}
			}
			c.Node(lead).Kill()
			require.NotEqual(t, lead, waitLeader(t, c))
			produce(10, 20)

			select {
			case err := <-exited:
				require.NoError(t, err, "%s", out.String())
			case <-ctx.Done():
				t.Fatalf("consume did not stop: %s", out.String())
			}
			text := out.String()
			seen := map[uint64]int{}
			for _, m := range regexp.MustCompile(`(?m)^orders@(\d+) `).FindAllStringSubmatch(text, -1) {
				o, _ := strconv.ParseUint(m[1], 10, 64)
				seen[o]++
			}
			for o := uint64(0); o < 20; o++ {
				assert.Positive(t, seen[o], "offset %d was never read\n%s", o, text)
			}
			again := strings.Count(text, "(again)")
			if mode == "local" {
				assert.Equal(t, 10, again, "%s", text)
			} else {
				assert.Zero(t, again, "%s", text)
			}
			assert.Contains(t, text, "committed offset 20")
		})
	}
}

// TestLauncherGroupConsumerAcrossFailover: the live view's consumer of a
// group (what `lesson run --native` and the page's Start consumer with a
// Group use) reads from the leader and commits there; the leader is killed
// before any follower copied its offsets. Kept by each broker (RocketMQ's
// DLedger mode), the new leader has no offset for the group and the view
// counts every message delivered again; replicated, the group resumes where
// it committed and nothing comes again. The brokers' views carry the
// group's offset each holds.
func TestLauncherGroupConsumerAcrossFailover(t *testing.T) {
	for _, mode := range []string{"local", "replicated"} {
		t.Run(mode, func(t *testing.T) {
			l := startLauncher(t, t.TempDir(), 3, "--offsets", mode, "--offset-sync", "1h", "--commit-every", "200ms")
			v := l.waitView("one leader", 20*time.Second, oneLeader)
			old := leaders(v)[0]
			for _, body := range []string{"a", "b", "c", "d", "e"} {
				code, resp := l.act(l.token, sim.Action{Kind: sim.KindProduce, Topic: "orders", Body: body})
				require.Equal(t, http.StatusOK, code, resp)
			}
			l.waitView(`"e" committed on every broker`, 10*time.Second, func(v sim.ClusterView) bool {
				return holds(v.Nodes[0], "e", true) && holds(v.Nodes[1], "e", true) && holds(v.Nodes[2], "e", true)
			})
			code, resp := l.act(l.token, sim.Action{Kind: sim.KindConsumer, Topic: "orders", Group: "billing"})
			require.Equal(t, http.StatusOK, code, resp)
			v = l.waitView("the group read five and committed 5 on the leader", 10*time.Second, func(v sim.ClusterView) bool {
				k, ok := groupConsumer(v, "billing")
				return ok && k.Delivered == 5 && k.Committed == 5 && k.Node == old && heldOffset(v.Nodes[old-1], "billing", "orders") == "5"
			})
			k, _ := groupConsumer(v, "billing")
			assert.Equal(t, 0, k.Redelivered)
			assert.Equal(t, "orders", k.Topic)
			if mode == "replicated" {
				l.waitView("every broker applied the commit entry", 10*time.Second, func(v sim.ClusterView) bool {
					return heldOffset(v.Nodes[0], "billing", "orders") == "5" && heldOffset(v.Nodes[1], "billing", "orders") == "5" &&
						heldOffset(v.Nodes[2], "billing", "orders") == "5"
				})
			} else {
				for _, n := range v.Nodes {
					if n.ID != old {
						assert.Equal(t, "–", heldOffset(n, "billing", "orders"), "follower %d copies offsets only every --offset-sync", n.ID)
					}
				}
			}

			code, resp = l.act(l.token, sim.Action{Kind: sim.KindCrash, Node: old})
			require.Equal(t, http.StatusOK, code, resp)
			v = l.waitView("a new leader, and the consumer reading from it", 20*time.Second, func(v sim.ClusterView) bool {
				k, ok := groupConsumer(v, "billing")
				return oneLeader(v) && leaders(v)[0] != old && ok && k.Node == leaders(v)[0]
			})
			code, resp = l.act(l.token, sim.Action{Kind: sim.KindProduce, Topic: "orders", Body: "f"})
			require.Equal(t, http.StatusOK, code, resp)
			want := map[string]int{"local": 5, "replicated": 0}[mode]
			v = l.waitView("the group got f", 10*time.Second, func(v sim.ClusterView) bool {
				k, ok := groupConsumer(v, "billing")
				return ok && k.Delivered == 6 && k.Redelivered == want
			})
			k, _ = groupConsumer(v, "billing")
			if mode == "local" {
				assert.Equal(t, []uint64{0, 1, 2, 3, 4}, k.Redone, "every message again, none skipped")
			} else {
				assert.Empty(t, k.Redone)
			}
			assert.Equal(t, uint64(6), k.Offset)

			// Started again (same id, group and topic) once the group
			// committed 6: it keeps its counts and resumes at 6.
			lead := leaders(v)[0]
			l.waitView("the leader holds offset 6", 10*time.Second, func(v sim.ClusterView) bool {
				return heldOffset(v.Nodes[lead-1], "billing", "orders") == "6"
			})
			code, resp = l.act(l.token, sim.Action{Kind: sim.KindConsumer, ID: k.ID, Topic: "orders", Group: "billing"})
			require.Equal(t, http.StatusOK, code, resp)
			code, resp = l.act(l.token, sim.Action{Kind: sim.KindProduce, Topic: "orders", Body: "g"})
			require.Equal(t, http.StatusOK, code, resp)
			v = l.waitView("the restarted consumer got g", 10*time.Second, func(v sim.ClusterView) bool {
				k, ok := groupConsumer(v, "billing")
				return ok && k.Delivered == 7
			})
			k, _ = groupConsumer(v, "billing")
			assert.Equal(t, want, k.Redelivered, "nothing again after a restart at the committed offset")
			assert.Len(t, v.Clients.Consumers, 1)
		})
	}
}

// groupConsumer is the view's consumer of group g.
func groupConsumer(v sim.ClusterView, g string) (sim.ConsumerView, bool) {
	for _, k := range v.Clients.Consumers {
		if k.Group == g {
			return k, true
		}
	}
	return sim.ConsumerView{}, false
}

// heldOffset is group g's offset in topic on broker n, "–" if it holds none
// (as the page shows it).
func heldOffset(n sim.NodeView, g, topic string) string {
	for _, o := range n.Offsets {
		if o.Group == g && o.Topic == topic {
			return strconv.FormatUint(o.Offset, 10)
		}
	}
	return "–"
}

// A launcher's group consumer that starts below what retention kept is
// told OFFSET_TOO_SMALL with the queue's first offset, and goes on from
// there: it gets every message the brokers still hold, once.
func TestLauncherGroupConsumerStartsAfterRetention(t *testing.T) {
	l := startLauncher(t, t.TempDir(), 3, "--segment-size", "4096", "--retain-segments", "2", "--commit-every", "200ms")
	l.waitView("one leader", 20*time.Second, oneLeader)
	pad := strings.Repeat("x", 400)
	for i := range 40 {
		code, resp := l.act(l.token, sim.Action{Kind: sim.KindProduce, Topic: "orders", Body: fmt.Sprintf("%d %s", i, pad)})
		require.Equal(t, http.StatusOK, code, resp)
	}
	v := l.waitView("every broker compacted, its queue starting after offset 0", 30*time.Second, func(v sim.ClusterView) bool {
		for _, n := range v.Nodes {
			if len(n.Topics) == 0 || n.Topics[0].MinOffset == 0 || n.Topics[0].Len != 40 {
				return false
			}
		}
		return true
	})
	require.Len(t, v.Nodes, 3)
	code, resp := l.act(l.token, sim.Action{Kind: sim.KindConsumer, Topic: "orders", Group: "late"})
	require.Equal(t, http.StatusOK, code, resp)
	v = l.waitView("the group read what the leader still holds", 10*time.Second, func(v sim.ClusterView) bool {
		k, ok := groupConsumer(v, "late")
		return ok && k.Committed == 40
	})
	k, _ := groupConsumer(v, "late")
	lead := v.Nodes[leaders(v)[0]-1]
	assert.Equal(t, int(40-lead.Topics[0].MinOffset), k.Delivered, "every message from the leader's first offset on, once")
	assert.Zero(t, k.Redelivered)
}
