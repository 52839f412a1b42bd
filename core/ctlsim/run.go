package ctlsim

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"slices"

	"dledgerlab/core/sim"
)

// Settings are what the playground lets a learner choose for a run, in
// RocketMQ's names (the broker's minInSyncReplicas and
// allAckInSyncStateSet, the controller's enableElectUncleanMaster).
type Settings struct {
	Seed                     uint64 `json:"seed"`
	MinInSyncReplicas        int    `json:"min_in_sync_replicas"`
	AllAckInSyncStateSet     *bool  `json:"all_ack_in_sync_state_set,omitempty"`
	EnableElectUncleanMaster bool   `json:"enable_elect_unclean_master"`
}

// Config returns the simulator configuration for s (defaults elsewhere).
func (s Settings) Config() Config {
	c := DefaultConfig()
	c.Seed = s.Seed
	if s.MinInSyncReplicas != 0 {
		c.MinInSyncReplicas = s.MinInSyncReplicas
	}
	c.AnyAck = s.AllAckInSyncStateSet != nil && !*s.AllAckInSyncStateSet
	c.Unclean = s.EnableElectUncleanMaster
	return c
}

// Kinds a Run takes beyond Sim.Do's network and node actions.
const (
	// KindProduce sends one message through producer ID ("p1" if empty).
	KindProduce = sim.KindProduce
	// KindProducer starts producer ID at Rate messages per second (0 stops it).
	KindProducer = sim.KindProducer
	// KindConsumer starts consumer ID.
	KindConsumer = sim.KindConsumer
)

// Run is a Controller-mode run the playground can rewind and share: its
// settings and every action with the virtual time it happened at. A run
// is a function of both (core/sim's rule), so going back replays from the
// start; the actions recorded after the moment gone back to play again
// as time passes, until a new action replaces them (a fork).
type Run struct {
	set  Settings
	acts []sim.Action
	next int // acts[next:] have not happened yet in s
	s    *Sim
	// end is the furthest time the run has reached.
	end int64
}

// NewRun starts a run at time 0.
func NewRun(set Settings) (*Run, error) {
	s, err := New(set.Config())
	if err != nil {
		return nil, err
	}
	return &Run{set: set, s: s}, nil
}

// Now returns the run's virtual time in milliseconds.
func (r *Run) Now() int64 { return r.s.Now() }

// Checkers reports that a run's violations come from the simulator's
// checkers (as opposed to a view of real processes).
func (r *Run) Checkers() bool { return true }

// Sim returns the simulator at the run's current moment.
func (r *Run) Sim() *Sim { return r.s }

// Settings returns the run's settings.
func (r *Run) Settings() Settings { return r.set }

// Do performs a at the current time, replacing any actions recorded
// after it. A refused action is not recorded and changes nothing.
func (r *Run) Do(a sim.Action) error {
	if err := validate(a); err != nil {
		return err
	}
	if err := r.apply(a); err != nil {
		return err
	}
	a.AtMs = r.s.Now()
	r.acts = append(r.acts[:r.next], a)
	r.next = len(r.acts)
	r.end = r.s.Now()
	return nil
}

// validate refuses what apply cannot take back: a client action with a
// bad field (Sim.Do checks node actions before changing anything).
func validate(a sim.Action) error {
	switch a.Kind {
	case KindProducer:
		if a.Rate < 0 || a.Rate > 1000 {
			return fmt.Errorf("producer: rate %g is not 0..1000 messages per second", a.Rate)
		}
	case KindProduce, KindConsumer:
	default:
		return nil
	}
	if len(a.ID) > 64 {
		return fmt.Errorf("%s: id is longer than 64 bytes", a.Kind)
	}
	return nil
}

func clientID(a sim.Action, def string) string {
	if a.ID == "" {
		return def
	}
	return a.ID
}

func (r *Run) apply(a sim.Action) error {
	switch a.Kind {
	case KindProduce:
		r.s.Produce(clientID(a, "p1"))
	case KindProducer:
		r.s.StartProducer(clientID(a, "p1"), a.Rate)
	case KindConsumer:
		r.s.StartConsumer(clientID(a, "c1"))
	default:
		return r.s.Do(a)
	}
	return nil
}

// maxRunMs bounds how far a run goes (a day of virtual time), so a
// forgotten tab or a hostile link cannot ask for unbounded work.
const maxRunMs = 24 * 3600 * 1000

// Advance runs ms of virtual time, performing the recorded actions that
// fall in it at their times.
func (r *Run) Advance(ms int64) {
	to := min(r.s.Now()+max(0, ms), maxRunMs)
	for r.next < len(r.acts) && r.acts[r.next].AtMs <= to {
		a := r.acts[r.next]
		r.s.Advance(a.AtMs - r.s.Now())
		if err := r.apply(a); err != nil {
			// Recorded actions were accepted when made; a replay that
			// refuses one is a bug in the simulator's determinism.
			panic(fmt.Sprintf("replaying %s at %d ms: %v", a.Kind, a.AtMs, err))
		}
		r.next++
	}
	r.s.Advance(to - r.s.Now())
	r.end = max(r.end, r.s.Now())
}

