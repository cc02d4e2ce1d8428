package reallocation

import (
	"math/rand/v2"
	"testing"
)

// TestTransportMatchesReference checks the solver against a textbook min-cost max-flow
// (successive shortest paths by Bellman-Ford on an explicit residual graph, one unit at a time)
// on instances too large to enumerate, with costs that tie often.
func TestTransportMatchesReference(t *testing.T) {
	r := rand.New(rand.NewPCG(3, 4))
	for trial := range 60 {
		D, R := 1+r.IntN(25), 1+r.IntN(25)
		supply, demand := make([]int, D), make([]int, R)
		for i := range supply {
			supply[i] = r.IntN(8)
		}
		for j := range demand {
			demand[j] = r.IntN(8)
		}
		cost := make([]int64, D*R)
		for k := range cost {
			cost[k] = int64(r.IntN(20)) // small range: many ties
			if trial%2 == 1 {
				cost[k] = r.Int64N(1e9)
			}
		}
		flow := transport(supply, demand, cost)
		gotFlow, gotCost := 0, int64(0)
		for i := range D {
			out := 0
			for j := range R {
				f := int(flow[i*R+j])
				if f < 0 {
					t.Fatalf("trial %d: negative flow %d at %d,%d", trial, f, i, j)
				}
				out += f
				gotFlow += f
				gotCost += int64(f) * cost[i*R+j]
			}
			if out > supply[i] {
				t.Fatalf("trial %d: donor %d sends %d of %d", trial, i, out, supply[i])
			}
		}
		for j := range R {
			in := 0
			for i := range D {
				in += int(flow[i*R+j])
			}
			if in > demand[j] {
				t.Fatalf("trial %d: receiver %d gets %d of %d", trial, j, in, demand[j])
			}
		}
		wantFlow, wantCost := referenceMinCostFlow(supply, demand, cost)
		if gotFlow != wantFlow || gotCost != wantCost {
			t.Errorf("trial %d (%d x %d): transport flow %d cost %d; reference %d cost %d", trial, D, R, gotFlow, gotCost, wantFlow, wantCost)
		}
	}
}

func referenceMinCostFlow(supply, demand []int, cost []int64) (int, int64) {
	D, R := len(supply), len(demand)
	n := D + R + 2
	s, t := D+R, D+R+1
	type arc struct {
		to, rev int
		cap     int
		cost    int64
	}
	g := make([][]arc, n)
	add := func(u, v, c int, w int64) {
		g[u] = append(g[u], arc{v, len(g[v]), c, w})
		g[v] = append(g[v], arc{u, len(g[u]) - 1, 0, -w})
	}
	for i, x := range supply {
		add(s, i, x, 0)
	}
	for j, x := range demand {
		add(D+j, t, x, 0)
	}
	for i := range D {
		for j := range R {
			add(i, D+j, 1<<30, cost[i*R+j])
		}
	}
	flow, total := 0, int64(0)
	for {
		const inf = int64(1) << 62
		dist := make([]int64, n)
		pv, pa := make([]int, n), make([]int, n)
		for v := range dist {
			dist[v] = inf
		}
		dist[s] = 0
		for changed := true; changed; {
			changed = false
			for u := range n {
				if dist[u] == inf {
					continue
				}
				for k, a := range g[u] {
					if a.cap > 0 && dist[u]+a.cost < dist[a.to] {
						dist[a.to], pv[a.to], pa[a.to], changed = dist[u]+a.cost, u, k, true
					}
				}
			}
		}
		if dist[t] == inf {
			return flow, total
		}
		for v := t; v != s; v = pv[v] {
			a := &g[pv[v]][pa[v]]
			a.cap--
			g[v][a.rev].cap++
		}
		flow++
		total += dist[t]
	}
}
