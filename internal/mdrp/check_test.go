package mdrp

import (
	"slices"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestCheck(t *testing.T) {
	t.Parallel()
	type v struct {
		Route int
		Rule  Rule
	}
	tests := []struct {
		name   string
		change func(*Instance, *Solution)
		want   []v
	}{
		{"feasible", func(*Instance, *Solution) {}, nil},
		{"feasible committed out of time order", func(_ *Instance, s *Solution) { slices.Reverse(s.Routes) }, nil},
		{"empty", func(_ *Instance, s *Solution) { s.Routes = nil }, nil},

		{"courier out of range", func(_ *Instance, s *Solution) { s.Routes[2].Courier = 3 }, []v{{2, RuleMalformed}}},
		{"restaurant out of range", func(_ *Instance, s *Solution) { s.Routes[2].Restaurant = -1 }, []v{{2, RuleMalformed}}},
		{"order out of range", func(_ *Instance, s *Solution) { s.Routes[2].Orders = []int{5} }, []v{{2, RuleMalformed}}},
		{"no orders", func(_ *Instance, s *Solution) { s.Routes[2].Orders, s.Routes[2].Dropoffs = nil, nil }, []v{{2, RuleMalformed}}},
		{"drop-offs not aligned", func(_ *Instance, s *Solution) { s.Routes[0].Dropoffs = []int{26} }, []v{{0, RuleMalformed}}},

		// Route 1 carries o1 again instead of o4, with the times that give: 44 + 4 + 2.
		{"order twice", func(_ *Instance, s *Solution) { s.Routes[1].Orders, s.Routes[1].Dropoffs = []int{0}, []int{50} },
			[]v{{1, RuleOrderTwice}}},
		{"order of another restaurant", func(in *Instance, _ *Solution) { in.Orders[2].Restaurant = 0 },
			[]v{{2, RuleOtherRestaurant}}},
		{"assigned before placement", func(_ *Instance, s *Solution) { s.Routes[0].Assigned = 7 }, // o2 is placed at 8
			[]v{{0, RuleAssignedEarly}}},
		{"departs before assignment", func(_ *Instance, s *Solution) { s.Routes[0].Assigned = 9 },
			[]v{{0, RuleDepartBeforeAssigned}}},
		{"departs before shift", func(in *Instance, _ *Solution) { in.Couriers[1].On = 41 },
			[]v{{2, RuleDepartBeforeShift}}},
		// Route 1 leaves at 34 with its times consistent from there, but c1 leaves o2 at 35.
		{"overlap", func(_ *Instance, s *Solution) {
			s.Routes[1] = Route{Assigned: 34, Courier: 0, Restaurant: 0, Orders: []int{3}, Depart: 34, Arrive: 39, Pickup: 41, Dropoffs: []int{55}}
		}, []v{{1, RuleOverlap}}},
		{"arrival not depart + travel", func(_ *Instance, s *Solution) { s.Routes[0].Arrive = 12 }, []v{{0, RuleTimes}}},
		// Continuity in space: route 1 arrives as if it left from c1's start (300 m, 3 min),
		// not from o2's drop-off (500 m, 5 min), and its later times follow that.
		{"jump in space", func(_ *Instance, s *Solution) {
			s.Routes[1].Arrive, s.Routes[1].Pickup, s.Routes[1].Dropoffs = 38, 40, []int{54}
		}, []v{{1, RuleTimes}, {1, RulePickupEarly}, {1, RuleTimes}}},
		{"pickup before ready", func(_ *Instance, s *Solution) { s.Routes[0].Pickup = 17 }, // o2 is ready at 18
			[]v{{0, RulePickupEarly}}},
		{"pickup before arrival + half service", func(_ *Instance, s *Solution) { s.Routes[1].Pickup = 41 }, // arrives at 40
			[]v{{1, RulePickupEarly}}},
		{"pickup later than the rules give", func(_ *Instance, s *Solution) { s.Routes[0].Pickup = 19 },
			[]v{{0, RuleTimes}}},
		{"pickup after off time", func(in *Instance, _ *Solution) { in.Couriers[0].Off = 41 }, // picks o4 up at 42
			[]v{{1, RulePickupAfterOff}}},
		{"pickup at off time", func(in *Instance, _ *Solution) { in.Couriers[0].Off = 42 }, nil},
		{"drop-off too early", func(_ *Instance, s *Solution) { s.Routes[0].Dropoffs[1] = 32 }, []v{{0, RuleTimes}}},
		{"drop-off too late", func(_ *Instance, s *Solution) { s.Routes[0].Dropoffs[0] = 27 }, []v{{0, RuleTimes}}},
		// o2 then o1 ends 1 minute later at o1, 400 m from r1 instead of 500 m from o2: route 1
		// then overlaps and all its times are off.
		{"drop-offs swapped", func(_ *Instance, s *Solution) { s.Routes[0].Orders = []int{1, 0} },
			[]v{{0, RuleTimes}, {0, RuleTimes}, {1, RuleOverlap}, {1, RuleTimes}, {1, RuleTimes}, {1, RuleTimes}}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			inst, sol := tinyInstance(), tinySolution()
			tt.change(inst, sol)
			var got []v
			for _, x := range Check(inst, sol) {
				got = append(got, v{x.Route, x.Rule})
				t.Log(x)
			}
			if diff := cmp.Diff(tt.want, got); diff != "" {
				t.Errorf("violations (-want +got):\n%s", diff)
			}
		})
	}
}
