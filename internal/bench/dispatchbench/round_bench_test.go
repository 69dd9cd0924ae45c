package dispatchbench

import (
	"testing"

	"github.com/tiffin-dev/tiffin/internal/dispatch/plan"
)

// BenchmarkRound times the optimal planner's round of the city at 1,000 x 1,000 (one round
// per iteration, a fresh draw every 8), for profiling: go test -bench Round -cpuprofile.
func BenchmarkRound(b *testing.B) {
	p := params(plan.Optimal, 64)
	p.Weights = plan.DefaultWeights
	pl := plan.New(p)
	c := newCity(1, 1000)
	var ins []plan.Input
	for i := range 8 {
		ins = append(ins, c.round(i, 1000, 1000))
	}
	pl.Plan(ins[0])
	b.ResetTimer()
	for i := 0; b.Loop(); i++ {
		pl.Plan(ins[i%len(ins)])
	}
}
