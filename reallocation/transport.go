package reallocation

import (
	"cmp"
	"slices"
)

// transport solves a transportation problem exactly as a min-cost max-flow: source -> donor i
// (capacity supply[i], cost 0), donor i -> receiver j (unbounded, cost cost[i*R+j] >= 0),
// receiver j -> sink (capacity demand[j], cost 0). It returns the flow matrix (row-major, D x R)
// of a maximum flow whose cost is least among maximum flows.
//
// The method is successive shortest paths with Johnson potentials. Every round runs Dijkstra on
// reduced costs (which the potentials keep non-negative) from all donors with supply left to the
// sink, stops as soon as the sink is settled, moves each node's potential by min(its distance,
// the sink's distance), and augments along the path by its bottleneck. Each augmentation along a
// shortest path keeps the flow the cheapest of its value, and the rounds end when no augmenting
// path is left, so the last flow is a min-cost max-flow. Costs are integers so that ties and the
// result are exact and do not depend on rounding.
//
// The graph is never materialised: a donor's arcs are a row of cost, a receiver's backward arcs
// are the donors in its feeders list (the non-zero entries of its column of the flow matrix), and
// the first layer (every donor with supply left, at distance 0) is read off per-receiver lists of
// donors sorted by cost instead of scanning every donor's row in every round.
func transport(supply, demand []int, cost []int64) []int32 {
	D, R := len(supply), len(demand)
	flow := make([]int32, D*R)
	supLeft := append([]int(nil), supply...)
	demLeft := append([]int(nil), demand...)
	// Nodes: donors 0..D-1, receivers D..D+R-1, sink D+R. The source is implicit: a donor with
	// supply left is settled at distance 0 in every round, so its potential stays 0 and the
	// source's arcs to it keep reduced cost 0.
	n := D + R + 1
	sink := D + R
	const inf = int64(1) << 62
	h := make([]int64, n)    // potentials
	dist := make([]int64, n) // Dijkstra distances on reduced costs
	prev := make([]int32, n) // predecessor on the shortest path; -1 for a donor fed by the source
	done := make([]bool, n)
	q := &nodeHeap{items: make([]nodeDist, 0, n)}
	// order holds, per receiver, the donors by increasing cost (ties by index); next[j] is the
	// first of them that may still have supply.
	order := make([]int32, R*D)
	next := make([]int, R)
	// feeders[j] are the donors with flow to receiver j: its backward arcs.
	feeders := make([][]int32, R)
	for j := range R {
		col := order[j*D : j*D+D]
		for i := range col {
			col[i] = int32(i)
		}
		slices.SortFunc(col, func(a, b int32) int {
			return cmp.Or(cmp.Compare(cost[int(a)*R+j], cost[int(b)*R+j]), cmp.Compare(a, b))
		})
	}

	totalSup, totalDem := 0, 0
	for _, s := range supply {
		totalSup += s
	}
	for _, d := range demand {
		totalDem += d
	}
	for left := min(totalSup, totalDem); left > 0; {
		for v := range n {
			dist[v], prev[v], done[v] = inf, -1, false
		}
		q.items = q.items[:0]
		// The source layer, without scanning every donor's row: the donors with supply left are
		// at distance 0 (and potential 0), so a receiver's tentative distance is its cheapest
		// arc from any of them, the first such donor in its column's cost order.
		for i, s := range supLeft {
			if s > 0 {
				dist[i], done[i] = 0, true
			}
		}
		for j := range R {
			col := order[j*D : j*D+D]
			for next[j] < D && supLeft[col[next[j]]] == 0 {
				next[j]++ // supply only ever runs out, so the pointer only moves forward
			}
			if next[j] < D {
				i := int(col[next[j]])
				v := D + j
				dist[v], prev[v] = cost[i*R+j]-h[v], int32(i)
				q.items = append(q.items, nodeDist{dist[v], int32(v)})
			}
		}
		q.init()
		for q.Len() > 0 {
			top := q.pop()
			u, d := int(top.node), top.dist
			if done[u] || d > dist[u] {
				continue
			}
			done[u] = true
			if u == sink {
				break
			}
			if u < D { // donor: forward arcs to every receiver
				row := cost[u*R : u*R+R]
				hu := h[u]
				for j, c := range row {
					v := D + j
					if done[v] {
						continue
					}
					if nd := d + c + hu - h[v]; nd < dist[v] {
						dist[v], prev[v] = nd, int32(u)
						q.push(nodeDist{nd, int32(v)})
					}
				}
				continue
			}
			j := u - D // receiver: to the sink, and back to the donors that feed it
			hu := h[u]
			if demLeft[j] > 0 && !done[sink] {
				if nd := d + hu - h[sink]; nd < dist[sink] {
					dist[sink], prev[sink] = nd, int32(u)
					q.push(nodeDist{nd, int32(sink)})
				}
			}
			for _, i32 := range feeders[j] {
				i := int(i32)
				if done[i] {
					continue
				}
				if nd := d - cost[i*R+j] + hu - h[i]; nd < dist[i] {
					dist[i], prev[i] = nd, int32(u)
					q.push(nodeDist{nd, int32(i)})
				}
			}
		}
		if !done[sink] {
			break // no augmenting path: the flow is maximum
		}
		dt := dist[sink]
		for v := range n {
			if done[v] {
				h[v] += dist[v]
			} else {
				h[v] += dt
			}
		}
		// Bottleneck: supply left at the first donor, demand left at the last receiver, and the
		// flow on every backward arc on the way.
		last := int(prev[sink]) - D
		b := min(demLeft[last], left)
		v := D + last
		for {
			i := int(prev[v])
			p := prev[i]
			if p < 0 {
				b = min(b, supLeft[i])
				break
			}
			b = min(b, int(flow[i*R+int(p)-D]))
			v = int(p)
		}
		demLeft[last] -= b
		v = D + last
		for {
			i := int(prev[v])
			if flow[i*R+v-D] == 0 {
				feeders[v-D] = append(feeders[v-D], int32(i))
			}
			flow[i*R+v-D] += int32(b)
			p := prev[i]
			if p < 0 {
				supLeft[i] -= b
				break
			}
			if flow[i*R+int(p)-D] -= int32(b); flow[i*R+int(p)-D] == 0 {
				fs := feeders[int(p)-D]
				k := slices.Index(fs, int32(i))
				feeders[int(p)-D] = append(fs[:k], fs[k+1:]...)
			}
			v = int(p)
		}
		left -= b
	}
	return flow
}

