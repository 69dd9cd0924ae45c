package geo

import "time"

// Vehicle types couriers use. Any other name travels at bike speed.
const (
	Bike    = "bike"
	Scooter = "scooter"
	Car     = "car"
	Walk    = "walk"
)

// Circuity is how much longer a street route is than the straight line, on average.
const Circuity = 1.3

// StreetSpeed returns the average speed through city streets of vehicle, in metres per second.
// Unknown vehicles get bike speed.
func StreetSpeed(vehicle string) float64 {
	switch vehicle {
	case Scooter:
		return 6.9
	case Car:
		return 7.5
	case Walk:
		return 1.4
	default:
		return 4.2
	}
}

// TravelTime estimates how long vehicle takes to get from from to to through streets: the
// great-circle distance times Circuity, at StreetSpeed. It is zero when either point is invalid.
func TravelTime(from, to LatLng, vehicle string) time.Duration {
	if !from.Valid() || !to.Valid() {
		return 0
	}
	secs := Distance(from, to) * Circuity / StreetSpeed(vehicle)
	return time.Duration(secs * float64(time.Second))
}
