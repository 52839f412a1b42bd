package cluster

// Actions on the real cluster: the same sim.Action JSON the playground sends
// to the simulator, performed on processes and through the brokers' APIs.
// The live view's action endpoint and the native lesson driver both call
// Live.Do.

import (
	"context"
	"errors"
	"fmt"
	"net/http"
	"slices"
	"strings"
	"sync"
	"time"

	"dledgerlab/core"
	"dledgerlab/core/sim"
	"dledgerlab/native/server"
)

// ActionError is an action that could not be performed, with the HTTP
// status and error code the action endpoint answers.
type ActionError struct {
	Status  int
	Code    string
	Message string
}

func (e *ActionError) Error() string { return e.Message }

// CodeUnsupported: the action exists in the simulator only.
const CodeUnsupported = "UNSUPPORTED"

// CodeConflict: the broker is not in a state the action applies to.
const CodeConflict = "CONFLICT"

func badAction(format string, args ...any) error {
	return &ActionError{Status: http.StatusBadRequest, Code: server.CodeBadRequest, Message: fmt.Sprintf(format, args...)}
}

func conflict(format string, args ...any) error {
	return &ActionError{Status: http.StatusConflict, Code: CodeConflict, Message: fmt.Sprintf(format, args...)}
}

func unavailable(format string, args ...any) error {
	return &ActionError{Status: http.StatusBadGateway, Code: server.CodeUnavailable, Message: fmt.Sprintf(format, args...)}
}

// Do performs one action on the real cluster:
//
//	crash      SIGKILL the broker's process (no child process: admin crash)
//	restart    start the process again with its data folder
//	pause      SIGSTOP / resume SIGCONT the process
//	partition  every broker cuts its links to the brokers of other groups
//	isolate    Node cuts every link, and every other broker cuts Node
//	heal       every broker restores its links
//	transfer   the leader hands leadership to Node
//	produce    one message through producer ID (to Node only, if set)
//	producer   a steady producer at Rate messages/s (0 stops it)
//	consumer   read Topic from broker Node
//	campaign   Node starts an election now (admin campaign)
//	rule       check_quorum / pre_vote on every broker (admin rules)
//	link       latency, jitter, loss of From's outgoing link to To (admin link)
//	net        the same on every link
//
// One-way partitions cut with loss 1 on the first group's outgoing links.
// The safety rules, disk faults and traps are the simulator's; they answer
// UNSUPPORTED.
func (l *Live) Do(ctx context.Context, a sim.Action) error {
	n := len(l.cfg.Members)
	node := func(id int) error {
		if id < 1 || id > n {
			return badAction("%s: broker %d is not a broker of this cluster (1..%d)", a.Kind, id, n)
		}
		return nil
	}
	switch a.Kind {
	case sim.KindCrash, sim.KindRestart, sim.KindPause, sim.KindResume, sim.KindIsolate, sim.KindTransfer, sim.KindCampaign:
		if err := node(a.Node); err != nil {
			return err
		}
	case sim.KindLink, sim.KindNet:
		if a.Kind == sim.KindLink {
			if err := node(a.From); err != nil {
				return err
			}
			if err := node(a.To); err != nil {
				return err
			}
			if a.From == a.To {
				return badAction("link: a link joins two different brokers")
			}
		}
		if a.LatencyMs < 0 || a.LatencyMs > 60_000 || a.JitterMs < 0 || a.JitterMs > 60_000 {
			return badAction("%s: latency %d ms and jitter %d ms must be within 0..60000", a.Kind, a.LatencyMs, a.JitterMs)
		}
		if a.Loss < 0 || a.Loss > 1 || a.Loss != a.Loss {
			return badAction("%s: loss %v must be between 0 and 1", a.Kind, a.Loss)
		}
		if a.Dup != 0 || a.Reorder != 0 {
			return &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
				Message: fmt.Sprintf("%s: dup and reorder work in the simulator only; a real link has latency, jitter and loss", a.Kind)}
		}
	case sim.KindProduce, sim.KindProducer, sim.KindConsumer:
		if a.Node != 0 {
			if err := node(a.Node); err != nil {
				return err
			}
		}
		if strings.TrimSpace(a.Topic) == "" {
			return badAction("%s: topic is empty", a.Kind)
		}
	}
	var err error
	switch a.Kind {
	case sim.KindCrash:
		err = l.crash(ctx, a.Node)
	case sim.KindRestart:
		err = l.restart(a.Node)
	case sim.KindPause, sim.KindResume:
		err = l.pause(a.Node, a.Kind == sim.KindPause)
	case sim.KindPartition:
		err = l.partition(ctx, a)
	case sim.KindIsolate:
		var rest []int
		for _, m := range l.cfg.Members {
			if m.ID != a.Node {
				rest = append(rest, m.ID)
			}
		}
		err = l.partition(ctx, sim.Action{Kind: sim.KindPartition, Groups: [][]int{{a.Node}, rest}})
	case sim.KindHeal:
		err = l.heal(ctx)
	case sim.KindTransfer:
		err = l.transfer(ctx, a.Node)
	case sim.KindProduce:
		err = l.clients.produce(a)
	case sim.KindProducer:
		err = l.clients.producer(a)
	case sim.KindConsumer:
		err = l.clients.consumer(a)
	case sim.KindCampaign:
		err = l.campaign(ctx, a.Node)
	case sim.KindRule:
		err = l.rule(ctx, a.Rule, a.On)
	case sim.KindLink:
		err = l.shape(ctx, a)
	case sim.KindNet:
		err = l.shape(ctx, a)
	case sim.KindDiskFlip, sim.KindTrap:
		err = &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
			Message: fmt.Sprintf("%q works in the simulator only; on real brokers use crash, restart, pause, resume, partition, isolate, heal, link, net, transfer, campaign, rule, produce, producer or consumer", a.Kind)}
	default:
		err = badAction("unknown action kind %q (crash, restart, pause, resume, partition, isolate, heal, link, net, transfer, campaign, rule, produce, producer, consumer)", a.Kind)
	}
	if err == nil {
		l.note(a.Node, "action", "act-"+a.Kind, a.Args(), describe(a))
	}
	return err
}

