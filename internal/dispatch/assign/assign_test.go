package assign

import (
	"errors"
	"fmt"
	"math"
	"math/rand/v2"
	"testing"
)

// TestAgainstBruteForce solves many small random problems with Dense, Sparse and a reused
// Solver and compares each optimum with enumeration.
func TestAgainstBruteForce(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(1, 2))
	var reused Solver
	for n := range 3000 {
		rows, cols, cost, skip := randomProblem(rng, 7, 7)
		want := bruteForce(rows, cols, cost, skip)
		edges := edgesOf(rng, rows, cols, cost)
		solve := []struct {
			name string
			run  func() (Result, error)
		}{
			{"Dense", func() (Result, error) { return Dense(rows, cols, cost, skip) }},
			{"Sparse", func() (Result, error) { return Sparse(rows, cols, edges, skip) }},
			{"Solver.Dense", func() (Result, error) { return reused.Dense(rows, cols, cost, skip) }},
			{"Solver.Sparse", func() (Result, error) { return reused.Sparse(rows, cols, edges, skip) }},
		}
		for _, s := range solve {
			res, err := s.run()
			if err != nil {
				t.Fatalf("problem %d: %s: %v", n, s.name, err)
			}
			what := fmt.Sprintf("problem %d, %s(%d, %d, %v, %v)", n, s.name, rows, cols, cost, skip)
			checkResult(t, what, rows, cols, denseCost(cols, cost), skip, res, want)
		}
	}
}

// TestSparseMatchesDense compares Sparse with Dense on medium problems with 20 random edges per
// row: the optima must agree (the matchings may differ where there are ties).
func TestSparseMatchesDense(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rows, cols int
		skip       float64 // upper end of the uniform skips
	}{
		{"wide", 200, 300, 1e6},
		{"tall", 300, 200, 1e6},
		{"square", 250, 250, 1e6},
		{"wide moderate skip", 200, 300, 40},
		{"tall moderate skip", 300, 200, 40},
		{"cheap skip", 250, 250, 5},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			for seed := range uint64(5) {
				rng := rand.New(rand.NewPCG(seed, 7))
				cost := make([]float64, tt.rows*tt.cols)
				for k := range cost {
					cost[k] = inf
				}
				var edges []Edge
				for i := range tt.rows {
					for _, j := range rng.Perm(tt.cols)[:20] {
						c := math.Round(rng.Float64()*1000) / 10 // ties
						cost[i*tt.cols+j] = c
						edges = append(edges, Edge{int32(i), int32(j), c})
					}
				}
				skip := make([]float64, tt.rows)
				for i := range skip {
					skip[i] = rng.Float64() * tt.skip
				}
				dense, err := Dense(tt.rows, tt.cols, cost, skip)
				if err != nil {
					t.Fatal(err)
				}
				sparse, err := Sparse(tt.rows, tt.cols, edges, skip)
				if err != nil {
					t.Fatal(err)
				}
				checkResult(t, fmt.Sprintf("seed %d: Dense", seed), tt.rows, tt.cols, denseCost(tt.cols, cost), skip, dense, sparse.Cost)
				checkResult(t, fmt.Sprintf("seed %d: Sparse", seed), tt.rows, tt.cols, edgeCost(edges), skip, sparse, dense.Cost)
			}
		})
	}
}

func TestEdgeCases(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name       string
		rows, cols int
		cost, skip []float64
		want       Result
	}{
		{"no rows", 0, 3, nil, nil, Result{Col: []int{}}},
		{"no rows or columns", 0, 0, nil, nil, Result{Col: []int{}}},
		{"no columns", 2, 0, nil, []float64{1, 2.5}, Result{Col: []int{-1, -1}, Cost: 3.5}},
		{"all forbidden", 2, 2, []float64{inf, inf, inf, inf}, []float64{7, 1}, Result{Col: []int{-1, -1}, Cost: 8}},
		{"skips cheaper than any edge", 2, 3, []float64{5, 6, 7, 8, 9, 10}, []float64{4, 4.5}, Result{Col: []int{-1, -1}, Cost: 8.5}},
		{"zero cost", 1, 1, []float64{0}, []float64{0.5}, Result{Col: []int{0}}},
		{"one column, the cheaper gain wins", 2, 1, []float64{3, 1}, []float64{10, 2}, Result{Col: []int{0, -1}, Cost: 5}},
		{"more columns than rows", 1, 3, []float64{4, 2, 3}, []float64{10}, Result{Col: []int{1}, Cost: 2}},
		{"a row needs the other's column", 2, 2, []float64{1, 2, 1, inf}, []float64{10, 10}, Result{Col: []int{1, 0}, Cost: 3}},
		{"negative costs", 2, 2, []float64{-1, -5, -2, -3}, []float64{0, 0}, Result{Col: []int{1, 0}, Cost: -7}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			var edges []Edge
			for k, c := range tt.cost {
				edges = append(edges, Edge{int32(k / tt.cols), int32(k % tt.cols), c})
			}
			for name, solve := range map[string]func() (Result, error){
				"Dense":  func() (Result, error) { return Dense(tt.rows, tt.cols, tt.cost, tt.skip) },
				"Sparse": func() (Result, error) { return Sparse(tt.rows, tt.cols, edges, tt.skip) },
			} {
				got, err := solve()
				if err != nil {
					t.Fatalf("%s: %v", name, err)
				}
				if !equalInts(got.Col, tt.want.Col) || got.Cost != tt.want.Cost {
					t.Errorf("%s: got %+v, want %+v", name, got, tt.want)
				}
			}
		})
	}
}

