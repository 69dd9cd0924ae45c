package mdrp

import "testing"

func TestTravelMinutes(t *testing.T) {
	t.Parallel()
	tests := []struct {
		name  string
		speed float64
		a, b  Point
		want  int
	}{
		{"same place", 320, Point{5, 5}, Point{5, 5}, 0},
		{"a metre", 320, Point{0, 0}, Point{1, 0}, 1},
		{"exact multiple along an axis", 320, Point{0, 0}, Point{640, 0}, 2},
		{"exact multiple, 3-4-5", 320, Point{0, 0}, Point{3 * 320, 4 * 320}, 5},
		{"a metre over", 320, Point{0, 0}, Point{641, 0}, 3},
		{"exact multiple of an odd speed", 427, Point{100, 200}, Point{100 + 3*427*7, 200 + 4*427*7}, 35},
		{"exact multiple, far apart", 419, Point{-3 * 419 * 61, 0}, Point{0, 4 * 419 * 61}, 5 * 61},
		{"exact multiple, 5-12-13", 314, Point{0, 0}, Point{5 * 314 * 3, 12 * 314 * 3}, 39},
		{"just under a multiple", 320, Point{0, 0}, Point{639, 1}, 2},
		{"backwards", 320, Point{640, 0}, Point{0, 0}, 2},
		// math.Hypot gives 481.00000000000006 and 221.00000000000003 on these two, a minute more.
		{"exact where Hypot is not", 481, Point{0, 0}, Point{31, 480}, 1},
		{"exact where Hypot is not, 2", 221, Point{1000, 1000}, Point{1021, 1220}, 1},
	}
	for _, tt := range tests {
		got := TravelMinutes(Params{MetersPerMinute: tt.speed}, tt.a, tt.b)
		if got != tt.want {
			t.Errorf("%s: TravelMinutes(%v, %v at %v m/min) = %d, want %d", tt.name, tt.a, tt.b, tt.speed, got, tt.want)
		}
	}
}

// TestTravelMinutesExactMultiples sweeps 3-4-5 multiples of every speed in the instances: a
// whole number of minutes never gains one.
func TestTravelMinutesExactMultiples(t *testing.T) {
	t.Parallel()
	for _, speed := range []float64{314, 320, 419, 427} {
		p := Params{MetersPerMinute: speed}
		for k := 1; k <= 2000; k++ {
			a := Point{float64(k % 97), -float64(k % 89)}
			b := Point{a.X + 3*speed*float64(k), a.Y + 4*speed*float64(k)}
			if got := TravelMinutes(p, a, b); got != 5*k {
				t.Fatalf("%v to %v at %v m/min: %d minutes, want %d", a, b, speed, got, 5*k)
			}
		}
	}
}
