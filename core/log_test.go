package core

import (
	"fmt"
	"math/rand/v2"
	"testing"

	"github.com/stretchr/testify/require"
)

// The log, whose persisted entries leave memory for Storage past the cache
// bound, always answers what a plain in-memory log would: every term, every
// slice and window, across appends, persists, conflicting pushes that cut
// persisted entries (also below what memory holds) and commits. Its count
// of cached bytes stays exact and within the bound.
func TestLogAgainstAPlainModel(t *testing.T) {
	for seed := uint64(1); seed <= 40; seed++ {
		r := rand.New(rand.NewPCG(seed, 7))
		st := &memStorage{}
		cache := []int{0, 1, 50, 400, 1 << 20}[seed%5]
		l, err := newLog(st, cache)
		require.NoError(t, err)
		var model []Entry // model[i] is entry i+1
		term := uint64(1)
		check := func(what string) {
			t.Helper()
			require.Equal(t, uint64(len(model)), l.lastIndex(), "seed %d %s: last index", seed, what)
			for i, e := range model {
				got, ok := l.term(uint64(i + 1))
				require.True(t, ok)
				require.Equal(t, e.Term, got, "seed %d %s: term of %d", seed, what, i+1)
			}
			if len(model) > 0 {
				require.Equal(t, model, l.slice(1, l.lastIndex()+1), "seed %d %s", seed, what)
				lo := 1 + uint64(r.IntN(len(model)))
				w := l.window(lo, 1+r.IntN(8), 1+r.IntN(60))
				require.NotEmpty(t, w)
				require.Equal(t, model[lo-1:int(lo-1)+len(w)], w, "seed %d %s: window from %d", seed, what, lo)
			}
			stable := 0
			for _, e := range l.mem {
				if e.Index <= l.stabled {
					stable += len(e.Data)
				}
			}
			require.Equal(t, stable, l.cached, "seed %d %s: cached bytes", seed, what)
			require.LessOrEqual(t, l.cached, max(cache, 0), "seed %d %s: over the cache bound", seed, what)
		}
		for step := range 300 {
			switch r.IntN(5) {
			case 0, 1: // the leader's own proposals
				for range 1 + r.IntN(4) {
					e := Entry{Index: l.lastIndex() + 1, Term: term, Data: []byte(fmt.Sprintf("%0*d", r.IntN(40), step))}
					l.appendLeader(e)
					model = append(model, e)
				}
			case 2: // persist what is unstable
				if u := l.unstable(); len(u) > 0 {
					st.persist(Ready{Entries: u})
					l.stableTo(u[len(u)-1].Index)
				}
			case 3: // a new leader's push conflicts from some uncommitted index on
				if l.lastIndex() <= l.committed {
					continue
				}
				from := l.committed + 1 + uint64(r.IntN(int(l.lastIndex()-l.committed)))
				prevTerm, _ := l.term(from - 1)
				term++
				ents := []Entry{{Index: from, Term: term, Data: []byte("new")}, {Index: from + 1, Term: term}}
				_, cut, ok := l.maybeAppend(from-1, prevTerm, ents)
				require.True(t, ok)
				require.Equal(t, from, cut)
				model = append(model[:from-1], ents...)
			case 4: // commit some of what is persisted
				if l.stabled > l.committed {
					l.commitTo(l.committed + 1 + uint64(r.IntN(int(l.stabled-l.committed))))
				}
			}
			check(fmt.Sprintf("step %d", step))
		}
	}
}
