package proc

import (
	"os"
	"runtime"
	"slices"
	"strconv"
	"testing"

	"github.com/stretchr/testify/assert"
)

func TestCoreShare(t *testing.T) {
	assert.Equal(t, 1, CoreShare(2, 3), "three brokers on two cores: one each")
	assert.Equal(t, 1, CoreShare(2, 5))
	assert.Equal(t, 2, CoreShare(8, 3))
	assert.Equal(t, 4, CoreShare(8, 2))
	assert.Equal(t, 1, CoreShare(1, 0))
}

// Each broker a cluster starts gets its share of the cores unless the
// launching environment says otherwise.
func TestEnvGivesEachBrokerItsShareOfTheCores(t *testing.T) {
	c := &Cluster{Nodes: []*Node{{ID: 1}, {ID: 2}, {ID: 3}}, Secret: "s", AdminToken: "a"}
	old, had := os.LookupEnv("GOMAXPROCS")
	t.Cleanup(func() {
		if had {
			os.Setenv("GOMAXPROCS", old)
		} else {
			os.Unsetenv("GOMAXPROCS")
		}
	})
	os.Unsetenv("GOMAXPROCS")
	want := "GOMAXPROCS=" + strconv.Itoa(CoreShare(runtime.NumCPU(), 3))
	assert.Contains(t, c.Env(1), want)
	assert.Contains(t, c.Env(1), "DLEDGERLAB_SECRET=s")

	os.Setenv("GOMAXPROCS", "7")
	env := c.Env(2)
	assert.Contains(t, env, "GOMAXPROCS=7")
	assert.Equal(t, 1, len(slices.DeleteFunc(env, func(v string) bool { return len(v) < 11 || v[:11] != "GOMAXPROCS=" })), "the launcher's own setting, once")
}