func equalInts(a, b []int) bool {
	if len(a) != len(b) || (a == nil) != (b == nil) {
		return false
	}
	for k := range a {
		if a[k] != b[k] {
			return false
		}
	}
	return true
}

func TestInvalidInput(t *testing.T) {
	t.Parallel()
	nan := math.NaN()
	dense := []struct {
		name       string
		rows, cols int
		cost, skip []float64
	}{
		{"negative rows", -1, 2, nil, nil},
		{"negative cols", 1, -2, nil, []float64{0}},
		{"rows over int32", math.MaxInt32 + 1, 0, nil, nil},
		{"short cost", 2, 2, []float64{1, 2, 3}, []float64{0, 0}},
		{"long cost", 1, 1, []float64{1, 2}, []float64{0}},
		{"short skip", 2, 1, []float64{1, 2}, []float64{0}},
		{"long skip", 1, 1, []float64{1}, []float64{0, 0}},
		{"NaN cost", 1, 2, []float64{1, nan}, []float64{0}},
		{"-Inf cost", 1, 1, []float64{math.Inf(-1)}, []float64{0}},
		{"NaN skip", 1, 1, []float64{1}, []float64{nan}},
		{"+Inf skip", 1, 1, []float64{1}, []float64{inf}},
		{"-Inf skip", 1, 1, []float64{1}, []float64{math.Inf(-1)}},
	}
	for _, tt := range dense {
		if _, err := Dense(tt.rows, tt.cols, tt.cost, tt.skip); !errors.Is(err, ErrInput) {
			t.Errorf("Dense %s: got error %v, want ErrInput", tt.name, err)
		}
	}
	sparse := []struct {
		name       string
		rows, cols int
		edges      []Edge
		skip       []float64
	}{
		{"negative rows", -1, 2, nil, nil},
		{"short skip", 2, 1, nil, []float64{0}},
		{"+Inf skip", 1, 1, nil, []float64{inf}},
		{"row out of range", 1, 1, []Edge{{1, 0, 1}}, []float64{0}},
		{"negative row", 1, 1, []Edge{{-1, 0, 1}}, []float64{0}},
		{"column out of range", 1, 1, []Edge{{0, 1, 1}}, []float64{0}},
		{"negative column", 1, 1, []Edge{{0, -1, 1}}, []float64{0}},
		{"NaN cost", 1, 1, []Edge{{0, 0, nan}}, []float64{0}},
		{"-Inf cost", 1, 1, []Edge{{0, 0, math.Inf(-1)}}, []float64{0}},
	}
	for _, tt := range sparse {
		if _, err := Sparse(tt.rows, tt.cols, tt.edges, tt.skip); !errors.Is(err, ErrInput) {
			t.Errorf("Sparse %s: got error %v, want ErrInput", tt.name, err)
		}
	}
}

