package cluster

// CtlLive is the live view of a Controller-mode cluster (docs/CONTROLLER.md)
// started by `dledgerlab cluster --mode controller`: it polls every
// controller's GET /v1/groups/{group} (its status and its copy of the
// group) and every broker's GET /v1/status?log=N a few times a second and
// builds one core/ctlsim.View from what they answer, with "live": true —
// the frame the page draws in Controller mode, whether the simulator or
// real processes made it (ARCHITECTURE.md rule 2). What changed between
// two polls (a new controller leader, a master elected, the SyncStateSet
// changed, a broker's role or a truncation) becomes the view's events.
//
// It performs the page's actions on the processes (ctlactions.go) and runs
// its own producers and consumers against the brokers (ctlclients.go).
// Network ids are the simulator's: controllers 1..3, brokers 4..6.

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"slices"
	"sync"
	"time"

	"dledgerlab/core/controller"
	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/native/ctlbroker"
	"dledgerlab/native/ctlserver"
	"dledgerlab/native/proc"
)

// CtlConfig describes the Controller-mode cluster a CtlLive watches.
type CtlConfig struct {
	// Controllers and Brokers are the processes this program started:
	// controllers 1..3 and brokers 1..3 of one broker group.
	Controllers, Brokers *proc.Cluster
	// Group is the broker group's name (RocketMQ's brokerName).
	Group string
	// AdminToken is sent to the processes' admin API and required from
	// callers of the action endpoint. Empty: actions are refused.
	AdminToken string
	// Settings are the cluster's switches, shown as the view's settings.
	Settings ctlsim.SettingsView
	// Logf, if set, hears what the launcher does ("broker 2 killed").
	Logf func(format string, args ...any)
}

// Controller-mode live view limits.
const (
	// CtlPollInterval is how often every process is asked for its status.
	CtlPollInterval = 250 * time.Millisecond
	// ctlLogEntries is the CommitLog tail shown per broker (ctlsim's).
	ctlLogEntries = 24
	// ctlViewEvents is how many events a frame carries (ctlsim's).
	ctlViewEvents = 60
	// ctlRemember bounds the entries remembered per broker, to show what
	// a truncation cut.
	ctlRemember = 4096
	ctlMembers  = 6
	ctlCtls     = 3
)

// CtlLive watches a Controller-mode cluster and acts on it.
type CtlLive struct {
	cfg   CtlConfig
	start time.Time
	hc    *http.Client

	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu   sync.Mutex
	ctls [ctlCtls]ctlSeen
	brks [ctlMembers - ctlCtls]brkSeen
	// events are what the launcher saw change and did, oldest first.
	events []ctlsim.Event
	// paused are the network ids stopped with SIGSTOP; cuts the links
	// (a < b, network ids) a partition or isolate cut, until heal.
	paused map[int]bool
	cuts   map[[2]int]bool
	// What the events were last told: the highest controller leader's
	// term, the group state last logged.
	ledTerm uint64
	logged  controller.Group
	// acked: offset → body of the writes the launcher's producers were
	// told are acknowledged (bounded).
	acked   map[int64]string
	clients ctlClients
}

// ctlSeen is a controller's latest answer.
type ctlSeen struct {
	resp ctlserver.GroupResponse
	at   time.Time
	pid  int // the process that answered
}

// brkSeen is a broker's latest answer and what the launcher remembers of
// its CommitLog.
type brkSeen struct {
	st  ctlbroker.Status
	at  time.Time
	pid int
	// trunc is the last truncation seen from process pid.
	trunc *ctlbroker.Truncation
	// entries are the entries last seen, by offset, so that a
	// truncation can show what was cut; truncated is the last one.
	entries   map[int64]string
	truncated *ctlsim.TruncationView
}

// NewCtl starts watching the cluster. Close stops it.
func NewCtl(cfg CtlConfig) *CtlLive {
	ctx, cancel := context.WithCancel(context.Background())
	l := &CtlLive{cfg: cfg, start: time.Now(), hc: &http.Client{Timeout: time.Second}, ctx: ctx, cancel: cancel,
		paused: map[int]bool{}, cuts: map[[2]int]bool{}, acked: map[int64]string{}}
	l.clients.init(l)
	l.wg.Add(1)
	go func() { defer l.wg.Done(); l.pollLoop(ctx) }()
	return l
}

