package assign

import (
	"math"
	"math/rand/v2"
	"testing"
)

var inf = math.Inf(1)

// bruteForce returns the optimum by enumerating every matching, each row matched to any free
// allowed column or skipped.
func bruteForce(rows, cols int, cost, skip []float64) float64 {
	used := make([]bool, cols)
	var best func(i int) float64
	best = func(i int) float64 {
		if i == rows {
			return 0
		}
		b := skip[i] + best(i+1)
		for j := range cols {
			if c := cost[i*cols+j]; !used[j] && c < inf {
				used[j] = true
				b = min(b, c+best(i+1))
				used[j] = false
			}
		}
		return b
	}
	return best(0)
}

// checkResult fails t unless res is a valid assignment of the rows x cols problem whose Cost is
// the cost of its matching (cost(i, j) is +Inf for a pair that is not allowed) and equals want.
// Failures start with what.
func checkResult(t testing.TB, what string, rows, cols int, cost func(i, j int) float64, skip []float64, res Result, want float64) {
	t.Helper()
	fatalf := func(format string, args ...any) {
		t.Helper()
		t.Fatalf("%s: "+format, append([]any{what}, args...)...)
	}
	if len(res.Col) != rows {
		fatalf("len(Col) = %d, want %d", len(res.Col), rows)
	}
	taken := make([]int, cols)
	for j := range taken {
		taken[j] = -1
	}
	var total float64
	for i, j := range res.Col {
		switch {
		case j == -1:
			total += skip[i]
		case j < 0 || j >= cols:
			fatalf("Col[%d] = %d, want -1 or a column in [0, %d)", i, j, cols)
		case taken[j] >= 0:
			fatalf("column %d matched to rows %d and %d", j, taken[j], i)
		default:
			c := cost(i, j)
			if c == inf {
				fatalf("Col[%d] = %d, a forbidden pair", i, j)
			}
			taken[j] = i
			total += c
		}
	}
	if !near(total, res.Cost) {
		fatalf("Cost = %v, but the matching costs %v", res.Cost, total)
	}
	if !near(res.Cost, want) {
		fatalf("Cost = %v, want %v", res.Cost, want)
	}
}

// near reports whether a and b agree to rounding.
func near(a, b float64) bool {
	return math.Abs(a-b) <= 1e-9*(1+math.Abs(a)+math.Abs(b))
}

// denseCost returns the cost(i, j) of a row-major matrix.
func denseCost(cols int, cost []float64) func(i, j int) float64 {
	return func(i, j int) float64 { return cost[i*cols+j] }
}

// edgeCost returns the cost(i, j) of a list of edges: the cheapest edge between i and j.
func edgeCost(edges []Edge) func(i, j int) float64 {
	type pair struct{ i, j int32 }
	m := make(map[pair]float64, len(edges))
	for _, e := range edges {
		p := pair{e.Row, e.Col}
		if c, ok := m[p]; !ok || e.Cost < c {
			m[p] = e.Cost
		}
	}
	return func(i, j int) float64 {
		if c, ok := m[pair{int32(i), int32(j)}]; ok {
			return c
		}
		return inf
	}
}

// randomProblem draws a small problem. Half the time costs and skips are small integers, so
// ties are common and every sum is exact; some instances have negative costs.
func randomProblem(rng *rand.Rand, maxRows, maxCols int) (rows, cols int, cost, skip []float64) {
	rows, cols = rng.IntN(maxRows+1), rng.IntN(maxCols+1)
	integer := rng.IntN(2) == 0
	forbid := []float64{0, 0.2, 0.5, 0.9, 1}[rng.IntN(5)]
	shift := 0.0
	if rng.IntN(5) == 0 {
		shift = -5
	}
	draw := func(scale float64) float64 {
		if integer {
			return float64(rng.IntN(int(scale) + 1))
		}
		return rng.Float64() * scale
	}
	cost = make([]float64, rows*cols)
	for k := range cost {
		if rng.Float64() < forbid {
			cost[k] = inf
		} else {
			cost[k] = draw(9) + shift
		}
	}
	skipScale := []float64{3, 12, 100}[rng.IntN(3)]
	skip = make([]float64, rows)
	for i := range skip {
		skip[i] = draw(skipScale)
	}
	return rows, cols, cost, skip
}

// edgesOf lists the allowed pairs of a dense matrix in a random order, with some duplicates at
// a higher cost and some +Inf edges, which Sparse must treat as absent.
func edgesOf(rng *rand.Rand, rows, cols int, cost []float64) []Edge {
	var edges []Edge
	for i := range rows {
		for j := range cols {
			c := cost[i*cols+j]
			if c < inf {
				edges = append(edges, Edge{int32(i), int32(j), c})
				if rng.IntN(8) == 0 {
					edges = append(edges, Edge{int32(i), int32(j), c + 1 + rng.Float64()})
				}
			} else if rng.IntN(8) == 0 {
				edges = append(edges, Edge{int32(i), int32(j), inf})
			}
		}
	}
	rng.Shuffle(len(edges), func(a, b int) { edges[a], edges[b] = edges[b], edges[a] })
	return edges
}

// hungarian is an independent reference: the O(n^3) Hungarian method with potentials (the
// textbook shortest augmenting path form) on the rows x (cols+rows) matrix in which row i's
// skip is its own extra column. It returns the optimum.
func hungarian(rows, cols int, cost, skip []float64) float64 {
	m := cols + rows
	big := 0.0 // stands in for +Inf so that the potentials stay finite
	for _, c := range cost {
		if c < inf {
			big += math.Abs(c)
		}
	}
	for _, k := range skip {
		big += math.Abs(k)
	}
	big = 2*big + 1
	a := func(i, j int) float64 { // 1-based
		i, j = i-1, j-1
		switch {
		case j < cols && cost[i*cols+j] < inf:
			return cost[i*cols+j]
		case j == cols+i:
			return skip[i]
		}
		return big
	}
	u, v := make([]float64, rows+1), make([]float64, m+1)
	p, way := make([]int, m+1), make([]int, m+1)
	for i := 1; i <= rows; i++ {
		p[0] = i
		j0 := 0
		minv := make([]float64, m+1)
		used := make([]bool, m+1)
		for j := range minv {
			minv[j] = math.Inf(1)
		}
		for {
			used[j0] = true
			i0, delta, j1 := p[j0], math.Inf(1), 0
			for j := 1; j <= m; j++ {
				if !used[j] {
					if cur := a(i0, j) - u[i0] - v[j]; cur < minv[j] {
						minv[j], way[j] = cur, j0
					}
					if minv[j] < delta {
						delta, j1 = minv[j], j
					}
				}
			}
			for j := 0; j <= m; j++ {
				if used[j] {
					u[p[j]] += delta
					v[j] -= delta
				} else {
					minv[j] -= delta
				}
			}
			j0 = j1
			if p[j0] == 0 {
				break
			}
		}
		for j0 != 0 {
			j1 := way[j0]
			p[j0] = p[j1]
			j0 = j1
		}
	}
	total := 0.0
	for j := 1; j <= m; j++ {
		if p[j] != 0 {
			total += a(p[j], j)
		}
	}
	return total
}
