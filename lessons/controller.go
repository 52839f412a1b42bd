package lessons

import (
	"embed"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"

	"dledgerlab/core/ctlsim"
	"dledgerlab/lessons/ctlguide"
)

// The Controller-mode lessons (issue 20) live in controller/: the same
// file shape, with Controller mode's words for actions and checks
// (package ctlguide; README.md, "Controller-mode lessons") and a cluster
// of ctlsim settings.
//
//go:embed controller/*.yaml
var ctlFiles embed.FS

// ctlCluster is a Controller-mode lesson's cluster: ctlsim.Settings by
// RocketMQ's names.
type ctlCluster struct {
	Seed                     uint64 `yaml:"seed"`
	MinInSyncReplicas        int    `yaml:"min_in_sync_replicas"`
	AllAckInSyncStateSet     *bool  `yaml:"all_ack_in_sync_state_set"`
	EnableElectUncleanMaster bool   `yaml:"enable_elect_unclean_master"`
}

// ParseController reads one Controller-mode lesson file. Errors name the
// file, the line and what was expected.
func ParseController(name string, data []byte) (*ctlguide.Lesson, error) {
	raw, doc, bad, err := decode(name, data)
	if err != nil {
		return nil, err
	}
	l := ctlguide.Lesson{ID: raw.ID, Order: raw.Order, Mode: "controller", Title: raw.Title, Intro: raw.Intro, Quiz: raw.Quiz, File: name, SimOnly: raw.SimOnly}
	l.Steps, l.Goal = raw.steps(doc), raw.goal()
	l.Cluster = ctlsim.Settings{Seed: 1}
	if raw.Cluster.Kind != 0 {
		var c ctlCluster
		c.Seed = 1
		if err := raw.Cluster.Decode(&c); err != nil {
			return nil, bad(raw.Cluster.Line, "cluster: %v", strings.TrimPrefix(err.Error(), "yaml: "))
		}
		l.Cluster = ctlsim.Settings{Seed: c.Seed, MinInSyncReplicas: c.MinInSyncReplicas, AllAckInSyncStateSet: c.AllAckInSyncStateSet, EnableElectUncleanMaster: c.EnableElectUncleanMaster}
		if _, err := ctlsim.New(l.Cluster.Config()); err != nil {
			return nil, bad(raw.Cluster.Line, "cluster: %v", err)
		}
	}
	if err := checkTexts(l.ID, l.Title, l.Intro, l.Steps, l.Goal, l.Quiz, bad, lineOf(doc)); err != nil {
		return nil, err
	}
	if err := ctlguide.Prepare(&l); err != nil {
		return nil, fmt.Errorf("%w: %s:%v", ErrLesson, name, strings.TrimPrefix(err.Error(), "line "))
	}
	if !l.SimOnly {
		if line, why := ctlguide.NeedsSimulator(&l); why != "" {
			return nil, bad(line, "%s: mark the lesson sim_only: true (real processes have no seed and no checkers)", why)
		}
	}
	return &l, nil
}

// Controller loads every embedded Controller-mode lesson, in order.
func Controller() ([]*ctlguide.Lesson, error) {
	sub, err := fs.Sub(ctlFiles, "controller")
	if err != nil {
		return nil, err
	}
	return LoadControllerFS(sub)
}

// LoadControllerFS loads every *.yaml Controller-mode lesson in fsys.
func LoadControllerFS(fsys fs.FS) ([]*ctlguide.Lesson, error) {
	names, err := fs.Glob(fsys, "*.yaml")
	if err != nil {
		return nil, err
	}
	var out []*ctlguide.Lesson
	var errs []error
	for _, name := range names {
		data, err := fs.ReadFile(fsys, name)
		if err != nil {
			return nil, err
		}
		l, err := ParseController(name, data)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		out = append(out, l)
	}
	slices.SortFunc(out, func(a, b *ctlguide.Lesson) int {
		if a.Order != b.Order {
			return a.Order - b.Order
		}
		return strings.Compare(a.ID, b.ID)
	})
	return out, errors.Join(errs...)
}
