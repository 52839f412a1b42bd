// Package cluster is the instructor's side of DLedger Lab on real brokers:
// it watches every broker's /v1/watch stream and merges the frames into one
// sim.ClusterView (ARCHITECTURE.md rule 2: the page does not care whether it
// watches the simulator or real processes), performs sim.Actions on the real
// cluster (SIGKILL and restart of child processes, partition and heal through
// each broker's admin API, produce and consume through the HTTP API), and
// launches a local cluster of child processes for `dledgerlab cluster` and
// `dledgerlab lesson run --native`.
//
// Live is the watching and acting part; it works with or without child
// processes (`dledgerlab view` watches brokers started elsewhere). Launcher
// owns the child processes.
package cluster

import (
	"context"
	"encoding/json"
	"maps"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/gorilla/websocket"

	"dledgerlab/core"
	"dledgerlab/core/broker"
	"dledgerlab/core/commitlog"
	"dledgerlab/core/sim"
	"dledgerlab/native/client"
	"dledgerlab/native/proc"
)

// Member is one broker of the watched cluster.
type Member struct {
	ID       int
	HTTPAddr string // host:port of its HTTP API
	// DataDir is its data folder on this machine ("" when it runs
	// elsewhere): the CommitLog files of a broker that is down are read
	// from there.
	DataDir string
}

// Config describes what a Live watches and how it may act.
type Config struct {
	Members []Member
	// Procs are the brokers' processes when this program started them
	// (nil for brokers started elsewhere). Member i is Procs.Nodes[i].
	Procs *proc.Cluster
	// AdminToken is sent to the brokers' admin API and required from
	// callers of the action endpoint. Empty: actions are refused.
	AdminToken string
	// Logf, if set, hears what the launcher does ("broker 2 killed").
	Logf func(format string, args ...any)
	// OffsetCommit is how often a consumer group's consumer started from
	// the page or a lesson commits its offset (0: DefaultOffsetCommit).
	OffsetCommit time.Duration
}

// staleAfter is how old a broker's last frame may be before the broker
// counts as unreachable (frames come every 250 ms).
const staleAfter = 2 * time.Second

// maxEvents is how many merged events a view carries.
const maxEvents = 200

// Live watches a cluster and acts on it.
type Live struct {
	cfg     Config
	start   time.Time
	client  *client.Client
	watches []*watch
	clients *clients

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu sync.Mutex
	// events are the launcher's own events (kills, restarts, actions),
	// time in ms since start.
	events []sim.EventView
	paused map[int]bool
	// shaping: what the net and link actions set, kept across heal and
	// partition (as in the simulator) and given again to a restarted
	// broker; switches: the rules switched from their defaults.
	netDef   linkConf
	links    map[[2]int]linkConf
	switches map[string]bool
	// cutSince: when this view first saw each cut link (ms since start),
	// to mark as dropped what was sent over it afterwards (View).
	cutSince map[sim.Link]int64
}

// New starts watching every member. Close stops it.
func New(cfg Config) *Live {
	ctx, cancel := context.WithCancel(context.Background())
	addrs := make([]string, len(cfg.Members))
	for i, m := range cfg.Members {
		addrs[i] = m.HTTPAddr
	}
	cl := client.New(addrs)
	cl.AdminToken = cfg.AdminToken
	cl.HTTP.Timeout = 10 * time.Second
	l := &Live{cfg: cfg, start: time.Now(), client: cl, ctx: ctx, cancel: cancel, paused: map[int]bool{},
		links: map[[2]int]linkConf{}, switches: map[string]bool{}}
	l.clients = newClients(ctx, cl, cfg.Members, cfg.OffsetCommit)
	for _, m := range cfg.Members {
		w := &watch{member: m}
		l.watches = append(l.watches, w)
		l.wg.Add(1)
		go func() { defer l.wg.Done(); w.run(ctx) }()
	}
	return l
}

// Close stops the watchers, producers and consumers (not the brokers).
func (l *Live) Close() {
	l.cancel()
	l.clients.wait()
	l.wg.Wait()
}

// Members returns the watched brokers.
func (l *Live) Members() []Member { return slices.Clone(l.cfg.Members) }

// Start is when this Live began; view times count from it.
func (l *Live) Start() time.Time { return l.start }

func (l *Live) logf(format string, args ...any) {
	if l.cfg.Logf != nil {
		l.cfg.Logf(format, args...)
	}
}

// note records a launcher event; why and args name its detail for the
// page's own words (sim.EventView).
func (l *Live) note(node int, kind, why string, args core.Args, detail string) {
	l.mu.Lock()
	defer l.mu.Unlock()
	l.events = append(l.events, sim.EventView{TimeMs: time.Since(l.start).Milliseconds(), Node: node, Kind: kind, Why: why, Args: args, Detail: detail})
	if n := len(l.events); n > maxEvents {
		l.events = slices.Delete(l.events, 0, n-maxEvents)
	}
}

