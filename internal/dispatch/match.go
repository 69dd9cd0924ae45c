package dispatch

import "github.com/tiffin-dev/tiffin/internal/geo"

// Job is a delivery waiting for a courier, as a Matcher sees it.
type Job struct {
	OrderID string
	Pickup  geo.LatLng
	Dropoff geo.LatLng
}

// Candidate is an available courier that may be offered a Job.
type Candidate struct {
	CourierID string
	Position  geo.LatLng
	Vehicle   string
}

// Matcher chooses the courier to offer a job to. It is pure: no I/O, no clock. ok is false
// when no candidate should get the job.
type Matcher interface {
	Match(j Job, candidates []Candidate) (courierID string, ok bool)
}

// Nearest matches a job to the candidate closest to its pickup by great-circle distance; ties
// go to the smaller courier ID, so the choice does not depend on the candidates' order.
type Nearest struct{}

// Match implements Matcher.
func (Nearest) Match(j Job, candidates []Candidate) (string, bool) {
	best, bestD, ok := "", 0.0, false
	for _, c := range candidates {
		d := geo.Distance(c.Position, j.Pickup)
		if !ok || d < bestD || (d == bestD && c.CourierID < best) {
			best, bestD, ok = c.CourierID, d, true
		}
	}
	return best, ok
}