// Close stops the polling, producers and consumers (not the processes).
func (l *CtlLive) Close() {
	l.cancel()
	l.clients.wait()
	l.wg.Wait()
}

func (l *CtlLive) logf(format string, args ...any) {
	if l.cfg.Logf != nil {
		l.cfg.Logf(format, args...)
	}
}

func (l *CtlLive) nowMs() int64 { return time.Since(l.start).Milliseconds() }

// NowMs is the time since the launcher started watching, in milliseconds
// (the frames' time).
func (l *CtlLive) NowMs() int64 { return l.nowMs() }

// logEvent keeps e, stamped with the time, among the last maxEvents.
// Callers hold l.mu.
func (l *CtlLive) logEvent(e ctlsim.Event) {
	e.AtMs = l.nowMs()
	l.events = append(l.events, e)
	if n := len(l.events); n > maxEvents {
		l.events = slices.Delete(l.events, 0, n-maxEvents)
	}
}

// node returns network id id's process.
func (l *CtlLive) node(id int) *proc.Node {
	if id <= ctlCtls {
		return l.cfg.Controllers.Node(id)
	}
	return l.cfg.Brokers.Node(id - ctlCtls)
}

// nodeName names network id id: "controller 2", "broker 1".
func nodeName(id int) string {
	if id <= ctlCtls {
		return fmt.Sprintf("controller %d", id)
	}
	return fmt.Sprintf("broker %d", id-ctlCtls)
}

func (l *CtlLive) pollLoop(ctx context.Context) {
	t := time.NewTicker(CtlPollInterval)
	defer t.Stop()
	for {
		l.poll(ctx)
		select {
		case <-ctx.Done():
			return
		case <-t.C:
		}
	}
}

// poll asks every running process for its status at once, then takes the
// answers in and logs what changed.
func (l *CtlLive) poll(ctx context.Context) {
	var wg sync.WaitGroup
	ctlResp := make([]*ctlserver.GroupResponse, ctlCtls)
	brkResp := make([]*ctlbroker.Status, ctlMembers-ctlCtls)
	pids := make([]int, ctlMembers)
	for id := 1; id <= ctlMembers; id++ {
		pn := l.node(id)
		if !pn.Running() {
			continue
		}
		pids[id-1] = pn.Pid()
		wg.Add(1)
		go func() {
			defer wg.Done()
			if id <= ctlCtls {
				var g ctlserver.GroupResponse
				if l.get(ctx, pn.HTTPAddr, "/v1/groups/"+l.cfg.Group, &g) == nil {
					ctlResp[id-1] = &g
				}
				return
			}
			var st ctlbroker.Status
			if l.get(ctx, pn.HTTPAddr, fmt.Sprintf("/v1/status?log=%d", ctlLogEntries), &st) == nil {
				brkResp[id-ctlCtls-1] = &st
			}
		}()
	}
	wg.Wait()
	now := time.Now()
	l.mu.Lock()
	defer l.mu.Unlock()
	for i, g := range ctlResp {
		if g != nil {
			l.ctls[i] = ctlSeen{resp: *g, at: now, pid: pids[i]}
		}
	}
	for i, st := range brkResp {
		if st != nil {
			l.takeBroker(i, *st, now, pids[ctlCtls+i])
		}
	}
	l.noteControllers()
}

// get reads one JSON answer.
func (l *CtlLive) get(ctx context.Context, addr, path string, out any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, "http://"+addr+path, nil)
	if err != nil {
		return err
	}
	resp, err := l.hc.Do(req)
	if err != nil {
		return err
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusOK {
		return fmt.Errorf("%s%s: %s", addr, path, resp.Status)
	}
	return json.NewDecoder(resp.Body).Decode(out)
}