// TestAgainstHungarian compares both solvers with a textbook Hungarian method on medium random
// problems of several shapes: uniform and clustered costs, forbidden pairs, ties, cheap and
// dear skips.
func TestAgainstHungarian(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(3, 4))
	var reused Solver
	for n := range 300 {
		rows, cols := 1+rng.IntN(60), 1+rng.IntN(60)
		cost := make([]float64, rows*cols)
		forbid := []float64{0, 0.5, 0.9}[rng.IntN(3)]
		integer := rng.IntN(2) == 0
		for k := range cost {
			switch {
			case rng.Float64() < forbid:
				cost[k] = inf
			case integer:
				cost[k] = float64(rng.IntN(20))
			default:
				cost[k] = rng.Float64() * 100
			}
		}
		skip := make([]float64, rows)
		scale := []float64{5, 50, 1e6}[rng.IntN(3)]
		for i := range skip {
			skip[i] = math.Round(rng.Float64() * scale)
		}
		want := hungarian(rows, cols, cost, skip)
		var edges []Edge
		for k, c := range cost {
			if c < inf {
				edges = append(edges, Edge{int32(k / cols), int32(k % cols), c})
			}
		}
		rng.Shuffle(len(edges), func(a, b int) { edges[a], edges[b] = edges[b], edges[a] })
		what := fmt.Sprintf("problem %d (%d x %d)", n, rows, cols)
		for name, solve := range map[string]func() (Result, error){
			"Dense":         func() (Result, error) { return Dense(rows, cols, cost, skip) },
			"Sparse":        func() (Result, error) { return Sparse(rows, cols, edges, skip) },
			"Solver.Dense":  func() (Result, error) { return reused.Dense(rows, cols, cost, skip) },
			"Solver.Sparse": func() (Result, error) { return reused.Sparse(rows, cols, edges, skip) },
		} {
			res, err := solve()
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, what+" "+name, rows, cols, denseCost(cols, cost), skip, res, want)
		}
	}
}

// TestCityAgainstHungarian compares both solvers with the Hungarian method on city problems
// (see city): travel-time costs, the dense matrix and each row's k nearest columns, balanced
// and not, with skips that hold rows rarely, sometimes and often. Unlike uniform costs these
// make rows compete for the same few columns, which drives the auction and the candidate
// lists down their rarer paths.
func TestCityAgainstHungarian(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(5, 6))
	var reused Solver
	for n := range 24 {
		rows, cols := 40+rng.IntN(120), 40+rng.IntN(120)
		if n%3 == 0 {
			cols = rows
		}
		c := newCity(uint64(n), rows, cols)
		skip := uniformSkip(rows, []float64{bigSkip, 600, 200}[n%3])
		cost := c.matrix()
		what := fmt.Sprintf("city %d (%d x %d, skip %v)", n, rows, cols, skip[0])
		res, err := reused.Dense(rows, cols, cost, skip)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, what+" Dense", rows, cols, denseCost(cols, cost), skip, res, hungarian(rows, cols, cost, skip))
		for _, k := range []int{4, 8, 40} {
			edges := c.nearest(k)
			near := make([]float64, rows*cols)
			for i := range near {
				near[i] = inf
			}
			for _, e := range edges {
				near[int(e.Row)*cols+int(e.Col)] = e.Cost
			}
			res, err := reused.Sparse(rows, cols, edges, skip)
			if err != nil {
				t.Fatal(err)
			}
			checkResult(t, fmt.Sprintf("%s Sparse k=%d", what, k), rows, cols, denseCost(cols, near), skip, res, hungarian(rows, cols, near, skip))
		}
	}
}

// TestExactFromAnyPrices starts the exact phases from random prices instead of the auction's:
// they must reach the optimum from any prices at most zero. Such prices leave many rows to the
// shortest augmenting paths and many unmatched columns priced below zero to clean, paths the
// auction's good prices seldom take.
func TestExactFromAnyPrices(t *testing.T) {
	t.Parallel()
	rng := rand.New(rand.NewPCG(7, 8))
	var s Solver
	for n := range 120 {
		rows, cols := 1+rng.IntN(80), 1+rng.IntN(80)
		var cost []float64
		if n%2 == 0 {
			cost = newCity(uint64(n), rows, cols).matrix()
		} else {
			cost = make([]float64, rows*cols)
			for k := range cost {
				cost[k] = float64(rng.IntN(30))
				if rng.IntN(4) == 0 {
					cost[k] = inf
				}
			}
		}
		skip := uniformSkip(rows, []float64{bigSkip, 600, 200, 10}[n%4])
		want := hungarian(rows, cols, cost, skip)
		var edges []Edge
		for k, c := range cost {
			if c < inf {
				edges = append(edges, Edge{int32(k / cols), int32(k % cols), c})
			}
		}
		spread := []float64{1, 30, 1000}[rng.IntN(3)]
		prices := func() {
			for j := range s.v {
				s.v[j] = -spread * rng.Float64()
				if rng.IntN(5) == 0 {
					s.v[j] = 0
				}
			}
		}
		what := fmt.Sprintf("problem %d (%d x %d, skip %v, prices down to -%v)", n, rows, cols, skip[0], spread)
		s.loadDense(rows, cols, cost)
		prices()
		s.exact(rows, skip)
		res := s.result(skip)
		s.unload()
		checkResult(t, what+" dense", rows, cols, denseCost(cols, cost), skip, res, want)
		s.loadSparse(rows, cols, edges)
		prices()
		s.exact(rows, skip)
		checkResult(t, what+" sparse", rows, cols, denseCost(cols, cost), skip, s.result(skip), want)
	}
}