type nodeDist struct {
	dist int64
	node int32
}

// nodeHeap is a binary min-heap on distance, ties broken by node so that the search is
// deterministic. It is written out rather than container/heap to avoid boxing every push.
type nodeHeap struct{ items []nodeDist }

func (q *nodeHeap) Len() int { return len(q.items) }

func (q *nodeHeap) less(a, b int) bool {
	x, y := q.items[a], q.items[b]
	return x.dist < y.dist || x.dist == y.dist && x.node < y.node
}

func (q *nodeHeap) init() {
	for i := len(q.items)/2 - 1; i >= 0; i-- {
		q.down(i)
	}
}

func (q *nodeHeap) push(x nodeDist) {
	q.items = append(q.items, x)
	for i := len(q.items) - 1; i > 0; {
		p := (i - 1) / 2
		if !q.less(i, p) {
			break
		}
		q.items[i], q.items[p] = q.items[p], q.items[i]
		i = p
	}
}

func (q *nodeHeap) pop() nodeDist {
	top := q.items[0]
	last := len(q.items) - 1
	q.items[0] = q.items[last]
	q.items = q.items[:last]
	q.down(0)
	return top
}

func (q *nodeHeap) down(i int) {
	n := len(q.items)
	for {
		l := 2*i + 1
		if l >= n {
			return
		}
		m := l
		if r := l + 1; r < n && q.less(r, l) {
			m = r
		}
		if !q.less(m, i) {
			return
		}
		q.items[i], q.items[m] = q.items[m], q.items[i]
		i = m
	}
}
