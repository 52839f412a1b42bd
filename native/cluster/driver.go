package cluster

// The lessons.Driver over a real cluster: `dledgerlab lesson run NAME
// --native` plays a lesson file through the same View and Do the live view
// uses, with real time passing.

import (
	"context"
	"math/rand/v2"
	"net"
	"strconv"
	"time"

	"dledgerlab/core/sim"
)

// Driver implements lessons.Driver on a Live.
type Driver struct{ L *Live }

// View implements lessons.Driver: the merged view of the real cluster.
func (d Driver) View() (sim.ClusterView, error) { return d.L.View(), nil }

// Do implements lessons.Driver: the action endpoint's code path.
func (d Driver) Do(a sim.Action) error {
	ctx, cancel := context.WithTimeout(d.L.ctx, 15*time.Second)
	defer cancel()
	return d.L.Do(ctx, a)
}

// Wait implements lessons.Driver: real time passes.
func (d Driver) Wait(ms int64) error {
	select {
	case <-time.After(time.Duration(ms) * time.Millisecond):
		return nil
	case <-d.L.ctx.Done():
		return d.L.ctx.Err()
	}
}

// FreeBasePort finds a base port whose n peer ports and n HTTP ports
// (+1000) on host are all free right now (for lessons and tests).
func FreeBasePort(host string, n int) (int, error) {
	var last error
	for range 100 {
		base := 20000 + rand.IntN(30000)
		ok := true
		for i := range n {
			for _, p := range []int{base + i, base + i + HTTPPortOffset} {
				ln, err := net.Listen("tcp", net.JoinHostPort(host, strconv.Itoa(p)))
				if err != nil {
					ok, last = false, err
					break
				}
				ln.Close()
			}
			if !ok {
				break
			}
		}
		if ok {
			return base, nil
		}
	}
	return 0, last
}