// View merges the latest frame of every broker into one ClusterView (Mode
// "live", time in ms since this Live started). A broker that cannot be
// reached is shown with what is known of it: "killed" (its process is not
// running), "paused" (stopped with SIGSTOP), "restarting" (its process runs
// but does not answer yet); its last known log and the CommitLog files in
// its data folder stay visible.
func (l *Live) View() sim.ClusterView {
	now := time.Now()
	v := sim.ClusterView{
		Mode:       "live",
		TimeMs:     now.Sub(l.start).Milliseconds(),
		Nodes:      []sim.NodeView{},
		Messages:   []sim.MessageView{},
		Cuts:       []sim.Link{},
		Events:     []sim.EventView{},
		Violations: []sim.Violation{},
		Clients:    l.clients.view(),
	}
	l.mu.Lock()
	v.Events = append(v.Events, l.events...)
	paused := maps.Clone(l.paused)
	l.mu.Unlock()

	cuts := map[sim.Link]bool{}
	haveSettings := false
	for i, w := range l.watches {
		m := l.cfg.Members[i]
		f, recv, connected := w.latest()
		var nv sim.NodeView
		if f != nil && len(f.Nodes) > 0 {
			nv = f.Nodes[0]
			// Rebase the broker's events (ms since its process started) to
			// this view's clock.
			offset := recv.Sub(l.start).Milliseconds() - f.TimeMs
			for _, e := range f.Events {
				e.TimeMs += offset
				v.Events = append(v.Events, e)
			}
			if connected && now.Sub(recv) < staleAfter {
				for _, msg := range f.Messages {
					msg.SentMs += offset
					msg.DeliverMs += offset
					if msg.DeliverMs > v.TimeMs { // still drawn in flight
						v.Messages = append(v.Messages, msg)
					}
				}
			}
		}
		nv.ID = m.ID
		live := f != nil && connected && now.Sub(recv) < staleAfter
		state := "running"
		pid := 0
		if l.cfg.Procs != nil {
			pn := l.cfg.Procs.Node(m.ID)
			pid = pn.Pid()
			switch {
			case !pn.Running():
				state, live, pid = "killed", false, 0
			case paused[m.ID]:
				state, live = "paused", false
			case !live || nv.Pid != pid: // a frame of the process before a restart
				state, live = "restarting", false
			}
		} else if !live {
			state = "killed"
		}
		if live {
			nv.State = "running"
			for _, c := range f.Cuts {
				cuts[c] = true
			}
			if !haveSettings {
				v.Settings, haveSettings = f.Settings, true
			}
		} else {
			nv = downView(nv, state, pid)
		}
		nv.Address = m.HTTPAddr
		if m.DataDir != "" {
			nv.DataDir = m.DataDir
			if !live || len(nv.Segments) == 0 {
				nv.Segments = diskSegments(m.DataDir, nv.Segments)
			}
		}
		fillNil(&nv)
		v.Nodes = append(v.Nodes, nv)
	}
	v.Settings.Nodes = len(l.cfg.Members)
	for c := range cuts {
		v.Cuts = append(v.Cuts, c)
	}
	l.markCutMessages(v.Messages, cuts, v.TimeMs)
	slices.SortFunc(v.Cuts, func(a, b sim.Link) int {
		if a.From != b.From {
			return a.From - b.From
		}
		return a.To - b.To
	})
	v.Groups = groupsOf(v.Nodes, cuts)
	slices.SortStableFunc(v.Events, func(a, b sim.EventView) int { return int(a.TimeMs - b.TimeMs) })
	if n := len(v.Events); n > maxEvents {
		v.Events = v.Events[n-maxEvents:]
	}
	return v
}

// markCutMessages marks as dropped the messages sent over a cut link since
// this view first saw the cut. A broker that cut its side alone (`dledgerlab
// partition --addr B`) drops its peers' messages as they arrive, and its
// peers, whose side is whole, report them sent: they are drawn as crosses,
// as the ones dropped by their sender are.
func (l *Live) markCutMessages(msgs []sim.MessageView, cuts map[sim.Link]bool, now int64) {
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.cutSince == nil {
		l.cutSince = map[sim.Link]int64{}
	}
	maps.DeleteFunc(l.cutSince, func(c sim.Link, _ int64) bool { return !cuts[c] })
	for c := range cuts {
		if _, ok := l.cutSince[c]; !ok {
			l.cutSince[c] = now
		}
	}
	for i := range msgs {
		m := &msgs[i]
		if since, ok := l.cutSince[sim.Link{From: m.From, To: m.To}]; ok && m.SentMs >= since {
			m.Dropped = true
		}
	}
}

// downView is the last known state of a broker that does not answer: its
// log and terms as last seen, no role of its own.
func downView(nv sim.NodeView, state string, pid int) sim.NodeView {
	nv.State = state
	nv.Role = "follower"
	nv.Lead = 0
	nv.Votes = nil
	nv.Progress = nil
	nv.Busy = false
	nv.Transferee = 0
	nv.ElectionElapsed = 0
	nv.MsgRate = 0
	nv.Pid = pid
	return nv
}

// fillNil gives the lists the page iterates a non-nil value.
func fillNil(nv *sim.NodeView) {
	if nv.Log == nil {
		nv.Log = []sim.EntryView{}
	}
	if nv.Segments == nil {
		nv.Segments = []sim.SegmentView{}
	}
	if nv.Topics == nil {
		nv.Topics = []broker.TopicView{}
	}
}