// takeBroker keeps broker i's answer, logs its role changes and a new
// truncation (with the entries it cut, as last seen), and remembers its
// CommitLog tail. Callers hold l.mu.
func (l *CtlLive) takeBroker(i int, st ctlbroker.Status, now time.Time, pid int) {
	b := &l.brks[i]
	id := i + 1
	prev, samePid := b.st, b.pid == pid && !b.at.IsZero()
	if prev.Role != st.Role || !samePid {
		switch {
		case st.Role == controller.RoleMaster.String():
			l.logEvent(ctlsim.Event{Kind: ctlsim.EventMaster, Broker: id, Epoch: st.MasterEpoch})
		case st.Role == controller.RoleSlave.String():
			l.logEvent(ctlsim.Event{Kind: ctlsim.EventSlave, Broker: id, Epoch: st.MasterEpoch})
		case samePid && prev.Role == controller.RoleMaster.String():
			l.logEvent(ctlsim.Event{Kind: ctlsim.EventDeposed, Broker: id, Epoch: st.MasterEpoch})
		}
	}
	if !samePid {
		b.trunc = nil
	}
	if st.Truncated != nil && (b.trunc == nil || *b.trunc != *st.Truncated) {
		tr := *st.Truncated
		b.trunc = &tr
		l.logEvent(ctlsim.Event{Kind: ctlsim.EventTruncated, Broker: id, From: tr.From, To: tr.To, Epoch: tr.Epoch})
		tv := &ctlsim.TruncationView{AtMs: l.nowMs(), From: tr.From, To: tr.To, Entries: []ctlsim.EntryView{}}
		for off := tr.To; off < tr.From; off++ {
			body, ok := b.entries[off]
			if !ok {
				continue
			}
			e := ctlsim.EntryView{Offset: off, Body: body, Epoch: epochAt(prev.Epochs, off)}
			if a, ok := l.acked[off]; ok && a == body {
				e.Acked = true
				tv.Acked++
			}
			if off >= tr.From-ctlLogEntries {
				tv.Entries = append(tv.Entries, e)
			}
		}
		b.truncated = tv
	}
	if b.entries == nil {
		b.entries = map[int64]string{}
	}
	for _, m := range st.Log {
		b.entries[m.Offset] = m.Body
	}
	if len(b.entries) > ctlRemember {
		for off := range b.entries {
			if off < st.MaxOffset-ctlRemember/2 {
				delete(b.entries, off)
			}
		}
	}
	b.st, b.at, b.pid = st, now, pid
}

// noteControllers logs a new controller leader and a group state newer
// than the last logged (ctlsim's noteController). Callers hold l.mu.
func (l *CtlLive) noteControllers() {
	lead := l.leaderController()
	if lead == 0 {
		return
	}
	r := l.ctls[lead-1].resp
	if r.Term > l.ledTerm {
		l.ledTerm = r.Term
		l.logEvent(ctlsim.Event{Kind: ctlsim.EventLeader, Node: lead, Term: r.Term})
	}
	g := r.Group
	if !r.Registered || !g.Newer(l.logged) {
		return
	}
	kind := ctlsim.EventSetChanged
	if g.MasterEpoch != l.logged.MasterEpoch {
		kind = ctlsim.EventElected
	}
	l.logEvent(ctlsim.Event{Kind: kind, Node: lead, Broker: int(g.Master), Epoch: g.MasterEpoch, Set: slices.Clone(g.SyncStateSet), SetEpoch: g.SyncStateSetEpoch})
	l.logged = g.Clone()
}

// fresh reports whether a process's last answer is recent and came from
// the process running now.
func fresh(at time.Time, pid int, pn *proc.Node) bool {
	return !at.IsZero() && time.Since(at) < staleAfter && pn.Running() && pid == pn.Pid()
}

// leaderController is the running controller that answered last as
// leader in the highest term (0: none). Callers hold l.mu.
func (l *CtlLive) leaderController() int {
	best := 0
	for i, c := range l.ctls {
		if fresh(c.at, c.pid, l.node(i+1)) && !l.paused[i+1] && c.resp.Role == "leader" &&
			(best == 0 || c.resp.Term > l.ctls[best-1].resp.Term) {
			best = i + 1
		}
	}
	return best
}

// state is what a process is doing: "running" (it answers), "killed" (no
// process), "paused" (SIGSTOP), "restarting" (its process runs but has not
// answered yet).
func (l *CtlLive) state(id int, at time.Time, pid int) string {
	pn := l.node(id)
	switch {
	case !pn.Running():
		return "killed"
	case l.paused[id]:
		return "paused"
	case !fresh(at, pid, pn):
		return "restarting"
	}
	return "running"
}

// epochAt is the epoch that wrote offset off, from an epoch file.
func epochAt(epochs controller.EpochFile, off int64) uint64 {
	var e uint64
	for _, ep := range epochs {
		if ep.StartOffset > off {
			break
		}
		e = ep.Epoch
	}
	return e
}

