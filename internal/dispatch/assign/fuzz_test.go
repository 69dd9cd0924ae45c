package assign

import "testing"

// decodeProblem turns bytes into a problem of at most 7 x 7: rows and cols, then one byte per
// cost (224 and up: forbidden; otherwise 0..31 shifted to -4..27), then one byte per skip
// (0..39). Missing bytes read as zero.
func decodeProblem(data []byte) (rows, cols int, cost, skip []float64) {
	next := func() byte {
		if len(data) == 0 {
			return 0
		}
		b := data[0]
		data = data[1:]
		return b
	}
	rows, cols = int(next()%8), int(next()%8)
	cost = make([]float64, rows*cols)
	for k := range cost {
		if b := next(); b >= 224 {
			cost[k] = inf
		} else {
			cost[k] = float64(b%32) - 4
		}
	}
	skip = make([]float64, rows)
	for i := range skip {
		skip[i] = float64(next() % 40)
	}
	return rows, cols, cost, skip
}

// FuzzDense checks Dense, and Sparse on the same pairs, against enumeration.
func FuzzDense(f *testing.F) {
	f.Add([]byte{2, 2, 1, 2, 1, 255, 10, 10})
	f.Add([]byte{7, 7})
	f.Add([]byte{3, 5, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 9, 1, 1, 1})
	f.Add([]byte{6, 2, 0, 255, 255, 0, 4, 4, 30, 1, 2, 3, 7, 0, 0, 0, 39, 39})
	f.Fuzz(func(t *testing.T, data []byte) {
		rows, cols, cost, skip := decodeProblem(data)
		want := bruteForce(rows, cols, cost, skip)
		res, err := Dense(rows, cols, cost, skip)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, "Dense", rows, cols, denseCost(cols, cost), skip, res, want)
		var edges []Edge
		for k, c := range cost {
			if c < inf {
				edges = append(edges, Edge{int32(k / cols), int32(k % cols), c})
			}
		}
		res, err = Sparse(rows, cols, edges, skip)
		if err != nil {
			t.Fatal(err)
		}
		checkResult(t, "Sparse", rows, cols, denseCost(cols, cost), skip, res, want)
	})
}