// describe is an action in a few words, for the event list and the log.
func describe(a sim.Action) string {
	switch a.Kind {
	case sim.KindPartition:
		return fmt.Sprintf("partition %v", a.Groups)
	case sim.KindHeal:
		return "heal"
	case sim.KindProduce:
		return fmt.Sprintf("produce %s: %s", a.Topic, a.Body)
	case sim.KindProducer:
		return fmt.Sprintf("producer %s at %v/s", a.Topic, a.Rate)
	case sim.KindConsumer:
		return fmt.Sprintf("consumer %s on broker %d", a.Topic, a.Node)
	case sim.KindRule:
		return fmt.Sprintf("rule %s %v", a.Rule, map[bool]string{true: "on", false: "off"}[a.On])
	case sim.KindLink:
		return fmt.Sprintf("link %d→%d: latency %d ms, jitter %d ms, loss %.0f%%", a.From, a.To, a.LatencyMs, a.JitterMs, a.Loss*100)
	case sim.KindNet:
		return fmt.Sprintf("every link: latency %d ms, jitter %d ms, loss %.0f%%", a.LatencyMs, a.JitterMs, a.Loss*100)
	}
	return fmt.Sprintf("%s broker %d", a.Kind, a.Node)
}

func (l *Live) crash(ctx context.Context, id int) error {
	if l.cfg.Procs == nil {
		if _, err := l.client.Admin(ctx, l.cfg.Members[id-1].HTTPAddr, "crash", server.AdminRequest{}); err != nil {
			return unavailable("crash broker %d: %v", id, err)
		}
		l.logf("broker %d: crash requested through its admin API", id)
		return nil
	}
	pn := l.cfg.Procs.Node(id)
	if !pn.Running() {
		return conflict("broker %d is not running", id)
	}
	pid := pn.Pid()
	l.mu.Lock()
	delete(l.paused, id) // SIGKILL ends a stopped process too
	l.mu.Unlock()
	pn.Kill()
	l.note(id, "crashed", "killed", core.Args{"pid": pid}, fmt.Sprintf("SIGKILL pid %d", pid))
	l.logf("broker %d killed (SIGKILL, pid %d)", id, pid)
	return nil
}

