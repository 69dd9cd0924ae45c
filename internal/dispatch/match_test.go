package dispatch

import (
	"testing"

	"github.com/tiffin-dev/tiffin/internal/geo"
)

func TestNearest(t *testing.T) {
	t.Parallel()
	job := Job{OrderID: "o1", Pickup: koramangala, Dropoff: indiranagar}
	tests := []struct {
		name       string
		candidates []Candidate
		want       string
		wantOK     bool
	}{
		{name: "none", candidates: nil, wantOK: false},
		{name: "one", candidates: []Candidate{{CourierID: "far", Position: mysuru}}, want: "far", wantOK: true},
		{
			name: "nearest wins",
			candidates: []Candidate{
				{CourierID: "a", Position: whitefield},
				{CourierID: "b", Position: hsrLayout},
				{CourierID: "c", Position: indiranagar},
			},
			want: "b", wantOK: true,
		},
		{
			name: "at the pickup",
			candidates: []Candidate{
				{CourierID: "z", Position: hsrLayout},
				{CourierID: "y", Position: koramangala},
			},
			want: "y", wantOK: true,
		},
		{
			name: "tie goes to the smaller id",
			candidates: []Candidate{
				{CourierID: "m", Position: hsrLayout},
				{CourierID: "k", Position: hsrLayout},
				{CourierID: "q", Position: hsrLayout},
			},
			want: "k", wantOK: true,
		},
		{
			name: "tie independent of order",
			candidates: []Candidate{
				{CourierID: "k", Position: hsrLayout},
				{CourierID: "m", Position: hsrLayout},
				{CourierID: "x", Position: whitefield},
			},
			want: "k", wantOK: true,
		},
		{
			name: "mirror points tie",
			candidates: []Candidate{
				{CourierID: "east", Position: geo.LatLng{Lat: koramangala.Lat, Lng: koramangala.Lng + 0.01}},
				{CourierID: "west", Position: geo.LatLng{Lat: koramangala.Lat, Lng: koramangala.Lng - 0.01}},
			},
			want: "east", wantOK: true,
		},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got, ok := Nearest{}.Match(job, tt.candidates)
			if got != tt.want || ok != tt.wantOK {
				t.Errorf("Match = (%q, %v), want (%q, %v)", got, ok, tt.want, tt.wantOK)
			}
		})
	}
}
