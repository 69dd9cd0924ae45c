package assign

import (
	"math"
	"math/rand/v2"
)

// A city problem: rows (restaurants of orders) and columns (couriers) at uniform random
// points in a 10 km square. Costs are seconds: the straight-line distance at 5 m/s plus a
// per-pair noise in [0, 60) s, like travel times.
const (
	citySide  = 10_000.0 // metres
	citySpeed = 5.0      // metres per second
	cityNoise = 60.0     // seconds
	bigSkip   = 1e6      // seconds, dearer than any pair: rows are skipped only when they must be
)

type city struct {
	seed         uint64
	rows, cols   int
	rowXY, colXY [][2]float64
}

func newCity(seed uint64, rows, cols int) *city {
	rng := rand.New(rand.NewPCG(seed, 0xc17))
	point := func() [2]float64 { return [2]float64{rng.Float64() * citySide, rng.Float64() * citySide} }
	c := &city{seed: seed, rows: rows, cols: cols}
	for range rows {
		c.rowXY = append(c.rowXY, point())
	}
	for range cols {
		c.colXY = append(c.colXY, point())
	}
	return c
}

func (c *city) dist(i, j int) float64 {
	return math.Hypot(c.rowXY[i][0]-c.colXY[j][0], c.rowXY[i][1]-c.colXY[j][1])
}

// cost is a pure function of (i, j), so the dense matrix and the candidate edges agree.
func (c *city) cost(i, j int) float64 {
	h := c.seed ^ uint64(i)<<32 ^ uint64(j)
	// splitmix64 finaliser
	h += 0x9e3779b97f4a7c15
	h = (h ^ h>>30) * 0xbf58476d1ce4e5b9
	h = (h ^ h>>27) * 0x94d049bb133111eb
	h ^= h >> 31
	return c.dist(i, j)/citySpeed + float64(h>>11)/(1<<53)*cityNoise
}

func (c *city) matrix() []float64 {
	m := make([]float64, c.rows*c.cols)
	for i := range c.rows {
		for j := range c.cols {
			m[i*c.cols+j] = c.cost(i, j)
		}
	}
	return m
}

// nearest lists, for every row, the edges to its k nearest columns by distance.
func (c *city) nearest(k int) []Edge {
	k = min(k, c.cols)
	edges := make([]Edge, 0, c.rows*k)
	type near struct {
		d float64
		j int32
	}
	top := make([]near, 0, k) // a max-heap on d of the k nearest so far
	for i := range c.rows {
		top = top[:0]
		for j := range c.cols {
			d := c.dist(i, j)
			if len(top) < k {
				top = append(top, near{d, int32(j)})
				for n := len(top) - 1; n > 0 && top[(n-1)/2].d < top[n].d; n = (n - 1) / 2 {
					top[n], top[(n-1)/2] = top[(n-1)/2], top[n]
				}
				continue
			}
			if d >= top[0].d {
				continue
			}
			top[0] = near{d, int32(j)}
			for n := 0; ; {
				m := n
				if l := 2*n + 1; l < k && top[l].d > top[m].d {
					m = l
				}
				if r := 2*n + 2; r < k && top[r].d > top[m].d {
					m = r
				}
				if m == n {
					break
				}
				top[n], top[m] = top[m], top[n]
				n = m
			}
		}
		for _, t := range top {
			edges = append(edges, Edge{int32(i), t.j, c.cost(i, int(t.j))})
		}
	}
	return edges
}

func uniformSkip(rows int, skip float64) []float64 {
	s := make([]float64, rows)
	for i := range s {
		s[i] = skip
	}
	return s
}