func (l *Live) restart(id int) error {
	if l.cfg.Procs == nil {
		return &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
			Message: fmt.Sprintf("broker %d runs on another machine: start it there again (dledgerlab node …)", id)}
	}
	pn := l.cfg.Procs.Node(id)
	if pn.Running() {
		return conflict("broker %d is already running (pid %d)", id, pn.Pid())
	}
	if err := l.cfg.Procs.Start(id); err != nil {
		return unavailable("restart broker %d: %v", id, err)
	}
	l.note(id, "restarted", "process-started", core.Args{"pid": pn.Pid(), "dir": pn.Dir}, fmt.Sprintf("pid %d, data %s", pn.Pid(), pn.Dir))
	l.reapply(id)
	l.logf("broker %d restarted (pid %d) with its data folder %s", id, pn.Pid(), pn.Dir)
	return nil
}

func (l *Live) pause(id int, on bool) error {
	if l.cfg.Procs == nil {
		return &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
			Message: "pause and resume need the broker's process on this machine (dledgerlab cluster)"}
	}
	pn := l.cfg.Procs.Node(id)
	if !pn.Running() {
		return conflict("broker %d is not running", id)
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused[id] == on {
		if on {
			return conflict("broker %d is already paused", id)
		}
		return conflict("broker %d is not paused", id)
	}
	if err := signalStop(pn.Pid(), on); err != nil {
		return err
	}
	l.paused[id] = on
	if on {
		l.logf("broker %d paused (SIGSTOP)", id)
	} else {
		delete(l.paused, id)
		l.logf("broker %d resumed (SIGCONT)", id)
	}
	return nil
}

// ResumeAll continues every paused broker (before stopping them: a stopped
// process does not see SIGTERM).
func (l *Live) ResumeAll() {
	l.mu.Lock()
	defer l.mu.Unlock()
	for id := range l.paused {
		if l.cfg.Procs != nil {
			signalStop(l.cfg.Procs.Node(id).Pid(), false)
		}
		delete(l.paused, id)
	}
}

// eachBroker runs f on every member at once and joins the errors of the
// brokers that answered nothing.
func (l *Live) eachBroker(ids []int, f func(m Member) error) (ok int, errs []error) {
	var mu sync.Mutex
	var wg sync.WaitGroup
	for _, id := range ids {
		m := l.cfg.Members[id-1]
		wg.Add(1)
		go func() {
			defer wg.Done()
			err := f(m)
			mu.Lock()
			defer mu.Unlock()
			if err != nil {
				errs = append(errs, fmt.Errorf("broker %d: %w", m.ID, err))
				return
			}
			ok++
		}()
	}
	wg.Wait()
	return ok, errs
}

func (l *Live) allIDs() []int {
	ids := make([]int, len(l.cfg.Members))
	for i, m := range l.cfg.Members {
		ids[i] = m.ID
	}
	return ids
}

// partition heals first, then has every broker cut its links to the
// brokers outside its group. Both ends cut, so a broker that is down now
// is still cut off by the others; it gets the partition from them.
func (l *Live) partition(ctx context.Context, a sim.Action) error {
	if len(a.Groups) < 2 {
		return badAction("partition: a partition needs at least two groups, got %d", len(a.Groups))
	}
	group := map[int]int{}
	for gi, g := range a.Groups {
		if len(g) == 0 {
			return badAction("partition: empty group")
		}
		for _, id := range g {
			if id < 1 || id > len(l.cfg.Members) {
				return badAction("partition: broker %d is not a broker of this cluster (1..%d)", id, len(l.cfg.Members))
			}
			if _, dup := group[id]; dup {
				return badAction("partition: broker %d is in two groups", id)
			}
			group[id] = gi
		}
	}
	if err := l.heal(ctx); err != nil {
		return err
	}
	ids := slices.Sorted(func(yield func(int) bool) {
		for id := range group {
			if !yield(id) {
				return
			}
		}
	})
	if a.OneWay {
		return l.oneWay(ctx, a.Groups[0], group)
	}
	ok, errs := l.eachBroker(ids, func(m Member) error {
		var peers []uint64
		for _, o := range l.cfg.Members {
			if g, in := group[o.ID]; o.ID != m.ID && (!in || g != group[m.ID]) {
				peers = append(peers, uint64(o.ID))
			}
		}
		_, err := l.client.Admin(ctx, m.HTTPAddr, "partition", server.AdminRequest{Peers: peers})
		return err
	})
	if ok == 0 {
		return unavailable("partition: no broker accepted it: %v", errors.Join(errs...))
	}
	l.logf("partition %v (cut on %d brokers)", a.Groups, ok)
	return nil
}

