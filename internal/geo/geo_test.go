package geo_test

import (
	"math"
	"testing"

	"github.com/tiffin-dev/tiffin/internal/geo"
)

var (
	london    = geo.LatLng{Lat: 51.5074, Lng: -0.1278}
	paris     = geo.LatLng{Lat: 48.8566, Lng: 2.3522}
	newYork   = geo.LatLng{Lat: 40.7128, Lng: -74.0060}
	sydney    = geo.LatLng{Lat: -33.8688, Lng: 151.2093}
	northPole = geo.LatLng{Lat: 90, Lng: 0}
	southPole = geo.LatLng{Lat: -90, Lng: 0}
)

func TestValid(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name string
		p    geo.LatLng
		want bool
	}{
		{"origin", geo.LatLng{}, true},
		{"london", london, true},
		{"north pole", geo.LatLng{Lat: 90, Lng: 0}, true},
		{"south pole", geo.LatLng{Lat: -90, Lng: 0}, true},
		{"antimeridian east", geo.LatLng{Lat: 0, Lng: 180}, true},
		{"antimeridian west", geo.LatLng{Lat: 0, Lng: -180}, true},
		{"lat too high", geo.LatLng{Lat: 90.000001, Lng: 0}, false},
		{"lat too low", geo.LatLng{Lat: -90.000001, Lng: 0}, false},
		{"lng too high", geo.LatLng{Lat: 0, Lng: 180.000001}, false},
		{"lng too low", geo.LatLng{Lat: 0, Lng: -180.000001}, false},
		{"NaN lat", geo.LatLng{Lat: math.NaN(), Lng: 0}, false},
		{"NaN lng", geo.LatLng{Lat: 0, Lng: math.NaN()}, false},
		{"+Inf lat", geo.LatLng{Lat: math.Inf(1), Lng: 0}, false},
		{"-Inf lng", geo.LatLng{Lat: 0, Lng: math.Inf(-1)}, false},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			if got := tt.p.Valid(); got != tt.want {
				t.Errorf("%v.Valid() = %v, want %v", tt.p, got, tt.want)
			}
		})
	}
}

func TestDistance(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name   string
		a, b   geo.LatLng
		want   float64 // metres
		relTol float64
	}{
		{"same point", london, london, 0, 0},
		{"london-paris", london, paris, 343_500, 0.005},
		{"paris-london is symmetric", paris, london, 343_500, 0.005},
		{"london-new york", london, newYork, 5_570_000, 0.005},
		{"one degree of longitude on the equator", geo.LatLng{}, geo.LatLng{Lng: 1}, 2 * math.Pi * geo.EarthRadius / 360, 1e-9},
		{"one degree of latitude", geo.LatLng{Lat: 10}, geo.LatLng{Lat: 11}, 2 * math.Pi * geo.EarthRadius / 360, 1e-9},
		{"pole to pole", northPole, southPole, math.Pi * geo.EarthRadius, 1e-9},
		{"across the antimeridian", geo.LatLng{Lng: 179.5}, geo.LatLng{Lng: -179.5}, 2 * math.Pi * geo.EarthRadius / 360, 1e-9},
		{"antipodes", geo.LatLng{Lat: 10, Lng: 20}, geo.LatLng{Lat: -10, Lng: -160}, math.Pi * geo.EarthRadius, 1e-9},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := geo.Distance(tt.a, tt.b)
			if math.Abs(got-tt.want) > tt.relTol*tt.want+1e-6 {
				t.Errorf("Distance(%v, %v) = %.1f m, want %.1f m (±%.2f%%)", tt.a, tt.b, got, tt.want, tt.relTol*100)
			}
		})
	}
}

func TestBearing(t *testing.T) {
	t.Parallel()
	origin := geo.LatLng{}
	tests := []struct {
		name string
		a, b geo.LatLng
		want float64
	}{
		{"north", origin, geo.LatLng{Lat: 1}, 0},
		{"east", origin, geo.LatLng{Lng: 1}, 90},
		{"south", origin, geo.LatLng{Lat: -1}, 180},
		{"west", origin, geo.LatLng{Lng: -1}, 270},
		{"same point", london, london, 0},
		{"east across the antimeridian", geo.LatLng{Lng: 179.5}, geo.LatLng{Lng: -179.5}, 90},
		{"london-paris", london, paris, 148.1},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := geo.Bearing(tt.a, tt.b)
			if math.Abs(got-tt.want) > 0.1 {
				t.Errorf("Bearing(%v, %v) = %.3f°, want %.1f°", tt.a, tt.b, got, tt.want)
			}
			if got < 0 || got >= 360 {
				t.Errorf("Bearing(%v, %v) = %v, want in [0, 360)", tt.a, tt.b, got)
			}
		})
	}
}

