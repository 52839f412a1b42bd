package main

import (
	"context"
	"fmt"
	"os"
	"time"

	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/lessons/ctlguide"
	"dledgerlab/native/cluster"
)

// ctlLessonWorld is a Controller-mode lesson's world on real processes
// (ctlguide.World): the launcher's live view of them (cluster.CtlLive),
// its actions, and real time.
type ctlLessonWorld struct {
	ctx  context.Context
	live *cluster.CtlLive
}

func (w *ctlLessonWorld) Now() int64            { return w.live.NowMs() }
func (w *ctlLessonWorld) View() ctlsim.View     { return w.live.View() }
func (w *ctlLessonWorld) Do(a sim.Action) error { return w.live.Do(w.ctx, a) }
func (w *ctlLessonWorld) Checkers() bool        { return false }
func (w *ctlLessonWorld) Advance(ms int64) {
	t := time.NewTimer(time.Duration(ms) * time.Millisecond)
	defer t.Stop()
	select {
	case <-t.C:
	case <-w.ctx.Done():
	}
}

// runCtlLessonNative plays a Controller-mode lesson on 3 controllers and a
// broker group of 3 started for it in a temporary folder on free ports
// (the launcher of cluster --mode controller, without its page), with the
// simulator's 2 s broker timeout so the lesson's bounds hold; say narrates.
func runCtlLessonNative(ctx context.Context, l *ctlguide.Lesson, lang string, say func(string)) error {
	if l.SimOnly {
		return fmt.Errorf("lesson %s needs the simulator (its seed names the master, or its checks need the checkers); run it without --native", l.ID)
	}
	dir, err := os.MkdirTemp("", "dledgerlab-ctl-lesson-")
	if err != nil {
		return err
	}
	defer os.RemoveAll(dir)
	base, err := cluster.FreeBasePort("127.0.0.1", ctlClusterBrokers+ctlClusterControllers)
	if err != nil {
		return fmt.Errorf("no free ports for the lesson's controllers and brokers: %w", err)
	}
	o := controllerClusterOptions{dir: dir, basePort: base, brokerTimeout: 2 * time.Second,
		allAck:  l.Cluster.AllAckInSyncStateSet == nil || *l.Cluster.AllAckInSyncStateSet,
		unclean: l.Cluster.EnableElectUncleanMaster, minISR: max(1, l.Cluster.MinInSyncReplicas)}
	c, _, err := startControllerCluster(ctx, o, nil)
	if err != nil {
		return err
	}
	defer c.stop()
	return ctlguide.NarrateOn(&ctlLessonWorld{ctx: ctx, live: c.live}, l, lang, say)
}
