package sim

import (
	"encoding/json"
	"reflect"
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/internal/minijson"
	"dledgerlab/internal/minijson/jsontest"
)

// Config and Action are written as json.Marshal writes them, every field
// set, empty or zero; and read back to the same values.
func TestInputJSONCoversEveryField(t *testing.T) {
	var fullC, emptyC Config
	jsontest.Full(&fullC)
	jsontest.Empty(&emptyC)
	for name, c := range map[string]Config{"full": fullC, "empty": emptyC, "zero": {}, "default": DefaultConfig()} {
		want, err := json.Marshal(c)
		require.NoError(t, err)
		var w minijson.Writer
		c.writeJSON(&w)
		assert.Equal(t, string(want), string(w.B), "Config %s", name)
		var got Config
		d := minijson.NewDecoder(want)
		require.NoError(t, got.DecodeJSON(d), name)
		require.NoError(t, d.End())
		assert.Equal(t, c, got, "Config %s read back", name)
	}
	var fullA, emptyA Action
	jsontest.Full(&fullA)
	jsontest.Empty(&emptyA)
	for name, a := range map[string]Action{"full": fullA, "empty": emptyA, "zero": {}} {
		want, err := json.Marshal(a)
		require.NoError(t, err)
		var w minijson.Writer
		a.writeJSON(&w)
		assert.Equal(t, string(want), string(w.B), "Action %s", name)
		got, err := DecodeActionsJSON(append(append([]byte("["), want...), ']'))
		require.NoError(t, err, name)
		var exp []Action
		require.NoError(t, json.Unmarshal(append(append([]byte("["), want...), ']'), &exp))
		assert.Equal(t, exp, got, "Action %s read back", name)
	}
}

// What the page may send: settings over the defaults, and action batches.
var settingsDocs = []string{
	`{}`, `{"nodes":5,"seed":42}`, `{"nodes":7,"seed":null}`, `{"Nodes":4,"SEED":9}`, `{"nodes":"5"}`, `{"nodes":5.5}`,
	`{"seed":18446744073709551615}`, `{"seed":-1}`, `{"seed":1e30}`, `{"loss":0.25,"dup":1e-7,"reorder":null}`,
	`{"rules":{"CommitOldTerms":true}}`, `{"rules":{"commitoldterms":true,"ackBeforePersist":true}}`, `{"rules":null}`,
	`{"rules":true}`, `{"rules":{"CommitOldTerms":1}}`, `{"nodes":3,"nodez":4}`, `{"nodes":3,"extra":{"deep":[1,2,{"x":"y"}]}}`,
	`{"checkpoint_ms":-1,"segment_size":4096,"record_history":true,"disable_pre_vote":true}`, `{"nodes":3}garbage`,
	`{"nodes":3,}`, `[]`, `null`, `{"nodes":3,"nodes":5}`, `{"tick_ms":10.0}`, `{"nodes": 3 ,` + "\n" + ` "seed" : 8 }`,
}

var actionDocs = []string{
	`[]`, `null`, `[{"kind":"crash","node":2}]`, `[{"kind":"partition","groups":[[1,2],[3]],"one_way":true}]`,
	`[{"kind":"produce","topic":"t","body":"<b>\u00e9\ud83c\udf89</b>","id":"p1"}]`,
	`[{"kind":"link","from":1,"to":2,"latency_ms":30,"loss":0.5,"dup":0.1,"reorder":0.2,"jitter_ms":5}]`,
	`[{"kind":"producer","rate":12.5,"topic":"t"},{"kind":"rule","rule":"pre_vote","on":false}]`,
	`[{"kind":"disk_flip","node":1,"offset":7,"at":99}]`, `[{"kind":"crash","node":"2"}]`, `[{"kind":"crash"},{"kind":5}]`,
	`[{"kind":"partition","groups":[[1,"x"]]}]`, `[{"kind":"partition","groups":[1,2]}]`, `{"kind":"crash"}`,
	`[{"KIND":"heal","Node":1,"unknown":[]}]`, `[null,{"kind":"heal"}]`, `[{"kind":"crash","node":1},]`, `[1]`, `"crash"`,
	`[{"kind":"trap","rule":"none","on":true,"groups":null}]`,
}

// The page's settings and actions are read as json.Unmarshal reads them
// (settings over DefaultConfig): the same values, or both refuse.
func TestInputJSONReadsAsEncodingJSON(t *testing.T) {
	for _, doc := range settingsDocs {
		checkSettingsDoc(t, doc)
	}
	for _, doc := range actionDocs {
		checkActionsDoc(t, doc)
	}
}

func checkSettingsDoc(t *testing.T, doc string) {
	t.Helper()
	want, got := DefaultConfig(), DefaultConfig()
	wantErr := json.Unmarshal([]byte(doc), &want)
	d := minijson.NewDecoder([]byte(doc))
	err := got.DecodeJSON(d)
	if err == nil {
		err = d.End()
	}
	if wantErr != nil {
		if err == nil {
			t.Fatalf("settings %q: accepted; encoding/json says %v", doc, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("settings %q: %v; encoding/json accepts it", doc, err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("settings %q:\nminijson     %+v\nencoding/json %+v", doc, got, want)
	}
}

func checkActionsDoc(t *testing.T, doc string) {
	t.Helper()
	var want []Action
	wantErr := json.Unmarshal([]byte(doc), &want)
	got, err := DecodeActionsJSON([]byte(doc))
	if wantErr != nil {
		if err == nil {
			t.Fatalf("actions %q: accepted; encoding/json says %v", doc, wantErr)
		}
		return
	}
	if err != nil {
		t.Fatalf("actions %q: %v; encoding/json accepts it", doc, err)
	}
	if !reflect.DeepEqual(want, got) {
		t.Fatalf("actions %q:\nminijson      %#v\nencoding/json %#v", doc, got, want)
	}
}

func FuzzSettingsReadAsEncodingJSON(f *testing.F) {
	for _, doc := range settingsDocs {
		f.Add(doc)
	}
	f.Fuzz(checkSettingsDoc)
}

func FuzzActionsReadAsEncodingJSON(f *testing.F) {
	for _, doc := range actionDocs {
		f.Add(doc)
	}
	f.Fuzz(checkActionsDoc)
}

// A mistake in the page's input is named in the error.
func TestInputJSONErrorsNameTheField(t *testing.T) {
	_, err := DecodeActionsJSON([]byte(`[{"kind":"crash","node":1},{"kind":"crash","node":"2"}]`))
	assert.EqualError(t, err, `[1].node: want an integer, got the string "2"`)
	c := DefaultConfig()
	assert.EqualError(t, c.DecodeJSON(minijson.NewDecoder([]byte(`{"rules":{"CommitOldTerms":"yes"}}`))),
		`rules.CommitOldTerms: want true or false, got the string "yes"`)
}