// near reports whether a and b are within tol metres of each other.
func near(a, b geo.LatLng, tol float64) bool { return geo.Distance(a, b) <= tol }

func TestMove(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name    string
		from    geo.LatLng
		bearing float64
		metres  float64
		want    geo.LatLng
	}{
		{"nowhere", london, 123, 0, london},
		{"north one degree", geo.LatLng{}, 0, 2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lat: 1}},
		{"east one degree", geo.LatLng{}, 90, 2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lng: 1}},
		{"backwards", geo.LatLng{}, 0, -2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lat: -1}},
		{"over the north pole", geo.LatLng{Lat: 89}, 0, 2 * 2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lat: 89, Lng: 180}},
		{"from the north pole down a meridian", geo.LatLng{Lat: 90, Lng: 0}, 180, 10 * 2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lat: 80, Lng: 0}},
		{"across the antimeridian", geo.LatLng{Lng: 179.5}, 90, 2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lng: -179.5}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := geo.Move(tt.from, tt.bearing, tt.metres)
			if !got.Valid() || !near(got, tt.want, 0.01) {
				t.Errorf("Move(%v, %v, %v) = %v, want %v", tt.from, tt.bearing, tt.metres, got, tt.want)
			}
		})
	}
}

func TestMoveRoundTrip(t *testing.T) {
	t.Parallel()
	starts := []geo.LatLng{london, paris, newYork, sydney, {Lat: 89.9, Lng: 45}, {Lat: 0, Lng: 179.99}}
	for _, from := range starts {
		for _, bearing := range []float64{0, 37, 90, 181, 270, 359.9} {
			for _, metres := range []float64{1, 250, 5_000, 120_000} {
				to := geo.Move(from, bearing, metres)
				if d := geo.Distance(from, to); math.Abs(d-metres) > 1e-6*metres+1e-6 {
					t.Errorf("Distance(%v, Move(…, %v, %v)) = %v, want %v", from, bearing, metres, d, metres)
				}
				back := geo.Move(to, geo.Bearing(to, from), metres)
				if !near(back, from, 1e-3) {
					t.Errorf("Move there (%v, %v°, %v m) and back = %v, want %v (off by %.6f m)",
						from, bearing, metres, back, from, geo.Distance(back, from))
				}
			}
		}
	}
}

func TestToward(t *testing.T) {
	t.Parallel()
	d := geo.Distance(london, paris)
	tests := []struct {
		name     string
		from, to geo.LatLng
		metres   float64
		want     geo.LatLng
	}{
		{"zero step stays", london, paris, 0, london},
		{"negative step stays", london, paris, -50, london},
		{"NaN step stays", london, paris, math.NaN(), london},
		{"exact distance arrives", london, paris, d, paris},
		{"overshoot stops at the target", london, paris, 2 * d, paris},
		{"infinite step arrives", london, paris, math.Inf(1), paris},
		{"already there", paris, paris, 10, paris},
		{"one degree north", geo.LatLng{}, geo.LatLng{Lat: 2}, 2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lat: 1}},
		{"across the antimeridian", geo.LatLng{Lng: 179}, geo.LatLng{Lng: -179}, 2 * math.Pi * geo.EarthRadius / 360, geo.LatLng{Lng: 180}},
		{"from a pole", northPole, geo.LatLng{Lat: 0, Lng: 90}, 2 * math.Pi * geo.EarthRadius / 4 / 9, geo.LatLng{Lat: 80, Lng: 90}},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			t.Parallel()
			got := geo.Toward(tt.from, tt.to, tt.metres)
			if !got.Valid() || !near(got, tt.want, 0.01) {
				t.Errorf("Toward(%v, %v, %v) = %v, want %v", tt.from, tt.to, tt.metres, got, tt.want)
			}
		})
	}
}