// heal restores the links of every broker that answers. A broker's heal
// also clears its links' latency and loss; the shaping the net and link
// actions set is given back, since in the simulator heal only ends cuts.
func (l *Live) heal(ctx context.Context) error {
	ok, errs := l.eachBroker(l.allIDs(), func(m Member) error {
		if _, err := l.client.Admin(ctx, m.HTTPAddr, "heal", server.AdminRequest{}); err != nil {
			return err
		}
		return l.reshape(ctx, m)
	})
	if ok == 0 {
		return unavailable("heal: no broker answered: %v", errors.Join(errs...))
	}
	return nil
}

// transfer asks the current leader to hand leadership to id.
func (l *Live) transfer(ctx context.Context, id int) error {
	lead := leaderOf(l.View())
	if lead == 0 {
		return conflict("transfer: no broker leads right now")
	}
	if lead == id {
		l.logf("transfer: broker %d already leads; nothing to do", id)
		return nil
	}
	if _, err := l.client.Admin(ctx, l.cfg.Members[lead-1].HTTPAddr, "transfer", server.AdminRequest{To: uint64(id)}); err != nil {
		return unavailable("transfer from broker %d to %d: %v", lead, id, err)
	}
	l.logf("leadership transfer from broker %d to broker %d requested", lead, id)
	return nil
}

// leaderOf returns the running broker that leads in the highest term, or 0.
func leaderOf(v sim.ClusterView) int {
	id, term := 0, uint64(0)
	for _, n := range v.Nodes {
		if n.State == "running" && n.Role == "leader" && n.Term >= term {
			id, term = n.ID, n.Term
		}
	}
	return id
}

// linkConf is the shaping of one directed link.
type linkConf struct {
	LatencyMs int64   `json:"latency_ms"`
	JitterMs  int64   `json:"jitter_ms"`
	Loss      float64 `json:"loss"`
}

// linkOf is the shaping of from→to the net and link actions set.
func (l *Live) linkOf(from, to int) linkConf {
	l.mu.Lock()
	defer l.mu.Unlock()
	if c, ok := l.links[[2]int{from, to}]; ok {
		return c
	}
	return l.netDef
}

func (l *Live) setLink(ctx context.Context, m Member, to int, c linkConf) error {
	_, err := l.client.AdminCall(ctx, m.HTTPAddr, "link", struct {
		Peer int `json:"peer"`
		linkConf
	}{to, c})
	return err
}

// reshape gives broker m's outgoing links the shaping set for them (after
// its heal, or its restart).
func (l *Live) reshape(ctx context.Context, m Member) error {
	for _, o := range l.cfg.Members {
		if o.ID == m.ID {
			continue
		}
		if c := l.linkOf(m.ID, o.ID); c != (linkConf{}) {
			if err := l.setLink(ctx, m, o.ID, c); err != nil {
				return err
			}
		}
	}
	return nil
}

