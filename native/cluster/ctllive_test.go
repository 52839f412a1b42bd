package cluster

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"time"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/controller"
	"dledgerlab/core/ctlsim"
	"dledgerlab/core/sim"
	"dledgerlab/native/ctlbroker"
)

// A broker that reports a truncation: the view names what it cut from the
// entries the launcher saw before (and which of them a producer was told
// were acknowledged), logs it once, and logs the broker's role changes.
func TestControllerModeLiveTruncationShowsWhatWasCut(t *testing.T) {
	l := &CtlLive{start: time.Now(), acked: map[int64]string{1: "p1#2"}}
	epochs := controller.EpochFile{{Epoch: 1, StartOffset: 0}}
	before := ctlbroker.Status{Role: "master", MasterEpoch: 1, MaxOffset: 3, Epochs: epochs,
		Log: []ctlbroker.Message{{Offset: 0, Body: "p1#1"}, {Offset: 1, Body: "p1#2"}, {Offset: 2, Body: "p1#3"}}}
	l.takeBroker(0, before, time.Now(), 100)
	after := ctlbroker.Status{Role: "slave", MasterEpoch: 2, MaxOffset: 1, Epochs: epochs,
		Log: []ctlbroker.Message{{Offset: 0, Body: "p1#1"}}, Truncated: &ctlbroker.Truncation{From: 3, To: 1, Epoch: 2}}
	l.takeBroker(0, after, time.Now(), 100)
	l.takeBroker(0, after, time.Now(), 100) // the same truncation again: no new event

	tr := l.brks[0].truncated
	require.NotNil(t, tr)
	assert.Equal(t, int64(3), tr.From)
	assert.Equal(t, int64(1), tr.To)
	assert.Equal(t, 1, tr.Acked, "p1#2 was acknowledged")
	assert.Equal(t, []ctlsim.EntryView{{Offset: 1, Body: "p1#2", Epoch: 1, Acked: true}, {Offset: 2, Body: "p1#3", Epoch: 1}}, tr.Entries)
	var kinds []string
	for _, e := range l.events {
		kinds = append(kinds, e.Kind)
	}
	assert.Equal(t, []string{ctlsim.EventMaster, ctlsim.EventSlave, ctlsim.EventTruncated}, kinds)
}

// Bad actions are refused before anything is done, naming what is wrong.
func TestControllerModeLiveRefusesBadActions(t *testing.T) {
	l := &CtlLive{start: time.Now()}
	for _, tc := range []struct {
		name string
		a    sim.Action
		code string
		want string
	}{
		{"node out of range", sim.Action{Kind: sim.KindCrash, Node: 0}, "BAD_REQUEST", "crash: node 0 is not a network id of this cluster (1..3 controllers, 4..6 brokers)"},
		{"partition id out of range", sim.Action{Kind: sim.KindPartition, Groups: [][]int{{4}, {5, 9}}}, "BAD_REQUEST", "partition: groups[1] names 9"},
		{"partition of one group", sim.Action{Kind: sim.KindPartition, Groups: [][]int{{4, 5, 6}}}, "BAD_REQUEST", "want at least two groups"},
		{"member twice", sim.Action{Kind: sim.KindPartition, Groups: [][]int{{1}, {1, 2}}}, "BAD_REQUEST", "controller 1 is in more than one group"},
		{"rate", sim.Action{Kind: sim.KindProducer, Rate: 5000}, "BAD_REQUEST", "producer: rate 5000 is not 0..1000"},
		{"simulator only", sim.Action{Kind: sim.KindDiskFlip, Node: 4}, CodeUnsupported, `"disk_flip" is not an action of the Controller-mode live view`},
		{"unknown", sim.Action{Kind: "explode"}, "BAD_REQUEST", `unknown action kind "explode"`},
	} {
		t.Run(tc.name, func(t *testing.T) {
			err := l.Do(context.Background(), tc.a)
			var ae *ActionError
			require.True(t, errors.As(err, &ae), "%v", err)
			assert.Equal(t, tc.code, ae.Code)
			assert.Equal(t, http.StatusBadRequest, ae.Status)
			assert.Contains(t, ae.Message, tc.want)
		})
	}
}