func TestTowardStepsArrive(t *testing.T) {
	t.Parallel()
	// A courier riding from London to Paris in 1 km steps stays on the great circle and arrives.
	total := geo.Distance(london, paris)
	pos, steps := london, 0
	for pos != paris {
		next := geo.Toward(pos, paris, 1000)
		if moved := geo.Distance(pos, next); moved > 1000+1e-6 {
			t.Fatalf("step %d moved %v m, want at most 1000", steps, moved)
		}
		if off := geo.Distance(london, next) + geo.Distance(next, paris) - total; off > 0.01 {
			t.Fatalf("step %d at %v is %v m off the great circle", steps, next, off)
		}
		pos = next
		steps++
		if steps > 1000 {
			t.Fatalf("no arrival after %d steps; at %v", steps, pos)
		}
	}
	if want := int(math.Ceil(total / 1000)); steps != want {
		t.Errorf("arrived after %d steps, want %d", steps, want)
	}
}

func TestTowardAntipodes(t *testing.T) {
	t.Parallel()
	from, to := geo.LatLng{Lat: 10, Lng: 20}, geo.LatLng{Lat: -10, Lng: -160}
	got := geo.Toward(from, to, 1000)
	if !got.Valid() {
		t.Fatalf("Toward(%v, %v, 1000) = %v, want a valid point", from, to, got)
	}
	if d := geo.Distance(from, got); math.Abs(d-1000) > 1e-6 {
		t.Errorf("moved %v m toward the antipode, want 1000", d)
	}
}

// FuzzToward checks that stepping between valid points never yields NaN or an invalid point,
// never moves further than asked, and never overshoots the target.
func FuzzToward(f *testing.F) {
	f.Add(51.5074, -0.1278, 48.8566, 2.3522, 1000.0)
	f.Add(90.0, 0.0, -90.0, 0.0, 5e6)
	f.Add(0.0, 179.9, 0.0, -179.9, 1.0)
	f.Add(10.0, 20.0, -10.0, -160.0, 1e7)
	f.Add(0.0, 0.0, 0.0, 0.0, 0.0)
	f.Add(-89.999999, 180.0, 89.999999, -180.0, 1e-9)
	f.Fuzz(func(t *testing.T, lat1, lng1, lat2, lng2, metres float64) {
		from, to := geo.LatLng{Lat: lat1, Lng: lng1}, geo.LatLng{Lat: lat2, Lng: lng2}
		if !from.Valid() || !to.Valid() || math.IsNaN(metres) {
			t.Skip()
		}
		got := geo.Toward(from, to, metres)
		if !got.Valid() {
			t.Fatalf("Toward(%v, %v, %v) = %v, want a valid point", from, to, metres, got)
		}
		total := geo.Distance(from, to)
		moved := geo.Distance(from, got)
		want := math.Min(math.Max(metres, 0), total)
		if math.Abs(moved-want) > 1e-6*want+1e-3 {
			t.Fatalf("Toward(%v, %v, %v) moved %v m, want %v m", from, to, metres, moved, want)
		}
		if left := geo.Distance(got, to); left > total+1e-3 {
			t.Fatalf("Toward(%v, %v, %v) left %v m to go, more than the %v m at the start", from, to, metres, left, total)
		}
	})
}

func TestTravelTime(t *testing.T) {
	t.Parallel()
	// 1 km east along the equator.
	a := geo.LatLng{}
	b := geo.Move(a, 90, 1000)
	tests := []struct {
		vehicle string
		speed   float64
	}{
		{geo.Bike, 4.2},
		{geo.Scooter, 6.9},
		{geo.Car, 7.5},
		{geo.Walk, 1.4},
		{"hovercraft", 4.2},
		{"", 4.2},
	}
	for _, tt := range tests {
		t.Run(tt.vehicle, func(t *testing.T) {
			t.Parallel()
			if got := geo.StreetSpeed(tt.vehicle); got != tt.speed {
				t.Errorf("StreetSpeed(%q) = %v, want %v", tt.vehicle, got, tt.speed)
			}
			got := geo.TravelTime(a, b, tt.vehicle).Seconds()
			want := 1000 * geo.Circuity / tt.speed
			if math.Abs(got-want) > 0.01 {
				t.Errorf("TravelTime(1 km, %q) = %.2fs, want %.2fs", tt.vehicle, got, want)
			}
		})
	}
	if got := geo.TravelTime(london, london, geo.Car); got != 0 {
		t.Errorf("TravelTime(same point) = %v, want 0", got)
	}
	if got := geo.TravelTime(geo.LatLng{Lat: math.NaN()}, london, geo.Car); got != 0 {
		t.Errorf("TravelTime(invalid point) = %v, want 0", got)
	}
}
