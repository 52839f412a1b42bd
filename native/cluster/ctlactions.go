package cluster

// Actions on a real Controller-mode cluster: the sim.Action JSON the page
// sends to Controller mode's simulator, performed on the processes and
// through their admin APIs. Network ids are the simulator's: controllers
// 1..3, brokers 4..6.

import (
	"context"
	"fmt"
	"net/http"
	"slices"
	"time"

	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/native/client"
	"dledgerlab/native/server"
)

// Do performs one action on the real cluster:
//
//	crash      SIGKILL the process of Node
//	restart    start it again with its data folder (and the cuts in force)
//	pause      SIGSTOP / resume SIGCONT it
//	partition  every member of Groups cuts its links to the members of the
//	           other groups (POST /v1/admin/partition); members not named
//	           keep their links
//	isolate    Node and every other member cut the links between them
//	heal       every member restores its links
//	produce    one message through producer ID (default p1)
//	producer   producer ID at Rate messages/s (0 stops it)
//	consumer   consumer ID (default c1) reads from the master
//
// Everything else is the simulator's and answers UNSUPPORTED; bad fields
// answer BAD_REQUEST naming the field.
func (l *CtlLive) Do(ctx context.Context, a sim.Action) error {
	node := func() error {
		if a.Node < 1 || a.Node > ctlMembers {
			return badAction("%s: node %d is not a network id of this cluster (1..3 controllers, 4..6 brokers)", a.Kind, a.Node)
		}
		return nil
	}
	var err error
	switch a.Kind {
	case sim.KindCrash, sim.KindRestart, sim.KindPause, sim.KindResume, sim.KindIsolate:
		if err := node(); err != nil {
			return err
		}
	case sim.KindProducer:
		if a.Rate < 0 || a.Rate > 1000 || a.Rate != a.Rate {
			return badAction("producer: rate %v is not 0..1000 messages per second", a.Rate)
		}
		fallthrough
	case sim.KindProduce, sim.KindConsumer:
		if len(a.ID) > 64 {
			return badAction("%s: id is longer than 64 bytes", a.Kind)
		}
	}
	switch a.Kind {
	case sim.KindCrash:
		err = l.crash(a.Node)
	case sim.KindRestart:
		err = l.restart(a.Node)
	case sim.KindPause, sim.KindResume:
		err = l.pause(a.Node, a.Kind == sim.KindPause)
	case sim.KindPartition:
		err = l.partition(ctx, a.Groups)
	case sim.KindIsolate:
		var rest []int
		for id := 1; id <= ctlMembers; id++ {
			if id != a.Node {
				rest = append(rest, id)
			}
		}
		err = l.partition(ctx, [][]int{{a.Node}, rest})
	case sim.KindHeal:
		err = l.heal(ctx)
	case sim.KindProduce:
		err = l.clients.produce(or(a.ID, "p1"))
	case sim.KindProducer:
		err = l.clients.producer(or(a.ID, "p1"), a.Rate)
	case sim.KindConsumer:
		err = l.clients.consumer(or(a.ID, "c1"))
	case sim.KindTransfer, sim.KindCampaign, sim.KindRule, sim.KindLink, sim.KindNet, sim.KindDiskFlip, sim.KindTrap:
		err = &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
			Message: fmt.Sprintf("%q is not an action of the Controller-mode live view: use crash, restart, pause, resume, partition, isolate, heal, produce, producer or consumer", a.Kind)}
	default:
		err = badAction("unknown action kind %q (crash, restart, pause, resume, partition, isolate, heal, produce, producer, consumer)", a.Kind)
	}
	if err == nil {
		a.AtMs = l.nowMs()
		l.mu.Lock()
		l.logEvent(ctlsim.Event{Kind: ctlsim.EventAction, Action: &a})
		l.mu.Unlock()
		l.logf("%s", describeCtl(a))
	}
	return err
}