// shape performs link (one directed link) and net (every link).
func (l *Live) shape(ctx context.Context, a sim.Action) error {
	c := linkConf{LatencyMs: int64(a.LatencyMs), JitterMs: int64(a.JitterMs), Loss: a.Loss}
	if a.Kind == sim.KindLink {
		l.mu.Lock()
		l.links[[2]int{a.From, a.To}] = c
		l.mu.Unlock()
		if err := l.setLink(ctx, l.cfg.Members[a.From-1], a.To, c); err != nil {
			return unavailable("link %d->%d: %v", a.From, a.To, err)
		}
		l.logf("link %d->%d: latency %d ms, jitter %d ms, loss %v", a.From, a.To, c.LatencyMs, c.JitterMs, c.Loss)
		return nil
	}
	l.mu.Lock()
	l.netDef = c
	clear(l.links)
	l.mu.Unlock()
	ok, errs := l.eachBroker(l.allIDs(), func(m Member) error {
		for _, o := range l.cfg.Members {
			if o.ID != m.ID {
				if err := l.setLink(ctx, m, o.ID, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if ok == 0 {
		return unavailable("net: no broker answered: %v", errors.Join(errs...))
	}
	l.logf("every link: latency %d ms, jitter %d ms, loss %v (%d brokers)", c.LatencyMs, c.JitterMs, c.Loss, ok)
	return nil
}

// oneWay cuts only the links leaving the first group: its brokers drop
// everything they send to the others (loss 1), and still hear them.
func (l *Live) oneWay(ctx context.Context, first []int, group map[int]int) error {
	ok, errs := l.eachBroker(first, func(m Member) error {
		for _, o := range l.cfg.Members {
			if g, in := group[o.ID]; o.ID != m.ID && (!in || g != 0) {
				c := l.linkOf(m.ID, o.ID)
				c.Loss = 1
				if err := l.setLink(ctx, m, o.ID, c); err != nil {
					return err
				}
			}
		}
		return nil
	})
	if ok == 0 {
		return unavailable("partition one-way: no broker accepted it: %v", errors.Join(errs...))
	}
	l.logf("partition one-way: brokers %v drop what they send to the others", first)
	return nil
}

// campaign makes broker id start an election now.
func (l *Live) campaign(ctx context.Context, id int) error {
	out, err := l.client.AdminCall(ctx, l.cfg.Members[id-1].HTTPAddr, "campaign", struct{}{})
	if err != nil {
		return unavailable("campaign on broker %d: %v", id, err)
	}
	if c, _ := out["campaigned"].(bool); !c {
		l.logf("broker %d already leads: campaign ignored", id)
		return nil
	}
	l.logf("broker %d campaigns now (term %v)", id, out["term"])
	return nil
}

// rule switches check_quorum or pre_vote on every broker; the safety rules
// stay in the simulator.
func (l *Live) rule(ctx context.Context, name string, on bool) error {
	if name != sim.RuleCheckQuorum && name != sim.RulePreVote {
		if slices.Contains(server.SafetyRules, name) {
			return &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
				Message: fmt.Sprintf("rule %s stays in the simulator: it is a safety rule, and a real broker never breaks it (the simulator's checkers show what switching it off does)", name)}
		}
		return badAction("rule: unknown rule %q (check_quorum, pre_vote on real brokers)", name)
	}
	l.mu.Lock()
	l.switches[name] = on
	l.mu.Unlock()
	ok, errs := l.eachBroker(l.allIDs(), func(m Member) error {
		_, err := l.client.AdminCall(ctx, m.HTTPAddr, "rules", map[string]bool{name: on})
		return err
	})
	if ok == 0 {
		return unavailable("rule %s: no broker answered: %v", name, errors.Join(errs...))
	}
	l.logf("rule %s %v on %d brokers", name, on, ok)
	return nil
}

// reapply gives a restarted broker the switches and shaping the others
// have, once its API answers.
func (l *Live) reapply(id int) {
	l.mu.Lock()
	sw := make(map[string]bool, len(l.switches))
	for k, v := range l.switches {
		sw[k] = v
	}
	shaped := l.netDef != (linkConf{}) || len(l.links) > 0
	l.mu.Unlock()
	if len(sw) == 0 && !shaped {
		return
	}
	m := l.cfg.Members[id-1]
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		ctx, cancel := context.WithTimeout(l.ctx, 20*time.Second)
		defer cancel()
		for ctx.Err() == nil {
			err := func() error {
				if len(sw) > 0 {
					if _, err := l.client.AdminCall(ctx, m.HTTPAddr, "rules", sw); err != nil {
						return err
					}
				}
				return l.reshape(ctx, m)
			}()
			if err == nil {
				l.logf("broker %d: rules %v and link shaping given again after its restart", id, sw)
				return
			}
			select {
			case <-ctx.Done():
			case <-time.After(50 * time.Millisecond):
			}
		}
	}()
}