// SeekTo moves the run to virtual time ms: forward by running, back by
// replaying from the start.
func (r *Run) SeekTo(ms int64) error {
	ms = min(max(0, ms), maxRunMs)
	if ms < r.s.Now() {
		s, err := New(r.set.Config())
		if err != nil {
			return err
		}
		r.s, r.next = s, 0
	}
	end := r.end
	r.Advance(ms - r.s.Now())
	r.end = end
	if r.s.Now() > end {
		r.end = r.s.Now()
	}
	return nil
}

// Actions returns how many actions the run has recorded.
func (r *Run) Actions() int { return len(r.acts) }

// ForkAt goes back to virtual time ms keeping only the first actions
// recorded (a count, since several can share a moment): the run goes on
// from there as if the others never happened (a lesson's Back plays a step
// again from where it began).
func (r *Run) ForkAt(ms int64, actions int) error {
	s, err := New(r.set.Config())
	if err != nil {
		return err
	}
	r.acts = r.acts[:min(max(0, actions), len(r.acts))]
	if n := len(r.acts); n > 0 && r.acts[n-1].AtMs > ms {
		return fmt.Errorf("fork at %d ms: the %d actions kept reach %d ms", ms, n, r.acts[n-1].AtMs)
	}
	r.s, r.next, r.end = s, 0, 0
	r.Advance(ms)
	return nil
}

// View describes the run now, with its timeline.
func (r *Run) View() View {
	v := r.s.View()
	v.Timeline.EndMs = max(r.end, r.s.Now())
	for _, a := range r.acts {
		v.Timeline.Actions = append(v.Timeline.Actions, TimelineMark{AtMs: a.AtMs, Kind: a.Kind, Node: a.Node})
	}
	return v
}

// shareVersion is the version of a Controller-mode share link's JSON.
const shareVersion = 1

// Share is a run as a share link carries it.
type Share struct {
	V        int          `json:"v"`
	Mode     string       `json:"mode"`
	Settings Settings     `json:"settings"`
	Actions  []sim.Action `json:"actions"`
	// EndMs is how far the run had gone.
	EndMs int64 `json:"end_ms"`
}

// Share returns the run's settings and actions (all of them, also those
// after the current moment).
func (r *Run) Share() Share {
	acts := slices.Clone(r.acts)
	if acts == nil {
		acts = []sim.Action{}
	}
	return Share{V: shareVersion, Mode: "controller", Settings: r.set, Actions: acts, EndMs: r.end}
}

// ErrShare is wrapped by every error about a share link's content.
var ErrShare = errors.New("controller-mode link")

// maxShareActions bounds a link's actions (a hostile link must not make
// the page replay without end).
const maxShareActions = 10_000

// LoadShare rebuilds a run from a link's JSON and plays it to its end.
// Anything wrong (unknown fields, a bad setting, an action the run
// refuses) is an error naming what and where.
func LoadShare(data []byte) (*Run, error) {
	var sh Share
	dec := json.NewDecoder(bytes.NewReader(data))
	dec.DisallowUnknownFields()
	if err := dec.Decode(&sh); err != nil {
		return nil, fmt.Errorf("%w: %v", ErrShare, err)
	}
	switch {
	case sh.V != shareVersion:
		return nil, fmt.Errorf("%w: version %d, want %d", ErrShare, sh.V, shareVersion)
	case sh.Mode != "controller":
		return nil, fmt.Errorf("%w: mode %q, want \"controller\"", ErrShare, sh.Mode)
	case len(sh.Actions) > maxShareActions:
		return nil, fmt.Errorf("%w: %d actions, at most %d", ErrShare, len(sh.Actions), maxShareActions)
	case sh.EndMs < 0 || sh.EndMs > maxRunMs:
		return nil, fmt.Errorf("%w: end_ms %d is not 0..%d", ErrShare, sh.EndMs, maxRunMs)
	}
	r, err := NewRun(sh.Settings)
	if err != nil {
		return nil, fmt.Errorf("%w: settings: %v", ErrShare, err)
	}
	last := int64(0)
	for i, a := range sh.Actions {
		if a.AtMs < last || a.AtMs > maxRunMs {
			return nil, fmt.Errorf("%w: action %d (%s) at %d ms: times must rise, within 0..%d", ErrShare, i, a.Kind, a.AtMs, maxRunMs)
		}
		last = a.AtMs
		r.Advance(a.AtMs - r.s.Now())
		if err := r.Do(a); err != nil {
			return nil, fmt.Errorf("%w: action %d (%s) at %d ms: %v", ErrShare, i, a.Kind, a.AtMs, err)
		}
	}
	r.Advance(sh.EndMs - r.s.Now())
	return r, nil
}