func or(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

// describeCtl is an action in a few words, for the launcher's output.
func describeCtl(a sim.Action) string {
	switch a.Kind {
	case sim.KindPartition:
		return fmt.Sprintf("partition %v (network ids: controllers 1..3, brokers 4..6)", a.Groups)
	case sim.KindHeal:
		return "heal: every link restored"
	case sim.KindProduce:
		return fmt.Sprintf("produce one message (producer %s)", or(a.ID, "p1"))
	case sim.KindProducer:
		return fmt.Sprintf("producer %s at %v/s", or(a.ID, "p1"), a.Rate)
	case sim.KindConsumer:
		return fmt.Sprintf("consumer %s started", or(a.ID, "c1"))
	}
	return fmt.Sprintf("%s %s", a.Kind, nodeName(a.Node))
}

func (l *CtlLive) crash(id int) error {
	pn := l.node(id)
	if !pn.Running() {
		return conflict("%s is not running", nodeName(id))
	}
	pid := pn.Pid()
	l.mu.Lock()
	delete(l.paused, id) // SIGKILL ends a stopped process too
	l.mu.Unlock()
	pn.Kill()
	l.logf("%s killed (SIGKILL, pid %d)", nodeName(id), pid)
	return nil
}

func (l *CtlLive) restart(id int) error {
	pn := l.node(id)
	if pn.Running() {
		return conflict("%s is already running (pid %d)", nodeName(id), pn.Pid())
	}
	c, cid := l.cfg.Controllers, id
	if id > ctlCtls {
		c, cid = l.cfg.Brokers, id-ctlCtls
	}
	if err := c.Start(cid); err != nil {
		return unavailable("restart %s: %v", nodeName(id), err)
	}
	l.logf("%s restarted (pid %d) with its data folder %s", nodeName(id), pn.Pid(), pn.Dir)
	l.reapply(id, true)
	return nil
}

func (l *CtlLive) pause(id int, on bool) error {
	pn := l.node(id)
	if !pn.Running() {
		return conflict("%s is not running", nodeName(id))
	}
	l.mu.Lock()
	defer l.mu.Unlock()
	if l.paused[id] == on {
		if on {
			return conflict("%s is already paused", nodeName(id))
		}
		return conflict("%s is not paused", nodeName(id))
	}
	if err := signalStop(pn.Pid(), on); err != nil {
		return unavailable("%s %s: %v", map[bool]string{true: "pause", false: "resume"}[on], nodeName(id), err)
	}
	l.paused[id] = on
	if !on {
		l.reapply(id, false) // partitions and heals while it was stopped
	}
	return nil
}

// reapply gives member id, restarted or resumed, the cuts in force: a
// new process holds none, a stopped one missed the partitions and heals
// since (restarted: a new process, which needs no heal). In the background,
// retried until it listens (5 s at most).
func (l *CtlLive) reapply(id int, restarted bool) {
	l.wg.Add(1)
	go func() {
		defer l.wg.Done()
		pn := l.node(id)
		for range 50 {
			var cut []int
			l.mu.Lock()
			for c := range l.cuts {
				if c[0] == id {
					cut = append(cut, c[1])
				} else if c[1] == id {
					cut = append(cut, c[0])
				}
			}
			l.mu.Unlock()
			if restarted && len(cut) == 0 {
				return
			}
			var err error
			if !restarted {
				_, err = l.adminClient().AdminCall(l.ctx, pn.HTTPAddr, "heal", struct{}{})
			}
			if err == nil && len(cut) > 0 {
				err = l.cutOff(l.ctx, id, cut)
			}
			if err == nil || l.ctx.Err() != nil || !pn.Running() {
				return
			}
			select {
			case <-l.ctx.Done():
				return
			case <-time.After(100 * time.Millisecond):
			}
		}
	}()
}

// partition checks groups (network ids 1..6, each at most once, at least
// two groups with members) and has each member named cut the members of
// the other groups.
func (l *CtlLive) partition(ctx context.Context, groups [][]int) error {
	seen := map[int]bool{}
	nonEmpty := 0
	for gi, g := range groups {
		if len(g) > 0 {
			nonEmpty++
		}
		for _, id := range g {
			if id < 1 || id > ctlMembers {
				return badAction("partition: groups[%d] names %d, not a network id of this cluster (1..3 controllers, 4..6 brokers)", gi, id)
			}
			if seen[id] {
				return badAction("partition: %s is in more than one group", nodeName(id))
			}
			seen[id] = true
		}
	}
	if nonEmpty < 2 {
		return badAction("partition: groups %v: want at least two groups with members, e.g. [[4],[5,6]]", groups)
	}
	cutOf := map[int][]int{}
	l.mu.Lock()
	for gi, g := range groups {
		for gj, h := range groups {
			if gi == gj {
				continue
			}
			for _, a := range g {
				for _, b := range h {
					cutOf[a] = append(cutOf[a], b)
					l.cuts[[2]int{min(a, b), max(a, b)}] = true
				}
			}
		}
	}
	l.mu.Unlock()
	ids := make([]int, 0, len(cutOf))
	for id := range cutOf {
		ids = append(ids, id)
	}
	slices.Sort(ids)
	for _, id := range ids {
		if !l.node(id).Running() || l.isPaused(id) {
			continue // it takes the cuts when restarted or resumed
		}
		if err := l.cutOff(ctx, id, cutOf[id]); err != nil {
			return unavailable("partition: %v", err)
		}
	}
	return nil
}

// cutOff has member id cut its links to the network ids in others.
func (l *CtlLive) cutOff(ctx context.Context, id int, others []int) error {
	var req server.AdminRequest
	for _, o := range others {
		if o <= ctlCtls {
			req.Controllers = append(req.Controllers, uint64(o))
		} else {
			req.Brokers = append(req.Brokers, uint64(o-ctlCtls))
		}
	}
	if _, err := l.adminClient().AdminCall(ctx, l.node(id).HTTPAddr, "partition", req); err != nil {
		return fmt.Errorf("%s: %v", nodeName(id), err)
	}
	return nil
}

func (l *CtlLive) heal(ctx context.Context) error {
	l.mu.Lock()
	clear(l.cuts)
	l.mu.Unlock()
	var failed []string
	for id := 1; id <= ctlMembers; id++ {
		pn := l.node(id)
		if !pn.Running() || l.isPaused(id) {
			continue // healed when restarted or resumed
		}
		if _, err := l.adminClient().AdminCall(ctx, pn.HTTPAddr, "heal", struct{}{}); err != nil {
			failed = append(failed, fmt.Sprintf("%s: %v", nodeName(id), err))
		}
	}
	if failed != nil {
		return unavailable("heal: %v", failed)
	}
	return nil
}

func (l *CtlLive) isPaused(id int) bool {
	l.mu.Lock()
	defer l.mu.Unlock()
	return l.paused[id]
}

func (l *CtlLive) adminClient() *client.Client {
	cl := client.New(nil)
	cl.AdminToken = l.cfg.AdminToken
	cl.HTTP.Timeout = 5 * time.Second
	return cl
}
