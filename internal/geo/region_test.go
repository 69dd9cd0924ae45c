package geo_test

import (
	"slices"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/geo"
)

func TestRegion(t *testing.T) {
	t.Parallel()
	var r geo.Regioner // zero value: DefaultResolution
	londonRegion, err := r.Region(london)
	if err != nil {
		t.Fatalf("Region(%v): %v", london, err)
	}
	if londonRegion == "" {
		t.Fatalf("Region(%v) is empty", london)
	}
	again, err := r.Region(london)
	if err != nil || again != londonRegion {
		t.Errorf("Region(%v) again = %q, %v; want %q", london, again, err, londonRegion)
	}
	explicit, err := geo.Regioner{Resolution: geo.DefaultResolution}.Region(london)
	if err != nil || explicit != londonRegion {
		t.Errorf("Region at explicit default resolution = %q, %v; want %q", explicit, err, londonRegion)
	}
	nearby := geo.Move(london, 45, 20)
	if got, err := r.Region(nearby); err != nil || got != londonRegion {
		t.Errorf("Region(20 m from london) = %q, %v; want %q", got, err, londonRegion)
	}
	for _, far := range []geo.LatLng{paris, newYork, sydney} {
		got, err := r.Region(far)
		if err != nil {
			t.Errorf("Region(%v): %v", far, err)
			continue
		}
		if got == londonRegion {
			t.Errorf("Region(%v) = %q, the same as london's", far, got)
		}
	}
	fine, err := geo.Regioner{Resolution: 9}.Region(london)
	if err != nil {
		t.Fatalf("Region at resolution 9: %v", err)
	}
	if fine == londonRegion {
		t.Errorf("Region at resolution 9 = %q, the same as at resolution %d", fine, geo.DefaultResolution)
	}
}

func TestRegionErrors(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		r    geo.Regioner
		p    geo.LatLng
	}{
		{"invalid point", geo.Regioner{}, geo.LatLng{Lat: 91}},
		{"resolution too fine", geo.Regioner{Resolution: 16}, london},
		{"negative resolution", geo.Regioner{Resolution: -1}, london},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := tt.r.Region(tt.p); err == nil {
				t.Errorf("Regioner{%d}.Region(%v) = %q, want an error", tt.r.Resolution, tt.p, got)
			}
		})
	}
}

func TestNeighbours(t *testing.T) {
	t.Parallel()
	var r geo.Regioner
	region, err := r.Region(london)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		k    int
		want int
	}{
		{0, 1},
		{1, 7},
		{2, 19},
	}
	for _, tt := range tests {
		got, err := r.Neighbours(region, tt.k)
		if err != nil {
			t.Fatalf("Neighbours(%s, %d): %v", region, tt.k, err)
		}
		if len(got) != tt.want {
			t.Errorf("Neighbours(%s, %d) has %d cells, want %d: %v", region, tt.k, len(got), tt.want, got)
		}
		if !slices.Contains(got, region) {
			t.Errorf("Neighbours(%s, %d) = %v, want it to include the region itself", region, tt.k, got)
		}
		sorted := slices.Clone(got)
		slices.Sort(sorted)
		if len(slices.Compact(sorted)) != len(got) {
			t.Errorf("Neighbours(%s, %d) = %v has duplicates", region, tt.k, got)
		}
	}

	// A point just across london's region border is in one of its neighbours.
	ring, err := r.Neighbours(region, 1)
	if err != nil {
		t.Fatal(err)
	}
	for _, b := range []float64{0, 90, 180, 270} {
		p := geo.Move(london, b, 5_000)
		got, err := r.Region(p)
		if err != nil {
			t.Fatal(err)
		}
		if !slices.Contains(ring, got) {
			t.Errorf("Region(5 km from london at %v°) = %s, not in london's k=1 neighbours %v", b, got, ring)
		}
	}
}

func TestNeighboursErrors(t *testing.T) {
	t.Parallel()
	var r geo.Regioner
	region, err := r.Region(london)
	if err != nil {
		t.Fatal(err)
	}
	tests := []struct {
		name   string
		region string
		k      int
	}{
		{"empty region", "", 1},
		{"not hex", "kings-cross", 1},
		{"not a cell", "ffffffffffffffff", 1},
		{"negative k", region, -1},
		{"huge k", region, geo.MaxNeighbourRing + 1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got, err := r.Neighbours(tt.region, tt.k); err == nil {
				t.Errorf("Neighbours(%q, %d) = %v, want an error", tt.region, tt.k, got)
			}
		})
	}
}