// diskSegments lists the CommitLog segment files in a data folder: name,
// start position and size on disk (what a broker that is down holds now).
// The capacity comes from the broker's last frame when known.
func diskSegments(dir string, known []sim.SegmentView) []sim.SegmentView {
	var capacity int64
	for _, s := range known {
		capacity = max(capacity, s.Cap)
	}
	ents, err := os.ReadDir(dir)
	if err != nil {
		return known
	}
	var out []sim.SegmentView
	for _, e := range ents {
		name := e.Name()
		if e.IsDir() || len(name) != len(commitlog.SegmentName(0)) || strings.Trim(name, "0123456789") != "" {
			continue
		}
		info, err := e.Info()
		if err != nil {
			continue
		}
		var start int64
		for _, c := range name {
			start = start*10 + int64(c-'0')
		}
		out = append(out, sim.SegmentView{Name: name, Start: start, Size: info.Size(), Cap: max(capacity, info.Size())})
	}
	if out == nil {
		return known
	}
	return out
}

// groupsOf derives the partition from the cut links: brokers joined by a
// link that is open both ways are in one group. One group means no
// partition (nil).
func groupsOf(nodes []sim.NodeView, cuts map[sim.Link]bool) [][]int {
	if len(cuts) == 0 {
		return nil
	}
	group := map[int]int{}
	var groups [][]int
	for _, n := range nodes {
		if _, ok := group[n.ID]; ok {
			continue
		}
		g := len(groups)
		groups = append(groups, nil)
		stack := []int{n.ID}
		group[n.ID] = g
		for len(stack) > 0 {
			a := stack[len(stack)-1]
			stack = stack[:len(stack)-1]
			groups[g] = append(groups[g], a)
			for _, o := range nodes {
				b := o.ID
				if _, seen := group[b]; seen || cuts[sim.Link{From: a, To: b}] || cuts[sim.Link{From: b, To: a}] {
					continue
				}
				group[b] = g
				stack = append(stack, b)
			}
		}
		slices.Sort(groups[g])
	}
	if len(groups) < 2 {
		return nil
	}
	return groups
}

// watch follows one broker's /v1/watch stream and keeps its latest frame.
type watch struct {
	member Member

	mu        sync.Mutex
	frame     *sim.ClusterView
	recv      time.Time
	connected bool

	// summaries remembers what the entries this broker showed carried
	// ("orders: hello"), so an entry it truncates later can be named: a
	// broker reports a truncated entry by index and term only.
	summaries map[entryKey]string
}

type entryKey struct{ index, term uint64 }

// maxSummaries bounds the remembered summaries per broker.
const maxSummaries = 4096

// nameTruncated fills the summaries of f's truncated entries from earlier
// frames and remembers f's log. Runs on the reader, before f is shared.
func (w *watch) nameTruncated(f *sim.ClusterView) {
	if len(f.Nodes) == 0 {
		return
	}
	n := &f.Nodes[0]
	if w.summaries == nil {
		w.summaries = map[entryKey]string{}
	}
	for _, e := range n.Log {
		w.summaries[entryKey{e.Index, e.Term}] = e.Summary
	}
	for i, e := range n.Truncated {
		if s, ok := w.summaries[entryKey{e.Index, e.Term}]; ok {
			n.Truncated[i].Summary = s
		}
	}
	if len(w.summaries) > maxSummaries {
		for k := range w.summaries {
			if k.index+maxSummaries/2 < n.LastIndex {
				delete(w.summaries, k)
			}
		}
	}
}

func (w *watch) latest() (*sim.ClusterView, time.Time, bool) {
	w.mu.Lock()
	defer w.mu.Unlock()
	return w.frame, w.recv, w.connected
}

// run reconnects until ctx ends; a broker that is down is retried every
// 100 ms, so a restarted broker shows up within a frame or two.
func (w *watch) run(ctx context.Context) {
	u := url.URL{Scheme: "ws", Host: w.member.HTTPAddr, Path: "/v1/watch"}
	dialer := websocket.Dialer{HandshakeTimeout: 2 * time.Second}
	for ctx.Err() == nil {
		c, _, err := dialer.DialContext(ctx, u.String(), nil)
		if err == nil {
			w.read(ctx, c)
		}
		w.mu.Lock()
		w.connected = false
		w.mu.Unlock()
		select {
		case <-ctx.Done():
		case <-time.After(100 * time.Millisecond):
		}
	}
}

func (w *watch) read(ctx context.Context, c *websocket.Conn) {
	defer c.Close()
	stop := context.AfterFunc(ctx, func() { c.Close() })
	defer stop()
	for {
		c.SetReadDeadline(time.Now().Add(staleAfter))
		_, data, err := c.ReadMessage()
		if err != nil {
			return
		}
		var f sim.ClusterView
		if err := json.Unmarshal(data, &f); err != nil {
			return
		}
		w.nameTruncated(&f)
		w.mu.Lock()
		w.frame, w.recv, w.connected = &f, time.Now(), true
		w.mu.Unlock()
	}
}