// fillGroup gives a group's lists a non-nil value, for the page.
func fillGroup(g controller.Group) controller.Group {
	g = g.Clone()
	if g.Replicas == nil {
		g.Replicas = []controller.BrokerID{}
	}
	if g.SyncStateSet == nil {
		g.SyncStateSet = []controller.BrokerID{}
	}
	return g
}

// View is the cluster now as a ctlsim.View (Mode "controller", Live, time
// in ms since this CtlLive started). A process that does not answer is
// shown with its state ("killed", "paused", "restarting"); a broker's last
// known disk (CommitLog tail, epoch file, group state) stays visible, as in
// the simulator: it survives a crash.
func (l *CtlLive) View() ctlsim.View {
	now := l.nowMs()
	v := ctlsim.View{Mode: "controller", Live: true, TimeMs: now, Messages: []ctlsim.MessageView{},
		Cuts: []sim.Link{}, Violations: []sim.Violation{}, Settings: l.cfg.Settings,
		Timeline: ctlsim.TimelineView{EndMs: now, Actions: []ctlsim.TimelineMark{}}}
	v.Group = fillGroup(controller.Group{Name: l.cfg.Group})
	prods, cons := l.clients.view()
	l.mu.Lock()
	defer l.mu.Unlock()
	best := 0
	for i, c := range l.ctls {
		id := i + 1
		cv := ctlsim.ControllerView{ID: id, State: l.state(id, c.at, c.pid), Group: fillGroup(controller.Group{Name: l.cfg.Group})}
		if cv.State == "running" {
			r := c.resp
			cv.Role, cv.Term, cv.Lead, cv.Commit, cv.Applied, cv.Group = r.Role, r.Term, r.Leader, r.Commit, r.Applied, fillGroup(r.Group)
			if best == 0 || r.Applied > l.ctls[best-1].resp.Applied {
				best = id
			}
		}
		v.Controllers = append(v.Controllers, cv)
	}
	if lead := l.leaderController(); lead > 0 {
		best = lead
	}
	if best > 0 {
		v.Group = v.Controllers[best-1].Group
	}
	for i := range l.brks {
		b := &l.brks[i]
		id := i + 1
		st := b.st
		bv := ctlsim.BrokerView{ID: id, Node: ctlCtls + id, State: l.state(ctlCtls+id, b.at, b.pid), Role: controller.RoleNone.String(),
			Known: fillGroup(controller.Group{Name: st.Group, Replicas: st.Replicas, Master: controller.BrokerID(st.Master),
				MasterEpoch: st.MasterEpoch, SyncStateSet: st.SyncStateSet, SyncStateSetEpoch: st.SyncStateSetEpoch}),
			MaxOffset: st.MaxOffset, Epochs: slices.Clone(st.Epochs), LogFirst: st.LogFirst, Log: []ctlsim.EntryView{}, Truncated: b.truncated}
		if bv.Known.Name == "" {
			bv.Known.Name = l.cfg.Group
		}
		if bv.State == "running" {
			bv.Role, bv.Pending, bv.Confirm = st.Role, st.Pending, st.ConfirmOffset
		}
		if bv.Epochs == nil {
			bv.Epochs = controller.EpochFile{}
		}
		for _, m := range st.Log {
			e := ctlsim.EntryView{Offset: m.Offset, Body: m.Body, Epoch: epochAt(st.Epochs, m.Offset)}
			if a, ok := l.acked[m.Offset]; ok && a == m.Body {
				e.Acked = true
			}
			bv.Log = append(bv.Log, e)
		}
		v.Brokers = append(v.Brokers, bv)
	}
	for c := range l.cuts {
		v.Cuts = append(v.Cuts, sim.Link{From: c[0], To: c[1]}, sim.Link{From: c[1], To: c[0]})
	}
	slices.SortFunc(v.Cuts, func(a, b sim.Link) int {
		if a.From != b.From {
			return a.From - b.From
		}
		return a.To - b.To
	})
	v.Events = slices.Clone(l.events[max(0, len(l.events)-ctlViewEvents):])
	if v.Events == nil {
		v.Events = []ctlsim.Event{}
	}
	v.Clients = ctlsim.ClientsView{Producers: prods, Consumers: cons}
	for _, p := range prods {
		v.Clients.Acked += p.Acked
	}
	return v
}
