package mdrp

import (
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// TestMeasure checks the metrics of tinySolution, worked out by hand.
func TestMeasure(t *testing.T) {
	t.Parallel()
	want := Metrics{
		Instance: "tiny", Orders: 5, Delivered: 4, DeliveredFraction: 0.8,
		// c1: 3 orders, 30 > 15 guaranteed for its hour; c2: 1 order, 10 < 15; c3: none, 30
		// guaranteed for 2 hours.
		Pay: 30 + 15 + 30, PayPerOrder: 75.0 / 4, GuaranteedFraction: 2.0 / 3,
		// Click-to-door: o1 26-5, o2 33-8, o3 59-40, o4 56-30 = 21, 25, 19, 26; sorted
		// 19 21 25 26, p10 at rank 0.3, p50 at 1.5, p90 at 2.7.
		ClickToDoor:   Dist{N: 4, Mean: 22.75, P10: 19.6, P50: 23, P90: 25.7},
		Overage:       Dist{N: 4, Mean: 3, P10: 0.3, P50: 3, P90: 5.7},    // 1 5 0 6 over 20
		ReadyToDoor:   Dist{N: 4, Mean: 14, P10: 9.6, P50: 13, P90: 19.2}, // 11 15 9 21
		ReadyToPickup: Dist{N: 4, Mean: 2.5, P10: 0, P50: 1.5, P90: 5.8},  // 3 0 0 7
		// c1 drives 3+4+3+5+10 minutes, 2 pickups and 3 drop-offs of 4: 45 of 60; c2 drives
		// 0+5, 1 pickup, 1 drop-off: 13 of 60; c3 0.
		Utilisation:   (45.0/60 + 13.0/60 + 0) / 3,
		OrdersPerHour: (3.0 + 1 + 0) / 3,
		BundleSize:    4.0 / 3,
		// Bounds: o1 max(15,7)+2+4+2-5 = 18, o2 18+2+5+2-8 = 19, o3 50+2+5+2-40 = 19,
		// o4 35+2+10+2-30 = 19, o5 60+2+3+2-50 = 17.
		LowerBound: (18 + 19 + 19 + 19 + 17) / 5.0,
	}
	got := Measure(tinyInstance(), tinySolution())
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Measure (-want +got):\n%s", diff)
	}
}

func TestMeasureEmpty(t *testing.T) {
	t.Parallel()
	got := Measure(tinyInstance(), &Solution{})
	want := Metrics{Instance: "tiny", Orders: 5, Pay: 15 + 15 + 30, GuaranteedFraction: 1, LowerBound: 18.4}
	if diff := cmp.Diff(want, got, cmpopts.EquateApprox(0, 1e-9)); diff != "" {
		t.Errorf("Measure of no routes (-want +got):\n%s", diff)
	}
}

func TestPercentile(t *testing.T) {
	t.Parallel()
	tests := []struct {
		sorted []float64
		q      float64
		want   float64
	}{
		{[]float64{7}, 0.9, 7},
		{[]float64{1, 2}, 0.5, 1.5},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11}, 0.1, 2},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0.9, 9.1},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 0, 1},
		{[]float64{1, 2, 3, 4, 5, 6, 7, 8, 9, 10}, 1, 10},
	}
	for _, tt := range tests {
		if got := percentile(tt.sorted, tt.q); !cmp.Equal(got, tt.want, cmpopts.EquateApprox(0, 1e-12)) {
			t.Errorf("percentile(%v, %v) = %v, want %v", tt.sorted, tt.q, got, tt.want)
		}
	}
}
