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
//
// Network shaping, rules, disk faults, traps and campaign are the
// simulator's; they answer UNSUPPORTED.
func (l *Live) Do(ctx context.Context, a sim.Action) error {
	n := len(l.cfg.Members)
	node := func(id int) error {
		if id < 1 || id > n {
			return badAction("%s: broker %d is not a broker of this cluster (1..%d)", a.Kind, id, n)
		}
		return nil
	}
	switch a.Kind {
	case sim.KindCrash, sim.KindRestart, sim.KindPause, sim.KindResume, sim.KindIsolate, sim.KindTransfer:
		if err := node(a.Node); err != nil {
			return err
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
	case sim.KindLink, sim.KindNet, sim.KindRule, sim.KindDiskFlip, sim.KindCampaign, sim.KindTrap:
		err = &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
			Message: fmt.Sprintf("%q works in the simulator only; on real brokers use crash, restart, pause, resume, partition, isolate, heal, transfer, produce, producer or consumer", a.Kind)}
	default:
		err = badAction("unknown action kind %q (crash, restart, pause, resume, partition, isolate, heal, transfer, produce, producer, consumer)", a.Kind)
	}
	if err == nil {
		l.note(a.Node, "action", describe(a))
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
	l.note(id, "crashed", fmt.Sprintf("SIGKILL pid %d", pid))
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
	l.note(id, "restarted", fmt.Sprintf("pid %d, data %s", pn.Pid(), pn.Dir))
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
	if a.OneWay {
		return &ActionError{Status: http.StatusBadRequest, Code: CodeUnsupported,
			Message: "one-way partitions work in the simulator only: a real broker cuts a link both ways"}
	}
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

// heal restores the links of every broker that answers.
func (l *Live) heal(ctx context.Context) error {
	ok, errs := l.eachBroker(l.allIDs(), func(m Member) error {
		_, err := l.client.Admin(ctx, m.HTTPAddr, "heal", server.AdminRequest{})
		return err
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
		return conflict("transfer: broker %d already leads", id)
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
