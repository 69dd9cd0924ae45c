package mdrp

import (
	"math"
	"os"
	"path/filepath"
	"sync"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// publicInstances reads the public instances kept beside the repository
// (../shared/benchmarks/mdrp/instances from the module root), once per test binary, and skips
// the test, loudly, when they are not there.
func publicInstances(tb testing.TB) []*Instance {
	tb.Helper()
	dir := filepath.Join(moduleRoot(tb), "..", "shared", "benchmarks", "mdrp", "instances")
	if _, err := os.Stat(dir); err != nil {
		tb.Skipf("SKIPPED: NO PUBLIC MDRP INSTANCES at %s (%v); this test needs the 120 instance directories there", dir, err)
	}
	loaded.once.Do(func() { loaded.insts, loaded.err = ReadAll(dir) })
	if loaded.err != nil {
		tb.Fatal(loaded.err)
	}
	return loaded.insts
}

var loaded struct {
	once  sync.Once
	insts []*Instance
	err   error
}

// moduleRoot walks up from the package directory to the directory holding go.mod.
func moduleRoot(tb testing.TB) string {
	tb.Helper()
	dir, err := os.Getwd()
	if err != nil {
		tb.Fatal(err)
	}
	for {
		if _, err := os.Stat(filepath.Join(dir, "go.mod")); err == nil {
			return dir
		}
		parent := filepath.Dir(dir)
		if parent == dir {
			tb.Fatal("no go.mod above the package directory")
		}
		dir = parent
	}
}

func TestPublicInstances(t *testing.T) {
	t.Parallel()
	insts := publicInstances(t)
	if len(insts) != 120 {
		t.Errorf("read %d instances, want 120", len(insts))
	}
	sum := 0.0
	for _, inst := range insts {
		if len(inst.Orders) == 0 || len(inst.Couriers) == 0 || len(inst.Restaurants) == 0 {
			t.Errorf("%s: %d orders, %d couriers, %d restaurants", inst.Name, len(inst.Orders), len(inst.Couriers), len(inst.Restaurants))
		}
		sum += Measure(inst, &Solution{}).LowerBound
	}
	// The mean over the instances of each one's mean lower bound of click-to-door.
	mean := sum / float64(len(insts))
	t.Logf("mean lower bound of click-to-door over %d instances: %.3f minutes", len(insts), mean)
	if math.Abs(mean-30.3) > 0.05 {
		t.Errorf("mean lower bound %.3f minutes, want about 30.3", mean)
	}
}

// TestPublicInstancesGreedy plans every public instance greedily, then checks that Check accepts
// the plan, that the evaluator (as modelled by evaluate) accepts the files WriteSolution writes
// and computes the metrics Measure does, and that no order beats its lower bound.
func TestPublicInstancesGreedy(t *testing.T) {
	t.Parallel()
	for _, inst := range publicInstances(t) {
		t.Run(inst.Name, func(t *testing.T) {
			t.Parallel()
			sol := greedy(inst)
			for _, v := range Check(inst, sol) {
				t.Errorf("Check: %s", v)
			}
			for _, r := range sol.Routes {
				for j, o := range r.Orders {
					if got, bound := r.Dropoffs[j]-inst.Orders[o].Placed, ClickToDoorBound(inst, o); got < bound {
						t.Errorf("order %s: click-to-door %d below its bound %d", inst.Orders[o].ID, got, bound)
					}
				}
			}
			dir := t.TempDir()
			if err := WriteSolution(dir, inst, sol); err != nil {
				t.Fatal(err)
			}
			problems, want := evaluate(t, inst, dir)
			for _, p := range problems {
				t.Errorf("evaluator: %s", p)
			}
			got := Measure(inst, sol)
			want.LowerBound = got.LowerBound
			if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
				t.Errorf("Measure against the evaluator's metrics (-evaluator +Measure):\n%s", diff)
			}
		})
	}
}
