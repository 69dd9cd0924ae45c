package mdrp

import (
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

// TestWriteSolutionGolden checks the three files for tinySolution line by line, as worked out
// from the evaluator's reading code: single spaces, ids as the instance spells them, origin 0
// for a courier's start, each courier's moves consecutive and in time order.
func TestWriteSolutionGolden(t *testing.T) {
	t.Parallel()
	inst, sol := tinyInstance(), tinySolution()
	dir := t.TempDir()
	if err := WriteSolution(dir, inst, sol); err != nil {
		t.Fatal(err)
	}
	want := map[string]string{
		AssignmentsFile: `assignment_time pickup_time courier orders
8 18 c1 o1 o2
35 42 c1 o4
40 50 c2 o3
`,
		OrderTimesFile: `order placement_time ready_time pickup_time dropoff_time courier
o1 5 15 18 26 c1
o2 8 18 18 33 c1
o3 40 50 50 59 c2
o4 30 35 42 56 c1
`,
		// c1: start -> r1 at Depart 8; r1 -> o1 at pickup 18 + 2; o1 -> o2 at 26 + 2; o2 -> r1
		// at the second Depart 35; r1 -> o4 at 42 + 2. c2: start -> r2 at 40; r2 -> o3 at 52.
		CourierMovesFile: `courier departure_time origin destination
c1 8 0 r1
c1 20 r1 o1
c1 28 o1 o2
c1 35 o2 r1
c1 44 r1 o4
c2 40 0 r2
c2 52 r2 o3
`,
	}
	for name, w := range want {
		got, err := os.ReadFile(filepath.Join(dir, name))
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(strings.Split(w, "\n"), strings.Split(string(got), "\n")); diff != "" {
			t.Errorf("%s (-want +got):\n%s", name, diff)
		}
	}
	if problems, _ := evaluate(t, inst, dir); len(problems) > 0 {
		t.Errorf("the evaluator would reject the files:\n%s", strings.Join(problems, "\n"))
	}
}

// TestWriteSolutionOrder checks that routes committed out of time order are written per courier
// in the order they happen, which is all the evaluator can read.
func TestWriteSolutionOrder(t *testing.T) {
	t.Parallel()
	inst, sol := tinyInstance(), tinySolution()
	slices.Reverse(sol.Routes)
	dir := t.TempDir()
	if err := WriteSolution(dir, inst, sol); err != nil {
		t.Fatal(err)
	}
	if problems, _ := evaluate(t, inst, dir); len(problems) > 0 {
		t.Errorf("the evaluator would reject the files:\n%s", strings.Join(problems, "\n"))
	}
}

// TestEvaluatorModelCatches checks that the model of the evaluator used by these tests does fail
// files the evaluator fails, so its silence means something.
func TestEvaluatorModelCatches(t *testing.T) {
	t.Parallel()
	for name, mutate := range map[string]func(*Solution){
		"drop-off before arrival":   func(s *Solution) { s.Routes[0].Dropoffs[0] = 24 },
		"pickup before ready":       func(s *Solution) { s.Routes[2].Pickup = 48 },
		"pickup after off time":     func(s *Solution) { s.Routes[1].Pickup, s.Routes[1].Dropoffs[0] = 61, 75 },
		"assigned before placement": func(s *Solution) { s.Routes[1].Assigned = 29 },
		"departs before arriving":   func(s *Solution) { s.Routes[1].Depart = 30 },
		"order twice": func(s *Solution) {
			s.Routes = append(s.Routes, Route{Assigned: 50, Courier: 2, Restaurant: 1, Orders: []int{2},
				Depart: 50, Arrive: 115, Pickup: 117, Dropoffs: []int{126}})
		},
	} {
		t.Run(name, func(t *testing.T) {
			t.Parallel()
			inst, sol := tinyInstance(), tinySolution()
			mutate(sol)
			dir := t.TempDir()
			if err := WriteSolution(dir, inst, sol); err != nil {
				t.Fatal(err)
			}
			if problems, _ := evaluate(t, inst, dir); len(problems) == 0 {
				t.Error("the model of the evaluator accepts the files")
			}
			if len(Check(inst, sol)) == 0 {
				t.Error("Check accepts the solution")
			}
		})
	}
}

func TestWriteSolutionMalformed(t *testing.T) {
	t.Parallel()
	inst, sol := tinyInstance(), tinySolution()
	sol.Routes[1].Courier = 7
	err := WriteSolution(t.TempDir(), inst, sol)
	if err == nil || !strings.Contains(err.Error(), "route 1: courier index 7") {
		t.Errorf("got %v, want an error naming route 1's courier index", err)
	}
}
