package lessons

import (
	"testing"

	"github.com/stretchr/testify/assert"
	"github.com/stretchr/testify/require"

	"dledgerlab/core/sim"
	"dledgerlab/lessons/guide"
)

// The guided mode plays every lesson frame by frame, as the page does: each
// step's checks all tick before their bounds, and the goal's solution
// reaches the goal.
func TestGuidedSessionsReachEveryCheck(t *testing.T) {
	all, err := All()
	require.NoError(t, err)
	for _, l := range all {
		t.Run(l.ID, func(t *testing.T) {
			s, err := sim.New(l.Cluster)
			require.NoError(t, err)
			g := guide.NewSession(l)
			frame := func() {
				v := s.View()
				for _, a := range g.Advance(s.Now(), &v) {
					require.NoError(t, s.Do(a), "step %d: %+v", g.Step+1, a)
				}
				s.Advance(16)
			}
			for step := 0; step <= len(l.Steps); step++ {
				g.Goto(step)
				if step == len(l.Steps) {
					g.ShowSolution()
				}
				for i := 0; !g.Done(); i++ {
					require.Less(t, i, 2000, "step %d never finished: %+v (%s)", step+1, g.Checks, g.Err)
					for _, c := range g.Checks {
						require.False(t, c.Failed, "step %d: %q failed: %s", step+1, c.Text, c.Why)
					}
					frame()
				}
			}
			assert.True(t, g.Done())
		})
	}
}
